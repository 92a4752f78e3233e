"""Encoders and decoders: the default builders, and the checks on networks users bring.

An encoder maps a batch x to `[z_mean, z_log_var]` (or to one tensor of width
2 * latent_dim, split in half); a decoder maps z (batch, latent_dim) to the parameters
of p(x|z): x's shape with `channels * params_per_channel` on the last axis. The
builders return functional Keras models and hold no training logic.
"""

import math

import keras
import numpy as np
from keras import layers

from keras_vae import _compat, validation
from keras_vae.models.layers import ClampLogVariance

#: `VAE` arguments of the default networks, and their defaults: conv for images, MLP otherwise.
CONV_ARGUMENTS = dict(
    encoder_filters=(32, 64), decoder_filters=None, dense_units=256, kernel_size=3,
    residual_blocks=0,
)  # fmt: skip
MLP_ARGUMENTS = dict(hidden_units=(256, 128))


def conv_encoder(
    input_shape, latent_dim, filters=(32, 64), dense_units=256, kernel_size=3, residual_blocks=0,
    dtype=None, num_classes=0, context_dim=0,
):  # fmt: skip
    """Convolutional encoder for images: (H, W, C) -> [z_mean, z_log_var] (+ context h).

    Args:
        input_shape: (height, width, channels), height and width divisible by
            `2 ** len(filters)`.
        latent_dim: latent dimensions.
        filters: widths of the stride-2 `Conv2D`s.
        dense_units: width of the hidden dense layer (0 for none).
        kernel_size: conv kernel size.
        residual_blocks: residual blocks after each conv.
        dtype: dtype policy of the hidden layers; the heads are float32, so the posterior
            and the sampling stay exact under mixed precision.
        num_classes: 0, or the classes C of q(z|x, y): the encoder then takes
            `[images, labels]`, labels one-hot (batch, C), joined to the conv features.
        context_dim: 0, or the width of a third, float32 output: the context h that
            conditions an inverse autoregressive flow (`VAE(posterior="iaf")`).

    Example:

    >>> conv_encoder((28, 28, 1), latent_dim=2).output_shape
    [(None, 2), (None, 2)]
    """
    filters = validation.check_widths("filters", filters)
    input_shape = check_conv_shape(input_shape, len(filters))
    images = keras.Input(shape=input_shape, name="images")
    x = _conv_features(images, filters, kernel_size, residual_blocks, dtype)
    inputs, x = _with_labels(images, x, num_classes, dtype)
    if dense_units:
        x = layers.Dense(dense_units, activation="relu", dtype=dtype, name="hidden")(x)
    return keras.Model(inputs, _heads(x, latent_dim, context_dim), name="encoder")


def conv_classifier(
    input_shape, num_classes, filters=(32, 64), dense_units=256, kernel_size=3, residual_blocks=0,
    dropout=0.0, dtype=None,
):  # fmt: skip
    """Convolutional classifier q(y|x) for images: (H, W, C) -> float32 logits (batch, classes).

    The layers of `conv_encoder`, with `dropout` before the float32 logits layer.

    Example:

    >>> conv_classifier((28, 28, 1), num_classes=10).output_shape
    (None, 10)
    """
    filters = validation.check_widths("filters", filters)
    input_shape = check_conv_shape(input_shape, len(filters))
    images = keras.Input(shape=input_shape, name="images")
    x = _conv_features(images, filters, kernel_size, residual_blocks, dtype)
    if dense_units:
        x = layers.Dense(dense_units, activation="relu", dtype=dtype, name="hidden")(x)
    return keras.Model(images, _logits(x, num_classes, dropout, dtype), name="classifier")


