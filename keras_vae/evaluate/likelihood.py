"""The importance-sampled log-likelihood and the ELBO, drawn in chunks with fixed noise.

The importance-sampled estimate (Burda et al. 2015, "Importance Weighted Autoencoders")

    log p(x) ~= log (1/k) sum_i p(x, z_i) / q(z_i|x),    z_i ~ q(z|x),

is a stochastic lower bound (the IWAE bound) that tightens to log p(x) as k grows. The
model gives each draw's log-weight (`LatentVariableModel.evidence`), with its own posterior
as the proposal (a flow's q(z|x) for `posterior="iaf"`; for a `ConditionalVAE`, the exact
sum over the classes of p(x|y) p(y), each importance-sampled with q(z|x, y)). The k
samples are drawn in chunks sized to a memory budget and folded into a running
log-sum-exp, so they are never all in memory at once. The noise of sample s of example i
depends only on (seed, i, s), and is NumPy's: results do not depend on `batch_size`, on
the chunking or on the Keras backend, beyond float32 rounding (~1e-6 relative).
"""

import math

import numpy as np
from keras import ops

from keras_vae import backend, validation
from keras_vae.models.base import check_model

_MIB = 2**20
# Noise is drawn in blocks of this many samples per example, one seed per (example, block);
# a power of 2, the largest chunk.
_BLOCK = 256


def log_likelihood(model, images, num_samples=5000, batch_size=100, seed=0, memory_budget_mb=32):
    """Importance-sampled log p(x) per example, in nats, with q(z|x) as the proposal.

    The k-sample IWAE bound: a lower bound on log p(x) in expectation that converges to
    it as `num_samples` grows (5000 is the literature's standard, Burda et al. 2015).
    NLL = -mean(log_likelihood(...)).

    Args:
        model: a keras_vae model (`VAE`, `ConditionalVAE`, or any `LatentVariableModel`).
        images: float array (N, *data_shape): images, sequences or vectors, in [0, 1] for
            a Bernoulli likelihood.
        num_samples: k, importance samples per example, an int >= 1.
        batch_size: examples encoded and decoded together.
        seed: int >= 0; the same seed gives the same estimate.
        memory_budget_mb: rough bound on the memory of one chunk of samples. The default
            keeps decoder batches to a few hundred images, the fastest on CPU.

    Returns:
        float32 array (N,) of log p(x) estimates in nats (higher is better).

    Examples:

        >>> model = keras_vae.VAE.from_shape((28, 28, 1), seed=0)
        >>> images = (np.random.default_rng(0).uniform(size=(4, 28, 28, 1)) > 0.5).astype("float32")
        >>> log_likelihood(model, images, num_samples=10).shape
        (4,)
    """
    return evidence_stats(model, images, num_samples, batch_size, seed, memory_budget_mb)[0]


def elbo(model, images, num_samples=1, batch_size=100, seed=0, memory_budget_mb=32):
    """Per-example ELBO in nats: the model's evidence lower bound, averaged over draws z ~ q.

    An average of `num_samples` single-draw ELBOs (not the IWAE bound): more draws lower
    its variance, not its bias. With the same seed and `num_samples` it uses the same z as
    `log_likelihood`, so elbo <= log_likelihood holds example by example. For a
    `ConditionalVAE`, M2's bound for an unlabelled x:
    sum_y q(y|x) (ELBO(x, y) - log C) + H(q(y|x)).

    Args:
        model, images, batch_size, seed, memory_budget_mb: as in `log_likelihood`.
        num_samples: z draws averaged per example, an int >= 1.

    Returns:
        float32 array (N,) of ELBO estimates in nats.

    Examples:

        >>> model = keras_vae.VAE.from_shape((28, 28, 1), seed=0)
        >>> elbo(model, np.zeros((2, 28, 28, 1), "float32")).shape
        (2,)
    """
    return evidence_stats(model, images, num_samples, batch_size, seed, memory_budget_mb)[1]


def check_images(model, images):
    """`images` as float32 data of the model's shape, checked (values in [0, 1] if it needs)."""
    check_model(model)
    unit = model.likelihood.requires_unit_interval
    return validation.check_array("images", images, tuple(model.data_shape), unit)


def evidence_stats(model, images, num_samples, batch_size, seed, memory_budget_mb):
    """(log mean exp of the log-weights, mean ELBO, mean KL) over k draws, float32 (N,) each."""
    images = check_images(model, images)
    num_samples = validation.check_int("num_samples", num_samples, minimum=1)
    batch_size = validation.check_int("batch_size", batch_size, minimum=1)
    seed = validation.check_int("seed", seed, minimum=0)
    validation.check_float("memory_budget_mb", memory_budget_mb, positive=True)
    chunk = chunk_size(model, batch_size, num_samples, memory_budget_mb)
    chunk_stats = backend.inference_function(model, _chunk_stats_function(model))
    results = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        example_ids = np.arange(start, start + len(batch))
        log_sum_exp = np.full(len(batch), -np.inf)
        totals = np.zeros((2, len(batch)))
        for block_start in range(0, num_samples, _BLOCK):
            eps = _noise_block(seed, example_ids, block_start // _BLOCK, model.noise_dim)
            block_size = min(_BLOCK, num_samples - block_start)
            for first in range(0, block_size, chunk):
                lse, elbo_sum, kl_sum = chunk_stats(
                    batch, eps[first : min(first + chunk, block_size)]
                )
                # Running log-sum-exp: only this chunk's weights are ever in memory.
                log_sum_exp = np.logaddexp(log_sum_exp, lse)
                totals += (elbo_sum, kl_sum)
        results.append((log_sum_exp - math.log(num_samples), *(totals / num_samples)))
    return tuple(np.concatenate([r[i] for r in results]).astype(np.float32) for i in range(3))


def _chunk_stats_function(model):
    """(examples, eps (k, batch, noise_dim)) -> the log-sum-exp of the k log-weights, and the
    sums of the k ELBOs and KLs, per example."""

    def chunk_stats(images, eps):
        evidence = model.evidence(ops.convert_to_tensor(images), ops.convert_to_tensor(eps))
        return (
            ops.logsumexp(evidence["log_weights"], axis=0),
            ops.sum(evidence["elbo"], axis=0),
            ops.sum(evidence["kl"], axis=0),
        )

    return chunk_stats


def _noise_block(seed, example_ids, block, noise_dim):
    """N(0, I) noise (_BLOCK, batch, noise_dim), float32, for samples [block, block + 1) *
    _BLOCK: one NumPy generator per (seed, example index, block), so the noise of a sample
    depends neither on how examples are batched or samples chunked, nor on the backend."""
    draws = [
        np.random.default_rng([seed, int(i), block]).standard_normal((_BLOCK, noise_dim))
        for i in example_ids
    ]
    return np.stack(draws, axis=1).astype(np.float32)


def chunk_size(model, batch_size, num_samples, memory_budget_mb):
    """Samples per chunk: a power of 2 (so it divides _BLOCK) that fits the budget."""
    noise_bytes = 4 * batch_size * _BLOCK * model.noise_dim
    bytes_per_sample = 4 * batch_size * model.floats_per_draw
    chunk = max(1, int((memory_budget_mb * _MIB - noise_bytes) // bytes_per_sample))
    return min(2 ** int(math.log2(chunk)), _BLOCK, num_samples)
