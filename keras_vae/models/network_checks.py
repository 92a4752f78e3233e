"""Checks on the networks a model is given: shapes are read from them, mismatches named.

An encoder maps x to `[z_mean, z_log_var]` (batch, latent_dim) each, optionally with a
third output, a flow's context h (batch, H), or to one tensor (batch, 2 * latent_dim)
that the model splits in half; a decoder maps z to the likelihood's parameters. With
`num_classes`, both take `[x or z, labels]` with labels one-hot (batch, num_classes).
"""

import collections

import keras
import numpy as np

from keras_vae import validation

#: What an encoder tells about the data and the latent space.
EncoderShapes = collections.namedtuple("EncoderShapes", "data_shape latent_dim split context_dim")


def inspect_encoder(encoder, input_shape=None, num_classes=0):
    """Runs `encoder` on a probe batch: returns its `EncoderShapes`.

    `split` is True when the encoder returns one tensor of width 2 * latent_dim;
    `context_dim` is the width of a third output h (a flow's context), else 0.
    The input shape is read from the encoder when it has one (a functional or
    Sequential model), else `input_shape` is required.
    """
    check_network("encoder", encoder)
    input_shape = encoder_input_shape(encoder, input_shape, num_classes)
    probe = with_probe_labels(np.zeros((2, *input_shape), np.float32), num_classes)
    try:
        outputs = encoder(probe, training=False)
    except Exception as error:
        if not num_classes:
            raise
        raise _takes_labels_error(
            "encoder", num_classes, f"an encoder that fails on them: {_first_line(error)}"
        ) from None
    shapes = [
        tuple(t.shape) for t in (outputs if isinstance(outputs, (list, tuple)) else [outputs])
    ]
    if len(shapes) in (2, 3) and shapes[0] == shapes[1] and all(len(s) == 2 for s in shapes):
        return EncoderShapes(
            input_shape, shapes[0][1], False, shapes[2][1] if len(shapes) == 3 else 0
        )
    if len(shapes) == 1 and len(shapes[0]) == 2 and shapes[0][1] % 2 == 0:
        return EncoderShapes(input_shape, shapes[0][1] // 2, True, 0)
    raise validation.invalid(
        "encoder",
        "outputs [z_mean, z_log_var] of shape (batch, latent_dim) each (and optionally a flow's "
        "context h (batch, H)), or one tensor (batch, 2 * latent_dim) (an even width)",
        validation.Described(
            f"an encoder whose outputs have shapes {_shapes(shapes)} for input shape "
            f"{(None, *input_shape)}"
        ),
    )


def encoder_input_shape(encoder, input_shape=None, num_classes=0):
    """One example's shape: the encoder's declared input shape, or `input_shape`, or raises."""
    known = _input_shape(encoder, num_classes)
    if num_classes and known is None and _declared_inputs(encoder) == 1:
        raise _takes_labels_error(
            "encoder",
            num_classes,
            f"an encoder with one input, of shape {tuple(encoder.inputs[0].shape)}",
        )
    if known is not None and input_shape is not None and tuple(input_shape) != known:
        raise validation.invalid(
            "input_shape", f"the encoder's input shape {known}", tuple(input_shape)
        )
    input_shape = known if known is not None else input_shape
    if input_shape is None:
        raise validation.invalid(
            "input_shape",
            f"one example's shape: the encoder ({type(encoder).__name__}) does not declare "
            "its input shape",
            None,
        )
    return validation.check_widths("input_shape", input_shape)


def check_decoder(
    decoder, latent_dim, output_shape, num_classes=0, source="the encoder's latent width"
):
    """Raises unless `decoder` maps (batch, latent_dim) (and labels) to (batch, *output_shape);
    `source` says where that width comes from, for the error."""
    check_network("decoder", decoder)
    declared = _input_shape(decoder, num_classes)
    if declared is not None and len(declared) == 1 and declared[0] != latent_dim:
        raise validation.invalid(
            "decoder",
            f"an input of shape (None, {latent_dim}) ({source})",
            validation.Described(f"a decoder whose input has shape (None, {declared[0]})"),
        )
    takes = f"z of shape (batch, {latent_dim}) ({source})"
    if num_classes:
        takes = f"[z, labels]: {takes}, labels one-hot (batch, {num_classes})"
    try:
        params = decoder(
            with_probe_labels(np.zeros((2, latent_dim), np.float32), num_classes), training=False
        )
    except Exception as error:  # a decoder built for another latent width fails here
        raise validation.invalid(
            "decoder",
            f"a network taking {takes}",
            validation.Described(f"a decoder that fails on it: {_first_line(error)}"),
        ) from None
    got = tuple(params.shape[1:]) if hasattr(params, "shape") else None
    if got != tuple(output_shape):
        shape = _shapes([(None, *got)]) if got is not None else type(params).__name__
        raise validation.invalid(
            "decoder",
            f"outputs of shape {(None, *output_shape)} (the likelihood's parameters for data of "
            "the encoder's input shape)",
            validation.Described(f"a decoder whose output has shape {shape}"),
        )


def check_classifier(classifier, input_shape, num_classes):
    """Raises unless `classifier` maps (batch, *input_shape) to logits (batch, num_classes)."""
    check_network("classifier", classifier)
    try:
        got = tuple(classifier(np.zeros((2, *input_shape), np.float32), training=False).shape)
    except Exception as error:
        got = f"an error: {_first_line(error)}"
    if got != (2, num_classes):
        shown = _shapes([got]) if isinstance(got, tuple) else got
        raise validation.invalid(
            "classifier",
            f"logits of shape (None, {num_classes}) (num_classes) for data of shape "
            f"{(None, *input_shape)}",
            validation.Described(f"a classifier whose output is {shown}"),
        )


def check_network(argument, network):
    """Raises unless `network` is a Keras model or layer."""
    if not isinstance(network, keras.layers.Layer):
        raise validation.invalid(argument, "a Keras model or layer", network)


def with_probe_labels(x, num_classes):
    """`x`, or `[x, one-hot labels]` (cycling through the classes) for a conditional network."""
    if not num_classes:
        return x
    return [x, np.eye(num_classes, dtype=np.float32)[np.arange(len(x)) % num_classes]]


def _takes_labels_error(argument, num_classes, received):
    return validation.invalid(
        argument,
        f"a network taking [x, labels] (labels one-hot, shape (batch, {num_classes})) for "
        "q(z|x, y)",
        validation.Described(received),
    )


def _input_shape(network, num_classes=0):
    """The shape of x (the first input) a functional network declares, or None."""
    inputs = getattr(network, "inputs", None) if isinstance(network, keras.Model) else None
    try:
        if inputs and len(inputs) == (2 if num_classes else 1):
            if all(d is not None for d in inputs[0].shape[1:]):
                return tuple(int(d) for d in inputs[0].shape[1:])
    except (AttributeError, ValueError):  # a subclassed model: no symbolic inputs
        pass
    return None


def _declared_inputs(network):
    """How many inputs a functional or Sequential network declares (None: not known)."""
    try:
        return len(network.inputs) if isinstance(network, keras.Model) and network.inputs else None
    except (AttributeError, ValueError):  # a subclassed model: no symbolic inputs
        return None


def _first_line(error):
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _shapes(shapes):
    return ", ".join(str((None, *s[1:])) for s in shapes)
