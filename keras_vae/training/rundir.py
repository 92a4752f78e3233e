"""A run directory's states and the order of its writes: why a killed run always resumes.

States, judged from the files alone:

    new         no config.json: nothing of a run yet.
    unfinished  config.json and no metrics.json: rerunning the same command resumes.
    finished    metrics.json, the last file a run writes.

Writes, in this order, each renamed into place whole (`keras_vae.files`):

    1. config.json, once. A resume first compares the command's settings with it and
       refuses any difference (`CHANGEABLE` lists the exceptions) before writing anything.
    2. After each epoch whose loss and weights are finite: backup/<weights file>, then
       backup/training_metadata.json, the commit: the epoch to resume at, the weights
       file and the history rows so far. Then model.keras, then history.csv, rewritten
       from the committed rows (so a resume repairs it).
    3. After the last epoch: model.keras; export.json naming the SavedModel version, then
       that version (`export.publish`, which completes a killed export of it);
       metrics.json: finished.
    4. backup/ and the temporary files of killed writers are removed.

A kill between any two writes leaves one of the three states: a rerun starts a new run,
resumes an unfinished one from its last commit (from epoch 0 without one) and completes
the same export version, or finds a finished one and only completes step 4. Other
settings are refused (`--overwrite` starts afresh).
"""

import json
import os
import shutil

from keras_vae import files, validation

#: Settings a resume may change: how the run is watched and where it is published, not the
#: model or its training. `epochs` may grow, with a constant learning rate only (a decay is
#: spread over the epochs).
CHANGEABLE = (
    "epochs",
    "verbose",
    "images",
    "overwrite",
    "strategy",
    "checkpoint_every",
    "max_skipped_updates",
    "jit_compile",
    "export_dir",
)
#: What a run writes; `--overwrite` removes these and nothing else.
OUTPUTS = (
    "config.json",
    "model.keras",
    "history.csv",
    "metrics.json",
    "export.json",
    "backup",
    "logs",
    "images",
)


def state(run_dir):
    """ "new", "unfinished" or "finished" (see the module's docstring)."""
    if os.path.exists(os.path.join(run_dir, "metrics.json")):
        return "finished"
    return "unfinished" if os.path.exists(os.path.join(run_dir, "config.json")) else "new"


def prepare(run_dir, record, overwrite):
    """Checks that a run of `record` (config.json's contents) may go into `run_dir`.

    Writes nothing. Returns the state found: the same command on a finished run has
    nothing left to do but `finish`. Raises (unless `overwrite`) FileExistsError for a
    finished run of other settings, ValueError for an unfinished one, naming every
    setting that differs from config.json with both values.
    """
    if os.path.lexists(run_dir) and not os.path.isdir(run_dir):
        raise validation.invalid("out", "a directory (the run directory)", f"{run_dir}, a file")
    found = state(run_dir)
    if found == "new" or overwrite:
        return found
    differences = changed_settings(read_config(run_dir), record)
    if found == "finished" and differences:
        raise FileExistsError(
            f"{run_dir} already holds a finished run with other settings ({_listed(differences)}). "
            "Choose another --out, or pass --overwrite to start afresh."
        )
    if differences:
        raise ValueError(
            f"Cannot resume {run_dir} with other settings ({_listed(differences)}). Rerun with "
            f"the same settings to resume, or pass --overwrite to start afresh. Only "
            f"{', '.join(CHANGEABLE)} may change (epochs: more, with lr_schedule='constant')."
        )
    return found


def changed_settings(saved, record):
    """[(name, saved value, new value)] for every setting a resume may not change."""
    differences = []
    for name in sorted(set(saved) | set(record)):
        old, new = saved.get(name), record.get(name)
        if name == "backend":  # runs of 0.2, which recorded none, were TensorFlow's
            old = old or "tensorflow"
        if _same(old, new) or name == "keras_version":
            continue
        if name in CHANGEABLE and (name != "epochs" or _longer(saved, old, new)):
            continue
        differences.append((name, old, new))
    return differences


def start(run_dir, record_text, overwrite):
    """Makes `run_dir` ready to train into: clears it with `overwrite`, writes config.json."""
    if overwrite:
        for name in OUTPUTS:
            path = os.path.join(run_dir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.remove(path)
    os.makedirs(run_dir, exist_ok=True)
    remove_leftovers(run_dir)
    files.write_text(os.path.join(run_dir, "config.json"), record_text)


def finish(run_dir, metrics_text=None):
    """Writes metrics.json (the run is finished), then removes backup/ and leftovers."""
    if metrics_text is not None:
        files.write_text(os.path.join(run_dir, "metrics.json"), metrics_text)
    shutil.rmtree(os.path.join(run_dir, "backup"), ignore_errors=True)
    remove_leftovers(run_dir)


def remove_leftovers(run_dir):
    """Removes the temporary files killed writers left in the run directory, and only those."""
    for sub in ("", "backup", "images"):
        directory = os.path.join(run_dir, sub)
        if os.path.isdir(directory) and not os.path.islink(directory):
            files.remove_leftovers(directory, dirs_named=None)


def read_config(run_dir):
    return read_json(os.path.join(run_dir, "config.json"))


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"Cannot read {path}: {error}. Fix or remove it, or pass --overwrite."
        ) from None


def _listed(differences):
    return "; ".join(
        f"{name}: {old!r} in config.json, {new!r} now" for name, old, new in differences
    )


def _same(a, b):
    return json.loads(json.dumps(a)) == json.loads(json.dumps(b))  # tuples and lists alike


def _longer(saved, old, new):
    return (
        saved.get("lr_schedule", "constant") == "constant" and isinstance(new, int) and new >= old
    )
