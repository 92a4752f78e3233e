"""keras_vae.evaluate against a linear-Gaussian model whose log p(x) is known in closed form."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import keras_vae
from keras_vae import evaluate
from keras_vae.evaluate import likelihood

tfd = tfp.distributions


def linear_gaussian_vae(seed=0, latent_dim=2, data_shape=(2, 2, 1), scale=0.5):
    """z ~ N(0, I), x = W z + b + scale * noise, so p(x) = N(b, W W^T + scale^2 I) is known.

    A real `VAE` of linear networks and a Gaussian likelihood of fixed scale with an
    unbounded mean. Its encoder is a diagonal Gaussian that is NOT the true posterior (its
    mean is shrunk and shifted, its variance doubled), so the IWAE gap shows at small k.
    Returns (model, W, b).
    """
    rng = np.random.default_rng(seed)
    dims = math.prod(data_shape)
    weights = rng.normal(size=(dims, latent_dim))
    bias = 0.5 * rng.normal(size=dims)
    posterior_cov = np.linalg.inv(np.eye(latent_dim) + weights.T @ weights / scale**2)
    gain = posterior_cov @ weights.T / scale**2  # (latent, dims): the true posterior mean's
    x = keras.Input(data_shape)
    flat = keras.layers.Flatten()(x)
    z_mean = keras.layers.Dense(latent_dim)(flat)
    z_log_var = keras.layers.Dense(latent_dim)(flat)
    encoder = keras.Model(x, [z_mean, z_log_var])
    encoder.layers[2].set_weights([0.7 * gain.T, 0.3 - 0.7 * bias @ gain.T])
    encoder.layers[3].set_weights(
        [np.zeros((dims, latent_dim)), np.log(2.0 * np.diag(posterior_cov))]
    )
    decoder = keras.Sequential(
        [keras.Input((latent_dim,)), keras.layers.Dense(dims), keras.layers.Reshape(data_shape)]
    )
    decoder.layers[0].set_weights([weights.T, bias])
    likelihood = keras_vae.likelihoods.Gaussian(scale=scale, mean_activation="linear")
    return keras_vae.VAE(encoder, decoder, likelihood=likelihood, seed=seed), weights, bias


def exact_log_px(weights, bias, scale, images):
    dims = weights.shape[0]
    cov = weights @ weights.T + scale**2 * np.eye(dims)
    p_x = tfd.MultivariateNormalTriL(bias, scale_tril=np.linalg.cholesky(cov))
    return p_x.log_prob(images.reshape(-1, dims).astype("float64")).numpy()


def sample_images(weights, bias, scale, n, data_shape=(2, 2, 1), seed=1):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, weights.shape[1]))
    x = z @ weights.T + bias + scale * rng.normal(size=(n, weights.shape[0]))
    return x.reshape(n, *data_shape).astype("float32")


@pytest.fixture(scope="module")
def linear():
    model, weights, bias = linear_gaussian_vae()
    images = sample_images(weights, bias, 0.5, 1000)
    return model, images, exact_log_px(weights, bias, 0.5, images)


@pytest.fixture(scope="module")
def default_vae():
    return keras_vae.VAE.from_shape((28, 28, 1), seed=0)


def binary_images(n, seed=0):
    return (np.random.default_rng(seed).uniform(size=(n, 28, 28, 1)) > 0.7).astype("float32")


def test_converges_to_closed_form_as_k_grows(linear):
    model, images, exact = linear
    images, exact = images[:200], exact[:200]
    error_1 = evaluate.log_likelihood(model, images, num_samples=1) - exact
    error_2000 = evaluate.log_likelihood(model, images, num_samples=2000) - exact
    assert np.mean(np.abs(error_2000)) < np.mean(np.abs(error_1)) / 50
    assert np.mean(np.abs(error_2000)) < 0.05
    assert abs(np.mean(error_2000)) < 0.01


def test_small_k_underestimates_in_expectation(linear):
    model, images, exact = linear
    gaps = {k: evaluate.log_likelihood(model, images, num_samples=k) - exact for k in (1, 10, 100)}
    for k in (1, 10):
        # Mean over 1000 images, 3 standard errors below 0: E[estimate] < log p(x).
        assert gaps[k].mean() + 3 * gaps[k].std() / math.sqrt(len(images)) < 0, k
    # The bias shrinks with k (at k=100 it is ~0.004 nats, below what 1000 images resolve).
    assert gaps[1].mean() < gaps[10].mean() < gaps[100].mean()
    assert gaps[100].mean() < 3 * gaps[100].std() / math.sqrt(len(images))


def test_elbo_below_iwae_below_exact(linear):
    model, images, exact = linear
    iwae = evaluate.log_likelihood(model, images, num_samples=10, seed=3)
    elbo = evaluate.elbo(model, images, num_samples=10, seed=3)
    assert np.all(elbo <= iwae + 1e-5)  # same z: Jensen holds image by image
    assert elbo.mean() < iwae.mean() < exact.mean()
    # One sample: the IWAE bound is the ELBO.
    np.testing.assert_allclose(
        evaluate.log_likelihood(model, images, num_samples=1), evaluate.elbo(model, images)
    )


def test_independent_of_batch_size_and_chunking(linear):
    model, images, _ = linear
    images, k = images[:21], 300  # > 256: two noise blocks, the second one partial
    reference = evaluate.log_likelihood(model, images, num_samples=k, batch_size=21)
    reference_elbo = evaluate.elbo(model, images, num_samples=k, batch_size=21)
    settings = [(1, 256), (7, 1e-4), (13, 0.04)]  # chunks of 256, 1 and 4 samples
    chunks = {likelihood.chunk_size(model, b, k, mb) for b, mb in settings}
    assert len(chunks) >= 3 and 1 in chunks and max(chunks) == 256 < k
    for batch_size, budget in settings:
        kwargs = dict(num_samples=k, batch_size=batch_size, memory_budget_mb=budget)
        np.testing.assert_allclose(
            evaluate.log_likelihood(model, images, **kwargs), reference, rtol=0, atol=1e-5
        )
        np.testing.assert_allclose(
            evaluate.elbo(model, images, **kwargs), reference_elbo, rtol=0, atol=1e-5
        )


def test_seed_makes_estimates_repeatable(linear):
    model, images, _ = linear
    first, again, other = (
        evaluate.log_likelihood(model, images[:20], num_samples=5, seed=seed) for seed in (7, 7, 8)
    )
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_bits_per_dim_by_hand():
    # A uniform density on [0, 1]^D gives every 8-bit pixel value probability 1/256.
    assert evaluate.bits_per_dim(0.0, (28, 28, 1)) == pytest.approx(8.0)
    log_pmf = -784 * math.log(256)  # uniform over the 256 levels of every pixel
    assert evaluate.bits_per_dim(log_pmf, (28, 28, 1), discrete=True) == pytest.approx(8.0)
    # Density 256 on one bin of width 1/256: probability 1, 0 bits.
    assert evaluate.bits_per_dim(math.log(256), (1, 1, 1)) == pytest.approx(0.0, abs=1e-12)
    got = evaluate.bits_per_dim(np.array([-1000.0, 500.0]), (32, 32, 3))
    expected = (np.array([1000.0, -500.0]) + 3072 * math.log(256)) / (3072 * math.log(2))
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def constant_dim_vae():
    """Latent 3 dims: dim 0 follows x (its mean over pixels), dim 1 is constant, dim 2 barely
    moves."""
    x = keras.Input((2, 2, 1))
    mean = keras.layers.Dense(1, use_bias=False)(keras.layers.Flatten()(x))
    z_mean = keras.layers.Dense(3)(mean)
    z_log_var = keras.layers.Dense(3)(mean)
    encoder = keras.Model(x, [z_mean, z_log_var])
    encoder.layers[2].set_weights([np.full((4, 1), 0.25)])
    encoder.layers[3].set_weights([np.array([[1.0, 0.0, 0.01]]), np.array([0.0, 0.5, 0.0])])
    encoder.layers[4].set_weights([np.zeros((1, 3)), np.array([-1.0, 0.0, 0.5])])
    decoder = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4), keras.layers.Reshape((2, 2, 1))]
    )
    likelihood = keras_vae.likelihoods.Gaussian(scale=0.5, mean_activation="linear")
    return keras_vae.VAE(encoder, decoder, likelihood=likelihood)


def test_active_units_and_kl_per_dim_find_the_collapsed_dims(linear):
    _, images, _ = linear
    model = constant_dim_vae()
    x = images.reshape(len(images), -1).mean(axis=-1).astype(np.float64)
    activity = evaluate.unit_activity(model, images, batch_size=64)
    np.testing.assert_allclose(activity, [np.var(x), 0.0, np.var(0.01 * x)], rtol=1e-4, atol=1e-12)
    assert np.var(x) > 0.01 > np.var(0.01 * x)
    assert evaluate.active_units(model, images) == 1
    assert evaluate.active_units(model, images, threshold=0.0) == 2
    z_mean = np.stack([x, np.full_like(x, 0.5), 0.01 * x], axis=-1)
    log_var = np.array([-1.0, 0.0, 0.5])
    by_hand = (0.5 * (np.exp(log_var) + z_mean**2 - 1.0 - log_var)).mean(axis=0)
    np.testing.assert_allclose(evaluate.kl_per_dim(model, images), by_hand, rtol=1e-5)
    assert evaluate.kl_per_dim(model, images)[1] == pytest.approx(0.125)


def test_report_on_closed_form_model(linear):
    model, images, _ = linear
    result = evaluate.report(model, images[:100], num_samples=50)
    log_px = evaluate.log_likelihood(model, images[:100], num_samples=50)
    assert result["nll"] == pytest.approx(-log_px.astype(np.float64).mean())
    assert result["neg_elbo"] > result["nll"]
    assert "bits_per_dim" not in result  # an unbounded Gaussian: no 8-bit convention applies
    assert result["active_units"] == 2 and len(result["kl_per_dim"]) == 2


def test_default_vae_smoke(default_vae):
    images = binary_images(6)
    log_px = evaluate.log_likelihood(default_vae, images, num_samples=8, batch_size=4)
    assert log_px.shape == (6,) and np.all(np.isfinite(log_px)) and -log_px.mean() > 0
    # Batching changes conv batch sizes only: float32 rounding, nothing more.
    np.testing.assert_allclose(
        evaluate.log_likelihood(default_vae, images, num_samples=8, batch_size=6), log_px, rtol=1e-5
    )
    result = evaluate.report(default_vae, images, num_samples=4)
    assert result["nll"] > 0 and result["neg_elbo"] >= result["nll"] - 1e-3
    assert 0 <= result["active_units"] <= 16 and len(result["kl_per_dim"]) == 16
    assert "bits_per_dim" in result  # Bernoulli on binary pixels: a probability
    grey = np.random.default_rng(0).uniform(size=(2, 28, 28, 1)).astype("float32")
    assert "bits_per_dim" not in evaluate.report(default_vae, grey, num_samples=2)


@pytest.mark.parametrize("likelihood", ["logistic", "gaussian"])
def test_report_bits_per_dim_follows_the_likelihood(likelihood):
    model = keras_vae.VAE.from_shape(
        (28, 28, 1),
        4,
        architecture=dict(encoder_filters=(8, 16), dense_units=32),
        likelihood=likelihood,
        seed=0,
    )
    levels = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28, 1))
    result = evaluate.report(model, (levels / 255).astype("float32"), num_samples=2)
    # The discretized logistic gives probabilities of 8-bit levels: no dequantization term.
    correction = 0.0 if likelihood == "logistic" else 784 * math.log(256)
    expected = (result["nll"] + correction) / (784 * math.log(2))
    assert result["bits_per_dim"] == pytest.approx(expected)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_samples": 0}, "num_samples=0"),
        ({"num_samples": -3}, "num_samples=-3"),
        ({"num_samples": 2.5}, "num_samples=2.5"),
        ({"num_samples": True}, "num_samples=True"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"seed": -1}, "seed=-1"),
        ({"memory_budget_mb": 0}, "memory_budget_mb=0"),
    ],
)
def test_bad_arguments_are_named(default_vae, kwargs, match):
    with pytest.raises(ValueError, match=match):
        evaluate.log_likelihood(default_vae, binary_images(2), **kwargs)


@pytest.mark.parametrize(
    "images, match",
    [
        (np.full((2, 28, 28, 1), 1.5, "float32"), r"\[0, 1\]"),
        (np.full((2, 28, 28, 1), np.nan, "float32"), "NaN"),
        (np.zeros((2, 28, 28, 1), "uint8"), "divide by 255"),
        (np.zeros((2, 28, 28), "float32"), r"\(None, 28, 28, 1\)"),
        (np.zeros((0, 28, 28, 1), "float32"), "non-empty"),
    ],
)
def test_bad_images_are_named(default_vae, images, match):
    with pytest.raises(ValueError, match=match):
        evaluate.elbo(default_vae, images)


def test_bad_model_and_other_arguments(default_vae, linear):
    model, images, _ = linear
    # Out-of-range values are fine for a Gaussian likelihood.
    assert evaluate.elbo(model, 3.0 + images[:2]).shape == (2,)

    with pytest.raises(
        ValueError, match=r"argument model\. Expected a keras_vae model.*a Sequential"
    ):
        evaluate.log_likelihood(model.decoder, images[:2])
    with pytest.raises(ValueError, match="threshold=-1"):
        evaluate.active_units(default_vae, binary_images(2), threshold=-1)
    with pytest.raises(ValueError, match="data_shape"):
        evaluate.bits_per_dim(-1.0, (28, 0, 1))


# ------------------------------------------------------------ ConditionalVAE (M2)


def peaked_conditional(seed=0):
    """A tiny ConditionalVAE on 6 binary values, weights drawn from `seed` (Glorot-uniform;
    the decoder's doubled, so that classes decode apart) and a proposal q(z|x, y) wider
    than the posterior, so that 2000 importance samples suffice."""
    model = keras_vae.ConditionalVAE.from_shape(
        (6,),
        2,
        num_classes=3,
        architecture=dict(hidden_units=(8,)),
        likelihood="bernoulli",
        seed=seed,
    )
    rng = np.random.default_rng(seed)
    for network, scale in ((model.encoder, 1.0), (model.decoder, 2.0), (model.classifier, 1.0)):
        network.set_weights(
            [
                scale * rng.uniform(-1, 1, w.shape).astype("float32") * math.sqrt(6 / sum(w.shape))
                if w.ndim == 2
                else np.zeros_like(w)
                for w in network.get_weights()
            ]
        )
    log_var = model.encoder.get_layer("z_log_var_raw")
    log_var.set_weights([0.1 * log_var.kernel.numpy(), np.ones(2, "float32")])
    return model


def binary_vectors(n, seed=0):
    return (np.random.default_rng(seed).uniform(size=(n, 6)) > 0.5).astype("float32")


def quadrature(model, x, width=7.0, points=141):
    """Per x: log p(x) = log (1/C) sum_y p(x|y) and M2's ELBO, by a grid over the 2-d z."""
    grid = np.linspace(-width, width, points).astype("float32")
    z = tf.constant(np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2))
    log_area = 2 * math.log(grid[1] - grid[0])
    log_pz = tfd.MultivariateNormalDiag(tf.zeros(2)).log_prob(z).numpy()
    classes = model.num_classes
    log_px, elbo = [], []
    for example, q_y in zip(x, model.classify(x).numpy()):
        log_px_y, elbo_y = [], []
        for y in range(classes):
            params = model.decoder([z, tf.one_hot(tf.fill([len(z)], y), classes)])
            log_px_z = model.likelihood.log_prob(params, example).numpy()
            log_px_y.append(np.logaddexp.reduce(log_px_z + log_pz) + log_area)
            z_mean, z_log_var = model.encode(example[None], labels=[y])
            q_z = tfd.MultivariateNormalDiag(z_mean[0], tf.exp(0.5 * z_log_var[0]))
            log_q = q_z.log_prob(z).numpy()
            weights = np.exp(log_q) / np.exp(log_q).sum()
            elbo_y.append(np.sum(weights * (log_px_z + log_pz - log_q)))
        log_px.append(np.logaddexp.reduce(log_px_y) - math.log(classes))
        elbo.append(np.sum(q_y * (np.array(elbo_y) - math.log(classes) - np.log(q_y))))
        assert np.ptp(log_px_y) > 0.5  # the classes matter: a label-blind estimate would fail
    return np.array(log_px), np.array(elbo)


