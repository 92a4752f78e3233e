"""Named presets: complete, buildable configurations."""

import json

import keras
import numpy as np
import pytest

import keras_vae
from keras_vae import cli, presets


@pytest.mark.parametrize("name", sorted(presets.PRESETS))
def test_every_preset_builds_the_compiled_model_it_names(name):
    recipe = presets.get(name)
    model = keras_vae.LatentVariableModel.from_preset(name, seed=0)
    assert type(model).__name__ == recipe["model"] and model.compiled
    top = recipe["latent_dims"][-1] if "latent_dims" in recipe else recipe["latent_dim"]
    assert model.latent_dim == top and model.data_shape == recipe["input_shape"]
    if "latent_dims" in recipe:  # a hierarchy: each layer's q is Gaussian
        assert tuple(model.latent_layers.values()) == recipe["latent_dims"]
    else:
        assert model.posterior.alias == recipe.get("posterior", "gaussian")
    images = np.random.default_rng(0).uniform(size=(2, *model.data_shape)).astype("float32")
    assert model.reconstruct(images).shape == (2, *model.data_shape)


def test_presets_are_data_and_make_no_import_circle():
    import ast
    import os

    source = open(os.path.join(os.path.dirname(keras_vae.models.__file__), "presets.py")).read()
    imported = [
        n for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.Import, ast.ImportFrom))
    ]
    assert all(
        getattr(n, "module", "") in ("copy", "keras_vae") or n.names[0].name == "copy"
        for n in imported
    )
    assert all(
        isinstance(v, (str, int, float, bool, tuple))
        for p in presets.PRESETS.values()
        for v in p.values()
    )


def test_keras_example_preset_is_the_docs_architecture():
    model = keras_vae.VAE.from_preset("keras_example")
    assert model.latent_dim == 2
    assert model.encoder.get_layer("hidden").units == 16
    assert [layer.filters for layer in model.decoder.layers if hasattr(layer, "filters")] == [
        64,
        32,
        1,
    ]


def test_overrides_and_unknown_names():
    assert keras_vae.VAE.from_preset("mnist", latent_dim=64).latent_dim == 64
    rate = keras_vae.VAE.from_preset("mnist", learning_rate=3e-4).optimizer.learning_rate
    assert float(keras.ops.convert_to_numpy(rate)) == pytest.approx(3e-4)
    with pytest.raises(ValueError, match="name='mnist2'"):
        keras_vae.VAE.from_preset("mnist2")
    with pytest.raises(ValueError, match=r"num_classes\. Expected None for a VAE"):
        keras_vae.VAE.from_preset("mnist", num_classes=3)


def test_cli_preset_with_a_flag_overriding_it(tmp_path):
    run = tmp_path / "run"
    args = [
        "train",
        "--preset",
        "keras_example",
        "--epochs",
        "1",
        "--num-examples",
        "128",
        "--batch-size",
        "64",
        "--beta",
        "0.5",
        "--verbose",
        "0",
        "--export-dir",
        "",
        "--lr-schedule",
        "cosine",
        "--out",
        str(run),
    ]
    assert cli.main(args) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["preset"] == "keras_example" and config["latent_dim"] == 2
    assert config["beta"] == 0.5 and config["epochs"] == 1 and config["lr_schedule"] == "cosine"
    model = keras.models.load_model(run / "model.keras", safe_mode=True)
    assert model.encoder.get_layer("hidden").units == 16 and model.objective.beta == 0.5


def test_a_run_from_a_preset_takes_its_whole_recipe():
    from keras_vae import training

    recipe = presets.get("mnist")
    config = training.config_for("unused", preset="mnist")
    assert (config.lr_schedule, config.batch_size, config.epochs, config.binarize) == (
        recipe["lr_schedule"],
        recipe["batch_size"],
        recipe["epochs"],
        recipe["binarize"],
    )
    assert (
        training.config_for("unused", preset="mnist", lr_schedule="constant").lr_schedule
        == "constant"
    )


@pytest.mark.parametrize("flag, binarize", [([], True), (["--no-binarize"], False)])
def test_cli_flags_can_switch_a_preset_setting_off(flag, binarize):
    from keras_vae import training

    args = cli._parser().parse_args(["train", "--preset", "mnist", "--out", "unused", *flag])
    config = training.config_for(args.out, preset=args.preset, **cli._given_settings(args))
    assert config.binarize is binarize and config.lr_schedule == "cosine"
