"""Training runs: one `TrainConfig` in, a run directory out (the engine of `keras-vae train`).

    config = keras_vae.training.config_for("runs/mnist", preset="mnist", epochs=5)
    result = keras_vae.training.train(config)

Names load on first use, so that the command line can read `TrainConfig` without TensorFlow.
"""

import importlib

_PUBLIC = {
    "train": "run:train", "build_model": "run:build_model",
    "TrainingDiverged": "run:TrainingDiverged", "ExportFailed": "run:ExportFailed",
    "TrainConfig": "config:TrainConfig", "config_for": "config:config_for",
    "PRECISIONS": "config:PRECISIONS",
    "callbacks": "callbacks", "distribute": "distribute", "rundir": "rundir", "run": "run",
    "config": "config",
}
__all__ = list(_PUBLIC)


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'keras_vae.training' has no attribute {name!r}")
    module, _, attribute = _PUBLIC[name].partition(":")
    module = importlib.import_module(f"keras_vae.training.{module}")
    return getattr(module, attribute) if attribute else module
