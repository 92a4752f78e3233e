"""Sample quality as a classifier sees it: how many samples it reads with confidence, and
the Fréchet distance between samples and real examples in its features.

A likelihood says how well a model explains real data, not whether its samples look
like data: a model can score well and still draw blobs from the "holes" of its prior.
These figures measure the samples themselves, through a classifier of the real data (a
small CNN for digits: `train_classifier`). The Fréchet distance is the FID of Heusel et
al. 2017 computed in that classifier's features instead of Inception's, as is usual for
MNIST-sized data.

    classifier = keras_vae.evaluate.train_classifier(train_images, train_labels)
    keras_vae.evaluate.sample_quality(model, classifier, test_images, num_samples=2000)
"""

import keras
import numpy as np

from keras_vae import validation
from keras_vae.models import priors
from keras_vae.models.base import check_model

FEATURES_LAYER = "features"


def sample_quality(
    model,
    classifier,
    real,
    num_samples=2000,
    confidence=0.9,
    seed=0,
    batch_size=250,
    temperature=1.0,
):
    """How a classifier of the real data reads `num_samples` prior samples of `model`.

    Samples are the means of p(x|z) for z drawn from the prior (`model.sample`); a model
    with classes draws them for classes taken in turn.

    Args:
        model: a keras_vae model (any `LatentVariableModel`).
        classifier: a Keras model from examples of the model's shape to class
            probabilities (a softmax), e.g. from `train_classifier`. Its features are the
            outputs of its layer named "features", or else the inputs of its last layer,
            so it must be a functional or Sequential model.
        real: held-out real examples (N, *data_shape), floats, N >= 2.
        num_samples: samples to draw, >= 2.
        confidence: the probability of its most probable class at or above which the
            classifier "reads" an example, in (0, 1].
        seed: the prior draws' seed, an int >= 0.
        batch_size: examples drawn or classified together.
        temperature: the prior's spread is scaled by it (`model.sample`'s), > 0; 1 is
            the prior itself.

    Returns:
        dict: `confident_fraction` (of the samples), `real_confident_fraction` (of
        `real`), `frechet_distance` (samples against `real`, in the features; two
        halves of the same data are the floor) and `num_samples`, `num_real`.

    Examples:

        >>> model = keras_vae.VAE.from_shape((28, 28, 1), latent_dim=2, seed=0)
        >>> classifier = classifier_network((28, 28, 1), num_classes=10)
        >>> real = np.random.default_rng(0).uniform(size=(8, 28, 28, 1)).astype("float32")
        >>> q = sample_quality(model, classifier, real, num_samples=8)
        >>> 0 <= q["confident_fraction"] <= 1
        True
    """
    check_model(model)
    real = validation.check_array("real", real, tuple(model.data_shape))
    num_samples = validation.check_int("num_samples", num_samples, minimum=2)
    seed = validation.check_int("seed", seed, minimum=0)
    batch_size = validation.check_int("batch_size", batch_size, minimum=1)
    temperature = priors.check_temperature(temperature)
    if len(real) < 2:
        raise validation.invalid("real", "at least 2 examples", validation.Described("1"))
    read = _reader(classifier, tuple(model.data_shape))
    samples = _samples(model, num_samples, seed, batch_size, temperature)
    sample_probs, sample_features = read(samples, batch_size)
    real_probs, real_features = read(real, batch_size)
    return {
        "confident_fraction": confident_fraction(sample_probs, confidence),
        "real_confident_fraction": confident_fraction(real_probs, confidence),
        "frechet_distance": frechet_distance(sample_features, real_features),
        "num_samples": num_samples,
        "num_real": len(real),
    }


def confident_fraction(probabilities, confidence=0.9):
    """The fraction of rows whose largest class probability is at least `confidence`.

    Examples:

        >>> confident_fraction([[0.95, 0.05], [0.6, 0.4]])
        0.5
    """
    confidence = validation.check_float("confidence", confidence, positive=True)
    if confidence > 1:
        raise validation.invalid("confidence", "a probability in (0, 1]", confidence)
    probabilities = _checked_probabilities("probabilities", probabilities)
    return float(np.mean(probabilities.max(axis=-1) >= confidence))


