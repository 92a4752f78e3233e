"""ConditionalVAE (M2): its loss, its methods, its networks, save/load and bad input."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae
from keras_vae import data

C = 3


def small_cvae(**kwargs):
    args = dict(num_classes=C, latent_dim=2, input_shape=(8, 8, 1), encoder_filters=(4,),
                dense_units=8, seed=0)  # fmt: skip
    return keras_vae.ConditionalVAE(**{**args, **kwargs})


def bars(n, seed=0):
    """8x8 images of one of 3 classes: a bright top, middle or bottom band, with noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, C, n).astype(np.int32)
    images = rng.uniform(0.0, 0.2, (n, 8, 8, 1)).astype(np.float32)
    for i, label in enumerate(labels):
        images[i, 3 * label:3 * label + 2] = rng.uniform(0.8, 1.0, (2, 8, 1))
    return images, labels


def _rows_with_state(model, function):
    """Calls `function` with the sampling noise of the model's current seed state."""
    state = model.sampling.seed_generator.state.numpy()
    result = function()
    model.sampling.seed_generator.state.assign(state)
    return result


def test_labelled_loss_is_the_conditional_elbo_plus_alpha_cross_entropy():
    model = small_cvae(alpha=2.5)
    x, y = bars(6)
    x, y = tf.constant(x), tf.constant(y)
    expected, _, _ = _rows_with_state(model, lambda: model._bound_terms(x, model._one_hot(y), False))
    terms = model.loss_terms(x, y)
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(y, model.classifier(x))
    np.testing.assert_allclose(terms["loss"], expected + math.log(C) + 2.5 * cross_entropy,
                               rtol=1e-5)  # fmt: skip
    assert terms["labelled"].numpy().tolist() == [1.0] * 6


def test_unlabelled_loss_is_expected_elbo_over_q_minus_entropy():
    model = small_cvae()
    x, _ = bars(4)
    x = tf.constant(x)
    rows_x = tf.repeat(x, C, axis=0)
    rows_y = model._one_hot(tf.tile(tf.range(C), [4]))
    per_class, _, _ = _rows_with_state(model, lambda: model._bound_terms(rows_x, rows_y, False))
    terms = model.loss_terms(x, tf.fill([4], -1))
    q = tf.nn.softmax(model.classifier(x)).numpy()
    per_class = per_class.numpy().reshape(4, C) + math.log(C)
    expected = (q * per_class).sum(-1) + (q * np.log(q)).sum(-1)
    np.testing.assert_allclose(terms["loss"], expected, rtol=1e-5)
    assert terms["labelled"].numpy().sum() == 0


def test_a_mixed_batch_puts_each_example_back_in_its_place():
    model = small_cvae(objective="iwae", num_samples=3)
    x, y = bars(6)
    y[[1, 4]] = -1
    keras.utils.set_random_seed(0)
    mixed = model.loss_terms(tf.constant(x), tf.constant(y))
    # The classifier terms count for the labelled examples only, in place.
    logits = model.classifier(x)
    correct = (np.argmax(logits, -1) == y).astype(np.float32)
    np.testing.assert_array_equal(mixed["labelled"], (y >= 0).astype(np.float32))
    np.testing.assert_array_equal(mixed["accuracy"], np.where(y >= 0, correct, 0.0))
    assert np.all(mixed["classifier_loss"].numpy()[[1, 4]] == 0)
    assert np.all(mixed["classifier_loss"].numpy()[[0, 2, 3, 5]] > 0)


def test_unlabelled_examples_train_the_classifier():
    model = small_cvae()
    x, _ = bars(8)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model.loss_terms(tf.constant(x), tf.fill([8], -1))["loss"])
    gradients = tape.gradient(loss, model.classifier.trainable_variables)
    assert all(g is not None for g in gradients)
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in gradients) > 0