def test_conditional_matches_the_sum_over_classes_by_quadrature():
    model = peaked_conditional()
    x = binary_vectors(4)
    exact_log_px, exact_elbo = quadrature(model, x)
    log_px = evaluate.log_likelihood(model, x, num_samples=2000)
    elbo = evaluate.elbo(model, x, num_samples=2000)
    # Both are k-sample estimates (seen over seeds 0-2: errors up to 0.13 and 0.51 nats, the
    # ELBO of this peaked model being the noisier), while forgetting log C or the entropy of
    # q(y|x) would cost about 1.1 nats.
    assert np.all(np.abs(log_px - exact_log_px) < 0.3)
    assert np.all(np.abs(elbo - exact_elbo) < 0.75)
    assert np.all(exact_elbo < exact_log_px - 1.0)  # a real gap, which the ELBO must show


def test_conditional_log_likelihood_ignores_the_classifier_and_bounds_the_elbo():
    model = peaked_conditional()
    x = binary_vectors(6)
    log_px = evaluate.log_likelihood(model, x, num_samples=64, seed=3)
    elbo = evaluate.elbo(model, x, num_samples=64, seed=3)
    assert np.all(elbo <= log_px + 1e-4)  # same z for every class: image by image
    np.testing.assert_allclose(
        evaluate.log_likelihood(model, x, num_samples=64, seed=3, batch_size=4), log_px, rtol=1e-5
    )
    # An over-confident classifier changes M2's ELBO, not the exact sum over classes.
    model.classifier.set_weights([50.0 * w for w in model.classifier.get_weights()])
    np.testing.assert_allclose(evaluate.log_likelihood(model, x, num_samples=64, seed=3), log_px)
    assert not np.allclose(evaluate.elbo(model, x, num_samples=64, seed=3), elbo)