def frechet_distance(features_a, features_b):
    """The Fréchet distance between Gaussians fitted to two sets of feature vectors:
    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2), in float64.

    Args:
        features_a, features_b: arrays (N, D) and (M, D), N and M >= 2.

    Returns:
        float >= 0; 0 for identical sets.

    Examples:

        >>> a = np.random.default_rng(0).normal(size=(500, 3))
        >>> round(frechet_distance(a, a), 6)
        0.0
    """
    a = _checked_features("features_a", features_a)
    b = _checked_features("features_b", features_b)
    if a.shape[1] != b.shape[1]:
        raise validation.invalid(
            "features_b", f"feature vectors of size {a.shape[1]}, as features_a's", b.shape
        )
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root_a = _psd_sqrt(cov_a)
    # tr((S_a^1/2 S_b S_a^1/2)^1/2): the product is symmetric PSD, so eigvalsh is stable.
    middle = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    cross = np.sum(np.sqrt(np.clip(middle, 0.0, None)))
    mean_term = np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2)
    return float(max(mean_term + np.trace(cov_a) + np.trace(cov_b) - 2.0 * cross, 0.0))


def classifier_network(input_shape, num_classes, features=128, dropout=0.25):
    """A small CNN classifier (two conv blocks, a dense layer named "features", a softmax),
    untrained; `train_classifier` trains one.

    Args:
        input_shape: one example's shape (H, W, C).
        num_classes: classes, >= 2.
        features: units of the "features" layer, >= 1.
        dropout: dropout rate before the features and before the softmax, in [0, 1).

    Returns:
        A functional `keras.Model` from (N, H, W, C) to (N, num_classes) probabilities.
    """
    input_shape = validation.check_widths("input_shape", input_shape)
    if len(input_shape) != 3:
        raise validation.invalid("input_shape", "an image shape (H, W, C)", input_shape)
    num_classes = validation.check_int("num_classes", num_classes, minimum=2)
    features = validation.check_int("features", features, minimum=1)
    if not 0 <= dropout < 1:
        raise validation.invalid("dropout", "a rate in [0, 1)", dropout)
    layers = keras.layers
    inputs = keras.Input(input_shape)
    h = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    h = layers.MaxPooling2D()(layers.Conv2D(32, 3, padding="same", activation="relu")(h))
    h = layers.Conv2D(64, 3, padding="same", activation="relu")(h)
    h = layers.MaxPooling2D()(layers.Conv2D(64, 3, padding="same", activation="relu")(h))
    h = layers.Dropout(dropout)(layers.Flatten()(h))
    h = layers.Dense(features, activation="relu", name=FEATURES_LAYER)(h)
    outputs = layers.Dense(num_classes, activation="softmax")(layers.Dropout(dropout)(h))
    return keras.Model(inputs, outputs, name="classifier")


def train_classifier(
    images,
    labels,
    num_classes=None,
    validation_data=None,
    epochs=10,
    batch_size=128,
    learning_rate=1e-3,
    seed=0,
    verbose=0,
):
    """Trains `classifier_network` on labelled real examples, for `sample_quality`.

    Args:
        images: float images (N, H, W, C) in [0, 1].
        labels: int classes (N,) in [0, num_classes).
        num_classes: None for 1 + the largest label.
        validation_data: None, or `(images, labels)` held out, scored after each epoch;
            the weights of the epoch with the best validation accuracy are kept.
        epochs, batch_size, learning_rate: the Adam fit's.
        seed: the weights' and the shuffling's seed, an int >= 0.
        verbose: `fit`'s.

    Returns:
        The trained classifier.
    """
    images = validation.check_array("images", images, unit_interval=True, hint="images")
    if images.ndim != 4:
        raise validation.invalid("images.shape", "images (N, H, W, C)", images.shape)
    labels = validation.check_labels(
        "labels", labels, len(images), num_classes, allow_unlabelled=False
    )
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    epochs = validation.check_int("epochs", epochs, minimum=1)
    seed = validation.check_int("seed", seed, minimum=0)
    callbacks = []
    if validation_data is not None:
        held_out, held_labels = validation_data
        held_out = validation.check_array(
            "validation_data[0]", held_out, images.shape[1:], unit_interval=True, hint="images"
        )
        held_labels = validation.check_labels(
            "validation_data[1]", held_labels, len(held_out), num_classes, allow_unlabelled=False
        )
        validation_data = (held_out, held_labels)
        callbacks.append(
            keras.callbacks.EarlyStopping(
                "val_accuracy", patience=epochs, restore_best_weights=True
            )
        )
    keras.utils.set_random_seed(seed)
    classifier = classifier_network(images.shape[1:], max(num_classes, 2))
    classifier.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    classifier.fit(
        images,
        labels,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=validation_data,
        callbacks=callbacks,
        verbose=verbose,
    )
    return classifier


