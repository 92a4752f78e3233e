"""Training speed on each Keras backend, and our `fit` against a bare loop on each.

The `keras_example` preset (the Keras documentation's VAE: conv networks, latent 2, batch
128) trains on 4,096 digits of `../shared/data/mnist_sample_8k.npz` (the built-in shapes
when the file is absent). Each measurement is one process: it builds the model, trains one
epoch to compile, then times `--epochs` epochs and prints the median images/s. Processes
run one after the other, alternating (tensorflow jax torch, fit then bare, ...) for
`--rounds` rounds, so that the machine's drift hits every backend alike; the figures are
ratios within a round, with their spread over the rounds.

The bare loop is what one writes for that backend by hand on the same networks: the
negative ELBO (Bernoulli cross-entropy plus the Gaussian KL) and Adam, in a
`tf.function` with a GradientTape, in `jax.jit` over `stateless_call`, or in a PyTorch
loop with `torch.optim.Adam`; no metrics, no finiteness check, no loss scaling.

    python benchmarks/backends.py --rounds 3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")
SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


def images(n):
    import numpy as np

    path = os.path.join(SHARED, "mnist_sample_8k.npz")
    if os.path.exists(path):
        digits = np.load(path)["images"][:n, :, :, None]
        return (digits / 255.0).astype("float32"), "mnist_sample_8k"
    from keras_vae.data import shapes

    return shapes.generate(n, seed=0)[0], "shapes"


def fit_rate(model, data, epochs, count, **fit_kwargs):
    """The median images/s of `epochs` epochs of `model.fit(data)` (`count` examples each),
    after one more epoch that compiles."""
    import keras

    times = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    model.fit(data, epochs=epochs + 1, verbose=0, callbacks=[Clock()], **fit_kwargs)
    return count / statistics.median(times[1:])


def bare_step(model, learning_rate):
    """step(x) for this backend: one Adam update of the negative ELBO, by hand."""
    import keras

    encoder, decoder = model.encoder, model.decoder
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        variables = [*encoder.trainable_variables, *decoder.trainable_variables]
        optimizer = keras.optimizers.Adam(learning_rate)
        optimizer.build(variables)

        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                mean, log_var = encoder(x, training=True)
                z = mean + tf.exp(0.5 * log_var) * tf.random.normal(tf.shape(mean))
                logits = decoder(z, training=True)
                ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits)
                kl = 0.5 * tf.reduce_sum(tf.exp(log_var) + mean**2 - 1.0 - log_var, -1)
                loss = tf.reduce_mean(tf.reduce_sum(ce, [1, 2, 3]) + kl)
            optimizer.apply(tape.gradient(loss, variables), variables)

        return step
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        optimizer = keras.optimizers.Adam(learning_rate)
        trainable = [*encoder.trainable_variables, *decoder.trainable_variables]
        optimizer.build(trainable)
        n = len(encoder.trainable_variables)
        frozen = (
            [v.value for v in encoder.non_trainable_variables],
            [v.value for v in decoder.non_trainable_variables],
        )

        def loss_fn(values, x, key):
            (mean, log_var), _ = encoder.stateless_call(values[:n], frozen[0], x, training=True)
            z = mean + jnp.exp(0.5 * log_var) * jax.random.normal(key, mean.shape)
            logits, _ = decoder.stateless_call(values[n:], frozen[1], z, training=True)
            ce = jnp.maximum(logits, 0) - logits * x + jnp.log1p(jnp.exp(-jnp.abs(logits)))
            kl = 0.5 * jnp.sum(jnp.exp(log_var) + mean**2 - 1.0 - log_var, -1)
            return jnp.mean(jnp.sum(ce, (1, 2, 3)) + kl)

        @jax.jit
        def update(values, optimizer_values, x, key):
            grads = jax.grad(loss_fn)(values, x, key)
            return optimizer.stateless_apply(optimizer_values, grads, values)

        state = {
            "values": [v.value for v in trainable],
            "optimizer": [v.value for v in optimizer.variables],
            "key": jax.random.PRNGKey(0),
        }

        def step(x):
            state["key"], key = jax.random.split(state["key"])
            state["values"], state["optimizer"] = update(
                state["values"], state["optimizer"], x, key
            )
            jax.block_until_ready(state["values"])

        return step
    import torch

    parameters = [v.value for v in (*encoder.trainable_variables, *decoder.trainable_variables)]
    optimizer = torch.optim.Adam(parameters, lr=learning_rate)

    def step(x):
        x = torch.from_numpy(x)
        optimizer.zero_grad()
        mean, log_var = encoder(x, training=True)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        logits = decoder(z, training=True)
        ce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none")
        kl = 0.5 * torch.sum(torch.exp(log_var) + mean**2 - 1.0 - log_var, -1)
        torch.mean(torch.sum(ce, (1, 2, 3)) + kl).backward()
        optimizer.step()

    return step


def bare_rate(model, x, epochs, batch_size, learning_rate):
    step = bare_step(model, learning_rate)
    times = []
    for _ in range(epochs + 1):
        start = time.perf_counter()
        for first in range(0, len(x) - batch_size + 1, batch_size):
            step(x[first : first + batch_size])
        times.append(time.perf_counter() - start)
    steps = len(x) // batch_size
    return steps * batch_size / statistics.median(times[1:])


def worker(args):
    import keras

    import keras_vae

    x, source = images(args.images)
    keras.utils.set_random_seed(0)
    model = keras_vae.VAE.from_preset("keras_example", seed=0)
    settings = keras_vae.presets.get("keras_example")
    if args.mode == "fit":
        rate = fit_rate(model, x, args.epochs, len(x), batch_size=settings["batch_size"])
    else:
        rate = bare_rate(model, x, args.epochs, settings["batch_size"], settings["learning_rate"])
    print(
        json.dumps(
            {
                "backend": keras.backend.backend(),
                "mode": args.mode,
                "images_per_s": rate,
                "data": source,
            }
        )
    )


def run_one(backend, mode, args):
    command = [
        sys.executable,
        __file__,
        "--worker",
        "--mode",
        mode,
        "--epochs",
        str(args.epochs),
        "--images",
        str(args.images),
    ]
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def spread(values):
    return f"{statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per process")
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("fit", "bare"), default="fit", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    rounds = []
    for r in range(args.rounds):
        found = {}
        for backend in args.backends:
            for mode in ("fit", "bare"):
                found[backend, mode] = run_one(backend, mode, args)["images_per_s"]
                print(
                    f"round {r + 1}: {backend:10s} {mode}: {found[backend, mode]:7.0f} images/s",
                    flush=True,
                )
        rounds.append(found)
    print(f"\n{args.rounds} rounds, {args.epochs} timed epochs of {args.images} images each")
    print("| backend | fit images/s | fit / TensorFlow's fit | fit / bare loop |")
    print("| --- | ---: | ---: | ---: |")
    for backend in args.backends:
        rates = [f[backend, "fit"] for f in rounds]
        to_tf = [f[backend, "fit"] / f["tensorflow", "fit"] for f in rounds]
        to_bare = [f[backend, "fit"] / f[backend, "bare"] for f in rounds]
        print(
            f"| {backend} | {statistics.median(rates):.0f} | {spread(to_tf)} | {spread(to_bare)} |"
        )


if __name__ == "__main__":
    main()