def conv_decoder(
    output_shape, latent_dim, param_channels, filters=None, kernel_size=3, num_upsamplings=2,
    residual_blocks=0, dtype=None, num_classes=0,
):  # fmt: skip
    """Convolutional decoder for images: z -> parameters (H, W, param_channels).

    `Dense` to a map of width `filters[0]` at 1/2^k resolution, one stride-2
    `Conv2DTranspose` per later entry of `filters`, then a float32 transposed conv to
    the parameters, which upsamples too when `filters` has one entry fewer than
    `num_upsamplings + 1`. That is the default (64, 32): on CPU it is about twice as
    fast as a stride-1 conv over a full-size map (benchmarks/RESULTS.md).

    Args:
        output_shape: the images' (height, width, channels).
        latent_dim: latent dimensions.
        param_channels: output channels: channels x the likelihood's parameters per channel.
        filters: projection width, then one width per transposed conv (default (64, 32)).
        kernel_size: conv kernel size.
        num_upsamplings: stride-2 steps back to full size (the encoder's conv count).
        residual_blocks: residual blocks after each stage.
        dtype: dtype policy of the hidden layers; the output layer is float32.
        num_classes: 0, or the classes C of p(x|y, z): the decoder then takes `[z, labels]`,
            labels one-hot (batch, C), joined to z.

    Example:

    >>> conv_decoder((28, 28, 1), latent_dim=2, param_channels=1).output_shape
    (None, 28, 28, 1)
    """
    filters = validation.check_widths("filters", filters or (64, 32))
    if len(filters) - 1 not in (num_upsamplings - 1, num_upsamplings):
        raise validation.invalid(
            "decoder_filters", f"{num_upsamplings} or {num_upsamplings + 1} entries (a projection "
            "width, then one per stride-2 transposed conv; with one entry fewer the output conv "
            "upsamples)", filters,
        )
    output_shape = check_conv_shape(output_shape, num_upsamplings)
    factor = 2**num_upsamplings
    height, width = output_shape[0] // factor, output_shape[1] // factor
    z = keras.Input(shape=(latent_dim,), name="z")
    inputs, x = _with_labels(z, z, num_classes, dtype)
    x = layers.Dense(height * width * filters[0], activation="relu", dtype=dtype, name="project")(x)
    x = layers.Reshape((height, width, filters[0]), dtype=dtype, name="reshape")(x)
    x = _residual_blocks(x, residual_blocks, kernel_size, dtype, name="reshape")
    for i, channels in enumerate(filters[1:]):
        x = layers.Conv2DTranspose(channels, kernel_size, strides=2, padding="same",
                                   activation="relu", dtype=dtype, name=f"deconv_{i}")(x)  # fmt: skip
        x = _residual_blocks(x, residual_blocks, kernel_size, dtype, name=f"deconv_{i}")
    stride = 2 if num_upsamplings > len(filters) - 1 else 1
    params = layers.Conv2DTranspose(param_channels, kernel_size, strides=stride, padding="same",
                                    dtype="float32", name="params")(x)  # fmt: skip
    return keras.Model(inputs, params, name="decoder")


def mlp_encoder(input_shape, latent_dim, hidden_units=(256, 128), dtype=None, num_classes=0,
                context_dim=0):  # fmt: skip
    """Fully connected encoder for vectors (D,), or any shape, flattened: x -> [z_mean, z_log_var].

    Args:
        input_shape: one example's shape, e.g. (30,) for 30 tabular features.
        latent_dim: latent dimensions.
        hidden_units: widths of the hidden ReLU layers.
        dtype: dtype policy of the hidden layers; the heads are float32.
        num_classes: 0, or the classes C of q(z|x, y): the encoder then takes `[x, labels]`,
            labels one-hot (batch, C), joined to the flattened x.
        context_dim: 0, or the width of a third output, the flow's context h (see
            `conv_encoder`).

    Example:

    >>> mlp_encoder((30,), latent_dim=4).output_shape
    [(None, 4), (None, 4)]
    """
    inputs, x = _mlp_features(input_shape, hidden_units, dtype, num_classes)
    return keras.Model(inputs, _heads(x, latent_dim, context_dim), name="encoder")


def mlp_classifier(input_shape, num_classes, hidden_units=(256, 128), dropout=0.0, dtype=None):
    """Fully connected classifier q(y|x): x -> float32 logits (batch, classes).

    Example:

    >>> mlp_classifier((30,), num_classes=3).output_shape
    (None, 3)
    """
    inputs, x = _mlp_features(input_shape, hidden_units, dtype)
    return keras.Model(inputs, _logits(x, num_classes, dropout, dtype), name="classifier")


