"""The hierarchical VAE (models/hierarchical.py): top-down inference through the model
interface, so that `fit`, `evaluate`, `export`, saving and the CLI take it unchanged."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import keras_vae
from keras_vae import evaluate, export
from keras_vae.models.hierarchical import HierarchicalVAE
from keras_vae.models.top_down import bottom_up, gaussian_kl

ARCHITECTURE = dict(encoder_filters=(8, 16), dense_units=32)


def hierarchy(latent_dims=(6, 3), **kwargs):
    return HierarchicalVAE.from_shape(
        (28, 28, 1),
        latent_dims=latent_dims,
        top_down_units=16,
        architecture=ARCHITECTURE,
        seed=0,
        **kwargs,
    )


def binary(n, seed=0):
    return (np.random.default_rng(seed).uniform(size=(n, 28, 28, 1)) < 0.3).astype(np.float32)


def test_with_one_layer_it_is_exactly_the_plain_vae():
    model = hierarchy(latent_dims=(4,))
    top = model.stochastic_layers[0]
    h = model.encoder.output
    encoder = keras.Model(
        model.encoder.inputs[0], [top.posterior_mean(h), top.clamp(top.posterior_log_var(h))]
    )
    plain = keras_vae.VAE(encoder, model.decoder, seed=0)
    x = binary(8)
    ours, theirs = model.loss_terms(x), plain.loss_terms(x)  # the same seeded noise
    for name in ("loss", "reconstruction_loss", "kl_loss"):
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-6, err_msg=name)
    np.testing.assert_allclose(ours["kl_z1"], theirs["kl_loss"], rtol=1e-6)
    eps = np.random.default_rng(1).normal(size=(5, 8, 4)).astype(np.float32)
    for key in ("log_weights", "elbo", "kl"):
        np.testing.assert_allclose(
            model.evidence(x, eps)[key], plain.evidence(x, eps)[key], rtol=1e-6, err_msg=key
        )
    np.testing.assert_allclose(model.encode(x)[0], plain.encode(x)[0])
    np.testing.assert_allclose(model.sample(4, seed=3), plain.sample(4, seed=3), atol=1e-6)
    np.testing.assert_allclose(model.reconstruct(x), plain.reconstruct(x), atol=1e-6)
    np.testing.assert_allclose(model.kl_per_dim(x), plain.kl_per_dim(x), rtol=1e-6)


def test_each_layers_kl_is_the_closed_form_given_the_layers_above():
    q_mean, q_log_var, p_mean, p_log_var = np.random.default_rng(0).normal(size=(4, 3, 5))
    q = tfp.distributions.Normal(q_mean, np.exp(0.5 * q_log_var))
    p = tfp.distributions.Normal(p_mean, np.exp(0.5 * p_log_var))
    np.testing.assert_allclose(
        gaussian_kl(q_mean, q_log_var, p_mean, p_log_var), q.kl_divergence(p), rtol=1e-5
    )
    # Given the draws above, each layer's KL is the expectation of log q - log p over its
    # own draw: the same mean over many draws, and quieter.
    model, x = hierarchy(), binary(4)
    k = 4000
    eps = np.random.default_rng(2).normal(size=(k * 4, model.noise_dim)).astype(np.float32)
    terms, layer_kls = model._terms(x, eps, k, False)
    kl = terms.kl.numpy().astype(np.float64)
    log_ratio = (terms.log_q - terms.log_pz).numpy().astype(np.float64)
    se = log_ratio.std(axis=0) / np.sqrt(k)
    assert np.all(np.abs(kl.mean(axis=0) - log_ratio.mean(axis=0)) < 5 * se)
    assert np.all(kl.std(axis=0) < log_ratio.std(axis=0))
    np.testing.assert_allclose(sum(layer_kls), kl.mean(axis=0), rtol=1e-4)
    found = model.evidence(x, eps.reshape(k, 4, -1))
    np.testing.assert_allclose(found["kl"], kl, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(found["log_weights"], -log_ratio + terms.log_px, rtol=1e-5)
    one = model.loss_terms(x)
    np.testing.assert_allclose(one["kl_loss"], one["kl_z1"] + one["kl_z2"], rtol=1e-5)


def test_fit_logs_each_layers_kl_and_evaluate_reports_each_layer(shapes_images):
    model = hierarchy(objective=keras_vae.objectives.ELBO(warmup_steps=10))
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    history = model.fit(shapes_images[0][:256], batch_size=32, epochs=2, verbose=0).history
    assert {"kl_z1", "kl_z2", "kl_loss", "reconstruction_loss"} <= set(history)
    assert history["loss"][1] < history["loss"][0]
    np.testing.assert_allclose(
        np.add(history["kl_z1"], history["kl_z2"]), history["kl_loss"], rtol=1e-4
    )
    report = evaluate.report(model, shapes_images[1][:32], num_samples=8)
    assert set(report["kl_per_layer"]) == set(report["active_units_per_layer"]) == {"z1", "z2"}
    assert sum(report["kl_per_layer"].values()) == pytest.approx(report["kl"], rel=1e-4)
    assert report["nll"] <= report["neg_elbo"]
    units = evaluate.active_units_per_layer(model, shapes_images[1][:64])
    assert set(units) == {"z1", "z2"} and 0 <= units["z2"] <= 3
    shifts = model.posterior_shifts(shapes_images[1][:5])
    assert shifts["z1"].shape == (5, 6) and shifts["z2"].shape == (5, 3)
    np.testing.assert_allclose(shifts["z2"], model.encode(shapes_images[1][:5])[0])


def test_a_collapsed_layer_shows_no_active_units_though_its_mean_moves_with_x(shapes_images):
    model = hierarchy()
    layer = model.stochastic_layers[0]  # z1: make q(z1 | x, z2) its prior p(z1 | z2)
    for head in (layer.posterior_mean, layer.posterior_log_var):
        head.kernel.assign(np.zeros(head.kernel.shape, np.float32))
        head.bias.assign(np.zeros(head.bias.shape, np.float32))
    layer.prior_mean.kernel.assign(np.random.default_rng(0).normal(size=(16, 6)).astype("f4"))
    x = shapes_images[1][:64]
    activity = evaluate.layer_activity(model, x)
    assert activity["z1"].max() < 1e-12 and activity["z2"].min() > 1e-8
    assert evaluate.active_units_per_layer(model, x, threshold=1e-8) == {"z1": 0, "z2": 3}
    report = evaluate.report(model, x, num_samples=4)
    assert report["kl_per_layer"]["z1"] == pytest.approx(0.0, abs=1e-5)
    # Its means follow z2's through the prior: Burda's measure alone would count them.
    _, draws = model._pass(model._features(x, False))
    assert np.var(np.asarray(draws[0].z), axis=0).min() > 1e-5


def test_sampling_with_a_temperature_and_decoding_from_the_top():
    model = hierarchy()
    cold, hot = model.sample(6, seed=1, temperature=1e-4), model.sample(6, seed=1)
    np.testing.assert_array_equal(hot, model.sample(6, seed=1))  # seeded
    # Near temperature 0 every layer sits at its prior mean: decode(0) with the rest at means.
    np.testing.assert_allclose(cold, model.decode(np.zeros((6, 3), np.float32)), atol=1e-3)
    assert np.abs(np.asarray(hot) - np.asarray(cold)).max() > 1e-3
    z = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    assert model.decode(z).shape == (4, 28, 28, 1)
    drawn = model.decode(z, temperature=1.0, seed=2)
    np.testing.assert_array_equal(drawn, model.decode(z, temperature=1.0, seed=2))
    for bad in (0.0, -1.0, float("nan"), "1"):
        with pytest.raises(ValueError, match="argument temperature. Expected a finite float > 0"):
            model.sample(2, temperature=bad)
    with pytest.raises(ValueError, match="temperature. Expected a finite float >= 0"):
        model.decode(z, temperature=-0.5)
    with pytest.raises(ValueError, match="temperature"):
        keras_vae.VAE.from_shape((28, 28, 1), 2, architecture=ARCHITECTURE).sample(2, temperature=0)


def test_layer_sizes_that_do_not_fit_the_networks_are_named_with_both_shapes():
    built = keras_vae.networks.build((28, 28, 1), 6 + 16, **ARCHITECTURE)
    encoder = bottom_up(built["encoder"], 2, 16)
    with pytest.raises(
        ValueError,
        match=r"latent_dims\. Expected one entry per feature of the encoder: it gives 2 of "
        r"shapes \[\(None, 32\), \(None, 16\)\].*Received: latent_dims=3 layers",
    ):
        HierarchicalVAE(encoder, built["decoder"], latent_dims=(6, 3, 2), top_down_units=16)
    with pytest.raises(
        ValueError,
        match=r"decoder\. Expected an input of shape \(None, 24\) \(the top-down path's output: "
        r"\[s, z1\] for latent_dims=\[8, 3\].*Received: decoder=a decoder whose input has "
        r"shape \(None, 22\)",
    ):
        HierarchicalVAE(encoder, built["decoder"], latent_dims=(8, 3), top_down_units=16)
    with pytest.raises(ValueError, match="latent_dim. Expected None or the top layer's width"):
        HierarchicalVAE.from_shape((28, 28, 1), 4, latent_dims=(6, 3))
    with pytest.raises(ValueError, match="posterior. Expected 'gaussian' for a HierarchicalVAE"):
        hierarchy(posterior="iaf")
    with pytest.raises(ValueError, match="components=0"):
        hierarchy(prior=keras_vae.models.mixture_prior.MixtureOfGaussians(components=0))
    with pytest.raises(ValueError, match="latent_dims"):
        hierarchy(latent_dims=(6, 0))


def test_a_learned_top_prior_and_free_bits_over_every_layer(shapes_images):
    mixture = hierarchy(prior="mixture")
    x = shapes_images[1][:4]
    assert mixture.kl_per_dim(x) is None and mixture.sample_noise_dim == 6 + 3 + 1
    per_layer = evaluate.kl_per_layer(mixture, x)
    assert set(per_layer) == {"z1", "z2"} and np.isfinite(list(per_layer.values())).all()
    terms = mixture.loss_terms(x)
    assert np.all(np.isfinite(terms["kl_z2"])) and terms["kl_loss"].shape == (4,)
    floored = hierarchy(objective=keras_vae.objectives.ELBO(free_bits=0.5))
    eps = np.random.default_rng(0).normal(size=(4, 9)).astype(np.float32)
    terms, _ = floored._terms(x, eps, 1, False)
    assert terms.kl_per_dim.shape == (4, 9)  # z1's 6 dims, then z2's 3
    np.testing.assert_allclose(np.sum(terms.kl_per_dim, -1), terms.kl[0], rtol=1e-5)
    want = -terms.log_px[0] + np.maximum(terms.kl_per_dim, 0.5).sum(-1)
    np.testing.assert_allclose(floored.objective(terms, 0), want, rtol=1e-5)
    assert floored.kl_per_dim(x).shape == (4, 9)


def test_the_unchanged_tools_save_export_and_load_it(tmp_path, shapes_images):
    model = hierarchy()
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    model.fit(shapes_images[0][:128], batch_size=32, epochs=1, verbose=0)
    path, tflite = export.publish(model, tmp_path / "hvae", tflite_files=True)  # parity-checked
    served = tf.saved_model.load(path).signatures
    eps = np.random.default_rng(3).normal(size=(4, model.sample_noise_dim)).astype(np.float32)
    np.testing.assert_allclose(served["sample"](eps=eps)["images"], model._generate(eps), atol=1e-5)
    z = np.random.default_rng(4).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(served["decode"](z=z)["images"], model.decode(z), atol=1e-5)
    assert sorted(tflite) == ["decoder", "encoder"]
    model.save(tmp_path / "hvae.keras")
    loaded = keras.models.load_model(tmp_path / "hvae.keras", safe_mode=True)
    assert isinstance(loaded, HierarchicalVAE) and loaded.latent_dims == (6, 3)
    x = shapes_images[1][:4]
    np.testing.assert_array_equal(loaded.reconstruct(x), model.reconstruct(x))
    np.testing.assert_array_equal(loaded.sample(3, seed=5), model.sample(3, seed=5))
