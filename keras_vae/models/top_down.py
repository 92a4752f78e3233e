"""The top-down path of a hierarchical VAE: its stochastic layers and one pass down them.

A pass goes from the top layer z_L down to z_1, carrying a state s: each layer gives its
prior p(z_l | s) and, with the encoder's bottom-up feature h_l, its posterior
q(z_l | x, s) (the prior's Gaussian shifted by a head on [h_l, s]); it draws z_l, scores
it, and passes s + cell([s, z_l]) down. `run` makes every kind of pass the model needs:
draws from q (training, evaluation), q's means (encode, reconstruct), draws from the prior
at a temperature (sample), and the prior's means below a given top z (decode).
"""

import collections

import keras
import numpy as np
from keras import layers as keras_layers
from keras import ops

from keras_vae import validation
from keras_vae.models import network_checks, priors
from keras_vae.models.layers import ClampLogVariance

#: One layer's part of a pass: z; with q, `shift`, q's mean minus the prior's (what the
#: layers above do not predict; q's mean at the top); and for a draw from q, log q(z | ...),
#: log p(z | z_>l), KL(q || p) given the layers above (closed form, or estimated from the
#: draw at a top prior without one) and its per-dim values (None without a closed form).
LayerDraw = collections.namedtuple("LayerDraw", "z shift log_q log_p kl kl_dims")


def point(z, shift=None):
    """A `LayerDraw` of a point (a mean, a given z or a prior draw): z (and q's shift)."""
    return LayerDraw(z, shift, None, None, None, None)


@keras.saving.register_keras_serializable(package="keras_vae")
class LatentLayer(keras.layers.Layer):
    """One stochastic layer of the top-down path: its prior, its posterior and its cell.

    Given the state s from the layers above (None at the top), it answers p(z | s) and
    q(z | x, s) (from the bottom-up feature h), and the state below, s' = s + cell([s, z])
    (cell(z) at the top). The top layer's prior is the model's prior part, not this layer's.

    Args:
        latent_dim: the width of z.
        units: the width of the state s.
        top: whether this is the top layer (no state above; its q is a head on h alone).
        bottom: whether this is the bottom layer (no cell: the decoder takes [s, z]).
    """

    def __init__(self, latent_dim, units, top=False, bottom=False, **kwargs):
        kwargs["dtype"] = "float32"  # densities stay exact under mixed precision
        super().__init__(**kwargs)
        self.latent_dim, self.units = int(latent_dim), int(units)
        self.top, self.bottom = bool(top), bool(bottom)
        d = self.latent_dim
        # Below the top, the prior's heads start at zero (p = N(0, I)) and q's shifts small.
        shift = "glorot_uniform" if self.top else keras.initializers.VarianceScaling(0.1)
        self.posterior_mean = keras_layers.Dense(d, kernel_initializer=shift, name="posterior_mean")
        self.posterior_log_var = keras_layers.Dense(
            d, kernel_initializer=shift, name="posterior_log_var"
        )
        self.clamp = ClampLogVariance(name="clamp")
        if not self.top:
            self.prior_mean = keras_layers.Dense(d, kernel_initializer="zeros", name="prior_mean")
            self.prior_log_var = keras_layers.Dense(
                d, kernel_initializer="zeros", name="prior_log_var"
            )
        if not self.bottom:
            self.cell_hidden = keras_layers.Dense(units, activation="swish", name="cell_hidden")
            self.cell_out = keras_layers.Dense(units, name="cell_out")

    def build(self, feature_shape):
        state = None if self.top else (None, self.units)
        width = int(feature_shape[-1]) + (0 if self.top else self.units)
        for head in (self.posterior_mean, self.posterior_log_var):
            head.build((None, width))
        if not self.top:
            self.prior_mean.build(state)
            self.prior_log_var.build(state)
        if not self.bottom:
            self.cell_hidden.build((None, self.latent_dim + (0 if self.top else self.units)))
            self.cell_out.build((None, self.units))
        self.built = True

    def prior(self, state):
        """(mean, log_var) of p(z | s), float32 (batch, latent_dim) each."""
        return self.prior_mean(state), self.clamp(self.prior_log_var(state))

    def posterior(self, feature, state):
        """(mean, log_var) of q(z | x, s): the prior's, shifted by a head on [h, s]."""
        if self.top:
            feature = ops.cast(feature, "float32")
            return self.posterior_mean(feature), self.clamp(self.posterior_log_var(feature))
        joined = ops.concatenate([ops.cast(feature, "float32"), state], axis=-1)
        mean, log_var = self.prior(state)
        return (
            mean + self.posterior_mean(joined),
            self.clamp(log_var + self.posterior_log_var(joined)),
        )

    def next_state(self, state, z):
        """The state below this layer: cell(z) at the top, s + cell([s, z]) below it."""
        if self.top:
            return self.cell_out(self.cell_hidden(z))
        return state + self.cell_out(self.cell_hidden(ops.concatenate([state, z], axis=-1)))

    def call(self, feature, state=None):
        return self.posterior(feature, state)

    def get_config(self):
        config = {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "units": self.units,
            "top": self.top,
            "bottom": self.bottom,
        }
        config.pop("dtype", None)
        return config


