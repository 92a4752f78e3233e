"""The default networks: conv builders for images, MLP builders otherwise, and `build`.

An encoder maps a batch x to `[z_mean, z_log_var]` (and, for a flow posterior, a context
h); a decoder maps z (batch, latent_dim) to the parameters of p(x|z): x's shape with
`param_channels` on the last axis. With `num_classes`, both also take one-hot labels,
and a classifier maps x to logits. The builders return functional Keras models and hold
no training logic; the models take any networks of this form (`network_checks`).
"""

from keras_vae import validation
from keras_vae.models.conv_networks import (
    check_conv_shape,
    conv_classifier,
    conv_decoder,
    conv_encoder,
)
from keras_vae.models.mlp_networks import mlp_classifier, mlp_decoder, mlp_encoder

#: The architecture `build` takes, and its defaults: conv for images, MLP otherwise.
CONV_ARCHITECTURE = dict(
    encoder_filters=(32, 64),
    decoder_filters=None,
    dense_units=256,
    kernel_size=3,
    residual_blocks=0,
)
MLP_ARCHITECTURE = dict(hidden_units=(256, 128))
#: Of the classifier a class-conditional model gets.
CLASSIFIER_ARCHITECTURE = dict(classifier_dropout=0.0)


def build(
    input_shape,
    latent_dim,
    *,
    param_channels=1,
    context_dim=0,
    num_classes=0,
    dtype=None,
    **architecture,
):
    """The default networks for data of `input_shape`: conv for images (H, W, C), else MLP.

    Args:
        input_shape: one example's shape.
        latent_dim: latent dimensions.
        param_channels: the decoder's output channels (the data's channels x the
            likelihood's `params_per_channel`).
        context_dim: the width of a third encoder output for a flow posterior (0: none).
        num_classes: 0, or the classes C of a class-conditional model: the encoder and
            decoder then also take labels one-hot, and a classifier is built.
        dtype: dtype policy of the hidden layers; heads and outputs are float32.
        **architecture: `CONV_ARCHITECTURE` for images or `MLP_ARCHITECTURE` otherwise, and
            `CLASSIFIER_ARCHITECTURE` with classes.

    Returns:
        dict with `encoder`, `decoder` (and `classifier` with classes).

    Examples:

        >>> sorted(build((28, 28, 1), latent_dim=2, num_classes=10))
        ['classifier', 'decoder', 'encoder']
    """
    input_shape = validation.check_widths("input_shape", input_shape)
    latent_dim = validation.check_int("latent_dim", latent_dim, minimum=1)
    args = _architecture(input_shape, architecture, num_classes)
    dropout = args.pop("classifier_dropout", 0.0)
    if len(input_shape) == 3:
        nets = _conv_networks(
            input_shape, latent_dim, param_channels, context_dim, num_classes, dtype, args
        )
    else:
        nets = _mlp_networks(
            input_shape, latent_dim, param_channels, context_dim, num_classes, dtype, args
        )
    if num_classes:
        conv = len(input_shape) == 3
        keys = (
            ("encoder_filters", "dense_units", "kernel_size", "residual_blocks")
            if conv
            else ("hidden_units",)
        )
        classifier = conv_classifier if conv else mlp_classifier
        nets["classifier"] = classifier(
            input_shape, num_classes, *(args[k] for k in keys), dropout=dropout, dtype=dtype
        )
    return nets


def _conv_networks(shape, latent_dim, channels, context_dim, num_classes, dtype, args):
    filters = args["encoder_filters"]
    decoder_filters = args["decoder_filters"] or (filters[-1], *reversed(filters[:-1]))
    common = dict(
        kernel_size=args["kernel_size"], residual_blocks=args["residual_blocks"], dtype=dtype
    )
    encoder = conv_encoder(
        shape,
        latent_dim,
        filters,
        args["dense_units"],
        num_classes=num_classes,
        context_dim=context_dim,
        **common,
    )
    decoder = conv_decoder(
        shape,
        latent_dim,
        channels,
        decoder_filters,
        num_upsamplings=len(filters),
        num_classes=num_classes,
        **common,
    )
    return {"encoder": encoder, "decoder": decoder}


def _mlp_networks(shape, latent_dim, channels, context_dim, num_classes, dtype, args):
    hidden = args["hidden_units"]
    encoder = mlp_encoder(shape, latent_dim, hidden, dtype, num_classes, context_dim)
    decoder = mlp_decoder(shape, latent_dim, channels, tuple(reversed(hidden)), dtype, num_classes)
    return {"encoder": encoder, "decoder": decoder}


def _architecture(shape, architecture, num_classes):
    """The architecture's arguments for data of `shape`, checked, over their defaults."""
    allowed = {**(CONV_ARCHITECTURE if len(shape) == 3 else MLP_ARCHITECTURE)}
    if num_classes:
        allowed.update(CLASSIFIER_ARCHITECTURE)
    wrong = sorted(set(architecture) - set(allowed))
    if wrong:
        kind = "conv" if len(shape) == 3 else "MLP"
        networks = f"the default {kind} networks of data shaped {tuple(shape)}"
        if wrong[0] in CLASSIFIER_ARCHITECTURE:
            networks = "a model with classes (its classifier)"
        raise validation.invalid(
            wrong[0], f"one of {sorted(allowed)} for {networks}", architecture[wrong[0]]
        )
    return {**allowed, **check_architecture(architecture)}


def check_architecture(architecture):
    """The default networks' arguments, checked under their names."""
    checked = {}
    for name, value in architecture.items():
        if name == "classifier_dropout":
            rate = validation.check_float(name, value)
            if rate >= 1.0:
                raise validation.invalid(name, "a rate in [0, 1)", value)
            checked[name] = rate
        elif name.endswith(("_filters", "_units")) and name != "dense_units":
            if name == "decoder_filters" and value is None:
                checked[name] = None
            else:
                checked[name] = validation.check_widths(
                    name, value, allow_empty=name == "hidden_units"
                )
        else:
            checked[name] = validation.check_int(
                name, value, minimum=1 if name == "kernel_size" else 0
            )
    return checked


__all__ = [
    "build",
    "check_architecture",
    "CONV_ARCHITECTURE",
    "MLP_ARCHITECTURE",
    "CLASSIFIER_ARCHITECTURE",
    "conv_encoder",
    "conv_decoder",
    "conv_classifier",
    "check_conv_shape",
    "mlp_encoder",
    "mlp_decoder",
    "mlp_classifier",
]