def test_few_labels_and_many_unlabelled_examples_learn_the_classes():
    x, y = bars(600)
    labels = np.full_like(y, -1)
    for c in range(C):  # 2 labels per class
        labels[np.flatnonzero(y == c)[:2]] = c
    keras.utils.set_random_seed(0)
    model = small_cvae(latent_dim=4, alpha=5.0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(data.from_array(x, labels, batch_size=32, seed=0), epochs=4, verbose=0)
    assert set(history.history) >= {"loss", "reconstruction_loss", "kl_loss", "classifier_loss",
                                     "accuracy", "skipped_updates"}  # fmt: skip
    test_x, test_y = bars(300, seed=1)
    accuracy = np.mean(np.argmax(model.classify(test_x), -1) == test_y)
    assert accuracy > 0.9, accuracy


def test_methods_take_labels():
    model = small_cvae()
    x, y = bars(4)
    probabilities = model.classify(x).numpy()
    assert probabilities.shape == (4, C)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    guessed = model.encode(x)[0].numpy()
    given = model.encode(x, labels=np.argmax(probabilities, -1))[0].numpy()
    np.testing.assert_allclose(guessed, given, rtol=1e-6)  # None: the classifier's best guess
    z = np.zeros((4, 2), np.float32)
    assert model.decode(z, 1).shape == (4, 8, 8, 1)
    np.testing.assert_allclose(model.decode(z, 1), model.decode(z, [1, 1, 1, 1]))
    assert not np.allclose(model.decode(z, [0, 1, 2, 0])[0], model.decode(z, [1, 1, 2, 0])[0])
    assert model.sample(5, labels=2, seed=0).shape == (5, 8, 8, 1)
    np.testing.assert_allclose(model.sample(3, seed=4), model.sample(3, seed=4))
    assert model.reconstruct(x).shape == model.reconstruct(x, labels=y).shape == (4, 8, 8, 1)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: m.decode(np.zeros((2, 2), np.float32), [0, 3]), r"in \[0, 3\).*e\.g\. 3"),
        (lambda m: m.decode(np.zeros((2, 2), np.float32), [0]), r"2 labels.*Received: labels=1 labels"),
        (lambda m: m.sample(2, labels=-1), r"in \[0, 3\)"),
        (lambda m: m.encode(np.zeros((2, 8, 8, 1), np.float32), labels=[0.0, 1.0]), "labels.dtype"),
    ],
)
def test_methods_refuse_bad_labels(call, message):
    with pytest.raises(ValueError, match=message):
        call(small_cvae())


def test_vectors_and_custom_networks():
    encoder = keras.Sequential([keras.layers.Dense(8, activation="relu"), keras.layers.Dense(4)])
    x_in, y_in = keras.Input((6,)), keras.Input((C,))
    encoder = keras.Model([x_in, y_in], encoder(keras.layers.Concatenate()([x_in, y_in])))
    z_in, label_in = keras.Input((2,)), keras.Input((C,))
    decoder = keras.Model([z_in, label_in], keras.layers.Dense(6)(keras.layers.Concatenate()([z_in, label_in])))
    classifier = keras.Sequential([keras.Input((6,)), keras.layers.Dense(C)])
    model = keras_vae.ConditionalVAE(encoder, decoder, classifier, num_classes=C,
                                     likelihood="gaussian")  # fmt: skip
    assert (model.data_shape, model.latent_dim, model.split_encoder_output) == ((6,), 2, True)
    model.compile(optimizer="adam")
    rng = np.random.default_rng(0)
    dataset = tf.data.Dataset.from_tensor_slices(
        (rng.normal(size=(32, 6)).astype(np.float32), rng.integers(-1, C, 32).astype(np.int32))
    ).batch(8)
    history = model.fit(dataset, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


def test_networks_that_ignore_labels_are_refused():
    encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4)])
    with pytest.raises(ValueError, match=r"argument encoder.*\[x, labels\].*\(batch, 3\)"):
        keras_vae.ConditionalVAE(encoder, num_classes=C)
    with pytest.raises(ValueError, match=r"argument classifier.*\(None, 3\)"):
        small_cvae(classifier=keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                                keras.layers.Dense(4)]))  # fmt: skip


def test_save_and_load_with_safe_mode(tmp_path):
    model = small_cvae(alpha=3.0, classifier_dropout=0.2, likelihood="logistic")
    model.compile(optimizer="adam")
    x, y = bars(16)
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(loaded) is keras_vae.ConditionalVAE
    assert (loaded.num_classes, loaded.alpha, loaded.classifier_dropout) == (C, 3.0, 0.2)
    np.testing.assert_allclose(loaded.classify(x), model.classify(x), rtol=1e-6)
    z = np.ones((2, 2), np.float32)
    np.testing.assert_allclose(loaded.decode(z, [0, 2]), model.decode(z, [0, 2]), rtol=1e-6)
    loaded.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1, verbose=0)


