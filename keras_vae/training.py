"""A whole training run, from a config to a run directory: the engine behind `keras-vae train`.

RUN_DIR gets `config.json` (everything needed to reproduce the run), `model.keras`
(rewritten atomically after every good epoch), `history.csv`, `metrics.json`,
`images/` and `logs/` (pictures as PNG and for TensorBoard, unless `images=False`), and
`backup/` while a run is unfinished (rerunning the same command resumes from it).
"""

import dataclasses
import json
import math
import os
import shutil

import keras
import numpy as np
import tensorflow as tf

from keras_vae import callbacks as vae_callbacks
from keras_vae import checks, data, distribute, files, optimizers, presets, visualize
from keras_vae.model import VAE


@dataclasses.dataclass
class TrainConfig:
    """Every setting of a run; saved as RUN_DIR/config.json."""

    out: str
    preset: str | None = None
    dataset: str = "shapes"
    data: str | None = None
    npz_key: str = "images"
    image_size: int | None = None
    binarize: bool = False
    num_examples: int | None = None
    validation_fraction: float = 0.1
    epochs: int = 10
    batch_size: int = 128
    latent_dim: int = 16
    likelihood: str | None = None
    beta: float = 1.0
    kl_warmup_steps: int = 0
    free_bits: float = 0.0
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    seed: int = 0
    max_skipped_updates: int = 25
    images: bool = True
    strategy: str = "auto"
    precision: str = "float32"
    jit_compile: str = "auto"
    checkpoint_every: int | None = None
    overwrite: bool = False
    verbose: str | int = "auto"

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Invalid value received for argument {name}. Expected an int >= 1. "
                    f"Received: {name}={value!r}"
                )
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0):
            raise ValueError(
                "Invalid value received for argument learning_rate. Expected a float > 0. "
                f"Received: learning_rate={self.learning_rate!r}"
            )
        checks.check_choice("lr_schedule", self.lr_schedule, optimizers.SCHEDULES)
        checks.check_choice("precision", self.precision, PRECISIONS)
        checks.check_choice("jit_compile", self.jit_compile, ("auto", "on", "off"))
        checks.check_choice("strategy", self.strategy, distribute.STRATEGIES)
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(
                "Invalid value received for argument validation_fraction. Expected a float "
                f"in (0, 1). Received: validation_fraction={self.validation_fraction!r}"
            )


PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


#: TrainConfig fields that are also VAE arguments.
_MODEL_FIELDS = ("latent_dim", "likelihood", "beta", "kl_warmup_steps", "free_bits", "seed")


