"""Named, complete configurations: the model and how to train it.

    model = keras_vae.presets.build("mnist")                 # a compiled VAE
    keras-vae train --preset mnist --dataset mnist --out runs/mnist

Each preset holds `model` (VAE arguments) and `train` (the training settings it was
tuned with: learning rate and its schedule, batch size, epochs, dynamic binarization).
"""

import copy

from keras_vae import checks, optimizers
from keras_vae.model import VAE

PRESETS = {
    # The Keras documentation's example (keras.io/examples/generative/vae), rebuilt.
    "keras_example": {
        "model": dict(
            input_shape=(28, 28, 1), latent_dim=2, dense_units=16,
            encoder_filters=(32, 64), decoder_filters=(64, 64, 32),
        ),  # fmt: skip
        "train": dict(learning_rate=1e-3, batch_size=128, epochs=30, binarize=False),
    },
    # Our MNIST model (benchmarks/quality.py): IWAE (k=4) on dynamically binarized digits,
    # a 32-d latent, a 512-unit encoder layer and a decoder with two stride-2 transposed
    # convs (64, 32); small batches and a cosine-decayed rate. Residual blocks were left out:
    # one per stage made an epoch over 3x slower, too slow for the time target.
    "mnist": {
        "model": dict(
            input_shape=(28, 28, 1), latent_dim=32, dense_units=512,
            encoder_filters=(32, 64), decoder_filters=(64, 64, 32),
            objective="iwae", num_samples=4,
        ),  # fmt: skip
        "train": dict(
            learning_rate=1e-3, lr_schedule="cosine", batch_size=32, epochs=45, binarize=True,
        ),  # fmt: skip
    },
    # Colour 32x32 (CIFAR-10): 8-bit discretized logistic likelihood, reports bits/dim.
    "cifar10": {
        "model": dict(
            input_shape=(32, 32, 3), likelihood="logistic", latent_dim=128, dense_units=1024,
            encoder_filters=(64, 128, 256), residual_blocks=1, kl_warmup_steps=2000,
        ),  # fmt: skip
        "train": dict(learning_rate=5e-4, batch_size=64, epochs=50, binarize=False),
    },
}


def get(name):
    """A deep copy of preset `name`: `{"model": {...}, "train": {...}}`."""
    if name not in PRESETS:
        raise ValueError(
            f"Invalid value received for argument name. Expected one of {sorted(PRESETS)}. "
            f"Received: name={name!r}"
        )
    return copy.deepcopy(PRESETS[name])


def build(name, learning_rate=None, steps_per_epoch=None, **overrides):
    """Returns a compiled `VAE` for preset `name`, with `overrides` of its model arguments.

    Args:
        name: a key of `PRESETS`.
        learning_rate: Adam's (initial) learning rate (default: the preset's).
        steps_per_epoch: batches per epoch of your training data. With it, a preset
            whose `lr_schedule` decays runs that schedule over its `epochs`; without
            it the learning rate stays constant.
        **overrides: `VAE` arguments that replace the preset's (e.g. `latent_dim=64`).

    Example:

    >>> model = build("keras_example", seed=0)
    >>> model.latent_dim
    2
    """
    preset = get(name)
    if steps_per_epoch is not None:
        checks.check_int("steps_per_epoch", steps_per_epoch, minimum=1)
    model = VAE(**{**preset["model"], **overrides})
    train = preset["train"]
    schedule = train.get("lr_schedule", "constant") if steps_per_epoch else "constant"
    decay_steps = train["epochs"] * steps_per_epoch if steps_per_epoch else None
    optimizer = optimizers.adam(learning_rate or train["learning_rate"], schedule, decay_steps)
    model.compile(optimizer=optimizer)
    return model
