"""Speed of `keras_vae.evaluate.log_likelihood`: k=1000 importance samples on 1,000 images.

Target: under 60 s on 2 CPU cores for `keras_vae.VAE.from_shape((28, 28, 1), seed=0)`, the
default networks.

The model is trained for one epoch (batch 128) on the first 2048 digits of
../shared/data/mnist_sample_8k.npz, binarized at 0.5 (else on the built-in shapes), and
evaluated on the next 1,000 images. A few (batch_size, memory_budget_mb) settings are
screened on `--screen-images` images first; the one using the least CPU time times the full
run. The machine's load average is printed before and after: other processes on the 2
cores slow every wall-clock figure.

Run:  python benchmarks/evaluate_speed.py [--images 1000] [--num-samples 1000]
      python benchmarks/evaluate_speed.py --batch-size 100 --memory-budget-mb 64  # no screening
"""

import argparse
import os
import time

import keras
import numpy as np
import tensorflow as tf

import keras_vae
from keras_vae import evaluate
from keras_vae.data import shapes

SAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "mnist_sample_8k.npz"
)
SETTINGS = [(100, 32), (100, 256), (250, 64), (50, 16)]  # (batch_size, memory_budget_mb)


def binarized_images(count):
    if os.path.exists(SAMPLE):
        images = np.load(SAMPLE)["images"][:count].astype("float32")[..., None] / 255.0
        source = "mnist_sample_8k, binarized at 0.5"
    else:
        images = shapes.generate(count, seed=0)[0]
        source = "shapes (mnist_sample_8k.npz not found), binarized at 0.5"
    return (images > 0.5).astype("float32"), source


def timed(function, *args, **kwargs):
    """(result, wall seconds, CPU seconds of this process): with other load on the machine,
    CPU seconds / cores estimates the wall time the machine would take to itself."""
    start, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start, time.process_time() - cpu


def load():
    return "load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--screen-images", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--memory-budget-mb", type=float, default=None)
    args = parser.parse_args()

    images, source = binarized_images(2048 + args.images)
    train, test = images[:2048], images[2048:]
    print(
        f"data: {source}; train 2048, evaluate {len(test)}; k={args.num_samples}; "
        f"{os.cpu_count()} CPU cores, TF {tf.__version__}, Keras {keras.__version__}"
    )
    print(load())
    keras.utils.set_random_seed(0)
    model = keras_vae.VAE.from_shape((28, 28, 1), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    _, seconds, _ = timed(model.fit, train, epochs=1, batch_size=128, verbose=0)
    print(f"trained 1 epoch in {seconds:.1f} s")

    settings = SETTINGS
    if args.batch_size or args.memory_budget_mb:
        settings = [(args.batch_size or 100, args.memory_budget_mb or 32)]
    timings = {}
    for batch_size, budget in settings if len(settings) > 1 else ():
        kwargs = dict(num_samples=args.num_samples, batch_size=batch_size, memory_budget_mb=budget)
        evaluate.log_likelihood(model, test[:2], **{**kwargs, "num_samples": 2})  # TF start-up
        _, seconds, cpu = timed(
            evaluate.log_likelihood, model, test[: args.screen_images], **kwargs
        )
        timings[(batch_size, budget)] = cpu  # robust to other load, unlike wall time
        chunk = evaluate.likelihood.chunk_size(model, batch_size, args.num_samples, budget)
        print(
            f"screen: batch_size={batch_size:4d} memory_budget_mb={budget:5g} (chunk {chunk:3d} "
            f"samples, decoder batch {batch_size * chunk:5d}): {seconds:6.1f} s on "
            f"{args.screen_images} images ({cpu:.1f} CPU s)"
        )
    batch_size, budget = min(timings, key=timings.get) if timings else settings[0]

    log_px, seconds, cpu = timed(
        evaluate.log_likelihood,
        model,
        test,
        num_samples=args.num_samples,
        batch_size=batch_size,
        memory_budget_mb=budget,
    )
    print(
        f"log_likelihood(model, {len(test)} images, num_samples={args.num_samples}, "
        f"batch_size={batch_size}, memory_budget_mb={budget:g}): {seconds:.1f} s "
        f"({len(test) * args.num_samples / seconds:,.0f} decoded samples/s)  target < 60 s"
    )
    print(
        f"  CPU time {cpu:.1f} s = {cpu / os.cpu_count():.1f} s per core (~ the wall time "
        "on an otherwise idle machine)"
    )
    error = log_px.std() / np.sqrt(len(log_px))
    print(f"NLL = {-log_px.mean():.2f} nats (standard error {error:.2f}), 1-epoch model")
    print(load())
    print(
        f"command: python benchmarks/evaluate_speed.py --images {args.images} --num-samples "
        f"{args.num_samples} --batch-size {batch_size} --memory-budget-mb {budget:g}"
    )


if __name__ == "__main__":
    main()
