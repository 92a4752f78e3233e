"""Objectives: what a model minimises, per example, from the terms of its bound.

A model draws k z's per example and computes, in float32, `BoundTerms`:

    log_px      log p(x|z_i)                          (k, batch)
    log_pz      log p(z_i)                            (k, batch)
    log_q       log q(z_i|x)                          (k, batch)
    kl          an estimate of KL(q(z|x) || p(z))     (k, batch), closed form where one exists
    kl_per_dim  the KL of each latent dim             (batch, latent_dim), or None

An objective turns them into a per-example loss, so that the model can average over the
global batch itself. `ELBO` is -log p(x|z) + beta * KL (with free bits); `IWAE` is minus
the k-sample importance-weighted bound (Burda et al. 2015). Both weight the KL by beta,
warmed up over the first optimizer steps by a linear or cyclical schedule.
"""

import collections
import math

import keras
from keras import ops

from keras_vae import validation
from keras_vae.models import parts

BoundTerms = collections.namedtuple("BoundTerms", "log_px log_pz log_q kl kl_per_dim")

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
        if not self.warmup_steps:
            return ops.convert_to_tensor(self.beta, "float32")
        step = ops.cast(step, "float32")
        if self.schedule == "cyclical":
            step = ops.mod(step, float(self.cycle_steps))
        return self.beta * ops.minimum(step / float(self.warmup_steps), 1.0)

    def __call__(self, terms, step):
        """The per-example loss (batch,) for `BoundTerms` at optimizer step `step`."""
        raise NotImplementedError

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
