"""Runs the package under the backend of KERAS_BACKEND and prints what it saw, as JSON.

`tests/test_backends.py` starts it once per backend (Keras reads KERAS_BACKEND once per
process) and compares its findings with TensorFlow's in the test process. Usage:

    KERAS_BACKEND=jax python tests/helpers/backend_checks.py OUT_DIR MODEL_DIR
    KERAS_BACKEND=jax python tests/helpers/backend_checks.py OUT_DIR --data-parallel

MODEL_DIR holds .keras files TensorFlow saved. Writes OUT_DIR/model.keras (a VAE trained
under this backend), OUT_DIR/run (a `keras-vae train` run directory) and prints one JSON
object on its last line.
"""

import json
import os
import sys

import keras
import numpy as np

import keras_vae
from keras_vae import evaluate
from keras_vae.data import shapes

ARCH = {"encoder_filters": (4,), "decoder_filters": (4,), "dense_units": 16}


def images(n=128, seed=0):
    return shapes.generate(n, seed=seed, image_size=16)[0]


def small_vae(**kwargs):
    return keras_vae.VAE.from_shape((16, 16, 1), latent_dim=2, architecture=ARCH, seed=0, **kwargs)


def to_numpy(tensor):
    return keras.ops.convert_to_numpy(tensor).tolist()


def epoch_losses(seed=0, epochs=2):
    """Epochs of the same model, data and seed on every backend (an IAF posterior: the
    flow trains too)."""
    keras.utils.set_random_seed(seed)
    model = small_vae(posterior=keras_vae.posteriors.InverseAutoregressiveFlow(units=(8,)))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(images(), batch_size=32, epochs=epochs, verbose=0, shuffle=False)
    return history.history["loss"]


def warmup_loss():
    """One epoch of four identical batches, learning rate 0, KL warmed up over 4 steps: the
    logged loss is the mean reconstruction + (0 + 1/4 + 2/4 + 3/4) / 4 * KL if the schedule
    sees the real step (the KL of a Gaussian posterior is noise-free)."""
    model = small_vae(objective=keras_vae.objectives.ELBO(warmup_steps=4))
    model.compile(optimizer=keras.optimizers.SGD(0.0), metrics=["mae"])
    batch = images(16)
    history = model.fit(np.concatenate([batch] * 4), batch_size=16, verbose=0, shuffle=False)
    return {k: history.history[k][0] for k in ("loss", "reconstruction_loss", "kl_loss", "mae")}


@keras.saving.register_keras_serializable(package="backend_checks")
class Poison(keras.layers.Layer):
    """x, or NaN everywhere for a batch of all-zero images (log 0 = -inf, 0 * -inf = NaN)."""

    def call(self, x):
        return x + 0.0 * keras.ops.log(keras.ops.mean(x))


