"""Training speed of M2 (`ConditionalVAE`, the `mnist_semi_supervised` preset) in one process.

4,096 digits of `../shared/data/mnist_sample_8k.npz` (the built-in shapes when absent),
10 of them labelled per class, batched by `keras_vae.data.from_array` so that a quarter of
every batch is labelled (the preset's `labelled_fraction`). One epoch compiles; the median
images/s of the next `--epochs` is printed. To compare two versions of the package, run it
from each one's checkout in turn (A B A B ...) and take the ratio pair by pair:

    python benchmarks/m2_epoch.py --epochs 3
"""

import argparse
import os
import statistics

import numpy as np
from backends import timed_epoch  # this folder's

import keras_vae

SAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "mnist_sample_8k.npz"
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--images", type=int, default=4096)
    args = parser.parse_args()
    if os.path.exists(SAMPLE):
        x = (np.load(SAMPLE)["images"][: args.images, :, :, None] / 255.0).astype("float32")
    else:
        x = keras_vae.data.shapes.generate(args.images, seed=0)[0]
    labels = np.full(len(x), -1)
    labels[:100] = np.arange(100) % 10
    settings = keras_vae.presets.get("mnist_semi_supervised")
    model = keras_vae.ConditionalVAE.from_preset("mnist_semi_supervised", seed=0)
    data = keras_vae.data.from_array(
        x, labels=labels, batch_size=settings["batch_size"], labelled_fraction=0.25, seed=0
    )
    count = sum(int(batch[0].shape[0]) for batch in data)  # examples per epoch

    def fit():
        model.fit(data, epochs=1, verbose=0)

    fit()  # compiles
    rates = [count / timed_epoch(fit) for _ in range(args.epochs)]
    print(
        f"{statistics.median(rates):.1f} images/s (epochs: {', '.join(f'{r:.1f}' for r in rates)})"
    )


if __name__ == "__main__":
    main()
