"""Class labels, by one rule at every entry: a class in [0, C), or -1 for "not known".

- Training data: -1 marks an unlabelled example; at least one must be labelled.
- `encode`, `reconstruct` (and the exported signatures of the same names): -1 lets the
  classifier's most probable class stand in.
- `decode`, `sample`: a class is needed; -1 is refused.
- Anything else (10 for 10 classes, -2, floats) is refused: in Python with the package's
  ValueError before any work, in `fit` and `evaluate` when a batch holds it, in a
  SavedModel signature with an InvalidArgumentError naming the range. LiteRT has no
  assertions: there the outputs of such an example are NaN.
"""

import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_vae import validation

#: The label of an example whose class is not known.
UNKNOWN = -1
#: The least share of every batch that `keras_vae.data.from_array` fills with labelled
#: examples when some are unlabelled.
LABELLED_FRACTION = 0.25


def check(labels, count, num_classes, *, unknown_allowed, name="labels"):
    """`labels` (an int for all, or `count` of them) as int32 (count,), or raises.

    Examples:

        >>> check(3, 2, 10, unknown_allowed=False).tolist()
        [3, 3]
    """
    array = np.asarray(labels.numpy() if hasattr(labels, "numpy") else labels)
    if array.ndim == 0:
        array = np.full([count], array)
    return validation.check_labels(
        name, array, count, num_classes, allow_unlabelled=unknown_allowed, require_labelled=False
    )


def in_graph(labels, num_classes, *, unknown_allowed):
    """int32 `labels` behind the rule, for exported graphs: an assertion (an error in a
    SavedModel), and a mask of the valid ones (LiteRT drops assertions: callers turn the
    outputs of invalid ones into NaN with `mask_invalid`)."""
    labels = tf.cast(labels, tf.int32)
    low = UNKNOWN if unknown_allowed else 0
    valid = (labels >= low) & (labels < num_classes)
    expected = f"class labels in [{low}, {num_classes})" + (
        " (-1: the classifier's guess)" if unknown_allowed else ""
    )
    with tf.control_dependencies(
        [validation.graph_check(tf.reduce_all(valid), "labels", expected, labels)]
    ):
        return tf.identity(labels), valid


def mask_invalid(outputs, valid):
    """`outputs` (batch, ...) with the rows of invalid labels set to NaN."""
    valid = tf.reshape(valid, [-1] + [1] * (len(outputs.shape) - 1))
    return tf.where(valid, outputs, tf.constant(np.nan, outputs.dtype))


def one_hot(labels, num_classes):
    """float32 one-hot rows (batch, num_classes) of int labels."""
    return keras.ops.one_hot(keras.ops.cast(labels, "int32"), num_classes, dtype="float32")


def check_fit_targets(num_classes, x, y, training):
    """The labels `fit` or `evaluate` get, for a model of `num_classes` classes (None: none).

    A model without classes learns from x alone; a model with classes takes integer
    labels in [-1, C) (-1: unlabelled), needs some to train, none to evaluate.
    """
    spec = x.element_spec if validation.is_dataset(x) else None
    if num_classes is None:
        _refuse_labels(spec, y)
        return
    if spec is not None:
        labelled = isinstance(spec, tuple) and len(spec) > 1
        if (training or labelled) and not (labelled and spec[1].dtype.is_integer):
            raise validation.invalid(
                "x",
                "a dataset of (x, labels) batches with integer labels (-1: unlabelled), e.g. "
                "keras_vae.data.from_array(x, labels=labels)",
                validation.Described(f"a dataset whose elements are {spec}"),
            )
        return
    if y is None and isinstance(x, np.ndarray) and training:
        raise validation.invalid("y", "integer labels, one per example (-1: unlabelled)", y)
    if y is None:
        return
    count = len(x) if hasattr(x, "__len__") else None
    labels = validation.check_labels("y", y, count, num_classes, require_labelled=training)
    share = float(np.mean(labels >= 0))
    if training and share < LABELLED_FRACTION:
        warnings.warn(
            f"Only {share:.1%} of the examples are labelled, and fit() slices arrays in order: "
            "most batches hold no label. keras_vae.data.from_array(x, labels) gives them "
            f"{LABELLED_FRACTION:.0%} of every batch.",
            UserWarning,
            stacklevel=4,
        )


def _refuse_labels(spec, y):
    if (
        isinstance(spec, tuple)
        and len(spec) > 1
        and getattr(spec[1], "dtype", tf.float32).is_integer
    ):
        y = validation.Described(f"a dataset of (x, {spec[1].dtype.name} labels) batches")
    elif y is None:
        return
    elif hasattr(y, "shape"):
        y = validation.Described(f"an array of shape {tuple(y.shape)}")
    raise validation.invalid(
        "y",
        "None: a model without classes learns from x alone (for labels: keras_vae.ConditionalVAE)",
        y,
    )
