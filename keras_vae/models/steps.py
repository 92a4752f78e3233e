"""What `VAE.train_step` needs under tf.distribute: one verdict on finiteness, logs, input errors."""

import tensorflow as tf

from keras_vae import validation


def logs(logs):
    """The step's logs in a shape Keras can reduce across workers."""
    if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
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


class input_errors_as_value_errors:
    """Re-raises the in-graph input checks of `validation.assert_valid_batch` as ValueError."""

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if isinstance(error, tf.errors.InvalidArgumentError) and validation.TAG in str(error):
            message = str(error).split(validation.TAG, 1)[1].split("\n")[0]
            raise ValueError(f"Invalid input data: {message}") from None
        return False
