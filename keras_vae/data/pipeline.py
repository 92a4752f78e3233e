"""`tf.data` pipelines from arrays: batching, shuffling, binarization, resizing.

Every dataset yields float32 batches `(batch, *example_shape)`: images (H, W, C) in [0, 1],
sequences (T, C) or vectors (D,), and takes the same options: `batch_size`, `shuffle`,
`binarize`, `image_size`, `cache`, `seed` and `drop_remainder`.
"""

import os
import warnings

import numpy as np
import tensorflow as tf

from keras_vae import validation

# Shuffle the whole dataset when it fits in this many bytes (and 1024 examples at least).
_SHUFFLE_BUFFER_BYTES = 512 * 2**20

def from_array(
    x, *, batch_size=128, shuffle=True, binarize=False, image_size=None, cache=True, seed=0,
    drop_remainder=False,
):  # fmt: skip
    """Makes a dataset from an array of examples.

    Args:
        x: uint8 images (N, H, W) or (N, H, W, C) with C in {1, 3}, scaled from 0..255 to
            [0, 1]; or a float array: images (N, H, W, C) in [0, 1], sequences (N, T, C)
            or vectors (N, D), any finite values (standardize tabular features first).
        batch_size, shuffle, binarize, image_size, cache, seed, drop_remainder: As in
            `keras_vae.data.load`; `image_size` applies to images only.

    Returns:
        A `tf.data.Dataset` of float32 batches.

    Example:

    >>> next(iter(from_array(np.zeros((100, 28, 28), np.uint8), batch_size=10))).shape
    TensorShape([10, 28, 28, 1])
    >>> next(iter(from_array(np.zeros((100, 30), np.float32), batch_size=10))).shape
    TensorShape([10, 30])
    """
    options = check_options(
        batch_size=batch_size, shuffle=shuffle, binarize=binarize,
        image_size=image_size, cache=cache, seed=seed, drop_remainder=drop_remainder,
    )  # fmt: skip
    x = _checked_array(x)
    if options["image_size"] is not None and x.ndim != 4:
        raise validation.invalid("image_size", f"None for data that are not images (x has shape "
                                 f"{x.shape})", image_size)  # fmt: skip
    # Slicing the array as it is (maybe uint8) keeps the in-graph copy small.
    dataset = tf.data.Dataset.from_tensor_slices(x).map(to_unit_range, tf.data.AUTOTUNE)
    return build_pipeline(dataset, **options)


def check_options(
    *, batch_size=128, shuffle=True, binarize=False, image_size=None, cache=True, seed=0,
    drop_remainder=False,
):  # fmt: skip
    """Checks the shared options; returns them with `image_size` as a pair."""
    batch_size = validation.check_int("batch_size", batch_size, minimum=1)
    if binarize not in (None, False, True, "dynamic", "static"):
        raise validation.invalid("binarize", 'False, True, "dynamic" or "static"', binarize)
    if image_size is not None:
        size = image_size if np.ndim(image_size) else (image_size, image_size)
        if len(size) != 2 or not all(validation.is_int(s) and s >= 1 for s in size):
            expected = "None, an int >= 1 or a (height, width) pair of them"
            raise validation.invalid("image_size", expected, image_size)
        image_size = (int(size[0]), int(size[1]))
    if not isinstance(cache, (bool, str, os.PathLike)):
        raise validation.invalid("cache", "True, False or a file name", cache)
    seed = validation.check_int("seed", seed)
    return dict(
        batch_size=int(batch_size), shuffle=bool(shuffle), binarize={True: "dynamic"}.get(binarize, binarize or False),
        image_size=image_size, cache=cache, seed=int(seed), drop_remainder=bool(drop_remainder),
    )  # fmt: skip


def build_pipeline(dataset, *, batch_size, shuffle, binarize, image_size, cache, seed, drop_remainder):
    """Resizes (images), caches, shuffles, batches, binarizes and prefetches examples."""
    if image_size is not None:
        dataset = dataset.map(lambda x: _resize(x, image_size), tf.data.AUTOTUNE)
    if cache:
        # Before shuffling and binarization, so both still change every epoch.
        dataset = dataset.cache("" if cache is True else os.fspath(cache))
    if shuffle:
        buffer_size = _shuffle_buffer_size(dataset)
        dataset = dataset.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if binarize:
        # One stateless seed pair per batch, drawn anew every epoch unless static.
        dynamic = binarize == "dynamic"
        seeds = tf.data.Dataset.random(seed, rerandomize_each_iteration=dynamic)
        dataset = tf.data.Dataset.zip(dataset, seeds.batch(2)).map(_binary_sample, tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _resize(image, size):
    return tf.clip_by_value(tf.image.resize(image, size, antialias=True), 0.0, 1.0)


def _binary_sample(images, seed):
    noise = tf.random.stateless_uniform(tf.shape(images), seed=seed)
    return tf.cast(noise < images, images.dtype)


def _shuffle_buffer_size(dataset):
    image_bytes = 4 * (dataset.element_spec.shape.num_elements() or 64 * 64 * 3)
    cap = max(1024, _SHUFFLE_BUFFER_BYTES // image_bytes)
    size = int(dataset.cardinality())  # Negative when unknown.
    return min(size, cap) if size > 0 else cap


def to_unit_range(image, max_value=None):
    if max_value is None:  # Integers are divided by their dtype's maximum.
        return tf.image.convert_image_dtype(image, tf.float32)
    return tf.cast(image, tf.float32) / max_value


def _checked_array(x):
    """Returns `x` as uint8 images (N, H, W, C) or a float32 array of rank 2 to 4, or raises."""
    x = np.asarray(x)
    shape = x.shape
    if x.dtype == np.uint8:
        x = x[..., np.newaxis] if x.ndim == 3 else x
        if x.ndim != 4 or x.shape[-1] not in (1, 3) or x.size == 0:
            expected = "non-empty uint8 images (N, H, W) or (N, H, W, C) with C in {1, 3}"
            raise validation.invalid("x.shape", expected, shape)
        return x
    if x.dtype != bool and not np.issubdtype(x.dtype, np.floating):
        expected = "uint8 images (0..255) or floating-point data"
        raise validation.invalid("x.dtype", expected, x.dtype.name)
    if x.ndim not in (2, 3, 4) or x.size == 0:
        expected = "non-empty vectors (N, D), sequences (N, T, C) or images (N, H, W, C)"
        raise validation.invalid("x.shape", expected, shape)
    if x.ndim == 3 and np.all((x >= 0) & (x <= 1)):
        warnings.warn(
            f"A float array of shape {shape} is taken as sequences (N, T, C), as since 0.2; "
            "for grey images give it a channel axis, x[..., None].", UserWarning, stacklevel=3,
        )
    hint = "float images; divide 0..255 images by 255, or pass uint8"
    return validation.check_array("x", x.astype(np.float32), unit_interval=x.ndim == 4, hint=hint)
