"""Kill a real `keras-vae train` at a write event, rerun the same command, check the result.

Used by tests/test_resume.py (a sample of kill points) and benchmarks/resume_after_kill.py
(every kill point). A run: 128 shapes, batch 64, 2 epochs, latent 2, no pictures,
exported to EXPORT/run/1.
"""

import csv
import json
import os
import subprocess
import sys
import zipfile

DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kill_at_write.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EPOCHS = 2
TRAIN = [
    "train",
    "--num-examples",
    "128",
    "--batch-size",
    "64",
    "--epochs",
    str(EPOCHS),
    "--latent-dim",
    "2",
    "--no-images",
    "--verbose",
    "0",
]
ENV = {
    **os.environ,
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])),
}


def run(workdir, kill_at, log_name, extra=()):
    """Runs the command (with the flags `extra`) once under the driver; returns the
    CompletedProcess."""
    run_dir, export_dir = os.path.join(workdir, "run"), os.path.join(workdir, "export")
    command = [
        sys.executable,
        DRIVER,
        str(kill_at),
        os.path.join(workdir, log_name),
        run_dir,
        export_dir,
        "--",
        *TRAIN,
        *extra,
        "--out",
        run_dir,
        "--export-dir",
        export_dir,
    ]
    return subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=600)


def events(workdir, extra=()):
    """A clean run's write events: [(number, call, path)], and its problems (none expected)."""
    result = run(workdir, 0, "events.log", extra)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    with open(os.path.join(workdir, "events.log"), encoding="utf-8") as f:
        listed = [tuple(line.rstrip("\n").split(" ", 2)) for line in f]
    return [(int(n), call, path) for n, call, path in listed], problems(workdir)


def kill_and_resume(workdir, kill_at, extra=()):
    """Kills a run before write event `kill_at`, reruns it; returns a list of problems."""
    first = run(workdir, kill_at, "killed.log", extra)
    if first.returncode != -9:
        return [f"the first run was not killed (exit {first.returncode}): {first.stderr[-500:]}"]
    second = run(workdir, 0, "resumed.log", extra)
    if second.returncode != 0:
        return [f"the rerun failed (exit {second.returncode}): {second.stderr.strip()[-800:]}"]
    return problems(workdir)


def problems(workdir):
    """What is wrong with a finished run directory and its export (empty: all good)."""
    run_dir, export_dir = os.path.join(workdir, "run"), os.path.join(workdir, "export")
    found = []
    with open(os.path.join(run_dir, "history.csv"), newline="", encoding="utf-8") as f:
        epochs = [int(float(row["epoch"])) for row in csv.DictReader(f)]
    if epochs != list(range(EPOCHS)):
        found.append(f"history.csv holds epochs {epochs}")
    if not os.path.isfile(os.path.join(run_dir, "metrics.json")):
        found.append("no metrics.json")
    if os.path.exists(os.path.join(run_dir, "backup")):
        found.append("backup/ left behind")
    if not zipfile.is_zipfile(os.path.join(run_dir, "model.keras")):
        found.append("model.keras is not a whole .keras file")
    with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as f:
        if json.load(f)["epochs"] != EPOCHS:
            found.append("config.json changed")
    versions = sorted(os.listdir(os.path.join(export_dir, "run")))
    if versions != ["1"] or not os.path.isfile(
        os.path.join(export_dir, "run", "1", "saved_model.pb")
    ):
        found.append(f"export holds {versions}, not one whole version 1")
    leftovers = [
        os.path.join(d, n)
        for top in (run_dir, export_dir)
        for d, dirs, names in os.walk(top)
        for n in dirs + names
        if n.startswith(".")
    ]
    if leftovers:
        found.append(f"leftovers: {leftovers}")
    return found
