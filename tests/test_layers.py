"""The seeded noise, the reparameterised draw and the log-variance clamp."""

import numpy as np
import pytest
import tensorflow as tf

from keras_vae import ClampLogVariance, Sampling
from keras_vae.models.layers import Noise


def test_sampling_has_the_posterior_moments():
    mu = np.full((50_000, 2), [1.0, -2.0], "float32")
    log_var = np.full((50_000, 2), [0.0, np.log(0.25)], "float32")
    z = Sampling(seed=0)([mu, log_var]).numpy()
    np.testing.assert_allclose(z.mean(axis=0), [1.0, -2.0], atol=0.02)
    np.testing.assert_allclose(z.std(axis=0), [1.0, 0.5], atol=0.02)


def test_sampling_is_repeatable_for_a_seed_and_fresh_per_call():
    inputs = [tf.zeros([4, 3]), tf.zeros([4, 3])]
    a, b = Sampling(seed=7), Sampling(seed=7)
    first = a(inputs).numpy()
    np.testing.assert_array_equal(first, b(inputs).numpy())
    assert not np.allclose(first, a(inputs).numpy())


def test_replicas_draw_different_noise(mirrored):
    strategy = mirrored
    with strategy.scope():
        layer = Sampling(seed=3)

    @tf.function
    def draw():
        return strategy.run(lambda: layer([tf.zeros([8, 4]), tf.zeros([8, 4])]))

    per_replica = strategy.experimental_local_results(draw())
    assert len(per_replica) == 2
    assert not np.allclose(per_replica[0].numpy(), per_replica[1].numpy())


def test_noise_starts_again_from_its_seed_on_reset():
    noise, shape = Noise(seed=5), tf.constant([3, 2])
    first, second = noise(shape).numpy(), noise(shape).numpy()
    assert not np.allclose(first, second)
    noise.reset()
    np.testing.assert_array_equal(noise(shape).numpy(), first)
    np.testing.assert_array_equal(Noise(seed=5)(shape).numpy(), first)


def test_clamp_log_variance():
    out = ClampLogVariance(-3.0, 2.0)(tf.constant([-10.0, 0.5, 9.0])).numpy()
    np.testing.assert_array_equal(out, [-3.0, 0.5, 2.0])
    with pytest.raises(ValueError, match="max_value.*> min_value"):
        ClampLogVariance(1.0, 1.0)
