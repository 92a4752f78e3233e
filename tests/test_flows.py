"""The inverse autoregressive flow posterior: its maths, its VAE, and everything around it."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae
from keras_vae import evaluate, export, posteriors, training
from keras_vae.models import flows
from keras_vae.models.posteriors import PosteriorParameters


def _randomised(flow, scale=0.5, seed=0):
    """The flow with random weights (a new flow is close to z -> 0.88 z); the gates' biases
    stay at 1, so that no sigma is close to 0."""
    rng = np.random.default_rng(seed)
    for weight in flow.weights:
        weight.assign(rng.normal(scale=scale, size=weight.shape).astype("float32"))
    for network in flow.networks:
        bias = network.biases[-1].numpy()
        bias[len(bias) // 2 :] = 1.0
        network.biases[-1].assign(bias)
    return flow


def _flow(steps=2, units=(16,), latent=3, context=5):
    flow = posteriors.InverseAutoregressiveFlow(steps, units)
    flow.build((None, latent), (None, context) if context else None)
    return _randomised(flow, scale=0.25)


def _numerical_jacobian(function, z, step=1e-3):
    """d function / d z by central differences, in float64: (dims, dims) for one z."""
    columns = []
    for j in range(len(z)):
        delta = np.zeros_like(z)
        delta[j] = step
        columns.append((function(z + delta) - function(z - delta)) / (2 * step))
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("context", [5, 0])
def test_log_det_matches_a_numerical_jacobian(context):
    flow = _flow(steps=3, context=context)
    rng = np.random.default_rng(1)
    z0 = rng.normal(size=(4, 3)).astype("float32")
    h = rng.normal(size=(4, context)).astype("float32") if context else None
    _, log_det = flow.flow(z0, h)
    for i in range(4):
        hi = None if h is None else h[i : i + 1]
        forward = lambda z, hi=hi: (
            flow.flow(z[None].astype("float32"), hi)[0].numpy()[0].astype("float64")
        )
        jacobian = _numerical_jacobian(forward, z0[i].astype("float64"))
        assert np.abs(jacobian - np.diag(np.diag(jacobian))).max() > 0.01  # not a diagonal case
        np.testing.assert_allclose(log_det[i], np.linalg.slogdet(jacobian)[1], atol=2e-3)


def test_one_step_is_autoregressive():
    flow = _flow(steps=1, latent=4)
    z0 = np.random.default_rng(2).normal(size=(1, 4)).astype("float32")
    h = np.ones((1, 5), "float32")
    jacobian = _numerical_jacobian(
        lambda z: flow.flow(z[None].astype("float32"), h)[0].numpy()[0], z0[0]
    )
    # Output d depends on z_<=d only: the Jacobian is lower triangular, and not diagonal.
    np.testing.assert_allclose(np.triu(jacobian, 1), 0, atol=1e-4)
    assert np.abs(np.tril(jacobian, -1)).max() > 0.01


def test_masks_follow_made_degrees():
    masks = flows.autoregressive_masks(3, (4,))
    # Output d's receptive field through the network: strictly earlier inputs.
    reach = (masks[0] @ masks[1]) > 0
    assert reach.tolist() == [[False, True, True], [False, False, True], [False, False, False]]


def test_the_flow_is_built_from_tfp_bijectors_and_runs_in_float32():
    flow = _flow()
    bijector = flows.bijector(flow.networks, tf.ones([2, 5]))
    # Chain applies its last first: step 1, the reversal, step 2.
    kinds = [type(b).__name__.lstrip("_") for b in bijector.bijectors]
    assert kinds == ["Invert", "Permute", "Invert"]
    assert type(bijector.bijectors[0].bijector).__name__.lstrip("_") == "MaskedAutoregressiveFlow"
    assert flows.bijector([]).forward(tf.ones([1, 2])).numpy().tolist() == [[1, 1]]
    z, log_det = flow.flow(tf.ones([2, 3], tf.bfloat16), tf.ones([2, 5], tf.bfloat16))
    assert z.dtype == log_det.dtype == tf.float32
    params = PosteriorParameters(tf.zeros([2, 3]), tf.zeros([2, 3]), tf.ones([2, 5]))
    np.testing.assert_allclose(  # the TFP distribution agrees with the draws' log q
        flow.distribution(params).log_prob(flow.sample(params, tf.ones([2, 3])).z),
        flow.sample(params, tf.ones([2, 3])).log_q,
        rtol=1e-4,
    )


def _pair(objective, num_samples, seed=3):
    """A Gaussian VAE and an IAF VAE with flow_steps=0, sharing encoder/decoder weights."""
    encoder = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, "tanh"), keras.layers.Dense(4)]
    )
    decoder = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(8, "tanh"), keras.layers.Dense(6)]
    )
    made = lambda: keras_vae.objectives.get(objective, num_samples=num_samples)
    gaussian = keras_vae.VAE(encoder, decoder, objective=made(), seed=seed)
    clone = keras_vae.VAE(
        keras.models.clone_model(encoder),
        keras.models.clone_model(decoder),
        posterior=posteriors.InverseAutoregressiveFlow(steps=0),
        objective=made(),
        seed=seed,
    )
    clone.set_weights(gaussian.get_weights())
    return gaussian, clone


@pytest.mark.parametrize("objective, k", [("elbo", 1), ("elbo", 3), ("iwae", 4)])
def test_zero_flow_steps_give_exactly_the_gaussian_loss(objective, k):
    gaussian, iaf = _pair(objective, k)
    x = np.random.default_rng(0).normal(size=(16, 6)).astype("float32")
    a, b = gaussian.loss_terms(x, training=True), iaf.loss_terms(x, training=True)
    assert sorted(a) == sorted(b) == ["kl_loss", "loss", "reconstruction_loss"]
    for name in a:
        np.testing.assert_array_equal(a[name].numpy(), b[name].numpy())


def test_the_kl_estimate_survives_a_far_mean_that_the_flow_brings_back():
    """A new MADE outputs its biases, so one step is z = sigma z0 + (1 - sigma) m: q(z|x) is a
    Gaussian whose KL is known. Here mu = 1e4 and the step maps it back near 0."""
    encoder = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    posterior = posteriors.InverseAutoregressiveFlow(steps=1, units=(8,))
    model = keras_vae.VAE(encoder, decoder, posterior=posterior, seed=0)
    kernel, bias = encoder.layers[0].get_weights()
    encoder.layers[0].set_weights([0 * kernel, np.array([1e4, -1e4, -10, -10], "float32")])
    sigma, m = 1 / (1 + np.exp(7.0)), np.array([-0.6, 0.4])  # gate logits -7
    made = model.posterior.networks[0]
    made.biases[-1].assign(np.r_[m, -7.0, -7.0].astype("float32"))
    mu = np.array([1e4, -1e4])
    mean, std = sigma * mu + (1 - sigma) * m, sigma * np.exp(-5.0) * np.ones(2)
    exact = np.sum(0.5 * (mean**2 + std**2 - 1) - np.log(std))
    x = np.zeros((4096, 3), "float32")
    kl = model.loss_terms(x, training=True)["kl_loss"].numpy().astype("float64")
    # The Rao-Blackwellised form's noise here is |mu| * sigma0 = 67 nats per draw.
    assert np.abs(kl.mean() - exact) < 0.05 and kl.std() < 1.0


def test_the_kl_estimate_is_unbiased_for_an_identity_flow():
    model = small_iaf(posterior=posteriors.InverseAutoregressiveFlow(steps=1, units=(16,)))
    for made in model.posterior.networks:  # gates fully open: sigma = 1, z = z0, log det = 0
        made.biases[-1].assign(np.r_[np.zeros(4), np.full(4, 30.0)].astype("float32"))
    x = np.random.default_rng(0).random((1, 28, 28, 1)).astype("float32")
    eps = np.random.default_rng(1).normal(size=(4000, 1, 4)).astype("float32")
    estimates = model.evidence(x, eps)["kl"].numpy()[:, 0].astype("float64")
    params = model.posterior_parameters(tf.constant(x))
    mu, log_var = params.mean.numpy()[0], params.log_var.numpy()[0]
    closed_form = 0.5 * np.sum(np.exp(log_var) + mu**2 - 1.0 - log_var)
    assert abs(estimates.mean() - closed_form) < 4 * estimates.std() / np.sqrt(4000)
    assert estimates.std() > 0.1  # an estimate, not the closed form


# ---------------------------------------------------------------- a known posterior

# p(z) = N(0, I_2), p(x|z) = N(W z, 0.3^2 I_3): p(z|x) is Gaussian with a full covariance.
W = np.array([[1.0, 0.9], [0.9, 1.0], [0.5, 0.6]], np.float32)
NOISE = 0.3


def _linear_gaussian_model(posterior, **flow):
    encoder_outputs = 2 + (1 if posterior == "iaf" else 0)
    x = keras.Input((3,))
    hidden = keras.layers.Dense(32, "tanh")(x)
    heads = [keras.layers.Dense(2)(hidden), keras.layers.Dense(2)(hidden)]
    if encoder_outputs == 3:
        heads.append(keras.layers.Dense(8)(hidden))
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, use_bias=False)])
    decoder.layers[0].set_weights([W.T])
    decoder.trainable = False
    likelihood = keras_vae.likelihoods.Gaussian(scale=NOISE)
    posterior = posteriors.get(posterior, **flow)
    model = keras_vae.VAE(
        keras.Model(x, heads), decoder, likelihood=likelihood, posterior=posterior, seed=0
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    return model


def _exact_log_px(x):
    covariance = W @ W.T + NOISE**2 * np.eye(3)
    _, log_det = np.linalg.slogdet(covariance)
    mahalanobis = np.einsum("ni,ij,nj->n", x, np.linalg.inv(covariance), x)
    return -0.5 * (mahalanobis + log_det + 3 * np.log(2 * np.pi))


def test_iaf_closes_the_gap_a_diagonal_posterior_cannot():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(512, 2)) @ W.T + NOISE * rng.normal(size=(512, 3))).astype("float32")
    precision = np.eye(2) + W.T @ W / NOISE**2  # of p(z|x), the same for every x
    # KL(q || p(z|x)) of the best diagonal Gaussian q: the least gap a diagonal q can have.
    best_diagonal_gap = 0.5 * (np.sum(np.log(np.diag(precision))) - np.linalg.slogdet(precision)[1])
    assert best_diagonal_gap > 0.5  # the posterior is far from diagonal
    gaps = {}
    for posterior, flow in (("gaussian", {}), ("iaf", dict(steps=2, units=(32,)))):
        keras.utils.set_random_seed(0)
        model = _linear_gaussian_model(posterior, **flow)
        model.fit(x, batch_size=64, epochs=60, verbose=0)
        elbo = evaluate.elbo(model, x, num_samples=64)
        gaps[posterior] = float(np.mean(_exact_log_px(x) - elbo))
    assert gaps["gaussian"] > best_diagonal_gap - 0.05  # what theory allows it
    assert gaps["iaf"] < 0.5 * best_diagonal_gap  # beyond any diagonal posterior


# ---------------------------------------------------------------- the VAE around it


def small_iaf(**kwargs):
    kwargs.setdefault("posterior", posteriors.InverseAutoregressiveFlow(steps=2, units=(16,)))
    architecture = dict(encoder_filters=(8, 16), dense_units=32)
    return keras_vae.VAE.from_shape((28, 28, 1), 4, architecture=architecture, seed=0, **kwargs)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: posteriors.get("iaf", steps=-1), r"steps\. Expected an int >= 0.*steps=-1"),
        (
            lambda: small_iaf(objective=keras_vae.objectives.ELBO(free_bits=0.5)),
            r"free_bits\. Expected 0 with posterior='iaf' and prior='standard_normal'",
        ),
        (
            lambda: posteriors.get("planar"),
            r"posterior\. Expected one of \['gaussian', 'iaf'\].*'planar'",
        ),
        (lambda: posteriors.get("gaussian", steps=2), r"Unrecognized keyword arguments.*steps"),
        (lambda: posteriors.get("iaf", units=()), r"units"),
        (
            lambda: keras_vae.models.recipes.build({"flow_steps": 2}, (28, 28, 1)),
            r"flow_steps\. Expected None with posterior='gaussian', which takes no steps",
        ),
    ],
)
def test_bad_posterior_arguments_are_named(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_a_context_output_needs_the_iaf_posterior():
    encoder = keras_vae.networks.mlp_encoder((5,), 2, context_dim=3)
    decoder = keras_vae.networks.mlp_decoder((5,), 2, 5)
    message = r"encoder\. Expected outputs \[z_mean, z_log_var\] for posterior='gaussian'"
    with pytest.raises(ValueError, match=message):
        keras_vae.VAE(encoder, decoder)
    model = keras_vae.VAE(encoder, decoder, posterior=posteriors.InverseAutoregressiveFlow(steps=1))
    assert model.context_dim == 3 and model.posterior.steps == 1


def test_default_networks_give_the_flow_its_context():
    model = small_iaf()
    assert model.encoder.get_layer("context").units == 16 == model.context_dim
    networks = model.posterior.networks
    assert len(networks) == 2 and networks[0].context_kernel is not None


def test_encode_is_the_base_mean_through_the_flow(shapes_images):
    model = small_iaf()
    _randomised(model.posterior, scale=0.2)
    x = shapes_images[0][:5]
    params = model.posterior_parameters(tf.constant(x))
    flowed = model.posterior.flow(params.mean, params.context)[0]
    encoded = model.encode(x)
    np.testing.assert_allclose(encoded[0], flowed, rtol=1e-6)
    np.testing.assert_allclose(encoded[1], params.log_var, rtol=1e-6)
    assert np.abs(encoded[0] - params.mean).max() > 1e-3  # the flow moved it
    decoded = model.likelihood.mean(model.decoder(encoded[0]))
    np.testing.assert_allclose(model.reconstruct(x), decoded, rtol=1e-5)


def test_save_and_load_with_safe_mode(tmp_path, shapes_images):
    model = small_iaf()
    model.compile(optimizer="adam")
    model.fit(shapes_images[0][:64], batch_size=32, epochs=1, verbose=0)
    path = str(tmp_path / "iaf.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert (loaded.posterior.alias, loaded.posterior.steps, loaded.posterior.units) == (
        "iaf",
        2,
        (16,),
    )
    x = shapes_images[0][:8]
    np.testing.assert_allclose(loaded.encode(x)[0], model.encode(x)[0], rtol=1e-6)
    a, b = (m.loss_terms(tf.constant(x))["loss"] for m in (model, loaded))
    assert np.isfinite(a.numpy()).all() and a.shape == b.shape
    loaded.fit(shapes_images[0][:64], batch_size=32, epochs=1, verbose=0)  # and trains on


def test_mixed_precision_keeps_the_flow_in_float32(shapes_images):
    model = small_iaf(dtype="mixed_bfloat16")
    model.compile(optimizer="adam")
    assert model.encoder.get_layer("conv_0").compute_dtype == "bfloat16"
    assert {w.dtype for w in model.posterior.weights} == {"float32"}
    history = model.fit(shapes_images[0][:128], batch_size=32, epochs=1, verbose=0)
    assert history.history["skipped_updates"] == [0.0] and np.isfinite(history.history["loss"][0])


def test_evaluate_uses_the_flow_as_proposal(shapes_images):
    model = small_iaf()
    _randomised(model.posterior, scale=0.2)
    x = (shapes_images[0][:6] > 0.5).astype("float32")
    log_px = evaluate.log_likelihood(model, x, num_samples=32)
    elbos = evaluate.elbo(model, x, num_samples=32)
    assert np.all(elbos <= log_px + 1e-4)
    # log q of the draws is the flow's: log q0(z0) - log |det|, from the TFP distribution too.
    params = model.posterior_parameters(tf.constant(x))
    draw = model.posterior.sample(params, tf.zeros([6, 4]))
    log_det = model.posterior.flow(params.mean, params.context)[1]
    np.testing.assert_allclose(
        draw.log_q, model.posterior.gaussian(params).log_prob(params.mean) - log_det, rtol=1e-5
    )
    np.testing.assert_allclose(
        model.posterior_distribution(x).log_prob(draw.z), draw.log_q, rtol=1e-3
    )
    report = evaluate.report(model, x, num_samples=16)
    assert report["kl_per_dim"] is None and report["kl"] > 0 and report["active_units"] >= 0
    json.dumps(report)
    with pytest.raises(
        ValueError, match=r"model\. Expected a model whose posterior and prior define a per-dim KL"
    ):
        evaluate.kl_per_dim(model, x)
    no_steps = small_iaf(posterior=posteriors.InverseAutoregressiveFlow(steps=0))  # no flow
    assert evaluate.kl_per_dim(no_steps, x).shape == (4,)


def test_conditional_vae_takes_the_flow_too():
    model = keras_vae.ConditionalVAE.from_shape(
        (28, 28, 1),
        2,
        num_classes=3,
        architecture=dict(encoder_filters=(8, 16), dense_units=16),
        posterior=posteriors.InverseAutoregressiveFlow(steps=1),
        seed=0,
    )
    model.compile(optimizer="adam")
    x = (np.random.default_rng(0).random((48, 28, 28, 1)) > 0.5).astype("float32")
    dataset = keras_vae.data.from_array(
        x, np.r_[np.arange(12) % 3, -np.ones(36)].astype("int32"), batch_size=16
    )
    history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert np.isfinite(evaluate.log_likelihood(model, x[:3], num_samples=4)).all()


@pytest.mark.slow
def test_savedmodel_and_tflite_match_keras(tmp_path, shapes_images):
    model = small_iaf()
    _randomised(model.posterior, scale=0.2)
    # publish() checks every SavedModel signature and every LiteRT runner against Keras.
    path, tflite_paths = export.publish(model, str(tmp_path / "iaf"), tflite_files=True)
    served = tf.saved_model.load(path).signatures["encode"](
        images=tf.constant(shapes_images[0][:2])
    )
    np.testing.assert_allclose(served["z_mean"], model.encode(shapes_images[0][:2])[0], atol=1e-5)
    assert sorted(tflite_paths) == ["decoder", "encoder"]


@pytest.mark.slow
def test_a_cli_style_run_with_the_flow_and_its_pictures(tmp_path):
    config = training.TrainConfig(
        out=str(tmp_path / "run"),
        epochs=1,
        num_examples=128,
        batch_size=32,
        latent_dim=4,
        posterior="iaf",
        flow_steps=1,
        flow_units=(8,),
        verbose=0,
        export_dir="",
    )
    result = training.train(config)
    assert result["model"].posterior.steps == 1
    pictures = sorted(p.name for p in (tmp_path / "run").rglob("*.png"))
    assert pictures, "the picture callbacks drew nothing"
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["posterior"] == "iaf" and saved["flow_units"] == [8]
