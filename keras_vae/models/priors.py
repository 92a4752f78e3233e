"""Priors p(z): the density a model's latent codes are pulled towards, and drawn from.

Every prior answers, in float32:

    log_prob(z)      -> log p(z) per row of z (..., latent_dim)
    sample(eps)      -> z (batch, latent_dim) from standard-normal noise (batch, noise_dim)
    noise_dim        -> the noise one sample takes (a prior may need more than latent_dim)
    gaussian_kl_per_dim(mean, log_var) -> KL(N(mean, var) || p) per dim, or None

Sampling takes its noise as an input, so that it runs inside exported graphs (LiteRT has
no random ops) and a caller who owns the noise gets repeatable samples.
"""

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from keras_vae.models import parts

tfd = tfp.distributions


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

    def sample(self, eps):
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
        >>> float(prior.log_prob(tf.zeros([1, 2]))[0])  # -log(2 pi)
        -1.8378770351409912
    """

    alias = "standard_normal"
    closed_form_kl = True

    def distribution(self):
        zeros = tf.zeros([self.latent_dim], tf.float32)
        return tfd.Independent(tfd.Normal(loc=zeros, scale=1.0), reinterpreted_batch_ndims=1)

    def log_prob(self, z):
        return self.distribution().log_prob(tf.cast(z, tf.float32))

    def sample(self, eps):
        return tf.cast(eps, tf.float32)

    def gaussian_kl_per_dim(self, mean, log_var):
        scale = tf.exp(0.5 * tf.cast(log_var, tf.float32))
        q = tfd.Normal(loc=tf.cast(mean, tf.float32), scale=scale)
        return tfd.kl_divergence(q, tfd.Normal(loc=0.0, scale=1.0))


def get(identifier, **kwargs):
    """A prior from its alias (`"standard_normal"`, or a registered one), config or itself.

    Examples:

        >>> isinstance(get("standard_normal"), StandardNormal)
        True
    """
    return parts.get(identifier, Prior, "prior", **kwargs)


#: log(2 pi), for Gaussian densities written out.
LOG_2PI = math.log(2.0 * math.pi)
