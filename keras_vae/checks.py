"""Input and argument checks: clear errors, raised before any work is done."""

import math

import numpy as np
import tensorflow as tf

#: Prefix of the in-graph assertion messages, so `VAE.fit` can re-raise them as ValueError.
TAG = "keras_vae input check: "


def check_image_shape(shape, input_shape, name):
    """Raises ValueError unless `shape` is (batch, *input_shape); None dims are allowed."""
    shape = tuple(shape)
    if len(shape) != 4:
        raise ValueError(
            f"Invalid shape for {name}. Expected a batch of images of rank 4 "
            f"(batch, height, width, channels) = (None, {', '.join(map(str, input_shape))}). "
            f"Received: {name}.shape={shape}"
        )
    for axis, (got, want) in enumerate(zip(shape[1:], input_shape), start=1):
        if got is not None and got != want:
            what = "channel count" if axis == 3 else "image size"
            raise ValueError(
                f"Invalid {what} for {name}. The model was built for images of shape "
                f"{tuple(input_shape)}. Received: {name}.shape={shape}"
            )


def check_image_dtype(dtype, name):
    """Raises ValueError for integer or boolean images: the model wants floats in [0, 1]."""
    dtype = tf.as_dtype(dtype)
    if not dtype.is_floating:
        raise ValueError(
            f"Invalid dtype for {name}. Expected float images in [0, 1]; integer images "
            f"must be scaled first (divide by 255, or load them with keras_vae.data). "
            f"Received: {name}.dtype={dtype.name}"
        )


def check_image_array(images, input_shape, unit_interval, name="x"):
    """Checks a NumPy batch of images: rank, shape, dtype, emptiness, NaN/inf, range."""
    images = np.asarray(images)
    check_image_shape(images.shape, input_shape, name)
    check_image_dtype(images.dtype, name)
    if images.shape[0] == 0:
        raise ValueError(f"Invalid value for {name}: it holds no images. Received: {name}.shape={images.shape}")
    if not np.all(np.isfinite(images)):
        count = int(np.size(images) - np.count_nonzero(np.isfinite(images)))
        raise ValueError(f"Invalid value for {name}: it has {count} NaN or inf pixel values.")
    if unit_interval:
        low, high = float(images.min()), float(images.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"Invalid value for {name}. This model's likelihood (Bernoulli or logistic) "
                f"needs pixel values in [0, 1]. Received values in [{low:g}, {high:g}]"
            )


def check_dataset(dataset, input_shape, name="x"):
    """Checks a tf.data.Dataset's element spec (dtype, shape) and that it is not empty."""
    spec = dataset.element_spec
    if isinstance(spec, (tuple, list)):
        spec = spec[0]
    if isinstance(spec, dict) or not isinstance(spec, tf.TensorSpec):
        raise ValueError(
            f"Invalid dataset for {name}. Expected elements that are a batch of images "
            f"or a tuple whose first item is one. Received: element_spec={dataset.element_spec}"
        )
    check_image_shape(spec.shape, input_shape, name)
    check_image_dtype(spec.dtype, name)
    if int(dataset.cardinality()) == 0:
        raise ValueError(f"Invalid value for {name}: the dataset is empty.")


def assert_valid_batch(images, unit_interval):
    """Returns `images` behind in-graph checks of their values (failures carry `TAG`)."""
    images = tf.debugging.assert_all_finite(images, TAG + "images contain NaN or inf pixel values")
    if unit_interval:
        in_range = tf.reduce_all((images >= 0.0) & (images <= 1.0))
        message = TAG + "this likelihood needs pixel values in [0, 1]; got min, max:"
        check = tf.debugging.Assert(
            in_range, [message, tf.reduce_min(images), tf.reduce_max(images)]
        )
        with tf.control_dependencies([check]):
            images = tf.identity(images)
    return images


def check_input_shape(input_shape, num_downsamplings):
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if shape is None or len(shape) != 3 or not all(
        isinstance(d, (int, np.integer)) and d > 0 for d in shape
    ):
        raise ValueError(
            "Invalid value received for argument input_shape. Expected (height, width, "
            f"channels) of positive ints. Received: input_shape={input_shape!r}"
        )
    factor = 2**num_downsamplings
    if shape[0] % factor or shape[1] % factor:
        raise ValueError(
            "Invalid value received for argument input_shape. Height and width must be "
            f"divisible by {factor} (the encoder has {num_downsamplings} stride-2 convs). "
            f"Received: input_shape={shape}"
        )
    return tuple(int(d) for d in shape)


def check_widths(name, widths):
    if not (
        isinstance(widths, (tuple, list)) and widths
        and all(isinstance(w, (int, np.integer)) and w > 0 for w in widths)
    ):
        raise ValueError(
            f"Invalid value received for argument {name}. Expected a non-empty list of "
            f"positive ints. Received: {name}={widths!r}"
        )
    return tuple(int(w) for w in widths)


def check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(
            f"Invalid value received for argument {name}. Expected an int >= {minimum}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def check_float(name, value, positive=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        math.isfinite(value) and (value > 0 if positive else value >= 0)
    ):
        raise ValueError(
            f"Invalid value received for argument {name}. Expected a finite float "
            f"{'> 0' if positive else '>= 0'}. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"Invalid value received for argument {name}. Expected one of {list(choices)}. "
            f"Received: {name}={value!r}"
        )
    return value
