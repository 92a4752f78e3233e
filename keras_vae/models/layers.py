"""Small layers the models are made of: seeded noise, the reparameterised draw, a clamp."""

import keras
import tensorflow as tf

from keras_vae import validation

_PACKAGE = "keras_vae"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Noise(keras.layers.Layer):
    """Standard-normal noise from a `keras.random.SeedGenerator`, a new draw every call.

    Under `tf.distribute` the replica id is folded into the seed: a generator alone gives
    every replica the same noise, which correlates their gradients. `reset()` starts the
    sequence again, so that a model's evaluation sees the same noise every time.

    Args:
        seed: int or None, seed of the noise.

    Call arguments:
        shape: the shape of the draw, an int32 tensor (Keras layers take tensors).

    Returns:
        float32 tensor of that shape.

    Examples:

        >>> Noise(seed=0)(tf.constant([4, 2])).shape
        TensorShape([4, 2])
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._start = keras.ops.convert_to_numpy(self.seed_generator.state.value)
        self.built = True

    def call(self, shape):
        seed = tf.cast(self.seed_generator.next(), tf.int32)
        seed = tf.random.experimental.stateless_fold_in(seed, _replica_id())
        return tf.random.stateless_normal(shape, seed=seed, dtype=tf.float32)

    def reset(self):
        """Starts the noise sequence again from the seed."""
        self.seed_generator.state.assign(self._start)

    def compute_output_shape(self, shape):
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Sampling(keras.layers.Layer):
    """Reparameterised draw z = mu + sigma * eps from q(z|x) = N(mu, diag(exp(log_var))).

    The noise is a `Noise` layer's (seeded, replica-aware); the maths runs in float32
    whatever the compute dtype. For networks of your own: the models draw through their
    posterior part (`keras_vae.models.posteriors`).

    Args:
        seed: int or None, seed of the noise.

    Call arguments:
        inputs: list `[z_mean, z_log_var]`, each of shape (batch, latent_dim).

    Returns:
        z, float32 tensor of shape (batch, latent_dim).

    Examples:

        >>> z = Sampling(seed=0)([tf.zeros([4, 2]), tf.zeros([4, 2])])
        >>> z.shape
        TensorShape([4, 2])
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.noise = Noise(seed)

    def call(self, inputs):
        z_mean, z_log_var = (tf.cast(t, tf.float32) for t in inputs)
        return z_mean + tf.exp(0.5 * z_log_var) * self.noise(tf.shape(z_mean))

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ClampLogVariance(keras.layers.Layer):
    """Clips log sigma^2 to [min_value, max_value], so exp() can neither overflow nor vanish.

    Args:
        min_value: lower bound of the log-variance.
        max_value: upper bound of the log-variance.

    Examples:

        >>> ClampLogVariance()(tf.constant([-50.0, 0.0, 50.0])).numpy().tolist()
        [-10.0, 0.0, 10.0]
    """

    def __init__(self, min_value=-10.0, max_value=10.0, **kwargs):
        super().__init__(**kwargs)
        if not min_value < max_value:
            raise validation.invalid("max_value", f"a value > min_value={min_value}", max_value)
        self.min_value = float(min_value)
        self.max_value = float(max_value)

    def call(self, inputs):
        return keras.ops.clip(inputs, self.min_value, self.max_value)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "min_value": self.min_value, "max_value": self.max_value}


def _replica_id():
    """This replica's index in its sync group (0 outside tf.distribute)."""
    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica context: one logical draw
        return tf.constant(0, tf.int32)
    return tf.cast(context.replica_id_in_sync_group, tf.int32)
