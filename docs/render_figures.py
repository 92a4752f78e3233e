"""Renders the figures of docs/pages/visualization.md into docs/pages/images/ from MNIST digits.

Trains two small VAEs on the 8,000-digit sample in ../shared/data/mnist_sample_8k.npz
(7,500 for training, 500 held out): one at the defaults (latent_dim=16, 15 epochs) for
reconstructions, samples, paths, traversals, attribute vectors and neighbours, and one
with latent_dim=2 (30 epochs) for the manifold and the latent scatter. About three
minutes on 2 CPU cores.

Run from the repository root:  python docs/render_figures.py [--data PATH] [--epochs 20]
"""

import argparse
import os
import time

import keras
import numpy as np

import keras_vae
from keras_vae.visualization import latent, plotting

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "..", "..", "shared", "data", "mnist_sample_8k.npz")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=SAMPLE, help="npz file with uint8 digits under 'images'")
    parser.add_argument("--epochs", type=int, default=15, help="doubled for the 2-D model")
    parser.add_argument("--out", default=os.path.join(HERE, "pages", "images"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    start = time.time()

    images = keras_vae.data.read_images(args.data)  # float32 in [0, 1]
    train, held_out = images[:7500], images[7500:]
    model = _train(train, held_out, latent_dim=16, epochs=args.epochs)
    flat = _train(train, held_out, latent_dim=2, epochs=2 * args.epochs)

    ink = held_out.mean(axis=(1, 2, 3))
    bold = latent.attribute_vector(
        model, held_out[ink > np.quantile(ink, 0.8)], held_out[ink < np.quantile(ink, 0.2)]
    )
    figures = {
        "reconstructions": plotting.reconstruction_grid(model, held_out[:32], columns=16),
        "prior_samples": plotting.sample_grid(model, 64, seed=0),
        "manifold": plotting.manifold(flat, grid=20),
        "latent_scatter": plotting.figure_to_array(_scatter(flat, held_out, ink)),
        "interpolation": plotting.interpolation_grid(
            model, held_out[[0, 2, 4]], held_out[[1, 3, 5]], steps=10, spherical=True
        ),
        "traversal": plotting.traversal_grid(
            model, held_out[0], dims=latent.active_dims(model, held_out, count=6), span=3
        ),
        "attribute_bold": plotting.attribute_grid(
            model, held_out[10:15], bold, strengths=np.linspace(-1, 1, 5)
        ),
        "nearest_neighbors": plotting.neighbors_grid(model, held_out[20:25], train, k=8),
    }
    for name, image in figures.items():
        if image.shape[0] < 300:  # small grids at twice the size, for the docs
            image = image.repeat(2, axis=0).repeat(2, axis=1)
        path = os.path.join(args.out, f"{name}.png")
        plotting.save_png(image, path)
        print(
            f"wrote {path} ({image.shape[1]}x{image.shape[0]}, {os.path.getsize(path) // 1024} KB)"
        )
    print(f"done in {time.time() - start:.0f} s")


def _train(train, held_out, latent_dim, epochs):
    keras.utils.set_random_seed(0)
    model = keras_vae.VAE.from_shape((28, 28, 1), latent_dim, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(train, validation_data=held_out, epochs=epochs, batch_size=128, verbose=0)
    loss = model.evaluate(held_out, batch_size=500, verbose=0, return_dict=True)["loss"]
    print(f"latent_dim={latent_dim}: held-out loss {loss:.1f} nats/image after {epochs} epochs")
    return model


def _scatter(model, images, ink):
    figure = plotting.latent_scatter(model, images, labels=ink, size=5)
    figure.axes[0].set_title("500 held-out digits, coloured by ink")
    return figure


if __name__ == "__main__":
    main()
