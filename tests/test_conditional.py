"""ConditionalVAE (M2): its loss, its methods, its networks, save/load and bad input."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae
from keras_vae import data

C = 3
SMALL = dict(encoder_filters=(4,), dense_units=8)


def small_cvae(architecture=None, **kwargs):
    kwargs.setdefault("seed", 0)
    return keras_vae.ConditionalVAE.from_shape(
        (8, 8, 1), 2, num_classes=C, architecture={**SMALL, **(architecture or {})}, **kwargs
    )


def bars(n, seed=0):
    """8x8 images of one of 3 classes: a bright top, middle or bottom band, with noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, C, n).astype(np.int32)
    images = rng.uniform(0.0, 0.2, (n, 8, 8, 1)).astype(np.float32)
    for i, label in enumerate(labels):
        images[i, 3 * label : 3 * label + 2] = rng.uniform(0.8, 1.0, (2, 8, 1))
    return images, labels


def _without_noise(model):
    for noise in (model.noise, model.evaluation_noise):  # training's, and evaluation's
        noise.draw = lambda shape: tf.zeros(shape)  # z = mu: the bound is a closed form
    return model


def _negative_elbo(model, x, y):
    """-ELBO(x, y) at z = mu, by hand: -log p(x|y, mu) + the Gaussian KL, per example."""
    z_mean, z_log_var = (t.numpy() for t in model.encode(x, labels=y))
    one_hot = np.eye(C, dtype=np.float32)[y]
    log_px = model.likelihood.log_prob(model.decoder([z_mean, one_hot]), x).numpy()
    kl = 0.5 * np.sum(np.exp(z_log_var) + z_mean**2 - 1.0 - z_log_var, axis=-1)
    return -log_px + kl


def test_labelled_loss_is_the_conditional_elbo_plus_alpha_cross_entropy():
    model = _without_noise(small_cvae(alpha=2.5))
    x, y = bars(6)
    terms = model.loss_terms(x, labels=y)
    cross_entropy = -np.log(model.classify(x).numpy()[np.arange(6), y])
    expected = _negative_elbo(model, x, y) + math.log(C) + 2.5 * cross_entropy
    np.testing.assert_allclose(terms["loss"], expected, rtol=1e-5)
    np.testing.assert_allclose(terms["classifier_loss"], cross_entropy, rtol=1e-5)


def test_unlabelled_loss_is_expected_elbo_over_q_minus_entropy():
    model = _without_noise(small_cvae())
    x, _ = bars(4)
    per_class = np.stack([_negative_elbo(model, x, np.full(4, c)) for c in range(C)], axis=-1)
    terms = model.loss_terms(x, labels=np.full(4, -1))
    q = model.classify(x).numpy()
    expected = (q * (per_class + math.log(C))).sum(-1) + (q * np.log(q)).sum(-1)
    np.testing.assert_allclose(terms["loss"], expected, rtol=1e-5)
    assert np.isnan(terms["accuracy"]).all() and np.isnan(terms["classifier_loss"]).all()


def test_a_mixed_batch_puts_each_example_back_in_its_place():
    model = small_cvae(objective=keras_vae.objectives.IWAE(num_samples=3))
    x, y = bars(6)
    y[[1, 4]] = -1
    mixed = model.loss_terms(x, labels=y)
    # The classifier terms count for the labelled examples only, in place: NaN elsewhere.
    correct = (np.argmax(model.classify(x), -1) == y).astype(np.float32)
    accuracy = mixed["accuracy"].numpy()
    assert np.isnan(accuracy[[1, 4]]).all()
    np.testing.assert_array_equal(accuracy[[0, 2, 3, 5]], correct[[0, 2, 3, 5]])
    assert np.all(mixed["classifier_loss"].numpy()[[0, 2, 3, 5]] > 0)
    alone = _without_noise(small_cvae(objective=keras_vae.objectives.IWAE(num_samples=3)))
    alone.set_weights(model.get_weights())
    _without_noise(model)
    np.testing.assert_allclose(
        model.loss_terms(x, labels=y)["loss"].numpy()[[0, 2]],
        alone.loss_terms(x[[0, 2]], labels=y[[0, 2]])["loss"],
        rtol=1e-5,
    )


