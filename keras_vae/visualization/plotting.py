"""Pictures of a model, usable from notebooks, callbacks and the CLI.

Grids (`reconstruction_grid`, `manifold`, ...) are uint8 arrays (H, W, C), cheap enough to
draw every epoch and ready for `save_png` or TensorBoard; `show` turns one into a matplotlib
figure for a notebook. `latent_scatter` is a figure. The primitives (`image_grid`,
`tile_rows`, `encode_png`, `save_png`, `show`, `figure_to_array`) live in
`keras_vae.visualization.images` and are part of this module's API too.
"""

import numpy as np

from keras_vae import validation
from keras_vae.visualization import latent
from keras_vae.visualization.images import (  # the picture primitives, with the figures below
    encode_gif,
    encode_png,
    figure_to_array,
    image_grid,
    save_png,
    show,
    tile_rows,
)

__all__ = [
    "image_grid",
    "tile_rows",
    "encode_png",
    "encode_gif",
    "save_png",
    "show",
    "figure_to_array",
    "reconstruction_grid",
    "decoded_grid",
    "sample_grid",
    "manifold",
    "interpolation_grid",
    "traversal_grid",
    "traversal_frames",
    "dims_by_kl",
    "attribute_grid",
    "neighbors_grid",
    "class_grid",
    "analogy_grid",
    "latent_scatter",
]


def reconstruction_grid(model, images, columns=8):
    """Originals above their reconstructions: rows of originals alternate with rows of
    `model.reconstruct(originals)`.

    Args:
        model: a `keras_vae.VAE`.
        images: images (N, H, W, C) in [0, 1].
        columns: images per row.

    Returns:
        uint8 image (see `image_grid`); a short last row is padded with black.

    Examples:

        >>> reconstruction_grid(model, images[:16]).shape
        (115, 231, 1)
    """
    images = np.asarray(images, np.float32)
    recon = np.concatenate(
        [
            np.asarray(model.reconstruct(images[i : i + latent.BATCH_SIZE]))
            for i in range(0, len(images), latent.BATCH_SIZE)
        ]
    )
    columns = min(validation.check_int("columns", columns, minimum=1), len(images))
    blank = (-len(images)) % columns
    pairs = np.stack([images, recon])  # (2, N, H, W, C)
    pairs = np.pad(pairs, [(0, 0), (0, blank)] + [(0, 0)] * 3)
    pairs = pairs.reshape(2, -1, columns, *images.shape[1:])  # (2, rows, columns, ...)
    return tile_rows(pairs.transpose(1, 0, 2, 3, 4, 5).reshape(-1, columns, *images.shape[1:]))


def decoded_grid(model, z, columns=None):
    """Decodes latent vectors (N, latent_dim) and tiles the images.

    Examples:

        >>> decoded_grid(model, np.zeros((64, model.latent_dim))).shape
        (231, 231, 1)
    """
    return image_grid(latent.decode(model, z), columns=columns)


def sample_grid(model, n=64, seed=0, columns=None):
    """`model.sample(n, seed=seed)` tiled: draws from the model's prior, the same for a seed.

    Examples:

        >>> sample_grid(model, 64).shape
        (231, 231, 1)
    """
    validation.check_int("n", n, minimum=1)
    return image_grid(np.asarray(model.sample(n, seed=seed)), columns=columns)


def manifold(model, grid=20, dims=(0, 1)):
    """The learned manifold: decodes `latent.manifold_latents` as one seamless image.

    Args:
        model: a `keras_vae.VAE` with latent_dim >= 2.
        grid: images per side.
        dims: the two latent dims swept (left to right, bottom to top); the others are 0.

    Returns:
        uint8 image (grid * H, grid * W, C).

    Examples:

        >>> manifold(model, grid=20).shape
        (560, 560, 1)
    """
    z = latent.manifold_latents(model.latent_dim, grid, dims)
    return tile_rows(latent.decode(model, z), padding=0)


def interpolation_grid(model, a, b, steps=10, spherical=False):
    """One row per pair (a[i], b[i]): decoded points on the line between their encodings;
    with `spherical=True`, each linear row is followed by the spherical (slerp) path.

    Args:
        model: a `keras_vae.VAE`.
        a, b: one image (H, W, C) each, or batches (N, H, W, C).
        steps: images per row, ends included.
        spherical: whether to add the spherical path.

    Returns:
        uint8 image.

    Examples:

        >>> interpolation_grid(model, images[:2], images[2:4], steps=8).shape
        (57, 231, 1)
    """
    a, b = (np.asarray(x, np.float32) for x in (a, b))
    a, b = (x[None] if x.ndim == 3 else x for x in (a, b))
    z_a, z_b = latent.encode_mean(model, a), latent.encode_mean(model, b)
    kinds = (False, True) if spherical else (False,)
    paths = np.stack([latent.interpolate_latents(z_a, z_b, steps, s) for s in kinds], axis=1)
    return tile_rows(latent.decode(model, paths.reshape(-1, steps, model.latent_dim)))


