"""A whole training run, from a config to a run directory: the engine behind `keras-vae train`.

RUN_DIR gets `config.json` (everything needed to reproduce the run), `model.keras`
(rewritten atomically after every good epoch), `history.csv`, `metrics.json`, `logs/`
(TensorBoard: loss curves, and pictures unless `images=False`), `images/` (the pictures
as PNG), and `backup/` while a run is unfinished (rerunning the same command resumes).
"""

import dataclasses
import json
import math
import os
import shutil
import sys

import keras
import numpy as np
import tensorflow as tf

from keras_vae import backend, data, files, validation
from keras_vae.models import optimizers, presets, recipes
from keras_vae.training import callbacks as run_callbacks
from keras_vae.training import distribute, rundir
from keras_vae.visualization.callbacks import default_callbacks


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or inf; the last good model was kept."""


def train(config, extra_callbacks=(), strategy=None):
    """Trains a VAE as `config` says and fills the run directory (see `rundir` for its states).

    Everything that can be checked (arguments, data, model, a resumed run's settings,
    where outputs go) is checked before anything is written, so bad input leaves
    nothing behind. Rerunning a killed run resumes it. Under a multi-worker strategy
    only the chief writes RUN_DIR's files; worker i keeps its own backups in
    RUN_DIR/workertemp_i (TensorFlow's convention), so that it can resume too, and
    removes them when training ends.

    Args:
        config: a `TrainConfig`.
        extra_callbacks: extra Keras callbacks for `fit` (e.g. `keras_vae.visualization` ones).
        strategy: a `tf.distribute.Strategy` to use instead of `config.strategy`.

    Returns:
        dict with the trained `model`, its `history` (dict of lists), the held-out
        `metrics` (dict of floats, nats per example), `run_dir`, `export_path` (None
        without an export), `is_chief` and `already_finished` (the same run was found
        finished: nothing was trained).
    """
    # First of all: a multi-worker strategy must exist before any other TF op.
    strategy = strategy or distribute.strategy(config.strategy)
    chief = distribute.is_chief()
    run_dir = os.path.abspath(config.out)
    if not chief:  # TF's convention: a worker's own dir, kept until it finishes, for resume
        run_dir = os.path.join(run_dir, f"workertemp_{distribute.task_id()}")
    files.check_writable(run_dir, "the run")
    if config.export_dir and chief:
        backend.require_tensorflow("--export-dir (a SavedModel export)", backend.EXPORT_WAY_OUT)
        files.check_writable(config.export_dir, "the export")
    keras.utils.set_random_seed(config.seed)
    train_ds, val_ds, data_shape, num_classes = _datasets(config)
    record = _config_record(config, data_shape, num_classes)
    if rundir.prepare(run_dir, record, config.overwrite) == "finished" and not config.overwrite:
        return _finished(run_dir, config, chief)
    steps = _steps_per_epoch(train_ds) if config.lr_schedule != "constant" else None
    size = _dataset_size(config, train_ds)
    with strategy.scope():
        model = build_model(
            config, data_shape, steps_per_epoch=steps, num_classes=num_classes, dataset_size=size
        )

    rundir.start(run_dir, json.dumps(record, indent=2) + "\n", config.overwrite)
    history, model = _fit(config, model, strategy, run_dir, train_ds, val_ds, extra_callbacks)
    metrics = model.evaluate(val_ds, verbose=0, return_dict=True)
    metrics = {k: float(np.ravel(v)[0]) for k, v in metrics.items()}
    files.save_model(model, os.path.join(run_dir, "model.keras"))
    export_path = None
    if config.export_dir and chief:
        export_path = _export(run_dir, model, config.export_dir)
    rundir.finish(run_dir, json.dumps(metrics, indent=2) + "\n")
    if not chief:
        shutil.rmtree(run_dir, ignore_errors=True)
    return {
        "model": model,
        "history": history.history,
        "metrics": metrics,
        "run_dir": os.path.abspath(config.out),
        "export_path": export_path,
        "is_chief": chief,
        "already_finished": False,
    }


def _fit(config, model, strategy, run_dir, train_ds, val_ds, extra_callbacks):
    """Restores the run's backup into `model` and trains it, writing the backup, model.keras,
    history.csv and (on the chief) the logs and pictures as it goes."""
    backup = run_callbacks.RunBackup(
        os.path.join(run_dir, "backup"),
        history_path=os.path.join(run_dir, "history.csv"),
        save_freq=config.checkpoint_every or "epoch",
    )
    with strategy.scope():
        initial_epoch = backup.restore(model)
    stop = run_callbacks.StopOnSkippedUpdates(config.max_skipped_updates)
    checkpoint = run_callbacks.AtomicModelCheckpoint(os.path.join(run_dir, "model.keras"))
    if distribute.is_chief():  # a worker's logs and pictures would only be deleted with its dir
        extra_callbacks = [*_watching(config, model, run_dir, val_ds), *extra_callbacks]
    # The backup commits first: model.keras and history.csv follow it.
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs,
        initial_epoch=initial_epoch,
        callbacks=[stop, backup, checkpoint, *extra_callbacks],
        verbose=_verbosity(config.verbose),
    )
    if stop.failure:
        raise _diverged(stop.failure, checkpoint)
    return history, model


def _watching(config, model, run_dir, val_ds):
    """TensorBoard's logs, and the pictures of an image model unless `config.images` is off."""
    logs = os.path.join(run_dir, "logs")
    shape = model.data_shape
    watching = [keras.callbacks.TensorBoard(logs, write_graph=False)]
    if config.images and len(shape) == 3 and shape[-1] in (1, 3):
        images = os.path.join(run_dir, "images")
        watching += default_callbacks(val_ds, image_dir=images, log_dir=logs, model=model)
    return watching


def _finished(run_dir, config, chief):
    """The result of a run found finished: only its cleanup was left to do."""
    rundir.finish(run_dir)
    return {
        "model": keras.models.load_model(os.path.join(run_dir, "model.keras"), safe_mode=True),
        "history": {},
        "metrics": rundir.read_json(os.path.join(run_dir, "metrics.json")),
        "run_dir": os.path.abspath(config.out),
        "is_chief": chief,
        "already_finished": True,
        "export_path": None,
    }


class ExportFailed(OSError):
    """Training finished and model.keras is saved, but publishing the export failed."""


def _export(run_dir, model, export_dir):
    """Publishes the run's SavedModel once: export.json in the run names the version first."""
    from keras_vae import export  # TensorFlow's SavedModel code: only when a run gets here

    base_dir = os.path.abspath(
        os.path.join(export_dir, os.path.basename(os.path.normpath(run_dir)))
    )
    record_path = os.path.join(run_dir, "export.json")
    try:
        record = rundir.read_json(record_path) if os.path.exists(record_path) else {}
        if record.get("base_dir") != base_dir:
            os.makedirs(base_dir, exist_ok=True)
            record = {"base_dir": base_dir, "version": export.next_version(base_dir)}
            files.write_text(record_path, json.dumps(record) + "\n")
        path = os.path.join(base_dir, str(record["version"]))
        pending = os.path.exists(os.path.join(base_dir, ".pending-export.json"))
        if os.path.isdir(path) and not pending:  # published before a kill
            return path
        return export.publish(model, base_dir, version=record["version"], source=run_dir)[0]
    except (OSError, AssertionError, ValueError) as error:
        raise ExportFailed(
            f"Training finished and {os.path.join(run_dir, 'model.keras')} is saved, but the "
            f"export to {base_dir} failed: {error}. Retry it with: keras-vae export {run_dir} "
            f"--to {base_dir} (or rerun the same train command)."
        ) from error


def build_model(config, data_shape, steps_per_epoch=None, num_classes=None, dataset_size=None):
    """A compiled model for `config` and examples of `data_shape` (call in a strategy scope).

    The recipe is the preset's settings under the config's (`keras_vae.models.recipes`);
    with labelled data (`config.conditional`) the family defaults to `ConditionalVAE`, of
    the data's `num_classes` unless the config sets them. `steps_per_epoch` (global batches
    per epoch) sets the length of a decaying learning-rate schedule:
    `config.epochs * steps_per_epoch` optimizer steps. `dataset_size` (the training
    examples, counted when the config does not set them) is the TCVAE objective's, in
    place of a preset's.
    """
    recipe = {**(presets.get(config.preset) if config.preset else {}), **config.model_arguments()}
    if recipe.get("objective") == "tcvae" and dataset_size is not None:
        recipe["dataset_size"] = dataset_size  # the run's data, not a preset's
    if config.conditional:
        recipe.setdefault("model", "ConditionalVAE")
        recipe.setdefault("num_classes", num_classes)
        if num_classes is not None and recipe["num_classes"] < num_classes:
            raise validation.invalid(
                "num_classes",
                f"at least {num_classes} (the data's largest label + 1)",
                recipe["num_classes"],
            )
    model = recipes.build({**recipe, "seed": config.seed}, data_shape, dtype=config.precision)
    if (model.num_classes is not None) != config.conditional:
        has = "has classes" if model.num_classes is not None else "has no classes"
        raise validation.invalid(
            "model",
            f"a model {'with' if config.conditional else 'without'} classes for "
            f"{'labelled' if config.conditional else 'unlabelled'} data",
            validation.Described(f"{recipe.get('model', 'VAE')}, which {has}"),
        )
    jit = {"on": True, "off": False}.get(config.jit_compile, config.jit_compile)
    if jit == "auto" and backend.is_tensorflow():
        # XLA was slower than plain TF for this model on CPU (RESULTS.md). Elsewhere Keras's
        # own "auto": JAX compiles (eager JAX dispatched op by op, 0.8 s a step, and its
        # kernels filled the process's memory maps until LLVM failed), PyTorch runs eagerly.
        jit = bool(tf.config.list_physical_devices("GPU"))
    optimizer = optimizers.for_run(
        config.learning_rate, config.lr_schedule, config.epochs, steps_per_epoch
    )
    model.compile(optimizer=optimizer, jit_compile=jit)
    return model


def _dataset_size(config, dataset):
    """The training examples, for a TCVAE objective whose config does not set them (a
    preset's count is for its own data): the global batches times the batch size (a last,
    smaller batch counted whole); else None."""
    recipe = {**(presets.get(config.preset) if config.preset else {}), **config.model_arguments()}
    if recipe.get("objective") != "tcvae" or config.dataset_size is not None:
        return None
    count = int(dataset.cardinality())
    if count < 1:
        raise validation.invalid(
            "dataset_size",
            "the number of training examples, for objective 'tcvae' with training data whose "
            "size is not known in advance",
            None,
        )
    return count * config.batch_size


def _steps_per_epoch(dataset):
    """Batches per epoch, which a decaying learning-rate schedule needs to know in advance."""
    count = int(dataset.cardinality())
    if count < 1:
        size = {tf.data.INFINITE_CARDINALITY: "infinite", tf.data.UNKNOWN_CARDINALITY: "unknown"}
        raise ValueError(
            "Invalid value received for argument lr_schedule. Expected 'constant' for a training "
            "dataset whose size is not known in advance (a decay is spread over epochs x "
            f"batches). Received: a dataset of {size.get(count, count)} size"
        )
    return count


def _diverged(failure, checkpoint):
    kept = (
        f"the model of epoch {checkpoint.saved_epoch} is kept in {checkpoint.path}"
        if checkpoint.saved_epoch
        else "no epoch finished, so no model was saved"
    )
    return TrainingDiverged(
        f"Training diverged: {failure['in_a_row']} updates in a row had a NaN or inf loss "
        f"or gradients (skipped), up to epoch {failure['epoch']}, step {failure['step']}; "
        f"{kept}. Try a lower --learning-rate or check the data."
    )


def _verbosity(verbose):
    """Keras's verbosity; "auto" redraws a bar on a terminal, else prints a line per epoch."""
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    return verbose


def _datasets(config):
    """(train, validation, data_shape, num_classes) for the config's data source.

    `num_classes` is the largest label + 1 for labelled data, else None.
    """
    options = dict(
        batch_size=config.batch_size,
        image_size=config.image_size,
        seed=config.seed,
        binarize=config.binarize,
    )
    if config.data:
        train_ds, val_ds, num_classes = _file_datasets(config, options)
    else:
        train_ds, val_ds, num_classes = _named_datasets(config, options)
    # Multi-worker: every worker reads all files and keeps its share of each batch.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    train_ds, val_ds = train_ds.with_options(options), val_ds.with_options(options)
    spec = train_ds.element_spec[0] if config.conditional else train_ds.element_spec
    return train_ds, val_ds, tuple(spec.shape[1:]), num_classes


def _file_datasets(config, options):
    """`--data FILE.npz` or a directory: a share held out for validation."""
    labels, num_classes = None, None
    if config.labels_key is not None:
        labels = data.read_labels(config.data, config.labels_key)
        num_classes = int(labels.max()) + 1
    images = data.read_images(config.data, key=config.npz_key, image_size=config.image_size)
    if labels is not None and len(labels) != len(images):
        raise validation.invalid(
            "labels_key",
            f"one label for each of the {len(images)} examples in {config.data}",
            validation.Described(f"{config.labels_key!r}, {len(labels)} labels"),
        )
    cut = _validation_cut(len(images), config.validation_fraction)
    options = {**options, "image_size": None}  # read_images resized them already
    train_labels, val_labels = (None, None) if labels is None else (labels[:cut], labels[cut:])
    labelled = {}
    if labels is not None:
        labelled = {"labelled_fraction": config.labelled_fraction, **_augmentation(config)}
    train_ds = data.from_array(images[:cut], train_labels, shuffle=True, **labelled, **options)
    val_ds = data.from_array(images[cut:], val_labels, shuffle=False, **_held_out(options))
    return train_ds, val_ds, num_classes


def _named_datasets(config, options):
    """`--dataset NAME`: the built-in shapes or a tfds dataset, with its own held-out split."""
    kwargs = {"num_examples": config.num_examples} if config.dataset == "shapes" else {}
    kwargs["with_labels"] = config.with_labels
    if config.with_labels:
        kwargs.update(_augmentation(config))
    train_split, val_split = _splits(config.dataset)
    train_ds = data.load(config.dataset, train_split, shuffle=True, **options, **kwargs)
    held_out = _held_out(options)
    val_ds = data.load(
        config.dataset, val_split, shuffle=False, with_labels=config.with_labels, **held_out
    )
    return train_ds, val_ds, _dataset_classes(config.dataset) if config.with_labels else None


def _augmentation(config):
    """The config's augmentation of labelled training images, as data-loading arguments."""
    return {
        "labelled_shift": config.labelled_shift or 0,
        "labelled_rotation": config.labelled_rotation or 0.0,
        "labelled_zoom": config.labelled_zoom or 0.0,
    }


def _dataset_classes(name):
    """The number of classes of a named dataset's labels."""
    if name == "shapes":
        return len(data.shapes.SHAPE_NAMES)
    import tensorflow_datasets as tfds

    return int(tfds.builder(name).info.features["label"].num_classes)


def _held_out(options):
    """Held-out data is binarized once, the same every epoch, when training data is binarized."""
    return {**options, "binarize": "static" if options["binarize"] else False}


def _splits(dataset):
    if dataset == "shapes":
        return "train", "validation"
    return "train", "test"


def _validation_cut(n, fraction):
    held_out = max(1, int(math.floor(n * fraction)))
    if n - held_out < 1:
        raise ValueError(
            "Invalid value received for argument data. Expected at least 2 examples (one is "
            f"held out for validation). Received: {n} example(s)"
        )
    return n - held_out


def _config_record(config, data_shape, num_classes=None):
    """config.json's contents: every setting (JSON types), the data shape, the Keras version."""
    record = dataclasses.asdict(config)
    record["data_shape"] = list(data_shape)
    if config.conditional:
        record["data_classes"] = num_classes
    record["keras_version"] = keras.__version__
    record["backend"] = backend.name()
    return json.loads(json.dumps(record, default=_jsonable))


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
