"""Observation models p(x|z): decoder outputs -> log-probabilities of one example.

Each likelihood is a small Keras layer, so that learned parameters (the Gaussian's
per-channel scale) are tracked, saved and restored with the model. The values of an
example (an image, a sequence, a vector) are independent given z: the event is every
non-batch axis, set when the layer is built on the decoder's output shape. The last
axis is the channel axis. Log-likelihoods are computed in float32, whatever the compute
dtype of the decoder.
"""

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from keras_vae import validation
from keras_vae.models import parts

tfd = tfp.distributions

_PACKAGE = "keras_vae"
_MIN_SCALE = 1e-3


class Likelihood(keras.layers.Layer):
    """Base of the likelihoods: turns decoder parameters (batch, ..., channels) into p(x|z).

    Subclasses implement `distribution(params)` (a `tfd.Distribution` whose event is one
    whole example) and `mean(params)` (its mean, float32, the data's shape), and may
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

    def independent(self, distribution):
        """`distribution` (one value per element) as one event over an example's axes."""
        rank = self.event_rank or distribution.batch_shape.rank - 1
        return tfd.Independent(distribution, reinterpreted_batch_ndims=rank)

    def distribution(self, params):
        raise NotImplementedError

    def mean(self, params):
        raise NotImplementedError

    def log_prob(self, params, x):
        """log p(x|z) per example, float32, for decoder parameters and data of one shape."""
        return self.distribution(params).log_prob(tf.cast(x, tf.float32))

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
        >>> lik.log_prob(tf.zeros([2, 4, 4, 1]), tf.ones([2, 4, 4, 1])).shape
        TensorShape([2])
    """

    alias = "bernoulli"
    requires_unit_interval = True

    def distribution(self, params):
        logits = tf.cast(params, tf.float32)
        # dtype=float32: the default int32 would truncate grey levels in log_prob.
        return self.independent(tfd.Bernoulli(logits=logits, dtype=tf.float32))

    def mean(self, params):
        return tf.sigmoid(tf.cast(params, tf.float32))

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
            return tf.constant(self.scale, tf.float32)
        return tf.maximum(tf.exp(tf.cast(self.log_scale, tf.float32)), _MIN_SCALE)

    def distribution(self, params):
        return self.independent(tfd.Normal(loc=self.mean(params), scale=self.standard_deviation()))

    def mean(self, params):
        params = tf.cast(params, tf.float32)
        return tf.sigmoid(params) if self.mean_activation == "sigmoid" else params

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
    the mean (through a sigmoid, in [0, 1]) and the log-scale. Built on
    `tfd.QuantizedDistribution`, which puts the tail mass into the levels 0 and 255,
    so `log_prob` is a proper discrete log-probability: -log_prob / (D log 2) is
    bits/dim with no dequantization correction.
    """

    alias = "logistic"
    requires_unit_interval = True
    params_per_channel = 2

    def _parts(self, params):
        params = tf.cast(params, tf.float32)
        mean_logits, log_scale = tf.split(params, 2, axis=-1)
        return mean_logits, tf.maximum(tf.exp(log_scale), _MIN_SCALE)

    def distribution(self, params):
        mean_logits, scale = self._parts(params)
        # Y = ceil(X): shift by half a level so E[Y] is close to 255 * sigmoid(mean).
        logistic = tfd.Logistic(loc=255.0 * tf.sigmoid(mean_logits) - 0.5, scale=255.0 * scale)
        pixels = tfd.QuantizedDistribution(logistic, low=0.0, high=255.0)
        # Invert(Scale(255)), not Scale(1/255): its inverse maps k/255 back to exactly k.
        to_unit = tfp.bijectors.Invert(tfp.bijectors.Scale(255.0))
        return self.independent(tfd.TransformedDistribution(pixels, to_unit))

    def mean(self, params):
        return tf.sigmoid(self._parts(params)[0])

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
