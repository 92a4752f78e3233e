"""Inverse autoregressive flows (Kingma et al. 2016): a posterior q(z|x) that can bend.

z_0 ~ N(mu, diag(sigma^2)) from the encoder, then T steps

    [m_t, s_t] = MADE_t(z_{t-1}, h),   sigma_t = sigmoid(s_t),
    z_t = sigma_t * z_{t-1} + (1 - sigma_t) * m_t,

where MADE_t is autoregressive (output d sees z_<d only) and h is a context vector the
encoder emits. Each step's Jacobian is triangular with diagonal sigma_t, so
log q(z_T|x) = log q(z_0|x) - sum_t sum_d log sigma_t,d, and sampling is one pass. The
order of z is reversed between steps.

The steps are TFP bijectors (`tfb.Invert(tfb.MaskedAutoregressiveFlow)`, `tfb.Permute`,
`tfb.Chain`); the MADE networks are Keras 3 layers, because TFP's
`tfb.AutoregressiveNetwork` is a tf_keras layer whose weights a Keras 3 model does not
track (so `fit` would not train them, nor `save` keep them).
"""

import functools

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from keras_vae import validation

tfb = tfp.bijectors

#: The posteriors `VAE(posterior=...)` offers.
POSTERIORS = ("gaussian", "iaf")
#: `VAE`'s flow arguments when `posterior="iaf"` and they are not given.
FLOW_DEFAULTS = dict(flow_steps=2, flow_units=(64, 64))
# sigmoid(2) = 0.88: each step starts close to the identity (Kingma et al. 2016, Sec. 4).
_GATE_BIAS = 2.0


def autoregressive_masks(event_size, hidden_units):
    """MADE's masks (Germain et al. 2015): one (fan_in, fan_out) 0/1 array per layer.

    Inputs have degrees 1..D, hidden units degrees cycling through 1..D-1, and output d
    (degree d) sees only inputs of degree < d: the output layer's mask is strict.
    """
    degrees = [np.arange(1, event_size + 1)]
    for units in hidden_units:
        degrees.append(np.arange(units) % max(event_size - 1, 1) + 1)
    masks = [(later[None, :] >= earlier[:, None]).astype("float32")
             for earlier, later in zip(degrees[:-1], degrees[1:])]  # fmt: skip
    if event_size == 1:  # no z_<1: the hidden units see no input, only the context
        masks = [np.zeros_like(m) for m in masks]
    output = np.arange(1, event_size + 1)
    masks.append((output[None, :] > degrees[-1][:, None]).astype("float32"))
    return masks


