"""Held-out NLL of MNIST VAEs trained by one harness: three published anchors and ours.

Data (../shared/data): with `--test labelled` (the default) all 8,000 digits of
mnist_sample_8k.npz train, and the last 2,000 of mnist_labeled_6k.npz, digits from another
source that training never sees, test. With `--test sample`, the earlier split: the first
7,000 of the 8k sample train and its last 1,000 test (about 4 nats kinder). Training
digits are dynamically binarized (new Bernoulli pixels every epoch), test digits once with
a fixed seed. Every model trains with `VAE.train_step` (same loss code, same data
pipeline), then is scored with `keras_vae.evaluate.report`: importance-sampled NLL
(k=1000), negative ELBO, their gap, active units.

  keras_example  the Keras docs' VAE (conv 32/64, dense 16, latent 2), Adam 1e-3, batch 128
  tf_cvae        the TensorFlow tutorial's CVAE (conv 32/64, latent 2, deconv 64/32),
                 Adam 1e-4, batch 32
  tfp_conv       the TFP probabilistic-layers notebook's conv VAE (5x5 convs 32-32-64-64,
                 latent 16, diagonal posterior), Adam 1e-3, batch 128
  mnist          our `mnist` preset with its own recipe (batch 32, Adam 1e-3 decayed to 0
                 by a cosine over the epochs trained)
  mnist_gaussian the preset with a diagonal Gaussian posterior
  mnist_iaf      the preset with an IAF posterior (`posterior="iaf"`, the preset's flow
                 arguments, or the defaults)
  mnist_hierarchical  the `mnist_hierarchical` preset (a HierarchicalVAE) with its recipe

Time: `--time-ratio tfp_conv,mnist` builds both models in one process and alternates whole
epochs (A B A B ...); it reports how long the second's full recipe (the preset's epochs)
takes against the anchor's 20 epochs, with the spread over the pairs, not seconds.

Samples: with `--samples N`, each model also draws N prior samples (seeds 0, 1, 2) and is
scored by `keras_vae.evaluate.sample_quality` through a CNN (`evaluate.train_classifier`)
trained on the first 3,600 of mnist_labeled_6k.npz, its epochs chosen on the next 400; the
real digits it compares with are the test split (the last 2,000, grey; with `--test sample`,
the 8k sample's last 1,000, so that tuning never sees the test digits). Reported: the share
of samples read with confidence >= 0.9 against the real digits' share, and the Fréchet
distance in the CNN's 128 features, with the floor of two halves of the real digits. With
`--temperatures 1,0.9,0.8`, the figures are given at temperature 1 (the prior itself) and at
the temperature whose samples the CNN reads as often as its 400 validation digits, chosen
without the test digits (`sample_temperature.py` does the same for a saved model).

Tuning: `--test sample` trains on the 8k sample's first 7,000 and scores its last 1,000
(and compares samples with them): a validation split that never touches the test digits.

Run:  python benchmarks/quality.py [--epochs 20] [--models keras_example,tf_cvae,tfp_conv,mnist]
      python benchmarks/quality.py --models mnist --epochs 0 --samples 2000
      python benchmarks/quality.py --models mnist --epochs 0   # 0: the preset's own length
      python benchmarks/quality.py --time-ratio tfp_conv,mnist --ratio-epochs 3
      python benchmarks/quality.py --models mnist_hierarchical --epochs 0 --test sample
"""

import argparse
import json
import os
import time

import keras
import numpy as np
import tensorflow as tf
from keras import layers

import keras_vae
from keras_vae import evaluate, optimizers, presets
from keras_vae.models import recipes

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
SAMPLE = os.path.join(SHARED, "mnist_sample_8k.npz")
LABELLED = os.path.join(SHARED, "mnist_labeled_6k.npz")
ANCHOR_EPOCHS = 20


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


def _preset_optimizer(preset):
    """The preset's own learning rate and schedule, run over the epochs actually trained."""

    def optimizer(steps_per_epoch, epochs):
        recipe = {**presets.get(preset), **OVERRIDES}
        return optimizers.adam(
            recipe["learning_rate"], recipe["lr_schedule"], steps_per_epoch * epochs
        )

    return optimizer