def traversal_grid(model, image, dims=None, span=3.0, steps=9):
    """One row per latent dim: `image`'s z_mean with that dim swept over [-span, span].

    Args:
        model: a `keras_vae.VAE`.
        image: one image (H, W, C).
        dims: latent dims to vary (default: all).
        span: largest absolute value of the varied dim.
        steps: images per row.

    Returns:
        uint8 image.

    Examples:

        >>> traversal_grid(model, images[0], dims=[0, 1, 2]).shape
        (86, 260, 1)
    """
    z = latent.encode_mean(model, np.asarray(image, np.float32)[None])[0]
    dims = range(model.latent_dim) if dims is None else dims
    return tile_rows(latent.decode(model, latent.traversal_latents(z, dims, span, steps)))


def dims_by_kl(model, images):
    """The latent dims, the one with the largest mean KL(q(z_d|x) || p(z_d)) over `images`
    first; by the variance of z_mean where the model has no per-dim KL (a flow, a learned
    prior).

    Examples:

        >>> dims_by_kl(model, images[:256])[:3]
        (5, 0, 9)
    """
    images = np.asarray(images, np.float32)
    kl = model.kl_per_dim(images)
    if kl is not None and np.shape(kl)[-1] == model.latent_dim:  # a hierarchy's are all layers'
        score = np.mean(np.asarray(kl), axis=0)
    else:
        score = latent.encode_mean(model, images).var(axis=0)
    return tuple(int(d) for d in np.argsort(-score, kind="stable"))


def traversal_frames(model, images, dims=None, span=3.0, steps=13):
    """The frames of a latent traversal animation (disentanglement_lib's): frame t shows
    one row per dim in `dims`, one column per image, each image's z_mean with that dim set
    to the t-th of `steps` values in [-span, span].

    Args:
        model: a keras_vae model without classes.
        images: the images whose codes are swept (N, H, W, C), N >= 1.
        dims: the dims, one row each, top first (default: all, by `dims_by_kl`).
        span: the largest absolute value of the swept dim.
        steps: frames, an int >= 2.

    Returns:
        uint8 array (steps, H_grid, W_grid, C): `encode_gif` makes it a GIF.

    Examples:

        >>> traversal_frames(model, images[:4], dims=[0, 1], steps=5).shape
        (5, 57, 115, 1)
    """
    images = validation.check_images("images", images)
    z = latent.encode_mean(model, images)
    dims = dims_by_kl(model, images) if dims is None else dims
    # (N, dims, steps, latent_dim) -> per frame (dims, N) codes
    swept = np.stack([latent.traversal_latents(code, dims, span, steps) for code in z])
    frames = []
    for t in range(steps):
        codes = swept[:, :, t].transpose(1, 0, 2)  # (dims, N, latent_dim)
        frames.append(tile_rows(latent.decode(model, codes)))
    return np.stack(frames)


def attribute_grid(model, images, vector, strengths=(-2, -1, 0, 1, 2)):
    """One row per image: decoded z_mean + s * vector for each strength s (see
    `latent.apply_attribute`).

    Examples:

        >>> attribute_grid(model, images[:3], bigger, strengths=[-1, 0, 1]).shape
        (86, 86, 1)
    """
    return tile_rows(latent.apply_attribute(model, images, vector, strengths))


def neighbors_grid(model, queries, pool, k=5):
    """One row per query: the query, then its `k` nearest neighbours from `pool` in
    latent space (see `latent.nearest_neighbors`), nearest first.

    Examples:

        >>> neighbors_grid(model, images[:4], images[4:], k=5).shape
        (115, 173, 1)
    """
    queries, pool = np.asarray(queries, np.float32), np.asarray(pool, np.float32)
    indices, _ = latent.nearest_neighbors(model, queries, pool, k)
    return tile_rows(np.concatenate([queries[:, None], pool[indices]], axis=1))


