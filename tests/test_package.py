"""The package's shape: its public API, its old import paths, its CLI generated from TrainConfig."""

import ast
import dataclasses
import glob
import os
import re
import subprocess
import sys

import pytest

import keras_vae
from keras_vae import cli, training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(keras_vae.__file__)))


def test_init_docstring_all_and_imports_agree():
    documented = re.findall(r"^    keras_vae\.(\w+)", keras_vae.__doc__, flags=re.MULTILINE)
    assert documented == keras_vae.__all__
    assert all(hasattr(keras_vae, name) for name in keras_vae.__all__)
    source = open(keras_vae.__file__, encoding="utf-8").read()
    assert len(source.splitlines()) <= 70  # one screen
    imported = {
        a.asname or a.name
        for n in ast.parse(source).body
        if isinstance(n, ast.ImportFrom)
        for a in n.names
    }
    assert imported == set(keras_vae.__all__)  # every public name imported, nothing more


def test_importing_does_not_touch_the_environment():
    # Keras's own import sets variables (TensorFlow's, and JAX's and scikit-learn's when
    # they are installed): keras_vae's must add none.
    code = "import os, keras; e = dict(os.environ); import keras_vae; print(dict(os.environ) == e)"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, cwd=ROOT
    )
    assert result.stdout.strip().splitlines()[-1] == "True", result.stderr[-1000:]


def _sources():
    return sorted(glob.glob(os.path.join(ROOT, "keras_vae", "**", "*.py"), recursive=True))


def test_no_private_keras_or_tensorflow_api():
    private = re.compile(
        r"keras\.src|tensorflow\.python|tensorflow\.core|\bdef _save_model|"
        r"_weights_path|_initial_epoch|summary_pb2|_compile_metrics|_learning_rate"
    )
    offenders = [
        f"{path}: {line.strip()}"
        for path in _sources()
        for line in open(path, encoding="utf-8")
        if private.search(line)
    ]
    assert offenders == []


def test_no_module_outside_models_asks_what_kind_of_model_it_holds():
    kind = re.compile(
        r"isinstance\([^)]*\b(VAE|ConditionalVAE)\b|hasattr\(model|_is_conditional|"
        r"is_conditional|\bmodel\._\w+"
    )
    outside = [p for p in _sources() if os.sep + "models" + os.sep not in p]
    offenders = [
        f"{path}: {line.strip()}"
        for path in outside
        for line in open(path, encoding="utf-8")
        if kind.search(line)
    ]
    assert offenders == []


