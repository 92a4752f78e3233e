"""The callbacks of a training run: backup, checkpoint, history, divergence."""

import csv
import io
import json
import math
import os

import keras
import numpy as np

from keras_vae import files, validation


class StopOnSkippedUpdates(keras.callbacks.Callback):
    """Stops training after `max_consecutive` skipped updates in a row, and remembers where.

    `VAE.train_step` skips a step whose loss or gradients are NaN/inf and counts it in
    the `skipped_updates` metric; a few are harmless (mixed float16 skips some while
    its loss scale settles), a run of them means training diverged. The caller
    raises an error naming the epoch and step (see `keras_vae.training.train`).

    Args:
        max_consecutive: skipped updates in a row that end training.
    """

    def __init__(self, max_consecutive=25):
        super().__init__()
        self.max_consecutive = validation.check_int("max_consecutive", max_consecutive, minimum=1)
        self.failure = None
        self._epoch = self._seen = self._in_a_row = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._seen = epoch, 0

    def on_train_batch_end(self, batch, logs=None):
        skipped = float((logs or {}).get("skipped_updates", 0.0))
        self._in_a_row = self._in_a_row + 1 if skipped > self._seen else 0
        self._seen = skipped
        if self._in_a_row >= self.max_consecutive:
            self.failure = {"epoch": self._epoch + 1, "step": batch + 1, "in_a_row": self._in_a_row}
            self.model.stop_training = True


class RunBackup(keras.callbacks.Callback):
    """Backs up the training state and its history, so that a killed run resumes exactly.

    After every epoch whose loss and weights are finite (and every `save_freq` steps
    if it is an int) the weights and the optimizer's state go to a new file in
    `backup_dir`, then `training_metadata.json`, naming that file, the epoch to resume
    at and the history rows so far, is renamed into place: that rename is the commit,
    so a kill at any moment leaves a whole backup, the new one or the one before.
    `restore` loads it before `fit`, which is then given the returned epoch as
    `initial_epoch`. With `history_path`, a CSV of the per-epoch logs is rewritten
    after every epoch, and from the committed rows on `restore`, so that after a kill
    and a resume every epoch appears in it exactly once.

    Args:
        backup_dir: the directory of the backup (the caller removes it when done).
        history_path: a CSV file for the per-epoch logs, or None.
        save_freq: `"epoch"`, or an int: also back up every that many steps (a resume
            then redoes the interrupted epoch from the last backup's weights).

    Examples:

        >>> backup = RunBackup("run/backup", history_path="run/history.csv")
        >>> initial_epoch = backup.restore(model)
        >>> model.fit(train, epochs=10, initial_epoch=initial_epoch, callbacks=[backup])
    """

    def __init__(self, backup_dir, history_path=None, save_freq="epoch"):
        super().__init__()
        if save_freq != "epoch":
            validation.check_int("save_freq", save_freq, minimum=1)
        self.backup_dir = os.fspath(backup_dir)
        self.history_path = history_path
        self.save_freq = save_freq
        self.metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self.rows = []  # per-epoch logs, the committed ones first
        self._epoch = self._steps = 0

    def read_metadata(self):
        """The committed metadata (`epoch`, `weights`, `history`), or None without a backup."""
        if not os.path.exists(self.metadata_path):
            return None
        with open(self.metadata_path, encoding="utf-8") as f:
            return json.load(f)

    def restore(self, model):
        """Loads the backup into `model` (compiled); returns the epoch to resume at (0: none)."""
        metadata = self.read_metadata() or {"epoch": 0, "history": []}
        self.rows = list(metadata.get("history", []))
        if self.history_path is not None:
            self._write_history()
        if metadata["epoch"] == 0 and "weights" not in metadata:
            return 0
        if not model.optimizer.built:  # its variables must exist to be loaded into
            model.optimizer.build(model.trainable_variables)
        # Backups written before 0.2 (Keras's BackupAndRestore) name no file: theirs is this one.
        model.load_weights(
            os.path.join(self.backup_dir, metadata.get("weights", "latest.weights.h5"))
        )
        return int(metadata["epoch"])

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        if self.save_freq != "epoch" and self._steps % self.save_freq == 0:
            self._save(self._epoch)

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append(
            {"epoch": epoch, **{k: float(np.ravel(v)[0]) for k, v in (logs or {}).items()}}
        )
        if _good_epoch(self.model, logs):
            self._save(epoch + 1)
        if self.history_path is not None:
            self._write_history()

    def _save(self, resume_epoch):
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"epoch{resume_epoch}_step{self._steps}.weights.h5"
        with files.atomic_path(os.path.join(self.backup_dir, name), suffix=".weights.h5") as tmp:
            self.model.save_weights(tmp)
        rows = [row for row in self.rows if row["epoch"] < resume_epoch]
        metadata = {"epoch": resume_epoch, "weights": name, "history": rows}
        files.write_text(self.metadata_path, json.dumps(metadata) + "\n")
        for other in os.listdir(self.backup_dir):  # older backups, now superseded
            if other.endswith(".weights.h5") and other != name and not other.startswith("."):
                os.remove(os.path.join(self.backup_dir, other))

    def _write_history(self):
        names = list(dict.fromkeys(k for row in self.rows for k in row)) or ["epoch"]
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        files.write_text(self.history_path, text.getvalue())


class AtomicModelCheckpoint(keras.callbacks.Callback):
    """Saves the whole model to `path` after every epoch whose loss and weights are finite.

    The write goes to a temporary file renamed into place, so `path` always holds a
    complete model: the last good one if training later diverges or is killed.

    Args:
        path: a `.keras` file.
    """

    def __init__(self, path):
        super().__init__()
        if not str(path).endswith(".keras"):
            raise validation.invalid("path", "a .keras file", path)
        self.path = path
        self.saved_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        if not _good_epoch(self.model, logs):
            return
        files.save_model(self.model, self.path)
        self.saved_epoch = epoch + 1


def _good_epoch(model, logs):
    """An epoch worth saving: finite loss and finite weights."""
    loss = (logs or {}).get("loss")
    if loss is not None and not math.isfinite(float(loss)):
        return False
    return all(np.isfinite(w).all() for w in model.get_weights())
