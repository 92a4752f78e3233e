"""Keras callbacks that draw what a VAE has learned while `model.fit` runs.

Each callback renders one image grid every `every_n_epochs` epochs, from inputs and noise
fixed when it is created, so successive images show training progress and nothing else.
The grid goes to a PNG file in `image_dir` (`<name>_epoch_<NNNN>.png`, the epoch counted
from 1 as `fit` prints it), to TensorBoard under `log_dir/images` (tag `<name>`, step = the
epoch index from 0, as `keras.callbacks.TensorBoard` logs scalars), to an inline notebook
display (`show=True`), and to `callback.last_image` always.

Callbacks only read the model (posterior means, no sampling ops) and draw their noise
from NumPy, so training gives the same weights with and without them.
"""

import os
import time
import weakref

import keras
import numpy as np
import tensorflow as tf

from keras_vae import files, validation
from keras_vae.visualization import latent, plotting

# One summary writer per directory, shared by all callbacks writing there: TensorBoard
# reads only the newest event file of a directory while it is being written.
_WRITERS = weakref.WeakValueDictionary()


class ImageCallback(keras.callbacks.Callback):
    """Base of the visualization callbacks: when to draw, and where the image goes.

    Subclasses implement `render()`, returning a uint8 image (H, W, 1 or 3).

    Args:
        image_dir: directory for PNG files (created if needed), or None.
        log_dir: TensorBoard log directory (summaries go to `log_dir/images`), or None.
        every_n_epochs: draw after every n-th epoch, an int >= 1.
        name: file prefix and TensorBoard tag (default: the class's `default_name`).
        show: display each image inline (in a notebook, via IPython).

    Example:

    >>> class Means(ImageCallback):
    ...     def render(self):
    ...         return plotting.image_grid(self.model.decode(np.zeros((1, self.model.latent_dim))))
    >>> model.fit(train, epochs=3, callbacks=[Means(image_dir="images", name="origin")])
    """

    default_name = "images"

    def __init__(self, image_dir=None, log_dir=None, every_n_epochs=1, name=None, show=False):
        super().__init__()
        self.image_dir = None if image_dir is None else os.fspath(image_dir)
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self.every_n_epochs = validation.check_int("every_n_epochs", every_n_epochs, minimum=1)
        self.name = name or self.default_name
        self.show = show
        self.last_image = None
        self.seconds = 0.0  # time spent drawing and writing, for overhead checks
        self._writer = None

    def render(self):
        """Returns the current image as a uint8 array (H, W, C)."""
        raise NotImplementedError

    def check_model(self, model):
        """Raises ValueError if the callback cannot draw `model` (e.g. bad latent dims)."""

    def on_train_begin(self, logs=None):
        self.check_model(self.model)
        if self.image_dir is not None:
            os.makedirs(self.image_dir, exist_ok=True)
        if self.log_dir is not None and self._writer is None:
            self._writer = _summary_writer(os.path.join(self.log_dir, "images"))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        start = time.perf_counter()
        self.last_image = self.render()
        self.write(self.last_image, epoch)
        self.seconds += time.perf_counter() - start

    def write(self, image, epoch):
        """Sends `image` to the PNG folder, TensorBoard and the notebook, as configured."""
        if self.image_dir is None and self._writer is None and not self.show:
            return
        png = plotting.encode_png(image, compress_level=1)
        if self.image_dir is not None:
            path = os.path.join(self.image_dir, f"{self.name}_epoch_{epoch + 1:04d}.png")
            with files.atomic_path(path, suffix=".png") as tmp:
                with open(tmp, "wb") as f:
                    f.write(png)
        if self._writer is not None:
            write_image_summary(self._writer, self.name, image, step=epoch)
        if self.show:
            from IPython import display

            display.display(display.Image(data=png, format="png"))