def test_metrics_on_data_without_labels():
    model = small_cvae()
    model.compile(optimizer="adam")
    x, _ = bars(16)
    logs = model.evaluate(tf.data.Dataset.from_tensor_slices((x, np.full(16, -1, np.int32))).batch(8),
                          verbose=0, return_dict=True)  # fmt: skip
    assert np.isnan(logs["accuracy"]) and np.isnan(logs["classifier_loss"])  # none labelled
    assert np.isfinite(logs["loss"])
    plain = model.evaluate(tf.data.Dataset.from_tensor_slices(x).batch(8), verbose=0,
                           return_dict=True)  # fmt: skip
    np.testing.assert_allclose(plain["reconstruction_loss"], logs["reconstruction_loss"], rtol=0.2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_classes=1), r"num_classes.*>= 2.*Received: num_classes=1"),
        (dict(num_classes=None), r"num_classes.*Received: num_classes=None"),
        (dict(num_classes=2.0), "num_classes"),
        (dict(alpha=-1.0), "alpha"),
        (dict(classifier_dropout=1.0), "classifier_dropout"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        small_cvae(**kwargs)


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.array([0, 1, 3, -1]), r"argument y.*in \[-1, 3\).*e\.g\. 3"),
        (np.array([0, 1, -2, -1]), r"in \[-1, 3\).*e\.g\. -2"),
        (np.array([0.0, 1.0, 2.0, 1.0]), r"y\.dtype.*Received: y\.dtype='float64'"),
        (np.array([0, 1, 2]), r"4 labels.*Received: y=3 labels"),
        (np.array([-1, -1, -1, -1]), r"at least one labelled.*10 per class"),
    ],
)
def test_fit_refuses_bad_labels_before_training(labels, message):
    model = small_cvae()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=message):
        model.fit(bars(4)[0], labels, verbose=0)
    assert model.optimizer.iterations.numpy() == 0


def test_labels_out_of_range_in_a_dataset_fail_clearly():
    model = small_cvae()
    model.compile(optimizer="adam")
    x, _ = bars(4)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.array([0, 1, 7, -1], np.int32))).batch(4)
    with pytest.raises(ValueError, match=r"labels must lie in \[-1, 3\)"):
        model.fit(dataset, verbose=0)


def test_datasets_without_labels_are_refused_by_fit():
    model = small_cvae()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"argument x.*\(x, labels\) batches"):
        model.fit(tf.data.Dataset.from_tensor_slices(bars(4)[0]).batch(2), verbose=0)


def test_a_plain_vae_refuses_labels():
    model = keras_vae.VAE(latent_dim=2, input_shape=(8, 8, 1), encoder_filters=(4,), dense_units=8)
    model.compile(optimizer="adam")
    x, y = bars(4)
    with pytest.raises(ValueError, match=r"argument y.*ConditionalVAE.*array of shape \(4,\)"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r"argument y.*int32 labels"):
        model.fit(data.from_array(x, y, batch_size=2), verbose=0)


def test_fit_on_arrays_warns_when_labels_are_few():
    model = small_cvae()
    model.compile(optimizer="adam")
    x, y = bars(40)
    y[4:] = -1
    with pytest.warns(UserWarning, match=r"10\.0% of the examples are labelled.*from_array"):
        model.fit(x, y, batch_size=20, verbose=0)


def _train_without_noise(strategy, x, y, steps):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = small_cvae()
        model.sampling.call = lambda inputs: inputs[0]  # z = mu: replicas comparable
        model.compile(optimizer=keras.optimizers.SGD(0.05))
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).take(steps)
    model.fit(dataset, epochs=1, verbose=0, shuffle=False)
    return [w.numpy() for w in model.weights]


def test_two_replicas_make_the_same_update_as_one_device(mirrored):
    x, y = bars(48)
    y[::3] = -1  # replicas get different numbers of labelled examples
    one = _train_without_noise(tf.distribute.OneDeviceStrategy("/cpu:0"), x, y, steps=3)
    two = _train_without_noise(mirrored, x, y, steps=3)
    assert len(one) == len(two)
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=5e-5, atol=1e-5)


def test_presets_with_classes_build_a_conditional_vae():
    model = keras_vae.VAE.from_preset("mnist_semi_supervised")
    assert isinstance(model, keras_vae.ConditionalVAE) and model.num_classes == 10
    assert keras_vae.ConditionalVAE.from_preset("mnist", num_classes=4).num_classes == 4


def test_mixed_precision_keeps_the_classifier_and_the_loss_in_float32():
    model = small_cvae(dtype="mixed_bfloat16")
    model.compile(optimizer="adam")
    x, y = bars(16)
    history = model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.classify(x).dtype == tf.float32
    assert model.classifier.layers[-1].compute_dtype == "float32"
