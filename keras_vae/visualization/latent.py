"""Latent-space tools: encode, walk, do arithmetic and search in the latent space of a VAE.

Every function takes a trained keras_vae model and NumPy arrays of examples (images,
sequences or vectors), and returns NumPy arrays. Examples are encoded to the posterior mean
z_mean, so results are deterministic. A model with classes takes `labels` in
`encode_mean` and `decode`.
"""

import statistics

import numpy as np

from keras_vae import validation
from keras_vae.validation import check_int

# Images per encoder/decoder call: bounds memory on large sets.
BATCH_SIZE = 512

# Probabilities of the manifold's grid: the prior's 5% to 95% quantiles (the corners of
# Kingma & Welling's figures; 0 and 1 would map to -inf and +inf).
MANIFOLD_PROBABILITIES = (0.05, 0.95)


def encode_mean(model, images, labels=None):
    """Encodes images to the posterior means z_mean of q(z|x) (q(z|x, y) for a model with classes).

    Args:
        model: a keras_vae model.
        images: array (N, H, W, C) of float32 images in [0, 1] (or any data of the model).
        labels: a model with classes' classes (an int, or one per image), or None: its
            classifier's best guess.

    Returns:
        float32 array (N, latent_dim).

    Examples:

        >>> encode_mean(model, images[:4]).shape
        (4, 16)
    """
    images = validation.check_array("images", images)
    labels = _per_example(labels, len(images))
    return np.concatenate(
        [
            np.asarray(model.encode(images[i : i + BATCH_SIZE], labels=_batch(labels, i))[0])
            for i in range(0, len(images), BATCH_SIZE)
        ]
    )


def decode(model, z, labels=None):
    """Decodes latent vectors (..., latent_dim) to images (..., H, W, C), the means of p(x|z)
    (of p(x|y, z) for a model with classes).

    Args:
        model: a keras_vae model.
        z: array whose last axis is `latent_dim`; any leading axes.
        labels: a model with classes' classes (required there): an int, or z's leading shape.

    Returns:
        float32 array of images in [0, 1] with the leading axes of `z`.

    Examples:

        >>> decode(model, np.zeros((2, 3, 16))).shape
        (2, 3, 28, 28, 1)
    """
    z = np.asarray(z, np.float32)
    if z.ndim < 1 or z.shape[-1] != model.latent_dim:
        raise validation.invalid(
            "z.shape", f"(..., latent_dim) = (..., {model.latent_dim})", z.shape
        )
    flat = z.reshape(-1, model.latent_dim)
    if labels is not None and np.ndim(labels) > 0:
        if np.shape(labels) != z.shape[:-1]:
            raise validation.invalid(
                "labels.shape", f"an int, or z's leading shape {z.shape[:-1]}", np.shape(labels)
            )
        labels = np.reshape(labels, -1)
    labels = _per_example(labels, len(flat))
    images = np.concatenate(
        [
            np.asarray(model.decode(flat[i : i + BATCH_SIZE], labels=_batch(labels, i)))
            for i in range(0, len(flat), BATCH_SIZE)
        ]
    )
    return images.reshape(*z.shape[:-1], *images.shape[1:])


def check_classes(model, what, needed=True):
    """Raises the package's ValueError unless `model` has classes (or, `needed=False`, has none)."""
    if (model.num_classes is not None) == needed:
        return
    if needed:
        expected = f"a model with classes (e.g. a keras_vae.ConditionalVAE) for {what}"
    else:
        expected = f"a model without classes for {what} (with classes: ClassSamples, Analogies)"
    has = "with" if model.num_classes is not None else "without"
    raise validation.invalid(
        "model", expected, validation.Described(f"a {type(model).__name__} {has} classes")
    )


def predict_classes(model, images):
    """A model with classes' most probable class of each image under q(y|x), int32 (N,)."""
    check_classes(model, "predict_classes")
    images = validation.check_array("images", images)
    return np.concatenate(
        [
            np.argmax(np.asarray(model.classify(images[i : i + BATCH_SIZE])), axis=-1)
            for i in range(0, len(images), BATCH_SIZE)
        ]
    ).astype(np.int32)


def _per_example(labels, count):
    """None, or int labels (count,): an int is every example's class; the model checks them."""
    if labels is None:
        return None
    labels = np.asarray(labels)
    return np.full([count], labels) if labels.ndim == 0 else labels


def _batch(labels, start):
    return None if labels is None else labels[start : start + BATCH_SIZE]


