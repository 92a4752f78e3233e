"""Small layers the models are made of: seeded noise, the reparameterised draw, a clamp."""

import keras
from keras import ops

from keras_vae import backend, validation

_PACKAGE = "keras_vae"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Noise(keras.layers.Layer):
    """Standard-normal noise from a `keras.random.SeedGenerator`, a new draw every call.

    Under `tf.distribute` the replica id is folded into the seed: a generator alone gives
    every replica the same noise, which correlates their gradients. `reset()` starts the
    sequence again, so that a model's evaluation sees the same noise every time. On JAX the
    generator's state is a non-trainable variable that `fit` threads through its steps.

    Args:
        seed: int or None, seed of the noise.

    Call arguments:
        shape: the shape of the draw (a tuple, whose entries may be scalar tensors).

    Returns:
        float32 tensor of that shape.

    Examples:

        >>> tuple(Noise(seed=0).draw((4, 2)).shape)
        (4, 2)
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._start = keras.ops.convert_to_numpy(self.seed_generator.state.value)
        self.built = True

    def draw(self, shape):
        """A new standard-normal draw of `shape`, float32."""
        if not backend.is_tensorflow():
            return keras.random.normal(shape, dtype="float32", seed=self.seed_generator)
        import tensorflow as tf

        seed = tf.cast(self.seed_generator.next(), tf.int32)
        seed = tf.random.experimental.stateless_fold_in(seed, _replica_id())
        return tf.random.stateless_normal(shape, seed=seed, dtype=tf.float32)

    def call(self, shape):
        return self.draw(tuple(shape) if isinstance(shape, list | tuple) else shape)

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

        >>> z = Sampling(seed=0)([np.zeros([4, 2]), np.zeros([4, 2])])
        >>> tuple(z.shape)
        (4, 2)
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.noise = Noise(seed)

    def call(self, inputs):
        z_mean, z_log_var = (ops.cast(t, "float32") for t in inputs)
        return z_mean + ops.exp(0.5 * z_log_var) * self.noise.draw(ops.shape(z_mean))

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

        >>> ops.convert_to_numpy(ClampLogVariance()(np.array([-50.0, 0.0, 50.0]))).tolist()
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
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica context: one logical draw
        return tf.constant(0, tf.int32)
    return tf.cast(context.replica_id_in_sync_group, tf.int32)
