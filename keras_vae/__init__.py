"""keras-vae: variational autoencoders as first-class Keras 3 models (TensorFlow, JAX, PyTorch).

Public API:

    keras_vae.VAE                  an encoder, a decoder and four parts: train with model.fit
    keras_vae.ConditionalVAE       + class labels and a classifier q(y|x): M2, for few labels or all
    keras_vae.HierarchicalVAE      stochastic layers z_L ... z_1 inferred top-down (ladder / NVAE)
    keras_vae.LatentVariableModel  the interface every model family implements
    keras_vae.Sampling             the reparameterised draw z = mu + sigma * eps, for your networks
    keras_vae.ClampLogVariance     bounds log sigma^2 in an encoder head
    keras_vae.likelihoods          p(x|z): Bernoulli, Gaussian, discretized logistic
    keras_vae.posteriors           q(z|x): a diagonal Gaussian, an inverse autoregressive flow
    keras_vae.priors               p(z): the standard normal, a learned mixture (prior="mixture")
    keras_vae.objectives           the ELBO (beta, free bits, KL schedules) and the IWAE bound
    keras_vae.networks             the default networks: conv for images, MLP otherwise
    keras_vae.optimizers           Adam with a constant or cosine-decayed learning rate
    keras_vae.presets              named recipes, for VAE.from_preset and keras-vae train --preset
    keras_vae.data                 tfds / arrays / npz / folders / built-in "shapes" -> tf.data
    keras_vae.training             a whole run into a run directory: TrainConfig, train, distribute
    keras_vae.visualization        picture callbacks, plotting, latent-space tools
    keras_vae.evaluate             importance-sampled log-likelihood, ELBO, bits/dim, active units
    keras_vae.export               SavedModel (TF Serving layout), LiteRT, ONNX; checked exports
    keras_vae.backend              the Keras backend, and what only TensorFlow has

Importing the package registers every model and part with Keras, so that
`keras.models.load_model(path, safe_mode=True)` needs no custom objects.
"""

from keras_vae import backend, data, evaluate, export, training, visualization
from keras_vae.models import (
    VAE,
    ClampLogVariance,
    ConditionalVAE,
    HierarchicalVAE,
    LatentVariableModel,
    Sampling,
    likelihoods,
    networks,
    objectives,
    optimizers,
    posteriors,
    presets,
    priors,
)

__version__ = "0.5.0"
__all__ = [
    "VAE",
    "ConditionalVAE",
    "HierarchicalVAE",
    "LatentVariableModel",
    "Sampling",
    "ClampLogVariance",
    "likelihoods",
    "posteriors",
    "priors",
    "objectives",
    "networks",
    "optimizers",
    "presets",
    "data",
    "training",
    "visualization",
    "evaluate",
    "export",
    "backend",
]
