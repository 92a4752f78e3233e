"""β-TCVAE: the KL split into mutual information, total correlation and dimension-wise KL.

The estimator is checked where the three are known in closed form: narrow Gaussian
posteriors around points of a correlated Gaussian, whose aggregate q(z) is that Gaussian
widened by the posterior's variance.
"""

import math

import keras
import numpy as np
import pytest
from keras import ops

import keras_vae
from keras_vae import objectives
from keras_vae.models import priors

COVARIANCE = np.array([[1.0, 0.8], [0.8, 1.0]])
NOISE = 0.25  # the posterior's variance


def _closed_form(covariance, noise):
    """(MI, TC, DWKL) of q(z|x_n) = N(mu_n, noise I) with mu ~ N(0, covariance), p = N(0, I)."""
    wide = covariance + noise * np.eye(len(covariance))
    dims = len(covariance)
    mi = 0.5 * (np.linalg.slogdet(wide)[1] - dims * math.log(noise))
    tc = 0.5 * (np.sum(np.log(np.diag(wide))) - np.linalg.slogdet(wide)[1])
    dwkl = 0.5 * np.sum(np.diag(wide) - 1 - np.log(np.diag(wide)))
    return mi, tc, dwkl


def _posteriors(n, covariance, seed):
    rng = np.random.default_rng(seed)
    mean = rng.multivariate_normal(np.zeros(len(covariance)), covariance, size=n)
    log_var = np.full_like(mean, math.log(NOISE))
    z = mean + math.sqrt(NOISE) * rng.standard_normal(mean.shape)
    log_q = np.sum(-0.5 * (priors.LOG_2PI + log_var + (z - mean) ** 2 / NOISE), axis=-1)
    log_pz = np.sum(-0.5 * (priors.LOG_2PI + z**2), axis=-1)
    return [a.astype("float32") for a in (z[None], mean, log_var, log_q[None], log_pz[None])]


def _estimate(n, batch, covariance, estimator, seed=0):
    """Mean (MI, TC, DWKL) over a dataset of n examples split into minibatches of `batch`."""
    z, mean, log_var, log_q, log_pz = _posteriors(n, covariance, seed)
    parts = []
    for start in range(0, n, batch):
        rows = slice(start, start + batch)
        terms = objectives.kl_decomposition(
            z[:, rows], mean[rows], log_var[rows], log_q[:, rows], log_pz[:, rows], n, estimator
        )
        parts.append([ops.convert_to_numpy(t)[0] for t in terms])
    return [float(np.mean(np.concatenate([p[i] for p in parts]))) for i in range(3)]


@pytest.mark.parametrize("covariance", [COVARIANCE, np.eye(2)], ids=["correlated", "independent"])
def test_the_estimate_on_the_whole_dataset_matches_the_closed_form(covariance):
    # One minibatch of all N: MSS weighs each example 1/N, the exact mixture q(z).
    estimate = _estimate(3000, 3000, covariance, "mss")
    np.testing.assert_allclose(estimate, _closed_form(covariance, NOISE), atol=0.06)


def test_stratified_minibatches_estimate_the_total_correlation_weighted_ones_shift_it():
    n = 20000
    mi, tc, dwkl = _closed_form(COVARIANCE, NOISE)
    mss = _estimate(n, 500, COVARIANCE, "mss")
    mws = _estimate(n, 500, COVARIANCE, "mws")
    assert abs(mss[1] - tc) < 0.08  # of 0.26 nats
    # MWS's weights add up to 1/N: q(z) and each q(z_d) sit log N low.
    assert mws[0] - mss[0] == pytest.approx(math.log(n), abs=0.1)
    assert mws[1] - mss[1] == pytest.approx(math.log(n), abs=0.1)  # (D - 1) log N, D = 2
    assert sum(mss) == pytest.approx(sum(mws), abs=1e-3)  # both split the same KL


def test_the_three_terms_add_up_to_the_kl_estimate():
    z, mean, log_var, log_q, log_pz = _posteriors(64, COVARIANCE, seed=1)
    terms = objectives.kl_decomposition(z, mean, log_var, log_q, log_pz, 1000)
    total = sum(ops.convert_to_numpy(t) for t in terms)
    np.testing.assert_allclose(total, log_q - log_pz, rtol=1e-5, atol=1e-4)


def test_a_batch_of_one_has_only_its_own_term():
    # No other example: q(z) ~ q(z|x) / N, and each q(z_d) ~ q(z_d|x) / N.
    z, mean, log_var, log_q, log_pz = _posteriors(1, COVARIANCE, seed=2)
    mi, tc, dwkl = objectives.kl_decomposition(z, mean, log_var, log_q, log_pz, 100)
    assert float(ops.convert_to_numpy(mi)[0, 0]) == pytest.approx(math.log(100), rel=1e-5)
    assert float(ops.convert_to_numpy(tc)[0, 0]) == pytest.approx(math.log(100), rel=1e-5)
    assert np.isfinite(ops.convert_to_numpy(dwkl)).all()


def _model(objective, latent_dim=4):
    return keras_vae.VAE.from_shape((12,), latent_dim=latent_dim, objective=objective, seed=0)


