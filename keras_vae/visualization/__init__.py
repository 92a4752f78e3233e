"""Looking inside a VAE: picture callbacks for `fit`, figures for notebooks, latent-space tools.

callbacks = keras_vae.visualization.default_callbacks(val_images, image_dir="run/images")
grid = keras_vae.visualization.plotting.manifold(model)
"""

from keras_vae.visualization import latent, plotting, projector
from keras_vae.visualization.animation import TraversalAnimation
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
from keras_vae.visualization.projector import LatentProjector, write_projector

__all__ = [
    "ImageCallback",
    "ReconstructionGrid",
    "PriorSamples",
    "LatentManifold",
    "LatentScatter",
    "Interpolation",
    "LatentTraversal",
    "TraversalAnimation",
    "ClassSamples",
    "Analogies",
    "default_callbacks",
    "LatentProjector",
    "write_projector",
    "plotting",
    "projector",
    "latent",
]
