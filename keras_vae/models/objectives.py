"""Objectives: what a model minimises, per example, from the terms of its bound.

A model draws k z's per example and computes, in float32, `BoundTerms`:

    log_px      log p(x|z_i)                          (k, batch)
    log_pz      log p(z_i)                            (k, batch)
    log_q       log q(z_i|x)                          (k, batch)
    kl          an estimate of KL(q(z|x) || p(z))     (k, batch), closed form where one exists
    kl_per_dim  the KL of each latent dim             (batch, latent_dim), or None
    z           the draws                              (k, batch, latent_dim), or None
    posterior   q's mean and log-variance              (batch, latent_dim) each, or None

An objective turns them into a per-example loss, so that the model can average over the
global batch itself. `ELBO` is -log p(x|z) + beta * KL (with free bits); `IWAE` is minus
the k-sample importance-weighted bound (Burda et al. 2015); `TCVAE` splits the KL into
index-code mutual information, total correlation and dimension-wise KL, estimated on the
minibatch (Chen et al. 2018), and weights each. All warm their KL weights up over the first
optimizer steps by a linear or cyclical schedule.
"""

import collections
import math

import keras
from keras import ops

from keras_vae import validation
from keras_vae.models import parts, priors

BoundTerms = collections.namedtuple(
    "BoundTerms", "log_px log_pz log_q kl kl_per_dim z posterior", defaults=(None, None)
)

#: How the KL weight warms up.
KL_SCHEDULES = ("linear", "cyclical")


