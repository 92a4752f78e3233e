"""`keras-vae` command line: parses arguments, then calls the library. Nothing else."""

import argparse
import dataclasses
import os
import sys

from keras_vae.distribute import STRATEGIES
from keras_vae.presets import PRESETS


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except (ValueError, OSError, FloatingPointError) as error:
        print(f"keras-vae {args.command_name}: error: {error}", file=sys.stderr)
        return 2


def _train(args):
    from keras_vae import training

    config = training.config_for(args.out, preset=args.preset, **_given_settings(args))
    result = training.train(config)
    m = result["metrics"]
    print(
        f"held-out: loss {m['loss']:.2f} nats/image, reconstruction "
        f"{m['reconstruction_loss']:.2f}, KL {m['kl_loss']:.2f}  ->  {result['run_dir']}"
    )
    if config.images:
        run_dir = result["run_dir"]
        print(f"pictures: {os.path.join(run_dir, 'images')}  "
              f"(TensorBoard: tensorboard --logdir {os.path.join(run_dir, 'logs')})")
    if args.export_dir and result["is_chief"]:
        from keras_vae import export

        name = os.path.basename(os.path.normpath(result["run_dir"]))
        path = export.saved_model(result["model"], os.path.join(args.export_dir, name))
        print(f"exported SavedModel (TF Serving layout) to {path}")
    return 0


def _given_settings(args):
    """The TrainConfig settings given on the command line (flags left out are None)."""
    from keras_vae import training

    names = {f.name for f in dataclasses.fields(training.TrainConfig)} - {"out", "preset"}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    if args.no_images:
        given["images"] = False
    return given


def _export(args):
    from keras_vae import export

    model = _load_vae(args.model)
    path = export.saved_model(model, args.to, version=args.version)
    print(f"exported SavedModel to {path}")
    if args.tflite or args.quantize:
        tflite_dir = os.path.join(args.to, "tflite", os.path.basename(path))
        paths = export.tflite(model, tflite_dir, quantization=args.quantize)
        print(f"exported TFLite to {paths['encoder']} and {paths['decoder']}")
    return 0


def _evaluate(args):
    import json

    import numpy as np

    from keras_vae import data, evaluate, files

    model = _load_vae(args.model)
    options = dict(batch_size=256, shuffle=False, binarize="static" if args.binarize else False)
    if args.data:
        dataset = data.from_array(data.read_images(args.data, key=args.npz_key), **options)
    else:
        dataset = data.load(args.dataset, args.split, num_examples=args.limit, **options)
    images = np.concatenate([batch.numpy() for batch in dataset])[: args.limit]
    result = evaluate.report(model, images, num_samples=args.num_samples)
    text = json.dumps(result, indent=2)
    if args.out:
        files.write_text(args.out, text + "\n")
    print(text)
    return 0


def _load_vae(path):
    import keras

    import keras_vae

    if os.path.isdir(path):
        path = os.path.join(path, "model.keras")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model at {path}: expected a run directory or a .keras file.")
    try:
        model = keras.models.load_model(path, safe_mode=True)
    except Exception as error:  # a corrupt or foreign file: say which, not a traceback
        raise ValueError(f"{path} is not a loadable keras_vae model: {error}") from None
    if not isinstance(model, keras_vae.VAE):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a keras_vae.VAE.")
    return model


def _sample(args):
    from keras_vae import files, plotting

    model = _load_vae(args.run_dir)
    grid = plotting.image_grid(model.sample(args.n, seed=args.seed).numpy())
    with files.atomic_path(args.out, suffix=".png") as tmp:
        plotting.save_png(grid, tmp)
    print(f"wrote {args.n} samples to {args.out}")
    return 0


