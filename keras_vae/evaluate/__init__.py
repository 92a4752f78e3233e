"""Honest likelihoods (importance-sampled log p(x), ELBO, bits/dim, active units, KL per
dim), sample quality through a classifier (confident reads, Fréchet distance), and
disentanglement against known factors (MIG, SAP, DCI, the FactorVAE score).

Every function takes a keras_vae model (any `LatentVariableModel`: it uses the interface
only) and NumPy arrays of examples.

    log_px = keras_vae.evaluate.log_likelihood(model, test_images, num_samples=5000)
    keras_vae.evaluate.report(model, test_images, num_samples=1000)
"""

from keras_vae.evaluate.disentanglement import (
    dci,
    disentanglement,
    factor_vae_score,
    mig,
    sap,
)
from keras_vae.evaluate.latents import (
    active_units,
    active_units_per_layer,
    kl_per_dim,
    kl_per_layer,
    layer_activity,
    unit_activity,
)
from keras_vae.evaluate.likelihood import elbo, log_likelihood
from keras_vae.evaluate.report import bits_per_dim, classification_error, report
from keras_vae.evaluate.samples import (
    classifier_network,
    confident_fraction,
    frechet_distance,
    sample_quality,
    train_classifier,
)

__all__ = [
    "log_likelihood",
    "elbo",
    "bits_per_dim",
    "unit_activity",
    "active_units",
    "active_units_per_layer",
    "layer_activity",
    "kl_per_dim",
    "kl_per_layer",
    "classification_error",
    "report",
    "sample_quality",
    "confident_fraction",
    "frechet_distance",
    "classifier_network",
    "train_classifier",
    "mig",
    "sap",
    "dci",
    "factor_vae_score",
    "disentanglement",
]
