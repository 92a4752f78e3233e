"""Honest likelihoods: importance-sampled log p(x), ELBO, bits/dim, active units, KL per dim.

Everything takes a VAE-like `model` with `posterior_parameters(x) -> (z_mean, z_log_var)`
(or `posterior(x)`, a TFP distribution, which takes precedence), `decoder(z) -> params`,
`likelihood.distribution(params)` (a tfp distribution over one whole example), `latent_dim`
and `data_shape`, so a `keras_vae.VAE` (images, sequences or vectors) and any small object
with the same attributes work alike.

The importance-sampled estimate (Burda et al. 2015, "Importance Weighted Autoencoders")

    log p(x) ~= log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x),    z_i ~ q(z|x),

is a stochastic lower bound (the IWAE bound) that tightens to log p(x) as k grows. With a
flow posterior (`VAE(posterior="iaf")`) the flow's q(z|x) is the proposal, with
log q(z|x) = log q(z_0|x) - log |det dz/dz_0| from the same pass that draws z. The k
samples are drawn in chunks sized to a memory budget and folded into a running
log-sum-exp in float32, so they are never all in memory at once. The noise of sample s
of example i depends only on (seed, i, s): results do not depend on `batch_size` or on
the chunking, beyond float32 rounding (~1e-6 relative).

A `keras_vae.ConditionalVAE` (M2) adds a class y with a uniform prior p(y) = 1/C, so

    log p(x) = log (1/C) sum_y p(x|y),

summed exactly over the C classes, each p(x|y) importance-sampled as above with
q(z|x, y) (k samples per class, the same noise for every class: C times a VAE's cost).
Drawing y from the classifier q(y|x) instead would cost one pass, but an over-confident
classifier would then starve the true class of samples; the exact sum stays a bound that
tightens with k whatever the classifier. Its ELBO is M2's bound for an unlabelled x,
sum_y q(y|x) (ELBO(x, y) - log C) + H(q(y|x)), from the same per-class terms.
"""

import math

import numpy as np
import tensorflow as tf

from keras_vae import validation
from keras_vae.models import likelihoods, objectives

_MIB = 2**20
# Noise is drawn in blocks of this many samples per example, one seed per (example, block);
# a power of 2, the largest chunk.
_BLOCK = 256
_REQUIRED = ("posterior_parameters", "decoder", "likelihood", "latent_dim", "data_shape")
#: What a conditional model (M2) has beyond `_REQUIRED`.
_CONDITIONAL = ("classify", "num_classes")


def log_likelihood(model, images, num_samples=5000, batch_size=100, seed=0, memory_budget_mb=32):
    """Importance-sampled log p(x) per image, in nats, with q(z|x) as the proposal.

    The k-sample IWAE bound: a lower bound on log p(x) in expectation that converges to
    it as `num_samples` grows (5000 is the literature's standard, Burda et al. 2015).
    NLL = -mean(log_likelihood(...)). For a `keras_vae.ConditionalVAE`, the exact sum
    over classes of k-sample estimates of p(x|y) (see the module's docstring).

    Args:
        model: a `keras_vae.VAE` or `keras_vae.ConditionalVAE`, or any object with
            `posterior_parameters`, `decoder`, `likelihood`, `latent_dim` and
            `data_shape` (and `classify`, `num_classes` for a conditional one).
        images: float array (N, *data_shape): images, sequences or vectors, in [0, 1] for
            a Bernoulli likelihood.
        num_samples: k, importance samples per image (per class for a conditional model),
            an int >= 1.
        batch_size: images encoded and decoded together.
        seed: int >= 0; the same seed gives the same estimate.
        memory_budget_mb: rough bound on the memory of one chunk of samples. The
            default keeps decoder batches to a few hundred images, the fastest on CPU.

    Returns:
        float32 array (N,) of log p(x) estimates in nats (higher is better).

    Example:

    >>> model = keras_vae.VAE(seed=0)
    >>> images = (np.random.default_rng(0).uniform(size=(4, 28, 28, 1)) > 0.5).astype("float32")
    >>> log_likelihood(model, images, num_samples=10).shape
    (4,)
    """
    return _log_weight_stats(model, images, num_samples, batch_size, seed, memory_budget_mb)[0]


