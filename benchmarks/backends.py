"""Training speed on each Keras backend, and our `fit` against a bare loop on each.

The `keras_example` preset (the Keras documentation's VAE: conv networks, latent 2, batch
128) trains on 2,048 digits of `../shared/data/mnist_sample_8k.npz` (the built-in shapes
when the file is absent). One process per backend builds the model and a bare loop on its
networks, runs each once to compile, then alternates, `--pairs` times: `fit` on the NumPy
array (Keras's own input pipeline), `fit` on `keras_vae.data.from_array` of it (the
package's pipeline, which the CLI uses), and one epoch of the bare loop. Each `fit` call
runs two epochs and its second is timed (by a callback, as a user's many-epoch run sees
it); both go in order, as the bare loop does. Each fit / bare ratio is taken within one
alternation of one process. The processes run one after the other (tensorflow jax torch,
...) for `--rounds` rounds, and each backend's fit is compared with TensorFlow's of the
same round.

The bare loop is what one writes for that backend by hand on the same networks, fed with
slices of the array: the negative ELBO (Bernoulli cross-entropy plus the Gaussian KL) and
Adam, in a `tf.function` with a GradientTape, in `jax.jit` over `stateless_call`, or in a
PyTorch loop with `torch.optim.Adam`; no metrics, no finiteness check, no loss scaling.

    python benchmarks/backends.py --rounds 3 --pairs 3
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
        # Copies: fit donates the model's own buffers to its steps.
        frozen = (
            [jnp.array(v.value) for v in encoder.non_trainable_variables],
            [jnp.array(v.value) for v in decoder.non_trainable_variables],
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
            "values": [jnp.array(v.value) for v in trainable],
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


def timed_epoch(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def bare_epoch(step, x, batch_size):
    """One epoch of the bare loop over x, in order, without the last partial batch."""
    for first in range(0, len(x) - batch_size + 1, batch_size):
        step(x[first : first + batch_size])


def worker(args):
    import keras

    import keras_vae

    x, source = images(args.images)
    keras.utils.set_random_seed(0)
    model = keras_vae.VAE.from_preset("keras_example", seed=0)
    settings = keras_vae.presets.get("keras_example")
    batch = settings["batch_size"]
    step = bare_step(model, settings["learning_rate"])
    bare_count = len(x) // batch * batch

    epoch_times = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(time.perf_counter() - self.start)

    def fit_rate(data):
        # Two epochs per call, the second timed: a user's fit runs many epochs, so the
        # set-up of each call (its data adapter, callbacks) is not the epoch's cost. In
        # order, as the bare loop goes.
        size = None if data is not x else batch
        model.fit(data, batch_size=size, epochs=2, verbose=0, shuffle=False, callbacks=[Clock()])
        return len(x) / epoch_times[-1]

    def bare():
        bare_epoch(step, x, batch)

    pipeline = keras_vae.data.from_array(x, batch_size=batch, shuffle=False)
    fit_rate(x), fit_rate(pipeline), bare()  # compile all three
    rows = []
    for _ in range(args.pairs):
        rows.append((fit_rate(x), fit_rate(pipeline), bare_count / timed_epoch(bare)))
    print(json.dumps({"backend": keras.backend.backend(), "pairs": rows, "data": source}))


def run_one(backend, args):
    command = [sys.executable, __file__, "--worker", "--pairs", str(args.pairs)]
    command += ["--images", str(args.images)]
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def spread(values):
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=3, help="fit/bare epoch pairs per process")
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    rounds = []
    for r in range(args.rounds):
        found = {}
        for backend in args.backends:
            found[backend] = run_one(backend, args)["pairs"]
            fit, piped, bare = (statistics.median(p[i] for p in found[backend]) for i in range(3))
            print(
                f"round {r + 1}: {backend:10s} fit {fit:6.0f} (arrays), {piped:6.0f} "
                f"(pipeline), bare {bare:6.0f} images/s"
            )
        rounds.append(found)
    print(f"\n{args.rounds} rounds of {args.pairs} epoch pairs, {args.images} images per epoch")
    print(
        "| backend | input | fit images/s | fit / the first backend's fit (rounds) "
        "| fit / bare loop (pairs) | pairs under 0.7 |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for backend in args.backends:
        for i, name in enumerate(("arrays", "pipeline")):
            fits = [statistics.median(p[i] for p in f[backend]) for f in rounds]
            base = [statistics.median(p[i] for p in f[args.backends[0]]) for f in rounds]
            to_base = [a / b for a, b in zip(fits, base)]
            to_bare = [p[i] / p[2] for f in rounds for p in f[backend]]
            slow = sum(ratio < 0.7 for ratio in to_bare)
            print(
                f"| {backend} | {name} | {statistics.median(fits):.0f} | {spread(to_base)} "
                f"| {spread(to_bare)} | {slow} of {len(to_bare)} |"
            )


if __name__ == "__main__":
    main()
