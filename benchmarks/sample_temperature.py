"""Sample figures of a saved model at several temperatures, one chosen without the test digits.

The CNN is `quality.py`'s (trained on the first 3,600 of mnist_labeled_6k.npz, its epochs
chosen on the next 400). For each temperature, 2,000 prior samples (seed 0) are compared
with the CNN's 400 validation digits, which neither the model nor the test figures use:
the temperature whose samples the CNN reads as often as those real digits is chosen. Then
the test figures (the last 2,000 of the labelled file, sample seeds 0, 1, 2) are given at
temperature 1 and at the chosen one.

Run:  python benchmarks/quality.py --models mnist_hierarchical --epochs 0 --save-dir DIR
      python benchmarks/sample_temperature.py DIR/mnist_hierarchical_80ep.keras
"""

import argparse

import keras
import quality

import keras_vae  # noqa: F401 (registers the models)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a saved .keras model")
    parser.add_argument("--temperatures", default="1,0.9,0.8,0.7,0.6")
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    model = keras.models.load_model(args.model, safe_mode=True)
    classifier, test, accuracy, validation = quality.digit_classifier()
    print(f"CNN accuracy on the test digits {accuracy:.4f}")
    temperatures = [float(t) for t in args.temperatures.split(",")]
    chosen, _ = quality.choose_temperature(
        model, classifier, validation, args.samples, temperatures
    )
    print(f"chosen on validation: temperature {chosen:g}")
    for t in sorted({1.0, chosen}, reverse=True):
        q = quality.sample_scores(model, classifier, test, args.samples, t)
        c, real, fd = q["confident_fraction"], q["real_confident_fraction"], q["frechet_distance"]
        print(
            f"test, temperature {t:g}: {100 * c[0]:.1f}% read ({100 * c[1]:.1f}-{100 * c[2]:.1f}; "
            f"real {100 * real[0]:.1f}%), Fréchet distance {fd[0]:.1f} ({fd[1]:.1f}-{fd[2]:.1f})",
            flush=True,
        )


if __name__ == "__main__":
    main()