_mnist_optimizer = _preset_optimizer("mnist")


# name: (model builder, optimizer(steps_per_epoch, epochs), batch size)
MODELS = {
    "keras_example": (lambda: keras_vae.VAE.from_preset("keras_example", seed=0), _adam(1e-3), 128),
    "tf_cvae": (
        lambda: keras_vae.VAE.from_shape(
            (28, 28, 1),
            2,
            seed=0,
            architecture=dict(
                dense_units=0, encoder_filters=(32, 64), decoder_filters=(32, 64, 32)
            ),
        ),
        _adam(1e-4),
        32,
    ),
    "tfp_conv": (tfp_conv_vae, _adam(1e-3), 128),
    "mnist": (lambda: _preset_with(None), _mnist_optimizer, presets.get("mnist")["batch_size"]),
    "mnist_gaussian": (
        lambda: _preset_with("gaussian"),
        _mnist_optimizer,
        presets.get("mnist")["batch_size"],
    ),
    "mnist_iaf": (
        lambda: _preset_with("iaf"),
        _mnist_optimizer,
        presets.get("mnist")["batch_size"],
    ),
    "mnist_hierarchical": (
        lambda: _recipe_model("mnist_hierarchical"),
        _preset_optimizer("mnist_hierarchical"),
        presets.get("mnist_hierarchical")["batch_size"],
    ),
}


#: `--override`: recipe settings that replace the preset's in the mnist* models (for tuning).
OVERRIDES = {}
#: `--seed`: of initialisation, noise and data order, for every model.
SEED = [0]


def _preset_with(posterior):
    """The mnist preset (with `--override`s) and the given posterior, or its own for None (the
    flow's arguments dropped for a Gaussian)."""
    recipe = {**presets.get("mnist"), **OVERRIDES, "seed": SEED[0]}
    if posterior is not None:
        recipe["posterior"] = posterior
    if recipe.get("posterior", "gaussian") == "gaussian":
        recipe = {k: v for k, v in recipe.items() if k not in ("flow_steps", "flow_units")}
    return recipes.build(recipe, recipe["input_shape"])


def _recipe_model(preset):
    """Preset `preset`'s model, with the `--override`s."""
    recipe = {**presets.get(preset), **OVERRIDES, "seed": SEED[0]}
    return recipes.build(recipe, recipe["input_shape"])


def own_epochs(name):
    """The epochs of a model's recipe: its preset's for ours (with `--override`s), 20 for an
    anchor."""
    if not name.startswith("mnist"):
        return ANCHOR_EPOCHS
    preset = name if name in presets.PRESETS else "mnist"
    return {**presets.get(preset), **OVERRIDES}["epochs"]


