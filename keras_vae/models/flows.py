"""The inverse autoregressive flow's pieces: MADE networks and the flow they make.

One IAF step (Kingma et al. 2016) is

    [m, s] = MADE(z, h),   sigma = sigmoid(s),   z <- sigma * z + (1 - sigma) * m,

where MADE is autoregressive (output d sees z_<d only) and h is a context vector the
encoder emits. Its Jacobian is triangular with diagonal sigma, so the log-determinant is
sum(log sigma) and sampling is one pass. The posterior built from these steps is
`keras_vae.models.posteriors.InverseAutoregressiveFlow`.

`flow` runs the steps in `keras.ops` (every backend). The MADE networks are Keras 3
layers, because TFP's `tfb.AutoregressiveNetwork` is a tf_keras layer whose weights a
Keras 3 model does not track (so `fit` would not train them, nor `save` keep them).
`bijector` gives the same flow as a TFP bijector, on TensorFlow only, for the TFP
distribution of `VAE.posterior_distribution` (whose `log_prob` of any z inverts it).
"""

import functools

import keras
import numpy as np
from keras import ops

from keras_vae import validation

# sigmoid(2) = 0.88: each step starts close to the identity (Kingma et al. 2016, Sec. 4).
_GATE_BIAS = 2.0


def autoregressive_masks(event_size, hidden_units):
    """MADE's masks (Germain et al. 2015): one (fan_in, fan_out) 0/1 array per layer.

    Inputs have degrees 1..D, hidden units degrees cycling through 1..D-1, and output d
    (degree d) sees only inputs of degree < d: the output layer's mask is strict.

    Examples:

        >>> [m.shape for m in autoregressive_masks(3, (4,))]
        [(3, 4), (4, 3)]
    """
    degrees = [np.arange(1, event_size + 1)]
    for units in hidden_units:
        degrees.append(np.arange(units) % max(event_size - 1, 1) + 1)
    masks = [
        (later[None, :] >= earlier[:, None]).astype("float32")
        for earlier, later in zip(degrees[:-1], degrees[1:])
    ]
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

    Examples:

        >>> m, s = AutoregressiveNetwork((8,))(np.zeros([2, 3]), np.zeros([2, 4]))
        >>> tuple(m.shape)
        (2, 3)
    """

    def __init__(self, hidden_units=(64, 64), **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = validation.check_widths("units", hidden_units)

    def build(self, z_shape, context_shape=None):
        event_size = int(z_shape[-1])
        widths = [event_size, *self.hidden_units, 2 * event_size]
        masks = autoregressive_masks(event_size, self.hidden_units)
        masks[-1] = np.concatenate([masks[-1], masks[-1]], axis=1)  # for m, then s
        self.masks = masks  # NumPy: a constant on every backend
        self.kernels, self.biases = [], []
        for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
            last = i == len(widths) - 2
            kernel_init = "zeros" if last else "glorot_uniform"
            kernel = self.add_weight(
                shape=(fan_in, fan_out), name=f"kernel_{i}", initializer=kernel_init
            )
            self.kernels.append(kernel)
            bias = np.r_[np.zeros(event_size), np.full(event_size, _GATE_BIAS)] if last else None
            bias_init = keras.initializers.Constant(bias) if last else "zeros"
            self.biases.append(
                self.add_weight(shape=(fan_out,), name=f"bias_{i}", initializer=bias_init)
            )
        self.context_kernel = None
        if context_shape is not None:
            self.context_kernel = self.add_weight(
                shape=(int(context_shape[-1]), widths[1]),
                name="context_kernel",
                initializer="glorot_uniform",
            )

    def call(self, z, context=None):
        x = z
        for i, (kernel, bias, mask) in enumerate(zip(self.kernels, self.biases, self.masks)):
            x = ops.matmul(x, kernel * ops.convert_to_tensor(mask, kernel.dtype)) + bias
            if i == 0 and context is not None:  # (..., H) broadcasts over leading sample axes
                x += ops.matmul(context, self.context_kernel)
            if i < len(self.kernels) - 1:
                x = ops.relu(x)
        m, s = ops.split(x, 2, axis=-1)
        return m, s

    def compute_output_shape(self, z_shape, context_shape=None):
        return tuple(z_shape), tuple(z_shape)

    def get_config(self):
        return {**super().get_config(), "hidden_units": list(self.hidden_units)}


def flow(networks, z0, context=None):
    """(z_T, log |det dz_T/dz_0| per row) of the flow of these MADE networks given a
    context h, for float32 draws z_0 (..., D). The order of z is reversed between steps,
    so each dim is early in some step.

    Each step is z <- sigma * z + (1 - sigma) * m with [m, s] = MADE(z, h) and
    sigma = exp(log_sigmoid(s)), which is how TFP's `Scale(log_scale=...)` rounds it, so
    this gives the values `bijector` gives.
    """
    log_det = ops.zeros(ops.shape(z0)[:-1], "float32")
    z = z0
    for t, network in enumerate(networks):
        if t:
            z = ops.flip(z, axis=-1)
        m, s = network(z, context)
        log_sigma = ops.log_sigmoid(s)
        z = z * ops.exp(log_sigma) + (1.0 - ops.sigmoid(s)) * m
        log_det = log_det + ops.sum(log_sigma, axis=-1)
    return z, log_det


def bijector(networks, context=None):
    """The flow z_0 -> z_T of these MADE networks given a context h, as a TFP bijector
    (`tfb.Identity` for none), on TensorFlow only. It computes what `flow` does, and can
    also invert it (one dimension at a time)."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    tfb = tfp.bijectors
    if not networks:
        return tfb.Identity()
    steps = []
    for t, network in enumerate(networks):
        if t:
            steps.append(tfb.Permute(permutation=tf.range(network.masks[0].shape[0] - 1, -1, -1)))
        gate = functools.partial(_gate, network, context)
        steps.append(tfb.Invert(tfb.MaskedAutoregressiveFlow(bijector_fn=gate)))
    return tfb.Chain(steps[::-1])  # a Chain applies its last bijector first


def _gate(network, context, z):
    """One step as MAF's `bijector_fn`: Invert(MAF) runs its inverse, so this returns the
    inverse of z -> sigma * z + (1 - sigma) * m, whose log-det is sum(log sigma)."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    tfb = tfp.bijectors
    m, s = network(z, context)
    shift = (1.0 - tf.sigmoid(s)) * m
    step = tfb.Chain([tfb.Shift(shift), tfb.Scale(log_scale=tf.math.log_sigmoid(s))])
    return tfb.Invert(step)
