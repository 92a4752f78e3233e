"""tf.distribute strategies, multi-worker training, resume after a crash, mixed precision."""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_vae import training
from keras_vae.training import distribute

HERE = os.path.dirname(__file__)
DRIVER = os.path.join(HERE, "helpers", "train_and_dump.py")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
TINY = [
    "--epochs",
    "1",
    "--num-examples",
    "256",
    "--batch-size",
    "64",
    "--latent-dim",
    "4",
    "--learning-rate",
    "0.003",
    "--verbose",
    "0",
    "--export-dir",
    "",
    "--no-images",
]


def test_strategy_names(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert distribute.strategy("default") is tf.distribute.get_strategy()
    assert distribute.strategy("auto") is tf.distribute.get_strategy()  # no GPU, no cluster
    assert isinstance(distribute.strategy("one_device"), tf.distribute.OneDeviceStrategy)
    assert isinstance(distribute.strategy("mirrored"), tf.distribute.MirroredStrategy)
    with pytest.raises(ValueError, match="name='nccl'"):
        distribute.strategy("nccl")
    with pytest.raises(ValueError, match="TF_CONFIG naming at least two workers"):
        distribute.strategy("multi_worker")


@pytest.mark.parametrize(
    "tf_config, chief",
    [
        (None, True),
        ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}, True),
        ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}, False),
        (
            {
                "cluster": {"chief": ["a:1"], "worker": ["b:2"]},
                "task": {"type": "worker", "index": 0},
            },
            False,
        ),
    ],
)
def test_only_one_chief(monkeypatch, tf_config, chief):
    monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config) if tf_config else "")
    assert distribute.is_chief() is chief


def test_metrics_are_aggregated_over_replicas(shapes_images, mirrored):
    images = shapes_images[1][:128]
    results = []
    for strategy in (tf.distribute.OneDeviceStrategy("/cpu:0"), mirrored):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            model = training.build_model(
                training.TrainConfig(out="unused", latent_dim=4), (28, 28, 1)
            )
            model.evaluation_noise.draw = lambda shape: tf.zeros(shape)
        dataset = tf.data.Dataset.from_tensor_slices(images).batch(64)
        results.append(model.evaluate(dataset, verbose=0, return_dict=True))
    for name in ("loss", "reconstruction_loss", "kl_loss"):
        assert results[1][name] == pytest.approx(results[0][name], rel=1e-5)


@pytest.mark.slow
def test_mixed_bfloat16_trains_like_float32(tmp_path):
    losses = {}
    for precision in ("float32", "mixed_bfloat16"):
        config = training.TrainConfig(
            out=str(tmp_path / precision),
            epochs=2,
            num_examples=1024,
            batch_size=64,
            latent_dim=8,
            precision=precision,
            verbose=0,
            images=False,
        )
        result = training.train(config)
        assert result["history"]["skipped_updates"] == [0.0, 0.0]  # no NaN/inf step
        losses[precision] = result["metrics"]["loss"]
        assert np.isfinite(losses[precision])
    assert result["model"].encoder.get_layer("conv_0").compute_dtype == "bfloat16"
    assert losses["mixed_bfloat16"] == pytest.approx(losses["float32"], rel=0.05)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _worker_env(ports, index, **extra):
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
    return {**ENV, "TF_CONFIG": json.dumps(config), **extra}


