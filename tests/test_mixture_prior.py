"""A new part in one file (models/mixture_prior.py): a learned mixture-of-Gaussians prior,
trained, evaluated, saved and exported by the unchanged `fit`, `evaluate` and `export`."""

import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

import keras_vae
from keras_vae import evaluate, export, training
from keras_vae.models.mixture_prior import MixtureOfGaussians, normal_cdf

ARCHITECTURE = dict(encoder_filters=(8, 16), dense_units=32)


def mixture_vae(components=3, **kwargs):
    prior = MixtureOfGaussians(components, seed=0)
    return keras_vae.VAE.from_shape(
        (28, 28, 1), 2, architecture=ARCHITECTURE, prior=prior, seed=0, **kwargs
    )


def _set(prior, means, log_scales, logits):
    for weight, value in zip(
        (prior.means, prior.log_scales, prior.logits), (means, log_scales, logits)
    ):
        weight.assign(np.asarray(value, np.float32))


def test_log_prob_is_the_mixture_density_by_hand():
    prior = MixtureOfGaussians(2)
    prior.build((None, 2))
    means, log_scales, logits = [[0.0, 1.0], [-2.0, 0.5]], [[0.0, -0.5], [0.3, 0.0]], [0.2, -0.4]
    _set(prior, means, log_scales, logits)
    z = np.array([[0.5, 0.5], [-1.0, 2.0]], np.float32)
    weights = np.exp(logits) / np.exp(logits).sum()
    density = sum(
        w * stats.norm(m, np.exp(s)).pdf(z).prod(axis=-1)
        for w, m, s in zip(weights, np.array(means), np.array(log_scales))
    )
    np.testing.assert_allclose(prior.log_prob(z).numpy(), np.log(density), rtol=1e-5)
    assert prior.gaussian_kl_per_dim(z, z) is None and not prior.closed_form_kl


def test_sampling_from_noise_picks_components_by_their_weights():
    prior = MixtureOfGaussians(3)
    prior.build((None, 2))
    _set(prior, [[-10, 0], [0, 0], [10, 0]], np.full((3, 2), -3.0), np.log([0.2, 0.5, 0.3]))
    eps = np.random.default_rng(0).normal(size=(20000, prior.noise_dim)).astype(np.float32)
    z = prior.sample(eps).numpy()
    counts = np.bincount(np.round(z[:, 0] / 10).astype(int) + 1, minlength=3) / len(z)
    np.testing.assert_allclose(counts, [0.2, 0.5, 0.3], atol=0.015)
    # A temperature scales each component's spread, not the choice of component.
    cold = prior.sample(eps[:50], temperature=1e-3).numpy()
    np.testing.assert_allclose(cold, np.round(z[:50] / 10) * [10, 0], atol=1e-3)
    np.testing.assert_allclose(
        normal_cdf(tf.constant([-1.5, 0.0, 2.0])), stats.norm.cdf([-1.5, 0.0, 2.0]), atol=2e-7
    )


def test_the_kl_to_a_mixture_is_estimated_without_bias():
    model = mixture_vae()
    x = np.random.default_rng(0).uniform(size=(1, 28, 28, 1)).astype(np.float32)
    eps = np.random.default_rng(1).normal(size=(4000, 1, 2)).astype(np.float32)
    estimates = model.evidence(x, eps)["kl"].numpy()[:, 0].astype(np.float64)
    params = model.posterior_parameters(tf.constant(x))
    q = stats.norm(params.mean.numpy()[0], np.exp(0.5 * params.log_var.numpy()[0]))
    draws = q.rvs(size=(200000, 2), random_state=2)
    log_p = model.prior.log_prob(draws.astype(np.float32)).numpy()
    reference = np.mean(q.logpdf(draws).sum(-1) - log_p)  # an independent Monte-Carlo KL
    assert abs(estimates.mean() - reference) < 4 * estimates.std() / math.sqrt(4000) + 0.01
    assert model.kl_per_dim(x) is None


def test_the_unchanged_tools_take_it(tmp_path, shapes_images):
    model = mixture_vae()
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    before = [w.numpy().copy() for w in model.prior.weights]
    history = model.fit(shapes_images[0][:512], batch_size=64, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]
    assert any(
        np.abs(w.numpy() - b).max() > 1e-4 for w, b in zip(model.prior.weights, before)
    )  # learned
    held_out = shapes_images[1][:32]
    report = evaluate.report(model, held_out, num_samples=16)
    assert report["kl_per_dim"] is None and report["kl"] > 0 and np.isfinite(report["nll"])
    path, tflite = export.publish(model, tmp_path / "mixture", tflite_files=True)  # parity-checked
    served = tf.saved_model.load(path).signatures["sample"]
    eps = np.random.default_rng(3).normal(size=(4, 3)).astype(np.float32)  # latent_dim + 1
    np.testing.assert_allclose(
        served(eps=eps)["images"], model.decode(model.prior.sample(eps)), atol=1e-5
    )
    assert sorted(tflite) == ["decoder", "encoder"]
    model.save(tmp_path / "mixture.keras")
    loaded = keras.models.load_model(tmp_path / "mixture.keras", safe_mode=True)
    assert isinstance(loaded.prior, MixtureOfGaussians) and loaded.prior.components == 3
    np.testing.assert_array_equal(loaded.sample(5, seed=4), model.sample(5, seed=4))


def test_free_bits_are_refused_with_it():
    with pytest.raises(
        ValueError, match=r"free_bits\. Expected 0 with posterior='gaussian' and prior='mixture'"
    ):
        mixture_vae(objective=keras_vae.objectives.ELBO(free_bits=0.5))
    with pytest.raises(ValueError, match="components=0"):
        MixtureOfGaussians(0)


@pytest.mark.slow
def test_a_run_with_the_mixture_prior_by_name(tmp_path):
    config = training.TrainConfig(
        out=str(tmp_path / "run"),
        num_examples=128,
        batch_size=64,
        epochs=1,
        latent_dim=2,
        prior="mixture",
        verbose=0,
        export_dir=str(tmp_path / "saved"),
    )
    result = training.train(config)
    assert result["model"].prior.alias == "mixture"
    assert os.path.isfile(os.path.join(result["export_path"], "saved_model.pb"))
