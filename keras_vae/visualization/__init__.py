"""Looking inside a VAE: picture callbacks for `fit`, figures for notebooks, latent-space tools.

callbacks = keras_vae.visualization.default_callbacks(val_images, image_dir="run/images")
grid = keras_vae.visualization.plotting.manifold(model)
"""

from keras_vae.visualization import latent, plotting
from keras_vae.visualization.callbacks import (
    Analogies,
    ClassSamples,
    ImageCallback,
    Interpolation,
    LatentManifold,
    LatentScatter,
    LatentTraversal,
    PriorSamples,
    ReconstructionGrid,
    default_callbacks,
)

__all__ = [
    "ImageCallback",
    "ReconstructionGrid",
    "PriorSamples",
    "LatentManifold",
    "LatentScatter",
    "Interpolation",
    "LatentTraversal",
    "ClassSamples",
    "Analogies",
    "default_callbacks",
    "plotting",
    "latent",
]
