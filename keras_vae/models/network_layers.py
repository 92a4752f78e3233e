"""Pieces the default networks share: the latent heads, the labels input, the logits."""

import keras
from keras import layers

from keras_vae.models.layers import ClampLogVariance


def with_labels(first_input, x, num_classes, dtype):
    """(inputs, x): with classes, a one-hot `labels` input joined to the features x."""
    if not num_classes:
        return first_input, x
    labels = keras.Input(shape=(num_classes,), name="labels")
    joined = layers.Concatenate(dtype=dtype, name="with_labels")([x, labels])
    return [first_input, labels], joined


def logits(x, num_classes, dropout, dtype):
    if dropout:
        x = layers.Dropout(dropout, dtype=dtype, name="dropout")(x)
    return layers.Dense(num_classes, dtype="float32", name="logits")(x)


def heads(x, latent_dim, context_dim=0):
    z_mean = layers.Dense(latent_dim, dtype="float32", name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, dtype="float32", name="z_log_var_raw")(x)
    heads = [z_mean, ClampLogVariance(dtype="float32", name="z_log_var")(z_log_var)]
    if context_dim:
        heads.append(layers.Dense(context_dim, dtype="float32", name="context")(x))
    return heads
