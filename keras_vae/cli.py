"""`keras-vae` command line: parses arguments, then calls the library. Nothing else."""

import argparse
import dataclasses
import errno
import os
import sys
import types
import typing


def main(argv=None):
    # TensorFlow's C++ start-up chatter (CUDA probes on CPU machines) is noise here.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except KeyboardInterrupt:
        print(f"keras-vae {args.command_name}: interrupted{_kept(args)}", file=sys.stderr)
        return 130
    except Exception as error:  # one line, never a traceback
        print(
            f"keras-vae {args.command_name}: error: {_describe(error)}{_kept(args)}",
            file=sys.stderr,
        )
        return 2


def _describe(error):
    """What went wrong, in one line: what ran out, or the error's own message."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = str(error)
    if getattr(error, "errno", None) == errno.ENOSPC or "No space left on device" in text:
        return f"out of disk space ({message})"
    if isinstance(error, MemoryError) or type(error).__name__ == "ResourceExhaustedError":
        return f"out of memory ({message})"
    if isinstance(error, (ValueError, OSError, FloatingPointError)):
        return message
    return f"{type(error).__name__}: {message}"


def _kept(args):
    """What a failed or interrupted train kept, and how to go on."""
    if args.command_name != "train":
        return ""
    from keras_vae.training import rundir

    run_dir = os.path.abspath(args.out)
    if rundir.state(run_dir) != "unfinished":
        return ""
    kept = [
        name
        for name, path in (("model.keras", "model.keras"), ("a backup", "backup"))
        if os.path.exists(os.path.join(run_dir, path))
    ] or ["its settings"]
    return f". {run_dir} keeps {' and '.join(kept)}: rerun the same command to resume."


def _train(args):
    from keras_vae import training

    config = training.config_for(args.out, preset=args.preset, **_given_settings(args))
    result = training.train(config)
    if result["already_finished"]:
        print(
            f"{result['run_dir']} already holds this finished run: nothing to do "
            "(--overwrite trains it afresh)."
        )
    m = result["metrics"]
    print(
        f"held-out: loss {m['loss']:.2f} nats/example, reconstruction "
        f"{m['reconstruction_loss']:.2f}, KL {m['kl_loss']:.2f}"
        + (
            f", classifier accuracy {m['accuracy']:.4f} on the labelled"
            if "accuracy" in m and m["accuracy"] == m["accuracy"]
            else ""
        )  # NaN: none labelled
        + f"  ->  {result['run_dir']}"
    )
    if os.path.isdir(os.path.join(result["run_dir"], "images")):
        run_dir = result["run_dir"]
        print(
            f"pictures: {os.path.join(run_dir, 'images')}  "
            f"(TensorBoard: tensorboard --logdir {os.path.join(run_dir, 'logs')})"
        )
    if result["export_path"] and not result["already_finished"]:
        print(f"exported SavedModel (TF Serving layout) to {result['export_path']}")
    return 0


def _given_settings(args):
    """The TrainConfig settings given on the command line (flags left out are None)."""
    from keras_vae.training import TrainConfig

    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    given = {
        k: tuple(v) if isinstance(v, list) else v
        for k, v in vars(args).items()
        if k in fields and k not in ("out", "preset") and v is not None
    }
    for name, field in fields.items():  # the command's own defaults (e.g. it exports)
        if "cli_default" in field.metadata:
            given.setdefault(name, field.metadata["cli_default"])
    return given


def _export(args):
    from keras_vae import export, files

    files.check_writable(args.to, "the export")
    source = _model_file(args.model)
    model = _load_vae(source)
    stat = os.stat(source)  # a rerun for the same file completes what a kill left
    identity = f"{source}:{stat.st_size}:{stat.st_mtime_ns}"
    path, paths = export.publish(
        model,
        args.to,
        version=args.version,
        source=identity,
        tflite_files=bool(args.tflite or args.quantize),
        quantization=args.quantize,
    )
    print(f"exported SavedModel to {path}")
    if paths:
        *others, last = paths.values()  # encoder, decoder (and classifier)
        print(f"exported TFLite to {', '.join(others)} and {last}")
    return 0


def _evaluate(args):
    import json

    import numpy as np

    from keras_vae import data, evaluate, files

    if args.out:
        files.check_writable(os.path.dirname(os.path.abspath(args.out)), "the results")
    _check_factor_flags(args)
    model = _load_vae(args.model)
    labels = None if args.labels_key is None else _read_labels(args, model)
    options = dict(batch_size=256, shuffle=False, binarize="static" if args.binarize else False)
    if args.factors_key:
        dataset = data.from_npz(args.data, args.npz_key, factors_key=args.factors_key, **options)
    elif args.data:
        dataset = data.from_array(data.read_images(args.data, key=args.npz_key), **options)
    else:
        options.update(num_examples=args.limit, with_factors=args.disentanglement)
        dataset = data.load(args.dataset, args.split, **options)
    batches = list(dataset.as_numpy_iterator())
    if args.disentanglement:
        images, factors = (np.concatenate(part)[: args.limit] for part in zip(*batches))
    else:
        images = np.concatenate(batches)[: args.limit]
    labels = None if labels is None else labels[: args.limit]
    result = evaluate.report(model, images, num_samples=args.num_samples, labels=labels)
    if args.disentanglement:
        result["disentanglement"] = evaluate.disentanglement(model, images, factors)
    text = json.dumps(result, indent=2)
    if args.out:
        files.write_text(args.out, text + "\n")
    print(text)
    return 0


def _check_factor_flags(args):
    """`--disentanglement` needs data with known factors: shapes, or a .npz file's array."""
    from keras_vae import validation

    if args.factors_key is not None and not (args.data and args.data.endswith(".npz")):
        given = validation.Described(f"{args.factors_key!r} with --data {args.data}")
        raise validation.invalid(
            "factors_key", "an array of the .npz file given with --data", given
        )
    if args.factors_key is not None:
        args.disentanglement = True
    elif args.disentanglement and (args.data or args.dataset != "shapes"):
        source = f"--data {args.data}" if args.data else f"--dataset {args.dataset}"
        raise validation.invalid(
            "disentanglement",
            "data with known factors: --dataset shapes, or --data FILE.npz with "
            "--factors-key naming its factors (N, num_factors)",
            validation.Described(f"--disentanglement with {source}, which has no factors"),
        )


