"""Renders the class-conditional figures of docs/pages/labels.md into docs/pages/images/ from real
MNIST digits.

Trains a `keras_vae.ConditionalVAE` with every label on the first 4,000 digits of
../shared/data/mnist_labeled_6k.npz, then draws `class_samples.png` (one row per class, the
same z down each column) and `analogies.png` (held-out digits from the last 2,000, which
training never saw, encoded with their true class and decoded as every class). About two
minutes on 2 CPU cores; `--model PATH` draws from an already trained `.keras` model instead.
A small latent (4 dims) leaves the class to y, so that z keeps only the style.

Run from the repository root:  python docs/make_label_images.py [--data PATH] [--epochs 50]
"""

import argparse
import os
import time

import keras
import numpy as np
import tensorflow as tf

import keras_vae
from keras_vae.visualization import plotting

HERE = os.path.dirname(os.path.abspath(__file__))
DIGITS = os.path.join(HERE, "..", "..", "shared", "data", "mnist_labeled_6k.npz")
TRAIN, HELD_OUT = slice(0, 4000), slice(4000, 6000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=DIGITS, help="npz file with uint8 'images' and 'labels'")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--latent-dim", type=int, default=4)
    parser.add_argument("--model", help="a trained ConditionalVAE (.keras) to draw from instead")
    parser.add_argument("--save", help="where to save the trained model (.keras), if anywhere")
    parser.add_argument("--out", default=os.path.join(HERE, "pages", "images"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    start = time.time()

    with np.load(args.data) as data:
        images = (data["images"][..., None] / 255.0).astype(np.float32)
        labels = data["labels"].astype(np.int32)
    if args.model:
        model = keras.models.load_model(args.model, safe_mode=True)
    else:
        model = _train(
            images[TRAIN],
            labels[TRAIN],
            images[HELD_OUT],
            labels[HELD_OUT],
            args.latent_dim,
            args.epochs,
        )
        if args.save:
            model.save(args.save)
    test_images, test_labels = images[HELD_OUT], labels[HELD_OUT]
    guesses = np.argmax(np.asarray(model.classify(test_images)), axis=-1)
    print(f"classifier: {np.mean(guesses != test_labels):.1%} error on the 2,000 held-out digits")

    # Two held-out digits of each of five classes, in a fixed order.
    rows = [np.flatnonzero(test_labels == c)[i] for c in (0, 2, 4, 7, 9) for i in (0, 1)]
    figures = {
        "class_samples": plotting.class_grid(model, styles=12, seed=0),
        "analogies": plotting.analogy_grid(model, test_images[rows], test_labels[rows]),
    }
    for name, image in figures.items():
        image = image.repeat(2, axis=0).repeat(2, axis=1)  # twice the size, as the other figures
        path = os.path.join(args.out, f"{name}.png")
        plotting.save_png(image, path)
        print(
            f"wrote {path} ({image.shape[1]}x{image.shape[0]}, {os.path.getsize(path) // 1024} KB)"
        )
    print(f"done in {time.time() - start:.0f} s")


def _train(images, labels, test_images, test_labels, latent_dim, epochs):
    keras.utils.set_random_seed(0)
    model = keras_vae.ConditionalVAE.from_shape((28, 28, 1), latent_dim, num_classes=10, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    train = keras_vae.data.from_array(images, labels, batch_size=100, seed=0)
    test = tf.data.Dataset.from_tensor_slices((test_images, test_labels)).batch(500)
    model.fit(train, epochs=epochs, verbose=0)
    metrics = model.evaluate(test, verbose=0, return_dict=True)
    print(f"held-out loss {metrics['loss']:.1f} nats/digit after {epochs} epochs")
    return model


if __name__ == "__main__":
    main()
