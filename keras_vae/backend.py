"""Which Keras backend runs the models, and the features that only TensorFlow has.

The models' math is written in `keras.ops`, so `fit`, `evaluate`, `predict`, `encode`,
`decode`, `sample` and `evaluate.log_likelihood` run on TensorFlow, JAX and PyTorch. Four
features are TensorFlow's: `tf.distribute` strategies, the SavedModel and LiteRT exports,
and TFP distribution objects (`VAE.posterior_distribution`). On another backend each
raises `require_tensorflow`'s error, which names the backend and the way out.
"""

import keras

from keras_vae import validation

#: The backends the package runs on.
BACKENDS = ("tensorflow", "jax", "torch")


def name():
    """The Keras backend of this process (`KERAS_BACKEND`, read by Keras at import)."""
    return keras.backend.backend()


def is_tensorflow():
    return name() == "tensorflow"


def require_tensorflow(feature, way_out):
    """Raises unless the backend is TensorFlow, naming `feature`, the backend and `way_out`.

    Examples:

        >>> require_tensorflow("export.saved_model", "save the model as .keras, ...")
    """
    if not is_tensorflow():
        raise validation.invalid(
            "KERAS_BACKEND",
            f"'tensorflow' for {feature}, a TensorFlow feature; {way_out}",
            name(),
        )


#: The way out for exports on another backend.
EXPORT_WAY_OUT = (
    "save the model with model.save('model.keras') and export it from a process with "
    "KERAS_BACKEND=tensorflow (keras.saving.load_model reads files of every backend)"
)


def inference_function(model, function):
    """`function(*arrays) -> tuple of tensors`, reading `model`'s weights, compiled the
    way each backend compiles inference (`tf.function`, `jax.jit` over the weights'
    values, PyTorch without autograd); returns NumPy arrays. The shapes of the arrays
    should repeat, as each new shape compiles anew."""
    import numpy as np

    if name() == "tensorflow":
        import tensorflow as tf

        compiled = tf.function(function)  # static shapes: the draws per chunk are fixed
        return lambda *arrays: tuple(t.numpy() for t in compiled(*arrays))
    if name() == "jax":
        import jax

        variables = model.variables

        def pure(values, *arrays):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return function(*arrays)

        jitted = jax.jit(pure)
        return lambda *arrays: tuple(
            np.asarray(t) for t in jitted([v.value for v in variables], *arrays)
        )
    import torch

    def run(*arrays):
        with torch.no_grad():
            return tuple(keras.ops.convert_to_numpy(t) for t in function(*arrays))

    return run


def without_gradients(method):
    """Runs `method` without recording gradients on PyTorch (as `predict` does), so that its
    results convert to NumPy; a no-op elsewhere. For the models' inference methods."""
    import functools

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        if name() != "torch":
            return method(*args, **kwargs)
        import torch

        with torch.no_grad():
            return method(*args, **kwargs)

    return wrapper
