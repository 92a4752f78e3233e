"""keras_vae.evaluate's sample quality: confident reads and the Fréchet distance."""

import keras
import numpy as np
import pytest

import keras_vae
from keras_vae import evaluate
from keras_vae.data import shapes


def test_the_frechet_distance_has_its_closed_form():
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(4, 4))
    a = rng.normal(size=(3000, 4)) @ mixing  # correlated features
    shift = np.array([1.0, -2.0, 0.5, 0.0])
    # b = 2a + shift: S_b = 4 S_a, so tr(S_a + S_b - 2 (S_a S_b)^1/2) = tr(S_a) (1 - 2)^2.
    b = 2 * a + shift
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(np.cov(a, rowvar=False))
    assert evaluate.frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    assert evaluate.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    # Symmetric, and two halves of one sample are near each other.
    assert evaluate.frechet_distance(b, a) == pytest.approx(expected, rel=1e-9)
    assert evaluate.frechet_distance(a[:1500], a[1500:]) < 0.05 * expected


def test_confident_fraction_counts_rows_at_or_above_the_threshold():
    probabilities = [[0.9, 0.1], [0.5, 0.5], [0.05, 0.95], [0.89, 0.11]]
    assert evaluate.confident_fraction(probabilities) == 0.5
    assert evaluate.confident_fraction(probabilities, confidence=0.5) == 1.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: evaluate.confident_fraction([[0.5, 0.5]], 0.0), "confidence"),
        (lambda: evaluate.confident_fraction([[0.5, 0.5]], 1.5), "confidence"),
        (lambda: evaluate.confident_fraction([[2.0, -1.0]]), "summing to 1"),
        (lambda: evaluate.frechet_distance(np.zeros((5, 3)), np.zeros((5, 2))), "size 3"),
        (lambda: evaluate.frechet_distance(np.zeros((1, 3)), np.zeros((5, 3))), "N >= 2"),
    ],
)
def test_bad_arguments_name_themselves(call, match):
    with pytest.raises(ValueError, match=rf"Invalid value received for argument .*{match}"):
        call()


def _model():
    return keras_vae.VAE.from_shape(
        (16, 16, 1),
        latent_dim=2,
        architecture={"encoder_filters": (4,), "dense_units": 8, "decoder_filters": (4,)},
        seed=0,
    )


def test_sample_quality_reads_samples_and_real_examples_with_the_classifier():
    model = _model()
    real = shapes.generate(64, image_size=16, seed=1)[0]
    # A classifier whose confidence we know: class 0 for bright examples, 1 for dark ones.
    inputs = keras.Input((16, 16, 1))
    mean = keras.layers.GlobalAveragePooling2D(name="features")(inputs)
    logits = keras.layers.Concatenate()([40 * (mean - 0.12), -40 * (mean - 0.12)])
    classifier = keras.Model(inputs, keras.layers.Softmax()(logits))
    found = evaluate.sample_quality(model, classifier, real, num_samples=50, seed=3)
    samples = model.sample(50, seed=3 * 1_000_003)  # the first (and only) batch's seed
    brightness = keras.ops.convert_to_numpy(samples).mean((1, 2, 3))
    probs = keras.ops.convert_to_numpy(classifier(samples))
    assert found["confident_fraction"] == pytest.approx(np.mean(probs.max(-1) >= 0.9))
    real_probs = keras.ops.convert_to_numpy(classifier(real))
    assert found["real_confident_fraction"] == pytest.approx(np.mean(real_probs.max(-1) >= 0.9))
    real_means = real.mean((1, 2, 3))[:, None]
    expected = evaluate.frechet_distance(brightness[:, None], real_means)
    assert found["frechet_distance"] == pytest.approx(expected, rel=1e-4)
    assert (found["num_samples"], found["num_real"]) == (50, 64)
    # At a temperature, the samples are the model's at that temperature.
    cold = evaluate.sample_quality(model, classifier, real, num_samples=50, seed=3, temperature=0.5)
    samples = model.sample(50, seed=3 * 1_000_003, temperature=0.5)
    probs = keras.ops.convert_to_numpy(classifier(samples))
    assert cold["confident_fraction"] == pytest.approx(np.mean(probs.max(-1) >= 0.9))
    with pytest.raises(ValueError, match="argument temperature. Expected a finite float > 0"):
        evaluate.sample_quality(model, classifier, real, num_samples=50, temperature=0.0)


def test_sample_quality_refuses_classifiers_it_cannot_read():
    model, real = _model(), shapes.generate(8, image_size=16)[0]
    inputs = keras.Input((16, 16, 1))
    logits = keras.layers.Dense(3)(keras.layers.Flatten()(inputs))
    with pytest.raises(ValueError, match="end the classifier with a softmax"):
        evaluate.sample_quality(model, keras.Model(inputs, logits), real, num_samples=4)
    other = evaluate.classifier_network((28, 28, 1), num_classes=3)
    with pytest.raises(ValueError, match=r"examples of shape \(16, 16, 1\)"):
        evaluate.sample_quality(model, other, real, num_samples=4)

    class Subclassed(keras.Model):
        def call(self, x):
            return keras.ops.softmax(keras.ops.reshape(x, (-1, 256))[:, :3])

    with pytest.raises(ValueError, match="functional or Sequential"):
        evaluate.sample_quality(model, Subclassed(), real, num_samples=4)
    with pytest.raises(ValueError, match="argument classifier"):
        evaluate.sample_quality(model, "cnn.keras", real, num_samples=4)


@pytest.mark.slow
def test_a_trained_classifier_reads_held_out_shapes_and_not_noise():
    images, factors = shapes.generate(2300, seed=0, image_size=16)
    labels = factors["shape"]
    classifier = evaluate.train_classifier(
        images[:2000],
        labels[:2000],
        validation_data=(images[2000:2150], labels[2000:2150]),
        epochs=6,
        learning_rate=3e-3,
    )
    test = images[2150:]
    probs = classifier.predict(test, verbose=0)
    assert np.mean(probs.argmax(-1) == labels[2150:]) > 0.85  # seen: 0.95
    assert evaluate.confident_fraction(probs) > 0.4  # seen: 0.67
    # Noise lies far from real shapes in the features; other real shapes do not.
    features = keras.Model(classifier.inputs, classifier.get_layer("features").output)
    noise = np.random.default_rng(0).uniform(size=test.shape).astype("float32")
    f_real, f_noise, f_other = (
        features.predict(x, verbose=0) for x in (test, noise, images[2000:2150])
    )
    far, near = (evaluate.frechet_distance(f, f_real) for f in (f_noise, f_other))
    assert far > 5 * near
