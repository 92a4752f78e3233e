"""Serving speed of the exported decoder: Keras vs SavedModel vs TFLite (LiteRT), and file sizes.

The default model (`keras_vae.VAE.from_shape((28, 28, 1), seed=0)`, latent 16) is trained
briefly (real
MNIST digits from ../shared/data/mnist_sample_8k.npz when present, else the built-in shapes),
exported with `keras_vae.export`, then timed in this process. Every timed call takes a NumPy z
and returns NumPy images (the mean of p(x|z)), so all paths do the same work end to end.
Prints Markdown: batch-1 latency (median, p90), batch-256 throughput (images/s, median of
--repeats passes), file sizes, and the targets (TFLite decoder < 1 ms at batch 1 on one
thread; SavedModel decode throughput >= 0.9x Keras predict).

Run:  python benchmarks/serving.py [--calls 2000] [--repeats 5] [--images 8192]
"""

import argparse
import importlib.metadata
import os
import platform
import shlex
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

import keras_vae
from keras_vae import export

SAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "mnist_sample_8k.npz"
)
QUANTIZATIONS = {"float32": None, "float16": "float16", "dynamic_int8": "dynamic_int8"}
TF_POOL = "TF default"  # TensorFlow's own intra/inter-op thread pools, all cores


def train_model(num_images, epochs):
    if os.path.exists(SAMPLE):
        images = np.load(SAMPLE)["images"][:num_images].astype("float32")[..., None] / 255.0
        source = f"first {len(images):,} images of mnist_sample_8k.npz"
    else:
        images, source = keras_vae.data.shapes.generate(num_images)[0], f"shapes ({num_images:,})"
    keras.utils.set_random_seed(0)
    model = keras_vae.VAE.from_shape((28, 28, 1), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(images, epochs=epochs, batch_size=128, verbose=0)
    return model, f"{source}, {epochs} epochs, final loss {history.history['loss'][-1]:.1f}"


def export_all(model, root):
    """SavedModel and the three TFLite variants; returns paths and export seconds."""
    paths, seconds = {}, {}
    start = time.perf_counter()
    paths["saved_model"] = export.saved_model(model, os.path.join(root, "saved_model"))
    seconds["saved_model"] = time.perf_counter() - start
    for name, quantization in QUANTIZATIONS.items():
        start = time.perf_counter()
        paths[name] = export.tflite(model, os.path.join(root, name), quantization=quantization)
        seconds[f"tflite {name}"] = time.perf_counter() - start
    return paths, seconds


def tflite_decoder(path, batch, num_threads):
    """The lowest-overhead LiteRT call: input resized and tensors allocated once."""
    interpreter = Interpreter(model_path=path, num_threads=num_threads)
    assert "decode" in interpreter.get_signature_list(), interpreter.get_signature_list()
    runner = interpreter.get_signature_runner("decode")
    z_detail = runner.get_input_details()["z"]
    images_detail = runner.get_output_details()["images"]
    del runner  # it holds the native interpreter, which makes resize/invoke refuse to run
    # set_tensor/invoke/get_tensor act on the primary subgraph; it must be `decode`'s.
    primary = [d["name"] for d in interpreter.get_input_details()]
    assert primary == [z_detail["name"]], f"decode is not the primary subgraph: {primary}"
    interpreter.resize_tensor_input(z_detail["index"], [batch, z_detail["shape"][-1]])
    interpreter.allocate_tensors()
    z_index, images_index = z_detail["index"], images_detail["index"]

    def decode(z):
        interpreter.set_tensor(z_index, z)
        interpreter.invoke()
        return interpreter.get_tensor(images_index)

    return decode


def tflite_runner(path, num_threads):
    runner = Interpreter(model_path=path, num_threads=num_threads).get_signature_runner("decode")
    return lambda z: runner(z=z)["images"]


def latency(decode, z, calls, warmup):
    """Median and p90 of single calls, in milliseconds."""
    for _ in range(warmup):
        decode(z)
    times = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter()
        decode(z)
        times[i] = time.perf_counter() - start
    return np.median(times) * 1e3, np.percentile(times, 90) * 1e3


def throughput(decode_all, z, repeats):
    """Images/s of `decode_all(z)` over all of z: median and the single runs."""
    reference = decode_all(z)  # warm-up: traces, builds predict functions, allocates
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        decode_all(z)
        runs.append(len(z) / (time.perf_counter() - start))
    return float(np.median(runs)), runs, reference


def per_batch(decode, batch):
    return lambda z: np.concatenate([decode(z[i : i + batch]) for i in range(0, len(z), batch)])


def latency_paths(model, paths, signature):
    graph_decode = tf.function(
        lambda z: model.likelihood.mean(model.decoder(z, training=False)),
        input_signature=[tf.TensorSpec([None, model.latent_dim], tf.float32)],
    )
    rows = [
        ("Keras `model.decode(z)`, eager", TF_POOL, lambda z: model.decode(z).numpy()),
        (
            "Keras `model.decoder` + likelihood mean in `tf.function`",
            TF_POOL,
            lambda z: graph_decode(z).numpy(),
        ),
        (
            "SavedModel `signatures['decode'](z=...)`",
            TF_POOL,
            lambda z: signature(z=z)["images"].numpy(),
        ),
    ]
    for name in QUANTIZATIONS:
        decoder = paths[name]["decoder"]
        rows.append(
            (f"TFLite {name}, set_tensor/invoke/get_tensor", "1", tflite_decoder(decoder, 1, 1))
        )
        rows.append(
            (f"TFLite {name}, signature runner `decode(z=...)`", "1", tflite_runner(decoder, 1))
        )
    return rows, graph_decode


def throughput_paths(model, paths, signature, graph_decode, batch):
    def keras_predict(z):
        logits = model.decoder.predict(z, batch_size=batch, verbose=0)
        return model.likelihood.mean(logits).numpy()

    rows = [
        ("Keras `decoder.predict(z, batch_size)` + `likelihood.mean`", TF_POOL, keras_predict),
        (
            "Keras `tf.function` decode, per batch",
            TF_POOL,
            per_batch(lambda z: graph_decode(z).numpy(), batch),
        ),
        (
            "SavedModel `decode` signature, per batch",
            TF_POOL,
            per_batch(lambda z: signature(z=z)["images"].numpy(), batch),
        ),
    ]
    for name in QUANTIZATIONS:
        for threads in sorted({1, os.cpu_count() or 1}):
            decode = tflite_decoder(paths[name]["decoder"], batch, threads)
            rows.append(
                (
                    f"TFLite {name}, set_tensor/invoke/get_tensor",
                    str(threads),
                    per_batch(decode, batch),
                )
            )
    return rows


def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def measure(args):
    model, trained = train_model(args.train_images, args.epochs)
    z_all = np.random.default_rng(0).normal(size=(args.images, model.latent_dim)).astype("float32")
    with tempfile.TemporaryDirectory() as root:
        paths, export_seconds = export_all(model, root)
        signature = tf.saved_model.load(paths["saved_model"]).signatures["decode"]
        rows, graph_decode = latency_paths(model, paths, signature)
        lat = [(n, t, *latency(f, z_all[:1].copy(), args.calls, args.warmup)) for n, t, f in rows]
        rows = throughput_paths(model, paths, signature, graph_decode, args.batch)
        thr = [(n, t, *throughput(f, z_all, args.repeats)) for n, t, f in rows]
        sizes = {"SavedModel directory (all four signatures)": [dir_bytes(paths["saved_model"])]}
        for part in ("encoder", "decoder"):
            sizes[f"{part}.tflite"] = [os.path.getsize(paths[n][part]) for n in QUANTIZATIONS]
    return trained, lat, thr, sizes, export_seconds


def report(args, load_before, trained, lat, thr, sizes, export_seconds):
    met = {True: "**met**", False: "**not met**"}
    print("# keras-vae serving benchmark\n")
    print(f"Command: `{shlex.join(['python'] + sys.argv)}`\n")
    print(
        f"TF {tf.__version__}, Keras {keras.__version__}, ai-edge-litert "
        f"{importlib.metadata.version('ai-edge-litert')}, Python {platform.python_version()}, "
        f"os.cpu_count() = {os.cpu_count()}; 1-min load average {load_before:.2f} at start, "
        f"{os.getloadavg()[0]:.2f} at end (includes this run).\n"
    )
    print(
        "Model: `keras_vae.VAE.from_shape((28, 28, 1), seed=0)` (latent 16), "
        f"trained on the {trained}.\n"
    )
    print(
        f"## Decode latency, batch 1 ({args.calls:,} calls after {args.warmup} warm-up; "
        "NumPy z in, NumPy images out)\n"
    )
    print("| path | threads | median ms | p90 ms |\n| --- | ---: | ---: | ---: |")
    for name, threads, median, p90 in lat:
        print(f"| {name} | {threads} | {median:.3f} | {p90:.3f} |")
    print(
        f"\n## Decode throughput, batch {args.batch} ({args.images:,} latent vectors per pass, "
        f"median of {args.repeats} passes)\n"
    )
    print("| path | threads | images/s | passes | max abs diff vs Keras |")
    print("| --- | ---: | ---: | --- | ---: |")
    for name, threads, rate, runs, out in thr:
        diff = float(np.max(np.abs(out - thr[0][4])))
        print(
            f"| {name} | {threads} | {rate:,.0f} | {', '.join(f'{r:,.0f}' for r in runs)} "
            f"| {diff:.1e} |"
        )
    print("\n## Sizes (bytes)\n\n| artifact | float32 | float16 | dynamic_int8 |")
    print("| --- | ---: | ---: | ---: |")
    for name, values in sizes.items():
        print(f"| {name} | " + " | ".join(f"{v:,}" for v in values) + " |" * (4 - len(values)))
    print("\n## Targets\n")
    for name, _, median, _ in (row for row in lat if "set_tensor" in row[0]):
        print(
            f"- {name.split(',')[0]} decoder, batch 1, one thread, median < 1 ms: "
            f"{met[median < 1.0]} ({median:.3f} ms)"
        )
    ratio = thr[2][2] / thr[0][2]
    print(
        f"- SavedModel `decode` throughput >= 0.9x Keras predict: {met[ratio >= 0.9]} "
        f"({thr[2][2]:,.0f} vs {thr[0][2]:,.0f} images/s, {ratio:.2f}x)"
    )
    print("\n## Notes\n")
    print(
        "- Keras throughput is `model.decoder.predict(z, batch_size=...)` then "
        "`model.likelihood.mean` (sigmoid of the logits) on the whole result: `VAE.predict` "
        "takes images, not z, and `predict` is Keras's own batched-inference path."
    )
    print(
        f"- threads: `{TF_POOL}` is TensorFlow's own thread pools (all {os.cpu_count()} cores); "
        "TFLite rows use `Interpreter(num_threads=...)`, default XNNPACK delegate on."
    )
    print(
        "- Export wall time in s (each includes its built-in check against Keras): "
        + ", ".join(f"{k} {v:.1f}" for k, v in export_seconds.items())
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="timed batch-1 calls per path")
    parser.add_argument("--warmup", type=int, default=200, help="untimed batch-1 calls first")
    parser.add_argument("--repeats", type=int, default=5, help="timed throughput passes")
    parser.add_argument("--images", type=int, default=8192, help="latent vectors per pass")
    parser.add_argument("--batch", type=int, default=256, help="throughput batch size")
    parser.add_argument("--train-images", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    if args.images % args.batch:
        parser.error("--images must be a multiple of --batch (TFLite input is resized once)")
    load_before = os.getloadavg()[0]
    report(args, load_before, *measure(args))


if __name__ == "__main__":
    main()