def interpolate_latents(z_a, z_b, steps=10, spherical=False):
    """Points on the path from `z_a` to `z_b`, both ends included.

    Args:
        z_a, z_b: arrays (..., latent_dim) of the same shape.
        steps: number of points, an int >= 2.
        spherical: `False` for the straight line; `True` for spherical linear
            interpolation (slerp), which keeps the norm typical of the prior in high
            dimensions instead of passing near its low-density centre.

    Returns:
        float32 array (..., steps, latent_dim).

    Examples:

        >>> interpolate_latents(np.zeros(2), np.ones(2), steps=3)[:, 0]
        array([0. , 0.5, 1. ], dtype=float32)
    """
    check_int("steps", steps, minimum=2)
    z_a, z_b = np.asarray(z_a, np.float64), np.asarray(z_b, np.float64)
    if z_a.shape != z_b.shape:
        raise validation.invalid("z_b.shape", f"z_a's shape {z_a.shape}", z_b.shape)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    a, b = z_a[..., None, :], z_b[..., None, :]
    if not spherical:
        return ((1 - t) * a + t * b).astype(np.float32)
    unit_a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    unit_b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    omega = np.arccos(np.clip(np.sum(unit_a * unit_b, axis=-1, keepdims=True), -1.0, 1.0))
    sin = np.sin(omega)
    # Nearly parallel vectors: slerp tends to the straight line.
    safe = np.where(sin > 1e-6, sin, 1.0)
    slerp = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / safe
    return np.where(sin > 1e-6, slerp, (1 - t) * a + t * b).astype(np.float32)


def interpolate(model, a, b, steps=10, spherical=False):
    """Decodes the path in latent space between the encodings of images `a` and `b`.

    Args:
        model: a `keras_vae.VAE`.
        a, b: one image (H, W, C) each, or batches (N, H, W, C) of pairs.
        steps: number of images on the path, ends included (an int >= 2).
        spherical: `True` for spherical linear interpolation instead of the straight line.

    Returns:
        float32 images (steps, H, W, C) for single images, (N, steps, H, W, C) for batches.

    Examples:

        >>> interpolate(model, images[0], images[1], steps=8).shape
        (8, 28, 28, 1)
    """
    single = np.ndim(a) == 3
    z_a = encode_mean(model, a[None] if single else a)
    z_b = encode_mean(model, b[None] if single else b)
    path = decode(model, interpolate_latents(z_a, z_b, steps, spherical))
    return path[0] if single else path


def attribute_vector(model, with_attr, without_attr):
    """The mean z of images with an attribute minus the mean z of images without it.

    Adding it to an image's z adds the attribute (the "smile vector" of White, 2016).

    Args:
        model: a `keras_vae.VAE`.
        with_attr: images (N, H, W, C) that show the attribute.
        without_attr: images (M, H, W, C) that do not.

    Returns:
        float32 array (latent_dim,).

    Examples:

        >>> bigger = attribute_vector(model, images[scale > 0.7], images[scale < 0.5])
    """
    return (
        encode_mean(model, with_attr).mean(axis=0) - encode_mean(model, without_attr).mean(axis=0)
    ).astype(np.float32)


def apply_attribute(model, images, vector, strengths=(-2, -1, 0, 1, 2)):
    """Decodes z_mean(images) + s * vector for every strength s.

    Args:
        model: a `keras_vae.VAE`.
        images: array (N, H, W, C).
        vector: array (latent_dim,), e.g. from `attribute_vector`.
        strengths: sequence of floats; 0 gives the plain reconstruction.

    Returns:
        float32 images (N, len(strengths), H, W, C).

    Examples:

        >>> apply_attribute(model, images[:3], bigger, strengths=[0, 1]).shape
        (3, 2, 28, 28, 1)
    """
    vector = np.asarray(vector, np.float32)
    if vector.shape != (model.latent_dim,):
        raise validation.invalid(
            "vector.shape", f"(latent_dim,) = ({model.latent_dim},)", vector.shape
        )
    strengths = np.asarray(strengths, np.float32).reshape(-1)
    z = encode_mean(model, images)
    return decode(model, z[:, None, :] + strengths[None, :, None] * vector)


def nearest_neighbors(model, queries, pool, k=5):
    """The `k` images of `pool` whose z_mean is closest (Euclidean) to each query's.

    Args:
        model: a `keras_vae.VAE`.
        queries: images (Q, H, W, C).
        pool: images (P, H, W, C) to search, P >= k.
        k: neighbours per query, an int >= 1.

    Returns:
        `(indices, distances)`: int arrays (Q, k) into `pool` and float32 (Q, k),
        nearest first.

    Examples:

        >>> indices, distances = nearest_neighbors(model, images[:2], images[2:], k=3)
        >>> indices.shape
        (2, 3)
    """
    check_int("k", k, minimum=1)
    if k > len(pool):
        raise validation.invalid("k", f"at most len(pool) = {len(pool)}", k)
    # float64: the expansion |a|^2 - 2ab + |b|^2 cancels, and in float32 left distances of
    # 1e-3 between a point and itself.
    z_queries = encode_mean(model, queries).astype(np.float64)
    z_pool = encode_mean(model, pool).astype(np.float64)
    squared = (
        np.sum(z_queries**2, axis=1)[:, None]
        - 2 * z_queries @ z_pool.T
        + np.sum(z_pool**2, axis=1)[None, :]
    )
    indices = np.argsort(squared, axis=1, kind="stable")[:, :k]
    distances = np.sqrt(np.maximum(np.take_along_axis(squared, indices, axis=1), 0))
    return indices, distances.astype(np.float32)


