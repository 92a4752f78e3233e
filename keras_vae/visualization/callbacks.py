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

import numpy as np
import tensorflow as tf

from keras_vae import validation
from keras_vae.visualization import latent, plotting
from keras_vae.visualization.image_callback import ImageCallback, write_image_summary

__all__ = [
    "ImageCallback",
    "ReconstructionGrid",
    "PriorSamples",
    "LatentManifold",
    "LatentScatter",
    "Interpolation",
    "LatentTraversal",
    "ClassSamples",
    "Analogies",
    "default_callbacks",
    "write_image_summary",
]


class ReconstructionGrid(ImageCallback):
    """Originals above their reconstructions (`plotting.reconstruction_grid`).

    Args:
        images: a few fixed images (N, H, W, C) in [0, 1], e.g. 16 held-out ones.
        columns: images per row.
        **kwargs: `image_dir`, `log_dir`, `every_n_epochs`, `name`, `show` (see `ImageCallback`).

    Examples:

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
    """`model.sample(n, seed=seed)`: decoded draws from the prior, the same every epoch.

    Args:
        n: number of samples.
        seed: seed of the draws (a stateless seed: training's randomness is untouched).
        **kwargs: as in `ImageCallback`.

    Examples:

        >>> model.fit(train, epochs=10, callbacks=[PriorSamples(64, log_dir="run/logs")])
    """

    default_name = "prior_samples"
    needs_classes = False

    def __init__(self, n=64, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.n = validation.check_int("n", n, minimum=1)
        self.seed = validation.check_int("seed", seed, minimum=0)

    def render(self):
        return plotting.sample_grid(self.model, self.n, self.seed)


class LatentManifold(ImageCallback):
    """The decoded grid of z over the prior's quantiles in two latent dims (`plotting.manifold`).

    Args:
        grid: images per side.
        dims: the two latent dims to sweep, the others held at 0; or `"active"`: the two
            whose z_mean varies most over `images`, chosen at every drawing.
        images: held-out images, needed for `dims="active"` only.
        **kwargs: as in `ImageCallback`.

    Examples:

        >>> model.fit(train, epochs=10, callbacks=[LatentManifold(grid=20, image_dir="images")])
    """

    default_name = "manifold"
    needs_classes = False

    def __init__(self, grid=20, dims=(0, 1), images=None, **kwargs):
        super().__init__(**kwargs)
        self.grid = validation.check_int("grid", grid, minimum=2)
        if isinstance(dims, str) and dims != "active":
            raise validation.invalid("dims", "two latent dims or 'active'", dims)
        if isinstance(dims, str) and images is None:
            raise validation.invalid(
                "images",
                "held-out images with dims='active' (the dims are "
                "ranked by how much their z_mean varies over them)",
                None,
            )
        self.dims = dims
        self.images = None if images is None else validation.check_images("images", images)

    def check_model(self, model):
        if model.latent_dim < 2:
            raise validation.invalid(
                "model.latent_dim", ">= 2 for LatentManifold", model.latent_dim
            )
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

    Examples:

        >>> LatentScatter(test_images, labels=test_labels, image_dir="images")
    """

    default_name = "latent_scatter"

    def __init__(self, images, labels=None, label_names=None, **kwargs):
        super().__init__(**kwargs)
        self.images = validation.check_images("images", images)
        self.labels = None if labels is None else np.asarray(labels)
        if self.labels is not None and len(self.labels) != len(self.images):
            raise validation.invalid(
                "len(labels)", f"one label per image ({len(self.images)})", len(self.labels)
            )
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

    Examples:

        >>> Interpolation(val_images[:4], val_images[4:8], steps=10, image_dir="images")
    """

    default_name = "interpolation"
    needs_classes = False

    def __init__(self, a, b, steps=10, spherical=False, **kwargs):
        super().__init__(**kwargs)
        self.a, self.b = validation.check_images("a", a), validation.check_images("b", b)
        if self.a.shape != self.b.shape:
            raise validation.invalid(
                "b.shape", f"a's shape {self.a.shape} (pairs of images)", self.b.shape
            )
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

    Examples:

        >>> LatentTraversal(val_images[0], dims=range(8), span=3, image_dir="images")
    """

    default_name = "traversal"
    needs_classes = False

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


class ClassSamples(ImageCallback):
    """A model with classes' samples, one row per class, the same z down each column
    (`plotting.class_grid`); the same draws every epoch.

    Args:
        styles: columns, each a draw z ~ p(z).
        seed: seed of the draws (a stateless seed: training's randomness is untouched).
        **kwargs: as in `ImageCallback`.

    Examples:

        >>> model.fit(train, epochs=10, callbacks=[ClassSamples(styles=8, image_dir="images")])
    """

    default_name = "class_samples"
    needs_classes = True

    def __init__(self, styles=8, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.styles = validation.check_int("styles", styles, minimum=1)
        self.seed = seed

    def render(self):
        return plotting.class_grid(self.model, self.styles, self.seed)


class Analogies(ImageCallback):
    """Held-out images (first column) encoded with q(z|x, y) and decoded as every class
    (`plotting.analogy_grid`, Kingma et al. 2014's Fig. 1).

    Args:
        images: a few fixed images (N, H, W, C) in [0, 1], e.g. 8 held-out ones.
        labels: their classes (N,), or None for the classifier's guesses at each drawing.
        **kwargs: as in `ImageCallback`.

    Examples:

        >>> Analogies(val_images[:8], labels=val_labels[:8], image_dir="images")
    """

    default_name = "analogies"
    needs_classes = True

    def __init__(self, images, labels=None, **kwargs):
        super().__init__(**kwargs)
        self.images = validation.check_images("images", images)
        self.labels = (
            None
            if labels is None
            else validation.check_labels("labels", labels, len(self.images), allow_unlabelled=False)
        )

    def check_model(self, model):
        if self.labels is not None:
            validation.check_labels(
                "labels", self.labels, num_classes=model.num_classes, allow_unlabelled=False
            )

    def render(self):
        return plotting.analogy_grid(self.model, self.images, self.labels)


def default_callbacks(
    images, image_dir=None, log_dir=None, every_n_epochs=1, model=None, labels=None
):
    """The visualizations worth watching in every run: reconstructions, prior samples and
    the manifold of the two most active latent dims; for a class-conditional model, samples
    by class and analogies instead of the last two.

    Args:
        images: held-out images (N, H, W, C) in [0, 1], or a `tf.data.Dataset` of such
            batches (or of `(images, labels)` batches): the first 16 are reconstructed, the
            first 128 rank the latent dims, the first 8 are a conditional model's analogies.
        image_dir: directory for PNG files, or None.
        log_dir: TensorBoard log directory, or None.
        every_n_epochs: draw after every n-th epoch.
        model: the model to be trained; a model with classes gets the class pictures.
            None: a model without classes.
        labels: the classes of `images` (N,) for the analogies (a dataset's own labels are
            used otherwise); None or any -1 among the first 8: the classifier's guesses.

    Returns:
        list of callbacks `[ReconstructionGrid, PriorSamples, LatentManifold]`, or
        `[ReconstructionGrid, ClassSamples, Analogies]` for a conditional model.

    Examples:

        >>> where = dict(image_dir="run/images", log_dir="run/logs")
        >>> callbacks = default_callbacks(val, model=model, **where)
        >>> model.fit(train, epochs=10, callbacks=callbacks)
    """
    images, found = _first_images(images, 128)
    where = {"image_dir": image_dir, "log_dir": log_dir, "every_n_epochs": every_n_epochs}
    if model is None or model.num_classes is None:
        return [
            ReconstructionGrid(images[:16], **where),
            PriorSamples(n=64, seed=0, **where),
            LatentManifold(grid=20, dims="active", images=images, **where),
        ]
    labels = found if labels is None else validation.check_labels("labels", labels)
    labels = None if labels is None or (np.asarray(labels[:8]) < 0).any() else labels[:8]
    return [
        ReconstructionGrid(images[:16], **where),
        ClassSamples(styles=8, seed=0, **where),
        Analogies(images[:8], labels=labels, **where),
    ]


def _first_images(images, n):
    """The first `n` images of an array or dataset, and their labels if the dataset has them."""
    labels = None
    if isinstance(images, tf.data.Dataset):
        batches, label_batches, count = [], [], 0
        for batch in images:
            batches.append(np.asarray(batch[0] if isinstance(batch, tuple) else batch))
            if isinstance(batch, tuple) and len(batch) > 1 and batch[1].dtype.is_integer:
                label_batches.append(np.asarray(batch[1]).reshape(-1))
            count += len(batches[-1])
            if count >= n:
                break
        images = np.concatenate(batches) if batches else np.zeros((0,))
        if label_batches and len(label_batches) == len(batches):
            labels = np.concatenate(label_batches)[:n]
    return validation.check_images("images", images)[:n], labels