def _read_labels(args, model):
    """The array `--labels-key` names in the `--data` .npz file, for a conditional model."""
    from keras_vae import data, validation

    key = args.labels_key
    if model.num_classes is None:
        raise validation.invalid(
            "labels_key",
            f"it only for a model with classes (labels measure its classifier); {args.model} "
            f"holds a {type(model).__name__} without classes",
            key,
        )
    if not (args.data and args.data.endswith(".npz")):
        given = validation.Described(f"{key!r} with --data {args.data}")
        raise validation.invalid("labels_key", "an array of the .npz file given with --data", given)
    return data.read_labels(args.data, key)


def _model_file(path):
    """The .keras file of a run directory or a path, made absolute; raises if there is none."""
    path = os.path.abspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "model.keras")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model at {path}: expected a run directory or a .keras file.")
    return path


def _load_vae(path):
    import keras

    from keras_vae.models.base import LatentVariableModel

    path = _model_file(path)
    try:
        model = keras.models.load_model(path, safe_mode=True)
    except Exception as error:  # a corrupt or foreign file: say which, not a traceback
        reason = str(error).split(" Full object config:")[0]  # not the whole config
        raise ValueError(f"{path} is not a loadable keras_vae model: {reason}") from None
    if not isinstance(model, LatentVariableModel):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a keras_vae model.")
    return model


def _sample(args):
    import keras

    from keras_vae import files
    from keras_vae.visualization import plotting

    model = _load_vae(args.run_dir)
    samples = model.sample(args.n, seed=args.seed, **_sample_labels(model, args.label))
    samples = keras.ops.convert_to_numpy(samples)
    if args.out.endswith(".npy"):
        import numpy as np

        with files.atomic_path(args.out, suffix=".npy") as tmp:
            np.save(tmp, samples)
    elif len(model.data_shape) == 3 and model.data_shape[-1] in (1, 3):
        with files.atomic_path(args.out, suffix=".png") as tmp:
            plotting.save_png(plotting.image_grid(samples), tmp)
    else:
        raise ValueError(
            f"Invalid value received for argument out. Expected a .npy file for a model of "
            f"{model.data_shape}-shaped data (a PNG grid needs images). Received: out={args.out!r}"
        )
    of_class = "" if args.label is None else f" of class {args.label}"
    print(f"wrote {args.n} samples{of_class} to {args.out}")
    return 0


def _sample_labels(model, label):
    """`sample`'s keyword for `--label`: none (a conditional model then draws classes)."""
    from keras_vae import validation

    if label is None:
        return {}
    if model.num_classes is None:
        raise validation.invalid(
            "label",
            f"no label: the model is a {type(model).__name__}, which has no classes (a "
            "keras_vae.ConditionalVAE has)",
            label,
        )
    if not 0 <= label < model.num_classes:
        raise validation.invalid("label", f"a class in [0, {model.num_classes})", label)
    return {"labels": label}


