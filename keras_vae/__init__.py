"""keras-vae: variational autoencoders as first-class Keras 3 / TensorFlow models.

Public API:

    keras_vae.VAE               the model: your encoder and decoder (or the defaults) + a likelihood
    keras_vae.ConditionalVAE    + class labels and a classifier q(y|x): M2, for few labels or all
    keras_vae.Sampling          the reparameterisation layer
    keras_vae.ClampLogVariance  bounds log sigma^2 in an encoder head
    keras_vae.networks          conv_encoder/conv_decoder (images), mlp_encoder/mlp_decoder (vectors)
    keras_vae.likelihoods       p(x|z): Bernoulli, Gaussian, discretized logistic
    keras_vae.objectives        KL, free bits, KL schedules, the IWAE bound
    keras_vae.flows             inverse autoregressive flows: VAE(posterior="iaf")
    keras_vae.optimizers        Adam with a constant or cosine-decayed learning rate
    keras_vae.presets           named model + training recipes, for VAE.from_preset
    keras_vae.data              tfds / arrays / npz / folders / built-in "shapes" -> tf.data
    keras_vae.training          a whole run into a run directory: TrainConfig, train, distribute
    keras_vae.visualization     picture callbacks, plotting, latent-space tools
    keras_vae.evaluate          importance-sampled log-likelihood, ELBO, bits/dim, active units
    keras_vae.export            SavedModel (TF Serving layout) and TFLite, checked against Keras
"""

import importlib
import os
import sys

from keras_vae import _compat

#: Each public name: "module" or "module:attribute".
_PUBLIC = {
    "VAE": "keras_vae.models:VAE", "ConditionalVAE": "keras_vae.models:ConditionalVAE",
    "Sampling": "keras_vae.models:Sampling",
    "ClampLogVariance": "keras_vae.models:ClampLogVariance",
    "networks": "keras_vae.models.networks", "likelihoods": "keras_vae.models.likelihoods",
    "objectives": "keras_vae.models.objectives", "flows": "keras_vae.models.flows",
    "optimizers": "keras_vae.models.optimizers",
    "presets": "keras_vae.models.presets", "data": "keras_vae.data",
    "training": "keras_vae.training", "visualization": "keras_vae.visualization",
    "evaluate": "keras_vae.evaluate", "export": "keras_vae.export",
}

__version__ = "0.2.0"
__all__ = list(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        module, _, attribute = _PUBLIC[name].partition(":")
        module = importlib.import_module(module)
        return getattr(module, attribute) if attribute else module
    return _compat.moved(name)


# The `keras-vae` command loads what it needs when it needs it, so that `--help` does not
# wait for TensorFlow. Any other import loads everything now: `keras.models.load_model`
# then finds our registered classes after a bare `import keras_vae`.
if os.path.basename(sys.argv[0] if sys.argv else "") != "keras-vae" and sys.argv[:1] != ["-m"]:
    globals().update({name: __getattr__(name) for name in __all__})
    _compat.alias_old_paths()
