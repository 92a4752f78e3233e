"""The parts' maths (likelihoods, posteriors, priors, objectives) against independent
computations."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from keras_vae import likelihoods, objectives, posteriors, priors
from keras_vae.models.objectives import BoundTerms
from keras_vae.models.posteriors import PosteriorParameters

tfd = tfp.distributions


def _standard_normal(latent_dim):
    prior = priors.StandardNormal()
    prior.build((None, latent_dim))
    return prior


def test_analytic_kl_matches_monte_carlo():
    rng = np.random.default_rng(0)
    params = PosteriorParameters(
        rng.normal(size=(3, 4)).astype("float32"),
        rng.normal(scale=0.7, size=(3, 4)).astype("float32"),
        None,
    )
    q, prior = posteriors.DiagonalGaussian(), _standard_normal(4)
    analytic = tf.reduce_sum(q.kl_per_dim(params, prior), axis=-1).numpy()
    draw = q.sample(params, rng.normal(size=(200_000, 3, 4)).astype("float32"))
    monte_carlo = tf.reduce_mean(draw.log_q - prior.log_prob(draw.z), axis=0).numpy()
    np.testing.assert_allclose(analytic, monte_carlo, atol=0.03)
    # neg_entropy is E[log q] in closed form: the draws' mean log q agrees with it.
    np.testing.assert_allclose(tf.reduce_mean(draw.log_q, axis=0), draw.neg_entropy[0], atol=0.02)


def test_kl_closed_form_by_hand():
    mu, log_var = np.array([[1.5, -0.5]], "float32"), np.array([[0.3, -1.2]], "float32")
    by_hand = 0.5 * (np.exp(log_var) + mu**2 - 1.0 - log_var)
    got = _standard_normal(2).gaussian_kl_per_dim(mu, log_var).numpy()
    np.testing.assert_allclose(got, by_hand, rtol=1e-5)


def test_standard_normal_prior_by_hand():
    prior = _standard_normal(3)
    z = np.array([[0.5, -1.0, 2.0]], "float32")
    by_hand = -0.5 * np.sum(z**2) - 1.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(prior.log_prob(z).numpy(), [by_hand], rtol=1e-6)
    np.testing.assert_array_equal(prior.sample(z), z)  # its draws are the noise itself
    assert prior.noise_dim == 3 and prior.closed_form_kl


def test_bernoulli_log_likelihood_by_hand():
    logits = np.array([[[[2.0], [-1.0]], [[0.5], [0.0]]]], "float32")  # (1, 2, 2, 1)
    x = np.array([[[[1.0], [0.0]], [[0.3], [1.0]]]], "float32")
    p = 1.0 / (1.0 + np.exp(-logits))
    by_hand = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p))
    lik = likelihoods.Bernoulli()
    lik.build(logits.shape)
    np.testing.assert_allclose(lik.log_prob(logits, x).numpy(), [by_hand], rtol=1e-6)
    assert lik.log_prob_kind(x) is None and lik.log_prob_kind(np.round(x)) == "probability"


def test_gaussian_log_likelihood_by_hand():
    params = np.array([[[[0.0], [1.0]]]], "float32")  # (1, 1, 2, 1)
    x = np.array([[[[0.2], [0.9]]]], "float32")
    lik = likelihoods.Gaussian(scale=0.2)
    lik.build(params.shape)
    mean = 1.0 / (1.0 + np.exp(-params))
    by_hand = np.sum(-0.5 * ((x - mean) / 0.2) ** 2 - np.log(0.2) - 0.5 * np.log(2 * np.pi))
    np.testing.assert_allclose(lik.log_prob(params, x).numpy(), [by_hand], rtol=1e-5)
    np.testing.assert_allclose(lik.mean(params).numpy(), mean, rtol=1e-6)
    assert lik.mean_activation == "sigmoid" and lik.log_prob_kind(x) == "density"


def test_learned_gaussian_scale_is_per_channel_and_starts_at_the_datas_scale():
    images = likelihoods.Gaussian()
    images.build((None, 8, 8, 3))
    assert [w.shape for w in images.trainable_weights] == [(3,)]
    np.testing.assert_allclose(images.standard_deviation().numpy(), [0.1] * 3, rtol=1e-5)
    table = likelihoods.Gaussian()
    table.build((None, 30))  # standardized features: unit scale, an unbounded mean
    assert (table.mean_activation, table.initial_scale) == ("linear", 1.0)
    np.testing.assert_allclose(table.standard_deviation().numpy(), [1.0] * 30, rtol=1e-6)
    assert table.log_prob_kind(np.zeros((2, 30))) is None


def test_likelihoods_compute_in_float32_from_half_precision():
    params = tf.zeros([2, 4, 4, 1], tf.float16)
    lik = likelihoods.Bernoulli()
    lik.build(params.shape)
    assert lik.log_prob(params, tf.ones([2, 4, 4, 1])).dtype == tf.float32


def test_free_bits_floors_each_dim():
    kl = tf.constant([[0.1, 2.0, 0.5]])
    assert objectives.free_bits_kl(kl, 0.0).numpy() == pytest.approx([2.6])
    assert objectives.free_bits_kl(kl, 1.0).numpy() == pytest.approx([4.0])


def test_kl_weight_ramps_linearly_then_holds():
    ramp = objectives.ELBO(beta=2.0, warmup_steps=100)
    assert float(ramp.kl_weight(0)) == 0.0
    assert float(ramp.kl_weight(50)) == pytest.approx(1.0)
    assert float(ramp.kl_weight(500)) == pytest.approx(2.0)
    assert float(objectives.ELBO(beta=2.0).kl_weight(0)) == pytest.approx(2.0)


def test_unknown_parts_are_named_with_the_choices():
    with pytest.raises(
        ValueError,
        match=r"likelihood\. Expected one of \['bernoulli', 'gaussian', 'logistic'\].*'poisson'",
    ):
        likelihoods.get("poisson")
    with pytest.raises(
        ValueError, match=r"objective\. Expected one of \['elbo', 'iwae', 'tcvae'\]"
    ):
        objectives.get("vampprior")
    with pytest.raises(ValueError, match=r"a name of .* when its arguments \['beta'\] are given"):
        objectives.get(objectives.ELBO(), beta=2.0)


def test_the_elbo_and_iwae_from_their_terms_by_hand():
    rng = np.random.default_rng(0)
    log_px, log_pz, log_q = (rng.normal(size=(3, 2)).astype("float32") for _ in range(3))
    kl = (log_q - log_pz).astype("float32")
    terms = BoundTerms(log_px, log_pz, log_q, kl, None)
    elbo = objectives.ELBO(beta=0.5)(terms, step=0).numpy()
    np.testing.assert_allclose(elbo, -log_px.mean(0) + 0.5 * kl.mean(0), rtol=1e-5)
    iwae = objectives.IWAE(num_samples=3)(terms, step=0).numpy()
    by_hand = -np.log(np.mean(np.exp(log_px + log_pz - log_q), axis=0))
    np.testing.assert_allclose(iwae, by_hand, rtol=1e-5)
    dims = np.array([[0.1, 2.0], [0.5, 0.5]], "float32")
    floored = objectives.ELBO(free_bits=1.0)(BoundTerms(log_px, log_pz, log_q, kl, dims), 0).numpy()
    np.testing.assert_allclose(floored, -log_px.mean(0) + [3.0, 2.0], rtol=1e-5)


def test_cyclical_kl_weight_restarts_every_cycle():
    cyclical = objectives.ELBO(warmup_steps=10, schedule="cyclical", cycle_steps=40)
    weights = [float(cyclical.kl_weight(s)) for s in (0, 5, 20, 40, 45)]
    assert weights == pytest.approx([0.0, 0.5, 1.0, 0.0, 0.5])


def test_iwae_bound_is_log_mean_of_weights():
    log_w = np.log(np.array([[1.0, 2.0], [3.0, 6.0]], "float32"))  # (k=2, batch=2)
    np.testing.assert_allclose(objectives.iwae_bound(log_w).numpy(), np.log([2.0, 4.0]), rtol=1e-6)


def test_discretized_logistic_is_a_normalised_distribution_over_256_levels():
    lik = likelihoods.DiscretizedLogistic()
    params = np.array([0.3, -4.0], "float32").reshape(1, 1, 1, 2)  # mean logit, log scale
    lik.build(params.shape)
    levels = np.arange(256, dtype="float32").reshape(256, 1, 1, 1) / 255.0
    log_p = lik.log_prob(np.repeat(params, 256, axis=0), levels).numpy()
    assert np.exp(log_p).sum() == pytest.approx(1.0, abs=1e-5)
    # Every level gets its own bin's mass: P(k - 1 < X <= k) of the shifted logistic.
    logistic = tfd.Logistic(loc=255.0 / (1 + np.exp(-0.3)) - 0.5, scale=255.0 * np.exp(-4.0))
    k = np.arange(1, 255, dtype="float64")
    by_hand = np.log(logistic.cdf(k).numpy() - logistic.cdf(k - 1).numpy())
    np.testing.assert_allclose(log_p[1:255], by_hand, atol=1e-3)
    assert np.argmax(log_p) == pytest.approx(255 / (1 + np.exp(-0.3)), abs=1)
    assert lik.mean(params).numpy().item() == pytest.approx(1 / (1 + np.exp(-0.3)))


def test_the_posteriors_kl_is_the_closed_form_where_there_is_one_else_per_draw():
    from keras_vae.models.mixture_prior import MixtureOfGaussians

    rng = np.random.default_rng(3)
    params = PosteriorParameters(
        rng.normal(size=(2, 3)).astype("float32"), np.zeros((2, 3), "float32"), None
    )
    q = posteriors.DiagonalGaussian()
    draw = q.sample(params, rng.normal(size=(5, 2, 3)).astype("float32"))
    closed = q.kl(params, draw, _standard_normal(3)).numpy()
    np.testing.assert_allclose(
        closed, 0.5 * np.sum(params.mean**2, axis=-1), rtol=1e-5
    )  # unit variance
    mixture = MixtureOfGaussians(2)
    mixture.build((None, 3))
    per_draw = q.kl(params, draw, mixture).numpy()
    assert per_draw.shape == (5, 2)
    np.testing.assert_allclose(per_draw, draw.neg_entropy - mixture.log_prob(draw.z), rtol=1e-6)
