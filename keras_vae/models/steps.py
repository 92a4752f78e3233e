"""Each backend's training step, and what the steps need: one verdict on finiteness under
tf.distribute, logs, means."""

import contextlib

import keras
import numpy as np
import tensorflow as tf


def logs(logs):
    """The step's logs in a shape Keras can reduce across workers."""
    if keras.backend.backend() == "tensorflow" and isinstance(
        tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy
    ):
        # Keras 3.15 reduces multi-worker logs along axis 0, which fails on scalars.
        return {name: tf.reshape(value, [1]) for name, value in logs.items()}
    return logs


def all_replicas_finite(tensors):
    """True when every tensor on every replica is finite (all-reduced across replicas)."""
    finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(t)) for t in tensors])
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return finite
    non_finite = context.all_reduce("SUM", 1.0 - tf.cast(finite, tf.float32))
    return non_finite < 0.5


@keras.saving.register_keras_serializable(package="keras_vae")
class TermMean(keras.metrics.Mean):
    """The mean of a per-example term over the examples it applies to: NaN, not 0, when an
    epoch had none (e.g. a classifier's accuracy over an epoch without labels)."""

    def result(self):
        nan = keras.ops.full((), np.nan, self.dtype)
        return keras.ops.where(self.count > 0, super().result(), nan)


def tensorflow_train_step(model, data):
    """The model's training step on TensorFlow (`keras.Model.train_step`'s form)."""
    x, given = model.unpack_batch(data)
    with tf.GradientTape() as tape:
        terms = model.loss_terms(x, labels=given, training=True)
        # Mean over the GLOBAL batch: Keras sums gradients across replicas.
        loss = tf.nn.compute_average_loss(terms["loss"])
        scaled_loss = model.optimizer.scale_loss(loss)
    variables = model.trainable_variables
    gradients = tape.gradient(scaled_loss, variables)
    finite = all_replicas_finite([scaled_loss, *(g for g in gradients if g is not None)])
    # Every replica must see the same verdict: the optimizer then skips the step.
    pairs = [
        (tf.where(finite, g, tf.constant(np.nan, g.dtype)), v)
        for g, v in zip(gradients, variables)
        if g is not None
    ]
    model.optimizer.apply_gradients(pairs)
    model.skipped_tracker.update_state(1.0 - tf.cast(finite, tf.float32))
    found = model.update_trackers(x, terms, finite, training=True)
    return logs({**found, "skipped_updates": model.skipped_tracker.result()})


def jax_train_step(model, state, data):
    """`LatentVariableModel.train_step` on JAX, in the form of Keras's own JAX step (its
    guide "Customizing what happens in fit() with JAX"): a pure function of the state
    `fit` threads through its steps. The optimizer's variables are mapped too, so that the
    KL schedule sees the real step count (Keras's `compute_loss` route reads the step as a
    constant traced once), and the update is skipped when the loss or a gradient is not
    finite (the `LossScaleOptimizer` sees the non-finite gradients)."""
    import jax

    trainable, non_trainable, optimizer_vars, metrics_vars = state
    x, given = model.unpack_batch(data)
    fixed = [
        *zip(model.non_trainable_variables, non_trainable),
        *zip(model.optimizer.variables, optimizer_vars),
    ]

    def loss_fn(trainable_values):
        mapping = [*zip(model.trainable_variables, trainable_values), *fixed]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            terms = model.loss_terms(x, labels=given, training=True)
            loss = keras.ops.mean(terms["loss"])
            scaled = model.optimizer.scale_loss(loss)
        updated = [_current(scope, v) for v in model.non_trainable_variables]
        return scaled, (terms, updated)

    (scaled, (terms, non_trainable)), grads = jax.value_and_grad(loss_fn, has_aux=True)(trainable)
    finite = ops_all_finite([scaled, *grads])
    trainable, optimizer_vars = model.optimizer.stateless_apply(optimizer_vars, grads, trainable)
    mapping = [
        *zip(model.trainable_variables, trainable),  # compiled metrics call the model
        *zip(model.non_trainable_variables, non_trainable),
        *zip(model.metrics_variables, metrics_vars),
    ]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        model.skipped_tracker.update_state(1.0 - keras.ops.cast(finite, "float32"))
        logs = model.update_trackers(x, terms, finite, training=True)
        logs["skipped_updates"] = model.skipped_tracker.result()
    non_trainable = [_current(scope, v) for v in model.non_trainable_variables]
    metrics_vars = [_current(scope, v) for v in model.metrics_variables]
    return logs, (trainable, non_trainable, optimizer_vars, metrics_vars)


