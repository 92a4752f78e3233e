"""Your own encoder and decoder, for images, sequences and vectors: build, train, save, score."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae
from keras_vae import data, evaluate, export, networks

HELPERS = os.path.join(os.path.dirname(__file__), "helpers")
sys.path.insert(0, HELPERS)
import custom_networks  # noqa: E402


def vector_networks(features=6, latent=3, split=True):
    encoder = keras.Sequential(
        [
            keras.Input((features,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(2 * latent if split else latent),
        ]
    )
    decoder = keras.Sequential(
        [
            keras.Input((latent,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(features),
        ]
    )
    return encoder, decoder


def functional_image_networks(latent=2):
    images = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(images)
    encoder = keras.Model(images, [keras.layers.Dense(latent)(x), keras.layers.Dense(latent)(x)])
    z = keras.Input((latent,))
    decoder = keras.Model(z, keras.layers.Reshape((8, 8, 1))(keras.layers.Dense(64)(z)))
    return encoder, decoder


def _built_for(latent):
    """A subclassed decoder already built for another latent width (it declares no input)."""
    decoder = custom_networks.TwoLayerDecoder(6)
    decoder(np.zeros((1, latent), "float32"))
    return decoder


def correlated_table(n=256, features=6, seed=0):
    """Standardized features driven by two hidden factors: what a tabular VAE should model."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)) @ rng.normal(size=(2, features)) + 0.1 * rng.normal(
        size=(n, features)
    )
    return ((x - x.mean(0)) / x.std(0)).astype("float32")


def test_shapes_and_latent_width_are_read_from_the_networks():
    encoder, decoder = vector_networks()
    model = keras_vae.VAE(encoder, decoder)
    assert model.data_shape == (6,) and model.latent_dim == 3 and model.split_encoder_output
    assert model.likelihood.alias == "gaussian"  # the default for vectors, as on the command line
    images_model = keras_vae.VAE(*functional_image_networks())
    assert images_model.data_shape == (8, 8, 1) and not images_model.split_encoder_output
    z_mean, z_log_var = images_model.encode(np.zeros((5, 8, 8, 1), "float32"))
    assert z_mean.shape == z_log_var.shape == (5, 2)
    assert images_model.decode(np.zeros((5, 2))).shape == (5, 8, 8, 1)


def test_a_tabular_vae_learns_and_its_gaussian_mean_is_unbounded():
    x = correlated_table()
    model = keras_vae.VAE(*vector_networks(), seed=0)
    assert model.likelihood.mean_activation == "linear"
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(data.from_array(x, batch_size=32, seed=0), epochs=8, verbose=0)
    losses = history.history["loss"]
    independent = 6 * 0.5 * np.log(2 * np.pi * np.e)  # -log p of six independent N(0, 1) features
    assert losses[-1] < losses[0] and losses[-1] < independent - 1.0  # it models the correlations
    recon = model.reconstruct(x[:64]).numpy()
    assert recon.min() < -1.0 and recon.max() > 1.0  # standardized values, not squashed into [0, 1]
    assert np.mean((recon - x[:64]) ** 2) < 0.5  # two factors through a 3-d latent


@pytest.mark.parametrize("shape", [(12,), (10, 3), (8, 8, 1)])
def test_default_networks_fit_every_data_shape(shape):
    model = keras_vae.VAE.from_shape(shape, 2, likelihood="gaussian", seed=0)
    conv = len(shape) == 3
    assert (
        (model.encoder.get_layer("conv_0") is not None)
        if conv
        else model.encoder.get_layer("hidden_0")
    )
    x = np.random.default_rng(0).uniform(size=(40, *shape)).astype("float32")
    model.compile(optimizer="adam")
    model.fit(data.from_array(x, batch_size=8), epochs=1, verbose=0)
    assert model.sample(3, seed=0).shape == (3, *shape)
    assert model.reconstruct(x[:2]).shape == (2, *shape)


def test_likelihoods_are_independent_over_every_axis_of_an_example():
    model = keras_vae.VAE.from_shape((5, 3), 2, likelihood="bernoulli", seed=0)
    params = np.random.default_rng(1).normal(size=(4, 5, 3)).astype("float32")
    x = (np.random.default_rng(2).uniform(size=(4, 5, 3)) > 0.5).astype("float32")
    log_prob = model.likelihood.log_prob(params, x).numpy()
    by_hand = (x * -np.logaddexp(0, -params) + (1 - x) * -np.logaddexp(0, params)).sum(axis=(1, 2))
    np.testing.assert_allclose(log_prob, by_hand, rtol=1e-5)
    # Extra leading axes (importance samples) stay batch axes.
    assert model.likelihood.log_prob(np.stack([params] * 7), x).shape == (7, 4)


