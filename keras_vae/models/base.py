"""The one interface every model family implements, and the training step they share.

Generic code (`keras_vae.evaluate`, `export`, `visualization`, `training`, the CLI) uses
only what `LatentVariableModel` lists: a new family is a subclass in a new file of
`keras_vae/models/` that implements the methods marked "a family implements", and every
tool takes it unchanged.
"""

import types

import keras
import numpy as np
from keras import ops

from keras_vae import backend, validation
from keras_vae.models import labels as labels_lib
from keras_vae.models import layers, steps


class LatentVariableModel(keras.Model):
    """Base of the model families: their interface, written down once, and `fit`'s machinery.

    A family implements the methods whose body here is `raise NotImplementedError` and sets
    the attributes below in its constructor.

    Attributes:
        data_shape: one example's shape, e.g. (28, 28, 1).
        latent_dim: the width of z (of the top layer of a hierarchy), which `decode` takes.
        noise_dim: standard-normal values one posterior draw takes (for `evidence`).
        num_classes: the classes y of a class-conditional model, or None.
        likelihood: the likelihood part (`keras_vae.models.likelihoods`).
        loss_names: the per-example terms `loss_terms` gives besides `loss`, logged by `fit`.

    Every method takes `labels` as a keyword: one class per example (or an int for all),
    -1 for "not known" where the model can infer it (`keras_vae.models.labels`). A model
    without classes refuses any labels but None.

    Training (`fit`) averages per-example losses over the global batch, so that N replicas
    make the same update as one device; skips an update whose loss or gradients are not
    finite (counted in `skipped_updates`); logs the mean of each term over the epoch, a
    term's NaN marking examples it does not apply to. `evaluate` draws the same noise every
    call, so the same data give the same figures.
    """

    loss_names = ()
    num_classes = None

    def __init__(self, *, seed=None, loss_names=None, **kwargs):
        super().__init__(**kwargs)
        if loss_names is not None:  # terms that depend on the instance (a hierarchy's layers)
            self.loss_names = tuple(loss_names)
        self.seed = seed
        self.noise = layers.Noise(seed, name="noise")
        self.evaluation_noise = layers.Noise(seed, name="evaluation_noise")
        self.trackers = {name: steps.TermMean(name=name) for name in ("loss", *self.loss_names)}
        self.skipped_tracker = keras.metrics.Sum(name="skipped_updates")
        # Untracked: compile() may run after the model is built, when Keras locks its state.
        self._compiled = types.SimpleNamespace(metrics=[])

    # ------------------------------------------------------- a family implements

    def encode(self, x, *, labels=None):
        """(z_mean, z_log_var) of q(z|x), float32 (batch, latent_dim) each: a point of high
        posterior density and the spread around it."""
        raise NotImplementedError

    def decode(self, z, *, labels=None):
        """The mean of p(x|z), float32 of shape (batch, *data_shape)."""
        raise NotImplementedError

    def sample(self, n, *, labels=None, seed=None, temperature=1.0):
        """The means of p(x|z) for `n` draws z ~ p(z), the prior's spread scaled by
        `temperature` > 0 (below 1: nearer its mode). The draws depend on (n, seed) only,
        so the same seed gives the same z whatever the labels."""
        raise NotImplementedError

    def reconstruct(self, x, *, labels=None):
        """`decode(encode(x)[0])`: the model's reconstruction of x."""
        raise NotImplementedError

    def classify(self, x):
        """q(y|x): class probabilities (batch, num_classes) of a model with classes."""
        raise validation.invalid(
            "model",
            "a model with classes (num_classes is not None) for classify",
            validation.Described(f"a {type(self).__name__} without classes"),
        )

    @property
    def latent_layers(self):
        """{name: width} of the stochastic layers, bottom first; `kl_per_dim`'s dims follow
        this order. One layer, `z`, unless the family has more."""
        return {"z": self.latent_dim}

    def posterior_shifts(self, x, *, labels=None):
        """{layer name: (batch, width)}: per example, how far q's mean moves from the
        prior's (see `latent_layers`); for one layer, `encode`'s point (the prior's mean
        is 0). A unit whose shift does not vary with x carries nothing about x."""
        return {"z": self.encode(x, labels=labels)[0]}

    def loss_terms(self, x, *, labels=None, training=False):
        """Per-example float32 (batch,) terms: `loss` (what `fit` minimises) and `loss_names`."""
        raise NotImplementedError

    def evidence(self, x, eps, *, labels=None):
        """For noise eps (k, batch, noise_dim): a dict of (k, batch) float32 tensors,
        `log_weights` (log p(x, z) - log q(z|x) of each draw, whose log-mean-exp over k is
        the importance-sampled estimate of log p(x)), `elbo` (each draw's value of the
        model's evidence lower bound) and `kl` (each draw's KL estimate)."""
        raise NotImplementedError

    def kl_per_dim(self, x, *, labels=None):
        """KL(q(z_d|x) || p(z_d)) per example and latent dim, or None where not defined."""
        raise NotImplementedError

    @backend.without_gradients
    def layer_kls(self, x, *, labels=None):
        """{layer name: KL per example (batch,)} (see `latent_layers`), from one draw seeded
        by the model's seed: the closed form where there is one, else an estimate."""
        x = self.check_batch(x)
        eps = keras.random.normal((1, x.shape[0], self.noise_dim), seed=self.seed or 0)
        return {"z": self.evidence(x, eps, labels=labels)["kl"][0]}

    def serving_endpoints(self):
        """{signature name: `Endpoint`}, `serving_default` among them, for `keras_vae.export`."""
        raise NotImplementedError

    def serving_examples(self, batch):
        """{input name: array} of `batch` valid inputs for every endpoint, for parity checks:
        the data, a top-layer z and the `sample` endpoint's eps."""
        rng = np.random.default_rng(0)
        return {
            self.data_name: rng.uniform(size=(batch, *self.data_shape)).astype(np.float32),
            "z": rng.normal(size=(batch, self.latent_dim)).astype(np.float32),
            "eps": rng.normal(size=(batch, self.sample_noise_dim)).astype(np.float32),
        }

    @property
    def sample_noise_dim(self):
        """Standard-normal values one prior sample takes: the `sample` endpoint's eps."""
        return self.prior.noise_dim

    @property
    def floats_per_draw(self):
        """float32 values alive per (example, draw) in `evidence`, for sizing its chunks."""
        raise NotImplementedError

    @classmethod
    def from_shape(cls, input_shape, latent_dim=16, **kwargs):
        """A model with the default networks (`keras_vae.networks.build`) for `input_shape` data."""
        raise NotImplementedError

    # ------------------------------------------------------------ construction

    @classmethod
    def from_preset(cls, name, *, learning_rate=None, steps_per_epoch=None, **overrides):
        """A compiled model from a named preset (see `keras_vae.presets`).

        Args:
            name: a key of `keras_vae.presets.PRESETS`; its model must be this class or a
                subclass of it (`LatentVariableModel.from_preset` takes every
                preset).
            learning_rate: Adam's (initial) learning rate (default: the preset's).
            steps_per_epoch: batches per epoch of your data. With it, a preset whose
                `lr_schedule` decays runs that schedule over its `epochs`; without it the
                learning rate stays constant.
            **overrides: recipe settings that replace the preset's (e.g. `latent_dim=64`,
                `beta=2.0`; see `keras_vae.models.recipes`), or your own networks
                (`encoder=`, `decoder=`, and `classifier=` for a model with classes), which
                take the preset's parts instead of its default networks.

        Examples:

            >>> VAE.from_preset("keras_example", seed=0).latent_dim
            2
        """
        from keras_vae.models import recipes

        return recipes.from_preset(cls, name, learning_rate, steps_per_epoch, overrides)

    # ---------------------------------------------------------------- training

    def compile(self, optimizer="rmsprop", metrics=None, **kwargs):
        """`keras.Model.compile`, with the optimizer inside a `LossScaleOptimizer`.

        Keras wraps it itself for `mixed_float16`. Otherwise the wrapper starts at scale 1
        and never grows (powers of two: the updates are exactly those of the bare
        optimizer); it is there so that a step whose loss or gradients are not finite is
        skipped instead of writing NaN into the weights. The loss is the model's own:
        `loss=` is refused. `metrics=` compare x with the mean of p(x|z) for the step's
        draw of z (e.g. `metrics=["mae"]` logs the reconstruction's mean absolute error).
        """
        for argument in ("loss", "loss_weights", "weighted_metrics"):
            if kwargs.get(argument) is not None:
                raise validation.invalid(
                    argument,
                    "None: the model's loss is its own objective "
                    f"(terms {['loss', *self.loss_names]})",
                    kwargs[argument],
                )
        optimizer = keras.optimizers.get(optimizer)
        if self.dtype_policy.name != "mixed_float16" and not isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer
        ):
            optimizer = keras.optimizers.LossScaleOptimizer(
                optimizer, initial_scale=1.0, dynamic_growth_steps=2**31 - 1
            )
        self._compiled.metrics = [steps.compiled_metric(m) for m in metrics or ()]
        super().compile(optimizer=optimizer, **kwargs)

    def get_compile_config(self):
        config = super().get_compile_config()
        if config is not None and self._compiled.metrics:
            config["metrics"] = [
                keras.saving.serialize_keras_object(m) for m in self._compiled.metrics
            ]
        return config

    def compile_from_config(self, config):
        # What Keras does for models whose compile() is not overridden.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def make_train_function(self, force=False):
        if self._use_undonated("train_function", self.train_step, force):
            return self.train_function
        return super().make_train_function(force)

    def make_test_function(self, force=False):
        if self._use_undonated("test_function", self.test_step, force):
            return self.test_function
        return super().make_test_function(force)

    def _use_undonated(self, attribute, step, force):
        """Sets `attribute` to `steps.undonated_jax_function` of `step` where it applies (JAX
        on the CPU); False where Keras's own function is to be made."""
        if getattr(self, attribute) is not None and not force:
            return False  # Keras's own early return
        function = steps.undonated_jax_function(self, step)
        if function is not None:
            setattr(self, attribute, function)
        return function is not None

    def train_step(self, *args):
        # Each backend's step has Keras's own form for that backend (`keras_vae.models.steps`).
        if backend.name() == "jax":
            return steps.jax_train_step(self, *args)
        if backend.name() == "torch":
            return steps.torch_train_step(self, *args)
        return steps.tensorflow_train_step(self, *args)

    def test_step(self, *args):
        if backend.name() == "jax":
            return steps.jax_test_step(self, *args)
        (data,) = args
        x, given = self.unpack_batch(data)
        terms = self.loss_terms(x, labels=given, training=False)
        return steps.logs(self.update_trackers(x, terms, True, training=False))

    def unpack_batch(self, data):
        """(x, labels or None) of a batch `fit` or `evaluate` gives a step. On TensorFlow
        they pass in-graph checks of their values; other backends check them in the input
        pipeline (`keras_vae.validation.checked_dataset`) or up front (arrays)."""
        x, given, _ = keras.utils.unpack_x_y_sample_weight(data)
        tensorflow = backend.is_tensorflow()
        if tensorflow:
            x = validation.assert_valid_batch(x, self.likelihood.requires_unit_interval)
        if self.num_classes is None:
            return x, None
        if given is None:  # e.g. evaluate() on data without labels: all unlabelled
            given = ops.full(ops.shape(x)[:1], labels_lib.UNKNOWN, "int32")
        if tensorflow:
            return x, validation.assert_valid_labels(given, self.num_classes)
        return x, ops.cast(given, "int32")

    def update_trackers(self, x, terms, finite, training):
        """Updates each tracker with its per-example values (a non-finite step counts for
        none) and the compiled metrics; returns the logs."""
        finite = ops.cast(finite, "float32")
        for name, tracker in self.trackers.items():
            values = terms[name]
            weights = finite * ops.cast(ops.isfinite(values), "float32")
            tracker.update_state(
                ops.where(weights > 0, values, ops.zeros_like(values)), sample_weight=weights
            )
        logs = {name: tracker.result() for name, tracker in self.trackers.items()}
        if self._compiled.metrics:
            means = self(x, training=training)
            for metric in self._compiled.metrics:
                metric.update_state(ops.cast(x, "float32"), means)
                logs[metric.name] = metric.result()
        return logs

    @property
    def metrics(self):
        # On JAX the skipped-update counter must be a metric for `fit` to carry its state.
        skipped = [self.skipped_tracker] if backend.name() == "jax" else []
        return [*self.trackers.values(), *self._compiled.metrics, *skipped]

    def reset_metrics(self):
        # `skipped_updates` is counted per epoch but, being training's only, not listed in
        # `metrics` (so `metrics_names` holds what `evaluate` returns).
        super().reset_metrics()
        self.skipped_tracker.reset_state()

    def fit(self, x=None, y=None, *args, validation_data=None, **kwargs):
        labels_lib.check_fit_targets(self.num_classes, x, y, training=True)
        given = {**dict(zip(("batch_size", "epochs"), args)), **kwargs}
        if given.get("batch_size") is not None:
            validation.check_int("batch_size", given["batch_size"], minimum=1)
        epochs = validation.check_int("epochs", given.get("epochs", 1), minimum=1)
        validation.check_int(
            "initial_epoch", given.get("initial_epoch", 0), minimum=0, maximum=epochs
        )
        x = self._check_data(x, "x")
        if validation.is_dataset(x) and not args:  # a dataset shuffles itself; no warning
            kwargs.setdefault("shuffle", False)
        if validation_data is not None:
            validation_data = self._check_data(validation_data, "validation_data")
        with validation.InGraphChecks(), steps.restored_if_failed(self):
            return super().fit(x, y, *args, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        labels_lib.check_fit_targets(self.num_classes, x, y, training=False)
        x = self._check_data(x, "x")
        self.evaluation_noise.reset()
        with validation.InGraphChecks():
            return super().evaluate(x, y, *args, **kwargs)

    def draw_noise(self, shape, training):
        """Standard-normal noise for the objective: training's, or evaluation's (which
        `evaluate` starts again from the seed at every call)."""
        return (self.noise if training else self.evaluation_noise).draw(shape)

    def _check_data(self, data, name):
        """Checks arrays and dataset specs up front; wraps a bare validation array as `(array,)`."""
        unit = self.likelihood.requires_unit_interval
        if validation.is_dataset(data):
            validation.check_dataset(name, data, self.data_shape)
            if not backend.is_tensorflow():  # no in-graph checks: the pipeline checks
                return validation.checked_dataset(data, unit, self.num_classes)
        elif isinstance(data, tuple) and data and isinstance(data[0], np.ndarray):
            validation.check_array(name, data[0], self.data_shape, unit)
        elif isinstance(data, np.ndarray):
            validation.check_array(name, data, self.data_shape, unit)
            return data if name == "x" else (data,)
        return data

    def check_batch(self, x, name="x"):
        """`x` as a tensor batch of the model's data, or the package's ValueError."""
        if isinstance(x, np.ndarray):
            validation.check_array(name, x, self.data_shape, self.likelihood.requires_unit_interval)
        x = ops.convert_to_tensor(x)
        validation.check_batch_shape(name, x.shape, self.data_shape)
        validation.check_float_dtype(name, x.dtype)
        return x

    @property
    def data_name(self):
        """The name of the data's input and output in the exported signatures: `images` for
        images (H, W, C), `x` for sequences and vectors."""
        return "images" if len(self.data_shape) == 3 else "x"

    def _refuse_labels(self, labels):
        """Raises unless `labels` is None (for a family without classes)."""
        if labels is not None:
            raise validation.invalid(
                "labels",
                "None for a model without classes (labels are for keras_vae.ConditionalVAE)",
                labels,
            )

    def check_latents(self, z):
        """`z` as a float32 tensor (batch, latent_dim), or the package's ValueError."""
        z = ops.convert_to_tensor(z, dtype="float32")
        validation.check_batch_shape("z", z.shape, (self.latent_dim,), what="latent vectors")
        return z


def check_model(model, argument="model"):
    """Raises the package's ValueError unless `model` implements the interface."""
    if not isinstance(model, LatentVariableModel):
        raise validation.invalid(
            argument,
            "a keras_vae model (a keras_vae.LatentVariableModel: VAE, ConditionalVAE, ...)",
            validation.Described(f"a {type(model).__name__}"),
        )
    return model
