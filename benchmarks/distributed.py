"""Training images/s on 1 vs 2 replicas (logical CPU devices here, GPUs elsewhere), per precision.

On this 2-core CPU machine the two "replicas" share the same cores, so the figures are
informational: they show the overhead of MirroredStrategy and of each dtype policy. On a
multi-GPU machine the same script measures real scaling (`--devices gpu`).

Run:  python benchmarks/distributed.py [--epochs 2] [--devices cpu|gpu]
"""

import argparse
import os
import sys
import time

import tensorflow as tf

if "--devices" not in sys.argv or "cpu" in sys.argv:  # before any other TF op
    _cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_vae  # noqa: E402
from keras_vae import training  # noqa: E402

SAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "mnist_sample_8k.npz"
)


def images():
    if os.path.exists(SAMPLE):
        return np.load(SAMPLE)["images"].astype("float32")[..., None] / 255.0, "mnist_sample_8k"
    return keras_vae.data.shapes.generate(8000, seed=0)[0], "shapes (8,000)"


def measure(strategy, precision, x, epochs, batch_size):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        config = training.TrainConfig(out="unused", precision=precision, jit_compile="off")
        model = training.build_model(config, x.shape[1:])
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(batch_size).cache().prefetch(-1)
    model.fit(dataset, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(dataset, epochs=epochs, verbose=0)
    return epochs * len(x) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256, help="global batch")
    parser.add_argument("--devices", choices=["cpu", "gpu"], default="cpu")
    args = parser.parse_args()
    x, source = images()
    kind = args.devices.upper()
    devices = [d.name for d in tf.config.list_logical_devices(kind)][:2]
    strategies = {
        "1 replica": tf.distribute.OneDeviceStrategy(devices[0]),
        f"{len(devices)} replicas": tf.distribute.MirroredStrategy(devices),
    }
    print(
        f"data: {source}, global batch {args.batch_size}, {args.epochs} timed epochs, "
        f"{os.cpu_count()} CPU cores, devices {devices}, TF {tf.__version__}"
    )
    print("| replicas | precision | images/s |\n| --- | --- | ---: |")
    for name, strategy in strategies.items():
        for precision in training.PRECISIONS:
            rate = measure(strategy, precision, x, args.epochs, args.batch_size)
            print(f"| {name} | {precision} | {rate:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