class ReconstructionGrid(ImageCallback):
    """Originals above their reconstructions (`plotting.reconstruction_grid`).

    Args:
        images: a few fixed images (N, H, W, C) in [0, 1], e.g. 16 held-out ones.
        columns: images per row.
        **kwargs: `image_dir`, `log_dir`, `every_n_epochs`, `name`, `show` (see `ImageCallback`).

    Example:

    >>> callback = ReconstructionGrid(val_images[:16], image_dir="run/images")
    >>> model.fit(train, epochs=10, callbacks=[callback])
    """

    default_name = "reconstructions"

    def __init__(self, images, columns=8, **kwargs):
        super().__init__(**kwargs)
        self.images = validation.check_images("images", images)
        self.columns = validation.check_int("columns", columns, minimum=1)

    def render(self):
        return plotting.reconstruction_grid(self.model, self.images, self.columns)


class PriorSamples(ImageCallback):
    """Decoded z ~ N(0, I), the same `n` draws every epoch.

    Args:
        n: number of samples.
        seed: seed of the draws (NumPy's generator: training's randomness is untouched).
        **kwargs: as in `ImageCallback`.

    Example:

    >>> model.fit(train, epochs=10, callbacks=[PriorSamples(64, log_dir="run/logs")])
    """

    default_name = "prior_samples"

    def __init__(self, n=64, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.n = validation.check_int("n", n, minimum=1)
        self.seed = seed
        self.z = None

    def check_model(self, model):
        if self.z is None or self.z.shape[1] != model.latent_dim:
            self.z = latent.prior_latents(self.n, model.latent_dim, self.seed)

    def render(self):
        return plotting.decoded_grid(self.model, self.z)


class LatentManifold(ImageCallback):
    """The decoded grid of z over the prior's quantiles in two latent dims (`plotting.manifold`).

    Args:
        grid: images per side.
        dims: the two latent dims to sweep, the others held at 0; or `"active"`: the two
            whose z_mean varies most over `images`, chosen at every drawing.
        images: held-out images, needed for `dims="active"` only.
        **kwargs: as in `ImageCallback`.

    Example:

    >>> model.fit(train, epochs=10, callbacks=[LatentManifold(grid=20, image_dir="images")])
    """

    default_name = "manifold"

    def __init__(self, grid=20, dims=(0, 1), images=None, **kwargs):
        super().__init__(**kwargs)
        self.grid = validation.check_int("grid", grid, minimum=2)
        if isinstance(dims, str) and dims != "active":
            raise validation.invalid("dims", "two latent dims or 'active'", dims)
        if isinstance(dims, str) and images is None:
            raise validation.invalid("images", "held-out images with dims='active' (the dims are "
                                     "ranked by how much their z_mean varies over them)", None)  # fmt: skip
        self.dims = dims
        self.images = None if images is None else validation.check_images("images", images)

    def check_model(self, model):
        if model.latent_dim < 2:
            raise validation.invalid("model.latent_dim", ">= 2 for LatentManifold", model.latent_dim)
        if not isinstance(self.dims, str):
            latent.check_dims(self.dims, model.latent_dim, count=2)

    def render(self):
        dims = self.dims
        if isinstance(dims, str):
            dims = latent.active_dims(self.model, self.images, count=2)
        return plotting.manifold(self.model, self.grid, dims)


class LatentScatter(ImageCallback):
    """z_mean of a held-out set, coloured by label (`plotting.latent_scatter`).

    Args:
        images: held-out images (N, H, W, C), e.g. 1,000 to 2,000.
        labels: optional labels (N,), e.g. classes.
        label_names: optional class names, indexed by label.
        **kwargs: as in `ImageCallback`.

    Example:

    >>> LatentScatter(test_images, labels=test_labels, image_dir="images")
    """

    default_name = "latent_scatter"

    def __init__(self, images, labels=None, label_names=None, **kwargs):
        super().__init__(**kwargs)
        self.images = validation.check_images("images", images)
        self.labels = None if labels is None else np.asarray(labels)
        if self.labels is not None and len(self.labels) != len(self.images):
            raise validation.invalid("len(labels)", f"one label per image ({len(self.images)})",
                                     len(self.labels))  # fmt: skip
        self.label_names = label_names

    def render(self):
        figure = plotting.latent_scatter(self.model, self.images, self.labels, self.label_names)
        return plotting.figure_to_array(figure)


class Interpolation(ImageCallback):
    """Decoded points on the line between the encodings of `a[i]` and `b[i]`, one row per pair.

    Args:
        a, b: one image (H, W, C) each, or batches (N, H, W, C) of pairs.
        steps: images per row, ends included.
        spherical: also draw the spherical (slerp) path under each line.
        **kwargs: as in `ImageCallback`.

    Example:

    >>> Interpolation(val_images[:4], val_images[4:8], steps=10, image_dir="images")
    """

    default_name = "interpolation"

    def __init__(self, a, b, steps=10, spherical=False, **kwargs):
        super().__init__(**kwargs)
        self.a, self.b = validation.check_images("a", a), validation.check_images("b", b)
        if self.a.shape != self.b.shape:
            raise validation.invalid("b.shape", f"a's shape {self.a.shape} (pairs of images)",
                                     self.b.shape)  # fmt: skip
        self.steps = validation.check_int("steps", steps, minimum=2)
        self.spherical = bool(spherical)

    def render(self):
        return plotting.interpolation_grid(self.model, self.a, self.b, self.steps, self.spherical)


class LatentTraversal(ImageCallback):
    """One row per latent dim: `image`'s z_mean with that dim swept over [-span, span].

    Args:
        image: one image (H, W, C) (or a batch of one).
        dims: latent dims to vary (default: all).
        span: largest absolute value of the varied dim.
        steps: images per row.
        **kwargs: as in `ImageCallback`.

    Example:

    >>> LatentTraversal(val_images[0], dims=range(8), span=3, image_dir="images")
    """

    default_name = "traversal"

    def __init__(self, image, dims=None, span=3.0, steps=9, **kwargs):
        super().__init__(**kwargs)
        image = np.asarray(image)[None] if np.ndim(image) == 3 else image
        self.image = validation.check_images("image", image)[0]
        self.dims = None if dims is None else list(dims)
        self.span = span
        self.steps = validation.check_int("steps", steps, minimum=2)

    def check_model(self, model):
        dims = range(model.latent_dim) if self.dims is None else self.dims
        latent.traversal_latents(np.zeros(model.latent_dim), dims, self.span, self.steps)

    def render(self):
        return plotting.traversal_grid(self.model, self.image, self.dims, self.span, self.steps)


def default_callbacks(images, image_dir=None, log_dir=None, every_n_epochs=1):
    """The visualizations worth watching in every run: reconstructions, prior samples and
    the manifold of the two most active latent dims.

    Args:
        images: held-out images (N, H, W, C) in [0, 1], or a `tf.data.Dataset` of such
            batches: the first 16 are reconstructed, the first 128 rank the latent dims.
        image_dir: directory for PNG files, or None.
        log_dir: TensorBoard log directory, or None.
        every_n_epochs: draw after every n-th epoch.

    Returns:
        list of callbacks `[ReconstructionGrid, PriorSamples, LatentManifold]`.

    Example:

    >>> callbacks = default_callbacks(val, image_dir="run/images", log_dir="run/logs")
    >>> model.fit(train, epochs=10, callbacks=callbacks)
    """
    images = _first_images(images, 128)
    where = {"image_dir": image_dir, "log_dir": log_dir, "every_n_epochs": every_n_epochs}
    return [
        ReconstructionGrid(images[:16], **where),
        PriorSamples(n=64, seed=0, **where),
        LatentManifold(grid=20, dims="active", images=images, **where),
    ]


def write_image_summary(writer, tag, image, step):
    """Writes one uint8 image (H, W, C) as a TensorBoard image summary, and flushes.

    Example:

    >>> writer = tf.summary.create_file_writer("logs/images")
    >>> write_image_summary(writer, "grid", grid, step=0)
    """
    with writer.as_default():
        tf.summary.image(tag, np.asarray(image)[None], step=step)
    writer.flush()


def _summary_writer(path):
    path = os.path.abspath(path)
    writer = _WRITERS.get(path)
    if writer is None:
        writer = tf.summary.create_file_writer(path)
        _WRITERS[path] = writer
    return writer


def _first_images(images, n):
    if isinstance(images, tf.data.Dataset):
        batches, count = [], 0
        for batch in images:
            batches.append(np.asarray(batch[0] if isinstance(batch, tuple) else batch))
            count += len(batches[-1])
            if count >= n:
                break
        images = np.concatenate(batches) if batches else np.zeros((0,))
    return validation.check_images("images", images)[:n]
