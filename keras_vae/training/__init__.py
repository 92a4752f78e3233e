"""Training runs: one `TrainConfig` in, a run directory out (the engine of `keras-vae train`).

config = keras_vae.training.config_for("runs/mnist", preset="mnist", epochs=5)
result = keras_vae.training.train(config)
"""

from keras_vae.training import callbacks, config, distribute, run, rundir
from keras_vae.training.config import PRECISIONS, TrainConfig, config_for
from keras_vae.training.run import ExportFailed, TrainingDiverged, build_model, train

__all__ = [
    "train",
    "build_model",
    "TrainingDiverged",
    "ExportFailed",
    "TrainConfig",
    "config_for",
    "PRECISIONS",
    "callbacks",
    "distribute",
    "rundir",
    "run",
    "config",
]