def _parser():
    parser = argparse.ArgumentParser(prog="keras-vae", description=__doc__.split(":")[0])
    commands = parser.add_subparsers(dest="command_name", required=True)

    train = commands.add_parser("train", help="train a VAE into a run directory")
    source = train.add_mutually_exclusive_group()
    source.add_argument("--dataset", default="shapes",
                        help="built-in 'shapes' (default, offline) or a tfds name: mnist, "
                             "fashion_mnist, binarized_mnist, cifar10, celeb_a, ...")
    source.add_argument("--data", help="your own images: a .npz file or a directory of images")
    train.add_argument("--npz-key", default="images", help="array name inside --data FILE.npz")
    train.add_argument("--image-size", type=int, help="resize images to this square size")
    train.add_argument("--binarize", action=argparse.BooleanOptionalAction, default=None,
                       help="dynamic binarization: resample binary pixels every epoch "
                            "(the validation set gets one fixed draw); --no-binarize: grey pixels")
    train.add_argument("--num-examples", type=int, help="size of the 'shapes' training set")
    train.add_argument("--epochs", type=int, help="default 10 (or the preset's)")
    train.add_argument("--batch-size", type=int, help="global batch; default 128 (or the preset's)")
    train.add_argument("--latent-dim", type=int, help="default 16")
    train.add_argument("--likelihood", choices=["bernoulli", "gaussian"],
                       help="default: bernoulli for 1 channel, gaussian for colour")
    train.add_argument("--beta", type=float, help="weight of the KL term; default 1")
    train.add_argument("--kl-warmup-steps", type=int, help="default 0")
    train.add_argument("--free-bits", type=float, help="nats per latent dim; default 0")
    train.add_argument("--learning-rate", type=float, help="default 1e-3 (or the preset's)")
    train.add_argument("--lr-schedule", choices=["constant", "cosine"],
                       help="cosine: decay the learning rate to 0 over the run; default constant "
                            "(or the preset's)")
    train.add_argument("--seed", type=int, help="default 0")
    train.add_argument("--preset", choices=sorted(PRESETS),
                       help="a complete model + training configuration; flags override it")
    train.add_argument("--out", required=True, help="run directory")
    train.add_argument("--overwrite", action="store_true", help="replace a finished run in --out")
    train.add_argument("--verbose", type=int, choices=[0, 1, 2], default=None,
                       help="Keras fit verbosity (default: progress bar)")
    train.add_argument("--strategy", default="auto", choices=STRATEGIES,
                       help="tf.distribute strategy (auto: several GPUs -> mirrored, "
                            "TF_CONFIG with several workers -> multi_worker)")
    train.add_argument("--precision", default="float32",
                       choices=["float32", "mixed_float16", "mixed_bfloat16"])
    train.add_argument("--jit-compile", default="auto", choices=["auto", "on", "off"],
                       help="XLA; auto = on with a GPU, off on CPU (slower there)")
    train.add_argument("--checkpoint-every", type=int, metavar="STEPS",
                       help="also back up every STEPS steps (default: every epoch)")
    train.add_argument("--max-skipped-updates", type=int, default=25,
                       help="stop after this many NaN/inf updates in a row")
    train.add_argument("--no-images", action="store_true",
                       help="do not draw reconstructions, samples and the manifold each epoch")
    train.add_argument("--export-dir", default="saved_models",
                       help="export the trained model to EXPORT_DIR/<run name>/<version>/ "
                            "(TF Serving layout); '' to skip")
    train.set_defaults(command=_train)

    export = commands.add_parser("export", help="export a trained model for TF Serving / TFLite")
    export.add_argument("model", help="a run directory or a .keras file")
    export.add_argument("--to", required=True, help="base directory, e.g. saved_models/NAME")
    export.add_argument("--version", type=int, help="default: the next free integer")
    export.add_argument("--tflite", action="store_true",
                        help="also write encoder.tflite and decoder.tflite to TO/tflite/<version>/")
    export.add_argument("--quantize", choices=["float16", "dynamic_int8"],
                        help="TFLite quantization (implies --tflite)")
    export.set_defaults(command=_export)

    evaluate = commands.add_parser(
        "evaluate", help="importance-sampled NLL, -ELBO, bits/dim, active units on held-out images"
    )
    evaluate.add_argument("model", help="a run directory or a .keras file")
    held_out = evaluate.add_mutually_exclusive_group()
    held_out.add_argument("--dataset", default="shapes", help="built-in 'shapes' or a tfds name")
    held_out.add_argument("--data", help="a .npz file or a directory of images")
    evaluate.add_argument("--split", default="test")
    evaluate.add_argument("--npz-key", default="images")
    evaluate.add_argument("--binarize", action="store_true",
                          help="binarize the images once (fixed seed), as for binarized MNIST")
    evaluate.add_argument("--num-samples", type=int, default=1000, help="importance samples k")
    evaluate.add_argument("--limit", type=int, help="evaluate only the first N images")
    evaluate.add_argument("--out", help="also write the results to this JSON file")
    evaluate.set_defaults(command=_evaluate)

    sample = commands.add_parser("sample", help="write a grid of samples from a trained model")
    sample.add_argument("run_dir", help="a run directory or a .keras file")
    sample.add_argument("--n", type=int, default=64)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", default="samples.png", help="PNG file to write")
    sample.set_defaults(command=_sample)
    return parser
