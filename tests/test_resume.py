"""A run killed with SIGKILL at a write event resumes with the same command, exactly once.

benchmarks/resume_after_kill.py tries every kill point (47 of 47 survive, RESULTS.md); this
tries the two where most is at stake: the backup's first commit (weights, optimizer state and
the epoch counter replaced together) and publishing the export (a version directory renamed
into place). The run killed at its first commit is a HierarchicalVAE's: it writes what a
plain run writes, in the same order, and its resumed directory must hold the hierarchy.
"""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "helpers"))
import resume_harness  # noqa: E402


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("clean"))
    events, problems = resume_harness.events(workdir)
    assert problems == []
    return events


def _first(events, predicate):
    return next(n for n, call, path in events if predicate(call, path))


POINTS = {
    "the first commit": lambda e: _first(
        e, lambda c, p: c == "replace" and p.endswith("training_metadata.json")
    ),
    "publishing the export": lambda e: _first(e, lambda c, p: c == "rename" and "export" in p),
}


HIERARCHY = ("--model", "HierarchicalVAE", "--latent-dims", "4", "2", "--top-down-units", "8")
FLAGS = {"the first commit": HIERARCHY, "publishing the export": ()}


@pytest.mark.slow
@pytest.mark.parametrize("where", sorted(POINTS))
def test_a_killed_run_resumes_and_every_epoch_appears_once(clean_run, where, tmp_path):
    import keras

    kill_at = POINTS[where](clean_run)
    assert 1 <= kill_at <= len(clean_run)
    assert resume_harness.kill_and_resume(str(tmp_path), kill_at, FLAGS[where]) == []
    if FLAGS[where] == HIERARCHY:
        with open(tmp_path / "run" / "config.json", encoding="utf-8") as f:
            config = json.load(f)
        assert config["model"] == "HierarchicalVAE" and config["latent_dims"] == [4, 2]
        loaded = keras.models.load_model(tmp_path / "run" / "model.keras")
        assert loaded.latent_layers == {"z1": 4, "z2": 2}
        with open(tmp_path / "run" / "history.csv", encoding="utf-8") as f:
            assert {"kl_z1", "kl_z2"} <= set(f.readline().strip().split(","))


@pytest.mark.slow
def test_a_killed_tflite_export_is_completed_for_the_same_version(tmp_path):
    import subprocess

    import keras_vae

    model = tmp_path / "m.keras"
    architecture = dict(encoder_filters=(8,), dense_units=8)
    keras_vae.VAE.from_shape((28, 28, 1), 2, architecture=architecture, seed=0).save(model)

    def export(to, kill_at, log):
        command = [
            sys.executable,
            resume_harness.DRIVER,
            str(kill_at),
            str(tmp_path / log),
            str(to),
            "--",
            "export",
            str(model),
            "--to",
            str(to),
            "--tflite",
        ]
        return subprocess.run(
            command, capture_output=True, text=True, env=resume_harness.ENV, timeout=600
        )

    assert export(tmp_path / "clean", 0, "clean.log").returncode == 0
    with open(tmp_path / "clean.log", encoding="utf-8") as f:
        events = [line.split(" ", 2) for line in f]
    in_tflite = next(
        int(n) for n, call, path in events if "/tflite/1/" in path and call == "replace"
    )
    to = tmp_path / "saved"
    assert export(to, in_tflite, "killed.log").returncode == -9
    assert sorted(os.listdir(to / "tflite" / "1")) != ["decoder.tflite", "encoder.tflite"]
    rerun = export(to, 0, "rerun.log")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert sorted(os.listdir(to)) == ["1", "tflite"]  # no version 2, no pending record
    assert sorted(os.listdir(to / "tflite")) == ["1"]
    assert sorted(os.listdir(to / "tflite" / "1")) == ["decoder.tflite", "encoder.tflite"]
