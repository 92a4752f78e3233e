"""The learning-rate schedules every entry point shares."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae
from keras_vae import optimizers, presets, training


def _rate(optimizer, step):
    """The learning rate at `step` (through VAE.compile's LossScaleOptimizer wrapper)."""
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    rate = keras.saving.deserialize_keras_object(optimizer.get_config()["learning_rate"])
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        rate = rate(step)
    return float(keras.ops.convert_to_numpy(rate))


def test_cosine_decays_from_the_rate_to_zero_over_decay_steps():
    optimizer = optimizers.adam(1e-3, "cosine", decay_steps=100)
    rates = [_rate(optimizer, step) for step in (0, 50, 100, 150)]
    assert rates[0] == pytest.approx(1e-3)
    assert rates[1] == pytest.approx(5e-4, rel=1e-4)  # half-way down a cosine
    assert rates[2] == pytest.approx(0.0, abs=1e-9) and rates[3] == pytest.approx(0.0, abs=1e-9)


def test_constant_is_plain_adam():
    optimizer = optimizers.adam(3e-4)
    assert isinstance(optimizer, keras.optimizers.Adam)
    assert _rate(optimizer, 10_000) == pytest.approx(3e-4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(learning_rate=0.0), "learning_rate=0.0"),
        (dict(learning_rate=float("nan")), "learning_rate=nan"),
        (dict(schedule="linear"), "schedule='linear'"),
        (dict(schedule="cosine"), "decay_steps=None"),
        (dict(schedule="cosine", decay_steps=0), "decay_steps=0"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        optimizers.adam(**kwargs)


def test_preset_schedule_runs_over_its_epochs_when_steps_are_given():
    epochs = presets.get("mnist")["epochs"]
    model = keras_vae.VAE.from_preset("mnist", steps_per_epoch=10)
    assert _rate(model.optimizer, 0) > 0
    assert _rate(model.optimizer, 10 * epochs) == pytest.approx(0.0, abs=1e-9)
    constant = keras_vae.VAE.from_preset("mnist")  # no data size known: constant rate
    assert _rate(constant.optimizer, 10 * epochs) == _rate(constant.optimizer, 0)


def test_training_decays_over_the_whole_run(tmp_path):
    config = training.TrainConfig(
        out=str(tmp_path / "run"),
        num_examples=256,
        batch_size=64,
        epochs=2,
        latent_dim=2,
        lr_schedule="cosine",
        images=False,
        verbose=0,
    )
    result = training.train(config)
    optimizer = result["model"].optimizer
    steps = int(optimizer.iterations.numpy())
    assert steps == 2 * 256 // 64
    assert _rate(optimizer, steps) == pytest.approx(0.0, abs=1e-9)
    assert _rate(optimizer, steps // 2) == pytest.approx(5e-4, rel=1e-3)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["lr_schedule"] == "cosine"
    assert np.isfinite(result["metrics"]["loss"])


@pytest.mark.parametrize(
    "dataset, size",
    [
        (tf.data.Dataset.range(8).filter(lambda i: i % 2 == 0).batch(2), "unknown"),
        (tf.data.Dataset.range(8).batch(2).repeat(), "infinite"),
    ],
)
def test_a_decay_needs_a_dataset_of_known_size(dataset, size):
    assert training.run._steps_per_epoch(tf.data.Dataset.range(8).batch(3)) == 3
    with pytest.raises(
        ValueError, match=f"lr_schedule. Expected 'constant'.*Received: a dataset of {size} size"
    ):
        training.run._steps_per_epoch(dataset)


def test_preset_steps_per_epoch_is_checked():
    with pytest.raises(ValueError, match="steps_per_epoch=0"):
        keras_vae.VAE.from_preset("mnist", steps_per_epoch=0)


def test_unknown_schedule_in_the_config_is_named():
    with pytest.raises(ValueError, match="lr_schedule='step'"):
        training.TrainConfig(out="unused", lr_schedule="step")