def test_classification_error_and_report_with_labels():
    model = peaked_conditional()
    x = binary_vectors(8)
    guesses = np.argmax(model.classify(x), axis=-1)
    assert evaluate.classification_error(model, x, guesses, batch_size=3) == 0.0
    assert evaluate.classification_error(model, x, (guesses + 1) % 3) == 1.0
    wrong_half = np.where(np.arange(8) < 4, guesses, (guesses + 1) % 3)
    result = evaluate.report(model, x, num_samples=4, labels=wrong_half)
    assert result["classification_error"] == 0.5
    assert result["neg_elbo"] >= result["nll"] - 1e-4 and len(result["kl_per_dim"]) == 2
    assert "classification_error" not in evaluate.report(model, x, num_samples=4)
    with pytest.raises(ValueError, match=r"labels.*\[0, 3\)"):
        evaluate.classification_error(model, x, np.full(8, 3))
    with pytest.raises(ValueError, match="8 labels"):
        evaluate.classification_error(model, x, guesses[:5])


def test_classification_error_refuses_a_plain_vae(default_vae):
    def report(model, images, labels):
        return evaluate.report(model, images, num_samples=2, labels=labels)

    for call in (evaluate.classification_error, report):
        with pytest.raises(
            ValueError, match="model.*with classes.*ConditionalVAE.*a VAE without classes"
        ):
            call(default_vae, binary_images(2), np.array([0, 1]))