def elbo(model, images, num_samples=1, batch_size=100, seed=0, memory_budget_mb=32):
    """Per-image ELBO in nats: the mean of log p(x|z) + log p(z) - log q(z|x) over z ~ q.

    An average of `num_samples` single-sample ELBOs (not the IWAE bound): more samples
    lower its variance, not its bias. With the same seed and `num_samples` it uses the
    same z as `log_likelihood`, so elbo <= log_likelihood holds image by image. For a
    `keras_vae.ConditionalVAE`, M2's bound for an unlabelled x:
    sum_y q(y|x) (ELBO(x, y) - log C) + H(q(y|x)).

    Args:
        model, images, batch_size, seed, memory_budget_mb: as in `log_likelihood`.
        num_samples: z samples averaged per image, an int >= 1.

    Returns:
        float32 array (N,) of ELBO estimates in nats.

    Example:

    >>> elbo(keras_vae.VAE(seed=0), np.zeros((2, 28, 28, 1), "float32")).shape
    (2,)
    """
    return _log_weight_stats(model, images, num_samples, batch_size, seed, memory_budget_mb)[1]


def bits_per_dim(log_px, data_shape, discrete=False):
    """Converts log p(x) in nats per image to bits per dimension.

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
        log_px: log p(x) in nats, a scalar or an array of per-image values.
        data_shape: one example's shape, e.g. (H, W, C); D = H * W * C.
        discrete: whether `log_px` is a log-probability (True) or a density over
            [0, 1]-scaled 8-bit pixels (False).

    Returns:
        bits/dim with the shape of `log_px` (float64).

    Example:

    >>> float(bits_per_dim(0.0, (28, 28, 1)))  # uniform density on [0, 1]^784
    8.0
    """
    num_dims = math.prod(validation.check_widths("data_shape", data_shape))
    log_px = np.asarray(log_px, np.float64)
    correction = 0.0 if discrete else num_dims * math.log(256.0)
    return (-log_px + correction) / (num_dims * math.log(2.0))


def unit_activity(model, images, batch_size=100):
    """Per latent dim, the variance over images of E_q(z|x)[z]: Cov_x(E_q[z_u]) of Burda et al.

    For a flow posterior (`posterior="iaf"`), `encode`'s point (the base mean through the
    flow) stands in for E_q[z], which has no closed form.

    Args:
        model, images, batch_size: as in `log_likelihood`.

    Returns:
        float64 array (latent_dim,).

    Example:

    >>> unit_activity(keras_vae.VAE(seed=0), np.zeros((2, 28, 28, 1), "float32")).shape
    (16,)
    """
    z_mean, _ = _posterior_parameters(model, images, batch_size)
    return _activity(z_mean)


def active_units(model, images, threshold=0.01, batch_size=100):
    """Number of latent dims u with Cov_x(E_q(z|x)[z_u]) > threshold (Burda et al. 2015).

    A dim whose posterior mean does not move with x carries no information about x:
    posterior collapse shows up as few active units.

    Args:
        model, images, batch_size: as in `log_likelihood`.
        threshold: activity above which a unit counts as active (0.01 in the paper).

    Returns:
        int.

    Example:

    >>> active_units(keras_vae.VAE(seed=0), np.zeros((2, 28, 28, 1), "float32"))
    0
    """
    threshold = validation.check_float("threshold", threshold)
    return int(np.sum(unit_activity(model, images, batch_size) > threshold))