def mlp_decoder(
    output_shape, latent_dim, param_channels, hidden_units=(128, 256), dtype=None, num_classes=0,
):  # fmt: skip
    """Fully connected decoder: z -> parameters of shape (*output_shape[:-1], param_channels).

    Args:
        output_shape: one example's shape, e.g. (30,) or (steps, channels).
        latent_dim: latent dimensions.
        param_channels: last-axis size of the output: `output_shape[-1]` x the likelihood's
            parameters per channel.
        hidden_units: widths of the hidden ReLU layers.
        dtype: dtype policy of the hidden layers; the output layer is float32.
        num_classes: 0, or the classes C of p(x|y, z): the decoder then takes `[z, labels]`.

    Example:

    >>> mlp_decoder((30,), latent_dim=4, param_channels=30).output_shape
    (None, 30)
    """
    output_shape = validation.check_widths("output_shape", output_shape)
    hidden_units = validation.check_widths("hidden_units", hidden_units, allow_empty=True)
    z = keras.Input(shape=(latent_dim,), name="z")
    inputs, x = _with_labels(z, z, num_classes, dtype)
    for i, units in enumerate(hidden_units):
        x = layers.Dense(units, activation="relu", dtype=dtype, name=f"hidden_{i}")(x)
    shape = (*output_shape[:-1], param_channels)
    x = layers.Dense(math.prod(shape), dtype="float32", name="params")(x)
    if len(shape) > 1:
        x = layers.Reshape(shape, dtype="float32", name="reshape")(x)
    return keras.Model(inputs, x, name="decoder")


def default_encoder(input_shape, latent_dim, architecture, dtype=None, num_classes=0, context_dim=0):
    """The encoder `VAE` builds when given none: conv for images (H, W, C), else MLP."""
    args = _default_arguments(input_shape, architecture)
    if len(input_shape) != 3:
        return mlp_encoder(input_shape, latent_dim, args["hidden_units"], dtype, num_classes,
                           context_dim)  # fmt: skip
    return conv_encoder(input_shape, latent_dim, args["encoder_filters"], args["dense_units"],
                        args["kernel_size"], args["residual_blocks"], dtype, num_classes,
                        context_dim)  # fmt: skip


def default_decoder(output_shape, latent_dim, param_channels, architecture, dtype=None, num_classes=0):
    """The decoder `VAE` builds when given none, mirroring `default_encoder`."""
    args = _default_arguments(output_shape, architecture)
    if len(output_shape) != 3:
        hidden = tuple(reversed(args["hidden_units"]))
        return mlp_decoder(output_shape, latent_dim, param_channels, hidden, dtype, num_classes)
    encoder_filters = args["encoder_filters"]
    filters = args["decoder_filters"] or (encoder_filters[-1], *reversed(encoder_filters[:-1]))
    return conv_decoder(output_shape, latent_dim, param_channels, filters, args["kernel_size"],
                        len(encoder_filters), args["residual_blocks"], dtype, num_classes)  # fmt: skip


def default_classifier(input_shape, num_classes, architecture, dropout=0.0, dtype=None):
    """The classifier `ConditionalVAE` builds when given none: the encoder's layers, then logits."""
    args = _default_arguments(input_shape, architecture)
    if len(input_shape) != 3:
        return mlp_classifier(input_shape, num_classes, args["hidden_units"], dropout, dtype)
    return conv_classifier(input_shape, num_classes, args["encoder_filters"], args["dense_units"],
                           args["kernel_size"], args["residual_blocks"], dropout, dtype)  # fmt: skip


def check_architecture(architecture):
    """The default networks' arguments, checked under their `VAE` names."""
    checked = {}
    for name, value in architecture.items():
        if name.endswith(("_filters", "_units")) and name != "dense_units":
            checked[name] = validation.check_widths(name, value, allow_empty=name == "hidden_units")
        else:
            checked[name] = validation.check_int(name, value, minimum=1 if name == "kernel_size" else 0)
    return checked


def _default_arguments(shape, architecture):
    allowed = CONV_ARGUMENTS if len(shape) == 3 else MLP_ARGUMENTS
    wrong = sorted(set(architecture) - set(allowed))
    if wrong:
        kind = "conv" if len(shape) == 3 else "MLP"
        raise validation.invalid(wrong[0], f"one of {sorted(allowed)} for the default {kind} "
                                 f"networks of data shaped {tuple(shape)}", architecture[wrong[0]])  # fmt: skip
    return {**allowed, **architecture}