def test_modules_and_functions_are_of_a_readable_size():
    too_long = []
    for path in _sources():
        source = open(path, encoding="utf-8").read()
        if len(source.splitlines()) > 400:
            too_long.append(f"{path}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = node.body[0]
                docstring = isinstance(first, ast.Expr) and isinstance(
                    getattr(first, "value", None), ast.Constant
                )
                start = first.end_lineno + 1 if docstring and len(node.body) > 1 else first.lineno
                if node.end_lineno - start + 1 > 50:
                    too_long.append(f"{path}: {node.name}, {node.end_lineno - start + 1} lines")
    assert too_long == []


def test_no_shims_left():
    assert not os.path.exists(os.path.join(ROOT, "keras_vae", "_compat.py"))
    module_getattr = [
        p
        for p in _sources()
        if re.search(r"^(def __getattr__|__getattr__ =)", open(p).read(), re.M)
    ]
    assert module_getattr == []
    assert "# fmt: skip" not in "".join(open(p, encoding="utf-8").read() for p in _sources())


def _abstract(cls):
    """The names `cls` defines whose body raises NotImplementedError."""
    names = []
    for name, value in vars(cls).items():
        function = getattr(value, "__func__", getattr(value, "fget", value))
        if "NotImplementedError" in getattr(getattr(function, "__code__", None), "co_names", ()):
            names.append(name)
    return sorted(names)


def test_every_model_family_implements_the_interface():
    from keras_vae.models import recipes
    from keras_vae.models.base import LatentVariableModel

    interface = _abstract(LatentVariableModel)
    assert interface == sorted(
        [
            "encode",
            "decode",
            "sample",
            "reconstruct",
            "loss_terms",
            "evidence",
            "kl_per_dim",
            "serving_endpoints",
            "floats_per_draw",
            "from_shape",
        ]
    )
    assert len(recipes.families()) >= 3
    for family in recipes.families().values():
        owner = {n: next(c for c in family.__mro__ if n in c.__dict__) for n in interface}
        assert [n for n, c in owner.items() if c is LatentVariableModel] == [], family.__name__


def test_every_train_config_field_is_a_flag_with_its_type_and_choices(capsys):
    parser = cli._parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for field in dataclasses.fields(training.TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        choices = field.metadata.get("choices")
        assert flag + (" {" + ",".join(map(str, choices)) + "}" if choices else "") in help_text
    args = parser.parse_args(
        [
            "train",
            "--out",
            "r",
            "--objective",
            "iwae",
            "--num-samples",
            "3",
            "--kl-schedule",
            "cyclical",
            "--kl-cycle-steps",
            "100",
            "--kl-warmup-steps",
            "50",
            "--residual-blocks",
            "1",
            "--likelihood",
            "logistic",
            "--encoder-filters",
            "16",
            "32",
            "--no-images",
            "--verbose",
            "2",
        ]
    )
    config = training.config_for(args.out, **cli._given_settings(args))
    assert (config.objective, config.num_samples, config.kl_schedule, config.residual_blocks) == (
        "iwae",
        3,
        "cyclical",
        1,
    )
    assert config.likelihood == "logistic" and config.encoder_filters == (16, 32)
    assert config.images is False and config.verbose == 2
    model = training.build_model(config, (28, 28, 3))
    assert model.objective.num_samples == 3 and model.encoder.get_layer("conv_0_res0_a") is not None
    assert model.objective.alias == "iwae" and model.objective.schedule == "cyclical"
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--out", "r", "--likelihood", "poisson"])


def test_data_and_dataset_exclude_each_other(capsys):
    assert cli.main(["train", "--data", "x.npz", "--dataset", "mnist", "--out", "r"]) == 2
    assert "argument dataset. Expected None with data='x.npz'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="argument out"):
        training.TrainConfig(epochs=3)


def test_a_preset_config_built_directly_keeps_the_presets_model():
    config = training.TrainConfig(out="unused", preset="cifar10", epochs=1)
    model = training.build_model(config, (32, 32, 3))
    assert model.likelihood.alias == "logistic" and model.latent_dim == 128


def test_bad_config_values_are_named():
    with pytest.raises(ValueError, match="objective='vae'"):
        training.TrainConfig(out="r", objective="vae")
    with pytest.raises(ValueError, match="epochs=0"):
        training.TrainConfig(out="r", epochs=0)
    with pytest.raises(ValueError, match=r"model='GAN'"):
        training.TrainConfig(out="r", model="GAN")


def test_config_fields_are_the_recipe_settings():
    from keras_vae.models import recipes

    model_fields = {
        f.name for f in dataclasses.fields(training.TrainConfig) if f.metadata["group"] == "model"
    }
    assert model_fields | {"seed"} == set(
        recipes.SETTINGS
    )  # the seed is the run's, of all it draws


@pytest.mark.slow
def test_train_on_vectors_logs_scalars_and_prints_a_line_per_epoch(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    table = (rng.normal(size=(200, 2)) @ rng.normal(size=(2, 8))).astype("float32")
    np.savez(tmp_path / "table.npz", x=table)
    run = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "keras_vae",
        "train",
        "--data",
        str(tmp_path / "table.npz"),
        "--npz-key",
        "x",
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--latent-dim",
        "2",
        "--hidden-units",
        "16",
        "--export-dir",
        str(tmp_path / "saved"),
        "--out",
        str(run),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "\r" not in result.stdout and "\x08" not in result.stdout  # no redrawn bar in a log
    assert result.stdout.count("Epoch 1/2\n") == 1 and re.search(r"\d+/\d+ - .*loss", result.stdout)
    model = __import__("keras").models.load_model(run / "model.keras", safe_mode=True)
    assert model.data_shape == (8,) and model.likelihood.alias == "gaussian"
    assert (tmp_path / "saved" / "run" / "1" / "saved_model.pb").is_file()
    events = glob.glob(str(run / "logs" / "train" / "events.*"))
    assert events, os.listdir(run / "logs")
    import tensorflow as tf

    tags = {v.tag for e in tf.compat.v1.train.summary_iterator(events[0]) for v in e.summary.value}
    assert "epoch_loss" in tags
