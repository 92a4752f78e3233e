"""The package's shape: its public API, its old import paths, its CLI generated from TrainConfig."""

import ast
import dataclasses
import glob
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

import keras_vae
from keras_vae import cli, training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(keras_vae.__file__)))


def test_init_docstring_all_and_imports_agree():
    documented = re.findall(r"^    keras_vae\.(\w+)", keras_vae.__doc__, flags=re.MULTILINE)
    assert documented == keras_vae.__all__
    assert all(hasattr(keras_vae, name) for name in keras_vae.__all__)
    assert list(keras_vae._PUBLIC) == keras_vae.__all__  # the one table the names load from
    source = open(keras_vae.__file__, encoding="utf-8").read()
    assert len(source.splitlines()) <= 70  # one screen
    public_imports = [node for node in ast.parse(source).body if isinstance(node, ast.ImportFrom)
                      and any(not a.name.startswith("_") for a in node.names)]  # fmt: skip
    assert public_imports == []  # public names come from the table only


def test_importing_does_not_touch_the_environment():
    code = "import os, json; before = dict(os.environ); import keras_vae; print(dict(os.environ) == before)"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            timeout=120, cwd=ROOT)  # fmt: skip
    assert result.stdout.strip().splitlines()[-1] == "True", result.stderr[-1000:]


def test_old_import_paths_keep_working_and_name_the_new_place():
    from keras_vae.visualize import ReconstructionGrid

    from keras_vae.visualization import callbacks

    assert ReconstructionGrid is callbacks.ReconstructionGrid
    assert keras_vae.presets.build("keras_example").latent_dim == 2
    with pytest.warns(FutureWarning, match="keras_vae.visualization.callbacks"):
        assert keras_vae.visualize.ReconstructionGrid is ReconstructionGrid
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the public short names do not warn
        assert keras_vae.networks.conv_encoder and keras_vae.likelihoods.LIKELIHOODS
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        keras_vae.nope  # noqa: B018


def test_no_private_keras_or_tensorflow_api():
    sources = glob.glob(os.path.join(ROOT, "keras_vae", "**", "*.py"), recursive=True)
    private = re.compile(r"keras\.src|tensorflow\.python|tensorflow\.core|\bdef _save_model|"
                         r"_weights_path|_initial_epoch|summary_pb2")  # fmt: skip
    offenders = [f"{path}: {line.strip()}" for path in sources for line in open(path, encoding="utf-8")
                 if private.search(line)]  # fmt: skip
    assert offenders == []


def test_every_train_config_field_is_a_flag_with_its_type_and_choices(capsys):
    parser = cli._parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for field in dataclasses.fields(training.TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        choices = field.metadata.get("choices")
        assert flag + (" {" + ",".join(map(str, choices)) + "}" if choices else "") in help_text
    args = parser.parse_args([
        "train", "--out", "r", "--objective", "iwae", "--num-samples", "3", "--kl-schedule",
        "cyclical", "--kl-cycle-steps", "100", "--kl-warmup-steps", "50", "--residual-blocks", "1",
        "--likelihood", "logistic", "--encoder-filters", "16", "32", "--no-images", "--verbose", "2",
    ])  # fmt: skip
    config = training.config_for(args.out, **cli._given_settings(args))
    assert (config.objective, config.num_samples, config.kl_schedule, config.residual_blocks) == (
        "iwae", 3, "cyclical", 1)
    assert config.likelihood == "logistic" and config.encoder_filters == (16, 32)
    assert config.images is False and config.verbose == 2
    model = training.build_model(config, (28, 28, 3))
    assert model.num_samples == 3 and model.encoder.get_layer("conv_0_res0_a") is not None
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
    assert model.likelihood_name == "logistic" and model.latent_dim == 128


def test_a_backup_from_before_0_2_resumes(tmp_path):
    from keras_vae.training import callbacks

    config = training.TrainConfig(out="unused", latent_dim=2)
    model = training.build_model(config, (28, 28, 1))
    (tmp_path / "backup").mkdir()
    model.optimizer.build(model.trainable_variables)
    model.save_weights(tmp_path / "backup" / "latest.weights.h5")  # Keras's BackupAndRestore
    (tmp_path / "backup" / "training_metadata.json").write_text('{"epoch": 3, "batch": 0}')
    fresh = training.build_model(config, (28, 28, 1))
    assert callbacks.RunBackup(str(tmp_path / "backup")).restore(fresh) == 3
    for a, b in zip(model.weights, fresh.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_removed_names_say_what_replaced_them():
    with pytest.raises(AttributeError, match="conv_encoder"):
        keras_vae.networks.build_encoder  # noqa: B018
    from keras_vae.training import callbacks

    with pytest.raises(AttributeError, match="RunBackup"):
        callbacks.FiniteBackupAndRestore  # noqa: B018


def test_bad_config_values_are_named():
    with pytest.raises(ValueError, match="objective='vae'"):
        training.TrainConfig(out="r", objective="vae")
    with pytest.raises(ValueError, match="epochs=0"):
        training.TrainConfig(out="r", epochs=0)


@pytest.mark.slow
def test_train_on_vectors_logs_scalars_and_prints_a_line_per_epoch(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    table = (rng.normal(size=(200, 2)) @ rng.normal(size=(2, 8))).astype("float32")
    np.savez(tmp_path / "table.npz", x=table)
    run = tmp_path / "run"
    command = [sys.executable, "-m", "keras_vae", "train", "--data", str(tmp_path / "table.npz"),
               "--npz-key", "x", "--epochs", "2", "--batch-size", "32", "--latent-dim", "2",
               "--hidden-units", "16", "--export-dir", str(tmp_path / "saved"), "--out", str(run)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "\r" not in result.stdout and "\x08" not in result.stdout  # no redrawn bar in a log
    assert result.stdout.count("Epoch 1/2\n") == 1 and re.search(r"\d+/\d+ - .*loss", result.stdout)
    model = __import__("keras").models.load_model(run / "model.keras", safe_mode=True)
    assert model.data_shape == (8,) and model.likelihood_name == "gaussian"
    assert (tmp_path / "saved" / "run" / "1" / "saved_model.pb").is_file()
    events = glob.glob(str(run / "logs" / "train" / "events.*"))
    assert events, os.listdir(run / "logs")
    import tensorflow as tf

    tags = {v.tag for e in tf.compat.v1.train.summary_iterator(events[0]) for v in e.summary.value}
    assert "epoch_loss" in tags
