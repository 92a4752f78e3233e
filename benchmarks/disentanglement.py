"""Disentanglement on the built-in `shapes`: a plain VAE, a β-VAE and a β-TCVAE of the same β,
the same networks and epochs, scored by every metric of `keras_vae.evaluate.disentanglement`.

Every model is the `shapes_tcvae` preset's (its networks, latent, batch size, learning rate
and epochs, which the flags can change) with its own objective:

  vae      ELBO, beta 1
  betavae  ELBO, beta --beta
  tcvae    TCVAE (minibatch-stratified), alpha = gamma = 1, beta --beta

Data: `shapes.generate` with the splits' own seeds (train 1, validation 2, test 3, as
`keras_vae.data.load("shapes", split)` draws them). Models train on `--num-train` training
shapes; the metrics are computed on `--num-eval` shapes of `--split` (validation for
choosing, test for the figures), from the posterior means, against the five factors
(shape, scale, rotation, x, y), with MIG per factor. Also reported: the reconstruction term
(-log p(x|z), nats per image) and the KL, on 1,000 of the same shapes, the training seconds,
and the whole benchmark's.

Run:  python benchmarks/disentanglement.py [--models vae,betavae,tcvae] [--beta 6]
          [--epochs 20] [--seeds 0,1,2] [--split test]
"""

import argparse
import time

import keras
import numpy as np

import keras_vae
from keras_vae import evaluate, presets
from keras_vae.data import shapes
from keras_vae.evaluate.disentanglement import SCORES

SPLIT_SEEDS = {"train": 1, "validation": 2, "test": 3}


def build(name, beta, latent_dim, num_train, seed):
    """The `shapes_tcvae` preset's model with `name`'s objective: the same networks for all."""
    objective = {
        "vae": dict(objective="elbo", beta=1.0, dataset_size=None),
        "betavae": dict(objective="elbo", beta=beta, dataset_size=None),
        "tcvae": dict(objective="tcvae", beta=beta, dataset_size=num_train),
    }[name]
    return keras_vae.VAE.from_preset("shapes_tcvae", latent_dim=latent_dim, seed=seed, **objective)


def run(name, args, seed, train, evaluation):
    keras.utils.set_random_seed(seed)
    model = build(name, args.beta, args.latent_dim, len(train), seed)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    dataset = keras_vae.data.from_array(
        train, batch_size=args.batch_size, seed=seed, drop_remainder=True
    )
    start = time.perf_counter()
    model.fit(dataset, epochs=args.epochs, verbose=0)
    seconds = time.perf_counter() - start
    images, factors = evaluation
    scores = evaluate.disentanglement(model, images, factors, seed=seed)
    codes = model.encode(images)[0]
    for j, factor in enumerate(shapes.FACTOR_NAMES):
        scores[f"mig_{factor}"] = evaluate.mig(codes, factors[:, [j]])
    terms = model.loss_terms(images[:1000])
    scores["reconstruction"] = float(np.mean(terms["reconstruction_loss"]))
    scores["kl"] = float(np.mean(terms["kl_loss"]))
    scores["seconds"] = seconds
    return scores


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="vae,betavae,tcvae")
    recipe = presets.get("shapes_tcvae")
    parser.add_argument("--beta", type=float, default=recipe["beta"])
    parser.add_argument("--epochs", type=int, default=recipe["epochs"])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--split", choices=("validation", "test"), default="test")
    parser.add_argument("--num-train", type=int, default=16384)
    parser.add_argument("--num-eval", type=int, default=5000)
    parser.add_argument("--latent-dim", type=int, default=recipe["latent_dim"])
    parser.add_argument("--batch-size", type=int, default=recipe["batch_size"])
    parser.add_argument("--learning-rate", type=float, default=recipe["learning_rate"])
    args = parser.parse_args()
    train, _ = shapes.generate(args.num_train, seed=SPLIT_SEEDS["train"])
    images, raw = shapes.generate(args.num_eval, seed=SPLIT_SEEDS[args.split])
    evaluation = (images, shapes.factor_array(raw))
    seeds = [int(s) for s in args.seeds.split(",")]
    print(
        f"shapes: train {args.num_train:,}, {args.split} {args.num_eval:,}; "
        f"latent {args.latent_dim}, beta {args.beta:g}, {args.epochs} epochs, "
        f"batch {args.batch_size}; seeds {seeds}",
        flush=True,
    )
    begin = time.perf_counter()
    per_factor = tuple(f"mig_{factor}" for factor in shapes.FACTOR_NAMES)
    columns = (*SCORES, "reconstruction", "kl", "seconds", *per_factor)
    print("| model | " + " | ".join(columns) + " |")
    print("| --- |" + " ---: |" * len(columns))
    for name in args.models.split(","):
        runs = [run(name, args, seed, train, evaluation) for seed in seeds]
        for seed, r in zip(seeds, runs):
            print(f"#   {name} seed {seed}: " + ", ".join(f"{k} {r[k]:.3f}" for k in columns))
        cells = []
        for key in columns:
            values = [r[key] for r in runs]
            spread = f" ({min(values):.2f}-{max(values):.2f})" if len(values) > 1 else ""
            cells.append(f"{np.mean(values):.2f}{spread}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    print(f"# the whole benchmark: {time.perf_counter() - begin:.0f} s", flush=True)


if __name__ == "__main__":
    main()
