"""`tf.data` pipelines from arrays: batching, shuffling, binarization, resizing.

Every dataset yields float32 batches `(batch, *example_shape)`: images (H, W, C) in [0, 1],
sequences (T, C) or vectors (D,), and takes the same options: `batch_size`, `shuffle`,
`binarize`, `image_size`, `cache`, `seed` and `drop_remainder`. With labels, it yields
`(x, labels)` batches of int32 labels, -1 marking an unlabelled example.
"""

import os
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_vae import validation
from keras_vae.models.labels import LABELLED_FRACTION

# Shuffle the whole dataset when it fits in this many bytes (and 1024 examples at least).
_SHUFFLE_BUFFER_BYTES = 512 * 2**20


def from_array(
    x,
    labels=None,
    *,
    factors=None,
    num_classes=None,
    labelled_fraction=None,
    labelled_shift=0,
    labelled_rotation=0.0,
    labelled_zoom=0.0,
    batch_size=128,
    shuffle=True,
    binarize=False,
    image_size=None,
    cache=True,
    seed=0,
    drop_remainder=False,
):
    """Makes a dataset from an array of examples, and of their labels if given.

    Args:
        x: uint8 images (N, H, W) or (N, H, W, C) with C in {1, 3}, scaled from 0..255 to
            [0, 1]; or a float array: images (N, H, W, C) in [0, 1], sequences (N, T, C)
            or vectors (N, D), any finite values (standardize tabular features first).
        labels: None, or N integer class labels, -1 for an unlabelled example (for
            `keras_vae.ConditionalVAE`). The dataset then yields `(x, labels)` batches.
            Training data (`shuffle=True`) need at least one labelled example.
        factors: None, or what made each example, (N, num_factors) numbers (or (N,) for
            one), all finite: the dataset then yields `(x, factors)` batches of float32
            factors, for `keras_vae.evaluate.disentanglement` (a dSprites or 3D Shapes
            array, or a table with known causes). Not with labels; not for `fit`, which
            takes no targets for a model without classes.
        num_classes: the classes C the labels must lie below, checked now (a label of C
            or more is refused here rather than at the batch that holds it in `fit`); None
            checks only that they are >= -1.
        labelled_fraction: when some labels are -1 and `shuffle` is on, the share of every
            batch drawn from the labelled examples, which repeat as needed while an epoch
            passes once over the unlabelled ones (so 100 labels among 12,000 digits are seen
            in every batch, not in one batch out of 120). Default: their share of the data,
            raised to `LABELLED_FRACTION` (0.25) if lower.
        labelled_shift: augmentation of the labelled images while training (`shuffle`): each
            time one is drawn, it moves by a random whole number of pixels, up to this many
            in each direction (zeros fill in). 0 for none.
        labelled_rotation: augmentation as `labelled_shift`: labelled images turn by a random
            angle of up to this many degrees either way (`keras.layers.RandomRotation`).
        labelled_zoom: augmentation as `labelled_shift`: labelled images are scaled by a
            random factor in [1 - zoom, 1 + zoom] (`keras.layers.RandomZoom`), in [0, 1).
        batch_size, shuffle, binarize, image_size, cache, seed, drop_remainder: As in
            `keras_vae.data.load`; `image_size` applies to images only.

    Returns:
        A `tf.data.Dataset` of float32 batches, or of `(x, int32 labels)` batches.

    Examples:

        >>> next(iter(from_array(np.zeros((100, 28, 28), np.uint8), batch_size=10))).shape
        TensorShape([10, 28, 28, 1])
        >>> next(iter(from_array(np.zeros((100, 30), np.float32), batch_size=10))).shape
        TensorShape([10, 30])
        >>> labels = np.full(100, -1); labels[:10] = 3          # 10 labelled, 90 unlabelled
        >>> x, y = next(iter(from_array(np.zeros((100, 30), np.float32), labels, batch_size=8)))
        >>> int((y >= 0).numpy().sum())                          # a quarter of every batch
        2
        >>> f = np.random.default_rng(0).uniform(size=(100, 3))   # three known factors
        >>> x, factors = next(iter(from_array(np.zeros((100, 30), np.float32), factors=f)))
        >>> factors.shape
        TensorShape([100, 3])
    """
    options = check_options(
        batch_size=batch_size,
        shuffle=shuffle,
        binarize=binarize,
        image_size=image_size,
        cache=cache,
        seed=seed,
        drop_remainder=drop_remainder,
    )
    if labelled_fraction is not None:
        if labels is None:
            raise validation.invalid("labelled_fraction", "None without labels", labelled_fraction)
        if not 0 < validation.check_float("labelled_fraction", labelled_fraction) < 1:
            raise validation.invalid("labelled_fraction", "a share in (0, 1)", labelled_fraction)
    augment = check_augmentation(labelled_shift, labelled_rotation, labelled_zoom)
    x = _checked_array(x)
    for name, value in augment.items():
        if value and (labels is None or x.ndim != 4):
            raise validation.invalid(
                f"labelled_{name}",
                f"0 unless labelled images are given (x has shape {x.shape})",
                value,
            )
    if options["image_size"] is not None and x.ndim != 4:
        raise validation.invalid(
            "image_size", f"None for data that are not images (x has shape {x.shape})", image_size
        )
    if factors is not None:
        return _factor_pipeline(x, labels, factors, options)
    if labels is None:
        # Slicing the array as it is (maybe uint8) keeps the in-graph copy small.
        dataset = tf.data.Dataset.from_tensor_slices(x).map(to_unit_range, tf.data.AUTOTUNE)
        return build_pipeline(dataset, **options)
    # Held-out data (no shuffling) may be all unlabelled; training data needs a label.
    labels = validation.check_labels(
        "labels", labels, len(x), num_classes, require_labelled=options["shuffle"]
    )
    known = labels >= 0
    if options["shuffle"] and not known.all():
        fraction = labelled_fraction or max(known.mean(), LABELLED_FRACTION)
        return _mixed_pipeline(
            _examples(x[known], labels[known]),
            _examples(x[~known], labels[~known]),
            fraction,
            augment,
            options,
        )
    if options["shuffle"] and any(augment.values()):
        return augmented_pipeline(_examples(x, labels), augment, options)
    return build_pipeline(_examples(x, labels), **options)