def jax_test_step(model, state, data):
    """`LatentVariableModel.test_step` on JAX (see `jax_train_step`)."""
    trainable, non_trainable, metrics_vars = state
    x, given = model.unpack_batch(data)
    mapping = [
        *zip(model.trainable_variables, trainable),
        *zip(model.non_trainable_variables, non_trainable),
        *zip(model.metrics_variables, metrics_vars),
    ]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        terms = model.loss_terms(x, labels=given, training=False)
        logs = model.update_trackers(x, terms, True, training=False)
    non_trainable = [_current(scope, v) for v in model.non_trainable_variables]
    metrics_vars = [_current(scope, v) for v in model.metrics_variables]
    return logs, (trainable, non_trainable, metrics_vars)


def torch_train_step(model, data):
    """`LatentVariableModel.train_step` on PyTorch, in the form of Keras's own torch step:
    the update is skipped when the loss or a gradient is not finite."""
    import torch

    x, given = model.unpack_batch(data)
    model.zero_grad()
    terms = model.loss_terms(x, labels=given, training=True)
    loss = keras.ops.mean(terms["loss"])
    scaled = model.optimizer.scale_loss(loss)
    variables = model.trainable_variables
    scaled.backward()
    grads = [v.value.grad for v in variables]
    finite = ops_all_finite([scaled, *(g for g in grads if g is not None)])
    with torch.no_grad():
        model.optimizer.apply(grads, variables)
    model.skipped_tracker.update_state(1.0 - keras.ops.cast(finite, "float32"))
    logs = model.update_trackers(x, terms, finite, training=True)
    return {**logs, "skipped_updates": model.skipped_tracker.result()}


def undonated_jax_function(model, step):
    """A `train_function` or `test_function` for Keras's JAX loops on the CPU: `step`
    compiled without donating the state. Keras donates it, which on XLA's CPU backend
    makes a conv VAE's step 15-20% slower (jax-ml/jax#16647; `benchmarks/RESULTS.md`)
    for no saving that matters there. None where Keras's own function is the right one:
    other backends and devices, a `keras.distribution`, eager or uncompiled runs, and
    several steps per execution."""
    if (
        keras.backend.backend() != "jax"
        or model.run_eagerly
        or not model.jit_compile
        or model.steps_per_execution != 1
        or keras.distribution.distribution() is not None
    ):
        return None
    import jax

    if jax.default_backend() != "cpu":
        return None
    compiled = jax.jit(step)

    def function(state, iterator):  # the form of Keras's own: one batch per call
        return compiled(state, next(iterator))

    return function


def ops_all_finite(tensors):
    """True (a boolean scalar tensor) when every value of every tensor is finite."""
    ops = keras.ops
    return ops.all(ops.stack([ops.all(ops.isfinite(t)) for t in tensors]))


def _current(scope, variable):
    value = scope.get_current_value(variable)
    return variable.value if value is None else value


@contextlib.contextmanager
def restored_if_failed(model):
    """On JAX, gives back the model's variables when `fit` stops on an error (bad data, a
    callback's exception): Keras's JAX `fit` detaches them while it trains and, when its
    first step fails, cannot reattach them, which leaves a model whose every call fails.
    They are given the values of the last completed epoch, or those `fit` started from."""
    if keras.backend.backend() != "jax":
        yield
        return
    model_variables = [*model.variables, *model.optimizer.variables, *model.metrics_variables]
    start = [v.value for v in model_variables]  # references: JAX arrays are immutable
    try:
        yield
    except BaseException:
        model.jax_state_sync()
        for variable, value in zip(model_variables, start):
            try:
                variable.value  # noqa: B018 (fails for a detached variable)
            except TypeError:
                variable.assign(value)
        raise


def compiled_metric(identifier):
    """A metric `compile(metrics=...)` names, as a `keras.metrics.Metric` logged under that name."""
    metric = keras.metrics.get(identifier)
    if not isinstance(metric, keras.metrics.Metric):  # a function of (y_true, y_pred)
        metric = keras.metrics.MeanMetricWrapper(metric, name=getattr(metric, "__name__", "metric"))
    if isinstance(identifier, str):
        metric.name = identifier
    return metric