def class_grid(model, styles=8, seed=0):
    """A model with classes' samples: one row per class, one prior draw z per column, so a
    column shows one "style" (the same z) decoded as every class.

    Args:
        model: a model with classes, e.g. a `keras_vae.ConditionalVAE`.
        styles: columns, each a draw z ~ p(z) (`model.sample`'s, the same for every class).
        seed: seed of the draws.

    Returns:
        uint8 image with `model.num_classes` rows of `styles` images.

    Examples:

        >>> class_grid(model, styles=8).shape  # 10 classes of 28x28 digits
        (289, 231, 1)
    """
    latent.check_classes(model, "class_grid")
    styles = validation.check_int("styles", styles, minimum=1)
    rows = [np.asarray(model.sample(styles, labels=y, seed=seed)) for y in range(model.num_classes)]
    return tile_rows(np.stack(rows))


def analogy_grid(model, images, labels=None):
    """Analogies (Kingma et al. 2014, Fig. 1): each image (first column) is encoded with
    q(z|x, y), then its z is decoded with every class (the other columns), which keeps the
    image's style and changes its class.

    Args:
        model: a `keras_vae.ConditionalVAE`.
        images: images (N, H, W, C) in [0, 1], e.g. held-out digits.
        labels: their classes (N,), or None for the classifier's best guesses.

    Returns:
        uint8 image with N rows of 1 + `model.num_classes` images.

    Examples:

        >>> analogy_grid(model, test_images[:8], test_labels[:8]).shape  # 10 classes
        (231, 318, 1)
    """
    latent.check_classes(model, "analogy_grid")
    images = validation.check_images("images", images)
    if labels is None:
        labels = latent.predict_classes(model, images)
    labels = validation.check_labels(
        "labels", labels, len(images), model.num_classes, allow_unlabelled=False
    )
    z = latent.encode_mean(model, images, labels)
    classes = np.arange(model.num_classes)
    z = np.repeat(z[:, None], len(classes), axis=1)  # (N, classes, latent_dim)
    decoded = latent.decode(model, z, np.broadcast_to(classes, z.shape[:-1]))
    return tile_rows(np.concatenate([images[:, None], decoded], axis=1))


def latent_scatter(model, images, labels=None, label_names=None, size=5.0):
    """Scatter plot of the images' z_mean (PCA to 2-D when latent_dim > 2).

    Args:
        model: a `keras_vae.VAE`.
        images: images (N, H, W, C), e.g. a held-out set.
        labels: optional array (N,): ints with at most 20 distinct values are drawn as
            classes with a legend; any other numbers with a colour bar.
        label_names: optional names of the classes, indexed by label.
        size: figure width and height in inches.

    Returns:
        a `matplotlib.figure.Figure` (not registered with pyplot).

    Examples:

        >>> figure = latent_scatter(model, images, labels=factors["shape"],
        ...                         label_names=keras_vae.data.shapes.SHAPE_NAMES)
    """
    from matplotlib.figure import Figure

    points, explained = latent.project_2d(latent.encode_mean(model, images))
    figure = Figure(figsize=(size, size), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    _scatter(figure, axes, points, labels, label_names)
    if model.latent_dim > 2:
        axes.set(
            xlabel="principal component 1",
            ylabel="principal component 2",
            title=f"z_mean, PCA of {model.latent_dim} dims ({explained:.0%} of variance)",
        )
    else:
        axes.set(xlabel="z[0]", ylabel="z[1]" if model.latent_dim == 2 else "", title="z_mean")
    return figure


def _scatter(figure, axes, points, labels, label_names):
    if labels is None:
        axes.scatter(points[:, 0], points[:, 1], s=4, alpha=0.6)
        return
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(points):
        raise validation.invalid(
            "labels.shape", f"one label per image ({len(points)},)", labels.shape
        )
    classes = np.unique(labels)
    if np.issubdtype(labels.dtype, np.integer) and len(classes) <= 20:
        colours = "tab10" if len(classes) <= 10 else "tab20"
        for i, label in enumerate(classes):
            chosen = labels == label
            name = label_names[label] if label_names is not None else str(label)
            axes.scatter(
                points[chosen, 0],
                points[chosen, 1],
                s=4,
                alpha=0.6,
                color=_colour(colours, i),
                label=name,
            )
        axes.legend(markerscale=3, fontsize=8, loc="best")
    else:
        drawn = axes.scatter(points[:, 0], points[:, 1], s=4, alpha=0.6, c=labels, cmap="viridis")
        figure.colorbar(drawn, ax=axes)


def _colour(name, index):
    import matplotlib

    return matplotlib.colormaps[name](index)
