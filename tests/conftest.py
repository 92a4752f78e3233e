"""Shared test setup: quiet TensorFlow, two logical CPUs for tf.distribute tests."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Must happen before TensorFlow initialises its devices: lets MirroredStrategy run
# two replicas on one CPU, as on a two-GPU machine.
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)


@pytest.fixture(scope="session")
def mirrored():
    """One two-replica MirroredStrategy for the whole session: a second one would reuse the
    first's collective keys and fail on a model of another size (tensorflow/tensorflow#62790)."""
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


@pytest.fixture(scope="session")
def shapes_images():
    """(train, validation) arrays of the built-in shapes, 28x28x1 float32 in [0, 1]."""
    from keras_vae.data import shapes

    images, _ = shapes.generate(2304, seed=123)
    return images[:2048], images[2048:]


@pytest.fixture
def tiny_images():
    rng = np.random.default_rng(0)
    return rng.uniform(size=(16, 28, 28, 1)).astype("float32")


@pytest.fixture
def killed_mid_write():
    """A stand-in for a Keras save method: writes half a file, then is interrupted."""

    def write(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"half a file")
        raise KeyboardInterrupt

    return write
