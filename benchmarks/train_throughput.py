"""Training throughput of `VAE.fit` against a bare `tf.function` loop on the same networks.

For each architecture, one process builds one `keras_vae.VAE` and alternates whole epochs:
A = `model.fit` (our train_step: TFP likelihood, global-batch averaging, the all-replica
finite check, the NaN-skipping LossScaleOptimizer, metrics, callbacks machinery) and
B = a bare loop, `for x in dataset: step(x)` with a `tf.function` step on the same encoder and
decoder (sigmoid cross-entropy + analytic KL by hand, plain Adam, nothing else). Both read
the same cached `tf.data` pipeline (batch 128) after one warm-up epoch each. The figure is
the ratio A/B of images/s, pair by pair (A B A B ...): the machine's drift cancels within
a pair. Data: real MNIST digits from ../shared/data/mnist_sample_8k.npz when present, else
the built-in shapes.

  default       keras_vae.VAE.from_shape((28, 28, 1)) at its defaults (latent 16)
  keras_arch    the Keras documentation example's architecture (conv 32/64, dense 16,
                latent 2, deconv 64/64/32)

Run:  python benchmarks/train_throughput.py [--pairs 5]
"""

import argparse
import os
import time

import keras
import numpy as np
import tensorflow as tf

import keras_vae

SAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "mnist_sample_8k.npz"
)

MODELS = {
    "default": dict(latent_dim=16),
    "keras_arch": dict(
        latent_dim=2,
        architecture=dict(dense_units=16, encoder_filters=(32, 64), decoder_filters=(64, 64, 32)),
    ),
}


def images():
    if os.path.exists(SAMPLE):
        return np.load(SAMPLE)["images"].astype("float32")[..., None] / 255.0, "mnist_sample_8k"
    return keras_vae.data.shapes.generate(8000, seed=0)[0], "shapes (8,000)"


def bare_epoch_function(model):
    """An epoch of the bare loop on `model`'s encoder and decoder."""
    optimizer = keras.optimizers.Adam(1e-3)
    variables = model.encoder.trainable_variables + model.decoder.trainable_variables
    optimizer.build(variables)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            z_mean, z_log_var = model.encoder(x, training=True)
            eps = tf.random.normal(tf.shape(z_mean))
            logits = model.decoder(z_mean + tf.exp(0.5 * z_log_var) * eps, training=True)
            nll = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(x, logits), axis=[1, 2, 3])
            kl = -0.5 * tf.reduce_sum(1 + z_log_var - z_mean**2 - tf.exp(z_log_var), axis=1)
            loss = tf.reduce_mean(nll + kl)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

    def epoch(dataset):
        for x in dataset:
            step(x)

    return epoch


def seconds(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="A B pairs of one epoch each")
    args = parser.parse_args()
    x, source = images()
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(128).cache().prefetch(tf.data.AUTOTUNE)
    print(
        f"data: {source}, {len(x)} images, batch 128, {args.pairs} A/B pairs of one epoch, "
        f"{os.cpu_count()} CPU cores, TF {tf.__version__}, Keras {keras.__version__}"
    )
    print(
        "| model | fit images/s (median) | bare loop images/s (median) "
        "| fit / bare: median (min-max) |"
    )
    print("| --- | ---: | ---: | ---: |")
    for name, arguments in MODELS.items():
        keras.utils.set_random_seed(0)
        model = keras_vae.VAE.from_shape((28, 28, 1), seed=0, **arguments)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        fit = lambda model=model: model.fit(dataset, epochs=1, verbose=0)
        bare_epoch = bare_epoch_function(model)
        bare = lambda epoch=bare_epoch: epoch(dataset)
        fit(), bare()  # warm-up: trace both, fill the cache
        pairs = [(seconds(fit), seconds(bare)) for _ in range(args.pairs)]
        rates = np.array([(len(x) / a, len(x) / b) for a, b in pairs])
        ratios = rates[:, 0] / rates[:, 1]
        print(
            f"| {name} | {np.median(rates[:, 0]):,.0f} | {np.median(rates[:, 1]):,.0f} | "
            f"{np.median(ratios):.2f} ({ratios.min():.2f}-{ratios.max():.2f}) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
