"""Posteriors q(z|x): from the encoder's outputs to draws of z with their log-density.

The encoder gives `PosteriorParameters`: a mean and log-variance (batch, latent_dim) and,
for posteriors that use one, a context h (batch, H). Every posterior answers the same
questions, in float32:

    sample(params, eps) -> Draw(z, log_q, neg_entropy)    z = g(eps), eps ~ N(0, I)
    point(params)       -> z                              encode's point estimate
    kl(params, draw, prior) -> the closed form (batch,), or an estimate per draw
    kl_per_dim(params, prior) -> (batch, latent_dim), or None where it is not defined
    distribution(params) -> a TFP distribution over (latent_dim,), on TensorFlow only

`neg_entropy` is a per-draw estimate of E_q[log q(z|x)], exact where q's entropy has a
closed form: the KL to a prior is then `neg_entropy - log p(z)` without the noise of
log q(z) itself (see `Posterior.kl`).
"""

import collections

import keras
from keras import ops

from keras_vae import backend, validation
from keras_vae.models import flows, parts, priors

#: What the encoder gives a posterior: float32 (batch, latent_dim) twice, and h or None.
PosteriorParameters = collections.namedtuple("PosteriorParameters", "mean log_var context")
#: A reparameterised draw: z (..., latent_dim), log q(z|x) and an estimate of E[log q] (...,).
Draw = collections.namedtuple("Draw", "z log_q neg_entropy")


class Posterior(keras.layers.Layer):
    """Base of the posteriors (see the module's docstring for what each one answers).

    A posterior is built with the latent width and the width of the encoder's context
    output (0 for none).
    """

    #: The name `VAE(posterior=...)` takes.
    alias = None

    def context_dim(self):
        """The width of the context h the default encoders give this posterior (0: none)."""
        return 0

    def check_context(self, context_dim):
        """Raises unless this posterior can use an encoder context of width `context_dim`."""
        if context_dim:
            raise validation.invalid(
                "encoder",
                f"outputs [z_mean, z_log_var] for posterior={parts.alias_of(self)!r} (a third "
                "output, a flow's context, needs posterior='iaf')",
                validation.Described(f"an encoder with a context output of width {context_dim}"),
            )

    def build(self, latent_shape, context_shape=None):
        self.built = True

    def gaussian_draw(self, params, eps):
        """z_0 = mean + sigma * eps from q(z_0|x) = N(mean, diag(exp(log_var))), with
        log q(z_0|x) and minus its entropy, float32."""
        mean = ops.cast(params.mean, "float32")
        scale = ops.exp(0.5 * ops.cast(params.log_var, "float32"))
        z0 = mean + scale * eps
        log_q = ops.sum(priors.gaussian_log_prob(z0, mean, scale), axis=-1)
        neg_entropy = -ops.sum(priors.gaussian_entropy(scale), axis=-1) + ops.zeros_like(log_q)
        return Draw(z0, log_q, neg_entropy)

    def gaussian(self, params):
        """q(z_0|x) = N(mean, diag(exp(log_var))) as a TFP distribution (TensorFlow only)."""
        backend.require_tensorflow(
            "TFP distributions", "on any backend, draw with sample() or encode()"
        )
        import tensorflow as tf
        import tensorflow_probability as tfp

        tfd = tfp.distributions
        scale = tf.exp(0.5 * tf.cast(params.log_var, tf.float32))
        normal = tfd.Normal(loc=tf.cast(params.mean, tf.float32), scale=scale)
        return tfd.Independent(normal, reinterpreted_batch_ndims=1)

    def sample(self, params, eps):
        raise NotImplementedError

    def point(self, params):
        raise NotImplementedError

    def kl(self, params, draw, prior):
        """KL(q(z|x) || p(z)): its closed form per example (batch,) where there is one (a
        per-dim KL), else an estimate per draw (the shape of `draw.log_q`).

        The estimate is E[log q] - log p(z) with E[log q] = `draw.neg_entropy`: exact for a
        Gaussian's entropy and, for a flow, -H(q0) - log |det|, which is unbiased, without
        the noise of log q0(z0) (about 4 nats per example at 32 dims), and free of q0's mean.
        The Rao-Blackwellised alternative for a flow, KL(q0 || p) in closed form plus
        log p(z0) - log p(z) - log |det|, is quieter near the identity, but its noise grows
        as |mu| * sigma once the flow moves z away from z0: a 4-step flow drifted there and
        its logged KL swung between -37,000 and +15,000 (benchmarks/RESULTS.md).
        """
        dims = self.kl_per_dim(params, prior)
        if dims is not None:
            return ops.sum(dims, axis=-1)
        return draw.neg_entropy - prior.log_prob(draw.z)

    def kl_per_dim(self, params, prior):
        """KL(q(z_d|x) || p(z_d)) per example and dim, or None where it is not defined."""
        return None

    def kl_per_dim_defined(self, prior):
        """Whether `kl_per_dim` gives values with this prior (it does not depend on x)."""
        return False

    def distribution(self, params):
        raise NotImplementedError


