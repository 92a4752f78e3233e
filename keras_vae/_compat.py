"""Module paths from before the package had folders: they keep working, and say where to go.

`import keras_vae.visualize` and `from keras_vae.visualize import ReconstructionGrid` find
the module at its new place; `keras_vae.visualize` as an attribute also warns.
"""

import importlib
import sys
import warnings

#: Old path under keras_vae -> the module it is now.
MOVED = {
    "model": "keras_vae.models.vae",
    "layers": "keras_vae.models.layers",
    "checks": "keras_vae.validation",
    "shapes": "keras_vae.data.shapes",
    "callbacks": "keras_vae.training.callbacks",
    "distribute": "keras_vae.training.distribute",
    "visualize": "keras_vae.visualization.callbacks",
    "plotting": "keras_vae.visualization.plotting",
    "latent": "keras_vae.visualization.latent",
}
#: Public short names (`keras_vae.presets`), importable under their short path too.
ALIASES = {name: f"keras_vae.models.{name}" for name in
           ("networks", "likelihoods", "objectives", "optimizers", "presets")}  # fmt: skip


def __getattr__(name):
    if name in MOVED:
        warnings.warn(f"keras_vae.{name} has moved to {MOVED[name]}; import it from there.",
                      FutureWarning, stacklevel=2)  # fmt: skip
        return importlib.import_module(MOVED[name])
    raise AttributeError(f"module 'keras_vae' has no attribute {name!r}")


for _old, _new in {**MOVED, **ALIASES}.items():
    sys.modules.setdefault(f"keras_vae.{_old}", importlib.import_module(_new))
