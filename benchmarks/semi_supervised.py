"""Semi-supervised MNIST with 100 labels: test error of three ways to use them, and how
recognisable the conditional samples are.

Data (../shared/data, README there): the training set is the first 4,000 digits of
`mnist_labeled_6k.npz` plus the 8,000 of `mnist_sample_8k.npz`; 10 labels per class are
drawn from those 4,000 with the draw's seed, and every other training digit is used
without its label. The test set is the last 2,000 labelled digits, never seen in training.
Training digits are dynamically binarized; test digits are binarized once (fixed seed).

  supervised  q(y|x)'s network (the preset's classifier) trained on the 100 labels alone
  m1          Kingma et al.'s M1: a VAE (the preset's encoder and decoder, without labels,
              with an M1_LATENT-d z) trained on all 12,000 digits, then kNN and logistic
              regression on the posterior means of the 100 labelled ones
  preset      `ConditionalVAE.from_preset("mnist_semi_supervised")`, with its own recipe

Recognisability: a conv classifier trained on the 4,000 labelled training digits (all
their labels) labels 100 samples per class of the preset's model; the fraction it labels
as the class asked for is reported.

Run:  python benchmarks/semi_supervised.py [--draws 0,1,2] [--methods supervised,m1,preset]
"""

import argparse
import json
import os
import time

import keras
import numpy as np

import keras_vae
from keras_vae import data, networks, presets
from keras_vae.models import recipes

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
LABELS_PER_CLASS = 10
CLASSES = 10
#: M1's latent size. Its z must describe the class itself (it has no y); the preset's 3-d z,
#: sized to leave the class to y, would be too small for that.
M1_LATENT = 8


def load_split(draw):
    """(train images uint8, train labels with -1, test images float binary, test labels)."""
    labelled = np.load(os.path.join(SHARED, "mnist_labeled_6k.npz"))
    sample = np.load(os.path.join(SHARED, "mnist_sample_8k.npz"))["images"]
    images, labels = labelled["images"], labelled["labels"].astype(np.int32)
    rng = np.random.default_rng(draw)
    keep = np.concatenate(
        [
            rng.choice(np.flatnonzero(labels[:4000] == c), LABELS_PER_CLASS, replace=False)
            for c in range(CLASSES)
        ]
    )
    train_labels = np.full(4000 + len(sample), -1, np.int32)
    train_labels[keep] = labels[keep]
    train_images = np.concatenate([images[:4000], sample])
    test = data.from_array(images[4000:], batch_size=2000, shuffle=False, binarize="static", seed=1)
    return train_images, train_labels, next(iter(test)).numpy(), labels[4000:]


def binary(images, seed):
    return (
        np.random.default_rng(seed).random(images.shape[:3] + (1,)) < images[..., None] / 255
    ).astype(np.float32)


def error(probabilities, labels):
    return float(np.mean(np.argmax(probabilities, axis=-1) != labels))


def augmentation(recipe):
    """The recipe's augmentation of labelled digits (`labelled_shift`, `_rotation`, `_zoom`)."""
    return {
        k: v for k, v in recipe.items() if k.startswith("labelled_") and k != "labelled_fraction"
    }


