"""A learned prior: a mixture of K diagonal Gaussians, p(z) = sum_k pi_k N(z; m_k, s_k^2).

A standard normal prior leaves "holes": regions it gives mass that no encoding reaches,
whose samples decode to blobs. A learned mixture can follow the aggregate posterior
instead (as the VampPrior does, Tomczak & Welling 2018, with its components tied to the
encoder). Its KL to the posterior has no closed form: the model estimates it from the
posterior's draws (`keras_vae.models.posteriors.Posterior.kl`), and free bits, which need a
per-dim KL, are refused with it.

This file is the whole of the family: `VAE(encoder, decoder, prior="mixture")`, or
`prior=MixtureOfGaussians(components=K)`, trains, evaluates, saves and exports through the
model interface without another change.
"""

import math

import keras
from keras import ops

from keras_vae import validation
from keras_vae.models import priors


@keras.saving.register_keras_serializable(package="keras_vae")
class MixtureOfGaussians(priors.Prior):
    """A learned mixture of `components` diagonal Gaussians over z.

    The means start spread out (N(0, 1) draws, seeded), the scales at 1 and the weights
    equal, so the prior starts close to N(0, I) but wider. Sampling takes latent_dim + 1
    standard-normal values per sample: the last one, through the normal CDF, picks the
    component, so that sampling needs no random op (it runs in LiteRT).

    Args:
        components: K, the number of Gaussians, an int >= 1.
        seed: seed of the means' initial values.

    Examples:

        >>> prior = MixtureOfGaussians(components=3)
        >>> prior.build((None, 2))
        >>> tuple(prior.sample(np.zeros([4, 3])).shape)
        (4, 2)
    """

    alias = "mixture"

    def __init__(self, components=10, seed=None, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.components = validation.check_int("components", components, minimum=1)
        self.seed = seed

    def build(self, latent_shape):
        super().build(latent_shape)
        shape = (self.components, self.latent_dim)
        init = keras.initializers.RandomNormal(seed=self.seed)
        self.means = self.add_weight(shape=shape, name="means", initializer=init)
        self.log_scales = self.add_weight(shape=shape, name="log_scales", initializer="zeros")
        self.logits = self.add_weight(shape=(self.components,), name="logits", initializer="zeros")

    @property
    def noise_dim(self):
        return self.latent_dim + 1

    def log_prob(self, z):
        z = ops.expand_dims(ops.cast(z, "float32"), -2)  # (..., 1, D) against (K, D)
        scales = ops.exp(self.log_scales)
        per_dim = (
            -0.5 * ops.square((z - self.means) / scales)
            - self.log_scales
            - 0.5 * math.log(2 * math.pi)
        )
        log_weights = ops.log_softmax(self.logits)
        return ops.logsumexp(log_weights + ops.sum(per_dim, axis=-1), axis=-1)

    def sample(self, eps, temperature=1.0):
        """A component by the last noise value, then its Gaussian, its scale times
        `temperature`."""
        eps = ops.cast(eps, "float32")
        uniform = normal_cdf(eps[:, -1])
        edges = ops.cumsum(ops.softmax(self.logits))[:-1]
        above = ops.cast(uniform[:, None] > edges[None, :], "int32")
        component = ops.sum(above, axis=-1)
        mean = ops.take(self.means, component, axis=0)
        log_scale = ops.take(self.log_scales, component, axis=0)
        return mean + temperature * ops.exp(log_scale) * eps[:, :-1]

    def get_config(self):
        config = {**super().get_config(), "components": self.components, "seed": self.seed}
        config.pop("dtype", None)  # always float32
        return config


def normal_cdf(x):
    """The standard normal CDF from exp and arithmetic only (LiteRT has no erf): Abramowitz
    & Stegun's 7.1.26, within 1.5e-7 of the exact value.

    Examples:

        >>> round(float(normal_cdf(np.float32(1.0))), 6)
        0.841345
    """
    x = ops.convert_to_tensor(x, "float32")
    u = ops.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * u)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = 1.0 - poly * ops.exp(-u * u)
    return 0.5 * (1.0 + ops.where(x < 0, -erf, erf))