def test_from_array_keeps_vectors_and_sequences_as_they_are():
    vectors = data.from_array(np.zeros((10, 30), np.float32), batch_size=4)
    sequences = data.from_array(np.full((10, 20, 2), -3.0, np.float32), batch_size=4, shuffle=False)
    assert vectors.element_spec.shape.as_list() == [None, 30]
    assert sequences.element_spec.shape.as_list() == [None, 20, 2]
    assert next(iter(sequences)).numpy().min() == -3.0  # any finite values
    greys = data.from_array(np.zeros((10, 28, 28), np.uint8))  # uint8 keeps its image handling
    assert greys.element_spec.shape.as_list() == [None, 28, 28, 1]
    with pytest.raises(ValueError, match="image_size"):
        data.from_array(np.zeros((10, 30), np.float32), image_size=8)


@pytest.mark.parametrize(
    "build, match",
    [
        (
            lambda: keras_vae.VAE(
                keras.Sequential([keras.Input((6,)), keras.layers.Dense(7)]), vector_networks()[1]
            ),
            r"encoder.*even width.*\(None, 7\)",
        ),
        (
            lambda: keras_vae.VAE(vector_networks(latent=3)[0], vector_networks(latent=4)[1]),
            r"decoder.*\(None, 3\).*\(None, 4\)",
        ),
        (
            lambda: keras_vae.VAE(vector_networks()[0], vector_networks(features=5)[1]),
            r"decoder.*\(None, 6\).*\(None, 5\)",
        ),
        (
            lambda: keras_vae.VAE(vector_networks(latent=3)[0], _built_for(4)),
            r"decoder.*\(batch, 3\).*fails",
        ),
        (
            lambda: keras_vae.VAE(
                functional_image_networks()[0],
                keras.Sequential(
                    [keras.Input((2,)), keras.layers.Dense(49), keras.layers.Reshape((7, 7, 1))]
                ),
            ),
            r"decoder.*\(None, 8, 8, 1\).*\(None, 7, 7, 1\)",
        ),
        (
            lambda: keras_vae.VAE(*vector_networks(), dense_units=8),
            "Unrecognized keyword arguments.*dense_units",
        ),
        (
            lambda: keras_vae.VAE.from_shape((12,), architecture={"encoder_filters": (8,)}),
            r"encoder_filters.*MLP",
        ),
        (
            lambda: keras_vae.VAE(
                custom_networks.TwoLayerEncoder(2), custom_networks.TwoLayerDecoder(6)
            ),
            "input_shape",
        ),
        (
            lambda: keras_vae.VAE(*vector_networks(), input_shape=(5,)),
            r"input_shape\. Expected the encoder's input shape \(6,\)",
        ),
    ],
)
def test_mismatched_networks_fail_at_construction_naming_both_shapes(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_a_vector_dataset_passed_to_a_conv_model_fails_before_training():
    model = keras_vae.VAE.from_shape((28, 28, 1), 2)
    model.compile(optimizer="adam")
    table = data.from_array(correlated_table(), batch_size=16)
    with pytest.raises(ValueError, match=r"\(None, 28, 28, 1\).*images.*\(None, 6\)"):
        model.fit(table, epochs=1, verbose=0)


def test_evaluate_scores_vector_and_sequence_models():
    x = correlated_table(64)
    model = keras_vae.VAE(*vector_networks(), seed=0)
    log_px = evaluate.log_likelihood(model, x, num_samples=32)
    elbo = evaluate.elbo(model, x, num_samples=32)
    assert log_px.shape == (64,) and np.all(elbo <= log_px + 1e-4)
    report = evaluate.report(model, x, num_samples=16)
    assert report["num_images"] == 64 and len(report["kl_per_dim"]) == 3
    assert "bits_per_dim" not in report  # standardized features are no 8-bit pixels
    sequences = keras_vae.VAE.from_shape((6, 2), 2, seed=0)
    assert evaluate.log_likelihood(
        sequences, x.reshape(64, 3, 2)[:, [0, 1, 2, 0, 1, 2]], num_samples=8
    ).shape == (64,)


NETWORKS = {
    "sequential": lambda: (*vector_networks(), {}),
    "functional": lambda: (*functional_image_networks(), {}),
    "subclassed": lambda: (
        custom_networks.TwoLayerEncoder(2),
        custom_networks.TwoLayerDecoder(6),
        {"input_shape": (6,)},
    ),
}

_LOAD_AND_DUMP = """
import json, sys
import keras, numpy as np
import keras_vae{extra}
model = keras.models.load_model(sys.argv[1], safe_mode=True)
x = np.load(sys.argv[2])
print(json.dumps({{"type": type(model).__name__, "latent_dim": model.latent_dim,
                   "encoded": np.asarray(model.encode(x)[0]).tolist(),
                   "decoded": np.asarray(model.decode(np.ones((2, model.latent_dim)))).tolist()}}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(NETWORKS))
def test_save_and_load_round_trip_in_a_fresh_process(kind, tmp_path):
    encoder, decoder, extra = NETWORKS[kind]()
    likelihood = "bernoulli" if kind == "functional" else "gaussian"
    model = keras_vae.VAE(
        encoder,
        decoder,
        likelihood=likelihood,
        objective=keras_vae.objectives.ELBO(beta=0.5),
        seed=3,
        **extra,
    )
    model.compile(optimizer="adam")
    x = np.random.default_rng(0).uniform(size=(4, *model.data_shape)).astype("float32")
    model.fit(x, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", x)
    # Only keras_vae is imported, plus the user's own module for a class of their own.
    extra_import = "\nimport custom_networks" if kind == "subclassed" else ""
    env = {**os.environ, "PYTHONPATH": HELPERS, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _LOAD_AND_DUMP.format(extra=extra_import),
            str(tmp_path / "m.keras"),
            str(tmp_path / "x.npy"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["type"] == "VAE" and loaded["latent_dim"] == model.latent_dim
    np.testing.assert_allclose(loaded["encoded"], model.encode(x)[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(
        loaded["decoded"], model.decode(np.ones((2, model.latent_dim))).numpy(), atol=1e-6
    )


@pytest.mark.slow
def test_a_sequence_model_exports_to_saved_model_and_tflite(tmp_path):
    model = keras_vae.VAE.from_shape((10, 2), 3, seed=0)
    path = export.saved_model(model, tmp_path / "seq")  # parity-checked inside
    loaded = tf.saved_model.load(path)
    x = np.random.default_rng(0).normal(size=(4, 10, 2)).astype("float32")
    encoded = loaded.signatures["encode"](x=tf.constant(x))
    np.testing.assert_allclose(encoded["z_mean"], model.encode(x)[0], atol=1e-5)
    assert loaded.signatures["reconstruct"](x=tf.constant(x))["x"].shape == (4, 10, 2)
    paths = export.tflite(model, tmp_path / "tflite")
    from ai_edge_litert.interpreter import Interpreter

    decode = Interpreter(model_path=paths["decoder"]).get_signature_runner("decode")
    np.testing.assert_allclose(
        decode(z=np.zeros((2, 3), np.float32))["x"], model.decode(np.zeros((2, 3))), atol=1e-5
    )


def test_from_preset_takes_overrides_and_your_own_networks():
    model = keras_vae.VAE.from_preset("keras_example", seed=0, latent_dim=3, learning_rate=5e-4)
    assert model.latent_dim == 3 and model.seed == 0
    assert float(model.optimizer.learning_rate) == pytest.approx(5e-4)
    encoder, decoder = functional_image_networks(2)
    own = keras_vae.VAE.from_preset("mnist", encoder=encoder, decoder=decoder)
    # The recipe (a flow posterior) with your networks: without a context output, the flow
    # depends on x through z_0 only.
    assert own.data_shape == (8, 8, 1) and own.posterior.alias == "iaf" and own.context_dim == 0
    with pytest.raises(ValueError, match="name='nope'"):
        keras_vae.VAE.from_preset("nope")
    with pytest.raises(ValueError, match=r"free_bits\. Expected 0 with posterior='iaf'"):
        keras_vae.VAE.from_preset("mnist", free_bits=0.5)


def test_a_positional_input_shape_is_named():
    with pytest.raises(
        ValueError, match=r"encoder\. Expected a Keras model or layer.*\(28, 28, 1\)"
    ):
        keras_vae.VAE((28, 28, 1), 16)


def test_the_readme_tabular_example_gets_near_the_true_density():
    """README's tabular snippet on a 500 x 30 table of N(0, 1) values: a Gaussian whose scale
    starts at the data's lands within a few nats of the true density (-42.6 nats)."""
    table = np.random.default_rng(0).normal(size=(500, 30)).astype("float32")
    true_log_px = float(np.mean(-0.5 * np.sum(table**2, axis=1) - 15 * np.log(2 * np.pi)))
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential(
        [keras.Input((30,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(2 * 4)]
    )
    decoder = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(30)]
    )
    model = keras_vae.VAE(encoder, decoder)
    model.compile(optimizer="adam")
    model.fit(keras_vae.data.from_array(table, batch_size=64), epochs=2, verbose=0)
    log_px = float(np.mean(keras_vae.evaluate.log_likelihood(model, table, num_samples=100)))
    assert abs(log_px - true_log_px) < 3.0, (log_px, true_log_px)


def test_builders_are_public_and_checked():
    assert networks.mlp_decoder((4, 3), latent_dim=2, param_channels=6).output_shape == (None, 4, 6)
    assert networks.conv_encoder((16, 16, 3), latent_dim=5).output_shape == [(None, 5), (None, 5)]
    with pytest.raises(ValueError, match="divisible by 4"):
        networks.conv_encoder((30, 30, 1), latent_dim=2)