class Objective:
    """Base of the objectives: the KL weight's schedule and the number of draws.

    Args:
        beta: weight of the KL term (of log p(z) - log q(z|x) in IWAE), >= 0.
        warmup_steps: ramp beta linearly from 0 over this many optimizer steps.
        schedule: `"linear"` warm-up, or `"cyclical"` (Fu et al. 2019: the ramp restarts
            every `cycle_steps`).
        cycle_steps: the cycle of the cyclical schedule, >= warmup_steps >= 1.
        num_samples: z draws per example, an int >= 1.
    """

    #: The name `VAE(objective=...)` takes.
    alias = None
    #: Per-example terms besides the loss that `terms` gives, which `fit` logs.
    term_names = ()
    #: Whether the objective needs each batch's draws and q's parameters (`BoundTerms.z`
    #: and `.posterior`), which only a one-layer model gives.
    needs_draws = False

    def __init__(self, beta=1.0, warmup_steps=0, schedule="linear", cycle_steps=0, num_samples=1):
        self.beta = validation.check_float("beta", beta)
        self.warmup_steps = validation.check_int("warmup_steps", warmup_steps, minimum=0)
        self.schedule = validation.check_choice("schedule", schedule, KL_SCHEDULES)
        self.cycle_steps = validation.check_int("cycle_steps", cycle_steps, minimum=0)
        self.num_samples = validation.check_int("num_samples", num_samples, minimum=1)
        if self.schedule == "cyclical" and self.cycle_steps < max(self.warmup_steps, 1):
            raise validation.invalid(
                "cycle_steps",
                "cycle_steps >= warmup_steps >= 1 for a cyclical schedule "
                f"(warmup_steps={warmup_steps})",
                cycle_steps,
            )

    def check_parts(self, posterior, prior):
        """Raises if this objective cannot train with this posterior and prior."""

    def kl_weight(self, step):
        """The KL weight at optimizer step `step`, a float32 tensor.

        Examples:

            >>> float(ELBO(beta=2.0, warmup_steps=100).kl_weight(50))
            1.0
        """
        return self.beta * self.warmup(step)

    def warmup(self, step):
        """The schedule's factor on the KL weights at optimizer step `step`, in [0, 1]."""
        if not self.warmup_steps:
            return ops.convert_to_tensor(1.0, "float32")
        step = ops.cast(step, "float32")
        if self.schedule == "cyclical":
            step = ops.mod(step, float(self.cycle_steps))
        return ops.minimum(step / float(self.warmup_steps), 1.0)

    def __call__(self, terms, step):
        """The per-example loss (batch,) for `BoundTerms` at optimizer step `step`."""
        raise NotImplementedError

    def terms(self, terms, step):
        """{"loss": `self(terms, step)`, and each of `term_names`: (batch,)}."""
        return {"loss": self(terms, step)}

    def get_config(self):
        return {
            "beta": self.beta,
            "warmup_steps": self.warmup_steps,
            "schedule": self.schedule,
            "cycle_steps": self.cycle_steps,
            "num_samples": self.num_samples,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_vae")
class ELBO(Objective):
    """-ELBO per example: -log p(x|z) (mean over the draws) + beta * KL.

    Args:
        free_bits: nats per latent dim below which a dim's KL is not penalised (Kingma et
            al. 2016), >= 0; needs a per-dim KL (a diagonal Gaussian posterior and a prior
            with a closed-form KL).
        **kwargs: `beta`, `warmup_steps`, `schedule`, `cycle_steps`, `num_samples` (see
            `Objective`).

    Examples:

        >>> ELBO(beta=4.0).beta
        4.0
    """

    alias = "elbo"

    def __init__(self, free_bits=0.0, **kwargs):
        super().__init__(**kwargs)
        self.free_bits = validation.check_float("free_bits", free_bits)

    def check_parts(self, posterior, prior):
        if self.free_bits and not posterior.kl_per_dim_defined(prior):
            raise validation.invalid(
                "free_bits",
                f"0 with posterior={parts.alias_of(posterior)!r} and prior="
                f"{parts.alias_of(prior)!r} (free bits floor each dim's KL, which they do not "
                "define)",
                self.free_bits,
            )

    def __call__(self, terms, step):
        reconstruction = -ops.mean(terms.log_px, axis=0)
        if terms.kl_per_dim is not None:  # the closed form, floored per dim
            kl = free_bits_kl(terms.kl_per_dim, self.free_bits)
        else:
            kl = ops.mean(terms.kl, axis=0)
        return reconstruction + self.kl_weight(step) * kl

    def get_config(self):
        return {**super().get_config(), "free_bits": self.free_bits}


@keras.saving.register_keras_serializable(package="keras_vae")
class IWAE(Objective):
    """Minus the k-sample importance-weighted bound (Burda et al. 2015), per example:
    -log (1/k) sum_i p(x|z_i) (p(z_i) / q(z_i|x))^beta.

    Args:
        num_samples: k, the draws per example (1 is the ELBO without free bits).
        **kwargs: `beta`, `warmup_steps`, `schedule`, `cycle_steps` (see `Objective`).

    Examples:

        >>> IWAE(num_samples=5).num_samples
        5
    """

    alias = "iwae"

    def __call__(self, terms, step):
        log_ratio = terms.log_pz - terms.log_q
        return -iwae_bound(terms.log_px + self.kl_weight(step) * log_ratio)


#: How `TCVAE` estimates the aggregate posterior q(z) on a minibatch.
TC_ESTIMATORS = ("mss", "mws")


@keras.saving.register_keras_serializable(package="keras_vae")
class TCVAE(Objective):
    """β-TCVAE (Chen et al. 2018), per example: -log p(x|z) + alpha * MI + beta * TC +
    gamma * DWKL, means over the draws.

    The KL to the prior splits, for the aggregate posterior q(z) = (1/N) sum_n q(z|x_n),
    into the index-code mutual information MI = E[log q(z|x) - log q(z)], the total
    correlation TC = E[log q(z) - sum_d log q(z_d)] and the dimension-wise KL
    DWKL = E[sum_d log q(z_d) - log p(z)] (sum_d KL(q(z_d) || p(z_d)) for a factorised
    prior). With alpha = beta = gamma = 1 it is the ELBO; beta > 1 presses on the total
    correlation alone, which the β-VAE's beta presses on with the rest of the KL.

    q(z) and each q(z_d) are estimated at every draw from the other examples of its
    minibatch of M (the replica's batch under `tf.distribute`):
    - `"mss"`, minibatch-stratified sampling: q(z_i) ~ q(z_i|x_i) / N + (N - 1) /
      (N (M - 1)) * sum_{j != i} q(z_i|x_j), the other M - 1 examples a sample of the
      dataset without x_i (unbiased for q(z_i); the log is a lower estimate);
    - `"mws"`, minibatch-weighted sampling, as Chen et al. write it: q(z_i) ~ 1 / (N M)
      sum_j q(z_i|x_j). Its weights add up to 1/N, not 1, so its MI and TC figures sit
      about log N and (D - 1) log N above MSS's (YannDubs/disentangling-vae#60): constants
      that leave the gradients as they are, but not the logged figures.

    Args:
        dataset_size: N, the examples the aggregate posterior is over (the training set),
            an int >= 1.
        alpha, beta, gamma: the weights of MI, TC and DWKL, floats >= 0. Chen et al. set
            alpha = gamma = 1 and tune beta (6 is their dSprites choice).
        estimator: `"mss"` or `"mws"`.
        warmup_steps, schedule, cycle_steps: warm the three weights up together (see
            `Objective`).
        num_samples: z draws per example.

    Needs a diagonal Gaussian posterior (its density at another example's draw is a
    closed form) and a one-layer model (`keras_vae.VAE`).

    Examples:

        >>> objective = TCVAE(dataset_size=60000, beta=6.0)
        >>> objective.term_names
        ('mutual_information', 'total_correlation', 'dimension_kl')
    """

    alias = "tcvae"
    term_names = ("mutual_information", "total_correlation", "dimension_kl")
    needs_draws = True

    def __init__(
        self, dataset_size=None, alpha=1.0, beta=6.0, gamma=1.0, estimator="mss", **kwargs
    ):
        super().__init__(beta=beta, **kwargs)
        if dataset_size is None:
            raise validation.invalid(
                "dataset_size",
                "the number of training examples, an int >= 1 (the aggregate posterior "
                "q(z) is over them; e.g. TCVAE(dataset_size=len(train)))",
                dataset_size,
            )
        self.dataset_size = validation.check_int("dataset_size", dataset_size, minimum=1)
        self.alpha = validation.check_float("alpha", alpha)
        self.gamma = validation.check_float("gamma", gamma)
        self.estimator = validation.check_choice("estimator", estimator, TC_ESTIMATORS)

    def check_parts(self, posterior, prior):
        from keras_vae.models import posteriors

        if type(posterior) is not posteriors.DiagonalGaussian:
            raise validation.invalid(
                "posterior",
                "'gaussian' with objective='tcvae' (the total correlation needs q(z|x_j) "
                "at every other example's draw, a closed form for the diagonal Gaussian)",
                parts.alias_of(posterior),
            )

    def terms(self, terms, step):
        if terms.z is None or terms.posterior is None:
            raise ValueError("TCVAE needs the draws and q's parameters in BoundTerms")
        mi, tc, dwkl = kl_decomposition(
            terms.z,
            terms.posterior.mean,
            terms.posterior.log_var,
            terms.log_q,
            terms.log_pz,
            self.dataset_size,
            self.estimator,
        )
        ramp = self.warmup(step)
        penalty = self.alpha * mi + self.beta * tc + self.gamma * dwkl
        loss = -terms.log_px + ramp * penalty
        return {
            "loss": ops.mean(loss, axis=0),
            "mutual_information": ops.mean(mi, axis=0),
            "total_correlation": ops.mean(tc, axis=0),
            "dimension_kl": ops.mean(dwkl, axis=0),
        }

    def __call__(self, terms, step):
        return self.terms(terms, step)["loss"]

    def get_config(self):
        return {
            **super().get_config(),
            "dataset_size": self.dataset_size,
            "alpha": self.alpha,
            "gamma": self.gamma,
            "estimator": self.estimator,
        }


def refuse_draws(objective, family):
    """Raises if `objective` needs one layer's draws of a batch of distinct examples
    (`needs_draws`), which the model family `family` (a class name) does not give."""
    if objective.needs_draws:
        raise validation.invalid(
            "objective",
            f"'elbo' or 'iwae' for a {family} (the {parts.alias_of(objective)!r} objective "
            "estimates q(z) on one layer's draws of distinct examples: use keras_vae.VAE)",
            parts.alias_of(objective),
        )


def kl_decomposition(z, mean, log_var, log_q, log_pz, dataset_size, estimator="mss"):
    """(MI, TC, DWKL), each (k, batch): `TCVAE`'s split of log q(z|x) - log p(z) at each draw.

    Args:
        z: draws (k, M, D), z[:, i] from q(z|x_i).
        mean, log_var: q's parameters (M, D) of the same M examples.
        log_q: log q(z|x_i) at each draw (k, M).
        log_pz: log p(z) at each draw (k, M).
        dataset_size: N, the examples the aggregate posterior is over.
        estimator: `"mss"` or `"mws"` (see `TCVAE`).

    The three add up to log q(z|x) - log p(z), the draw's KL estimate.

    Examples:

        >>> z = np.zeros([1, 4, 2], "float32")
        >>> q = np.zeros([4, 2], "float32")
        >>> log_q = np.full([1, 4], -2 * 0.5 * np.log(2 * np.pi), "float32")
        >>> mi, tc, dwkl = kl_decomposition(z, q, q, log_q, log_q, dataset_size=4)
        >>> [round(float(ops.max(ops.abs(t))), 6) for t in (mi, tc, dwkl)]
        [0.0, 0.0, 0.0]
    """
    z = ops.cast(z, "float32")[:, :, None, :]  # (k, M, 1, D) against (M, D)
    mean, log_var = ops.cast(mean, "float32"), ops.cast(log_var, "float32")
    # log q(z_i,d | x_j): (k, M_i, M_j, D).
    log_density = -0.5 * (priors.LOG_2PI + log_var + ops.square(z - mean) * ops.exp(-log_var))
    log_w = _log_minibatch_weights(ops.shape(mean)[0], dataset_size, estimator)
    log_qz = ops.logsumexp(ops.sum(log_density, axis=-1) + log_w, axis=2)  # (k, M)
    log_qz_dims = ops.logsumexp(log_density + log_w[:, :, None], axis=2)  # (k, M, D)
    sum_dims = ops.sum(log_qz_dims, axis=-1)
    log_q, log_pz = ops.cast(log_q, "float32"), ops.cast(log_pz, "float32")
    return log_q - log_qz, log_qz - sum_dims, sum_dims - log_pz


def _log_minibatch_weights(batch, dataset_size, estimator):
    """log w_ij (M, M): the weight of q(z_i|x_j) in the estimate of q(z_i)."""
    batch_f = ops.cast(batch, "float32")
    n = float(dataset_size)
    eye = ops.eye(batch, dtype="float32")
    if estimator == "mws":
        return ops.zeros((batch, batch), "float32") - ops.log(n * batch_f)
    others = (n - 1.0) / (n * ops.maximum(batch_f - 1.0, 1.0))
    return eye * math.log(1.0 / n) + (1.0 - eye) * ops.log(others)


def free_bits_kl(kl_dims, free_bits):
    """Sum over dims of max(KL_d, free_bits): each dim's KL floored.

    Kingma et al. (2016) floor the batch-averaged KL of each dim; this floors each
    example's, a variant that keeps the objective a per-example sum, so it averages
    the same way on one device and on many replicas.

    Examples:

        >>> ops.convert_to_numpy(free_bits_kl(np.array([[0.1, 2.0]]), 1.0)).tolist()
        [3.0]
    """
    if not free_bits:
        return ops.sum(kl_dims, axis=-1)
    return ops.sum(ops.maximum(kl_dims, float(free_bits)), axis=-1)


def iwae_bound(log_weights):
    """log (1/k) sum_i w_i over axis 0 of (k, batch) log-weights: the IWAE bound per example.
    k is static (the objective's `num_samples`, or a chunk of evaluation draws)."""
    return ops.logsumexp(log_weights, axis=0) - math.log(log_weights.shape[0])


def tile(tensor, k):
    """k copies of a batch tensor along its first axis, sample-major: the layout of the
    k draws per example in `BoundTerms` (reshaped to (k, batch))."""
    return ops.tile(tensor, [k] + [1] * (len(tensor.shape) - 1))


def get(identifier, **kwargs):
    """An objective from its alias (`"elbo"`, `"iwae"`), config or itself.

    Examples:

        >>> get("iwae", num_samples=5).num_samples
        5
    """
    return parts.get(identifier, Objective, "objective", **kwargs)
