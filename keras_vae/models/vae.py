"""The variational autoencoder: an encoder, a decoder and four parts, behind one interface."""

import math

import keras
from keras import ops

from keras_vae import backend, validation
from keras_vae.models import (
    likelihoods,
    network_checks,
    networks,
    objectives,
    posteriors,
    priors,
    saving,
    serving,
)
from keras_vae.models.base import LatentVariableModel
from keras_vae.models.posteriors import PosteriorParameters


@keras.saving.register_keras_serializable(package="keras_vae")
class VAE(LatentVariableModel):
    """A VAE trained with `model.fit` on its objective: the negative ELBO, or the IWAE bound.

    The encoder gives the parameters of q(z|x) (a mean and log-variance, and for a flow a
    context h); the posterior part draws z from them with its log-density; the decoder
    gives the parameters of p(x|z), which the likelihood part scores; the prior part gives
    p(z); the objective part combines the terms per example, and `fit` averages them over
    the global batch. x may be images (H, W, C), sequences (T, C) or vectors (D,).

    Args:
        encoder: a Keras model or layer mapping x to `[z_mean, z_log_var]`, optionally with
            a flow's context h as a third output, or to one tensor of width
            2 * latent_dim split in half. The data shape and latent width are read from it.
        decoder: a Keras model or layer mapping z (batch, latent_dim) to the likelihood's
            parameters: x's shape with channels x `params_per_channel` on the last axis.
        likelihood: a name (`"bernoulli"`, `"gaussian"`, `"logistic"`) or a
            `keras_vae.likelihoods.Likelihood`. Default: Bernoulli for grey images,
            Gaussian otherwise (`likelihoods.default_for`).
        posterior: `"gaussian"`, `"iaf"` or a `keras_vae.posteriors.Posterior`.
        prior: `"standard_normal"`, another registered prior's name, or a
            `keras_vae.priors.Prior`.
        objective: `"elbo"`, `"iwae"` or a `keras_vae.objectives.Objective` (beta, free
            bits, the KL schedule and the number of draws are its arguments).
        input_shape: one example's shape, needed only for an encoder that does not
            declare it (a subclassed model).
        seed: seed of the sampling noise.
        legacy_weight_paths: set by `from_config` for a flow model saved by keras-vae 0.2,
            whose flow weights its file holds under `flow/`.

    Examples:

        >>> encoder = keras.Sequential([keras.Input((30,)), keras.layers.Dense(64, "relu"),
        ...                             keras.layers.Dense(2 * 4)])
        >>> decoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(64, "relu"),
        ...                             keras.layers.Dense(30)])
        >>> model = VAE(encoder, decoder, objective=objectives.ELBO(beta=0.5))
        >>> tuple(model.sample(2, seed=1).shape)
        (2, 30)
    """

    loss_names = ("reconstruction_loss", "kl_loss")

    def __init__(
        self,
        encoder,
        decoder,
        *,
        likelihood=None,
        posterior="gaussian",
        prior="standard_normal",
        objective="elbo",
        input_shape=None,
        seed=None,
        legacy_weight_paths=False,
        name="vae",
        **kwargs,
    ):
        objective = objectives.get(objective)
        if objective.term_names:  # logged beside the loss (a TCVAE's three KL parts)
            kwargs["loss_names"] = (*type(self).loss_names, *objective.term_names)
        super().__init__(seed=seed, name=name, **kwargs)
        classes = self.num_classes or 0
        shapes = network_checks.inspect_encoder(encoder, input_shape, classes)
        self.data_shape, self.latent_dim = shapes.data_shape, shapes.latent_dim
        self.split_encoder_output, self.context_dim = shapes.split, shapes.context_dim
        likelihood = likelihoods.get(likelihood or likelihoods.default_for(self.data_shape))
        posterior, prior = posteriors.get(posterior), priors.get(prior)
        posterior.check_context(self.context_dim)
        objective.check_parts(posterior, prior)
        channels = self.data_shape[-1] * likelihood.params_per_channel
        self.params_shape = (*self.data_shape[:-1], channels)
        network_checks.check_decoder(decoder, self.latent_dim, self.params_shape, classes)
        # The order of the 0.2 models (the optimizer's state follows the variables' order).
        self.likelihood = likelihood
        self.encoder, self.decoder = encoder, decoder
        self.posterior, self.prior, self.objective = posterior, prior, objective
        self.legacy_weight_paths = bool(legacy_weight_paths)
        if self.legacy_weight_paths:
            self.flow = posterior  # where a 0.2 file holds the flow's weights
        self.noise_dim = self.latent_dim
        self._add_parts()
        self.build((None, *self.data_shape))

    def _add_parts(self):
        """Where a subclass tracks its other layers: the model is built, and locked, next."""

    @classmethod
    def from_shape(
        cls,
        input_shape,
        latent_dim=16,
        *,
        architecture=None,
        likelihood=None,
        posterior="gaussian",
        dtype=None,
        **kwargs,
    ):
        """A model with the default networks (`keras_vae.networks.build`) for data of `input_shape`.

        Args:
            input_shape: one example's shape, e.g. (28, 28, 1).
            latent_dim: latent dimensions.
            architecture: the networks' arguments (`networks.CONV_ARCHITECTURE` for images,
                `networks.MLP_ARCHITECTURE` otherwise).
            likelihood, posterior: as in the constructor; they decide the decoder's output
                channels and the encoder's context output.
            dtype: dtype policy of the networks' hidden layers and of the model, e.g.
                `"mixed_bfloat16"`; heads, likelihood and loss stay float32.
            **kwargs: the constructor's other arguments (prior, objective, seed, ...).

        Examples:

            >>> VAE.from_shape((28, 28, 1), latent_dim=2).encoder.output_shape
            [(None, 2), (None, 2)]
        """
        input_shape = validation.check_widths("input_shape", input_shape)
        likelihood = likelihoods.get(likelihood or likelihoods.default_for(input_shape))
        posterior = posteriors.get(posterior)
        built = networks.build(
            input_shape,
            latent_dim,
            param_channels=input_shape[-1] * likelihood.params_per_channel,
            context_dim=posterior.context_dim(),
            num_classes=cls._network_classes(kwargs),
            dtype=dtype,
            **(architecture or {}),
        )
        return cls(**built, likelihood=likelihood, posterior=posterior, dtype=dtype, **kwargs)

    @classmethod
    def _network_classes(cls, kwargs):
        """The classes the default networks take (0: none)."""
        return 0

    def build(self, input_shape):
        latent_shape = (None, self.latent_dim)
        context_shape = (None, self.context_dim) if self.context_dim else None
        # Parts from a saved config come built (Keras records their build shapes).
        for part, shapes in (
            (self.posterior, (latent_shape, context_shape)),
            (self.prior, (latent_shape,)),
            (self.likelihood, ((None, *self.params_shape),)),
        ):
            if not part.built:
                part.build(*shapes)
        self.built = True

    # ----------------------------------------------------------------- inference

    @backend.without_gradients
    def encode(self, x, *, labels=None):
        """(z_mean, z_log_var) of q(z|x): for a flow posterior, z_mean is the base mean pushed
        through the flow (a point of high density) and z_log_var the base's."""
        x = self.check_batch(x)
        params = self.posterior_parameters(x, labels=labels)
        return self.posterior.point(params), params.log_var

    @backend.without_gradients
    def decode(self, z, *, labels=None):
        z = self.check_latents(z)
        return self.likelihood.mean(
            self._decoded(z, self._decoding_classes(labels, z.shape[0]), False)
        )

    @backend.without_gradients
    def sample(self, n, *, labels=None, seed=None, temperature=1.0):
        n = validation.check_int("n", n, minimum=1)
        temperature = priors.check_temperature(temperature)
        eps = keras.random.normal((n, self.prior.noise_dim), seed=seed)
        z = self.prior.sample(eps, temperature=temperature)
        return self.decode(z, labels=self._sampling_labels(labels, n, seed))

    @backend.without_gradients
    def reconstruct(self, x, *, labels=None):
        x = self.check_batch(x)
        one_hot = self._encoding_classes(x, labels, False)
        z = self.posterior.point(self._encoded(x, one_hot, False))
        return self.likelihood.mean(self._decoded(z, one_hot, False))

    def posterior_parameters(self, x, *, labels=None, training=False):
        """The encoder's outputs for a tensor batch x, as the posterior's `PosteriorParameters`."""
        return self._encoded(x, self._encoding_classes(x, labels, training), training)

    def posterior_distribution(self, x, *, labels=None):
        """q(z|x) as a TFP distribution over (latent_dim,), for a tensor batch x (TensorFlow
        only: TFP's distributions are TensorFlow's)."""
        return self.posterior.distribution(
            self.posterior_parameters(self.check_batch(x), labels=labels)
        )

    def call(self, inputs, training=False):
        one_hot = self._encoding_classes(inputs, None, training)
        params = self._encoded(inputs, one_hot, training)
        if training:
            z = self.posterior.sample(params, self.draw_noise(ops.shape(params.mean), True)).z
        else:
            z = self.posterior.point(params)
        return self.likelihood.mean(self._decoded(z, one_hot, training))

    # ---------------------------------------------------------------- the bound

    def loss_terms(self, x, *, labels=None, training=False):
        """`loss` (the objective per example), `reconstruction_loss` (-log p(x|z), mean over
        the objective's draws) and `kl_loss` (KL(q(z|x) || p(z))), float32 (batch,) each."""
        self._refuse_labels(labels)
        return self._loss_terms(ops.convert_to_tensor(x), None, training)

    def _loss_terms(self, x, one_hot, training):
        k = self.objective.num_samples
        eps = self.draw_noise((k * ops.shape(x)[0], self.noise_dim), training)
        terms, kl = self._terms(x, one_hot, eps, k, training)
        step = self.optimizer.iterations if getattr(self, "optimizer", None) is not None else 0
        return {
            **self.objective.terms(terms, step),
            "reconstruction_loss": -ops.mean(terms.log_px, axis=0),
            "kl_loss": kl,
        }

    def _terms(self, x, one_hot, eps, k, training):
        """(`objectives.BoundTerms` for k draws from flat noise eps (k * batch, noise_dim),
        sample-major, and the KL per example)."""
        params = self._encoded(x, one_hot, training)
        draw = self.posterior.sample(
            PosteriorParameters(*(None if t is None else objectives.tile(t, k) for t in params)),
            eps,
        )
        decoded = self._decoded(
            draw.z, None if one_hot is None else objectives.tile(one_hot, k), training
        )
        x_rows = objectives.tile(ops.cast(x, "float32"), k)
        log_px = self.likelihood.log_prob(decoded, x_rows)
        log_pz = self.prior.log_prob(draw.z)
        kl_dims = self.posterior.kl_per_dim(params, self.prior)
        kl = self.posterior.kl(params, draw, self.prior)
        if kl_dims is not None:  # the closed form, one per example: the same for each draw
            kl = objectives.tile(kl, k)
        by_draw = [ops.reshape(t, (k, -1)) for t in (log_px, log_pz, draw.log_q, kl)]
        kl_example = (
            ops.sum(kl_dims, axis=-1) if kl_dims is not None else ops.mean(by_draw[3], axis=0)
        )
        z = ops.reshape(draw.z, (k, -1, self.latent_dim))
        return objectives.BoundTerms(*by_draw, kl_dims, z, params), kl_example

    def evidence(self, x, eps, *, labels=None):
        self._refuse_labels(labels)
        return self._evidence(x, None, eps)

    def _evidence(self, x, one_hot, eps):
        k = eps.shape[0]  # static: the chunk of draws
        terms, _ = self._terms(x, one_hot, ops.reshape(eps, (-1, self.noise_dim)), k, False)
        log_weights = terms.log_px + terms.log_pz - terms.log_q
        return {"log_weights": log_weights, "elbo": log_weights, "kl": terms.kl}

    @backend.without_gradients
    def kl_per_dim(self, x, *, labels=None):
        return self.posterior.kl_per_dim(
            self.posterior_parameters(self.check_batch(x), labels=labels), self.prior
        )

    @property
    def floats_per_draw(self):
        return decoder_floats(self.decoder, self.data_shape) + 8 * self.latent_dim

    # ---------------------------------------------------------------- networks

    def _encoded(self, x, one_hot, training):
        """The encoder's float32 `PosteriorParameters`, given one-hot labels too when the
        networks take them."""
        outputs = self.encoder(x if one_hot is None else [x, one_hot], training=training)
        if self.split_encoder_output:
            outputs = ops.split(outputs, 2, axis=-1)
        z_mean, z_log_var, *context = (ops.cast(t, "float32") for t in outputs)
        return PosteriorParameters(z_mean, z_log_var, context[0] if context else None)

    def _decoded(self, z, one_hot, training):
        return self.decoder(z if one_hot is None else [z, one_hot], training=training)

    def _encoding_classes(self, x, labels, training):
        """The one-hot classes the networks take to encode x (None: a model without classes)."""
        return self._refuse_labels(labels)

    def _decoding_classes(self, labels, count):
        """The one-hot classes the networks take to decode `count` z's (None: none)."""
        return self._refuse_labels(labels)

    def _sampling_labels(self, labels, n, seed):
        return labels

    # ------------------------------------------------------------------ serving

    def serving_endpoints(self):
        data = self.data_name

        def encode(x):
            params = self._encoded(x, None, False)
            return {"z_mean": self.posterior.point(params), "z_log_var": params.log_var}

        def decode(z):
            return {data: self.likelihood.mean(self._decoded(z, None, False))}

        def reconstruct(x):
            return decode(encode(x)["z_mean"])

        return serving.standard_endpoints(
            self, encode, reconstruct, decode, lambda eps: decode(self.prior.sample(eps))
        )

    # ------------------------------------------------------------- serialization

    def get_config(self):
        config = saving.model_config(
            self, super().get_config(), ("likelihood", "posterior", "prior", "objective")
        )
        if self.legacy_weight_paths:
            config["legacy_weight_paths"] = True
        return config

    @classmethod
    def from_config(cls, config):
        from keras_vae.models import legacy

        config = legacy.translate(config) if legacy.is_legacy(config) else config
        return cls(**saving.deserialized_networks(config))


def decoder_floats(decoder, data_shape):
    """float32 values alive per draw in a decoder's pass and its likelihood's scoring: its
    layers' activations (or a guess), then params, log-probs and the broadcasting of x."""
    pixels = math.prod(data_shape)
    activations = 0
    for layer in getattr(decoder, "layers", ()):
        try:
            activations += math.prod(d or 1 for d in layer.output.shape[1:])
        except (AttributeError, ValueError):  # not a functional model's layer
            activations += pixels
    return (activations or 4 * pixels) + 4 * pixels