def config_for(out, preset=None, **settings):
    """A `TrainConfig`: its defaults, then the preset's settings, then `settings`."""
    base = {}
    if preset:
        chosen = presets.get(preset)
        base = {**chosen["train"], **{k: v for k, v in chosen["model"].items() if k in _MODEL_FIELDS}}
    return TrainConfig(out=out, preset=preset, **{**base, **settings})


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or inf; the last good model was kept."""


def train(config, extra_callbacks=(), strategy=None):
    """Trains a VAE as `config` says and fills the run directory.

    Everything that can be checked (arguments, data, model) is checked before
    RUN_DIR is created, so bad input leaves nothing behind. Under a multi-worker
    strategy only the chief writes RUN_DIR's files; worker i writes its own backups
    to RUN_DIR/workertemp_i (TensorFlow's convention), so that it can resume too, and
    removes it when training ends.

    Args:
        config: a `TrainConfig`.
        extra_callbacks: extra Keras callbacks for `fit` (e.g. `keras_vae.callbacks` plots).
        strategy: a `tf.distribute.Strategy` to use instead of `config.strategy`.

    Returns:
        dict with the trained `model`, its `history` (dict of lists), the held-out
        `metrics` (dict of floats, nats per image), `run_dir` and `is_chief`.
    """
    # First of all: a multi-worker strategy must exist before any other TF op.
    strategy = strategy or distribute.strategy(config.strategy)
    chief = distribute.is_chief()
    run_dir = os.path.abspath(config.out)
    if not chief:  # TF's convention: a worker's own dir, kept until it finishes, for resume
        run_dir = os.path.join(run_dir, f"workertemp_{distribute.task_id()}")
    initial_epoch = _check_run_dir(run_dir, config.overwrite)
    keras.utils.set_random_seed(config.seed)
    train_ds, val_ds, image_shape = _datasets(config)
    steps = _steps_per_epoch(train_ds) if config.lr_schedule != "constant" else None
    with strategy.scope():
        model = build_model(config, image_shape, steps_per_epoch=steps)

    os.makedirs(run_dir, exist_ok=True)
    files.write_text(os.path.join(run_dir, "config.json"), _config_json(config, image_shape))
    stop = vae_callbacks.StopOnSkippedUpdates(config.max_skipped_updates)
    checkpoint = vae_callbacks.AtomicModelCheckpoint(os.path.join(run_dir, "model.keras"))
    if config.images and chief:  # a worker's pictures would only be deleted with its dir
        extra_callbacks = [
            *visualize.default_callbacks(
                val_ds, image_dir=os.path.join(run_dir, "images"),
                log_dir=os.path.join(run_dir, "logs"),
            ),
            *extra_callbacks,
        ]
    callbacks = [
        stop,
        checkpoint,
        vae_callbacks.FiniteBackupAndRestore(
            os.path.join(run_dir, "backup"), save_freq=config.checkpoint_every or "epoch"
        ),
        vae_callbacks.HistoryCSV(os.path.join(run_dir, "history.csv"), initial_epoch),
        *extra_callbacks,
    ]
    history = model.fit(
        train_ds, validation_data=val_ds, epochs=config.epochs, callbacks=callbacks,
        shuffle=False,  # the dataset shuffles itself
        verbose=config.verbose,
    )
    if stop.failure:
        raise _diverged(stop.failure, checkpoint)
    metrics = model.evaluate(val_ds, verbose=0, return_dict=True)
    metrics = {k: float(np.ravel(v)[0]) for k, v in metrics.items()}
    files.write_text(os.path.join(run_dir, "metrics.json"), json.dumps(metrics, indent=2) + "\n")
    if not chief:
        shutil.rmtree(run_dir, ignore_errors=True)
    return {
        "model": model, "history": history.history, "metrics": metrics,
        "run_dir": os.path.abspath(config.out), "is_chief": chief,
    }


def build_model(config, image_shape, steps_per_epoch=None):
    """A compiled `VAE` for `config` and images of `image_shape` (call in a strategy scope).

    `steps_per_epoch` (global batches per epoch) sets the length of a decaying
    learning-rate schedule: `config.epochs * steps_per_epoch` optimizer steps.
    """
    likelihood = config.likelihood or ("bernoulli" if image_shape[-1] == 1 else "gaussian")
    model_args = presets.get(config.preset)["model"] if config.preset else {}
    model = VAE(**{
        **model_args,
        **{name: getattr(config, name) for name in _MODEL_FIELDS},
        "input_shape": image_shape, "likelihood": likelihood, "dtype": config.precision,
    })  # fmt: skip
    jit = config.jit_compile
    if jit == "auto":  # XLA was slower than plain TF for this model on CPU (RESULTS.md)
        jit = bool(tf.config.list_physical_devices("GPU"))
    decay_steps = config.epochs * steps_per_epoch if steps_per_epoch else None
    optimizer = optimizers.adam(config.learning_rate, config.lr_schedule, decay_steps)
    model.compile(optimizer=optimizer, jit_compile=jit in (True, "on"))
    return model


def _steps_per_epoch(dataset):
    """Batches per epoch, which a decaying learning-rate schedule needs to know in advance."""
    count = int(dataset.cardinality())
    if count < 1:
        size = {tf.data.INFINITE_CARDINALITY: "infinite", tf.data.UNKNOWN_CARDINALITY: "unknown"}
        raise ValueError(
            f"Invalid data: the training dataset's size is {size.get(count, count)}, so a "
            "decaying learning rate cannot be spread over the run. Use lr_schedule='constant'."
        )
    return count


def _diverged(failure, checkpoint):
    kept = (
        f"the model of epoch {checkpoint.saved_epoch} is kept in {checkpoint.path}"
        if checkpoint.saved_epoch else "no epoch finished, so no model was saved"
    )
    return TrainingDiverged(
        f"Training diverged: {failure['in_a_row']} updates in a row had a NaN or inf loss "
        f"or gradients (skipped), up to epoch {failure['epoch']}, step {failure['step']}; "
        f"{kept}. Try a lower --learning-rate or check the data."
    )


def _check_run_dir(run_dir, overwrite):
    """The epoch an unfinished run resumes at (0 for a new run); never clobbers a finished one."""
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise FileExistsError(f"Invalid value for --out: {run_dir} exists and is not a directory.")
    metadata = os.path.join(run_dir, "backup", "training_metadata.json")
    if os.path.isdir(os.path.join(run_dir, "backup")):
        if os.path.exists(metadata):
            with open(metadata) as f:
                return int(json.load(f).get("epoch", 0))
        return 0
    if os.path.exists(os.path.join(run_dir, "model.keras")) and not overwrite:
        raise FileExistsError(
            f"{run_dir} already holds a finished run (model.keras). Choose another --out, "
            "or pass --overwrite to replace it."
        )
    return 0


def _datasets(config):
    """(train, validation, image_shape) for the config's data source."""
    options = dict(
        batch_size=config.batch_size, image_size=config.image_size, seed=config.seed,
        binarize=config.binarize,
    )
    if config.data:
        images = data.read_images(config.data, key=config.npz_key, image_size=config.image_size)
        cut = _validation_cut(len(images), config.validation_fraction)
        options["image_size"] = None  # read_images resized them already
        train_ds = data.from_array(images[:cut], shuffle=True, **options)
        val_ds = data.from_array(images[cut:], shuffle=False, **_held_out(options))
    else:
        kwargs = {"num_examples": config.num_examples} if config.dataset == "shapes" else {}
        train_split, val_split = _splits(config.dataset)
        train_ds = data.load(config.dataset, train_split, shuffle=True, **options, **kwargs)
        val_ds = data.load(config.dataset, val_split, shuffle=False, **_held_out(options))
    # Multi-worker: every worker reads all files and keeps its share of each batch.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    train_ds, val_ds = train_ds.with_options(options), val_ds.with_options(options)
    return train_ds, val_ds, tuple(train_ds.element_spec.shape[1:])


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
            f"Invalid data: {n} image(s) is too few to hold out a validation set. "
            "Provide at least 2 images."
        )
    return n - held_out


def _config_json(config, image_shape):
    record = dataclasses.asdict(config)
    record["image_shape"] = list(image_shape)
    record["keras_version"] = keras.__version__
    return json.dumps(record, indent=2, default=_jsonable) + "\n"


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
