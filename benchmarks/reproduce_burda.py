"""Burda et al. (2015)'s 1-layer VAE on full MNIST, to check our NLL against their 86.76 nats.

Their model: MLP 784-200-200-50 encoder and 50-200-200-784 decoder (tanh), Bernoulli pixels,
ELBO training (k=1) on dynamically binarized MNIST with Adam (beta1=0.9, beta2=0.999,
eps=1e-4); 3^i epochs at learning rate 1e-3 * 10^(-i/7) for i = 0..7 (3,280 epochs in all),
NLL with 5,000 importance samples on the 10,000 test digits binarized once. They report
86.76 nats (and 85.33 for their 2-layer model).

It needs the tfds `mnist` data prepared locally (`tfds build mnist` on a connected machine,
or a copied ~/tensorflow_datasets): keras_vae.data fails within seconds otherwise. It is not
run in CI. `--stages 8` is the paper's schedule (days on a CPU); fewer stages give a quick,
weaker check (e.g. `--stages 4`: 40 epochs).

Run:  python benchmarks/reproduce_burda.py [--stages 8] [--num-samples 5000] [--data-dir DIR]
"""

import argparse
import time

import keras
import numpy as np
from keras import layers

import keras_vae
from keras_vae import evaluate


def mlp_encoder(input_shape=(28, 28, 1), latent_dim=50):
    images = keras.Input(input_shape)
    x = layers.Flatten()(images)
    for _ in range(2):
        x = layers.Dense(200, activation="tanh")(x)
    z_log_var = keras_vae.ClampLogVariance()(layers.Dense(latent_dim, dtype="float32")(x))
    return keras.Model(images, [layers.Dense(latent_dim, dtype="float32")(x), z_log_var])


def mlp_decoder(output_shape=(28, 28, 1), latent_dim=50, param_channels=1):
    z = keras.Input((latent_dim,))
    x = z
    for _ in range(2):
        x = layers.Dense(200, activation="tanh")(x)
    logits = layers.Dense(int(np.prod(output_shape[:2])) * param_channels, dtype="float32")(x)
    return keras.Model(z, layers.Reshape((*output_shape[:2], param_channels))(logits))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", type=int, default=8, help="i = 0 .. stages-1; 3^i epochs each")
    parser.add_argument("--num-samples", type=int, default=5000)
    parser.add_argument("--data-dir", help="tfds data directory (default: ~/tensorflow_datasets)")
    args = parser.parse_args()

    train = keras_vae.data.load(
        "mnist", "train", batch_size=20, binarize=True, data_dir=args.data_dir, download=False
    )
    test = keras_vae.data.load(
        "mnist",
        "test",
        batch_size=1000,
        shuffle=False,
        binarize="static",
        data_dir=args.data_dir,
        download=False,
    )
    keras.utils.set_random_seed(0)
    model = keras_vae.VAE(mlp_encoder(), mlp_decoder(), seed=0)  # Burda et al.'s 2-layer MLPs
    optimizer = keras.optimizers.Adam(1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-4)
    model.compile(optimizer=optimizer)
    start, epoch = time.perf_counter(), 0
    for stage in range(args.stages):
        model.optimizer.learning_rate.assign(1e-3 * 10 ** (-stage / 7))
        model.fit(train, initial_epoch=epoch, epochs=epoch + 3**stage, verbose=2)
        epoch += 3**stage
    images = np.concatenate([batch.numpy() for batch in test])
    result = evaluate.report(model, images, num_samples=args.num_samples)
    print(
        f"{epoch} epochs in {time.perf_counter() - start:,.0f} s; test NLL "
        f"{result['nll']:.2f} +- {result['nll_std_error']:.2f} nats (k={args.num_samples}), "
        f"-ELBO {result['neg_elbo']:.2f}, active units {result['active_units']}/50. "
        "Burda et al.: 86.76 nats."
    )


if __name__ == "__main__":
    main()
