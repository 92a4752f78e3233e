"""The variational autoencoder: a `keras.Model` holding an encoder, a decoder and a likelihood."""

import copy

import keras
import numpy as np
import tensorflow as tf

from keras_vae import validation
from keras_vae.models import flows, likelihoods, networks, objectives, optimizers, presets, steps
from keras_vae.models.layers import Sampling

@keras.saving.register_keras_serializable(package="keras_vae")
class VAE(keras.Model):
    """A VAE trained with `model.fit` on the negative ELBO (or the IWAE bound).

    The encoder gives the mean and log-variance of q(z|x); `Sampling` draws
    z = mu + sigma * eps; the decoder gives the parameters of p(x|z). The loss per
    example is -log p(x|z) + beta * KL(q(z|x) || N(0, I)), averaged over the global
    batch so that N replicas make the same update as one device. x may be images
    (H, W, C), sequences (T, C) or vectors (D,); its values are independent given z.

    With `posterior="iaf"`, z = mu + sigma * eps is pushed through an inverse
    autoregressive flow (`keras_vae.models.flows`) conditioned on a context h the
    encoder also emits. log q(z|x) = log q(z_0|x) - log |det dz/dz_0| is then no longer
    a closed form of z, and the KL is estimated from the draws (`objectives.flow_kl`).
    With `flow_steps=0` there is no flow, and the loss is exactly the Gaussian's
    (analytic KL).

    Args:
        encoder: a Keras model or layer mapping x to `[z_mean, z_log_var]`, or to one
            tensor of width 2 * latent_dim split in half. Default: `networks.conv_encoder`
            for images, `networks.mlp_encoder` otherwise, built from `input_shape`.
        decoder: a Keras model or layer mapping z (batch, latent_dim) to the likelihood's
            parameters: x's shape with channels x `params_per_channel` on the last axis
            (1 for Bernoulli and Gaussian, 2 for logistic). Default: the matching builder.
        input_shape: one example's shape; read from the encoder when it declares one.
            Default (28, 28, 1) without an encoder.
        latent_dim: latent dimensions; read from the networks when given. Default 16.
        likelihood: `"bernoulli"` (data in [0, 1]), `"gaussian"` (mean squashed to [0, 1]
            for images, unbounded for vectors and sequences), or `"logistic"`
            (discretized logistic for 8-bit data; bits/dim).
        beta: weight of the KL term.
        kl_warmup_steps: ramp beta linearly from 0 over this many optimizer steps.
        free_bits: nats per latent dim below which a dim's KL is not penalised.
        objective: `"elbo"`, or `"iwae"` (importance-weighted bound, Burda et al.).
        num_samples: z draws per example in the objective (k of IWAE).
        kl_schedule: `"linear"` warm-up, or `"cyclical"` (restarts every `kl_cycle_steps`).
        kl_cycle_steps: cycle length of the cyclical schedule.
        gaussian_scale: fixed std of the Gaussian likelihood (learned per channel when None).
        posterior: `"gaussian"` (a diagonal Gaussian q(z|x)) or `"iaf"` (that Gaussian
            through an inverse autoregressive flow, Kingma et al. 2016). A user encoder
            for `"iaf"` may return a third output, the context h (batch, H); without it
            the flow depends on x through z_0 only.
        flow_steps: IAF steps (default 2), an int >= 0; only with `posterior="iaf"`.
        flow_units: hidden widths of each step's MADE network (default (64, 64)); the
            default encoder's context h has width `flow_units[0]`. Only with `"iaf"`.
        encoder_filters, decoder_filters, dense_units, kernel_size, residual_blocks:
            arguments of the default conv networks (see `networks.conv_encoder`).
        hidden_units: hidden widths of the default MLP encoder (the decoder's reversed).
        seed: seed of the sampling noise.
        dtype: dtype policy of the default networks' hidden layers, e.g. `"mixed_bfloat16"`;
            the latent heads, the likelihood and the loss always run in float32.

    Example:

    >>> encoder = keras.Sequential([keras.Input((30,)), keras.layers.Dense(64, "relu"),
    ...                             keras.layers.Dense(2 * 4)])
    >>> decoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(64, "relu"),
    ...                             keras.layers.Dense(30)])
    >>> model = VAE(encoder, decoder, likelihood="gaussian")
    >>> model.compile(optimizer="adam")
    >>> model.sample(2, seed=1).shape
    TensorShape([2, 30])
    """

    def __init__(
        self, encoder=None, decoder=None, *, input_shape=None, latent_dim=None,
        likelihood="bernoulli", beta=1.0, kl_warmup_steps=0, free_bits=0.0, objective="elbo",
        num_samples=1, kl_schedule="linear", kl_cycle_steps=0, gaussian_scale=None,
        encoder_filters=None, decoder_filters=None, dense_units=None, kernel_size=None,
        residual_blocks=None, hidden_units=None, posterior="gaussian", flow_steps=None,
        flow_units=None, seed=None, name="vae", **kwargs,
    ):  # fmt: skip
        super().__init__(name=name, **kwargs)
        for argument, network in (("encoder", encoder), ("decoder", decoder)):
            if network is not None and not isinstance(network, keras.layers.Layer):
                raise validation.invalid(argument, "a Keras model or layer, or None (input_shape "
                                         "and latent_dim are keyword arguments since 0.2)", network)  # fmt: skip
        self._set_objective(beta, kl_warmup_steps, free_bits, objective, num_samples,
                            kl_schedule, kl_cycle_steps)  # fmt: skip
        self._set_posterior(posterior, flow_steps, flow_units)
        architecture = dict(
            encoder_filters=encoder_filters, decoder_filters=decoder_filters,
            dense_units=dense_units, kernel_size=kernel_size, residual_blocks=residual_blocks,
            hidden_units=hidden_units,
        )  # fmt: skip
        architecture = networks.check_architecture(
            {k: v for k, v in architecture.items() if v is not None}
        )
        self.architecture = architecture
        if encoder is not None and decoder is not None and architecture:
            raise ValueError(
                f"Invalid value received for argument {next(iter(architecture))}. Expected it "
                "only with a default network; both encoder and decoder were given. Received: "
                + ", ".join(f"{k}={v!r}" for k, v in architecture.items())
            )
        if encoder is None:
            input_shape = validation.check_widths("input_shape", input_shape or (28, 28, 1))
            latent_dim = validation.check_int("latent_dim", 16 if latent_dim is None else latent_dim, 1)
            context_dim = self.flow_units[0] if self.flow_steps else 0
            encoder = networks.default_encoder(input_shape, latent_dim, architecture,
                                               self.dtype_policy, self._label_width(), context_dim)  # fmt: skip
        self.data_shape, self.latent_dim, self.split_encoder_output, self.context_dim = (
            networks.inspect_encoder(encoder, input_shape, self._label_width())
        )
        if self.context_dim and self.posterior_name == "gaussian":
            raise validation.invalid(
                "encoder", "outputs [z_mean, z_log_var] for posterior='gaussian' (a third "
                "output, a flow's context, needs posterior='iaf')",
                validation.Described(f"an encoder with a context output of width {self.context_dim}"),
            )  # fmt: skip
        if latent_dim is not None and latent_dim != self.latent_dim:
            raise ValueError(
                "Invalid value received for argument latent_dim. Expected the networks' latent "
                f"width {self.latent_dim} (or None). Received: latent_dim={latent_dim!r}"
            )
        self.likelihood_name = likelihood
        self.gaussian_scale = gaussian_scale
        self.likelihood = self._likelihood(likelihood, gaussian_scale)
        channels = self.data_shape[-1] * self.likelihood.params_per_channel
        self.params_shape = (*self.data_shape[:-1], channels)
        if decoder is None:
            decoder = networks.default_decoder(self.data_shape, self.latent_dim, channels,
                                               architecture, self.dtype_policy, self._label_width())  # fmt: skip
        declared = networks.decoder_latent_dim(decoder, self._label_width())
        if declared is not None and declared != self.latent_dim:
            raise ValueError(
                "Invalid value received for argument decoder. Expected an input of shape "
                f"(None, {self.latent_dim}) (the encoder's latent width). Received: a decoder "
                f"whose input has shape (None, {declared})"
            )
        networks.check_decoder(decoder, self.latent_dim, self.params_shape, self._label_width())
        self.encoder, self.decoder = encoder, decoder
        self.seed = seed
        self.sampling = Sampling(seed=seed, name="sampling")
        self.flow = None
        if self.posterior_name == "iaf":
            self.flow = flows.InverseAutoregressiveFlow(self.flow_steps, self.flow_units, name="flow")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.skipped_tracker = keras.metrics.Sum(name="skipped_updates")
        self._add_parts()
        # Built here, so save/summary/export work before and after fit.
        self.build((None, *self.data_shape))

    def _add_parts(self):
        """Where a subclass creates its other layers: the model is built right after."""

    def _label_width(self):
        """Width of the one-hot labels the networks also take: 0, none (see ConditionalVAE)."""
        return 0

    def _set_posterior(self, posterior, flow_steps, flow_units):
        self.posterior_name = validation.check_choice("posterior", posterior, flows.POSTERIORS)
        given = {"flow_steps": flow_steps, "flow_units": flow_units}
        if posterior == "gaussian":
            for name, value in given.items():
                if value is not None:
                    raise validation.invalid(name, "None unless posterior='iaf'", value)
            self.flow_steps, self.flow_units = 0, ()
            return
        if self.free_bits:
            raise validation.invalid(
                "free_bits", "0 with posterior='iaf' (free bits floor each dim's KL, which a "
                "flow posterior does not have)", self.free_bits,
            )  # fmt: skip
        given = {k: flows.FLOW_DEFAULTS[k] if v is None else v for k, v in given.items()}
        self.flow_steps = validation.check_int("flow_steps", given["flow_steps"], minimum=0)
        self.flow_units = validation.check_widths("flow_units", given["flow_units"])

    def _set_objective(self, beta, warmup, free_bits, objective, num_samples, schedule, cycle):
        self.beta = validation.check_float("beta", beta)
        self.kl_warmup_steps = validation.check_int("kl_warmup_steps", warmup, minimum=0)
        self.free_bits = validation.check_float("free_bits", free_bits)
        self.objective = validation.check_choice("objective", objective, objectives.OBJECTIVES)
        self.num_samples = validation.check_int("num_samples", num_samples, minimum=1)
        if self.objective == "iwae" and self.free_bits:
            raise validation.invalid("free_bits", "0 with objective='iwae' (free bits apply to "
                                     "the ELBO only)", free_bits)  # fmt: skip
        self.kl_schedule = validation.check_choice("kl_schedule", schedule, objectives.KL_SCHEDULES)
        self.kl_cycle_steps = validation.check_int("kl_cycle_steps", cycle, minimum=0)
        if self.kl_schedule == "cyclical" and self.kl_cycle_steps < max(self.kl_warmup_steps, 1):
            raise validation.invalid(
                "kl_cycle_steps", f"kl_cycle_steps >= kl_warmup_steps >= 1 for a cyclical "
                f"schedule (kl_warmup_steps={warmup})", cycle,
            )

    def _likelihood(self, name, gaussian_scale):
        validation.check_choice("likelihood", name, tuple(likelihoods.LIKELIHOODS))
        if gaussian_scale is not None and name != "gaussian":
            raise validation.invalid("gaussian_scale", "None unless likelihood='gaussian' (it "
                                     f"is {name!r})", gaussian_scale)  # fmt: skip
        if name != "gaussian":
            return likelihoods.get(name, name="likelihood")
        activation = "sigmoid" if len(self.data_shape) == 3 else "linear"
        return likelihoods.get(name, name="likelihood", scale=gaussian_scale,
                               mean_activation=activation)  # fmt: skip

    def build(self, input_shape):
        latent_shape = (None, self.latent_dim)
        self.sampling.build([latent_shape, latent_shape])
        if self.flow is not None:
            self.flow.build(latent_shape, (None, self.context_dim) if self.context_dim else None)
        self.likelihood.build((None, *self.params_shape))
        self.built = True

    @property
    def image_shape(self):
        """`data_shape`, under its name from when the model took images only."""
        return self.data_shape

    @classmethod
    def from_preset(cls, name, *, learning_rate=None, steps_per_epoch=None, **overrides):
        """A compiled model from a named preset (see `keras_vae.presets`).

        Args:
            name: a key of `keras_vae.presets.PRESETS`.
            learning_rate: Adam's (initial) learning rate (default: the preset's).
            steps_per_epoch: batches per epoch of your data. With it, a preset whose
                `lr_schedule` decays runs that schedule over its `epochs`; without it the
                learning rate stays constant.
            **overrides: `VAE` arguments that replace the preset's (e.g. `latent_dim=64`).

        Example:

        >>> VAE.from_preset("keras_example", seed=0).latent_dim
        2
        """
        preset = presets.get(name)
        if steps_per_epoch is not None:
            validation.check_int("steps_per_epoch", steps_per_epoch, minimum=1)
        if learning_rate is not None:
            validation.check_float("learning_rate", learning_rate, positive=True)
        model_args = preset["model"]
        if overrides.get("encoder") is not None and overrides.get("decoder") is not None:
            architecture = (*networks.CONV_ARGUMENTS, *networks.MLP_ARGUMENTS, "input_shape",
                            "latent_dim")  # fmt: skip
            model_args = {k: v for k, v in model_args.items() if k not in architecture}
        model_class = cls
        if "num_classes" in model_args and not hasattr(cls, "classify"):
            from keras_vae.models.conditional import ConditionalVAE  # its presets need labels

            model_class = ConditionalVAE
        model = model_class(**{**model_args, **overrides})
        recipe = preset["train"]
        model.compile(optimizer=optimizers.for_run(
            learning_rate or recipe["learning_rate"], recipe.get("lr_schedule", "constant"),
            recipe["epochs"], steps_per_epoch,
        ))  # fmt: skip
        return model

    # ----------------------------------------------------------------- inference

    def posterior_parameters(self, x, training=False):
        """What `encode` returns, float32 (batch, latent_dim) each, for a tensor batch x."""
        return self._encoding(self._posterior(x, None, training))

    def posterior(self, x, training=False):
        """q(z|x) as a TFP distribution over (latent_dim,), for a tensor batch x.

        A diagonal Gaussian `tfd.Independent(tfd.Normal)`, or for `posterior="iaf"` a
        `tfd.TransformedDistribution` of it through the flow given the context h. Draw
        from a flow posterior with `objectives.reparameterize`: its `log_prob` of an
        arbitrary z inverts the flow one dimension at a time.
        """
        return self._distribution(*self._posterior(x, None, training))

    def _posterior(self, x, one_hot, training):
        """The encoder's float32 (z_mean, z_log_var, context or None), given one-hot labels
        too when the networks take them."""
        outputs = self.encoder(x if one_hot is None else [x, one_hot], training=training)
        if self.split_encoder_output:
            outputs = tf.split(outputs, 2, axis=-1)
        z_mean, z_log_var, *context = (tf.cast(t, tf.float32) for t in outputs)
        return z_mean, z_log_var, context[0] if context else None

    def _distribution(self, z_mean, z_log_var, context):
        q = objectives.posterior(z_mean, z_log_var)
        if not self.flow_steps:  # as in `_flow`: no flow, or one of 0 steps
            return q
        return objectives.tfd.TransformedDistribution(q, self.flow.bijector(context))

    def _encoding(self, posterior):
        """(z, z_log_var): z the posterior mean, or for a flow the base mean pushed through it
        (eps = 0); z_log_var the Gaussian's (the base's for a flow)."""
        z_mean, z_log_var, context = posterior
        return self._flow(z_mean, context)[0], z_log_var

    def _flow(self, z0, context):
        """(z, log |det dz/dz0| per row): through the flow, or (z0, None) without one."""
        if not self.flow_steps:  # a Gaussian posterior, or a flow of 0 steps
            return z0, None
        return self.flow(z0, context)

    def _draw(self, posterior):
        """A draw z ~ q(z|x) per row (training noise, replica-aware), and the Gaussian z0 and
        log-det it came from."""
        z_mean, z_log_var, context = posterior
        z0 = self.sampling([z_mean, z_log_var])
        return (*self._flow(z0, context), z0)

    def encode(self, x):
        """Returns (z_mean, z_log_var) of q(z|x), each of shape (batch, latent_dim).

        For `posterior="iaf"`, z_mean is the base mean pushed through the flow with
        eps = 0 (a point of high density, not the flow posterior's mean), and z_log_var
        the log-variance of the Gaussian base q(z_0|x).
        """
        return self.posterior_parameters(self._as_batch(x, "x"))

    def decode(self, z):
        """Returns the mean of p(x|z): float32 data of the model's `data_shape`."""
        z = tf.convert_to_tensor(z, dtype=tf.float32)
        validation.check_batch_shape("z", z.shape, (self.latent_dim,), what="latent vectors")
        return self.likelihood.mean(self.decoder(z, training=False))

    def sample(self, n, seed=None):
        """Decodes `n` draws z ~ N(0, I); returns the means of p(x|z)."""
        n = validation.check_int("n", n, minimum=1)
        return self.decode(keras.random.normal((n, self.latent_dim), seed=seed))

    def reconstruct(self, x):
        """Encodes to the posterior mean and decodes it: the model's reconstruction."""
        return self.decode(self.encode(x)[0])

    def call(self, inputs, training=False):
        posterior = self._posterior(inputs, None, training)
        z = self._draw(posterior)[0] if training else self._encoding(posterior)[0]
        return self.likelihood.mean(self.decoder(z, training=training))

    # ------------------------------------------------------------------ training

    def loss_terms(self, x, training=False):
        """Per-example objective, reconstruction loss and KL (float32) for a batch.

        The objective is -ELBO (reconstruction + beta * free-bits KL) with
        `objective="elbo"`, or minus the k-sample IWAE bound (Burda et al. 2015) with
        `objective="iwae"`, where beta weights log p(z) - log q(z|x). The
        reconstruction loss is averaged over the `num_samples` draws of z.
        """
        return self._bound_terms(x, None, training)

    def _bound_terms(self, x, one_hot, training):
        """`loss_terms`, given one-hot labels too when the networks take them."""
        z_mean, z_log_var, context = self._posterior(x, one_hot, training)
        kl_dims = objectives.kl_per_dim(z_mean, z_log_var)
        k = self.num_samples
        posterior = [None if t is None else tf.tile(t, [k, 1]) for t in (z_mean, z_log_var, context)]
        z, log_det, z0 = self._draw(posterior)
        decoder_inputs = z if one_hot is None else [z, tf.tile(one_hot, [k, 1])]
        p_x = self.likelihood.distribution(self.decoder(decoder_inputs, training=training))
        x = tf.tile(tf.cast(x, tf.float32), [k] + [1] * len(self.data_shape))
        log_px = tf.reshape(p_x.log_prob(x), [k, -1])  # (k, batch), sample-major
        reconstruction = -tf.reduce_mean(log_px, axis=0)
        beta = self.kl_weight()
        prior, q0 = objectives.prior(self.latent_dim), objectives.posterior(*posterior[:2])
        if log_det is None:
            kl = tf.reduce_sum(kl_dims, axis=-1)
        else:  # a flow's KL: E[log q(z|x) - log p(z)] over the draws, see objectives.flow_kl
            kl = tf.reduce_mean(tf.reshape(objectives.flow_kl(q0, z, log_det), [k, -1]), axis=0)
        if self.objective == "iwae":
            log_q = q0.log_prob(z0) if log_det is None else q0.log_prob(z0) - log_det
            log_ratio = tf.reshape(prior.log_prob(z) - log_q, [k, -1])
            objective = -objectives.iwae_bound(log_px + beta * log_ratio)
        elif log_det is None:
            objective = reconstruction + beta * objectives.free_bits_kl(kl_dims, self.free_bits)
        else:
            objective = reconstruction + beta * kl
        return objective, reconstruction, kl

    def kl_weight(self):
        """The current beta (after warm-up), as a float32 tensor."""
        optimizer = getattr(self, "optimizer", None)  # none before compile()
        step = optimizer.iterations if optimizer is not None else 0
        return objectives.kl_weight(
            step, self.beta, self.kl_warmup_steps, self.kl_schedule, self.kl_cycle_steps
        )

    def compile(self, optimizer="rmsprop", **kwargs):
        """`keras.Model.compile`, with the optimizer inside a `LossScaleOptimizer`.

        Keras wraps it itself for `mixed_float16`. Otherwise the wrapper starts at
        scale 1 and never grows (powers of two: the updates are exactly those of the
        bare optimizer); it is there so that a step whose loss or gradients are not
        finite is skipped instead of writing NaN into the weights.
        """
        optimizer = keras.optimizers.get(optimizer)
        if self.dtype_policy.name != "mixed_float16" and not isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer
        ):
            optimizer = keras.optimizers.LossScaleOptimizer(
                optimizer, initial_scale=1.0, dynamic_growth_steps=2**31 - 1
            )
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        # What Keras does for models whose compile() is not overridden.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def train_step(self, data):
        with tf.GradientTape() as tape:
            objective, terms = self._step_terms(data, training=True)
            # Mean over the GLOBAL batch: Keras sums gradients across replicas.
            loss = tf.nn.compute_average_loss(objective)
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        finite = steps.all_replicas_finite([scaled_loss, *gradients])
        # Every replica must see the same verdict: the optimizer then skips the step.
        gradients = [tf.where(finite, g, tf.constant(np.nan, g.dtype)) for g in gradients]
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        self.skipped_tracker.update_state(1.0 - tf.cast(finite, tf.float32))
        # A skipped step does not count in the epoch's loss either.
        logs = self._update_metrics({"loss": (objective, None), **terms}, finite)
        return steps.logs({**logs, "skipped_updates": self.skipped_tracker.result()})

    def test_step(self, data):
        objective, terms = self._step_terms(data, training=False)
        return steps.logs(self._update_metrics({"loss": (objective, None), **terms}))

    def _step_terms(self, data, training):
        """(per-example objective, {metric name: (per-example values, weights or None)})."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = validation.assert_valid_batch(x, self.likelihood.requires_unit_interval)
        objective, reconstruction, kl = self.loss_terms(x, training=training)
        return objective, {"reconstruction_loss": (reconstruction, None), "kl_loss": (kl, None)}

    def _update_metrics(self, terms, finite=True):
        """Updates each tracker with its per-example values; a non-finite step counts for none."""
        finite = tf.cast(finite, tf.float32)
        trackers = {tracker.name: tracker for tracker in self.metrics}
        for name, (values, weights) in terms.items():
            values = tf.where(finite > 0, values, tf.zeros_like(values))
            weights = finite * (1.0 if weights is None else tf.cast(weights, tf.float32))
            # Mean of per-example values = mean weighted by batch size.
            trackers[name].update_state(values, sample_weight=weights * tf.ones_like(values))
        return {name: trackers[name].result() for name in terms}

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker,
                self.skipped_tracker]  # fmt: skip

    def fit(self, x=None, y=None, *args, validation_data=None, **kwargs):
        self._check_targets(y, x)
        given = {**dict(zip(("batch_size", "epochs"), args)), **kwargs}
        if given.get("batch_size") is not None:
            validation.check_int("batch_size", given["batch_size"], minimum=1)
        epochs = validation.check_int("epochs", given.get("epochs", 1), minimum=1)
        validation.check_int("initial_epoch", given.get("initial_epoch", 0), minimum=0, maximum=epochs)
        x = self._check_data(x, "x")
        if isinstance(x, tf.data.Dataset) and not args:  # a dataset shuffles itself; no warning
            kwargs.setdefault("shuffle", False)
        if validation_data is not None:
            validation_data = self._check_data(validation_data, "validation_data")
        with steps.input_errors_as_value_errors():
            return super().fit(x, y, *args, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._check_targets(y, x, training=False)
        x = self._check_data(x, "x")
        with steps.input_errors_as_value_errors():
            return super().evaluate(x, y, *args, **kwargs)

    def _check_targets(self, y, x, training=True):
        """A VAE learns from x alone: labels are refused (they belong to ConditionalVAE)."""
        spec = x.element_spec if isinstance(x, tf.data.Dataset) else None
        if isinstance(spec, tuple) and len(spec) > 1 and getattr(spec[1], "dtype", tf.float32).is_integer:
            y = validation.Described(f"a dataset of (x, {spec[1].dtype.name} labels) batches")
        elif y is None:
            return
        elif hasattr(y, "shape"):
            y = validation.Described(f"an array of shape {tuple(y.shape)}")
        raise validation.invalid(
            "y", "None: a VAE learns from x alone. For labels use keras_vae.ConditionalVAE", y
        )

    def _check_data(self, data, name):
        """Checks arrays and dataset specs up front; wraps a bare array as `(array,)`."""
        unit = self.likelihood.requires_unit_interval
        if isinstance(data, tf.data.Dataset):
            validation.check_dataset(name, data, self.data_shape)
        elif isinstance(data, tuple) and data and isinstance(data[0], np.ndarray):
            validation.check_array(name, data[0], self.data_shape, unit)
        elif isinstance(data, np.ndarray):
            validation.check_array(name, data, self.data_shape, unit)
            return data if name == "x" else (data,)
        return data

    def _as_batch(self, x, name):
        if isinstance(x, np.ndarray):
            validation.check_array(name, x, self.data_shape, self.likelihood.requires_unit_interval)
        x = tf.convert_to_tensor(x)
        validation.check_batch_shape(name, x.shape, self.data_shape)
        validation.check_float_dtype(name, x.dtype)
        return x

    # ------------------------------------------------------------- serialization

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "input_shape": list(self.data_shape),
            "latent_dim": self.latent_dim,
            "likelihood": self.likelihood_name,
            "beta": self.beta,
            "kl_warmup_steps": self.kl_warmup_steps,
            "free_bits": self.free_bits,
            "objective": self.objective,
            "num_samples": self.num_samples,
            "kl_schedule": self.kl_schedule,
            "kl_cycle_steps": self.kl_cycle_steps,
            "gaussian_scale": self.gaussian_scale,
            "posterior": self.posterior_name,
            **({"flow_steps": self.flow_steps, "flow_units": list(self.flow_units)}
               if self.flow is not None else {}),  # fmt: skip
            "seed": self.seed,
            # How the default networks were built; the networks above are the truth.
            **{k: list(v) if isinstance(v, tuple) else v for k, v in self.architecture.items()},
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("encoder"), dict) and isinstance(config.get("decoder"), dict):
            for key in ("encoder", "decoder"):  # a deep copy: deserializing consumes the dict
                config[key] = keras.saving.deserialize_keras_object(copy.deepcopy(config[key]))
            names = (*networks.CONV_ARGUMENTS, *networks.MLP_ARGUMENTS)
            recorded = {k: config.pop(k) for k in names if k in config}
            model = cls(**config)
            model.architecture = networks.check_architecture(recorded)
            return model
        # Files written before 0.2 hold no networks: the architecture rebuilds them.
        return cls(**config)
