"""The optimizer of the presets, `training.train` and the CLI: Adam, constant or cosine-decayed."""

import keras

from keras_vae import validation

SCHEDULES = ("constant", "cosine")


def for_run(learning_rate, schedule, epochs, steps_per_epoch=None):
    """`adam` for a run of `epochs` epochs: a decay spans them all; constant without
    `steps_per_epoch` (the decay's length is then unknown)."""
    if not steps_per_epoch:
        return adam(learning_rate)
    return adam(learning_rate, schedule, epochs * steps_per_epoch)


def adam(learning_rate=1e-3, schedule="constant", decay_steps=None):
    """`keras.optimizers.Adam` at `learning_rate`, constant or decayed to 0 by a cosine.

    Args:
        learning_rate: the (initial) learning rate, > 0.
        schedule: `"constant"`, or `"cosine"` (Loshchilov & Hutter's decay, no restarts,
            from `learning_rate` to 0 over `decay_steps` optimizer steps).
        decay_steps: length of the cosine decay, usually epochs x steps per epoch. The
            rate stays at 0 after it (e.g. for the repeated part of an epoch that a
            mid-epoch resume runs again).

    Examples:

        >>> round(float(adam(1e-3, "cosine", decay_steps=100).learning_rate), 6)
        0.001
    """
    validation.check_float("learning_rate", learning_rate, positive=True)
    validation.check_choice("schedule", schedule, SCHEDULES)
    if schedule == "constant":
        return keras.optimizers.Adam(learning_rate)
    validation.check_int("decay_steps", decay_steps, minimum=1)
    rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=decay_steps)
    return keras.optimizers.Adam(rate)
