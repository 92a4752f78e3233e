"""What the latent space shows: active units and the KL of each latent dim.

A dim whose posterior mean does not move with x carries no information about x, and a
dim whose KL is near 0 has collapsed onto the prior: posterior collapse shows in both.
"""

import numpy as np

from keras_vae import validation
from keras_vae.evaluate.likelihood import check_images


def unit_activity(model, images, batch_size=100):
    """Per latent dim, the variance over examples of E_q(z|x)[z]: Cov_x(E_q[z_u]) of Burda et al.

    `encode`'s point stands in for E_q[z] (for a flow posterior, the base mean through the
    flow, since E_q[z] has no closed form there).

    Args:
        model: a keras_vae model.
        images: float array (N, *data_shape).
        batch_size: examples encoded together.

    Returns:
        float64 array (latent_dim,).

    Examples:

        >>> model = keras_vae.VAE.from_shape((28, 28, 1), seed=0)
        >>> unit_activity(model, np.zeros((2, 28, 28, 1), "float32")).shape
        (16,)
    """
    return activity(posterior_means(model, images, batch_size))


def active_units(model, images, threshold=0.01, batch_size=100):
    """Number of latent dims u with Cov_x(E_q(z|x)[z_u]) > threshold (Burda et al. 2015).

    Args:
        model, images, batch_size: as in `unit_activity`.
        threshold: activity above which a unit counts as active (0.01 in the paper).

    Returns:
        int.

    Examples:

        >>> model = keras_vae.VAE.from_shape((28, 28, 1), seed=0)
        >>> active_units(model, np.zeros((2, 28, 28, 1), "float32"))
        0
    """
    threshold = validation.check_float("threshold", threshold)
    return int(np.sum(unit_activity(model, images, batch_size) > threshold))


def layer_activity(model, images, batch_size=100):
    """`unit_activity` of each stochastic layer: {layer name: float64 (width,)}, the
    variance over examples of the model's `posterior_shifts`: in a hierarchy, of each
    layer's q mean minus its prior's given the layers above, so that a layer whose q
    follows its prior (collapsed) shows no activity even where its mean moves with x.

    Examples:

        >>> model = keras_vae.VAE.from_shape((28, 28, 1), seed=0)
        >>> {k: v.shape for k, v in layer_activity(model, np.zeros((2, 28, 28, 1), "f4")).items()}
        {'z': (16,)}
    """
    images, batch_size = (
        check_images(model, images),
        validation.check_int("batch_size", batch_size, minimum=1),
    )
    chunks = [
        model.posterior_shifts(images[i : i + batch_size])
        for i in range(0, len(images), batch_size)
    ]
    return {
        name: activity(np.concatenate([np.asarray(c[name], np.float32) for c in chunks]))
        for name in model.latent_layers
    }


def active_units_per_layer(model, images, threshold=0.01, batch_size=100):
    """`active_units` of each stochastic layer: {layer name: int}, so that collapse of a
    hierarchy's upper layers shows.

    Examples:

        >>> model = keras_vae.VAE.from_shape((28, 28, 1), seed=0)
        >>> active_units_per_layer(model, np.zeros((2, 28, 28, 1), "float32"))
        {'z': 0}
    """
    threshold = validation.check_float("threshold", threshold)
    return {
        name: int(np.sum(values > threshold))
        for name, values in layer_activity(model, images, batch_size).items()
    }


def kl_per_layer(model, images, batch_size=100):
    """Mean over examples of each stochastic layer's KL, in nats: {layer name: float}, from
    the model's `layer_kls` (one seeded draw per example; in a hierarchy, each layer's KL
    given the layers drawn above it). Defined for every model, a learned prior's too.

    Examples:

        >>> model = keras_vae.VAE.from_shape((28, 28, 1), seed=0)
        >>> list(kl_per_layer(model, np.zeros((2, 28, 28, 1), "float32")))
        ['z']
    """
    images, batch_size = (
        check_images(model, images),
        validation.check_int("batch_size", batch_size, minimum=1),
    )
    totals = dict.fromkeys(model.latent_layers, 0.0)
    for start in range(0, len(images), batch_size):
        for name, kl in model.layer_kls(images[start : start + batch_size]).items():
            totals[name] += float(np.sum(np.asarray(kl, np.float64)))
    return {name: total / len(images) for name, total in totals.items()}


def kl_per_dim(model, images, batch_size=100):
    """Mean over examples of KL(q(z_d|x) || p(z_d)) for each latent dim d, in nats.

    Defined where the posterior's dims are independent and the KL has a closed form (a
    diagonal Gaussian against N(0, I)); a flow couples the dims, and a learned prior has no
    closed form: for those the KL is only a whole (see `report`).

    Args:
        model, images, batch_size: as in `unit_activity`.

    Returns:
        float64 array (latent_dim,); its sum is the mean KL per example.

    Examples:

        >>> model = keras_vae.VAE.from_shape((28, 28, 1), seed=0)
        >>> kl_per_dim(model, np.zeros((2, 28, 28, 1), "float32")).shape
        (16,)
    """
    dims = mean_kl_per_dim(model, images, batch_size)
    if dims is None:
        raise validation.invalid(
            "model",
            "a model whose posterior and prior define a per-dim KL (a diagonal Gaussian against "
            "N(0, I)); a flow couples the latent dims, and a learned prior has no closed form",
            validation.Described(f"a {type(model).__name__} whose posterior and prior do not"),
        )
    return dims


def mean_kl_per_dim(model, images, batch_size=100):
    """`kl_per_dim`, or None where the model does not define it."""
    images, batch_size = (
        check_images(model, images),
        validation.check_int("batch_size", batch_size, minimum=1),
    )
    total = None
    for start in range(0, len(images), batch_size):
        kl = model.kl_per_dim(images[start : start + batch_size])
        if kl is None:
            return None
        part = np.asarray(kl, np.float64).sum(axis=0)
        total = part if total is None else total + part
    return total / len(images)


def posterior_means(model, images, batch_size=100):
    """`encode`'s point for each example, float32 (N, latent_dim)."""
    images, batch_size = (
        check_images(model, images),
        validation.check_int("batch_size", batch_size, minimum=1),
    )
    points = [
        np.asarray(model.encode(images[i : i + batch_size])[0], np.float32)
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(points)


def activity(z_mean):
    """The variance over examples of each latent dim of the posterior means."""
    return np.var(np.asarray(z_mean, np.float64), axis=0)
