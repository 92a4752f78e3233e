"""Guarded settings, published modes, early checks, one-line errors, cleanup, fast arguments."""

import errno
import json
import os
import stat

import numpy as np
import pytest

import keras_vae
from keras_vae import cli, export, files, training
from keras_vae.training import rundir

TINY = [
    "train",
    "--epochs",
    "1",
    "--num-examples",
    "128",
    "--batch-size",
    "64",
    "--latent-dim",
    "2",
    "--no-images",
    "--verbose",
    "0",
    "--export-dir",
    "",
]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(keras_vae.__file__)))


def _unfinished(run):
    """A run directory as a kill in its first epoch leaves it."""
    config = training.config_for(
        str(run), epochs=1, num_examples=128, batch_size=64, latent_dim=2, images=False, verbose=0
    )  # TINY's settings
    record = training.run._config_record(config, (28, 28, 1))
    rundir.start(str(run), json.dumps(record), overwrite=False)
    return record


def test_changed_settings_are_refused_before_anything_is_written(tmp_path, capsys):
    run = tmp_path / "run"
    record = _unfinished(run)
    before = (run / "config.json").read_text()
    assert cli.main([*TINY, "--latent-dim", "4", "--beta", "0.5", "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert (
        "latent_dim: 2 in config.json, 4 now" in err and "beta: None in config.json, 0.5 now" in err
    )
    assert (run / "config.json").read_text() == before and not (run / "model.keras").exists()
    assert rundir.changed_settings(record, {**record, "epochs": 3}) == []  # may train longer
    cosine = {**record, "lr_schedule": "cosine"}
    assert [d[0] for d in rundir.changed_settings(cosine, {**cosine, "epochs": 3})] == ["epochs"]


def test_a_hand_edited_config_is_named_not_overwritten(tmp_path, capsys):
    run = tmp_path / "run"
    _unfinished(run)
    edited = json.loads((run / "config.json").read_text())
    edited["learning_rate"] = 0.5
    (run / "config.json").write_text(json.dumps(edited))
    assert cli.main([*TINY, "--out", str(run)]) == 2
    assert "learning_rate: 0.5 in config.json, 0.001 now" in capsys.readouterr().err
    assert json.loads((run / "config.json").read_text())["learning_rate"] == 0.5
    (run / "config.json").write_text("{not json")
    assert cli.main([*TINY, "--out", str(run)]) == 2
    assert "config.json" in capsys.readouterr().err


@pytest.mark.slow
def test_outputs_get_the_umask_modes_and_leftovers_go(tmp_path):
    run, saved = tmp_path / "run", tmp_path / "saved"
    run.mkdir()
    (run / ".model.keras.x1.tmp.keras").write_bytes(b"half")  # a killed run's leftovers
    (run / "notes.txt").write_text("mine")
    (saved / "run" / ".tmp-1-abc").mkdir(parents=True)
    old = os.umask(0o022)
    try:
        assert cli.main([*TINY, "--export-dir", str(saved), "--out", str(run)]) == 0
        assert export.publish(
            keras_vae.VAE.from_shape((28, 28, 1), 2), saved / "other", tflite_files=True
        )
    finally:
        os.umask(old)
    published = [
        run,
        run / "model.keras",
        run / "config.json",
        run / "history.csv",
        saved / "run" / "1",
        saved / "run" / "1" / "saved_model.pb",
        saved / "other" / "tflite" / "1" / "decoder.tflite",
    ]
    for path in published:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))
    assert sorted(os.listdir(run)) == [
        "config.json",
        "export.json",
        "history.csv",
        "logs",
        "metrics.json",
        "model.keras",
        "notes.txt",
    ]
    assert sorted(os.listdir(saved / "run")) == ["1"]


def test_output_locations_are_checked_before_any_training(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for flag in ("--export-dir", "--out"):
        args = [*TINY, "--out", str(tmp_path / "run"), flag, str(blocker / "sub")]
        assert cli.main(args) == 2
        assert f"{blocker} is not a directory" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    assert cli.main(["evaluate", str(tmp_path), "--out", str(blocker / "x.json")]) == 2
    assert f"{blocker} is not a directory" in capsys.readouterr().err


def test_an_unreasonable_image_size_is_refused_with_the_memory_it_needs(capsys):
    assert cli.main([*TINY, "--image-size", "100000", "--out", "unused"]) == 2
    err = capsys.readouterr().err
    assert "image_size" in err and "GiB" in err and "Received: image_size=100000" in err


@pytest.mark.parametrize(
    "error, says",
    [
        (OSError(errno.ENOSPC, "No space left on device"), "out of disk space"),
        (MemoryError(), "out of memory"),
        (
            type("ResourceExhaustedError", (RuntimeError,), {})("OOM when allocating"),
            "out of memory (OOM when allocating",
        ),
        (RuntimeError("something else\nwith a second line"), "RuntimeError: something else"),
    ],
)
def test_errors_end_in_one_line_saying_what_ran_out_and_what_was_kept(
    error, says, tmp_path, monkeypatch, capsys
):
    run = tmp_path / "run"
    _unfinished(run)

    def fail(config):
        raise error

    monkeypatch.setattr(training, "train", fail)
    assert cli.main([*TINY, "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and says in err
    assert "rerun the same command to resume" in err


def test_fit_names_a_bad_batch_size_or_epochs():
    model = keras_vae.VAE.from_shape(
        (28, 28, 1), 2, architecture=dict(encoder_filters=(8,), dense_units=8)
    )
    model.compile(optimizer="adam")
    x = np.zeros((8, 28, 28, 1), "float32")
    for kwargs, match in [
        ({"batch_size": 0}, "batch_size=0"),
        ({"batch_size": -5}, "batch_size=-5"),
        ({"batch_size": "8"}, "batch_size='8'"),
        ({"epochs": -1}, "epochs=-1"),
        ({"epochs": 2, "initial_epoch": 3}, "initial_epoch=3"),
    ]:
        with pytest.raises(ValueError, match=match):
            model.fit(x, verbose=0, **kwargs)


def test_argument_errors_come_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--epochs", "x", "--out", str(tmp_path / "r")])
    assert "invalid int value: 'x'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_leftovers_are_ours_only(tmp_path):
    (tmp_path / ".config.json.abc.tmp").write_text("")
    (tmp_path / ".tmp-3-xyz").mkdir()
    (tmp_path / "keep.tmp").write_text("")
    (tmp_path / ".hidden").write_text("")
    removed = files.remove_leftovers(str(tmp_path), dirs_named=".tmp-3-*")
    assert sorted(os.path.basename(p) for p in removed) == [".config.json.abc.tmp", ".tmp-3-xyz"]
    assert sorted(os.listdir(tmp_path)) == [".hidden", "keep.tmp"]


def test_a_failed_export_says_the_model_is_saved_and_how_to_retry(tmp_path, monkeypatch, capsys):
    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export, "publish", full_disk)
    run = tmp_path / "run"
    assert cli.main([*TINY, "--export-dir", str(tmp_path / "saved"), "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "out of disk space" in err
    assert f"{run / 'model.keras'} is saved" in err and f"keras-vae export {run} --to" in err
    assert rundir.state(str(run)) == "unfinished" and (run / "model.keras").is_file()
