"""The model: `VAE` holds an encoder, a decoder and a likelihood; the rest are its parts.

Nothing here imports data, training, visualization or the CLI.
"""

from keras_vae.models import likelihoods, networks, objectives, optimizers, presets
from keras_vae.models.layers import ClampLogVariance, Sampling
from keras_vae.models.vae import VAE

__all__ = [
    "VAE", "Sampling", "ClampLogVariance",
    "likelihoods", "networks", "objectives", "optimizers", "presets",
]