def check_conv_shape(shape, num_downsamplings):
    """Returns `shape` as (H, W, C) with H and W divisible by 2 ** num_downsamplings, or raises."""
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else shape
    if not (isinstance(shape, tuple) and len(shape) == 3 and all(validation.is_int(d) and d > 0 for d in shape)):
        raise validation.invalid(
            "input_shape", "(height, width, channels) of positive ints for the conv networks", shape
        )
    factor = 2**num_downsamplings
    if shape[0] % factor or shape[1] % factor:
        raise validation.invalid(
            "input_shape", f"height and width divisible by {factor} (the conv encoder has "
            f"{num_downsamplings} stride-2 convs)", shape,
        )
    return tuple(int(d) for d in shape)


def inspect_encoder(encoder, input_shape, num_classes=0):
    """Runs `encoder` on a probe batch: returns (input_shape, latent_dim, split, context_dim).

    `split` is True when the encoder returns one tensor of width 2 * latent_dim;
    `context_dim` is the width of a third output h (a flow's context), else 0.
    The input shape is read from the encoder when it has one (a functional or
    Sequential model), else `input_shape` is required. With `num_classes`, the
    encoder takes `[x, labels]`, labels one-hot (batch, num_classes).
    """
    known = _input_shape(encoder, num_classes)
    if num_classes and known is None and _declared_inputs(encoder) == 1:
        raise ValueError(
            "Invalid value received for argument encoder. Expected a network taking [x, labels] "
            f"(labels one-hot, shape (batch, {num_classes})) for q(z|x, y). Received: an encoder "
            f"with one input, of shape {tuple(encoder.inputs[0].shape)}"
        )
    if known is not None and input_shape is not None and tuple(input_shape) != known:
        raise ValueError(
            f"Invalid value received for argument input_shape. Expected the encoder's input "
            f"shape {known}. Received: input_shape={tuple(input_shape)}"
        )
    input_shape = known if known is not None else input_shape
    if input_shape is None:
        raise ValueError(
            "Invalid value received for argument input_shape. Expected one example's shape: "
            f"the encoder ({type(encoder).__name__}) does not declare its input shape. "
            "Received: input_shape=None"
        )
    input_shape = validation.check_widths("input_shape", input_shape)
    probe = _with_probe_labels(np.zeros((2, *input_shape), np.float32), num_classes)
    try:
        outputs = encoder(probe, training=False)
    except Exception as error:
        if not num_classes:
            raise
        raise ValueError(
            "Invalid value received for argument encoder. Expected a network taking "
            f"[x, labels] (labels one-hot, shape (batch, {num_classes})) for q(z|x, y). "
            f"Received: an encoder that fails on them: {str(error).splitlines()[0]}"
        ) from None
    shapes = [tuple(t.shape) for t in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]
    if len(shapes) in (2, 3) and shapes[0] == shapes[1] and all(len(s) == 2 for s in shapes):
        return input_shape, shapes[0][1], False, shapes[2][1] if len(shapes) == 3 else 0
    if len(shapes) == 1 and len(shapes[0]) == 2 and shapes[0][1] % 2 == 0:
        return input_shape, shapes[0][1] // 2, True, 0
    raise ValueError(
        "Invalid value received for argument encoder. Expected outputs [z_mean, z_log_var] of "
        "shape (batch, latent_dim) each (and optionally a flow's context h (batch, H)), or one "
        "tensor (batch, 2 * latent_dim) (an even width). "
        f"Received: an encoder whose outputs have shapes {_shapes(shapes)} for input shape "
        f"{(None, *input_shape)}"
    )


def check_decoder(decoder, latent_dim, output_shape, num_classes=0):
    """Raises unless `decoder` maps (batch, latent_dim) (and labels) to (batch, *output_shape)."""
    takes = f"z of shape (batch, {latent_dim}) (the encoder's latent width)"
    if num_classes:
        takes = f"[z, labels]: {takes}, labels one-hot (batch, {num_classes})"
    try:
        params = decoder(_with_probe_labels(np.zeros((2, latent_dim), np.float32), num_classes),
                         training=False)  # fmt: skip
    except Exception as error:  # a decoder built for another latent width fails here
        raise ValueError(
            f"Invalid value received for argument decoder. Expected a network taking {takes}. "
            f"Received: a decoder that fails on it: {str(error).splitlines()[0]}"
        ) from None
    got = tuple(params.shape[1:]) if hasattr(params, "shape") else None
    if got != tuple(output_shape):
        raise ValueError(
            "Invalid value received for argument decoder. Expected outputs of shape "
            f"{(None, *output_shape)} (the likelihood's parameters for data of the encoder's "
            f"input shape). Received: a decoder whose output has shape "
            f"{_shapes([(None, *got)]) if got is not None else type(params).__name__}"
        )