@keras.saving.register_keras_serializable(package="keras_vae")
class AutoregressiveNetwork(keras.layers.Layer):
    """MADE with a context: z (..., D) and h (..., H) -> (m, s), each (..., D).

    Output d of m and s depends on z_1..z_{d-1} (and on all of h) only. h enters the
    first hidden layer through its own unmasked kernel. The output kernel starts at zero
    and s's bias at 2, so a flow step starts as z -> 0.88 z.

    Args:
        hidden_units: widths of the hidden ReLU layers (at least one).

    Call arguments:
        z: float tensor (..., D).
        context: float tensor (..., H) that broadcasts against z's leading axes, or None.

    Returns:
        (m, s), float tensors of z's shape.

    Example:

    >>> m, s = AutoregressiveNetwork((8,))(tf.zeros([2, 3]), tf.zeros([2, 4]))
    >>> m.shape
    TensorShape([2, 3])
    """

    def __init__(self, hidden_units=(64, 64), **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = validation.check_widths("flow_units", hidden_units)

    def build(self, z_shape, context_shape=None):
        event_size = int(z_shape[-1])
        widths = [event_size, *self.hidden_units, 2 * event_size]
        masks = autoregressive_masks(event_size, self.hidden_units)
        masks[-1] = np.concatenate([masks[-1], masks[-1]], axis=1)  # for m, then s
        self.masks = [tf.constant(m) for m in masks]
        self.kernels, self.biases = [], []
        for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
            last = i == len(widths) - 2
            self.kernels.append(self.add_weight(
                shape=(fan_in, fan_out), name=f"kernel_{i}",
                initializer="zeros" if last else "glorot_uniform",
            ))  # fmt: skip
            bias = np.r_[np.zeros(event_size), np.full(event_size, _GATE_BIAS)] if last else None
            self.biases.append(self.add_weight(
                shape=(fan_out,), name=f"bias_{i}",
                initializer=keras.initializers.Constant(bias) if last else "zeros",
            ))  # fmt: skip
        self.context_kernel = None
        if context_shape is not None:
            self.context_kernel = self.add_weight(
                shape=(int(context_shape[-1]), widths[1]), name="context_kernel",
                initializer="glorot_uniform",
            )  # fmt: skip

    def call(self, z, context=None):
        x = z
        for i, (kernel, bias, mask) in enumerate(zip(self.kernels, self.biases, self.masks)):
            x = tf.matmul(x, kernel * mask) + bias
            if i == 0 and context is not None:  # (..., H) broadcasts over leading sample axes
                x += tf.matmul(context, self.context_kernel)
            if i < len(self.kernels) - 1:
                x = tf.nn.relu(x)
        m, s = tf.split(x, 2, axis=-1)
        return m, s

    def compute_output_shape(self, z_shape, context_shape=None):
        return tuple(z_shape), tuple(z_shape)

    def get_config(self):
        return {**super().get_config(), "hidden_units": list(self.hidden_units)}


@keras.saving.register_keras_serializable(package="keras_vae")
class InverseAutoregressiveFlow(keras.layers.Layer):
    """T gated IAF steps, z_0 -> z_T, with log |det dz_T/dz_0| (see the module's docstring).

    Runs in float32 whatever the model's dtype policy. With `steps=0` it is the
    identity, with a log-determinant of 0.

    Args:
        steps: the number of flow steps T, an int >= 0.
        hidden_units: the hidden widths of each step's MADE network.

    Call arguments:
        z: float tensor (..., D), draws of the base distribution q(z_0|x).
        context: the encoder's context h (..., H), or None.

    Returns:
        (z_T of z's shape, log-determinant of shape z.shape[:-1]).

    Example:

    >>> flow = InverseAutoregressiveFlow(steps=2, hidden_units=(8,))
    >>> z, log_det = flow(tf.zeros([5, 3]))
    >>> log_det.shape
    TensorShape([5])
    """

    def __init__(self, steps=2, hidden_units=(64, 64), **kwargs):
        kwargs["dtype"] = "float32"  # the density must stay exact under mixed precision
        super().__init__(**kwargs)
        self.steps = validation.check_int("flow_steps", steps, minimum=0)
        self.hidden_units = validation.check_widths("flow_units", hidden_units)
        self.networks = [
            AutoregressiveNetwork(self.hidden_units, dtype="float32", name=f"made_{t}")
            for t in range(self.steps)
        ]  # fmt: skip

    def build(self, z_shape, context_shape=None):
        for network in self.networks:
            network.build(z_shape, context_shape)

    def bijector(self, context=None):
        """The flow given a context h, as a TFP bijector (`tfb.Identity` for 0 steps)."""
        if not self.networks:
            return tfb.Identity()
        steps = []
        for t, network in enumerate(self.networks):
            if t:  # reverse the order, so each dim is early in some step
                steps.append(tfb.Permute(permutation=_reversed_order(network)))
            gate = functools.partial(_gate, network, context)
            steps.append(tfb.Invert(tfb.MaskedAutoregressiveFlow(bijector_fn=gate)))
        return tfb.Chain(steps[::-1])  # a Chain applies its last bijector first

    def call(self, z, context=None):
        z = tf.cast(z, tf.float32)
        context = None if context is None else tf.cast(context, tf.float32)
        if not self.networks:
            return z, tf.zeros(tf.shape(z)[:-1], tf.float32)
        bijector = self.bijector(context)
        return bijector.forward(z), bijector.forward_log_det_jacobian(z, event_ndims=1)

    def compute_output_shape(self, z_shape, context_shape=None):
        return tuple(z_shape), tuple(z_shape[:-1])

    def get_config(self):
        return {**super().get_config(), "steps": self.steps, "hidden_units": list(self.hidden_units)}


def _reversed_order(network):
    return tf.range(network.masks[0].shape[0] - 1, -1, -1)


def _gate(network, context, z):
    """One step as MAF's `bijector_fn`: Invert(MAF) runs its inverse, so this returns the
    inverse of z -> sigma * z + (1 - sigma) * m, whose log-det is sum(log sigma)."""
    m, s = network(z, context)
    shift = (1.0 - tf.sigmoid(s)) * m
    step = tfb.Chain([tfb.Shift(shift), tfb.Scale(log_scale=tf.math.log_sigmoid(s))])
    return tfb.Invert(step)
