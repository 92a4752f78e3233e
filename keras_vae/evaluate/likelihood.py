"""The importance-sampled log-likelihood and the ELBO, drawn in chunks with fixed noise.

The importance-sampled estimate (Burda et al. 2015, "Importance Weighted Autoencoders")

    log p(x) ~= log (1/k) sum_i p(x, z_i) / q(z_i|x),    z_i ~ q(z|x),

is a stochastic lower bound (the IWAE bound) that tightens to log p(x) as k grows. The
model gives each draw's log-weight (`LatentVariableModel.evidence`), with its own posterior
as the proposal (a flow's q(z|x) for `posterior="iaf"`; for a `ConditionalVAE`, the exact
sum over the classes of p(x|y) p(y), each importance-sampled with q(z|x, y)). The k
samples are drawn in chunks sized to a memory budget and folded into a running
log-sum-exp in float32, so they are never all in memory at once. The noise of sample s
of example i depends only on (seed, i, s): results do not depend on `batch_size` or on
the chunking, beyond float32 rounding (~1e-6 relative).
"""

import math

import numpy as np
import tensorflow as tf

from keras_vae import validation
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
    batch_stats = _batch_stats_function(model, num_samples, chunk)
    seed = tf.constant([seed, 0], tf.int64)
    results = [
        batch_stats(images[start : start + batch_size], tf.constant(start, tf.int64), seed)
        for start in range(0, len(images), batch_size)
    ]
    return tuple(np.concatenate([r[i].numpy() for r in results]) for i in range(3))


def _batch_stats_function(model, num_samples, chunk):
    """A tf.function: (examples, index of the first, seed) -> `evidence_stats`'s three means."""
    spec = tf.TensorSpec([None, *model.data_shape], tf.float32)

    @tf.function(input_signature=[spec, tf.TensorSpec([], tf.int64), tf.TensorSpec([2], tf.int64)])
    def batch_stats(images, first_index, seed):
        batch = tf.shape(images, out_type=tf.int64)[0]
        example_ids = first_index + tf.range(batch)
        log_sum_exp = tf.fill([batch], tf.constant(-np.inf, tf.float32))
        totals = [tf.zeros([batch], tf.float32), tf.zeros([batch], tf.float32)]
        for block_start in tf.range(0, num_samples, _BLOCK, dtype=tf.int64):
            eps = _noise_block(seed, example_ids, block_start // _BLOCK, model.noise_dim)
            block_size = tf.minimum(tf.constant(_BLOCK, tf.int64), num_samples - block_start)
            for start in tf.range(0, block_size, chunk, dtype=tf.int64):
                evidence = model.evidence(
                    images, eps[start : tf.minimum(start + chunk, block_size)]
                )
                # Running log-sum-exp: only this chunk's weights are ever in memory.
                chunk_lse = tf.reduce_logsumexp(evidence["log_weights"], axis=0)
                log_sum_exp = tf.reduce_logsumexp(tf.stack([log_sum_exp, chunk_lse]), axis=0)
                totals = [
                    t + tf.reduce_sum(evidence[k], axis=0) for t, k in zip(totals, ("elbo", "kl"))
                ]
        return log_sum_exp - math.log(num_samples), totals[0] / num_samples, totals[1] / num_samples

    return batch_stats


def _noise_block(seed, example_ids, block, noise_dim):
    """N(0, I) noise (_BLOCK, batch, noise_dim) for samples [block, block + 1) * _BLOCK.

    One draw per (example, block), seeded by (seed, example index, block): the noise of
    a sample does not depend on how examples are batched or samples chunked.
    """

    def draw(example_id):
        example_seed = tf.random.experimental.stateless_fold_in(seed, example_id)
        block_seed = tf.random.experimental.stateless_fold_in(example_seed, block)
        return tf.random.stateless_normal([_BLOCK, noise_dim], seed=block_seed)

    spec = tf.TensorSpec([_BLOCK, noise_dim], tf.float32)
    return tf.transpose(tf.map_fn(draw, example_ids, fn_output_signature=spec), [1, 0, 2])


def chunk_size(model, batch_size, num_samples, memory_budget_mb):
    """Samples per chunk: a power of 2 (so it divides _BLOCK) that fits the budget."""
    noise_bytes = 4 * batch_size * _BLOCK * model.noise_dim
    bytes_per_sample = 4 * batch_size * model.floats_per_draw
    chunk = max(1, int((memory_budget_mb * _MIB - noise_bytes) // bytes_per_sample))
    return min(2 ** int(math.log2(chunk)), _BLOCK, num_samples)
