"""JAX on the CPU: `fit` with the package's step function (state not donated) against
Keras's own (state donated), alternating in one process.

Two copies of the `keras_example` preset with the same seed train on the same 2,048
digits as `benchmarks/backends.py`; one of them is given Keras's own `make_train_function`.
Each round fits each model for two epochs and times the second. Both must reach the same
losses (the same updates).

    KERAS_BACKEND=jax python benchmarks/jax_donation.py --rounds 3
"""

import argparse
import statistics
import time

import keras
from backends import images

import keras_vae


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=2048)
    args = parser.parse_args()
    if keras.backend.backend() != "jax":
        raise SystemExit("Run with KERAS_BACKEND=jax.")
    x, source = images(args.images)
    models = {}
    for name in ("package", "keras"):
        keras.utils.set_random_seed(0)
        models[name] = keras_vae.VAE.from_preset("keras_example", seed=0)
    keras_model = models["keras"]
    keras_model.make_train_function = lambda force=False: keras.Model.make_train_function(
        keras_model, force
    )
    rates, losses = {name: [] for name in models}, {name: [] for name in models}
    for _ in range(args.rounds + 1):  # the first round compiles
        for name, model in models.items():
            times = []
            stamp = times.append
            clock = keras.callbacks.LambdaCallback(
                on_epoch_begin=lambda e, logs, stamp=stamp: stamp(time.perf_counter()),
                on_epoch_end=lambda e, logs, stamp=stamp: stamp(time.perf_counter()),
            )
            history = model.fit(
                x, batch_size=128, epochs=2, verbose=0, shuffle=False, callbacks=[clock]
            )
            rates[name].append(len(x) / (times[3] - times[2]))
            losses[name].extend(history.history["loss"])
    ratios = [a / b for a, b in zip(rates["package"][1:], rates["keras"][1:])]
    print(f"{args.rounds} rounds, {args.images} images of {source} per epoch")
    for name in models:
        print(f"{name:8s} {[round(r) for r in rates[name][1:]]} images/s")
    print(f"package / keras: {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")
    print("same losses:", max(abs(a - b) for a, b in zip(*losses.values())))


if __name__ == "__main__":
    main()