def _parser():
    parser = argparse.ArgumentParser(prog="keras-vae", description=__doc__.split(":")[0])
    commands = parser.add_subparsers(dest="command_name", required=True)
    train = commands.add_parser("train", help="train a VAE into a run directory")
    _add_config_flags(train)
    train.set_defaults(command=_train)
    _add_export_flags(
        commands.add_parser("export", help="export a trained model for TF Serving / TFLite")
    )
    evaluate = commands.add_parser(
        "evaluate", help="importance-sampled NLL, -ELBO, bits/dim, active units on held-out images"
    )
    _add_evaluate_flags(evaluate)
    sample = commands.add_parser("sample", help="write a grid of samples from a trained model")
    sample.add_argument("run_dir", help="a run directory or a .keras file")
    sample.add_argument("--n", type=int, default=64)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument(
        "--label",
        type=int,
        help="a class for every sample of a model with classes (default: random classes)",
    )
    sample.add_argument(
        "--out",
        default="samples.png",
        help="a PNG grid (image models), or a .npy file of the samples",
    )
    sample.set_defaults(command=_sample)
    return parser


def _add_export_flags(export):
    from keras_vae import export as export_module

    export.add_argument("model", help="a run directory or a .keras file")
    export.add_argument("--to", required=True, help="base directory, e.g. saved_models/NAME")
    export.add_argument("--version", type=int, help="default: the next free integer")
    export.add_argument(
        "--tflite",
        action="store_true",
        help="also write the LiteRT files (encoder.tflite, decoder.tflite, and classifier.tflite "
        "for a model with classes) to TO/tflite/<version>/",
    )
    quantizations = [q for q in export_module.QUANTIZATIONS if q]
    export.add_argument(
        "--quantize", choices=quantizations, help="TFLite quantization (implies --tflite)"
    )
    export.set_defaults(command=_export)


def _add_evaluate_flags(evaluate):
    evaluate.add_argument("model", help="a run directory or a .keras file")
    held_out = evaluate.add_mutually_exclusive_group()
    held_out.add_argument("--dataset", default="shapes", help="built-in 'shapes' or a tfds name")
    held_out.add_argument("--data", help="a .npz file or a directory of images")
    evaluate.add_argument("--split", default="test")
    evaluate.add_argument("--npz-key", default="images")
    evaluate.add_argument(
        "--labels-key",
        help="the --data .npz file's array of classes: also report a model with classes' "
        "classification_error",
    )
    evaluate.add_argument(
        "--disentanglement",
        action="store_true",
        help="also report MIG, SAP, DCI and the FactorVAE score against the data's known "
        "factors (--dataset shapes, or --factors-key)",
    )
    evaluate.add_argument(
        "--factors-key",
        help="the --data .npz file's array of factors (N, num_factors) (implies --disentanglement)",
    )
    evaluate.add_argument(
        "--binarize",
        action="store_true",
        help="binarize the images once (fixed seed), as for binarized MNIST",
    )
    evaluate.add_argument("--num-samples", type=int, default=1000, help="importance samples k")
    evaluate.add_argument("--limit", type=int, help="evaluate only the first N images")
    evaluate.add_argument("--out", help="also write the results to this JSON file")
    evaluate.set_defaults(command=_evaluate)


def _add_config_flags(parser):
    """One flag per `TrainConfig` field: its type, default, choices and help come from there."""
    from keras_vae.training import TrainConfig

    groups = {}
    for field in dataclasses.fields(TrainConfig):
        meta = field.metadata
        group = groups.get(meta["group"]) or groups.setdefault(
            meta["group"], parser.add_argument_group(f"{meta['group']} settings")
        )
        kind = _base_type(field.type)
        shown = meta.get("cli_default", field.default)
        default = "" if shown is None else f" (default: {shown})"
        options = {"dest": field.name, "default": None, "help": meta["help"] + default}
        if meta.get("required"):
            options["required"] = True
        if meta.get("metavar"):
            options["metavar"] = meta["metavar"]
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif kind is tuple:
            options.update(nargs="+", type=int, metavar="N")
        else:
            options["choices"] = meta["choices"]
            options["type"] = _str_or_int if kind is _str_or_int else kind
        group.add_argument("--" + field.name.replace("_", "-"), **options)


def _base_type(annotation):
    """bool, int, float, str or tuple from a field's annotation (`int | None` -> int)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return _str_or_int if set(args) == {str, int} else _base_type(args[0])
    return typing.get_origin(annotation) or annotation


def _str_or_int(value):
    return int(value) if value.lstrip("-").isdigit() else value
