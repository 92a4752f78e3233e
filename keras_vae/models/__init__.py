"""The models: `VAE` holds an encoder, a decoder and a likelihood (and, for a flow posterior,
an inverse autoregressive flow); `ConditionalVAE` adds labels and a classifier (M2); the rest
are their parts.

Nothing here imports data, training, visualization or the CLI.
"""

from keras_vae.models import flows, likelihoods, networks, objectives, optimizers, presets
from keras_vae.models.layers import ClampLogVariance, Sampling
from keras_vae.models.conditional import ConditionalVAE
from keras_vae.models.vae import VAE

__all__ = [
    "VAE", "ConditionalVAE", "Sampling", "ClampLogVariance",
    "flows", "likelihoods", "networks", "objectives", "optimizers", "presets",
]
