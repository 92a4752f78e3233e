"""Held-out NLL of four MNIST VAEs trained by one harness: three published anchors and ours.

Data: ../shared/data/mnist_sample_8k.npz (8,000 real digits). The first 7,000 train,
dynamically binarized (new Bernoulli pixels every epoch); the last 1,000 are the test
set, binarized once with a fixed seed. Every model trains with `VAE.train_step` (same
loss code, same data pipeline) for the same number of epochs, then is scored with
`keras_vae.evaluate.report`: importance-sampled NLL (k=1000), negative ELBO, active units.

  keras_example  the Keras docs' VAE (conv 32/64, dense 16, latent 2), Adam 1e-3, batch 128
  tf_cvae        the TensorFlow tutorial's CVAE (conv 32/64, latent 2, deconv 64/32),
                 Adam 1e-4, batch 32
  tfp_conv       the TFP probabilistic-layers notebook's conv VAE (5x5 convs 32-32-64-64,
                 latent 16, diagonal posterior), Adam 1e-3, batch 128
  mnist          our `mnist` preset with its own recipe (batch 32, Adam 1e-3 decayed to 0
                 by a cosine over the epochs trained)

Run:  python benchmarks/quality.py [--epochs 20] [--models keras_example,tf_cvae,tfp_conv,mnist]
      python benchmarks/quality.py --models mnist --epochs 45   # the preset's own length
"""

import argparse
import os
import time

import keras
import numpy as np
import tensorflow as tf
from keras import layers

import keras_vae
from keras_vae import evaluate, optimizers, presets

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist_sample_8k.npz")


def tfp_encoder(input_shape=(28, 28, 1), latent_dim=16):
    conv = dict(padding="same", activation=tf.nn.leaky_relu)
    images = keras.Input(input_shape)
    x = layers.Rescaling(1.0, offset=-0.5)(images)
    for width, stride in ((32, 1), (32, 2), (64, 1), (64, 2)):
        x = layers.Conv2D(width, 5, strides=stride, **conv)(x)
    x = layers.Conv2D(4 * latent_dim, 7, padding="valid", activation=tf.nn.leaky_relu)(x)
    x = layers.Flatten()(x)
    z_log_var = layers.Dense(latent_dim, dtype="float32")(x)
    heads = [layers.Dense(latent_dim, dtype="float32")(x), keras_vae.ClampLogVariance()(z_log_var)]
    return keras.Model(images, heads, name="encoder")


def tfp_decoder(latent_dim=16, param_channels=1):
    conv = dict(padding="same", activation=tf.nn.leaky_relu)
    z = keras.Input((latent_dim,))
    y = layers.Reshape((1, 1, latent_dim))(z)
    y = layers.Conv2DTranspose(64, 7, padding="valid", activation=tf.nn.leaky_relu)(y)
    for width, stride in ((64, 1), (64, 2), (32, 1), (32, 2), (32, 1)):
        y = layers.Conv2DTranspose(width, 5, strides=stride, **conv)(y)
    logits = layers.Conv2D(param_channels, 5, padding="same", dtype="float32")(y)
    return keras.Model(z, logits, name="decoder")


def tfp_conv_vae():
    """The TFP notebook's networks inside our VAE (its train_step, its likelihood)."""
    return keras_vae.VAE(tfp_encoder(), tfp_decoder(), seed=0)


def _adam(learning_rate):
    return lambda steps_per_epoch, epochs: keras.optimizers.Adam(learning_rate)


def _mnist_optimizer(steps_per_epoch, epochs):
    """The preset's own recipe (cosine decay), run over the epochs actually trained."""
    recipe = presets.get("mnist")["train"]
    return optimizers.adam(recipe["learning_rate"], recipe["lr_schedule"], steps_per_epoch * epochs)


# name: (model builder, optimizer(steps_per_epoch, epochs), batch size)
MODELS = {
    "keras_example": (lambda: keras_vae.VAE.from_preset("keras_example", seed=0), _adam(1e-3), 128),
    "tf_cvae": (
        lambda: keras_vae.VAE(latent_dim=2, dense_units=0, encoder_filters=(32, 64),
                              decoder_filters=(32, 64, 32), seed=0),  # fmt: skip
        _adam(1e-4), 32,
    ),
    "tfp_conv": (tfp_conv_vae, _adam(1e-3), 128),
    "mnist": (lambda: keras_vae.VAE.from_preset("mnist", seed=0), _mnist_optimizer,
              presets.get("mnist")["train"]["batch_size"]),  # fmt: skip
}


def run(name, train, test, epochs, num_samples, save_dir=None):
    build, optimizer, batch_size = MODELS[name]
    keras.utils.set_random_seed(0)
    model = build()
    model.compile(optimizer=optimizer(-(-len(train) // batch_size), epochs))
    dataset = keras_vae.data.from_array(train, batch_size=batch_size, binarize=True, seed=0)
    start = time.perf_counter()
    model.fit(dataset, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    print(f"# {name}: trained {epochs} epochs in {seconds:.0f} s ({epochs * len(train) / seconds:,.0f} "
          "images/s); scoring", flush=True)
    if save_dir:
        model.save(os.path.join(save_dir, f"{name}_{epochs}ep.keras"))
    scores = evaluate.report(model, test, num_samples=num_samples)
    return {"images/s": epochs * len(train) / seconds, "train s": seconds, **scores}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--num-samples", type=int, default=1000, help="k of the NLL estimate")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--save-dir", help="also save each trained model here (NAME_EPOCHSep.keras)")
    args = parser.parse_args()
    if not os.path.exists(SAMPLE):
        raise SystemExit(f"needs the real-digit sample at {SAMPLE}")
    digits = np.load(SAMPLE)["images"].astype("float32")[..., None] / 255.0
    train = digits[:7000]
    test = (np.random.default_rng(123).uniform(size=digits[7000:].shape) < digits[7000:])
    test = test.astype("float32")
    print(f"train 7,000 (dynamic binarization), test 1,000 (fixed), {args.epochs} epochs, "
          f"NLL with k={args.num_samples}; {os.cpu_count()} CPU cores, TF {tf.__version__}")
    print("| model | NLL (nats) | -ELBO | active units | train images/s | train s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in args.models.split(","):
        r = run(name, train, test, args.epochs, args.num_samples, args.save_dir)
        print(f"| {name} | {r['nll']:.2f} | {r['neg_elbo']:.2f} | {r['active_units']} | "
              f"{r['images/s']:,.0f} | {r['train s']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
