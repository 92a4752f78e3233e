"""The models: the interface every family implements (`base`), the families (`VAE`,
`ConditionalVAE`, `HierarchicalVAE`), and the parts they are made of (likelihoods,
posteriors, priors, objectives) with the networks and recipes that build them.

Every module of this folder is imported here, so that the classes it registers with Keras
load with `keras.models.load_model(..., safe_mode=True)` after `import keras_vae`, and a
new family or part is one new file. Nothing here imports data, training, visualization or
the CLI.
"""

import importlib
import pkgutil

from keras_vae.models import (
    likelihoods,
    networks,
    objectives,
    optimizers,
    posteriors,
    presets,
    priors,
    recipes,
)
from keras_vae.models.base import LatentVariableModel
from keras_vae.models.conditional import ConditionalVAE
from keras_vae.models.hierarchical import HierarchicalVAE
from keras_vae.models.layers import ClampLogVariance, Noise, Sampling
from keras_vae.models.vae import VAE

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "LatentVariableModel",
    "VAE",
    "ConditionalVAE",
    "HierarchicalVAE",
    "Sampling",
    "Noise",
    "ClampLogVariance",
    "likelihoods",
    "posteriors",
    "priors",
    "objectives",
    "networks",
    "optimizers",
    "presets",
    "recipes",
]