def test_unlabelled_examples_train_the_classifier():
    model = small_cvae()
    x, _ = bars(8)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model.loss_terms(tf.constant(x), labels=tf.fill([8], -1))["loss"])
    gradients = tape.gradient(loss, model.classifier.trainable_variables)
    assert all(g is not None for g in gradients)
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in gradients) > 0


def test_few_labels_and_many_unlabelled_examples_learn_the_classes():
    x, y = bars(600)
    labels = np.full_like(y, -1)
    for c in range(C):  # 2 labels per class
        labels[np.flatnonzero(y == c)[:2]] = c
    keras.utils.set_random_seed(0)
    model = keras_vae.ConditionalVAE.from_shape(
        (8, 8, 1), 4, num_classes=C, architecture=SMALL, alpha=5.0, seed=0
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(data.from_array(x, labels, batch_size=32, seed=0), epochs=4, verbose=0)
    names = {
        "loss",
        "reconstruction_loss",
        "kl_loss",
        "classifier_loss",
        "accuracy",
        "skipped_updates",
    }
    assert set(history.history) == names
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
    mixed = y.copy()
    mixed[0] = -1  # -1: the classifier's guess for that one
    guess = np.argmax(probabilities[0])
    np.testing.assert_allclose(
        model.encode(x, labels=mixed)[0][0], model.encode(x[:1], labels=[guess])[0][0], rtol=1e-6
    )
    z = np.zeros((4, 2), np.float32)
    assert model.decode(z, labels=1).shape == (4, 8, 8, 1)
    np.testing.assert_allclose(model.decode(z, labels=1), model.decode(z, labels=[1, 1, 1, 1]))
    different = model.decode(z, labels=[0, 1, 2, 0])[0], model.decode(z, labels=[1, 1, 2, 0])[0]
    assert not np.allclose(*different)
    assert model.sample(5, labels=2, seed=0).shape == (5, 8, 8, 1)
    np.testing.assert_allclose(model.sample(3, seed=4), model.sample(3, seed=4))
    assert model.reconstruct(x).shape == model.reconstruct(x, labels=y).shape == (4, 8, 8, 1)
    # The same seed draws the same z whatever the classes: one style per column.
    twos, zeros = model.sample(3, labels=2, seed=7), model.sample(3, labels=0, seed=7)
    np.testing.assert_allclose(
        twos,
        model.decode(model.prior.sample(keras.random.normal((3, 2), seed=7)), labels=2),
        rtol=1e-6,
    )
    assert not np.allclose(twos, zeros)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: m.decode(np.zeros((2, 2), np.float32), labels=[0, 3]), r"in \[0, 3\).*e\.g\. 3"),
        (
            lambda m: m.decode(np.zeros((2, 2), np.float32), labels=[0]),
            r"2 labels.*Received: labels=1 labels",
        ),
        (
            lambda m: m.decode(np.zeros((2, 2), np.float32)),
            r"labels\. Expected the classes to decode with",
        ),
        (lambda m: m.sample(2, labels=-1), r"in \[0, 3\)"),
        (lambda m: m.encode(np.zeros((2, 8, 8, 1), np.float32), labels=[0.0, 1.0]), "labels.dtype"),
        (lambda m: m.encode(np.zeros((2, 8, 8, 1), np.float32), labels=[0, 3]), r"in \[-1, 3\)"),
        (lambda m: m.reconstruct(np.zeros((2, 8, 8, 1), np.float32), labels=-2), r"in \[-1, 3\)"),
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
    decoder = keras.Model(
        [z_in, label_in], keras.layers.Dense(6)(keras.layers.Concatenate()([z_in, label_in]))
    )
    classifier = keras.Sequential([keras.Input((6,)), keras.layers.Dense(C)])
    model = keras_vae.ConditionalVAE(encoder, decoder, classifier, num_classes=C)
    assert (model.data_shape, model.latent_dim, model.split_encoder_output) == ((6,), 2, True)
    assert model.likelihood.alias == "gaussian"  # the default for vectors
    model.compile(optimizer="adam")
    rng = np.random.default_rng(0)
    dataset = tf.data.Dataset.from_tensor_slices(
        (rng.normal(size=(32, 6)).astype(np.float32), rng.integers(-1, C, 32).astype(np.int32))
    ).batch(8)
    history = model.fit(dataset, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


def test_networks_that_ignore_labels_are_refused():
    encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4)])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(6)])
    classifier = keras.Sequential([keras.Input((6,)), keras.layers.Dense(C)])
    with pytest.raises(ValueError, match=r"argument encoder.*\[x, labels\].*\(batch, 3\)"):
        keras_vae.ConditionalVAE(encoder, decoder, classifier, num_classes=C)
    networks = keras_vae.networks.build((8, 8, 1), 2, num_classes=C, **SMALL)
    wrong = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(4)]
    )
    with pytest.raises(ValueError, match=r"argument classifier.*\(None, 3\)"):
        keras_vae.ConditionalVAE(networks["encoder"], networks["decoder"], wrong, num_classes=C)