def _factor_pipeline(x, labels, factors, options):
    """`(x, factors)` examples: the factors checked and as float32, shuffled with x."""
    if labels is not None:
        raise validation.invalid(
            "factors",
            "None with labels (a dataset yields labels or factors, not both)",
            validation.Described("factors and labels"),
        )
    factors = validation.check_factors("factors", factors, len(x)).astype(np.float32)
    return build_pipeline(_examples(x, factors), **options)


def check_augmentation(labelled_shift=0, labelled_rotation=0.0, labelled_zoom=0.0):
    """Checks the augmentation of labelled images; returns `{"shift", "rotation", "zoom"}`."""
    augment = dict(
        shift=validation.check_int("labelled_shift", labelled_shift, minimum=0),
        rotation=validation.check_float("labelled_rotation", labelled_rotation),
        zoom=validation.check_float("labelled_zoom", labelled_zoom),
    )
    if augment["rotation"] > 180:
        raise validation.invalid(
            "labelled_rotation", "an angle in [0, 180] degrees", labelled_rotation
        )
    if augment["zoom"] >= 1:
        raise validation.invalid("labelled_zoom", "a scale change in [0, 1)", labelled_zoom)
    return augment


def augmented_pipeline(examples, augment, options):
    """`build_pipeline` for training on labelled `(image, label)` examples, each augmented
    anew every time it is drawn (`check_augmentation`'s `augment`)."""
    dataset = _prepare(examples, options["image_size"], options["cache"])  # augmented after it
    dataset = _shifted(_shuffle(dataset, options["seed"]), augment["shift"], options["seed"])
    batches = dataset.batch(options["batch_size"], drop_remainder=options["drop_remainder"])
    batches = _transformed(batches, augment["rotation"], augment["zoom"], options["seed"])
    return _finish(batches, options["binarize"], options["seed"])


def _examples(x, labels):
    return tf.data.Dataset.from_tensor_slices((x, labels)).map(
        lambda x, y: (to_unit_range(x), y), tf.data.AUTOTUNE
    )


