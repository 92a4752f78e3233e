"""The latent space in TensorBoard's embedding projector.

Keras 3's `TensorBoard(embeddings_freq=...)` writes embeddings in a layout the projector
cannot read (keras-team/keras#20210). This writes the layout of TensorBoard's own projector
tutorial into `LOG_DIR/projector`: the codes as a checkpointed variable, a
`projector_config.pbtxt` naming it, `metadata.tsv` (labels and factors, one row per
example) and `sprite.png` (the images, so each point shows its own). Run
`tensorboard --logdir LOG_DIR` and open the Projector tab.

Each write goes to a new checkpoint, and the config that names it is replaced last, so a
reader never finds a config pointing at a half-written checkpoint.
"""

import glob
import os

import keras
import numpy as np
import tensorflow as tf

from keras_vae import files, validation
from keras_vae.visualization import latent
from keras_vae.visualization.images import encode_png, image_grid

#: The largest side of a sprite the projector loads, in pixels.
MAX_SPRITE_SIDE = 8192
#: The variable's name in the checkpoint, which the config names.
TENSOR_NAME = "embedding/.ATTRIBUTES/VARIABLE_VALUE"


def write_projector(model, images, log_dir, metadata=None, step=0):
    """Writes `model`'s codes of `images` (the posterior means) for the projector.

    Args:
        model: a keras_vae model.
        images: the examples (N, *data_shape); images (N, H, W, C) also make the sprite.
        log_dir: TensorBoard's log directory; files go to `log_dir/projector`.
        metadata: None, or {column name: N values} (labels, factors) for `metadata.tsv`.
        step: numbers the checkpoint (the epoch); older ones are removed.

    Returns:
        the projector directory.

    Examples:

        >>> write_projector(model, val_images[:500], "logs", {"label": val_labels[:500]})
        'logs/projector'
    """
    images = np.asarray(images, np.float32)
    columns = _checked_metadata(metadata, len(images))
    directory = os.path.join(os.fspath(log_dir), "projector")
    os.makedirs(directory, exist_ok=True)
    codes = latent.encode_mean(model, images)
    sprite = _sprite(images)

    from tensorboard.plugins import projector

    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = TENSOR_NAME
    if columns:
        _write(os.path.join(directory, "metadata.tsv"), _tsv(columns).encode())
        embedding.metadata_path = "metadata.tsv"
    if sprite is not None:
        _write(os.path.join(directory, "sprite.png"), encode_png(sprite))
        embedding.sprite.image_path = "sprite.png"
        embedding.sprite.single_image_dim.extend([images.shape[2], images.shape[1]])
    prefix = os.path.join(directory, f"embedding-{step:04d}")
    tf.train.Checkpoint(embedding=tf.Variable(codes)).write(prefix)
    config.model_checkpoint_path = os.path.basename(prefix)
    _write(os.path.join(directory, "projector_config.pbtxt"), str(config).encode())
    for old in glob.glob(os.path.join(directory, "embedding-*")):
        if not os.path.basename(old).startswith(os.path.basename(prefix) + "."):
            os.remove(old)
    return directory


class LatentProjector(keras.callbacks.Callback):
    """Writes the latent means of a fixed set to TensorBoard's projector every
    `every_n_epochs` epochs (`write_projector`), with labels or factors as metadata.

    Args:
        images: the examples to place (N, *data_shape), a few thousand at most.
        log_dir: TensorBoard's log directory.
        labels: one label per example, or None.
        factors: (N, num_factors) known factors, or None; `factor_names` name them.
        factor_names: a name per factor (default factor_0, ...).
        every_n_epochs: an int >= 1.

    Examples:

        >>> LatentProjector(images, "logs", factors=shapes.factor_array(raw),
        ...                 factor_names=shapes.FACTOR_NAMES)
    """

    def __init__(
        self,
        images,
        log_dir,
        labels=None,
        factors=None,
        factor_names=None,
        every_n_epochs=1,
    ):
        super().__init__()
        self.images = np.asarray(images, np.float32)
        if self.images.ndim < 2 or len(self.images) < 2:
            raise validation.invalid("images.shape", "(N, ...) with N >= 2", self.images.shape)
        self.log_dir = os.fspath(log_dir)
        self.every_n_epochs = validation.check_int("every_n_epochs", every_n_epochs, minimum=1)
        columns = {}
        if labels is not None:
            columns["label"] = np.asarray(labels)
        if factors is not None:
            factors = np.asarray(factors)
            factors = factors[:, None] if factors.ndim == 1 else factors
            names = list(factor_names or (f"factor_{j}" for j in range(factors.shape[-1])))
            if factors.ndim != 2 or len(names) != factors.shape[-1]:
                raise validation.invalid(
                    "factor_names", f"a name per factor ({factors.shape})", factor_names
                )
            columns.update({name: factors[:, j] for j, name in enumerate(names)})
        self.metadata = columns or None
        _checked_metadata(self.metadata, len(self.images))
        _sprite(self.images)  # too many images for a sprite: refused before training

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs == 0:
            write_projector(self.model, self.images, self.log_dir, self.metadata, step=epoch)


def _checked_metadata(metadata, count):
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not metadata:
        raise validation.invalid(
            "metadata", "None or {column name: one value per example}", metadata
        )
    columns = {}
    for name, values in metadata.items():
        values = np.asarray(values).reshape(-1)
        if len(values) != count:
            raise validation.invalid(
                f"metadata[{name!r}]",
                f"one value per example ({count})",
                validation.Described(f"{len(values)} values"),
            )
        columns[str(name)] = values
    return columns


def _tsv(columns):
    """One column without a header (the projector's rule), else a header row."""
    rows = zip(*(_text(v) for v in columns.values()))
    lines = ["\t".join(row) for row in rows]
    if len(columns) > 1:
        lines.insert(0, "\t".join(columns))
    return "\n".join(lines) + "\n"


def _text(values):
    if np.issubdtype(values.dtype, np.floating):
        return [f"{v:.4g}" for v in values]
    return [str(v).replace("\t", " ").replace("\n", " ") for v in values]


def _sprite(images):
    """The images tiled in a square, row by row, without padding (black below the last), or
    None for data that are not images."""
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        return None
    columns = int(np.ceil(np.sqrt(len(images))))
    side = columns * max(images.shape[1:3])
    if side > MAX_SPRITE_SIDE:
        raise validation.invalid(
            "images",
            f"at most {(MAX_SPRITE_SIDE // max(images.shape[1:3])) ** 2} images of this size "
            f"(the projector loads sprites up to {MAX_SPRITE_SIDE} pixels a side)",
            validation.Described(f"{len(images)} images"),
        )
    grid = image_grid(images, columns=columns, padding=0)
    square = np.zeros((columns * images.shape[1], *grid.shape[1:]), np.uint8)  # as TF's tutorial
    square[: len(grid)] = grid
    return square


def _write(path, data):
    with files.atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
