"""keras-vae: variational autoencoders as first-class Keras 3 / TensorFlow models.

Public API:

    keras_vae.VAE               the model: your encoder and decoder (or the defaults) + a likelihood
    keras_vae.Sampling          the reparameterisation layer
    keras_vae.ClampLogVariance  bounds log sigma^2 in an encoder head
    keras_vae.networks          conv_encoder/conv_decoder (images), mlp_encoder/mlp_decoder (vectors)
    keras_vae.likelihoods       p(x|z): Bernoulli, Gaussian, discretized logistic
    keras_vae.objectives        KL, free bits, KL schedules, the IWAE bound
    keras_vae.optimizers        Adam with a constant or cosine-decayed learning rate
    keras_vae.presets           named model + training recipes, for VAE.from_preset
    keras_vae.data              tfds / arrays / npz / folders / built-in "shapes" -> tf.data
    keras_vae.training          a whole run into a run directory: TrainConfig, train, distribute
    keras_vae.visualization     picture callbacks, plotting, latent-space tools
    keras_vae.evaluate          importance-sampled log-likelihood, ELBO, bits/dim, active units
    keras_vae.export            SavedModel (TF Serving layout) and TFLite, checked against Keras
"""

from keras_vae import _compat, data, evaluate, export, training, visualization
from keras_vae.models import (
    VAE, ClampLogVariance, Sampling, likelihoods, networks, objectives, optimizers, presets,
)

__version__ = "0.2.0"

__all__ = [
    "VAE", "Sampling", "ClampLogVariance", "networks", "likelihoods", "objectives", "optimizers",
    "presets", "data", "training", "visualization", "evaluate", "export",
]


def __getattr__(name):  # old module paths, with a warning naming the new place
    return _compat.moved(name)


_compat.alias_old_paths()