def supervised(train_images, train_labels, test_x, test_y, draw, steps=2000, recipe_overrides=None):
    """q(y|x)'s network on the labelled digits alone (same dropout and augmentation, binarized
    anew each step)."""
    recipe = {**presets.get("mnist_semi_supervised"), **(recipe_overrides or {})}
    keys = (*networks.CONV_ARCHITECTURE, *networks.CLASSIFIER_ARCHITECTURE)
    architecture = {k: recipe[k] for k in keys if k in recipe}
    keras.utils.set_random_seed(draw)
    classifier = networks.build(
        (28, 28, 1), recipe["latent_dim"], num_classes=CLASSES, **architecture
    )["classifier"]
    known = train_labels >= 0
    pairs = data.from_array(
        train_images[known],
        train_labels[known],
        batch_size=100,
        binarize=True,
        seed=draw,
        **augmentation(recipe),
    ).repeat()
    classifier.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    start = time.perf_counter()
    classifier.fit(pairs, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    return {"error": error(classifier.predict(test_x, verbose=0), test_y), "seconds": seconds}


def m1(train_images, train_labels, test_x, test_y, draw, epochs):
    """A VAE on every training digit, then classifiers on the labelled posterior means."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    recipe = presets.get("mnist_semi_supervised")
    unconditional = {
        k: v
        for k, v in recipe.items()
        if k not in ("model", "num_classes", "alpha", "classifier_dropout", "beta")
    }
    unconditional["latent_dim"] = M1_LATENT
    keras.utils.set_random_seed(draw)
    train = data.from_array(train_images, batch_size=recipe["batch_size"], binarize=True, seed=draw)
    model = recipes.build({**unconditional, "seed": draw}, (28, 28, 1))
    model.compile(
        optimizer=keras_vae.optimizers.for_run(
            recipe["learning_rate"], recipe["lr_schedule"], epochs, int(train.cardinality())
        )
    )
    start = time.perf_counter()
    model.fit(train, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    known = train_labels >= 0
    labelled_x = binary(train_images[known], seed=draw)
    z_train = model.encode(labelled_x)[0].numpy()
    z_test = np.concatenate(
        [model.encode(test_x[i : i + 500])[0].numpy() for i in range(0, len(test_x), 500)]
    )
    result = {"seconds": seconds}
    for name, classifier in (
        ("knn", KNeighborsClassifier(n_neighbors=3)),
        ("logistic", LogisticRegression(max_iter=5000)),
    ):
        classifier.fit(z_train, train_labels[known])
        result[f"error_{name}"] = float(np.mean(classifier.predict(z_test) != test_y))
    return result


def preset(
    train_images,
    train_labels,
    test_x,
    test_y,
    draw,
    epochs=None,
    overrides=None,
    recipe_overrides=None,
):
    """The preset with its own recipe; returns its test error, time and trained model."""
    recipe = {**presets.get("mnist_semi_supervised"), **(recipe_overrides or {})}
    epochs = epochs or recipe["epochs"]
    train = data.from_array(
        train_images,
        train_labels,
        batch_size=recipe["batch_size"],
        binarize=True,
        seed=draw,
        labelled_fraction=recipe.get("labelled_fraction"),
        **augmentation(recipe),
    )
    keras.utils.set_random_seed(draw)
    model = keras_vae.ConditionalVAE.from_preset(
        "mnist_semi_supervised",
        steps_per_epoch=int(train.cardinality()),
        seed=draw,
        **(overrides or {}),
    )
    if epochs != recipe["epochs"]:  # the cosine decay spans the epochs actually run
        model.compile(
            optimizer=keras_vae.optimizers.for_run(
                recipe["learning_rate"], recipe["lr_schedule"], epochs, int(train.cardinality())
            )
        )

    class TestError(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            err = error(_classify(model, test_x), test_y)
            print(
                f"  epoch {epoch + 1}: test error {err:.4f}, "
                + json.dumps({k: round(float(v), 3) for k, v in logs.items()}),
                flush=True,
            )

    start = time.perf_counter()
    model.fit(train, epochs=epochs, verbose=0, callbacks=[TestError()])
    seconds = time.perf_counter() - start
    return {"error": error(_classify(model, test_x), test_y), "seconds": seconds}, model


def _classify(model, x):
    return np.concatenate([model.classify(x[i : i + 500]).numpy() for i in range(0, len(x), 500)])


def judge(seed=0, epochs=30):
    """A conv classifier trained on the 4,000 labelled training digits (all labels, shifted by
    up to 2 pixels); returns it and its accuracy on the 2,000 test digits."""
    labelled = np.load(os.path.join(SHARED, "mnist_labeled_6k.npz"))
    keras.utils.set_random_seed(seed)
    classifier = networks.conv_classifier(
        (28, 28, 1), CLASSES, filters=(32, 64), dense_units=256, dropout=0.5
    )
    classifier.compile(
        optimizer="adam",
        metrics=["accuracy"],
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    pairs = data.from_array(
        labelled["images"][:4000],
        labelled["labels"][:4000].astype(np.int32),
        batch_size=64,
        seed=seed,
        labelled_shift=2,
    )
    classifier.fit(pairs, epochs=epochs, verbose=0)
    test = labelled["images"][4000:].astype(np.float32)[..., None] / 255
    accuracy = float(
        np.mean(np.argmax(classifier.predict(test, verbose=0), -1) == labelled["labels"][4000:])
    )
    return classifier, accuracy


def recognisable(model, classifier, per_class=100, seed=0):
    """The share of conditional samples that `classifier` labels as the class asked for."""
    labels = np.repeat(np.arange(CLASSES), per_class)
    samples = model.sample(len(labels), labels=labels, seed=seed).numpy()
    return float(np.mean(np.argmax(classifier.predict(samples, verbose=0), -1) == labels))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", default="0,1,2", help="label draws (seeds), comma-separated")
    parser.add_argument("--methods", default="supervised,m1,preset")
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    parser.add_argument("--m1-epochs", type=int, default=10)
    parser.add_argument("--override", default="{}", help="JSON of ConditionalVAE arguments")
    parser.add_argument("--recipe", default="{}", help="JSON of training settings to override")
    parser.add_argument("--save", default=None, help="save the preset model of draw 0 here")
    args = parser.parse_args()
    methods = args.methods.split(",")
    rows = {}
    judge_model = None
    for draw in (int(d) for d in args.draws.split(",")):
        split = load_split(draw)
        if "supervised" in methods:
            rows.setdefault("supervised", []).append(
                supervised(*split, draw, recipe_overrides=json.loads(args.recipe))
            )
            print(f"draw {draw} supervised: {rows['supervised'][-1]}", flush=True)
        if "m1" in methods:
            rows.setdefault("m1", []).append(m1(*split, draw, args.m1_epochs))
            print(f"draw {draw} m1: {rows['m1'][-1]}", flush=True)
        if "preset" in methods:
            result, model = preset(
                *split, draw, args.epochs, json.loads(args.override), json.loads(args.recipe)
            )
            if judge_model is None:
                judge_model, judge_accuracy = judge()
                print(f"judge: test accuracy {judge_accuracy:.4f}", flush=True)
            result["recognisable"] = recognisable(model, judge_model)
            rows.setdefault("preset", []).append(result)
            print(f"draw {draw} preset: {result}", flush=True)
            if args.save and draw == 0:
                model.save(args.save)
    print("\n| method | test error (mean ± std) | training s (mean) | draws | other |")
    print("| --- | --- | --- | --- | --- |")
    for method, results in rows.items():
        keys = sorted({k for r in results for k in r} - {"seconds"})
        stats = {
            k: (np.mean([r[k] for r in results]), np.std([r[k] for r in results])) for k in keys
        }
        main_key = "error" if "error" in stats else "error_knn"
        others = ", ".join(
            f"{k} {m:.4f} ± {sd:.4f}" for k, (m, sd) in stats.items() if k != main_key
        )
        seconds = np.mean([r["seconds"] for r in results])
        print(
            f"| {method} | {stats[main_key][0]:.2%} ± {stats[main_key][1]:.2%} | {seconds:.0f} "
            f"| {len(results)} | {others} |"
        )
    if judge_model is not None:
        print(
            f"\njudge (conv classifier on the 4,000 labelled training digits): test accuracy "
            f"{judge_accuracy:.4f}"
        )


if __name__ == "__main__":
    main()
