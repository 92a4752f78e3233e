"""A hierarchical VAE: stochastic layers z_L (top) ... z_1, inferred top-down.

The generative model is p(z_L) p(z_{L-1} | z_L) ... p(z_1 | z_>1) p(x | z): a top-down path
carries a state s down the layers, each layer's prior p(z_l | z_>l) is a Gaussian whose
parameters come from s, and s takes each z_l in through a residual cell. The decoder sees
z_1 and the state above it, so every layer reaches x (the skip connections of Kingma et
al. 2016's ResNet VAE and of NVAE, Vahdat & Kautz 2020).

Inference shares that path (Sønderby et al. 2016's ladder VAE; "bidirectional inference"):
a bottom-up encoder gives a feature h_l per layer, and q(z_l | x, z_>l) is a Gaussian
whose parameters are the prior's shifted by a head on [h_l, s] (NVAE's residual
parameterisation), so that the posterior of each layer is conditioned on the layers above.
The KL of each layer has a closed form given the draws above it; the sum over layers,
estimated from one draw of the whole hierarchy, is the model's KL, and each layer's is
logged (`kl_z1` ... `kl_zL`), so that collapse of a layer shows.

With one layer it is exactly a `VAE` (a test). The top prior, the likelihood and the
objective are the parts every model takes; the pass itself is `keras_vae.models.top_down`.
"""

import keras
from keras import ops

from keras_vae import backend, validation
from keras_vae.models import (
    likelihoods,
    network_checks,
    networks,
    objectives,
    priors,
    saving,
    serving,
    top_down,
)
from keras_vae.models.base import LatentVariableModel
from keras_vae.models.vae import decoder_floats