def run(layers, prior, features=None, noise=None, top=None, temperature=1.0):
    """One pass down `layers` (`LatentLayer`s, bottom first), top first; `prior` is the
    top layer's.

    With `features` (the bottom-up h's), each z_l is drawn from q (from `noise`, a list
    of (batch, d_l) per layer, bottom first) or taken at q's mean (noise None); without
    them, from the prior, at temperature `temperature` (at its mean for noise None).
    `top` fixes z_L. Returns (decoder input, a `LayerDraw` per layer, bottom first).
    """
    state, out = None, []
    for i in reversed(range(len(layers))):
        layer = layers[i]
        eps = None if noise is None else noise[i]
        if layer.top:
            out.append(_top_layer(layer, prior, features, eps, top, temperature))
        else:
            p_mean, p_log_var = layer.prior(state)
            if features is not None:
                q_mean, q_log_var = layer.posterior(features[i], state)
                out.append(gaussian_layer(q_mean, q_log_var, eps, p_mean, p_log_var))
            else:
                scale = temperature * ops.exp(0.5 * p_log_var)
                z = p_mean if eps is None else p_mean + scale * eps
                out.append(point(z))
        if not layer.bottom:
            state = layer.next_state(state, out[-1].z)
    out.reverse()
    z1 = out[0].z
    return (z1 if state is None else ops.concatenate([state, z1], axis=-1)), out


def _top_layer(layer, prior, features, eps, top, temperature):
    if top is not None:
        return point(top)
    if features is None:
        return point(prior.sample(eps, temperature=temperature))
    q_mean, q_log_var = layer.posterior(features[-1], None)
    if eps is None:
        return point(q_mean, q_mean)
    scale = ops.exp(0.5 * q_log_var)
    z = q_mean + scale * eps
    log_q = ops.sum(priors.gaussian_log_prob(z, q_mean, scale), axis=-1)
    log_p = prior.log_prob(z)
    dims = prior.gaussian_kl_per_dim(q_mean, q_log_var)
    if dims is not None:
        kl = ops.sum(dims, axis=-1)
    else:  # E_q[log q] in closed form, minus log p(z) of the draw
        kl = -ops.sum(priors.gaussian_entropy(scale), axis=-1) - log_p
    return LayerDraw(z, q_mean, log_q, log_p, kl, dims)


def split_noise(eps, latent_dims):
    """Flat noise (batch, noise_dim) as one (batch, d_l) per layer, bottom first."""
    edges = np.cumsum(latent_dims)[:-1].tolist()
    return ops.split(eps, edges, axis=-1) if edges else [eps]