def test_unit_weights_give_the_elbo_and_beta_weights_the_total_correlation():
    x = np.random.default_rng(0).uniform(size=(32, 12)).astype("float32")
    elbo = _model("elbo")
    tcvae = _model(objectives.TCVAE(dataset_size=32, alpha=1.0, beta=1.0, gamma=1.0))
    tcvae.set_weights(elbo.get_weights())
    # The same noise: the same draws, and TCVAE's loss is -log p(x|z) + log q(z|x) - log p(z).
    a = tcvae.loss_terms(x, training=False)
    b = elbo.loss_terms(x, training=False)
    np.testing.assert_allclose(a["reconstruction_loss"], b["reconstruction_loss"], rtol=1e-5)
    parts_sum = a["mutual_information"] + a["total_correlation"] + a["dimension_kl"]
    np.testing.assert_allclose(a["loss"], a["reconstruction_loss"] + parts_sum, rtol=1e-5)
    # One draw's KL estimate, whose mean over the batch is near the closed form.
    assert float(np.mean(parts_sum)) == pytest.approx(float(np.mean(b["kl_loss"])), abs=0.3)
    heavy = _model(objectives.TCVAE(dataset_size=32, beta=5.0))
    heavy.set_weights(elbo.get_weights())
    c = heavy.loss_terms(x)
    extra = c["loss"] - a["loss"]
    np.testing.assert_allclose(extra, 4.0 * a["total_correlation"], rtol=1e-4, atol=1e-4)


def test_fit_logs_the_three_terms_and_the_model_saves(tmp_path):
    x = np.random.default_rng(0).uniform(size=(64, 12)).astype("float32")
    model = _model(objectives.TCVAE(dataset_size=64, beta=4.0, warmup_steps=4))
    model.compile(optimizer="adam")
    history = model.fit(x, epochs=2, batch_size=16, verbose=0).history
    for name in ("mutual_information", "total_correlation", "dimension_kl", "kl_loss"):
        assert np.all(np.isfinite(history[name])), name
    path = str(tmp_path / "tcvae.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.objective.get_config() == model.objective.get_config()
    assert loaded.loss_names == model.loss_names
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded.loss_terms(x[:8])["loss"]),
        ops.convert_to_numpy(model.loss_terms(x[:8])["loss"]),
        rtol=1e-5,
    )


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: objectives.get("tcvae"), "dataset_size"),
        (lambda: objectives.TCVAE(dataset_size=0), "dataset_size"),
        (lambda: objectives.TCVAE(dataset_size=10, estimator="exact"), "estimator"),
        (lambda: objectives.TCVAE(dataset_size=10, gamma=-1.0), "gamma"),
        (
            lambda: keras_vae.VAE.from_shape(
                (12,), 4, posterior="iaf", objective=objectives.TCVAE(dataset_size=10)
            ),
            "posterior",
        ),
        (
            lambda: keras_vae.HierarchicalVAE.from_shape(
                (12,), latent_dims=(4, 2), objective=objectives.TCVAE(dataset_size=10)
            ),
            "objective",
        ),
    ],
    ids=["no-size", "zero-size", "estimator", "gamma", "iaf", "hierarchy"],
)
def test_bad_settings_are_refused_early(build, message):
    with pytest.raises(ValueError, match=f"Invalid value received for argument {message}"):
        build()


def test_a_command_line_run_counts_its_examples_and_logs_the_terms(tmp_path):
    import csv

    from keras_vae import cli, presets

    run = tmp_path / "run"
    flags = ["--epochs", "1", "--num-examples", "200", "--batch-size", "50", "--latent-dim", "3"]
    flags += ["--preset", "shapes_tcvae", "--beta", "4", "--tc-gamma", "2", "--no-images"]
    flags += ["--verbose", "0", "--export-dir", "", "--out", str(run)]
    assert cli.main(["train", *flags]) == 0
    model = keras.models.load_model(run / "model.keras")
    # 200 shapes, a tenth held out: 180 in 4 batches of 50, counted 200 (not the preset's).
    assert presets.get("shapes_tcvae")["dataset_size"] != 200
    assert model.objective.dataset_size == 200
    assert (model.objective.beta, model.objective.gamma) == (4.0, 2.0)
    with open(run / "history.csv") as f:
        assert {"total_correlation", "val_total_correlation"} <= set(next(csv.DictReader(f)))


def test_the_preset_takes_another_objective_with_the_same_networks():
    tcvae = keras_vae.VAE.from_preset("shapes_tcvae", seed=0)
    assert isinstance(tcvae.objective, objectives.TCVAE) and tcvae.objective.beta == 6.0
    # None is a setting's default: the ELBO takes no dataset_size, and is not given one.
    vae = keras_vae.VAE.from_preset("shapes_tcvae", objective="elbo", dataset_size=None, seed=0)
    assert isinstance(vae.objective, objectives.ELBO) and vae.objective.beta == 6.0
    assert vae.count_params() == tcvae.count_params()
    with pytest.raises(ValueError, match="argument dataset_size. Expected None with objective"):
        keras_vae.VAE.from_preset("shapes_tcvae", objective="elbo")