@keras.saving.register_keras_serializable(package="keras_vae")
class DiagonalGaussian(Posterior):
    """q(z|x) = N(mu, diag(sigma^2)), mu and log sigma^2 from the encoder (Kingma & Welling).

    Examples:

        >>> q = DiagonalGaussian()
        >>> params = PosteriorParameters(np.zeros([2, 3]), np.zeros([2, 3]), None)
        >>> ops.convert_to_numpy(q.sample(params, np.ones([2, 3])).z).tolist()
        [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """

    alias = "gaussian"

    def sample(self, params, eps):
        return self.gaussian_draw(params, eps)

    def point(self, params):
        return ops.cast(params.mean, "float32")

    def kl_per_dim(self, params, prior):
        return prior.gaussian_kl_per_dim(params.mean, params.log_var)

    def kl_per_dim_defined(self, prior):
        return prior.closed_form_kl

    def distribution(self, params):
        return self.gaussian(params)


@keras.saving.register_keras_serializable(package="keras_vae")
class InverseAutoregressiveFlow(Posterior):
    """The diagonal Gaussian pushed through `steps` inverse autoregressive flow steps.

    z_0 = mu + sigma * eps, then each step z <- sigma_t * z + (1 - sigma_t) * m_t with
    [m_t, s_t] from a MADE network (`flows.AutoregressiveNetwork` of `units`) that sees
    z's earlier dims and the encoder's context h (Kingma et al. 2016); the order of z is
    reversed between steps. log q(z|x) = log q(z_0|x) - log |det dz/dz_0| comes from the
    same pass that draws z, without inverting the flow. The flow runs in float32 whatever
    the model's dtype policy. With `steps=0` it is exactly the diagonal Gaussian.

    Args:
        steps: the number of flow steps, an int >= 0.
        units: the hidden widths of each step's MADE network; the default encoders give
            a context h of width `units[0]`.

    Examples:

        >>> q = InverseAutoregressiveFlow(steps=2, units=(8,))
        >>> q.build((None, 3), (None, 4))
        >>> params = PosteriorParameters(np.zeros([5, 3]), np.zeros([5, 3]), np.zeros([5, 4]))
        >>> tuple(q.sample(params, np.zeros([5, 3])).log_q.shape)
        (5,)
    """

    alias = "iaf"

    def __init__(self, steps=2, units=(64, 64), **kwargs):
        kwargs["dtype"] = "float32"  # the density must stay exact under mixed precision
        super().__init__(**kwargs)
        self.steps = validation.check_int("steps", steps, minimum=0)
        self.units = validation.check_widths("units", units)
        self.networks = [
            flows.AutoregressiveNetwork(self.units, dtype="float32", name=f"made_{t}")
            for t in range(self.steps)
        ]

    def context_dim(self):
        return self.units[0] if self.steps else 0

    def check_context(self, context_dim):
        pass  # a flow uses a context when the encoder gives one, and works without

    def build(self, latent_shape, context_shape=None):
        for network in self.networks:
            network.build(latent_shape, context_shape)
        self.built = True

    def flow(self, z0, context):
        """(z, log |det dz/dz0| per row) for base draws z0 (..., latent_dim)."""
        z0 = ops.cast(z0, "float32")
        context = None if context is None else ops.cast(context, "float32")
        return flows.flow(self.networks, z0, context)

    def sample(self, params, eps):
        base = self.gaussian_draw(params, eps)
        z, log_det = self.flow(base.z, params.context)
        return Draw(z, base.log_q - log_det, base.neg_entropy - log_det)

    def point(self, params):
        """The base mean pushed through the flow (eps = 0): a point of high density, not
        the flow posterior's mean, which has no closed form."""
        return self.flow(params.mean, params.context)[0]

    def kl_per_dim(self, params, prior):
        if self.steps:  # the flow couples the dims
            return None
        return prior.gaussian_kl_per_dim(params.mean, params.log_var)

    def kl_per_dim_defined(self, prior):
        return not self.steps and prior.closed_form_kl

    def distribution(self, params):
        """A `tfd.TransformedDistribution` of the Gaussian through the flow (its `log_prob`
        of an arbitrary z inverts the flow one dimension at a time: draw with `sample`)."""
        q0 = self.gaussian(params)
        if not self.steps:
            return q0
        import tensorflow as tf
        import tensorflow_probability as tfp

        context = None if params.context is None else tf.cast(params.context, tf.float32)
        return tfp.distributions.TransformedDistribution(q0, flows.bijector(self.networks, context))

    def get_config(self):
        config = {**super().get_config(), "steps": self.steps, "units": list(self.units)}
        config.pop("dtype", None)  # always float32
        return config


def get(identifier, **kwargs):
    """A posterior from its alias (`"gaussian"`, `"iaf"`), config or itself.

    Examples:

        >>> get("iaf", steps=1).steps
        1
    """
    return parts.get(identifier, Posterior, "posterior", **kwargs)