def kl_per_dim(model, images, batch_size=100):
    """Mean over images of the analytic KL(q(z|x) || N(0, I)) of each latent dim, in nats.

    Dims with a KL near 0 have collapsed onto the prior. Not defined for a flow posterior
    (`posterior="iaf"`), whose dims the flow couples: its KL is only a whole (see `report`).

    Args:
        model, images, batch_size: as in `log_likelihood`.

    Returns:
        float64 array (latent_dim,); its sum is the mean KL per image.

    Example:

    >>> kl_per_dim(keras_vae.VAE(seed=0), np.zeros((2, 28, 28, 1), "float32")).shape
    (16,)
    """
    if _has_flow(model):
        raise validation.invalid(
            "model", "a model with a diagonal Gaussian posterior: a flow couples the latent "
            "dims, so the KL has no per-dim split", validation.Described("a model with posterior='iaf'"),
        )  # fmt: skip
    return _mean_kl_per_dim(*_posterior_parameters(model, images, batch_size))


def classification_error(model, images, labels, batch_size=100):
    """The fraction of images whose most probable class under q(y|x) is not their label.

    Args:
        model: a `keras_vae.ConditionalVAE` (anything with `classify` and `num_classes`).
        images: as in `log_likelihood`.
        labels: int array (N,) of classes in [0, num_classes).
        batch_size: images classified together.

    Returns:
        float in [0, 1].

    Example:

    >>> model = keras_vae.ConditionalVAE(num_classes=10, latent_dim=2, seed=0)
    >>> classification_error(model, np.zeros((2, 28, 28, 1), "float32"), [3, 7]) <= 1
    True
    """
    if not _is_conditional(model):
        raise validation.invalid("model", "a model with a classifier q(y|x), a "
                                 "keras_vae.ConditionalVAE", validation.Described(
                                     f"a {type(model).__name__} without classify"))  # fmt: skip
    images = _check_inputs(model, images)
    labels = validation.check_labels("labels", labels, len(images), model.num_classes,
                                     allow_unlabelled=False)  # fmt: skip
    batch_size = validation.check_int("batch_size", batch_size, minimum=1)
    guesses = np.concatenate([
        np.argmax(model.classify(tf.constant(images[i:i + batch_size])), axis=-1)
        for i in range(0, len(images), batch_size)
    ])  # fmt: skip
    return float(np.mean(guesses != labels))


def report(model, images, num_samples=1000, batch_size=100, seed=0, memory_budget_mb=32,
           labels=None):  # fmt: skip
    """All of the above in one pass over the images, as a JSON-ready dict.

    Keys: `nll` (-mean log p(x), nats per image, k = `num_samples`) and its standard
    error over images `nll_std_error`, `neg_elbo` (nats), `kl` (mean KL per image, nats; for
    a flow posterior a Monte-Carlo estimate, 16 draws per image), `kl_per_dim` (None for a
    flow posterior),
    `active_units` (threshold 0.01), `num_samples`, `num_images`, and
    `bits_per_dim` when it means something: the discretized logistic or a Bernoulli on
    binary data (log-probabilities), or a Gaussian on images in [0, 1] (dequantized 8-bit
    convention, see `bits_per_dim`); not for a Gaussian on vectors or sequences. A Bernoulli "likelihood" of grey
    images is a cross-entropy, not a probability: its `nll` is not comparable with
    published (binarized MNIST) figures. For a `keras_vae.ConditionalVAE`, `nll` and
    `neg_elbo` are those of the marginal p(x) (see `log_likelihood` and `elbo`), `kl`,
    `kl_per_dim` and `active_units` those of q(z|x, y) at the classifier's most probable
    y, and given `labels`, `classification_error` is added.

    Args:
        model, images, num_samples, batch_size, seed, memory_budget_mb: as in
            `log_likelihood`.
        labels: the images' classes, for a `keras_vae.ConditionalVAE` only (see
            `classification_error`).

    Returns:
        dict of floats and ints (and the list `kl_per_dim`).

    Example:

    >>> r = report(keras_vae.VAE(seed=0), np.zeros((2, 28, 28, 1), "float32"), num_samples=4)
    >>> sorted(r)[:3]
    ['active_units', 'bits_per_dim', 'kl']
    """
    # Labels first: a wrong model or labels fail before the long part.
    error = None if labels is None else classification_error(model, images, labels, batch_size)
    log_px, elbos = _log_weight_stats(
        model, images, num_samples, batch_size, seed, memory_budget_mb
    )
    log_px = log_px.astype(np.float64)
    z_mean, z_log_var = _posterior_parameters(model, images, batch_size)
    if _has_flow(model):  # no per-dim split: a Monte-Carlo estimate of the whole
        kl, kl_dims = _monte_carlo_kl(model, images, batch_size, seed), None
    else:
        kl_dims = [float(v) for v in _mean_kl_per_dim(z_mean, z_log_var)]
        kl = float(np.sum(kl_dims))
    result = {
        "nll": float(-log_px.mean()),
        "nll_std_error": float(log_px.std() / math.sqrt(len(log_px))),
        "neg_elbo": float(-elbos.astype(np.float64).mean()),
        "kl": kl,
        "kl_per_dim": kl_dims,
        "active_units": int(np.sum(_activity(z_mean) > 0.01)),
        "num_samples": int(num_samples),
        "num_images": len(log_px),
    }
    kind = _log_prob_kind(model, images)
    if kind is not None:
        discrete = kind == "probability"
        result["bits_per_dim"] = float(bits_per_dim(log_px.mean(), model.data_shape, discrete))
    if error is not None:
        result["classification_error"] = error
    return result


