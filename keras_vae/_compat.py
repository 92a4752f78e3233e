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


#: Names that left a module in 0.2 -> what to use now.
RENAMED = {
    "keras_vae.models.networks": {
        "build_encoder": "keras_vae.networks.conv_encoder (or mlp_encoder)",
        "build_decoder": "keras_vae.networks.conv_decoder (or mlp_decoder)",
        "check_decoder_filters": "keras_vae.networks.conv_decoder, which checks its filters",
    },
    "keras_vae.training.callbacks": {
        "FiniteBackupAndRestore": "keras_vae.training.callbacks.RunBackup",
        "HistoryCSV": "keras_vae.training.callbacks.RunBackup(history_path=...)",
    },
    "keras_vae.validation": {
        "check_image_array": "keras_vae.validation.check_array",
        "check_image_shape": "keras_vae.validation.check_batch_shape",
        "check_image_dtype": "keras_vae.validation.check_float_dtype",
        "check_input_shape": "keras_vae.networks.check_conv_shape",
    },
}


def renamed(module):
    """A module `__getattr__` that names the replacement of a name `module` had before 0.2."""

    def __getattr__(name):
        if name in RENAMED[module]:
            raise AttributeError(f"{module}.{name} was removed in 0.2: use {RENAMED[module][name]}.")
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__


def moved(name):
    """The module an old attribute `keras_vae.<name>` names now, with a FutureWarning."""
    if name not in MOVED:
        raise AttributeError(f"module 'keras_vae' has no attribute {name!r}")
    warnings.warn(f"keras_vae.{name} has moved to {MOVED[name]}; import it from there.",
                  FutureWarning, stacklevel=3)  # fmt: skip
    return importlib.import_module(MOVED[name])


def alias_old_paths():
    """Makes `import keras_vae.<old>` find the module at its new place."""
    for old, new in {**MOVED, **ALIASES}.items():
        sys.modules.setdefault(f"keras_vae.{old}", importlib.import_module(new))
