"""One report of a model on held-out data, bits per dimension, and a classifier's error."""

import math

import numpy as np

from keras_vae import validation
from keras_vae.evaluate import latents
from keras_vae.evaluate.likelihood import check_images, evidence_stats


def report(
    model, images, num_samples=1000, batch_size=100, seed=0, memory_budget_mb=32, labels=None
):
    """Everything `keras_vae.evaluate` measures, in one pass over the examples, as a dict for JSON.

    Keys: `nll` (-mean log p(x), nats per example, k = `num_samples`) and its standard
    error over examples `nll_std_error`, `neg_elbo` (nats), `kl` (mean KL per example,
    nats: the closed form where there is one, else the mean over the k draws),
    `kl_per_dim` (None where not defined: a flow posterior, a learned prior),
    `active_units` (threshold 0.01, over every layer: see `latents.layer_activity`), and
    per stochastic layer of a hierarchy (one, `z`, otherwise) `kl_per_layer` and
    `active_units_per_layer`
    ({layer name: value}), `num_samples`, `num_images`, and `bits_per_dim`
    when it means something: a log-probability (the discretized logistic, or a Bernoulli
    on binary data) or a Gaussian density of images in [0, 1] (the dequantized 8-bit
    convention, see `bits_per_dim`); not for a Gaussian on vectors or sequences, nor a
    Bernoulli "likelihood" of grey images, which is a cross-entropy (its `nll` is not
    comparable with published, binarized MNIST figures). For a model with classes, `nll`
    and `neg_elbo` are those of the marginal p(x), `kl`, `kl_per_dim` and `active_units`
    those of q(z|x, y) at the classifier's most probable y, and given `labels`,
    `classification_error` is added.

    Args:
        model, images, num_samples, batch_size, seed, memory_budget_mb: as in
            `log_likelihood`.
        labels: the examples' classes, for a model with classes only (see
            `classification_error`).

    Returns:
        dict of floats and ints (and the list `kl_per_dim`).

    Examples:

        >>> model = keras_vae.VAE.from_shape((28, 28, 1), seed=0)
        >>> r = report(model, np.zeros((2, 28, 28, 1), "float32"), num_samples=4)
        >>> sorted(r)[:3]
        ['active_units', 'bits_per_dim', 'kl']
    """
    # Labels first: a wrong model or labels fail before the long part.
    error = None if labels is None else classification_error(model, images, labels, batch_size)
    log_px, elbos, kls = evidence_stats(
        model, images, num_samples, batch_size, seed, memory_budget_mb
    )
    log_px = log_px.astype(np.float64)
    kl_dims = latents.mean_kl_per_dim(model, images, batch_size)
    per_layer = latents.layer_activity(model, images, batch_size)
    result = {
        "nll": float(-log_px.mean()),
        "nll_std_error": float(log_px.std() / math.sqrt(len(log_px))),
        "neg_elbo": float(-elbos.astype(np.float64).mean()),
        "kl": float(np.sum(kl_dims))
        if kl_dims is not None
        else float(kls.astype(np.float64).mean()),
        "kl_per_dim": None if kl_dims is None else [float(v) for v in kl_dims],
        "active_units": int(sum(np.sum(v > 0.01) for v in per_layer.values())),
        "kl_per_layer": latents.kl_per_layer(model, images, batch_size),
        "active_units_per_layer": {name: int(np.sum(v > 0.01)) for name, v in per_layer.items()},
        "num_samples": int(num_samples),
        "num_images": len(log_px),
    }
    kind = model.likelihood.log_prob_kind(np.asarray(images))
    if kind is not None:
        result["bits_per_dim"] = float(
            bits_per_dim(log_px.mean(), model.data_shape, kind == "probability")
        )
    if error is not None:
        result["classification_error"] = error
    return result


def bits_per_dim(log_px, data_shape, discrete=False):
    """Converts log p(x) in nats per example to bits per dimension.

    Convention (Theis, van den Oord & Bethge 2016, Sec. 3.1; RealNVP, Dinh et al. 2017;
    Glow, Kingma & Dhariwal 2018): 8-bit pixels v in {0, ..., 255} are modelled as
    x = (v + u) / 256 with u ~ U[0, 1)^D (uniform dequantization), for which
    log P(v) >= E_u[log p(x)] - D log 256 (Jensen). A density p over [0, 1]^D so gives

        bits/dim = (-log p(x) + D log 256) / (D log 2),

    in expectation over u an upper bound on the bits/dim of the 8-bit pixels.

    A uniform density on [0, 1]^D scores exactly 8 bits/dim. For images scaled as v / 255
    without dequantization (as `keras_vae.data` does) the figure is the same convention
    but not a bound; the exact Jacobian would give log 255, log2(256/255) ~ 0.0056
    bits/dim less. With `discrete=True`, `log_px` is already a log-probability of the
    pixel values (a discretized 8-bit likelihood, or Bernoulli on binary pixels) and
    bits/dim = -log p(x) / (D log 2).

    Args:
        log_px: log p(x) in nats, a scalar or an array of per-example values.
        data_shape: one example's shape, e.g. (H, W, C); D = H * W * C.
        discrete: whether `log_px` is a log-probability (True) or a density over
            [0, 1]-scaled 8-bit pixels (False).

    Returns:
        bits/dim with the shape of `log_px` (float64).

    Examples:

        >>> float(bits_per_dim(0.0, (28, 28, 1)))  # uniform density on [0, 1]^784
        8.0
    """
    num_dims = math.prod(validation.check_widths("data_shape", data_shape))
    log_px = np.asarray(log_px, np.float64)
    correction = 0.0 if discrete else num_dims * math.log(256.0)
    return (-log_px + correction) / (num_dims * math.log(2.0))


def classification_error(model, images, labels, batch_size=100):
    """The fraction of examples whose most probable class under q(y|x) is not their label.

    Args:
        model: a model with classes (`num_classes` is not None), e.g. a `ConditionalVAE`.
        images: float array (N, *data_shape).
        labels: int array (N,) of classes in [0, num_classes).
        batch_size: examples classified together.

    Returns:
        float in [0, 1].

    Examples:

        >>> model = keras_vae.ConditionalVAE.from_shape((28, 28, 1), num_classes=10, latent_dim=2)
        >>> classification_error(model, np.zeros((2, 28, 28, 1), "float32"), [3, 7]) <= 1
        True
    """
    images = check_images(model, images)
    if model.num_classes is None:
        raise validation.invalid(
            "model",
            "a model with classes and a classifier q(y|x), e.g. a keras_vae.ConditionalVAE",
            validation.Described(f"a {type(model).__name__} without classes"),
        )
    labels = validation.check_labels(
        "labels", labels, len(images), model.num_classes, allow_unlabelled=False
    )
    batch_size = validation.check_int("batch_size", batch_size, minimum=1)
    guesses = np.concatenate(
        [
            np.argmax(model.classify(images[i : i + batch_size]), axis=-1)
            for i in range(0, len(images), batch_size)
        ]
    )
    return float(np.mean(guesses != labels))