def _samples(model, num_samples, seed, batch_size, temperature):
    """`num_samples` prior samples, in batches; classes in turn for a model with classes."""
    out = []
    for index, first in enumerate(range(0, num_samples, batch_size)):
        n = min(batch_size, num_samples - first)
        labels = None
        if model.num_classes is not None:
            labels = (np.arange(first, first + n) % model.num_classes).astype("int32")
        batch = model.sample(
            n, labels=labels, seed=seed * 1_000_003 + index, temperature=temperature
        )
        out.append(keras.ops.convert_to_numpy(batch))
    return np.concatenate(out).astype(np.float32)


def _reader(classifier, data_shape):
    """read(x, batch_size) -> (probabilities, features) of `classifier`, checked."""
    if not isinstance(classifier, keras.Model):
        raise validation.invalid(
            "classifier", "a keras.Model", validation.Described(type(classifier).__name__)
        )
    try:
        inputs = classifier.inputs
        names = [layer.name for layer in classifier.layers]
        layer = classifier.get_layer(FEATURES_LAYER) if FEATURES_LAYER in names else None
        features = layer.output if layer is not None else classifier.layers[-1].input
    except (AttributeError, ValueError, IndexError):
        inputs = None
    if not inputs:
        raise validation.invalid(
            "classifier",
            "a functional or Sequential keras.Model (its features are read from its "
            f'layer "{FEATURES_LAYER}", or from its last layer\'s input)',
            validation.Described(f"a subclassed {type(classifier).__name__}"),
        )
    both = keras.Model(inputs, [classifier.outputs[0], features])
    expected = tuple(classifier.inputs[0].shape[1:])
    if expected != data_shape:
        raise validation.invalid(
            "classifier",
            f"a classifier of examples of shape {data_shape}",
            validation.Described(f"one of examples of shape {expected}"),
        )

    def read(x, batch_size):
        probabilities, feats = both.predict(x, batch_size=batch_size, verbose=0)
        probabilities = _checked_probabilities("classifier", probabilities)
        return probabilities, feats.reshape(len(feats), -1).astype(np.float64)

    return read


def _checked_probabilities(name, probabilities):
    probabilities = np.asarray(probabilities, np.float64)
    if probabilities.ndim != 2 or probabilities.shape[1] < 2:
        raise validation.invalid(
            f"{name} outputs", "class probabilities (N, classes >= 2)", probabilities.shape
        )
    sums = probabilities.sum(axis=-1)
    if probabilities.min() < 0 or np.max(np.abs(sums - 1)) > 1e-3:
        raise validation.invalid(
            f"{name} outputs",
            "class probabilities, each row summing to 1 (end the classifier with a softmax)",
            validation.Described(
                f"values in [{probabilities.min():g}, {probabilities.max():g}], "
                f"rows summing to [{sums.min():g}, {sums.max():g}]"
            ),
        )
    return probabilities


def _checked_features(name, features):
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise validation.invalid(name, "feature vectors (N >= 2, D)", features.shape)
    if not np.isfinite(features).all():
        raise validation.invalid(name, "finite values", validation.Described("NaN or inf"))
    return features


def _psd_sqrt(matrix):
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