def prior_noise(eps, latent_dims):
    """Noise for a prior sample (batch, sum of the lower widths + the prior's noise_dim) as
    one (batch, d_l) per lower layer, bottom first, then the top prior's."""
    lower = sum(latent_dims[:-1])
    parts = split_noise(eps[:, :lower], latent_dims[:-1]) if lower else []
    return [*parts, eps[:, lower:]]


def check_posterior(identifier):
    """The posterior part, which must be the diagonal Gaussian: each layer's q is one."""
    from keras_vae.models import posteriors

    posterior = posteriors.get(identifier)
    if type(posterior) is not posteriors.DiagonalGaussian:
        raise validation.invalid(
            "posterior",
            "'gaussian' for a HierarchicalVAE (each layer's q is a diagonal Gaussian, "
            "conditioned on the layers above)",
            identifier,
        )
    return posterior


def bottom_up(encoder, num_layers, units, dtype=None):
    """The bottom-up encoder of `num_layers` layers from a default `networks.build` encoder:
    its hidden layer's output is h_1, each `Dense(units, relu)` on top gives the next h.

    Examples:

        >>> built = networks.build((28, 28, 1), 4)
        >>> [tuple(t.shape) for t in bottom_up(built["encoder"], 2, 32).outputs]
        [(None, 256), (None, 32)]
    """
    hidden = next(
        layer
        for layer in reversed(encoder.layers)
        if isinstance(layer, keras_layers.Dense) and layer.name.startswith("hidden")
    )
    features = [hidden.output]
    for i in range(1, num_layers):
        features.append(
            keras_layers.Dense(units, activation="relu", dtype=dtype, name=f"features_{i + 1}")(
                features[-1]
            )
        )
    inputs = encoder.inputs[0] if len(encoder.inputs) == 1 else encoder.inputs
    return keras.Model(inputs, features if num_layers > 1 else features[0], name="encoder")


def inspect_bottom_up(encoder, input_shape, num_layers):
    """(data shape, the width of each h) of a bottom-up encoder, or the package's error."""
    network_checks.check_network("encoder", encoder)
    data_shape = network_checks.encoder_input_shape(encoder, input_shape)
    outputs = encoder(np.zeros((2, *data_shape), np.float32), training=False)
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    shapes = [tuple(t.shape) for t in outputs]
    if len(shapes) != num_layers or any(len(s) != 2 for s in shapes):
        raise validation.invalid(
            "latent_dims",
            f"one entry per feature of the encoder: it gives {len(shapes)} of shapes "
            f"{[(None, *s[1:]) for s in shapes]}, one (batch, width) per layer, bottom first",
            validation.Described(f"{num_layers} layers"),
        )
    return data_shape, [s[1] for s in shapes]


def gaussian_layer(q_mean, q_log_var, eps, p_mean, p_log_var):
    """(z, log q, log p, KL, KL per dim) of a layer with Gaussian q and p; z at q's mean
    without noise."""
    if eps is None:
        return point(q_mean, q_mean - p_mean)
    q_scale, p_scale = ops.exp(0.5 * q_log_var), ops.exp(0.5 * p_log_var)
    z = q_mean + q_scale * eps
    log_q = ops.sum(priors.gaussian_log_prob(z, q_mean, q_scale), axis=-1)
    log_p = ops.sum(priors.gaussian_log_prob(z, p_mean, p_scale), axis=-1)
    dims = gaussian_kl(q_mean, q_log_var, p_mean, p_log_var)
    return LayerDraw(z, q_mean - p_mean, log_q, log_p, ops.sum(dims, axis=-1), dims)


def gaussian_kl(q_mean, q_log_var, p_mean, p_log_var):
    """KL(N(q_mean, e^q_log_var) || N(p_mean, e^p_log_var)) of each value, float32.

    Examples:

        >>> float(gaussian_kl(np.float32(1.0), np.float32(0.0), np.float32(0.0), np.float32(0.0)))
        0.5
    """
    return 0.5 * (
        p_log_var
        - q_log_var
        + ops.exp(q_log_var - p_log_var)
        + ops.square(q_mean - p_mean) * ops.exp(-p_log_var)
        - 1.0
    )
