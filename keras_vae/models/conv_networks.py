"""The default networks for images (H, W, C): stride-2 convs down, transposed convs up."""

import keras
from keras import layers

from keras_vae import validation
from keras_vae.models import network_layers


def conv_encoder(
    input_shape,
    latent_dim,
    filters=(32, 64),
    dense_units=256,
    kernel_size=3,
    residual_blocks=0,
    dtype=None,
    num_classes=0,
    context_dim=0,
):
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
            conditions an inverse autoregressive flow.

    Examples:

        >>> conv_encoder((28, 28, 1), latent_dim=2).output_shape
        [(None, 2), (None, 2)]
    """
    filters = validation.check_widths("filters", filters)
    input_shape = check_conv_shape(input_shape, len(filters))
    images = keras.Input(shape=input_shape, name="images")
    x = _conv_features(images, filters, kernel_size, residual_blocks, dtype)
    inputs, x = network_layers.with_labels(images, x, num_classes, dtype)
    if dense_units:
        x = layers.Dense(dense_units, activation="relu", dtype=dtype, name="hidden")(x)
    return keras.Model(inputs, network_layers.heads(x, latent_dim, context_dim), name="encoder")


def conv_classifier(
    input_shape,
    num_classes,
    filters=(32, 64),
    dense_units=256,
    kernel_size=3,
    residual_blocks=0,
    dropout=0.0,
    dtype=None,
):
    """Convolutional classifier q(y|x) for images: (H, W, C) -> float32 logits (batch, classes).

    The layers of `conv_encoder`, with `dropout` before the float32 logits layer.

    Examples:

        >>> conv_classifier((28, 28, 1), num_classes=10).output_shape
        (None, 10)
    """
    filters = validation.check_widths("filters", filters)
    input_shape = check_conv_shape(input_shape, len(filters))
    images = keras.Input(shape=input_shape, name="images")
    x = _conv_features(images, filters, kernel_size, residual_blocks, dtype)
    if dense_units:
        x = layers.Dense(dense_units, activation="relu", dtype=dtype, name="hidden")(x)
    return keras.Model(
        images, network_layers.logits(x, num_classes, dropout, dtype), name="classifier"
    )


def conv_decoder(
    output_shape,
    latent_dim,
    param_channels,
    filters=None,
    kernel_size=3,
    num_upsamplings=2,
    residual_blocks=0,
    dtype=None,
    num_classes=0,
):
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

    Examples:

        >>> conv_decoder((28, 28, 1), latent_dim=2, param_channels=1).output_shape
        (None, 28, 28, 1)
    """
    filters = validation.check_widths("decoder_filters", filters or (64, 32))
    if len(filters) - 1 not in (num_upsamplings - 1, num_upsamplings):
        raise validation.invalid(
            "decoder_filters",
            f"{num_upsamplings} or {num_upsamplings + 1} entries (a projection width, then one "
            "per stride-2 transposed conv; with one entry fewer the output conv upsamples)",
            filters,
        )
    output_shape = check_conv_shape(output_shape, num_upsamplings)
    factor = 2**num_upsamplings
    height, width = output_shape[0] // factor, output_shape[1] // factor
    z = keras.Input(shape=(latent_dim,), name="z")
    inputs, x = network_layers.with_labels(z, z, num_classes, dtype)
    x = layers.Dense(height * width * filters[0], activation="relu", dtype=dtype, name="project")(x)
    x = layers.Reshape((height, width, filters[0]), dtype=dtype, name="reshape")(x)
    x = _residual_blocks(x, residual_blocks, kernel_size, dtype, name="reshape")
    for i, channels in enumerate(filters[1:]):
        x = layers.Conv2DTranspose(
            channels,
            kernel_size,
            strides=2,
            padding="same",
            activation="relu",
            dtype=dtype,
            name=f"deconv_{i}",
        )(x)
        x = _residual_blocks(x, residual_blocks, kernel_size, dtype, name=f"deconv_{i}")
    stride = 2 if num_upsamplings > len(filters) - 1 else 1
    params = layers.Conv2DTranspose(
        param_channels, kernel_size, strides=stride, padding="same", dtype="float32", name="params"
    )(x)
    return keras.Model(inputs, params, name="decoder")


def check_conv_shape(shape, num_downsamplings):
    """Returns `shape` as (H, W, C) with H and W divisible by 2 ** num_downsamplings, or raises."""
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else shape
    if not (
        isinstance(shape, tuple)
        and len(shape) == 3
        and all(validation.is_int(d) and d > 0 for d in shape)
    ):
        raise validation.invalid(
            "input_shape", "(height, width, channels) of positive ints for the conv networks", shape
        )
    factor = 2**num_downsamplings
    if shape[0] % factor or shape[1] % factor:
        raise validation.invalid(
            "input_shape",
            f"height and width divisible by {factor} (the conv encoder has {num_downsamplings} "
            "stride-2 convs)",
            shape,
        )
    return tuple(int(d) for d in shape)


def _conv_features(images, filters, kernel_size, residual_blocks, dtype):
    x = images
    for i, width in enumerate(filters):
        x = layers.Conv2D(
            width,
            kernel_size,
            strides=2,
            padding="same",
            activation="relu",
            dtype=dtype,
            name=f"conv_{i}",
        )(x)
        x = _residual_blocks(x, residual_blocks, kernel_size, dtype, name=f"conv_{i}")
    return layers.Flatten(dtype=dtype, name="flatten")(x)


def _residual_blocks(x, count, kernel_size, dtype, name):
    """`count` blocks of x + conv(relu(conv(x))), keeping the width and the size."""
    width = x.shape[-1]
    for j in range(count):
        h = layers.Conv2D(
            width,
            kernel_size,
            padding="same",
            activation="relu",
            dtype=dtype,
            name=f"{name}_res{j}_a",
        )(x)
        h = layers.Conv2D(width, kernel_size, padding="same", dtype=dtype, name=f"{name}_res{j}_b")(
            h
        )
        added = layers.Add(dtype=dtype, name=f"{name}_res{j}_add")([x, h])
        x = layers.Activation("relu", dtype=dtype, name=f"{name}_res{j}_relu")(added)
    return x