def check_classifier(classifier, input_shape, num_classes):
    """Raises unless `classifier` maps (batch, *input_shape) to logits (batch, num_classes)."""
    if not isinstance(classifier, keras.layers.Layer):
        raise validation.invalid("classifier", "a Keras model or layer, or None", classifier)
    try:
        logits = classifier(np.zeros((2, *input_shape), np.float32), training=False)
        got = tuple(logits.shape)
    except Exception as error:
        got = f"an error: {str(error).splitlines()[0]}"
    if got != (2, num_classes):
        raise ValueError(
            "Invalid value received for argument classifier. Expected logits of shape "
            f"(None, {num_classes}) (num_classes) for data of shape {(None, *input_shape)}. "
            f"Received: a classifier whose output is {_shapes([got]) if isinstance(got, tuple) else got}"
        )


def decoder_latent_dim(decoder, num_classes=0):
    """The latent width a functional decoder declares, or None."""
    shape = _input_shape(decoder, num_classes)
    return shape[0] if shape is not None and len(shape) == 1 else None


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


def _with_probe_labels(x, num_classes):
    if not num_classes:
        return x
    return [x, np.eye(num_classes, dtype=np.float32)[np.arange(len(x)) % num_classes]]


def _shapes(shapes):
    return ", ".join(str((None, *s[1:])) for s in shapes)


def _conv_features(images, filters, kernel_size, residual_blocks, dtype):
    x = images
    for i, width in enumerate(filters):
        x = layers.Conv2D(width, kernel_size, strides=2, padding="same", activation="relu",
                          dtype=dtype, name=f"conv_{i}")(x)  # fmt: skip
        x = _residual_blocks(x, residual_blocks, kernel_size, dtype, name=f"conv_{i}")
    return layers.Flatten(dtype=dtype, name="flatten")(x)


def _mlp_features(input_shape, hidden_units, dtype, num_classes=0):
    input_shape = validation.check_widths("input_shape", input_shape)
    hidden_units = validation.check_widths("hidden_units", hidden_units, allow_empty=True)
    x = data = keras.Input(shape=input_shape, name="x")
    if len(input_shape) > 1:
        x = layers.Flatten(dtype=dtype, name="flatten")(x)
    inputs, x = _with_labels(data, x, num_classes, dtype)
    for i, units in enumerate(hidden_units):
        x = layers.Dense(units, activation="relu", dtype=dtype, name=f"hidden_{i}")(x)
    return inputs, x


def _with_labels(first_input, x, num_classes, dtype):
    """(inputs, x): with classes, a one-hot `labels` input joined to the features x."""
    if not num_classes:
        return first_input, x
    labels = keras.Input(shape=(num_classes,), name="labels")
    joined = layers.Concatenate(dtype=dtype, name="with_labels")([x, labels])
    return [first_input, labels], joined


def _logits(x, num_classes, dropout, dtype):
    if dropout:
        x = layers.Dropout(dropout, dtype=dtype, name="dropout")(x)
    return layers.Dense(num_classes, dtype="float32", name="logits")(x)


def _heads(x, latent_dim, context_dim=0):
    z_mean = layers.Dense(latent_dim, dtype="float32", name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, dtype="float32", name="z_log_var_raw")(x)
    heads = [z_mean, ClampLogVariance(dtype="float32", name="z_log_var")(z_log_var)]
    if context_dim:
        heads.append(layers.Dense(context_dim, dtype="float32", name="context")(x))
    return heads


def _residual_blocks(x, count, kernel_size, dtype, name):
    """`count` blocks of x + conv(relu(conv(x))), keeping the width and the size."""
    width = x.shape[-1]
    for j in range(count):
        h = layers.Conv2D(width, kernel_size, padding="same", activation="relu", dtype=dtype,
                          name=f"{name}_res{j}_a")(x)  # fmt: skip
        h = layers.Conv2D(width, kernel_size, padding="same", dtype=dtype, name=f"{name}_res{j}_b")(h)
        x = layers.Activation("relu", dtype=dtype, name=f"{name}_res{j}_relu")(
            layers.Add(dtype=dtype, name=f"{name}_res{j}_add")([x, h])
        )
    return x


__getattr__ = _compat.renamed('keras_vae.models.networks')  # names removed in 0.2, and their replacements