def _log_prob_kind(model, images):
    """What the likelihood's log_prob is on these images: "probability", "density" or None."""
    if isinstance(model.likelihood, likelihoods.DiscretizedLogistic):
        return "probability"  # of the 256 levels of each pixel
    if _unit_interval(model):  # Bernoulli: a probability of binary pixels only
        binary = np.all((np.asarray(images) == 0) | (np.asarray(images) == 1))
        return "probability" if binary else None
    # A density: bits/dim by the dequantized 8-bit convention, for [0, 1]-scaled images only.
    unit_images = len(model.data_shape) == 3 and getattr(
        model.likelihood, "mean_activation", "sigmoid") == "sigmoid"  # fmt: skip
    return "density" if unit_images else None


def _activity(z_mean):
    return np.var(z_mean.astype(np.float64), axis=0)


def _has_flow(model):
    """Whether q(z|x) goes through a flow of at least one step (`VAE(posterior="iaf")`)."""
    return bool(getattr(model, "flow_steps", 0))


def _monte_carlo_kl(model, images, batch_size, seed, draws=16):
    """Mean over images of log q(z|x) - log p(z) over `draws` z ~ q(z|x) each, in nats."""
    prior = objectives.prior(model.latent_dim)
    total = 0.0
    for start in range(0, len(images), batch_size):
        q = _proposal(model, tf.constant(images[start:start + batch_size]), {})
        eps = tf.random.stateless_normal([draws, len(images[start:start + batch_size]),
                                          model.latent_dim], seed=[seed, start])  # fmt: skip
        z, log_q = objectives.reparameterize(q, eps)
        total += float(tf.reduce_sum(log_q - prior.log_prob(z))) / draws
    return total / len(images)


def _mean_kl_per_dim(z_mean, z_log_var):
    return objectives.kl_per_dim(z_mean, z_log_var).numpy().astype(np.float64).mean(axis=0)


# ----------------------------------------------------------------------------- core


