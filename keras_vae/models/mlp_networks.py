"""The default networks for vectors (D,) and sequences (T, C): fully connected layers."""

import math

import keras
from keras import layers

from keras_vae import validation
from keras_vae.models import network_layers


def mlp_encoder(
    input_shape, latent_dim, hidden_units=(256, 128), dtype=None, num_classes=0, context_dim=0
):
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

    Examples:

        >>> mlp_encoder((30,), latent_dim=4).output_shape
        [(None, 4), (None, 4)]
    """
    inputs, x = _mlp_features(input_shape, hidden_units, dtype, num_classes)
    return keras.Model(inputs, network_layers.heads(x, latent_dim, context_dim), name="encoder")


def mlp_classifier(input_shape, num_classes, hidden_units=(256, 128), dropout=0.0, dtype=None):
    """Fully connected classifier q(y|x): x -> float32 logits (batch, classes).

    Examples:

        >>> mlp_classifier((30,), num_classes=3).output_shape
        (None, 3)
    """
    inputs, x = _mlp_features(input_shape, hidden_units, dtype)
    return keras.Model(
        inputs, network_layers.logits(x, num_classes, dropout, dtype), name="classifier"
    )


def mlp_decoder(
    output_shape, latent_dim, param_channels, hidden_units=(128, 256), dtype=None, num_classes=0
):
    """Fully connected decoder: z -> parameters of shape (*output_shape[:-1], param_channels).

    Args:
        output_shape: one example's shape, e.g. (30,) or (steps, channels).
        latent_dim: latent dimensions.
        param_channels: last-axis size of the output: `output_shape[-1]` x the likelihood's
            parameters per channel.
        hidden_units: widths of the hidden ReLU layers.
        dtype: dtype policy of the hidden layers; the output layer is float32.
        num_classes: 0, or the classes C of p(x|y, z): the decoder then takes `[z, labels]`.

    Examples:

        >>> mlp_decoder((30,), latent_dim=4, param_channels=30).output_shape
        (None, 30)
    """
    output_shape = validation.check_widths("output_shape", output_shape)
    hidden_units = validation.check_widths("hidden_units", hidden_units, allow_empty=True)
    z = keras.Input(shape=(latent_dim,), name="z")
    inputs, x = network_layers.with_labels(z, z, num_classes, dtype)
    for i, units in enumerate(hidden_units):
        x = layers.Dense(units, activation="relu", dtype=dtype, name=f"hidden_{i}")(x)
    shape = (*output_shape[:-1], param_channels)
    x = layers.Dense(math.prod(shape), dtype="float32", name="params")(x)
    if len(shape) > 1:
        x = layers.Reshape(shape, dtype="float32", name="reshape")(x)
    return keras.Model(inputs, x, name="decoder")


def _mlp_features(input_shape, hidden_units, dtype, num_classes=0):
    input_shape = validation.check_widths("input_shape", input_shape)
    hidden_units = validation.check_widths("hidden_units", hidden_units, allow_empty=True)
    x = data = keras.Input(shape=input_shape, name="x")
    if len(input_shape) > 1:
        x = layers.Flatten(dtype=dtype, name="flatten")(x)
    inputs, x = network_layers.with_labels(data, x, num_classes, dtype)
    for i, units in enumerate(hidden_units):
        x = layers.Dense(units, activation="relu", dtype=dtype, name=f"hidden_{i}")(x)
    return inputs, x