def _compiled(name, train, epochs):
    build, optimizer, batch_size = MODELS[name]
    keras.utils.set_random_seed(SEED[0])
    model = build()
    model.compile(optimizer=optimizer(-(-len(train) // batch_size), epochs))
    dataset = keras_vae.data.from_array(train, batch_size=batch_size, binarize=True, seed=SEED[0])
    return model, dataset


def time_ratio(names, train, epochs):
    """Alternates whole epochs of two models in this process; returns each pair's
    (seconds of A's epoch, of B's epoch), after one untimed warm-up epoch each."""
    runs = [_compiled(name, train, own_epochs(name)) for name in names]
    for model, dataset in runs:
        model.fit(dataset, epochs=1, verbose=0)
    pairs = []
    for _ in range(epochs):
        pair = []
        for model, dataset in runs:
            start = time.perf_counter()
            model.fit(dataset, epochs=1, verbose=0)
            pair.append(time.perf_counter() - start)
        pairs.append(pair)
        print(f"# epoch seconds: {names[0]} {pair[0]:.1f}, {names[1]} {pair[1]:.1f}", flush=True)
    return pairs


def digit_classifier():
    """The CNN of the sample figures: trained on the labelled file's first 3,600 digits, the
    best of its epochs on the next 400 kept; (classifier, grey test digits, its accuracy)."""
    labelled = np.load(LABELLED)
    digits = labelled["images"].astype("float32")[..., None] / 255.0
    labels = labelled["labels"].astype("int32")
    classifier = evaluate.train_classifier(
        digits[:3600], labels[:3600], validation_data=(digits[3600:4000], labels[3600:4000])
    )
    test, test_labels = digits[4000:], labels[4000:]
    accuracy = np.mean(classifier.predict(test, verbose=0).argmax(-1) == test_labels)
    return classifier, test, float(accuracy), digits[3600:4000]


def sample_scores(model, classifier, real, num_samples, temperature=1.0):
    """sample_quality over sample seeds 0, 1, 2: {figure: (mean, min, max)}."""
    runs = [
        evaluate.sample_quality(
            model, classifier, real, num_samples=num_samples, seed=seed, temperature=temperature
        )
        for seed in range(3)
    ]
    return {
        key: (np.mean([r[key] for r in runs]), min(r[key] for r in runs), max(r[key] for r in runs))
        for key in ("confident_fraction", "real_confident_fraction", "frechet_distance")
    }


def run(name, train, test, epochs, num_samples, save_dir=None):
    model, dataset = _compiled(name, train, epochs)
    start = time.perf_counter()
    history = model.fit(dataset, epochs=epochs, verbose=0).history
    seconds = time.perf_counter() - start
    print(
        f"# {name}: trained {epochs} epochs in {seconds:.0f} s "
        f"({epochs * len(train) / seconds:,.0f} images/s), last epoch's training loss "
        f"{history['loss'][-1]:.2f}; scoring",
        flush=True,
    )
    if save_dir:
        model.save(os.path.join(save_dir, f"{name}_{epochs}ep.keras"))
    scores = evaluate.report(model, test, num_samples=num_samples)
    return {"images/s": epochs * len(train) / seconds, "train s": seconds, "model": model, **scores}


def load(test_set):
    """(training digits in [0, 1], test digits binarized once), as float32 (N, 28, 28, 1)."""
    for path in (SAMPLE, LABELLED) if test_set == "labelled" else (SAMPLE,):
        if not os.path.exists(path):
            raise SystemExit(f"needs the real digits at {path}")
    digits = np.load(SAMPLE)["images"].astype("float32")[..., None] / 255.0
    if test_set == "labelled":
        train, test = (
            digits,
            np.load(LABELLED)["images"][4000:].astype("float32")[..., None] / 255.0,
        )
    else:
        train, test = digits[:7000], digits[7000:]
    return train, (np.random.default_rng(123).uniform(size=test.shape) < test).astype("float32")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="0: each model's own recipe")
    parser.add_argument(
        "--test",
        choices=("labelled", "sample"),
        default="labelled",
        help="test digits: the last 2,000 of mnist_labeled_6k, or the 8k sample's last 1,000",
    )
    parser.add_argument(
        "--time-ratio",
        metavar="ANCHOR,MODEL",
        help="only time MODEL's full recipe against ANCHOR's 20 epochs",
    )
    parser.add_argument("--ratio-epochs", type=int, default=3, help="timed epochs per model")
    parser.add_argument(
        "--override", default="{}", help="JSON of VAE arguments for the mnist* models"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of our models and of the data order"
    )
    parser.add_argument("--num-samples", type=int, default=1000, help="k of the NLL estimate")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument(
        "--save-dir", help="also save each trained model here (NAME_EPOCHSep.keras)"
    )
    parser.add_argument(
        "--samples", type=int, default=0, help="prior samples per seed for the sample figures"
    )
    parser.add_argument(
        "--temperatures",
        default="1",
        help="comma-separated sampling temperatures: the sample figures are given at 1 and at "
        "the one nearest the CNN's validation digits",
    )
    args = parser.parse_args()
    OVERRIDES.update(json.loads(args.override))
    SEED[0] = args.seed
    train, test = load(args.test)
    if args.time_ratio:
        names = args.time_ratio.split(",")
        pairs = np.array(time_ratio(names, train, args.ratio_epochs))
        per_epoch = pairs[:, 1] / pairs[:, 0]
        recipe = per_epoch * own_epochs(names[1]) / own_epochs(names[0])
        print(
            f"{names[1]}'s {own_epochs(names[1])} epochs / {names[0]}'s {own_epochs(names[0])}: "
            f"{np.median(recipe):.3f} (pairs {', '.join(f'{r:.3f}' for r in recipe)}); "
            f"per epoch {np.median(per_epoch):.3f}"
        )
        return
    print(
        f"train {len(train):,} (dynamic binarization), test {len(test):,} ({args.test}, fixed), "
        f"NLL with k={args.num_samples}; {os.cpu_count()} CPU cores, TF {tf.__version__}"
    )
    judge = None
    if args.samples:
        judge = digit_classifier()
        if args.test == "sample":  # tuning: the held-out part of the 8k sample, grey
            judge = (
                judge[0],
                np.load(SAMPLE)["images"][7000:].astype("float32")[..., None] / 255,
                judge[2],
            )
        halves = evaluate.frechet_distance(*(_features(judge[0], h) for h in np.split(judge[1], 2)))
        print(
            f"sample figures: CNN accuracy on the test digits {judge[2]:.4f}; Fréchet distance "
            f"of the test digits' two halves {halves:.2f}; samples {args.samples} x seeds 0-2"
        )
    print("| model | epochs | NLL (nats) | -ELBO | gap | active units | train images/s | train s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in args.models.split(","):
        epochs = args.epochs or own_epochs(name)
        r = run(name, train, test, epochs, args.num_samples, args.save_dir)
        row = (
            f"| {name} | {epochs} | {r['nll']:.2f} | {r['neg_elbo']:.2f} | "
            f"{r['neg_elbo'] - r['nll']:.2f} | {r['active_units']} | {r['images/s']:,.0f} | "
            f"{r['train s']:,.0f} |"
        )
        print(row, flush=True)
        for temperature in _temperatures(r["model"], judge, args) if judge else ():
            q = sample_scores(r["model"], judge[0], judge[1], args.samples, temperature)
            c, real, fd = (
                q["confident_fraction"],
                q["real_confident_fraction"],
                q["frechet_distance"],
            )
            print(
                f"#   samples at temperature {temperature:g}: {100 * c[0]:.1f}% read "
                f"({100 * c[1]:.1f}-{100 * c[2]:.1f}; real {100 * real[0]:.1f}%), Fréchet "
                f"distance {fd[0]:.1f} ({fd[1]:.1f}-{fd[2]:.1f})",
                flush=True,
            )
        if len(r["active_units_per_layer"]) > 1:
            kls = r["kl_per_layer"] or {}
            print(
                "#   per layer: "
                + ", ".join(
                    f"{n}: KL {kls.get(n, float('nan')):.2f}, active {a}"
                    for n, a in r["active_units_per_layer"].items()
                ),
                flush=True,
            )


def _temperatures(model, judge, args):
    """1, and of `--temperatures` the one `choose_temperature` picks on the CNN's validation
    digits (the labelled file's 3,600-4,000), which neither the model nor the test figures
    use."""
    given = [float(t) for t in args.temperatures.split(",")]
    if len(given) == 1:
        return given
    chosen, _ = choose_temperature(model, judge[0], judge[3], args.samples, given)
    return sorted({1.0, chosen}, reverse=True)


def choose_temperature(model, classifier, validation, num_samples, temperatures):
    """(the temperature whose samples, seed 0, the CNN reads as often as the real
    `validation` digits, {temperature: sample_quality}), printing each."""
    found = {}
    for t in temperatures:
        q = evaluate.sample_quality(
            model, classifier, validation, num_samples=num_samples, seed=0, temperature=t
        )
        found[t] = q
        print(
            f"#   validation, temperature {t:g}: {100 * q['confident_fraction']:.1f}% read "
            f"(real {100 * q['real_confident_fraction']:.1f}%), Fréchet distance "
            f"{q['frechet_distance']:.1f}",
            flush=True,
        )
    gap = {t: abs(q["confident_fraction"] - q["real_confident_fraction"]) for t, q in found.items()}
    return min(sorted(gap, reverse=True), key=gap.get), found


def _features(classifier, x):
    layer = classifier.get_layer(evaluate.samples.FEATURES_LAYER)
    return keras.Model(classifier.inputs, layer.output).predict(x, verbose=0)


if __name__ == "__main__":
    main()
