"""The `keras-vae` command line, end to end in temporary directories."""

import csv
import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import keras_vae
from keras_vae import cli, evaluate, training

WITH_IMAGES = [
    "--epochs",
    "1",
    "--num-examples",
    "256",
    "--batch-size",
    "64",
    "--latent-dim",
    "4",
    "--verbose",
    "0",
    "--export-dir",
    "",
]
TINY = [*WITH_IMAGES, "--no-images"]


def test_train_fills_the_run_directory_and_sample_draws_a_grid(tmp_path, capsys):
    run = tmp_path / "run"
    saved = tmp_path / "saved_models"
    args = ["train", *WITH_IMAGES, "--epochs", "2", "--beta", "0.5", "--export-dir", str(saved)]
    assert cli.main([*args, "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "held-out: loss" in out and str(saved / "run" / "1") in out
    assert (saved / "run" / "1" / "saved_model.pb").is_file()
    assert f"pictures: {run / 'images'}" in out
    pictures = sorted(os.listdir(run / "images"))
    assert "reconstructions_epoch_0002.png" in pictures and len(pictures) == 6
    assert any(name.startswith("events") for name in os.listdir(run / "logs" / "images"))

    config = json.loads((run / "config.json").read_text())
    assert config["beta"] == 0.5 and config["epochs"] == 2 and config["dataset"] == "shapes"
    assert config["data_shape"] == [28, 28, 1]
    with open(run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert {"loss", "reconstruction_loss", "kl_loss", "val_loss"} <= set(rows[0])
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics) == {"loss", "reconstruction_loss", "kl_loss"}
    assert not (run / "backup").exists()  # a finished run leaves no backup behind

    model = keras.models.load_model(run / "model.keras", safe_mode=True)
    assert (
        isinstance(model, keras_vae.VAE) and model.objective.beta == 0.5 and model.latent_dim == 4
    )

    grid = tmp_path / "grid.png"
    assert cli.main(["sample", str(run), "--n", "16", "--out", str(grid)]) == 0
    image = np.asarray(Image.open(grid))
    assert image.shape == (4 * 29 - 1, 4 * 29 - 1)
    assert image.std() > 0  # not blank


def test_train_on_an_npz_file(tmp_path):
    images = (np.random.default_rng(0).uniform(size=(40, 16, 16)) * 255).astype(np.uint8)
    np.savez(tmp_path / "mine.npz", pixels=images)
    run = tmp_path / "run"
    args = [
        "train",
        "--data",
        str(tmp_path / "mine.npz"),
        "--npz-key",
        "pixels",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--latent-dim",
        "2",
        "--verbose",
        "0",
        "--export-dir",
        str(tmp_path / "saved"),
        "--out",
        str(run),
    ]
    assert cli.main(args) == 0
    assert json.loads((run / "config.json").read_text())["data_shape"] == [16, 16, 1]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "missing.npz"], "missing.npz"),
        (["--latent-dim", "0"], "latent_dim=0"),
        (["--beta", "-1"], "beta=-1.0"),
        (["--free-bits", "-0.1"], "free_bits=-0.1"),
        (["--epochs", "0"], "epochs=0"),
        (["--data", "EMPTY_DIR"], "EMPTY_DIR"),
    ],
)
def test_bad_input_fails_clearly_and_leaves_no_run_dir(tmp_path, capsys, args, message):
    (tmp_path / "EMPTY_DIR").mkdir()
    args = [a.replace("EMPTY_DIR", str(tmp_path / "EMPTY_DIR")) for a in args]
    run = tmp_path / "run"
    assert cli.main(["train", *TINY, *args, "--out", str(run)]) == 2
    assert message in capsys.readouterr().err
    assert not run.exists()