def skipped_updates():
    """Batches 2 and 5 of 8 give a NaN loss: their updates are skipped and counted."""
    inputs = keras.Input((16, 16, 1))
    hidden = keras.layers.Flatten()(Poison()(inputs))
    encoder = keras.Model(inputs, keras.layers.Dense(4)(hidden))
    decoder = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(256), keras.layers.Reshape((16, 16, 1))]
    )
    model = keras_vae.VAE(encoder, decoder, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    data = images(128)
    data[32:48] = 0.0
    data[80:96] = 0.0
    history = model.fit(data, batch_size=16, epochs=1, verbose=0, shuffle=False)
    return {
        "skipped": history.history["skipped_updates"][0],
        "iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        "finite": bool(all(np.isfinite(w).all() for w in model.get_weights())),
    }


def same_math(model_dir):
    """The deterministic outputs of models TensorFlow saved: encode, decode, and the
    importance-sampled log-likelihood and ELBO, whose noise is NumPy's on every backend.
    They exercise every part's math: likelihoods, posteriors and the flow, priors, IWAE,
    M2's sum over classes."""
    data, z, found = images(8, seed=5), np.random.default_rng(2).normal(size=(4, 2)), {}
    for name in sorted(os.listdir(model_dir)):
        model = keras.saving.load_model(os.path.join(model_dir, name), safe_mode=True)
        given = {"labels": np.arange(4) % 3} if model.num_classes else {}
        found[name] = {
            "z_mean": to_numpy(model.encode(data)[0]),
            "decoded": to_numpy(model.decode(z, **given)),
            "log_likelihood": evaluate.log_likelihood(model, data, num_samples=64).tolist(),
            "elbo": evaluate.elbo(model, data, num_samples=4).tolist(),
            "report_nll": evaluate.report(model, data, num_samples=16)["nll"],
        }
    return found


def hierarchical_fit():
    """Two epochs of a two-layer HierarchicalVAE: its losses and each layer's KL."""
    keras.utils.set_random_seed(0)
    model = keras_vae.HierarchicalVAE.from_shape(
        (16, 16, 1), latent_dims=(4, 2), top_down_units=8, architecture=ARCH, seed=0
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(images(), batch_size=32, epochs=2, verbose=0, shuffle=False).history
    return {k: history[k] for k in ("loss", "kl_loss", "kl_z1", "kl_z2")}


def conditional_fit():
    """M2 on a mixed batch (JAX compiles its step: no shapes that depend on the labels)."""
    data = images(64)
    labels = np.random.default_rng(0).integers(-1, 3, size=64)
    model = keras_vae.ConditionalVAE.from_shape(
        (16, 16, 1), latent_dim=2, num_classes=3, architecture=ARCH, seed=0
    )
    model.compile(optimizer="adam")
    given = keras_vae.data.from_array(data, labels=labels, batch_size=16)
    history = model.fit(given, epochs=1, verbose=0).history
    return {k: v[0] for k, v in history.items()}


def tensorflow_only(out_dir):
    """What each TensorFlow-only feature says on this backend, and whether it wrote."""
    from keras_vae import export
    from keras_vae.training import distribute

    os.makedirs(out_dir, exist_ok=True)
    model, found = small_vae(), {}
    attempts = {
        "saved_model": lambda: export.saved_model(model, os.path.join(out_dir, "export")),
        "tflite": lambda: export.tflite(model, os.path.join(out_dir, "tflite")),
        "posterior_distribution": lambda: model.posterior_distribution(images(2)),
        "mirrored": lambda: distribute.strategy("mirrored"),
    }
    if keras.backend.backend() == "jax":
        attempts["onnx"] = lambda: export.onnx(model, os.path.join(out_dir, "onnx"))
    for name, attempt in attempts.items():
        try:
            attempt()
            found[name] = None
        except ValueError as error:
            found[name] = str(error)
    found["written"] = sorted(os.listdir(out_dir))
    return found


def saved_model_file(out_dir):
    """A model trained here, saved, and reloaded here with safe_mode=True."""
    model = small_vae(posterior="iaf")
    model.compile(optimizer="adam")
    data = images(64)
    model.fit(data, batch_size=16, epochs=1, verbose=0)
    path = os.path.join(out_dir, "model.keras")
    model.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    z = np.random.default_rng(1).normal(size=(3, 2)).astype("float32")
    return {
        "decoded": to_numpy(model.decode(z)),
        "reloaded_decoded": to_numpy(again.decode(z)),
        "log_likelihood": evaluate.log_likelihood(model, data[:4], num_samples=16).tolist(),
    }


def train_command(out_dir):
    """`keras-vae train`, pictures and all, on the offline shapes set; then `evaluate`."""
    from keras_vae import cli

    run = os.path.join(out_dir, "run")
    arguments = ["train", "--out", run, "--dataset", "shapes", "--num-examples", "64"]
    arguments += ["--image-size", "16", "--batch-size", "16", "--epochs", "1"]
    arguments += ["--latent-dim", "2", "--encoder-filters", "4", "--decoder-filters", "4"]
    arguments += ["--dense-units", "8", "--export-dir", "", "--verbose", "0"]
    status = cli.main(arguments)
    with open(os.path.join(run, "metrics.json"), encoding="utf-8") as f:
        metrics = json.load(f)
    held_out = os.path.join(out_dir, "held_out.npz")
    np.savez(held_out, images=images(32, seed=7))
    evaluated = cli.main(["evaluate", run, "--data", held_out, "--num-samples", "4"])
    return {
        "status": status,
        "evaluate_status": evaluated,
        "metrics": metrics,
        "pictures": sorted(os.listdir(os.path.join(run, "images"))),
        "jit_compile": keras.saving.load_model(os.path.join(run, "model.keras")).jit_compile,
    }


def onnx_files(out_dir):
    """ONNX files of a VAE (export.onnx checks them in ONNX Runtime before it writes)."""
    from keras_vae import export

    paths = export.onnx(small_vae(posterior="iaf"), os.path.join(out_dir, "onnx"))
    return sorted(os.path.basename(p) for p in paths.values())


def torch_data_loader():
    """A torch DataLoader of images feeds fit."""
    import torch

    data = torch.utils.data.TensorDataset(torch.from_numpy(images(64)))
    loader = torch.utils.data.DataLoader(data, batch_size=16)
    model = small_vae()
    model.compile(optimizer="adam")
    return model.fit(loader, epochs=1, verbose=0).history["loss"]


def own_step_functions():
    """Fits and evaluations with the package's JAX CPU functions (one step per execution)
    against Keras's own (two steps per execution, which the package leaves to Keras)."""
    weights, losses = [], []
    for per_execution in (1, 2):
        keras.utils.set_random_seed(0)
        model = small_vae()
        model.compile(optimizer=keras.optimizers.Adam(1e-2), steps_per_execution=per_execution)
        model.fit(images(64), batch_size=16, epochs=2, verbose=0, shuffle=False)
        weights.append(model.get_weights())
        losses.append(model.evaluate(images(32, seed=1), batch_size=16, verbose=0))
    start = small_vae().get_weights()
    return {
        "max_difference": max(float(np.max(np.abs(a - b))) for a, b in zip(*weights)),
        "max_change": max(float(np.max(np.abs(a - b))) for a, b in zip(weights[0], start)),
        "losses": [float(np.ravel(loss)[0]) for loss in losses],
    }


def data_parallel():
    """One update with keras.distribution.DataParallel over 2 devices against one device."""
    devices = keras.distribution.list_devices()
    data = images(32)
    weights = []
    for distribution in (None, keras.distribution.DataParallel(devices=devices)):
        keras.distribution.set_distribution(distribution)
        keras.utils.set_random_seed(0)
        model = small_vae()
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        model.fit(data, batch_size=32, epochs=1, verbose=0, shuffle=False)
        weights.append(model.get_weights())
    keras.distribution.set_distribution(None)
    keras.utils.set_random_seed(0)
    start = small_vae().get_weights()
    return {
        "devices": len(devices),
        "max_difference": max(float(np.max(np.abs(a - b))) for a, b in zip(*weights)),
        "max_change": max(float(np.max(np.abs(a - b))) for a, b in zip(weights[0], start)),
    }


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    if "--data-parallel" in sys.argv:
        found = {"data_parallel": data_parallel()}
    else:
        found = {
            "backend": keras.backend.backend(),
            "same_math": same_math(sys.argv[2]),
            "epoch_losses": epoch_losses(),
            "warmup": warmup_loss(),
            "skipped": skipped_updates(),
            "conditional": conditional_fit(),
            "hierarchical": hierarchical_fit(),
            "tensorflow_only": tensorflow_only(os.path.join(out_dir, "tf_only")),
            "saved": saved_model_file(out_dir),
            "train": train_command(out_dir),
        }
        if keras.backend.backend() == "jax":
            found["own_step_functions"] = own_step_functions()
        if keras.backend.backend() == "torch":
            found["data_loader"] = torch_data_loader()
            found["onnx"] = onnx_files(out_dir)
    print(json.dumps(found))


if __name__ == "__main__":
    main()