def _log_weight_stats(model, images, num_samples, batch_size, seed, memory_budget_mb):
    """(log mean exp, mean) over k samples of log w, per image, both float32 (N,)."""
    images = _check_inputs(model, images)
    num_samples = validation.check_int("num_samples", num_samples, minimum=1)
    batch_size = validation.check_int("batch_size", batch_size, minimum=1)
    seed = validation.check_int("seed", seed, minimum=0)
    validation.check_float("memory_budget_mb", memory_budget_mb, positive=True)
    chunk = _chunk_size(model, batch_size, num_samples, memory_budget_mb)
    conditional = _is_conditional(model)
    batch_stats = _batch_stats_function(model, num_samples, chunk, conditional)
    if conditional:
        batch_stats = _marginal_stats(model, batch_stats)
    seed = tf.constant([seed, 0], tf.int64)
    results = [
        batch_stats(images[start:start + batch_size], tf.constant(start, tf.int64), seed)
        for start in range(0, len(images), batch_size)
    ]
    return tuple(np.concatenate([r[i].numpy() for r in results]) for i in range(2))


def _marginal_stats(model, batch_stats):
    """M2: batch_stats given each class -> (log p(x) estimate, ELBO) of the marginal p(x)."""
    log_classes = math.log(model.num_classes)

    def marginal(images, first_index, seed):
        per_class = [
            batch_stats(images, first_index, seed, tf.fill([len(images)], tf.constant(y)))
            for y in range(model.num_classes)
        ]  # fmt: skip
        log_px_y, elbo_y = (tf.stack([s[i] for s in per_class], axis=-1) for i in range(2))
        q_y = tf.cast(model.classify(tf.constant(images)), tf.float32)
        entropy = -tf.reduce_sum(tf.math.xlogy(q_y, q_y), axis=-1)
        log_px = tf.reduce_logsumexp(log_px_y, axis=-1) - log_classes
        return log_px, tf.reduce_sum(q_y * elbo_y, axis=-1) - log_classes + entropy

    return marginal


