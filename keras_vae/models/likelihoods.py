"""Observation models p(x|z): decoder outputs -> log-probabilities of one example.

Each likelihood is a small Keras layer, so that learned parameters (the Gaussian's
per-channel scale) are tracked, saved and restored with the model. The values of an
example (an image, a sequence, a vector) are independent given z: the event is every
non-batch axis, set when the layer is built on the decoder's output shape. The last
axis is the channel axis. Log-likelihoods are computed in float32, whatever the compute
dtype of the decoder, in `keras.ops` (every backend).
"""

import math

import keras
import numpy as np
from keras import ops

from keras_vae import validation
from keras_vae.models import parts

_PACKAGE = "keras_vae"
_MIN_SCALE = 1e-3


class Likelihood(keras.layers.Layer):
    """Base of the likelihoods: turns decoder parameters (batch, ..., channels) into p(x|z).

    Subclasses implement `elementwise_log_prob(params, x)` (the log-probability of each
    value, float32) and `mean(params)` (the mean, float32, the data's shape), and may
    override `log_prob_kind`. Extra leading axes before the batch (e.g. importance samples)
    are batch axes too.
    """

    #: The name `VAE(likelihood=...)` takes.
    alias = None
    #: Whether valid data for this likelihood must lie in [0, 1].
    requires_unit_interval = False
    #: Decoder output channels per data channel.
    params_per_channel = 1

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        #: Axes of one example; None until built: every axis of the parameters but the first.
        self.event_rank = None

    def build(self, input_shape):
        self.event_rank = len(input_shape) - 1

    def elementwise_log_prob(self, params, x):
        raise NotImplementedError

    def mean(self, params):
        raise NotImplementedError

    def log_prob(self, params, x):
        """log p(x|z) per example, float32, for decoder parameters and data of one shape."""
        values = self.elementwise_log_prob(params, ops.cast(x, "float32"))
        rank = self.event_rank or len(values.shape) - 1
        return ops.sum(values, axis=tuple(range(-rank, 0)))

    def log_prob_kind(self, x):
        """What `log_prob` is on data `x` (an array): "probability" (of discrete values),
        "density" (of [0, 1]-scaled 8-bit images, for the dequantized bits/dim), or None
        (neither: no bits/dim)."""
        return None

    def call(self, params):
        return self.mean(params)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Bernoulli(Likelihood):
    """Bernoulli values parameterised by logits, for binary data or grey levels in [0, 1].

    For grey levels in [0, 1] `log_prob` is the (unnormalised) cross-entropy, the
    usual choice for MNIST-like data.

    Examples:

        >>> lik = Bernoulli()
        >>> lik.build((None, 4, 4, 1))
        >>> tuple(lik.log_prob(np.zeros([2, 4, 4, 1]), np.ones([2, 4, 4, 1])).shape)
        (2,)
    """

    alias = "bernoulli"
    requires_unit_interval = True

    def elementwise_log_prob(self, params, x):
        # Minus the sigmoid cross-entropy, in its stable form (TFP's and TF's).
        logits = ops.cast(params, "float32")
        return -(ops.relu(logits) - logits * x + ops.log1p(ops.exp(-ops.abs(logits))))

    def mean(self, params):
        return ops.sigmoid(ops.cast(params, "float32"))

    def log_prob_kind(self, x):
        x = np.asarray(x)
        return "probability" if np.all((x == 0) | (x == 1)) else None


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Gaussian(Likelihood):
    """Gaussian values: the mean from the decoder, one scale per channel (last axis).

    Args:
        scale: fixed standard deviation. `None` learns one scale per channel, starting at
            `initial_scale`.
        initial_scale: starting value of the learned scale. Default: 1.0 for an unbounded
            mean (standardized features, signals: the data's own scale), 0.1 for a mean in
            [0, 1] (images, whose pixels vary by less).
        mean_activation: `"sigmoid"` squashes the mean into [0, 1] (images scaled to
            [0, 1]), `"linear"` leaves it unbounded (standardized features, signals).
            Default: sigmoid for images (H, W, C), linear for vectors and sequences.

    Examples:

        >>> lik = Gaussian()
        >>> lik.build((None, 30))
        >>> lik.mean_activation, lik.initial_scale
        ('linear', 1.0)
    """

    alias = "gaussian"
    MEAN_ACTIVATIONS = ("sigmoid", "linear")

    def __init__(self, scale=None, initial_scale=None, mean_activation=None, **kwargs):
        super().__init__(**kwargs)
        if scale is not None:
            scale = validation.check_float("scale", scale, positive=True)
        if initial_scale is not None:
            initial_scale = validation.check_float("initial_scale", initial_scale, positive=True)
        if mean_activation is not None:
            validation.check_choice("mean_activation", mean_activation, self.MEAN_ACTIVATIONS)
        self.scale, self.initial_scale, self.mean_activation = scale, initial_scale, mean_activation

    def build(self, input_shape):
        super().build(input_shape)
        if self.mean_activation is None:
            self.mean_activation = "sigmoid" if self.event_rank == 3 else "linear"
        if self.initial_scale is None:
            self.initial_scale = 0.1 if self.mean_activation == "sigmoid" else 1.0
        if self.scale is None:
            self.log_scale = self.add_weight(
                name="log_scale",
                shape=(input_shape[-1],),
                initializer=keras.initializers.Constant(math.log(self.initial_scale)),
                dtype="float32",
            )

    def standard_deviation(self):
        """The scale of each channel, float32."""
        if self.scale is not None:
            return ops.convert_to_tensor(self.scale, "float32")
        return ops.maximum(ops.exp(ops.cast(self.log_scale, "float32")), _MIN_SCALE)

    def elementwise_log_prob(self, params, x):
        scale = self.standard_deviation()
        z = (x - self.mean(params)) / scale
        return -0.5 * ops.square(z) - ops.log(scale) - 0.5 * math.log(2.0 * math.pi)

    def mean(self, params):
        params = ops.cast(params, "float32")
        return ops.sigmoid(params) if self.mean_activation == "sigmoid" else params

    def log_prob_kind(self, x):
        # A density: bits/dim by the dequantized 8-bit convention, for [0, 1]-scaled images.
        return "density" if self.event_rank == 3 and self.mean_activation == "sigmoid" else None

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "initial_scale": self.initial_scale,
            "mean_activation": self.mean_activation,
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class DiscretizedLogistic(Likelihood):
    """8-bit values: a logistic per value, quantized to the 256 levels (PixelCNN++, NVAE).

    Data are in [0, 1] as `level / 255`. The decoder gives two maps per channel:
    the mean (through a sigmoid, in [0, 1]) and the log-scale. Level k has the mass of
    the logistic between k - 1 and k (TFP's `QuantizedDistribution` of `ceil(X)`), and the
    tails go into the levels 0 and 255, so `log_prob` is a proper discrete
    log-probability: -log_prob / (D log 2) is bits/dim with no dequantization correction.
    """

    alias = "logistic"
    requires_unit_interval = True
    params_per_channel = 2

    def _parts(self, params):
        params = ops.cast(params, "float32")
        mean_logits, log_scale = ops.split(params, 2, axis=-1)
        return mean_logits, ops.maximum(ops.exp(log_scale), _MIN_SCALE)

    def elementwise_log_prob(self, params, x):
        mean_logits, scale = self._parts(params)
        # Y = ceil(X): shift by half a level so E[Y] is close to 255 * sigmoid(mean).
        loc, scale = 255.0 * ops.sigmoid(mean_logits) - 0.5, 255.0 * scale
        level = ops.round(255.0 * x)
        upper = (level - loc) / scale  # F(k) = sigmoid(upper)
        lower = upper - 1.0 / scale  # F(k - 1) = sigmoid(lower)
        # log(sigmoid(b) - sigmoid(a)) = -softplus(-b) - softplus(a) + log(1 - exp(a - b)),
        # stable for any a < b; level 0 keeps all mass below, level 255 all mass above.
        log_below = -ops.softplus(-upper)
        log_above = -ops.softplus(lower)
        log_gap = ops.log(-ops.expm1(-1.0 / scale))
        inner = log_below - ops.softplus(lower) + log_gap
        return ops.where(level <= 0.0, log_below, ops.where(level >= 255.0, log_above, inner))

    def mean(self, params):
        return ops.sigmoid(self._parts(params)[0])

    def log_prob_kind(self, x):
        return "probability"  # of the 256 levels of each value


def get(identifier, **kwargs):
    """A likelihood from its alias (`"bernoulli"`, `"gaussian"`, `"logistic"`), config or itself.

    Examples:

        >>> get("gaussian", scale=0.5).scale
        0.5
    """
    return parts.get(identifier, Likelihood, "likelihood", **kwargs)


def default_for(data_shape):
    """The likelihood a model of `data_shape` gets when given none: Bernoulli for grey images
    (H, W, 1), Gaussian otherwise (colour images, sequences, vectors).

    Examples:

        >>> default_for((28, 28, 1)), default_for((30,))
        ('bernoulli', 'gaussian')
    """
    return "bernoulli" if len(data_shape) == 3 and data_shape[-1] == 1 else "gaussian"