def manifold_latents(latent_dim, grid=20, dims=(0, 1)):
    """A grid of z over the prior's quantiles in two latent dims, the others at 0.

    As in Kingma & Welling (2014), evenly spaced probabilities in
    `MANIFOLD_PROBABILITIES` are mapped through the inverse CDF of N(0, 1), so the
    grid covers the prior's mass evenly rather than its range.

    Args:
        latent_dim: the model's latent size, an int >= 2.
        grid: points per side, an int >= 2.
        dims: the two latent dims to sweep: `dims[0]` left to right, `dims[1]` bottom to top.

    Returns:
        float32 array (grid, grid, latent_dim): row 0 is the top row of the picture.

    Examples:

        >>> manifold_latents(2, grid=3)[1, 1]
        array([0., 0.], dtype=float32)
    """
    check_int("grid", grid, minimum=2)
    dims = check_dims(dims, latent_dim, count=2)
    values = np.array(
        [statistics.NormalDist().inv_cdf(p) for p in np.linspace(*MANIFOLD_PROBABILITIES, grid)]
    )
    z = np.zeros((grid, grid, latent_dim), np.float32)
    z[..., dims[0]] = values[None, :]
    z[..., dims[1]] = values[::-1, None]
    return z


def traversal_latents(z, dims, span=3.0, steps=9):
    """Copies of `z` with one dim at a time set to evenly spaced values in [-span, span].

    Args:
        z: array (latent_dim,), e.g. an image's z_mean.
        dims: the latent dims to vary, one row each.
        span: the largest absolute value of a varied dim (in prior standard deviations).
        steps: values per dim, an int >= 2.

    Returns:
        float32 array (len(dims), steps, latent_dim).

    Examples:

        >>> traversal_latents(np.zeros(4), dims=[1, 3], steps=5).shape
        (2, 5, 4)
    """
    z = np.asarray(z, np.float32)
    dims = check_dims(dims, z.shape[-1])
    check_int("steps", steps, minimum=2)
    validation.check_float("span", span, positive=True)
    out = np.repeat(z[None, None, :], len(dims), axis=0).repeat(steps, axis=1)
    for row, dim in enumerate(dims):
        out[row, :, dim] = np.linspace(-span, span, steps)
    return out


def active_dims(model, images, count=2):
    """The `count` latent dims whose z_mean varies most over `images`, in ascending order.

    Dims the model does not use (posterior = prior) have a z_mean near 0 for every
    image; the most varying dims are the ones worth drawing.

    Args:
        model: a `keras_vae.VAE`.
        images: images (N, H, W, C), N >= 2.
        count: how many dims, an int in [1, latent_dim].

    Returns:
        tuple of `count` ints.

    Examples:

        >>> active_dims(model, images[:256])
        (3, 11)
    """
    check_int("count", count, minimum=1)
    if count > model.latent_dim:
        raise validation.invalid("count", f"at most latent_dim = {model.latent_dim}", count)
    variance = encode_mean(model, images).var(axis=0)
    return tuple(sorted(int(d) for d in np.argsort(-variance, kind="stable")[:count]))


def project_2d(z):
    """Projects latent vectors (N, latent_dim) to 2-D: as they are if latent_dim <= 2, else PCA.

    Args:
        z: array (N, latent_dim).

    Returns:
        `(points, explained)`: float32 array (N, 2) (a zero column pads a 1-D latent) and
        the fraction of the variance the two axes explain (1.0 without PCA).

    Examples:

        >>> points, explained = project_2d(np.random.normal(size=(100, 16)))
    """
    z = np.asarray(z, np.float64)
    if z.ndim != 2 or len(z) == 0:
        raise validation.invalid("z.shape", "(N, latent_dim) with N >= 1", z.shape)
    if z.shape[1] <= 2:
        return np.pad(z, ((0, 0), (0, 2 - z.shape[1]))).astype(np.float32), 1.0
    centred = z - z.mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    total = np.sum(singular**2)
    explained = float(np.sum(singular[:2] ** 2) / total) if total > 0 else 1.0
    return (centred @ components[:2].T).astype(np.float32), explained


def check_dims(dims, latent_dim, count=None):
    """Returns `dims` as a tuple of distinct ints in [0, latent_dim), or raises ValueError."""
    received = dims
    dims = tuple(dims) if isinstance(dims, (tuple, list, range, np.ndarray)) else None
    valid = (
        dims is not None
        and len(dims) > 0
        and (count is None or len(dims) == count)
        and all(validation.is_int(d) and 0 <= d < latent_dim for d in dims)
        and len(set(dims)) == len(dims)
    )
    if not valid:
        how_many = f"{count} distinct" if count else "distinct"
        expected = (
            f"{how_many} latent dims in [0, {latent_dim}) (the model has latent_dim={latent_dim})"
        )
        raise validation.invalid("dims", expected, received)
    return tuple(int(d) for d in dims)