def test_save_and_load_with_safe_mode(tmp_path):
    model = small_cvae(alpha=3.0, architecture={"classifier_dropout": 0.2}, likelihood="logistic")
    model.compile(optimizer="adam")
    x, y = bars(16)
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(loaded) is keras_vae.ConditionalVAE
    assert (loaded.num_classes, loaded.alpha) == (C, 3.0)
    assert loaded.classifier.get_layer("dropout").rate == 0.2
    np.testing.assert_allclose(loaded.classify(x), model.classify(x), rtol=1e-6)
    z = np.ones((2, 2), np.float32)
    np.testing.assert_allclose(
        loaded.decode(z, labels=[0, 2]), model.decode(z, labels=[0, 2]), rtol=1e-6
    )
    loaded.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1, verbose=0)


def test_metrics_on_data_without_labels():
    model = small_cvae()
    model.compile(optimizer="adam")
    x, _ = bars(16)
    logs = model.evaluate(
        tf.data.Dataset.from_tensor_slices((x, np.full(16, -1, np.int32))).batch(8),
        verbose=0,
        return_dict=True,
    )
    assert np.isnan(logs["accuracy"]) and np.isnan(logs["classifier_loss"])  # none labelled
    assert np.isfinite(logs["loss"])
    plain = model.evaluate(
        tf.data.Dataset.from_tensor_slices(x).batch(8), verbose=0, return_dict=True
    )
    np.testing.assert_allclose(plain["reconstruction_loss"], logs["reconstruction_loss"], rtol=0.2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_classes=1), r"num_classes.*>= 2.*Received: num_classes=1"),
        (dict(num_classes=None), r"num_classes.*Received: num_classes=None"),
        (dict(num_classes=2.0), "num_classes"),
        (dict(alpha=-1.0), "alpha"),
        (dict(architecture={"classifier_dropout": 1.0}), "classifier_dropout"),
    ],
)
def test_bad_arguments(kwargs, message):
    networks = keras_vae.networks.build((8, 8, 1), 2, num_classes=C, **SMALL)
    arguments = {"num_classes": C, **kwargs}
    with pytest.raises(ValueError, match=message):
        if "architecture" in arguments:
            keras_vae.ConditionalVAE.from_shape((8, 8, 1), **arguments)
        else:
            keras_vae.ConditionalVAE(**networks, **arguments)


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
    message = r"argument labels\. Expected class labels in \[-1, 3\).*from -1 to 7"
    with pytest.raises(ValueError, match=message):
        model.fit(dataset, verbose=0)


def test_datasets_without_labels_are_refused_by_fit():
    model = small_cvae()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"argument x.*\(x, labels\) batches"):
        model.fit(tf.data.Dataset.from_tensor_slices(bars(4)[0]).batch(2), verbose=0)


def test_a_plain_vae_refuses_labels():
    model = keras_vae.VAE.from_shape((8, 8, 1), 2, architecture=SMALL)
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
        model = _without_noise(small_cvae())  # z = mu: replicas comparable
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
    assert type(model) is keras_vae.ConditionalVAE and model.num_classes == 10
    overridden = keras_vae.ConditionalVAE.from_preset("mnist_semi_supervised", num_classes=4)
    assert overridden.num_classes == 4
    with pytest.raises(
        ValueError,
        match=r"name\. Expected a preset of a ConditionalVAE.*'mnist', a preset of a VAE",
    ):
        keras_vae.ConditionalVAE.from_preset("mnist")


def test_mixed_precision_keeps_the_classifier_and_the_loss_in_float32():
    model = small_cvae(dtype="mixed_bfloat16")
    model.compile(optimizer="adam")
    x, y = bars(16)
    history = model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.classify(x).dtype == tf.float32
    assert model.classifier.layers[-1].compute_dtype == "float32"
