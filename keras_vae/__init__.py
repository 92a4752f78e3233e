"""keras-vae: variational autoencoders as first-class Keras 3 / TensorFlow models.

Public API:

    keras_vae.VAE                 the model (train with model.fit)
    keras_vae.Sampling            the reparameterisation layer
    keras_vae.data                tfds / arrays / npz / folders / built-in "shapes" -> tf.data
    keras_vae.likelihoods         p(x|z) families: Bernoulli, Gaussian, discretized logistic
    keras_vae.objectives          KL, free bits, KL warm-up
    keras_vae.training            run a whole training job into a run directory (the CLI's engine)
    keras_vae.distribute          tf.distribute strategy selection (mirrored, multi-worker, ...)
    keras_vae.export              SavedModel (TF Serving layout) and TFLite, checked against Keras
    keras_vae.evaluate            importance-sampled log-likelihood, ELBO, bits/dim, active units
    keras_vae.optimizers          Adam with a constant or cosine-decayed learning rate
    keras_vae.presets             named, complete model + training configurations
    keras_vae.visualize           Keras callbacks drawing reconstructions, samples, manifolds, ...
    keras_vae.plotting            the figures behind them, for notebooks
    keras_vae.latent              interpolation, attribute vectors, nearest neighbours
"""

import os

# TensorFlow's C++ start-up chatter (CUDA probes on CPU machines) is noise to our users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_vae import (  # noqa: E402
    data, distribute, evaluate, export, files, latent, likelihoods, objectives, optimizers,
    plotting, presets, training, visualize,
)
from keras_vae.layers import ClampLogVariance, Sampling  # noqa: E402
from keras_vae.model import VAE  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "VAE",
    "Sampling",
    "ClampLogVariance",
    "data",
    "distribute",
    "evaluate",
    "export",
    "likelihoods",
    "objectives",
    "optimizers",
    "presets",
    "training",
    "latent",
    "plotting",
    "visualize",
]