def _batch_stats_function(model, num_samples, chunk, conditional=False):
    """A tf.function: (images, index of the first, seed[, labels]) -> (log mean exp, mean)
    of log w; with labels (int32 (batch,)), those of q(z|x, y) and p(x|y, z)."""
    spec = tf.TensorSpec([None, *model.data_shape], tf.float32)
    labels_spec = [tf.TensorSpec([None], tf.int32)] if conditional else []

    @tf.function(input_signature=[spec, tf.TensorSpec([], tf.int64), tf.TensorSpec([2], tf.int64),
                                  *labels_spec])  # fmt: skip
    def batch_stats(images, first_index, seed, labels=None):
        given = {} if labels is None else {"labels": labels}
        one_hot = None if labels is None else tf.one_hot(labels, model.num_classes)
        q = _proposal(model, images, given)
        batch = tf.shape(images, out_type=tf.int64)[0]
        example_ids = first_index + tf.range(batch)
        log_sum_exp = tf.fill([batch], tf.constant(-np.inf, tf.float32))
        total = tf.zeros([batch], tf.float32)
        for block_start in tf.range(0, num_samples, _BLOCK, dtype=tf.int64):
            eps = _noise_block(seed, example_ids, block_start // _BLOCK, model.latent_dim)
            block_size = tf.minimum(tf.constant(_BLOCK, tf.int64), num_samples - block_start)
            for start in tf.range(0, block_size, chunk, dtype=tf.int64):
                z, log_q = objectives.reparameterize(q, eps[start:tf.minimum(start + chunk, block_size)])
                log_w = _log_weights(model, images, z, log_q, one_hot)
                # Running log-sum-exp: only this chunk's weights are ever in memory.
                log_sum_exp = tf.reduce_logsumexp(
                    tf.stack([log_sum_exp, tf.reduce_logsumexp(log_w, axis=0)]), axis=0
                )
                total += tf.reduce_sum(log_w, axis=0)
        return log_sum_exp - math.log(num_samples), total / num_samples

    return batch_stats


def _proposal(model, images, given):
    """q(z|x) (or q(z|x, y)) as a TFP distribution."""
    if hasattr(model, "posterior"):
        return model.posterior(images, **given)
    z_mean, z_log_var = model.posterior_parameters(images, **given)
    return objectives.posterior(z_mean, z_log_var)


def _log_weights(model, images, z, log_q, one_hot=None):
    """log p(x|z) + log p(z) - log q(z|x) for z of shape (chunk, batch, latent_dim).

    Given one-hot labels (batch, C): log p(x|y, z) + log p(z) - log q(z|x, y).
    """
    shape = tf.shape(z)
    z_rows = tf.reshape(z, [-1, model.latent_dim])  # sample-major, as tf.tile repeats
    params = model.decoder(z_rows if one_hot is None else [z_rows, tf.tile(one_hot, [shape[0], 1])])
    params = tf.reshape(params, tf.concat([shape[:2], tf.shape(params)[1:]], axis=0))
    log_px_z = model.likelihood.distribution(params).log_prob(images)
    return log_px_z + objectives.prior(model.latent_dim).log_prob(z) - log_q


def _noise_block(seed, example_ids, block, latent_dim):
    """N(0, I) noise (_BLOCK, batch, latent_dim) for samples [block, block + 1) * _BLOCK.

    One draw per (example, block), seeded by (seed, example index, block): the noise of
    a sample does not depend on how examples are batched or samples chunked.
    """

    def draw(example_id):
        example_seed = tf.random.experimental.stateless_fold_in(seed, example_id)
        block_seed = tf.random.experimental.stateless_fold_in(example_seed, block)
        return tf.random.stateless_normal([_BLOCK, latent_dim], seed=block_seed)

    spec = tf.TensorSpec([_BLOCK, latent_dim], tf.float32)
    return tf.transpose(tf.map_fn(draw, example_ids, fn_output_signature=spec), [1, 0, 2])


def _chunk_size(model, batch_size, num_samples, memory_budget_mb):
    """Samples per chunk: a power of 2 (so it divides _BLOCK) that fits the budget."""
    noise_bytes = 4 * batch_size * _BLOCK * model.latent_dim
    bytes_per_sample = 4 * batch_size * _floats_per_decoded_sample(model)
    chunk = max(1, int((memory_budget_mb * _MIB - noise_bytes) // bytes_per_sample))
    return min(2 ** int(math.log2(chunk)), _BLOCK, num_samples)


def _floats_per_decoded_sample(model):
    """float32 values alive per (image, sample): decoder activations, log-probs, z."""
    pixels = math.prod(model.data_shape)
    activations = 0
    for layer in getattr(model.decoder, "layers", ()):
        try:
            activations += math.prod(d or 1 for d in layer.output.shape[1:])
        except (AttributeError, ValueError):  # not a functional model's layer
            activations += pixels
    # Decoder activations (or a guess), then params, log-probs and broadcasting of x.
    return (activations or 4 * pixels) + 4 * pixels + 8 * model.latent_dim


def _posterior_parameters(model, images, batch_size):
    images = _check_inputs(model, images)
    batch_size = validation.check_int("batch_size", batch_size, minimum=1)
    outputs = [
        model.posterior_parameters(tf.constant(images[i:i + batch_size]))
        for i in range(0, len(images), batch_size)
    ]
    return tuple(np.concatenate([np.asarray(o[j], np.float32) for o in outputs]) for j in range(2))


# ----------------------------------------------------------------------------- checks


def _check_inputs(model, images):
    missing = [name for name in _REQUIRED if not hasattr(model, name)]
    if missing:
        raise validation.invalid(
            "model", f"a VAE-like model with attributes {', '.join(_REQUIRED)} (e.g. "
            "keras_vae.VAE)", f"{type(model).__name__} without {', '.join(missing)}",
        )
    return validation.check_array("images", images, tuple(model.data_shape), _unit_interval(model))


def _is_conditional(model):
    return all(hasattr(model, name) for name in _CONDITIONAL)


def _unit_interval(model):
    return bool(getattr(model.likelihood, "requires_unit_interval", False))