def _shifted(examples, shift, seed):
    """Each image moved by up to `shift` pixels in each direction, at random every time."""
    if not shift:
        return examples

    def move(example, seed):
        image, label = example
        padded = tf.pad(image, [[shift, shift], [shift, shift], [0, 0]])
        return tf.image.stateless_random_crop(padded, tf.shape(image), seed), label

    seeds = tf.data.Dataset.random(seed + 2, rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip(examples, seeds).map(move, tf.data.AUTOTUNE)


def _transformed(batches, rotation, zoom, seed):
    """Batches of images turned by up to `rotation` degrees and scaled by up to 1 +- `zoom`,
    each image at random every time (Keras's preprocessing layers; zeros fill in)."""
    layers = []
    if rotation:
        layers.append(
            keras.layers.RandomRotation(rotation / 360, fill_mode="constant", seed=seed + 3)
        )
    if zoom:
        layers.append(keras.layers.RandomZoom(zoom, fill_mode="constant", seed=seed + 4))
    if not layers:
        return batches
    augment = keras.Sequential(layers)
    # Sequential calls: the layers' seed generator is a variable, and calls in parallel could
    # read the same state and give two batches the same transforms.
    return batches.map(lambda x, y: (augment(x, training=True), y))


def _mixed_pipeline(labelled, unlabelled, fraction, augment, options):
    """Batches of `fraction` labelled examples (repeated) and the rest unlabelled (one pass)."""
    batch_size = options["batch_size"]
    if batch_size < 2:
        raise validation.invalid(
            "batch_size",
            "at least 2 to mix labelled and unlabelled examples in every batch",
            batch_size,
        )
    per_batch = min(batch_size - 1, max(1, round(batch_size * fraction)))
    labelled = _prepare(labelled, options["image_size"], options["cache"])
    unlabelled = _prepare(unlabelled, options["image_size"], options["cache"])
    seed = options["seed"]
    labelled = _shifted(_shuffle(labelled, seed).repeat(), augment["shift"], seed)
    labelled = _transformed(labelled.batch(per_batch), augment["rotation"], augment["zoom"], seed)
    unlabelled = _shuffle(unlabelled, seed + 1).batch(
        batch_size - per_batch, drop_remainder=options["drop_remainder"]
    )
    dataset = tf.data.Dataset.zip(unlabelled, labelled).map(
        lambda u, k: (tf.concat([k[0], u[0]], 0), tf.concat([k[1], u[1]], 0)), tf.data.AUTOTUNE
    )
    return _finish(dataset, options["binarize"], seed)


def check_options(
    *,
    batch_size=128,
    shuffle=True,
    binarize=False,
    image_size=None,
    cache=True,
    seed=0,
    drop_remainder=False,
):
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
        batch_size=int(batch_size),
        shuffle=bool(shuffle),
        binarize={True: "dynamic"}.get(binarize, binarize or False),
        image_size=image_size,
        cache=cache,
        seed=int(seed),
        drop_remainder=bool(drop_remainder),
    )


def build_pipeline(
    dataset, *, batch_size, shuffle, binarize, image_size, cache, seed, drop_remainder
):
    """Resizes (images), caches, shuffles, batches, binarizes and prefetches examples.

    Elements are examples x, or `(x, label)` pairs whose x alone is transformed.
    """
    dataset = _prepare(dataset, image_size, cache)
    if shuffle:
        dataset = _shuffle(dataset, seed)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    return _finish(dataset, binarize, seed)


def _prepare(dataset, image_size, cache):
    if image_size is not None:
        dataset = dataset.map(_on_x(lambda x: _resize(x, image_size)), tf.data.AUTOTUNE)
    if cache:
        # Before shuffling and binarization, so both still change every epoch.
        dataset = dataset.cache("" if cache is True else os.fspath(cache))
    return dataset


def _shuffle(dataset, seed):
    buffer_size = _shuffle_buffer_size(dataset)
    return dataset.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)


def _finish(batches, binarize, seed):
    if binarize:
        # One stateless seed pair per batch, drawn anew every epoch unless static.
        dynamic = binarize == "dynamic"
        seeds = tf.data.Dataset.random(seed, rerandomize_each_iteration=dynamic).batch(2)
        binary = _on_x(_binary_sample, extra_args=1)
        batches = tf.data.Dataset.zip(batches, seeds).map(binary, tf.data.AUTOTUNE)
    # Fixed settings (a map on as many threads as there are cores), not tf.data's
    # autotuning: its background optimisation takes a core from the training step, and on
    # a 2-core machine it halved the speed of 6 epochs in 15 (`benchmarks/RESULTS.md`).
    options = tf.data.Options()
    options.autotune.enabled = False
    return batches.prefetch(tf.data.AUTOTUNE).with_options(options)


def _on_x(function, extra_args=0):
    """`function` of x, for elements that are x or `(x, label)` (then followed by extra args)."""

    def apply(element, *args):
        if isinstance(element, tuple):
            return (function(element[0], *args), *element[1:])
        return function(element, *args)

    def wrapper(*elements):
        # tf.data unpacks tuple elements into arguments; a tuple is (x, label[, extra...]).
        if len(elements) == 1 + extra_args:
            return apply(elements[0], *elements[1:])
        split = len(elements) - extra_args
        return apply(tuple(elements[:split]), *elements[split:])

    return wrapper


def _resize(image, size):
    return tf.clip_by_value(tf.image.resize(image, size, antialias=True), 0.0, 1.0)


def _binary_sample(images, seed):
    noise = tf.random.stateless_uniform(tf.shape(images), seed=seed)
    return tf.cast(noise < images, images.dtype)


def _shuffle_buffer_size(dataset):
    spec = dataset.element_spec
    spec = spec[0] if isinstance(spec, tuple) else spec
    image_bytes = 4 * (spec.shape.num_elements() or 64 * 64 * 3)
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
            f"A float array of shape {shape} in [0, 1] is taken as sequences (N, T, C); "
            "if they are grey images, give them a channel axis: x[..., None].",
            UserWarning,
            stacklevel=3,
        )
    hint = "float images; divide 0..255 images by 255, or pass uint8"
    return validation.check_array("x", x.astype(np.float32), unit_interval=x.ndim == 4, hint=hint)
