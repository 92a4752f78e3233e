"""Cost of the default visualization callbacks: epoch time with and without them.

Default model (`keras_vae.VAE.from_shape((28, 28, 1))`, latent 16), built-in shapes training
set (16,384 images),
batch 128. After one warm-up epoch, blocks of epochs with and without
`keras_vae.visualization.default_callbacks` (PNGs + TensorBoard, every epoch) alternate on the
same model; an epoch's time runs from its start to the next epoch's start, so it includes
every callback. The callbacks also time themselves (`callback.seconds`).

Run:  python benchmarks/visualization_overhead.py [--blocks 3] [--epochs-per-block 2]
"""

import argparse
import tempfile
import time

import keras
import numpy as np

import keras_vae
from keras_vae.visualization import callbacks as visualize


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--epochs-per-block", type=int, default=2)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    train = keras_vae.data.load("shapes", "train", batch_size=128)
    held_out = keras_vae.data.load("shapes", "validation", shuffle=False)
    model = keras_vae.VAE.from_shape((28, 28, 1), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(train, epochs=1, verbose=0)  # warm-up: tracing, caching the dataset

    out = tempfile.mkdtemp()
    visuals = visualize.default_callbacks(
        held_out, image_dir=f"{out}/images", log_dir=f"{out}/logs"
    )
    timings = {"without": [], "with": []}
    for _ in range(args.blocks):
        for kind in ("without", "with"):
            extra = visuals if kind == "with" else []
            timings[kind] += _epoch_times(model, train, args.epochs_per_block, extra)
    without, with_ = np.median(timings["without"]), np.median(timings["with"])
    drawn = args.blocks * args.epochs_per_block
    per_epoch = {c.name: c.seconds / drawn for c in visuals}
    print(f"epochs: {len(timings['without'])} without, {len(timings['with'])} with callbacks")
    print(
        f"median epoch time without callbacks: {without:.3f} s  {np.round(timings['without'], 3)}"
    )
    print(f"median epoch time with callbacks:    {with_:.3f} s  {np.round(timings['with'], 3)}")
    print(f"difference of medians: {with_ - without:+.3f} s ({(with_ - without) / without:+.1%})")
    total = sum(per_epoch.values())
    print(
        f"callbacks' own time per epoch: {total * 1000:.0f} ms ({total / without:.1%} of an "
        "epoch without them): " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in per_epoch.items())
    )


def _epoch_times(model, train, epochs, callbacks):
    starts = []
    marker = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: starts.append(time.perf_counter()),
        on_train_end=lambda logs: starts.append(time.perf_counter()),
    )
    model.fit(train, epochs=epochs, verbose=0, callbacks=[marker, *callbacks])
    return list(np.diff(starts))


if __name__ == "__main__":
    main()
