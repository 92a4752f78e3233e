"""Argument and input checks, raised before any work is done, in one error form.

Every check raises `ValueError("Invalid value received for argument X. Expected ...
Received: X=...")`, Keras's own wording, through `invalid`.
"""

import math
import re

import numpy as np

#: Prefix of the in-graph assertion messages, so `VAE.fit` can re-raise them as ValueError.
TAG = "keras_vae input check: "


def invalid(name, expected, received):
    """The package's one error: `ValueError` naming the argument, what was expected and got."""
    return ValueError(
        f"Invalid value received for argument {name}. Expected {expected}. "
        f"Received: {name}={received!r}"
    )


class Described(str):
    """A received value given by its description (shown without quotes), e.g. "3 NaN values"."""

    def __repr__(self):
        return str(self)


def is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_int(name, value, minimum=None, maximum=None):
    """Returns `value` as an int in [minimum, maximum], or raises."""
    if (
        not is_int(value)
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        bounds = [
            f">= {minimum}" if minimum is not None else "",
            f"<= {maximum}" if maximum is not None else "",
        ]
        raise invalid(name, " ".join(["an int", *filter(None, bounds)]), value)
    return int(value)


def check_float(name, value, positive=False):
    """Returns `value` as a finite float >= 0 (> 0 with `positive`), or raises."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not (math.isfinite(value) and (value > 0 if positive else value >= 0))
    ):
        raise invalid(name, f"a finite float {'> 0' if positive else '>= 0'}", value)
    return float(value)


def check_choice(name, value, choices):
    if value not in choices:
        raise invalid(name, f"one of {list(choices)}", value)
    return value


def check_widths(name, widths, allow_empty=False):
    """Returns a tuple of positive ints (layer widths, a shape), or raises."""
    valid = isinstance(widths, (tuple, list)) and (allow_empty or widths)
    if not (valid and all(is_int(w) and w > 0 for w in widths)):
        raise invalid(name, f"a {'' if allow_empty else 'non-empty '}list of positive ints", widths)
    return tuple(int(w) for w in widths)


def check_batch_shape(name, shape, data_shape, what=None):
    """Raises unless `shape` is (batch, *data_shape); None dims are allowed."""
    shape = tuple(shape)
    want = (None, *data_shape)
    if len(shape) != len(want) or any(
        got is not None and got != dim for got, dim in zip(shape[1:], data_shape)
    ):
        raise invalid(
            f"{name}.shape",
            f"a batch of shape {want} ({what or describe(data_shape) + ', the model data'})",
            shape,
        )


def describe(data_shape):
    """'images (H, W, C)', 'sequences (T, C)' or 'vectors (D,)', by rank."""
    kind = {
        3: "images (height, width, channels)",
        2: "sequences (steps, channels)",
        1: "vectors (features,)",
    }
    return kind.get(len(data_shape), f"arrays of rank {len(data_shape)}")


def check_float_dtype(name, dtype):
    """Raises for integer or boolean data: the model wants floats (images scaled to [0, 1])."""
    import keras

    dtype_name = keras.backend.standardize_dtype(dtype)
    if not (dtype_name.startswith("float") or dtype_name == "bfloat16"):
        raise invalid(
            f"{name}.dtype",
            "floats (integer images: divide by 255, or load them with keras_vae.data)",
            dtype_name,
        )


def check_array(
    name,
    array,
    data_shape=None,
    unit_interval=False,
    hint="this likelihood, Bernoulli or logistic, needs them",
):
    """Checks a NumPy batch: shape, float dtype, emptiness, NaN/inf and range; returns float32.

    Args:
        name: the argument's name, for the message.
        array: the batch (N, ...).
        data_shape: the shape of one example, or None for any.
        unit_interval: whether values must lie in [0, 1] (Bernoulli, logistic).
        hint: why values must lie in [0, 1], for the message.
    """
    array = np.asarray(array)
    if data_shape is not None:
        check_batch_shape(name, array.shape, data_shape)
    check_float_dtype(name, array.dtype)
    if array.shape[0] == 0 or array.size == 0:
        raise invalid(f"{name}.shape", "at least one non-empty example", array.shape)
    array = array.astype(np.float32, copy=False)
    check_finite(name, array)
    if unit_interval:
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            raise invalid(
                name,
                f"values in [0, 1] ({hint})",
                Described(f"values in [{low:g}, {high:g}]"),
            )
    return array


def check_images(name, images):
    """A non-empty float32 batch of images (N, H, W, C) with C in {1, 3}, for pictures."""
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or len(images) == 0 or images.shape[-1] not in (1, 3):
        raise invalid(
            f"{name}.shape",
            "a non-empty batch of images (N, H, W, C) with C in {1, 3}",
            images.shape,
        )
    return images


def is_dataset(data):
    """Whether `data` is a `tf.data.Dataset` (without importing TensorFlow for other data)."""
    import sys

    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(data, tf.data.Dataset)


def checked_dataset(dataset, unit_interval, num_classes=None):
    """`dataset` with the checks of `assert_valid_batch` (and of the labels) in its pipeline:
    where the model's step cannot hold in-graph checks (JAX, PyTorch), tf.data, which
    feeds every backend, holds them. A failed check raises in `fit` through
    `InGraphChecks`, as on TensorFlow."""

    def check(*element):
        x = assert_valid_batch(element[0], unit_interval)
        rest = list(element[1:])
        if num_classes is not None and rest and rest[0].dtype.is_integer:
            rest[0] = assert_valid_labels(rest[0], num_classes)
        return (x, *rest) if rest else x

    return dataset.map(check)


def check_dataset(name, dataset, data_shape):
    """Checks a tf.data.Dataset's element spec (dtype, shape) and that it is not empty."""
    import tensorflow as tf

    spec = dataset.element_spec
    if isinstance(spec, (tuple, list)):
        spec = spec[0]
    if isinstance(spec, dict) or not isinstance(spec, tf.TensorSpec):
        raise invalid(
            f"{name}.element_spec",
            "a batch, or a tuple whose first item is one",
            dataset.element_spec,
        )
    check_batch_shape(name, spec.shape, data_shape)
    check_float_dtype(name, spec.dtype)
    if int(dataset.cardinality()) == 0:
        raise invalid(name, "a non-empty dataset", Described("an empty dataset"))


def check_labels(
    name, labels, count=None, num_classes=None, allow_unlabelled=True, require_labelled=True
):
    """Checks integer class labels: 1-D, `count` of them, in [-1, num_classes) (-1: unlabelled).

    With `allow_unlabelled`, -1 is accepted, and with `require_labelled` (training data)
    at least one label must be known. Returns them as an int32 array.
    """
    array = np.asarray(labels)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise invalid(
            f"{name}.dtype",
            "integer class labels (-1 for unlabelled; floats are "
            "refused so that 3.7 is never read as 3)",
            array.dtype.name,
        )
    if array.ndim != 1:
        raise invalid(f"{name}.shape", "one label per example, (N,)", array.shape)
    if count is not None and len(array) != count:
        raise invalid(name, f"{count} labels, one per example", Described(f"{len(array)} labels"))
    low = -1 if allow_unlabelled else 0
    high = num_classes if num_classes is not None else np.iinfo(np.int32).max
    outside = (array < low) | (array >= high)
    if outside.any():
        span = f"in [{low}, {num_classes})" if num_classes is not None else f">= {low}"
        meaning = " (-1: unlabelled)" if allow_unlabelled else ""
        raise invalid(
            name,
            f"class labels {span}{meaning}",
            Described(
                f"{np.count_nonzero(outside)} labels outside it, e.g. {int(array[outside][0])}"
            ),
        )
    if allow_unlabelled and require_labelled and not (array >= 0).any():
        raise invalid(
            name,
            "at least one labelled example (a label >= 0); q(y|x) learns the "
            "classes from them: give at least one per class, 10 per class work well",
            Described(f"{len(array)} labels, all -1 (unlabelled)"),
        )
    return array.astype(np.int32)


def check_finite(name, array):
    """Raises unless every value of the NumPy `array` is finite, counting the others."""
    finite = np.isfinite(array)
    if not finite.all():
        raise invalid(
            name,
            "finite values",
            Described(f"{finite.size - np.count_nonzero(finite)} NaN or inf values"),
        )


def check_factors(name, factors, count):
    """Checks the factors that made `count` examples: numbers (count, num_factors) (or
    (count,) for one factor), all finite. Returns them as a float64 (count, F) array."""
    if factors is None:
        raise invalid(
            name,
            "the factors that made the data, (N, num_factors) (these metrics compare codes "
            "with known factors; data without them cannot be scored)",
            factors,
        )
    factors = np.asarray(factors)
    if factors.ndim == 1:
        factors = factors[:, None]
    if factors.ndim != 2 or len(factors) != count or factors.shape[1] == 0:
        raise invalid(
            f"{name}.shape",
            f"({count}, num_factors): one row of factors per example",
            factors.shape,
        )
    if not np.issubdtype(factors.dtype, np.number) or factors.dtype == bool:
        raise invalid(f"{name}.dtype", "numbers", factors.dtype)
    factors = factors.astype(np.float64)
    check_finite(name, factors)
    return factors


def graph_check(condition, argument, expected, values=None):
    """An in-graph assertion: when `condition` is false, `fit` and `evaluate` raise the
    package's ValueError for `argument` (see `InGraphChecks`), with the smallest and largest
    of `values` as what was received. Returns the assertion op (a no-op when true)."""
    import tensorflow as tf

    data = [f"{TAG}{argument}|{expected}|"]
    if values is not None:
        data += [tf.reduce_min(values), tf.reduce_max(values)]
    return tf.debugging.Assert(condition, data)


def assert_valid_labels(labels, num_classes):
    """Returns int32 `labels` behind an in-graph check that they lie in [-1, num_classes)."""
    import tensorflow as tf

    if not labels.dtype.is_integer:
        raise invalid("labels.dtype", "integer class labels (-1 for unlabelled)", labels.dtype.name)
    labels = tf.cast(labels, tf.int32)
    in_range = tf.reduce_all((labels >= -1) & (labels < num_classes))
    expected = f"class labels in [-1, {num_classes}) (-1: unlabelled)"
    with tf.control_dependencies([graph_check(in_range, "labels", expected, labels)]):
        return tf.identity(labels)


def assert_valid_batch(x, unit_interval):
    """Returns `x` behind in-graph checks of its values (see `graph_check`)."""
    import tensorflow as tf

    checks = [
        graph_check(tf.reduce_all(tf.math.is_finite(x)), "x", "finite values (no NaN or inf)")
    ]
    if unit_interval:
        in_range = tf.reduce_all((x >= 0.0) & (x <= 1.0))
        checks.append(
            graph_check(in_range, "x", "values in [0, 1] (this likelihood needs them)", x)
        )
    with tf.control_dependencies(checks):
        return tf.identity(x)


class InGraphChecks:
    """Re-raises the in-graph checks of `graph_check` as the package's ValueError.

    Examples:

        >>> with InGraphChecks():
        ...     model.fit(dataset)
    """

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        import tensorflow as tf

        if not (isinstance(error, tf.errors.InvalidArgumentError) and TAG in str(error)):
            return False
        argument, expected, rest = str(error).split(TAG, 1)[1].split("|", 2)
        values = re.findall(r"\[([^\[\]]*)\]", rest.split("\n")[0])
        # A range check carries the batch's extremes; the finiteness check carries none.
        received = (
            f"a batch with values from {values[0]} to {values[1]}"
            if len(values) >= 2
            else ("a batch with NaN or inf values")
        )
        raise invalid(argument, expected, Described(received)) from None
