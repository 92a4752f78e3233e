"""Named presets: complete, buildable configurations."""

import json

import keras
import numpy as np
import pytest

import keras_vae
from keras_vae import cli, presets


@pytest.mark.parametrize("name", sorted(presets.PRESETS))
def test_every_preset_builds_a_compiled_model(name):
    model = presets.build(name, seed=0)
    assert isinstance(model, keras_vae.VAE) and model.compiled
    config = presets.get(name)["model"]
    assert model.latent_dim == config["latent_dim"]
    images = np.random.default_rng(0).uniform(size=(2, *model.data_shape)).astype("float32")
    assert model.reconstruct(images).shape == (2, *model.data_shape)


def test_keras_example_preset_is_the_docs_architecture():
    model = presets.build("keras_example")
    assert model.latent_dim == 2
    assert model.encoder.get_layer("hidden").units == 16
    assert [l.filters for l in model.decoder.layers if hasattr(l, "filters")] == [64, 32, 1]


def test_overrides_and_unknown_names():
    assert presets.build("mnist", latent_dim=64).latent_dim == 64
    assert float(keras.ops.convert_to_numpy(
        presets.build("mnist", learning_rate=3e-4).optimizer.learning_rate)) == pytest.approx(3e-4)
    with pytest.raises(ValueError, match="name='mnist2'"):
        presets.build("mnist2")


def test_cli_preset_with_a_flag_overriding_it(tmp_path):
    run = tmp_path / "run"
    args = ["train", "--preset", "keras_example", "--epochs", "1", "--num-examples", "128",
            "--batch-size", "64", "--beta", "0.5", "--verbose", "0", "--export-dir", "",
            "--lr-schedule", "cosine", "--out", str(run)]  # fmt: skip
    assert cli.main(args) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["preset"] == "keras_example" and config["latent_dim"] == 2
    assert config["beta"] == 0.5 and config["epochs"] == 1 and config["lr_schedule"] == "cosine"
    model = keras.models.load_model(run / "model.keras", safe_mode=True)
    assert model.encoder.get_layer("hidden").units == 16 and model.beta == 0.5


def test_a_run_from_a_preset_takes_its_whole_recipe():
    from keras_vae import training

    recipe = presets.get("mnist")["train"]
    config = training.config_for("unused", preset="mnist")
    assert (config.lr_schedule, config.batch_size, config.epochs, config.binarize) == (
        recipe["lr_schedule"], recipe["batch_size"], recipe["epochs"], recipe["binarize"]
    )
    assert training.config_for("unused", preset="mnist", lr_schedule="constant").lr_schedule == "constant"


@pytest.mark.parametrize("flag, binarize", [([], True), (["--no-binarize"], False)])
def test_cli_flags_can_switch_a_preset_setting_off(flag, binarize):
    from keras_vae import training

    args = cli._parser().parse_args(["train", "--preset", "mnist", "--out", "unused", *flag])
    config = training.config_for(args.out, preset=args.preset, **cli._given_settings(args))
    assert config.binarize is binarize and config.lr_schedule == "cosine"