@pytest.mark.slow
def test_two_workers_match_one_process_with_two_replicas(tmp_path):
    out = str(tmp_path / "run")
    ports = _free_ports(2)
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                DRIVER,
                str(tmp_path / f"w{i}.npz"),
                "1",
                "multi_worker",
                "--",
                "train",
                *TINY,
                "--out",
                out,
            ],
            env=_worker_env(ports, i),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for worker in workers:
        stdout, stderr = worker.communicate(timeout=400)
        assert worker.returncode == 0, stderr[-3000:]
        assert "replicas 2" in stdout
    reference = subprocess.run(
        [
            sys.executable,
            DRIVER,
            str(tmp_path / "ref.npz"),
            "2",
            "mirrored_cpus",
            "--",
            "train",
            *TINY,
            "--out",
            str(tmp_path / "ref"),
        ],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert reference.returncode == 0, reference.stderr[-3000:]
    w0, w1, ref = (np.load(tmp_path / f"{n}.npz") for n in ("w0", "w1", "ref"))
    for key in ref.files:
        np.testing.assert_array_equal(w0[key], w1[key])
        np.testing.assert_allclose(w0[key], ref[key], atol=1e-5)
    # Only the chief wrote the run directory.
    assert sorted(os.listdir(out)) == [
        "config.json",
        "history.csv",
        "logs",
        "metrics.json",
        "model.keras",
    ]


@pytest.mark.slow
def test_a_missing_peer_fails_clearly_in_bounded_time(tmp_path):
    port = _free_ports(2)
    start = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_vae",
            "train",
            "--strategy",
            "multi_worker",
            *TINY,
            "--out",
            str(tmp_path / "run"),
        ],
        env=_worker_env(port, 0, KERAS_VAE_PEER_TIMEOUT="8"),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode != 0
    assert "did not come up within 8 s" in done.stderr
    assert time.monotonic() - start < 120
    assert not (tmp_path / "run").exists()


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_killed_run_resumes_where_it_stopped(tmp_path):
    run = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "keras_vae",
        "train",
        "--epochs",
        "4",
        "--num-examples",
        "4096",
        "--batch-size",
        "64",
        "--latent-dim",
        "4",
        "--verbose",
        "2",
        "--export-dir",
        "",
        "--no-images",
        "--out",
        str(run),
    ]
    first = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while not (run / "history.csv").exists() or len(_rows(run / "history.csv")) < 2:
        assert first.poll() is None and time.monotonic() < deadline, "run ended too soon"
        time.sleep(0.2)
    time.sleep(0.5)  # into epoch 3 (or 4 on a fast machine)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    assert (run / "backup").is_dir() and not (run / "metrics.json").exists()
    resume_at = json.loads((run / "backup" / "training_metadata.json").read_text())["epoch"]
    assert resume_at in (2, 3)

    second = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=400)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"Epoch {resume_at + 1}/4" in second.stdout and "Epoch 1/4" not in second.stdout
    assert [r["epoch"] for r in _rows(run / "history.csv")] == ["0", "1", "2", "3"]
    assert not (run / "backup").exists() and (run / "metrics.json").exists()
    keras.models.load_model(run / "model.keras", safe_mode=True)


def test_backups_are_committed_by_one_rename_and_restore(tmp_path, monkeypatch, killed_mid_write):
    from keras_vae.training import callbacks

    config = training.TrainConfig(out="unused", latent_dim=2)
    model = training.build_model(config, (28, 28, 1))
    backup = callbacks.RunBackup(str(tmp_path / "backup"))
    backup.set_model(model)
    backup.on_epoch_end(0, {"loss": 1.0})
    committed = backup.read_metadata()
    assert committed["epoch"] == 1
    files_before = sorted(os.listdir(tmp_path / "backup"))
    assert files_before == [committed["weights"], "training_metadata.json"]

    monkeypatch.setattr(keras.Model, "save_weights", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        backup.on_epoch_end(1, {"loss": 1.0})
    assert backup.read_metadata() == committed  # the kill left the last backup whole
    assert sorted(os.listdir(tmp_path / "backup")) == files_before
    monkeypatch.undo()

    fresh = training.build_model(config, (28, 28, 1))
    assert callbacks.RunBackup(str(tmp_path / "backup")).restore(fresh) == 1
    for a, b in zip(model.weights, fresh.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert callbacks.RunBackup(str(tmp_path / "none")).restore(fresh) == 0


def test_one_mirrored_strategy_per_process():
    # A second MirroredStrategy would break training another model (tensorflow/tensorflow#62790).
    assert distribute.strategy("mirrored") is distribute.strategy("mirrored")