def test_a_finished_run_is_not_overwritten_by_accident(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(["train", *TINY, "--out", str(run)]) == 0
    before = (run / "model.keras").stat().st_mtime_ns
    capsys.readouterr()
    assert cli.main(["train", *TINY, "--out", str(run)]) == 0  # the same command: nothing to do
    assert "already holds this finished run" in capsys.readouterr().out
    assert cli.main(["train", *TINY, "--beta", "2", "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "beta: None in config.json, 2.0 now" in err
    assert (run / "model.keras").stat().st_mtime_ns == before
    assert cli.main(["train", *TINY, "--overwrite", "--out", str(run)]) == 0


class _NaNFromEpoch(keras.callbacks.Callback):
    """Makes every step's loss NaN from epoch `epoch` (0-based) on, as a diverging run."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self._epoch >= self.epoch:
            bias = self.model.decoder.get_layer("params").bias
            bias.assign(np.full(bias.shape, np.nan, np.float32))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch


def test_diverging_run_stops_naming_epoch_and_step_and_keeps_last_good_model(tmp_path):
    run = tmp_path / "run"
    config = training.TrainConfig(
        out=str(run),
        epochs=3,
        num_examples=512,
        batch_size=64,
        latent_dim=4,
        verbose=0,
        max_skipped_updates=3,
        images=False,
    )
    with pytest.raises(
        FloatingPointError, match="3 updates in a row.*epoch 2, step 3.*epoch 1 is kept"
    ):
        training.train(config, extra_callbacks=[_NaNFromEpoch(1)])
    model = keras.models.load_model(run / "model.keras", safe_mode=True)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_interrupted_save_leaves_the_previous_model(tmp_path, monkeypatch, killed_mid_write):
    model = keras_vae.VAE.from_shape(
        (28, 28, 1), 2, architecture=dict(encoder_filters=(8, 8), dense_units=8)
    )
    path = tmp_path / "model.keras"
    keras_vae.files.save_model(model, path)
    before = path.read_bytes()

    monkeypatch.setattr(keras.Model, "save", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        keras_vae.files.save_model(model, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.keras"]


def test_export_command_writes_versions_and_tflite(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(["train", *TINY, "--out", str(run)]) == 0
    to = tmp_path / "served"
    assert cli.main(["export", str(run), "--to", str(to), "--quantize", "float16"]) == 0
    assert cli.main(["export", str(run / "model.keras"), "--to", str(to), "--version", "5"]) == 0
    assert sorted(os.listdir(to)) == ["1", "5", "tflite"]
    assert sorted(os.listdir(to / "tflite" / "1")) == ["decoder.tflite", "encoder.tflite"]
    assert cli.main(["export", str(run), "--to", str(to), "--version", "5"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_evaluate_command_reports_likelihoods(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(["train", *TINY, "--out", str(run)]) == 0
    capsys.readouterr()
    out = tmp_path / "eval.json"
    args = [
        "evaluate",
        str(run),
        "--limit",
        "32",
        "--num-samples",
        "8",
        "--binarize",
        "--out",
        str(out),
    ]
    assert cli.main(args) == 0
    result = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == result
    assert result["num_images"] == 32 and result["num_samples"] == 8
    assert result["nll"] <= result["neg_elbo"] + 1e-3  # the IWAE bound is the tighter one
    assert cli.main(["evaluate", str(run), "--num-samples", "0", "--limit", "4"]) == 2


@pytest.mark.parametrize("content, match", [(None, "No model at"), (b"junk", "not a loadable")])
def test_export_rejects_missing_or_foreign_models(tmp_path, capsys, content, match):
    path = tmp_path / "thing.keras"
    if content is not None:
        path.write_bytes(content)
    assert cli.main(["export", str(path), "--to", str(tmp_path / "out")]) == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_console_script_and_module_entry_point(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "keras-vae")
    if not os.path.exists(exe):
        pytest.skip("keras-vae console script not installed in this environment")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "train" in out.stdout and "sample" in out.stdout
    run = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "keras_vae", "train", *TINY, "--out", str(run)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "held-out: loss" in done.stdout
    assert (run / "model.keras").is_file()


# --------------------------------------------------- runs of a ConditionalVAE (M2)


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    """A run directory holding a tiny trained ConditionalVAE, and an .npz of labelled images."""
    root = tmp_path_factory.mktemp("conditional")
    rng = np.random.default_rng(0)
    pixels = (rng.uniform(size=(32, 8, 8)) * 255).astype(np.uint8)
    labels = rng.integers(0, 3, size=32).astype(np.uint8)
    np.savez(root / "test.npz", images=pixels, labels=labels)
    model = keras_vae.ConditionalVAE.from_shape(
        (8, 8, 1), 2, num_classes=3, architecture=dict(encoder_filters=(4,), dense_units=8), seed=0
    )
    model.compile(optimizer="adam")
    x = (pixels[..., None] / 255).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices((x, labels.astype("int32"))).batch(32)
    model.fit(dataset, epochs=1, verbose=0)
    (root / "run").mkdir()
    keras_vae.files.save_model(model, root / "run" / "model.keras")
    return root


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("plain") / "run"
    run.mkdir()
    model = keras_vae.VAE.from_shape(
        (8, 8, 1), 2, architecture=dict(encoder_filters=(4,), dense_units=8)
    )
    keras_vae.files.save_model(model, run / "model.keras")
    return run


def test_evaluate_a_conditional_run_reports_its_classification_error(conditional_run, capsys):
    run, data = conditional_run / "run", str(conditional_run / "test.npz")
    args = ["evaluate", str(run), "--data", data, "--num-samples", "4", "--limit", "20"]
    assert cli.main([*args, "--labels-key", "labels"]) == 0
    result = json.loads(capsys.readouterr().out)
    model = keras.models.load_model(run / "model.keras", safe_mode=True)
    images = keras_vae.data.read_images(data)[:20]
    expected = evaluate.classification_error(model, images, np.load(data)["labels"][:20])
    assert result["classification_error"] == expected and result["num_images"] == 20
    assert result["nll"] <= result["neg_elbo"] + 1e-3
    assert cli.main(args) == 0  # without labels: the likelihoods only
    assert "classification_error" not in json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    "which, extra, match",
    [
        (
            "plain",
            ["--labels-key", "labels"],
            "labels_key.*only for a model with classes.*a VAE without",
        ),
        ("conditional", ["--labels-key", "digits"], r"in .*\['images', 'labels'\].*'digits'"),
        ("conditional", ["--labels-key", "images"], r"labels.shape.*\(32, 8, 8\)"),
    ],
)
def test_evaluate_labels_key_errors_in_one_line(
    conditional_run, plain_run, capsys, which, extra, match
):
    run = plain_run if which == "plain" else conditional_run / "run"
    args = ["evaluate", str(run), "--data", str(conditional_run / "test.npz"), "--num-samples", "2"]
    assert cli.main([*args, *extra]) == 2
    err = capsys.readouterr().err
    assert re.search(match, err) and err.count("\n") == 1, err


def test_sample_one_class_or_random_classes(conditional_run, tmp_path, capsys):
    run = conditional_run / "run"
    model = keras.models.load_model(run / "model.keras", safe_mode=True)
    out = tmp_path / "twos.npy"
    assert cli.main(["sample", str(run), "--label", "2", "--n", "5", "--out", str(out)]) == 0
    assert "5 samples of class 2" in capsys.readouterr().out
    np.testing.assert_allclose(np.load(out), model.sample(5, labels=2, seed=0), atol=1e-6)
    assert cli.main(["sample", str(run), "--n", "5", "--seed", "3", "--out", str(out)]) == 0
    np.testing.assert_allclose(np.load(out), model.sample(5, seed=3), atol=1e-6)
    grid = tmp_path / "grid.png"
    assert cli.main(["sample", str(run), "--label", "0", "--n", "4", "--out", str(grid)]) == 0
    assert np.asarray(Image.open(grid)).shape == (2 * 9 - 1, 2 * 9 - 1)


@pytest.mark.parametrize(
    "label, match",
    [("3", r"a class in \[0, 3\).*label=3"), ("-1", r"a class in \[0, 3\).*label=-1")],
)
def test_sample_label_outside_the_classes_fails(conditional_run, tmp_path, capsys, label, match):
    out = tmp_path / "s.png"
    args = ["sample", str(conditional_run / "run"), "--label", label, "--out", str(out)]
    assert cli.main(args) == 2
    assert re.search(match, capsys.readouterr().err) and not out.exists()


def test_sample_label_of_a_plain_vae_fails(plain_run, tmp_path, capsys):
    args = ["sample", str(plain_run), "--label", "1", "--out", str(tmp_path / "s.png")]
    assert cli.main(args) == 2
    assert "argument label. Expected no label: the model is a VAE" in capsys.readouterr().err


def test_export_a_conditional_run(conditional_run, tmp_path, capsys):
    to = tmp_path / "served"
    assert cli.main(["export", str(conditional_run / "run"), "--to", str(to), "--tflite"]) == 0
    assert "classifier.tflite" in capsys.readouterr().out
    assert sorted(os.listdir(to / "tflite" / "1")) == [
        "classifier.tflite",
        "decoder.tflite",
        "encoder.tflite",
    ]
    signatures = tf.saved_model.load(str(to / "1")).signatures
    assert "classify" in signatures
    assert "labels" in signatures["decode"].structured_input_signature[1]


def test_the_lazy_command_loads_a_conditional_run(conditional_run, tmp_path):
    # `python -m keras_vae` imports lazily: its loader must register ConditionalVAE itself.
    out = tmp_path / "threes.png"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_vae",
            "sample",
            str(conditional_run / "run"),
            "--label",
            "2",
            "--n",
            "4",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert out.is_file() and "class 2" in done.stdout
