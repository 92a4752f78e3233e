"""What the training step needs under tf.distribute: one verdict on finiteness, logs, means."""

import keras
import numpy as np
import tensorflow as tf


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


@keras.saving.register_keras_serializable(package="keras_vae")
class TermMean(keras.metrics.Mean):
    """The mean of a per-example term over the examples it applies to: NaN, not 0, when an
    epoch had none (e.g. a classifier's accuracy over an epoch without labels)."""

    def result(self):
        return tf.where(self.count > 0, super().result(), tf.constant(np.nan, self.dtype))
