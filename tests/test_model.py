"""The VAE model: API, objective, training, serialization, distribution."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae
from keras_vae import likelihoods, objectives, posteriors

SMALL = dict(encoder_filters=(8, 16), dense_units=32)


def small_vae(input_shape=(28, 28, 1), latent_dim=4, architecture=None, **kwargs):
    architecture = {**SMALL, **(architecture or {})}
    return keras_vae.VAE.from_shape(
        input_shape, latent_dim, architecture=architecture, seed=0, **kwargs
    )


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (64, 64, 3), (16, 24, 1)])
def test_api_shapes_for_any_size_divisible_by_four(shape):
    model = small_vae(shape)
    assert model.likelihood.alias == ("gaussian" if shape[-1] == 3 else "bernoulli")
    images = np.random.default_rng(0).uniform(size=(3, *shape)).astype("float32")
    z_mean, z_log_var = model.encode(images)
    assert z_mean.shape == z_log_var.shape == (3, 4)
    for out in (model.decode(z_mean), model.reconstruct(images), model(images)):
        assert out.shape == (3, *shape) and out.dtype == tf.float32
    samples = model.sample(5, seed=1).numpy()
    assert samples.shape == (5, *shape)
    assert samples.min() >= 0.0 and samples.max() <= 1.0
    np.testing.assert_array_equal(samples, model.sample(5, seed=1).numpy())


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: small_vae(latent_dim=0), "latent_dim=0"),
        (lambda: small_vae(objective=objectives.ELBO(beta=-1.0)), "beta=-1.0"),
        (lambda: small_vae(objective=objectives.ELBO(free_bits=-0.5)), "free_bits=-0.5"),
        (lambda: small_vae(likelihood="poisson"), "likelihood='poisson'"),
        (lambda: small_vae((30, 30, 1)), "divisible by 4"),
        (lambda: small_vae((28, 28)), r"dense_units.*data shaped \(28, 28\)"),
        (lambda: small_vae(objective=objectives.ELBO(warmup_steps=-1)), "warmup_steps=-1"),
        (lambda: small_vae(architecture={"decoder_filters": (8, 8, 8, 8)}), "decoder_filters"),
        (lambda: small_vae(objective="vampprior"), "objective='vampprior'"),
        (lambda: small_vae(objective=objectives.IWAE(num_samples=0)), "num_samples=0"),
        (lambda: objectives.get("iwae", free_bits=0.5), "free_bits"),
        (lambda: objectives.ELBO(schedule="cyclical", warmup_steps=10), "cycle_steps"),
        (lambda: small_vae(architecture={"residual_blocks": -1}), "residual_blocks=-1"),
        (lambda: small_vae(architecture={"encoder_filters": ()}), "encoder_filters"),
        (
            lambda: small_vae(prior="uniform"),
            r"prior\. Expected one of \['mixture', 'standard_normal'\]",
        ),
        (lambda: keras_vae.VAE("encoder", None), "encoder"),
    ],
)
def test_bad_arguments_are_named(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_config_records_every_part_and_argument():
    objective = objectives.ELBO(
        beta=2.5,
        warmup_steps=10,
        free_bits=0.25,
        num_samples=3,
        schedule="cyclical",
        cycle_steps=30,
    )
    model = small_vae(
        (32, 32, 3),
        likelihood=likelihoods.Gaussian(scale=0.3),
        objective=objective,
        architecture={"decoder_filters": (12, 6), "kernel_size": 5, "residual_blocks": 1},
    )
    config = model.get_config()
    clone = keras_vae.VAE.from_config(config)
    assert clone.get_config() == config
    assert clone.objective.get_config() == objective.get_config()
    assert clone.likelihood.scale == 0.3 and clone.data_shape == (32, 32, 3)
    assert clone.decoder.get_layer("deconv_0").filters == 6  # the networks are the truth


def test_summary_and_save_work_before_fit(tmp_path):
    model = small_vae()
    model.summary(print_fn=lambda *a, **k: None)
    model.save(tmp_path / "fresh.keras")
    assert model.count_params() > 0


def test_keras_round_trip_and_resumed_training(tmp_path, shapes_images):
    train, _ = shapes_images
    model = small_vae()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(train[:256], batch_size=64, epochs=1, verbose=0)
    path = tmp_path / "vae.keras"
    model.save(path)

    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded, keras_vae.VAE)
    z = np.random.default_rng(1).normal(size=(4, 4)).astype("float32")
    for a, b in zip(model.encode(train[:8]), loaded.encode(train[:8])):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(model.decode(z).numpy(), loaded.decode(z).numpy())

    # The optimizer state came along: moments equal, and training carries on from step 4.
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 4
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    loaded.fit(train[:256], batch_size=64, epochs=1, verbose=0)
    assert int(loaded.optimizer.iterations) == 8


def test_training_reduces_held_out_loss(shapes_images):
    train, val = shapes_images
    model = small_vae(latent_dim=8)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    before = model.evaluate(val, batch_size=128, verbose=0, return_dict=True)
    history = model.fit(train, validation_data=val, batch_size=64, epochs=3, verbose=0)
    after = model.evaluate(val, batch_size=128, verbose=0, return_dict=True)
    assert set(history.history) == {
        "loss",
        "reconstruction_loss",
        "kl_loss",
        "skipped_updates",
        "val_loss",
        "val_reconstruction_loss",
        "val_kl_loss",
    }
    assert history.history["skipped_updates"] == [0.0, 0.0, 0.0]
    assert after["loss"] < 0.6 * before["loss"]
    assert history.history["val_loss"][-1] < history.history["val_loss"][0]
    assert after["kl_loss"] > 1.0  # the latent is used, not collapsed


def test_evaluate_gives_the_same_figure_every_call(shapes_images):
    model = small_vae()
    model.compile(optimizer="adam")
    model.fit(shapes_images[0][:128], batch_size=64, epochs=1, verbose=0)
    first = model.evaluate(shapes_images[1], batch_size=128, verbose=0)
    assert model.evaluate(shapes_images[1], batch_size=128, verbose=0) == first
    assert model.metrics_names == ["loss", "reconstruction_loss", "kl_loss"]
    assert len(first) == len(model.metrics_names)
    model.fit(
        shapes_images[0][:128], batch_size=64, epochs=1, verbose=0
    )  # training's noise moves on
    assert model.evaluate(shapes_images[1], batch_size=128, verbose=0) != first


def test_compile_refuses_a_loss_and_honours_metrics(shapes_images, tmp_path):
    model = small_vae()
    with pytest.raises(
        ValueError, match=r"argument loss\. Expected None: the model's loss is its own"
    ):
        model.compile(optimizer="adam", loss="mse")
    model.compile(optimizer="adam", metrics=["mae"])
    history = model.fit(shapes_images[0][:128], batch_size=64, epochs=1, verbose=0)
    images = shapes_images[1][:64]
    logs = model.evaluate(images, batch_size=64, verbose=0, return_dict=True)
    by_hand = np.mean(np.abs(model.reconstruct(images).numpy() - images))
    assert logs["mae"] == pytest.approx(by_hand, rel=1e-3)  # encode's point, without noise
    assert 0 < history.history["mae"][0] < 1
    path = tmp_path / "metrics.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert loaded.evaluate(images, batch_size=64, verbose=0, return_dict=True)[
        "mae"
    ] == pytest.approx(logs["mae"])


def _evaluate(model, images):
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    return model.evaluate(images, batch_size=len(images), verbose=0, return_dict=True)


def test_loss_is_reconstruction_plus_beta_kl(tiny_images):
    for beta in (1.0, 0.5):
        m = _evaluate(small_vae(objective=objectives.ELBO(beta=beta)), tiny_images)
        assert m["loss"] == pytest.approx(m["reconstruction_loss"] + beta * m["kl_loss"], rel=1e-5)


def test_kl_warmup_starts_at_zero(tiny_images):
    m = _evaluate(small_vae(objective=objectives.ELBO(warmup_steps=100)), tiny_images)
    assert m["kl_loss"] > 0
    assert m["loss"] == pytest.approx(m["reconstruction_loss"], rel=1e-6)


def test_free_bits_floor_the_kl_in_the_objective(tiny_images):
    m = _evaluate(small_vae(objective=objectives.ELBO(free_bits=2.0)), tiny_images)
    assert m["kl_loss"] < 4 * 2.0  # an untrained posterior is close to the prior
    assert m["loss"] == pytest.approx(m["reconstruction_loss"] + 4 * 2.0, rel=1e-4)


@pytest.mark.parametrize(
    "images, match",
    [
        (np.zeros((4, 28, 28, 1), np.uint8), "divide by 255"),
        (np.zeros((4, 28, 28), np.float32), r"\(None, 28, 28, 1\).*x\.shape=\(4, 28, 28\)"),
        (np.zeros((4, 28, 28, 3), np.float32), r"x\.shape=\(4, 28, 28, 3\)"),
        (np.zeros((4, 32, 32, 1), np.float32), r"x\.shape=\(4, 32, 32, 1\)"),
        (np.zeros((4, 30), np.float32), r"images \(height, width, channels\).*x\.shape=\(4, 30\)"),
        (np.full((4, 28, 28, 1), np.nan, np.float32), "NaN"),
        (np.full((4, 28, 28, 1), 2.0, np.float32), r"\[0, 1\]"),
        (np.zeros((0, 28, 28, 1), np.float32), "non-empty"),
    ],
)
def test_fit_rejects_bad_arrays(images, match):
    model = small_vae()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=match):
        model.fit(images, epochs=1, verbose=0)


def test_gaussian_accepts_values_outside_unit_interval():
    model = small_vae(likelihood="gaussian")
    model.compile(optimizer="adam")
    model.fit(np.full((8, 28, 28, 1), 1.5, np.float32), epochs=1, verbose=0)


@pytest.mark.parametrize(
    "dataset, match",
    [
        (tf.data.Dataset.from_tensors(tf.zeros([4, 28, 28, 1], tf.uint8)), "divide by 255"),
        (tf.data.Dataset.from_tensors(tf.zeros([4, 28, 28, 1])).take(0), "empty"),
        (
            tf.data.Dataset.from_tensors(tf.fill([4, 28, 28, 1], np.nan)),
            r"argument x\. Expected finite values.*NaN",
        ),
        (
            tf.data.Dataset.from_tensors(tf.fill([4, 28, 28, 1], -1.0)),
            r"\[0, 1\].*values from -1 to -1",
        ),
    ],
)
def test_fit_rejects_bad_datasets(dataset, match):
    model = small_vae()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=match):
        model.fit(dataset, epochs=1, verbose=0)


def test_encode_rejects_wrong_shapes_and_labels():
    model = small_vae()
    with pytest.raises(ValueError, match=r"x\.shape=\(2, 28, 28, 3\)"):
        model.encode(np.zeros((2, 28, 28, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(None, 4\).*z\.shape=\(2, 5\)"):
        model.decode(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"labels\. Expected None for a model without classes"):
        model.sample(2, labels=3)
    with pytest.raises(ValueError, match=r"argument y\. Expected None"):
        model.fit(np.zeros((4, 28, 28, 1), np.float32), np.zeros(4, int), verbose=0)


def _train_without_noise(strategy, images, steps, posterior):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = small_vae(posterior=posterior)
        model.noise.draw = lambda shape: tf.zeros(shape)  # z = mu: replicas comparable
        model.compile(optimizer=keras.optimizers.SGD(0.05))
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(32).take(steps)
    model.fit(dataset, epochs=1, verbose=0, shuffle=False)
    return [w.numpy() for w in model.weights]


@pytest.mark.parametrize("posterior", ["gaussian", "iaf"])
def test_two_replicas_make_the_same_update_as_one_device(shapes_images, mirrored, posterior):
    images = shapes_images[0][:96]
    one = _train_without_noise(tf.distribute.OneDeviceStrategy("/cpu:0"), images, 3, posterior)
    two = _train_without_noise(mirrored, images, 3, posterior)
    assert len(one) == len(two)
    for a, b in zip(one, two):
        # float32 sums differ by CPU kernel: 1.7e-5 on weights near 1.3 on some machines.
        np.testing.assert_allclose(a, b, rtol=5e-5, atol=1e-5)


class _NaNGradientsOn(keras.callbacks.Callback):
    """Makes the decoder output NaN for the given (0-based) batches of epoch 0."""

    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def on_train_batch_begin(self, batch, logs=None):
        bias = self.model.decoder.get_layer("params").bias
        if batch in self.batches:
            self.saved = bias.numpy()
            bias.assign(np.full(bias.shape, np.nan, np.float32))
        elif hasattr(self, "saved"):
            bias.assign(self.saved)
            del self.saved


def test_non_finite_steps_are_skipped_and_counted(shapes_images):
    model = small_vae()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    images = shapes_images[0][:256]
    callback = _NaNGradientsOn({2, 5})
    history = model.fit(images, batch_size=32, epochs=1, verbose=0, callbacks=[callback])
    assert history.history["skipped_updates"] == [2.0]
    assert int(model.optimizer.iterations) == 8 - 2  # the two bad steps did not happen
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_float32_updates_equal_the_bare_optimizer(shapes_images):
    """The LossScaleOptimizer wrapper at scale 1 changes nothing in float32."""
    images = shapes_images[0][:128]
    weights = []
    for wrap in (True, False):
        keras.utils.set_random_seed(1)
        model = small_vae()
        model.noise.draw = lambda shape: tf.zeros(shape)
        optimizer = keras.optimizers.Adam(1e-3)
        if wrap:
            model.compile(optimizer=optimizer)
        else:
            keras.Model.compile(model, optimizer=optimizer)
        model.fit(images, batch_size=32, epochs=1, verbose=0, shuffle=False)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_iwae_with_one_sample_is_the_elbo_and_tightens_with_more(tiny_images):
    many = np.tile(tiny_images, (64, 1, 1, 1))
    weights = small_vae().get_weights()

    def evaluate(objective):
        model = small_vae(objective=objective)
        model.set_weights(weights)  # the same network and noise for every variant
        return _evaluate(model, many)

    elbo, iwae1 = evaluate("elbo"), evaluate("iwae")
    # Same z draws; IWAE(k=1) estimates the KL by Monte Carlo instead of analytically.
    assert iwae1["reconstruction_loss"] == pytest.approx(elbo["reconstruction_loss"], rel=1e-6)
    assert iwae1["loss"] == pytest.approx(elbo["loss"], abs=0.1)
    elbo_k = evaluate(objectives.ELBO(num_samples=16))
    iwae_k = evaluate(objectives.IWAE(num_samples=16))
    assert iwae_k["loss"] < elbo_k["loss"]  # a tighter bound: lower -log p(x) estimate
    assert iwae_k["reconstruction_loss"] == pytest.approx(elbo_k["reconstruction_loss"], rel=1e-5)


def test_iwae_training_and_residual_blocks(shapes_images):
    model = small_vae(objective=objectives.IWAE(num_samples=4), architecture={"residual_blocks": 1})
    assert model.count_params() > small_vae().count_params()
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    history = model.fit(shapes_images[0][:256], batch_size=32, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]


def test_logistic_likelihood_on_rgb_8bit_images():
    rng = np.random.default_rng(0)
    images = (rng.integers(0, 256, size=(32, 16, 16, 3)) / 255.0).astype("float32")
    model = small_vae((16, 16, 3), likelihood="logistic")
    assert model.decoder.output.shape[-1] == 6  # mean and log-scale per channel
    model.compile(optimizer="adam")
    history = model.fit(images, batch_size=16, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.reconstruct(images[:2]).shape == (2, 16, 16, 3)


def test_parts_are_taken_as_names_configs_or_instances():
    iaf = posteriors.InverseAutoregressiveFlow(steps=1, units=(8,))
    for identifier in (iaf, keras.saving.serialize_keras_object(iaf)):
        model = small_vae(posterior=identifier)
        assert model.posterior.steps == 1 and model.posterior.units == (8,)
    assert isinstance(small_vae(posterior="iaf").posterior, posteriors.InverseAutoregressiveFlow)
    with pytest.raises(
        ValueError, match=r"argument posterior\. Expected one of \['gaussian', 'iaf'\]"
    ):
        posteriors.get(3)
