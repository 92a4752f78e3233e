"""The 0.2 run directory in `tests/fixtures/v0_2/run`, and the settings it was trained with."""

import os
import shutil

from keras_vae import training

DIRECTORY = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "v0_2", "run")


def copy_to(parent, monkeypatch):
    """Copies the run to `parent/run` and moves there (its config.json names it "run")."""
    shutil.copytree(DIRECTORY, os.path.join(parent, "run"))
    monkeypatch.chdir(parent)


def config():
    """The TrainConfig that resumes it: the settings 0.2 recorded."""
    return training.config_for(
        "run",
        num_examples=64,
        batch_size=32,
        epochs=2,
        latent_dim=2,
        encoder_filters=(4,),
        dense_units=8,
        decoder_filters=(4,),
        images=False,
        export_dir="",
        verbose=0,
    )
