"""Priors p(z): the density a model's latent codes are pulled towards, and drawn from.

Every prior answers, in float32:

    log_prob(z)      -> log p(z) per row of z (..., latent_dim)
    sample(eps, temperature=1.0)
                     -> z (batch, latent_dim) from standard-normal noise (batch, noise_dim),
                        its spread scaled by the temperature
    noise_dim        -> the noise one sample takes (a prior may need more than latent_dim)
    gaussian_kl_per_dim(mean, log_var) -> KL(N(mean, var) || p) per dim, or None

Sampling takes its noise as an input, so that it runs inside exported graphs (LiteRT has
no random ops) and a caller who owns the noise gets repeatable samples.
"""

import math

import keras
from keras import ops

from keras_vae import validation
from keras_vae.models import parts


class Prior(keras.layers.Layer):
    """Base of the priors (see the module's docstring for what each one answers).

    A prior is built with the latent shape `(None, latent_dim)`.
    """

    #: The name `VAE(prior=...)` takes.
    alias = None
    #: Whether `gaussian_kl_per_dim` has a closed form (it returns None otherwise).
    closed_form_kl = False

    def build(self, latent_shape):
        self.latent_dim = int(latent_shape[-1])
        self.built = True

    @property
    def noise_dim(self):
        return self.latent_dim

    def log_prob(self, z):
        raise NotImplementedError

    def sample(self, eps, temperature=1.0):
        raise NotImplementedError

    def gaussian_kl_per_dim(self, mean, log_var):
        """KL(N(mean, exp(log_var)) || p) per example and dim, where it has a closed form."""
        return None

    def call(self, eps):
        return self.sample(eps)


@keras.saving.register_keras_serializable(package="keras_vae")
class StandardNormal(Prior):
    """p(z) = N(0, I), the usual VAE prior; its KL to a diagonal Gaussian is a closed form.

    Examples:

        >>> prior = StandardNormal()
        >>> prior.build((None, 2))
        >>> float(prior.log_prob(np.zeros([1, 2]))[0])  # -log(2 pi)
        -1.8378770351409912
    """

    alias = "standard_normal"
    closed_form_kl = True

    def log_prob(self, z):
        return ops.sum(standard_normal_log_prob(z), axis=-1)

    def sample(self, eps, temperature=1.0):
        return temperature * ops.cast(eps, "float32")

    def gaussian_kl_per_dim(self, mean, log_var):
        # TFP's closed form of KL(N(m, s^2) || N(0, 1)), in its order of operations.
        mean, log_var = ops.cast(mean, "float32"), ops.cast(log_var, "float32")
        log_scale = ops.log(ops.exp(0.5 * log_var))  # log(scale), as TFP rounds it
        return 0.5 * ops.square(mean) + 0.5 * ops.expm1(2.0 * log_scale) - log_scale


def get(identifier, **kwargs):
    """A prior from its alias (`"standard_normal"`, or a registered one), config or itself.

    Examples:

        >>> isinstance(get("standard_normal"), StandardNormal)
        True
    """
    return parts.get(identifier, Prior, "prior", **kwargs)


def check_temperature(temperature, allow_zero=False):
    """`temperature` as a float, or the package's error: > 0 (>= 0 with `allow_zero`).

    Examples:

        >>> check_temperature(0.7)
        0.7
    """
    if not (
        isinstance(temperature, (int, float))
        and not isinstance(temperature, bool)
        and math.isfinite(temperature)
        and (temperature > 0 or (allow_zero and temperature == 0))
    ):
        expected = "a finite float > 0 (1: the prior itself; below 1, nearer its mode)"
        if allow_zero:
            expected = "a finite float >= 0 (0: the lower layers at their prior means)"
        raise validation.invalid("temperature", expected, temperature)
    return float(temperature)


#: log(2 pi), for Gaussian densities written out.
LOG_2PI = math.log(2.0 * math.pi)


def standard_normal_log_prob(z):
    """log N(z; 0, 1) of each value, float32."""
    return -0.5 * ops.square(ops.cast(z, "float32")) - 0.5 * LOG_2PI


def gaussian_log_prob(z, mean, scale):
    """log N(z; mean, scale^2) of each value, float32, in TFP's order of operations."""
    return -0.5 * ops.square(z / scale - mean / scale) - (0.5 * LOG_2PI + ops.log(scale))


def gaussian_entropy(scale):
    """The entropy of N(., scale^2) of each value, float32, as TFP computes it."""
    return 0.5 * LOG_2PI + 0.5 + ops.log(scale)