@keras.saving.register_keras_serializable(package="keras_vae")
class HierarchicalVAE(LatentVariableModel):
    """A VAE with stochastic layers z_L ... z_1 and top-down inference (see the module).

    Args:
        encoder: the bottom-up network: x -> one feature per layer, `[h_1, ..., h_L]`
            (bottom first), each (batch, width); one tensor for one layer.
        decoder: [s, z_1] (batch, top_down_units + latent_dims[0]) -> the likelihood's
            parameters (x's shape with channels x `params_per_channel`); z_1 alone
            (batch, latent_dims[0]) for one layer.
        latent_dims: the widths of z_1 ... z_L, bottom first; `latent_dim` is the top's.
        top_down_units: the width of the top-down state s.
        likelihood: as in `VAE` (default: Bernoulli for grey images, else Gaussian).
        posterior: `"gaussian"`, the only one: each layer's q(z_l | x, z_>l) is a diagonal
            Gaussian (recipes pass it).
        prior: the top layer's prior p(z_L): `"standard_normal"`, `"mixture"` or a
            `keras_vae.priors.Prior`.
        objective: `"elbo"` or `"iwae"` or a `keras_vae.objectives.Objective`; the ELBO's
            free bits floor every dim of every layer, its warm-up ramps every layer's KL.
        input_shape: one example's shape, for an encoder that does not declare it.
        seed: seed of the sampling noise.

    Examples:

        >>> model = HierarchicalVAE.from_shape((28, 28, 1), latent_dims=(8, 4))
        >>> model.latent_layers
        {'z1': 8, 'z2': 4}
        >>> tuple(model.sample(3, seed=0, temperature=0.7).shape)
        (3, 28, 28, 1)
    """

    def __init__(
        self,
        encoder,
        decoder,
        *,
        latent_dims,
        top_down_units=256,
        likelihood=None,
        posterior="gaussian",
        prior="standard_normal",
        objective="elbo",
        input_shape=None,
        seed=None,
        name="hierarchical_vae",
        **kwargs,
    ):
        latent_dims = validation.check_widths("latent_dims", latent_dims)
        names = tuple(f"z{i + 1}" for i in range(len(latent_dims)))
        super().__init__(
            seed=seed,
            name=name,
            loss_names=("reconstruction_loss", "kl_loss", *(f"kl_{n}" for n in names)),
            **kwargs,
        )
        self.latent_dims = latent_dims
        self.top_down_units = validation.check_int("top_down_units", top_down_units, minimum=1)
        self.data_shape, feature_widths = top_down.inspect_bottom_up(
            encoder, input_shape, len(latent_dims)
        )
        self.latent_dim = latent_dims[-1]
        self.noise_dim = sum(latent_dims)
        likelihood = likelihoods.get(likelihood or likelihoods.default_for(self.data_shape))
        posterior = top_down.check_posterior(posterior)
        prior, objective = priors.get(prior), objectives.get(objective)
        objectives.refuse_draws(objective, type(self).__name__)
        objective.check_parts(posterior, prior)
        channels = self.data_shape[-1] * likelihood.params_per_channel
        self.params_shape = (*self.data_shape[:-1], channels)
        network_checks.check_decoder(
            decoder,
            self.decoder_width,
            self.params_shape,
            source=f"the top-down path's output: [s, z1] for latent_dims={list(latent_dims)} "
            f"and top_down_units={self.top_down_units}"
            if len(latent_dims) > 1
            else "the latent width",
        )
        self.likelihood, self.encoder, self.decoder = likelihood, encoder, decoder
        self.prior, self.objective = prior, objective
        top = len(latent_dims) - 1
        self.stochastic_layers = [
            top_down.LatentLayer(
                d, self.top_down_units, top=i == top, bottom=i == 0, name=f"layer_{n}"
            )
            for i, (d, n) in enumerate(zip(latent_dims, names))
        ]
        self._feature_widths = feature_widths
        self.build((None, *self.data_shape))

    @classmethod
    def from_shape(
        cls,
        input_shape,
        latent_dim=None,
        *,
        latent_dims=(32, 16, 8),
        top_down_units=256,
        architecture=None,
        likelihood=None,
        dtype=None,
        **kwargs,
    ):
        """A model with the default networks for data of `input_shape`.

        The encoder is `networks.build`'s (conv for images, MLP otherwise) up to its hidden
        layer, which gives h_1, with one `Dense(top_down_units)` per layer above it; the
        decoder is `networks.build`'s for the input [s, z_1].

        Args:
            input_shape: one example's shape, e.g. (28, 28, 1).
            latent_dim: None, or the top layer's width (it must be `latent_dims[-1]`).
            latent_dims: the widths of z_1 ... z_L, bottom first.
            top_down_units: the width of the top-down state.
            architecture: the networks' arguments, as in `VAE.from_shape`.
            likelihood: as in the constructor.
            dtype: dtype policy of the networks' hidden layers and of the model.
            **kwargs: the constructor's other arguments (prior, objective, seed, ...).
        """
        input_shape = validation.check_widths("input_shape", input_shape)
        latent_dims = validation.check_widths("latent_dims", latent_dims)
        if latent_dim is not None and latent_dim != latent_dims[-1]:
            raise validation.invalid(
                "latent_dim",
                f"None or the top layer's width, latent_dims[-1] = {latent_dims[-1]}",
                latent_dim,
            )
        likelihood = likelihoods.get(likelihood or likelihoods.default_for(input_shape))
        decoder_width = latent_dims[0] + (top_down_units if len(latent_dims) > 1 else 0)
        built = networks.build(
            input_shape,
            decoder_width,
            param_channels=input_shape[-1] * likelihood.params_per_channel,
            dtype=dtype,
            **(architecture or {}),
        )
        encoder = top_down.bottom_up(built["encoder"], len(latent_dims), top_down_units, dtype)
        return cls(
            encoder,
            built["decoder"],
            latent_dims=latent_dims,
            top_down_units=top_down_units,
            likelihood=likelihood,
            dtype=dtype,
            **kwargs,
        )

    def build(self, input_shape):
        for layer, width in zip(self.stochastic_layers, self._feature_widths):
            if not layer.built:
                layer.build((None, width))
        if not self.prior.built:
            self.prior.build((None, self.latent_dim))
        if not self.likelihood.built:
            self.likelihood.build((None, *self.params_shape))
        self.built = True

    @property
    def decoder_width(self):
        """The width of the decoder's input: [s, z_1], or z_1 alone for one layer."""
        above = self.top_down_units if len(self.latent_dims) > 1 else 0
        return self.latent_dims[0] + above

    @property
    def latent_layers(self):
        return {
            layer.name.removeprefix("layer_"): layer.latent_dim for layer in self.stochastic_layers
        }

    # ----------------------------------------------------------- the top-down pass

    def _features(self, x, training):
        outputs = self.encoder(x, training=training)
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        return [ops.cast(h, "float32") for h in outputs]

    def _pass(self, features=None, noise=None, top=None, temperature=1.0):
        """`top_down.run` down this model's layers."""
        return top_down.run(self.stochastic_layers, self.prior, features, noise, top, temperature)

    def _decoded(self, decoder_input, training=False):
        """The mean of p(x | ...) for the decoder's input."""
        return self.likelihood.mean(self.decoder(decoder_input, training=training))

    def _prior_noise(self, eps):
        """Noise (batch, sample_noise_dim) for sampling, as the lower layers' and the prior's."""
        return top_down.prior_noise(eps, self.latent_dims)

    @property
    def sample_noise_dim(self):
        """Standard-normal values one prior sample takes: the lower layers' and the prior's."""
        return sum(self.latent_dims[:-1]) + self.prior.noise_dim

    # ----------------------------------------------------------------- inference

    @backend.without_gradients
    def encode(self, x, *, labels=None):
        """(mean, log_var) of the top layer's q(z_L | x), which needs no layer above it."""
        self._refuse_labels(labels)
        x = self.check_batch(x)
        return self.stochastic_layers[-1].posterior(self._features(x, False)[-1], None)

    @backend.without_gradients
    def posterior_shifts(self, x, *, labels=None):
        """{layer name: q's mean minus p's, float32 (batch, d_l)}, the layers above at their
        means: what x tells each layer beyond what the layers above predict (a collapsed
        layer, q = p, shows zeros). At the top, q's mean against the prior's zero."""
        self._refuse_labels(labels)
        _, out = self._pass(self._features(self.check_batch(x), False))
        return {name: draw.shift for name, draw in zip(self.latent_layers, out)}

    @backend.without_gradients
    def decode(self, z, *, labels=None, temperature=0.0, seed=None):
        """The mean of p(x | z_L, z_<L): the lower layers at their prior means (temperature 0),
        or drawn at `temperature` > 0 (seeded)."""
        self._refuse_labels(labels)
        z = self.check_latents(z)
        temperature = priors.check_temperature(temperature, allow_zero=True)
        noise = None
        if temperature:
            n = z.shape[0]
            eps = keras.random.normal((n, sum(self.latent_dims)), seed=seed)
            noise = top_down.split_noise(eps, self.latent_dims)
        return self._decoded(self._pass(noise=noise, top=z, temperature=temperature or 1.0)[0])

    @backend.without_gradients
    def sample(self, n, *, labels=None, seed=None, temperature=1.0):
        """Means of p(x | z) for `n` draws of the whole hierarchy from the prior, each
        layer's noise scaled by `temperature` (< 1: the typical samples of NVAE)."""
        self._refuse_labels(labels)
        n = validation.check_int("n", n, minimum=1)
        temperature = priors.check_temperature(temperature)
        eps = keras.random.normal((n, self.sample_noise_dim), seed=seed)
        return self._generate(eps, temperature)

    def _generate(self, eps, temperature=1.0):
        noise = self._prior_noise(ops.cast(eps, "float32"))
        return self._decoded(self._pass(noise=noise, temperature=temperature)[0])

    @backend.without_gradients
    def reconstruct(self, x, *, labels=None):
        """Decoded from q's means, every layer's given the means above."""
        self._refuse_labels(labels)
        return self._decoded(self._pass(self._features(self.check_batch(x), False))[0])

    def call(self, inputs, training=False):
        features = self._features(inputs, training)
        noise = None
        if training:
            noise = top_down.split_noise(
                self.draw_noise((ops.shape(inputs)[0], self.noise_dim), True)
            )
        return self._decoded(self._pass(features, noise)[0], training)

    # ---------------------------------------------------------------- the bound

    def loss_terms(self, x, *, labels=None, training=False):
        """`loss`, `reconstruction_loss`, `kl_loss` (the sum over layers) and `kl_z1` ...
        `kl_zL`, float32 (batch,) each; each KL is its closed form given one draw of the
        layers above (the top's estimated from the draw when its prior has none)."""
        self._refuse_labels(labels)
        x = ops.convert_to_tensor(x)
        k = self.objective.num_samples
        eps = self.draw_noise((k * ops.shape(x)[0], self.noise_dim), training)
        terms, layer_kls = self._terms(x, eps, k, training)
        step = self.optimizer.iterations if getattr(self, "optimizer", None) is not None else 0
        result = {
            "loss": self.objective(terms, step),
            "reconstruction_loss": -ops.mean(terms.log_px, axis=0),
            "kl_loss": ops.mean(terms.kl, axis=0),
        }
        for name, kl in zip(self.latent_layers, layer_kls):
            result[f"kl_{name}"] = kl
        return result

    def _terms(self, x, eps, k, training):
        """`objectives.BoundTerms` for k draws of the hierarchy from flat noise eps
        (k * batch, noise_dim), sample-major, and each layer's KL per example."""
        features = [objectives.tile(h, k) for h in self._features(x, training)]
        decoder_input, out = self._pass(features, top_down.split_noise(eps, self.latent_dims))
        decoded = self.decoder(decoder_input, training=training)
        log_px = self.likelihood.log_prob(decoded, objectives.tile(ops.cast(x, "float32"), k))
        log_q, log_p, kl = (sum(getattr(d, t) for d in out) for t in ("log_q", "log_p", "kl"))
        by_draw = [ops.reshape(t, (k, -1)) for t in (log_px, log_p, log_q, kl)]
        dims = [draw.kl_dims for draw in out]
        kl_dims = None
        if all(d is not None for d in dims):
            kl_dims = ops.mean(
                ops.reshape(ops.concatenate(dims, axis=-1), (k, -1, self.noise_dim)), 0
            )
        layer_kls = [ops.mean(ops.reshape(draw.kl, (k, -1)), axis=0) for draw in out]
        return objectives.BoundTerms(*by_draw, kl_dims), layer_kls

    def evidence(self, x, eps, *, labels=None):
        self._refuse_labels(labels)
        k = eps.shape[0]
        terms, _ = self._terms(x, ops.reshape(eps, (-1, self.noise_dim)), k, False)
        log_weights = terms.log_px + terms.log_pz - terms.log_q
        return {"log_weights": log_weights, "elbo": log_weights, "kl": terms.kl}

    @backend.without_gradients
    def kl_per_dim(self, x, *, labels=None):
        """Each layer's KL per dim, layers bottom first, given one draw of the layers above
        (noise seeded by the model's seed, so the same x gives the same figures); None
        where the top prior has no closed-form KL."""
        self._refuse_labels(labels)
        if not self.prior.closed_form_kl:
            return None
        x = self.check_batch(x)
        eps = keras.random.normal((x.shape[0], self.noise_dim), seed=self.seed or 0)
        _, out = self._pass(self._features(x, False), top_down.split_noise(eps, self.latent_dims))
        return ops.concatenate([draw.kl_dims for draw in out], axis=-1)

    @backend.without_gradients
    def layer_kls(self, x, *, labels=None):
        self._refuse_labels(labels)
        x = self.check_batch(x)
        eps = keras.random.normal((x.shape[0], self.noise_dim), seed=self.seed or 0)
        _, kls = self._terms(x, eps, 1, False)
        return dict(zip(self.latent_layers, kls))

    @property
    def floats_per_draw(self):
        path = len(self.latent_dims) * (4 * self.top_down_units + 8 * max(self.latent_dims))
        return decoder_floats(self.decoder, self.data_shape) + path

    # ------------------------------------------------------------------ serving

    def serving_endpoints(self):
        data = self.data_name

        def encode(x):
            mean, log_var = self.stochastic_layers[-1].posterior(self._features(x, False)[-1], None)
            return {"z_mean": mean, "z_log_var": log_var}

        def reconstruct(x):
            return {data: self._decoded(self._pass(self._features(x, False))[0])}

        def decode(z):
            return {data: self._decoded(self._pass(top=z)[0])}

        return serving.standard_endpoints(
            self, encode, reconstruct, decode, lambda eps: {data: self._generate(eps)}
        )

    # ------------------------------------------------------------- serialization

    def get_config(self):
        config = saving.model_config(
            self, super().get_config(), ("likelihood", "prior", "objective")
        )
        return {
            **config,
            "latent_dims": list(self.latent_dims),
            "top_down_units": self.top_down_units,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**saving.deserialized_networks(config))
