"""Export a trained model: SavedModel in TF Serving's layout, and TFLite files for LiteRT.

Every export is written into a hidden temporary sibling, checked against the Keras
model, and only then renamed into place, so a reader polling the target (TF Serving
polls `base_dir`) never sees a half-written or wrong model.

The signatures are the model's own (`LatentVariableModel.serving_endpoints`), all with a
dynamic batch dimension. A `VAE`'s, with the data named `images` for an image model and
`x` for vectors and sequences (`data_name`):

    encode       images (batch, *data_shape) -> z_mean, z_log_var (batch, latent_dim)
    decode       z (batch, latent_dim)       -> images: the mean of p(x|z)
    sample       eps (batch, noise_dim)      -> images: decode(z) for z from the prior, its
                                                noise eps ~ N(0, I) drawn by the caller (no
                                                random op inside; noise_dim = latent_dim
                                                for the standard normal prior)
    reconstruct  images                      -> images: decode(z_mean)
    serving_default = reconstruct

For a flow posterior, `encode` and `reconstruct` include the flow: z_mean is the base mean
pushed through it, as `VAE.encode` returns. A `ConditionalVAE` adds int32 `labels`
(batch,) to `encode`, `reconstruct` (-1: the classifier's guess), `decode` and `sample`
(a class in [0, C)), reconstructs from the images alone in `serving_default`, and offers

    classify     images                      -> probabilities (batch, C)

A label outside its range is an error in a SavedModel; LiteRT has no assertions, so there
the outputs of that example are NaN (`keras_vae.models.labels`).
"""

import json
import os
import re

import keras
import numpy as np
import tensorflow as tf

from keras_vae import backend, files, validation
from keras_vae.models.base import check_model

QUANTIZATIONS = (None, "float16", "dynamic_int8")
#: Max abs difference from the Keras model an export must stay within, by quantization...
TOLERANCE = {None: 1e-5, "float16": 1e-3, "dynamic_int8": 1e-2}
#: ... and at least this, by the model's compute dtype: a graph and eager Keras may round
#: half precision differently (seen: 2e-3 for mixed_bfloat16, whose epsilon is 7.8e-3).
DTYPE_TOLERANCE = {"float32": 1e-5, "float16": 1e-3, "bfloat16": 1e-2}


def saved_model(model, base_dir, version=None):
    """Writes `model` as a SavedModel to `base_dir/<version>/` (TF Serving's layout).

    Args:
        model: a keras_vae model (see the module's signatures).
        base_dir: the model's base path, as given to TF Serving.
        version: int >= 1; `None` takes the next after the highest existing version.

    Returns:
        The path of the new version directory.

    Examples:

        >>> path = saved_model(model, "saved_models/shapes")   # saved_models/shapes/1
        >>> tf.saved_model.load(path).signatures["decode"](z=tf.zeros([1, 16]))["images"]
    """
    backend.require_tensorflow("keras_vae.export.saved_model", backend.EXPORT_WAY_OUT)
    check_model(model)
    base_dir = os.path.abspath(os.fspath(base_dir))
    _make_dirs(base_dir)
    version = next_version(base_dir) if version is None else _check_version(version)
    target = os.path.join(base_dir, str(version))
    _check_free(base_dir, version)
    files.remove_leftovers(base_dir, dirs_named=f".tmp-{version}-*")  # a killed export's
    with files.staging_dir(base_dir, str(version)) as tmp:
        _write_saved_model(model, tmp)
        check_saved_model(model, tmp)
        files.publish_mode(tmp)
        try:
            os.rename(tmp, target)
        except OSError as error:  # another exporter took this version meanwhile
            raise FileExistsError(f"Could not publish version {version}: {error}") from None
    return target


def publish(model, base_dir, version=None, tflite_files=False, quantization=None, source=None):
    """A SavedModel version (and its TFLite files) that a rerun completes after a kill.

    Before writing, `base_dir/.pending-export.json` records the version and what is
    asked; it is removed when all is published. Called again for the same `source`
    and request, a killed export is completed at the same version (the SavedModel if
    it is missing, the TFLite files in `base_dir/tflite/<version>/` if they are),
    instead of publishing a second version.

    Args:
        model: a keras_vae model.
        base_dir: the model's base path, as given to TF Serving.
        version: int >= 1, or None for the next free one.
        tflite_files: also write the TFLite files.
        quantization: their quantization (see `tflite`).
        source: what identifies the model across reruns (e.g. its run directory).

    Returns:
        (SavedModel version path, dict of TFLite paths or None).
    """
    backend.require_tensorflow("keras_vae.export.publish", backend.EXPORT_WAY_OUT)
    base_dir = os.path.abspath(os.fspath(base_dir))
    _make_dirs(base_dir)
    files.remove_leftovers(base_dir, dirs_named=None)  # e.g. a half-written pending record
    request = {"source": source, "tflite": bool(tflite_files), "quantization": quantization}
    record_path = os.path.join(base_dir, ".pending-export.json")
    record = _read_json(record_path)
    resuming = (
        record
        and {k: record.get(k) for k in request} == request
        and (version is None or version == record.get("version"))
    )
    if resuming:
        version = record["version"]
    else:
        version = next_version(base_dir) if version is None else _check_version(version)
        _check_free(base_dir, version)
        files.write_text(record_path, json.dumps({**request, "version": version}) + "\n")
    path = os.path.join(base_dir, str(version))
    if not os.path.isdir(path):
        saved_model(model, base_dir, version=version)
    paths = None
    if tflite_files:
        out_dir = os.path.join(base_dir, "tflite", str(version))
        paths = {part: os.path.join(out_dir, f"{part}.tflite") for part in _tflite_parts(model)}
        if not all(os.path.isfile(p) for p in paths.values()):
            paths = tflite(model, out_dir, quantization=quantization)
    os.remove(record_path)
    return path, paths


def tflite(model, out_dir, quantization=None):
    """Writes one LiteRT file per group of the model's signatures: `encoder.tflite` (`encode`)
    and `decoder.tflite` (`decode`, `sample`), and for a `ConditionalVAE`
    `classifier.tflite` (`classify`).

    Converted from the SavedModel signatures with builtin ops only, then run in LiteRT
    against the Keras model before they are moved into `out_dir`.

    Args:
        model: a keras_vae model.
        out_dir: directory for the files (created if needed).
        quantization: `None` (float32), `"float16"` or `"dynamic_int8"`.

    Returns:
        dict `{"encoder": path, "decoder": path}` (and `"classifier"`).
    """
    backend.require_tensorflow("keras_vae.export.tflite", backend.EXPORT_WAY_OUT)
    check_model(model)
    validation.check_choice("quantization", quantization, QUANTIZATIONS)
    out_dir = os.path.abspath(os.fspath(out_dir))
    _make_dirs(out_dir)
    parts = _tflite_parts(model)
    paths = {}
    files.remove_leftovers(out_dir, dirs_named=".tmp-tflite-*")  # a killed export's
    with files.staging_dir(out_dir, "tflite") as tmp:
        saved = os.path.join(tmp, "saved_model")
        _write_saved_model(model, saved)
        for part, keys in parts.items():
            paths[part] = os.path.join(tmp, f"{part}.tflite")
            with open(paths[part], "wb") as f:
                f.write(_convert(saved, keys, quantization))
        check_tflite(model, paths, max_difference(model, quantization))
        for part, path in paths.items():
            files.publish_mode(path)
            paths[part] = os.path.join(out_dir, f"{part}.tflite")
            os.replace(path, paths[part])
    return paths


#: The model signatures `onnx` writes, with their files' names.
ONNX_FILES = {"encode": "encoder.onnx", "decode": "decoder.onnx"}


def onnx(model, out_dir):
    """Writes `encoder.onnx` (the `encode` signature) and `decoder.onnx` (`decode`) into
    `out_dir` with Keras's own ONNX export (TensorFlow or PyTorch; the `onnx` extra), once
    ONNX Runtime gives the Keras model's outputs at two batch sizes. One input each (the
    data, or z; the exporter names it), dynamic in the batch; the outputs in the
    signature's order. For a model without classes. Returns `{"encoder": path, ...}`."""
    onnxruntime = _check_onnx(model)
    out_dir = os.path.abspath(os.fspath(out_dir))
    _make_dirs(out_dir)
    paths = {}
    files.remove_leftovers(out_dir, dirs_named=".tmp-onnx-*")  # a killed export's
    with files.staging_dir(out_dir, "onnx") as tmp:
        for signature, file_name in ONNX_FILES.items():
            path = os.path.join(tmp, file_name)
            _write_onnx(model, signature, path)
            _check_onnx_file(model, signature, onnxruntime.InferenceSession(path), path)
            paths[file_name.split(".")[0]] = path
        for part, path in paths.items():
            files.publish_mode(path)
            paths[part] = os.path.join(out_dir, os.path.basename(path))
            os.replace(path, paths[part])
    return paths


def _check_onnx(model):
    """Raises unless `onnx` can export `model` here; returns the onnxruntime module."""
    check_model(model)
    if backend.name() not in ("tensorflow", "torch"):
        raise validation.invalid(
            "KERAS_BACKEND",
            "'tensorflow' or 'torch' for keras_vae.export.onnx (Keras exports ONNX from JAX "
            f"only through jax2onnx); {backend.EXPORT_WAY_OUT}",
            backend.name(),
        )
    if model.num_classes is not None:
        raise validation.invalid(
            "model",
            "a model without classes for keras_vae.export.onnx (a model with classes: "
            "saved_model or tflite, whose signatures take the labels)",
            validation.Described(f"a {type(model).__name__} with {model.num_classes} classes"),
        )
    try:
        import onnxruntime
    except ImportError:
        raise ImportError(
            "keras_vae.export.onnx needs ONNX Runtime and the exporter: "
            'pip install "keras-vae[onnx]"'
        ) from None
    return onnxruntime


def _write_onnx(model, signature, path):
    """Keras's ONNX export of one signature, its batch dimension dynamic."""
    ((name, (shape, dtype)),) = model.serving_endpoints()[signature].inputs.items()
    wrapper = _EndpointModel(model, signature)
    example = keras.ops.convert_to_tensor(model.serving_examples(1)[name])
    backend.without_gradients(wrapper)(example)  # builds it
    spec = [keras.InputSpec(shape=shape, dtype=dtype)]
    wrapper.export(path, format="onnx", verbose=False, input_signature=spec)


def _check_onnx_file(model, signature, session, path):
    """Raises AssertionError unless the ONNX file gives the Keras model's outputs."""
    endpoint = model.serving_endpoints()[signature]
    (name,) = endpoint.inputs
    run = backend.without_gradients(endpoint.function)
    for batch in (1, 3):
        given = model.serving_examples(batch)[name]
        want = run(keras.ops.convert_to_tensor(given))
        want = {k: keras.ops.convert_to_numpy(v) for k, v in want.items()}
        got = dict(zip(want, session.run(None, {session.get_inputs()[0].name: given})))
        _compare({signature: want}, {signature: got}, max_difference(model), path)


class _EndpointModel(keras.Model):
    """One of a model's serving signatures as a Keras model, for Keras's ONNX exporter:
    its outputs a list, in the signature's order."""

    def __init__(self, model, signature):
        super().__init__(name=f"{model.name}_{signature}")
        self.model, self.signature = model, signature

    def call(self, inputs):
        return list(self.model.serving_endpoints()[self.signature].function(inputs).values())


def data_name(model):
    """The name of the data's input and output in the signatures: `images` or `x`."""
    return model.data_name


def max_difference(model, quantization=None):
    """The largest difference from the Keras model an export of `model` may show."""
    policy = getattr(model, "dtype_policy", None)
    compute = getattr(policy, "compute_dtype", "float32")
    return max(TOLERANCE[quantization], DTYPE_TOLERANCE.get(compute, TOLERANCE[None]))


def check_saved_model(model, path, tolerance=None):
    """Raises AssertionError unless every signature at `path` matches the Keras model."""
    tolerance = tolerance if tolerance is not None else max_difference(model)
    loaded = tf.saved_model.load(path)
    inputs, expected = _expected_outputs(model)
    got = {}
    for signature in expected:
        if signature in loaded.signatures:
            function = loaded.signatures[signature]
            given = {n: inputs[n] for n in function.structured_input_signature[1]}
            got[signature] = {n: t.numpy() for n, t in function(**given).items()}
    _compare(expected, got, tolerance, path)


def check_tflite(model, paths, tolerance):
    """Raises AssertionError unless the LiteRT signature runners match the Keras model."""
    from ai_edge_litert.interpreter import Interpreter

    inputs, expected = _expected_outputs(model)
    expected = {k: v for k, v in expected.items() if model.serving_endpoints()[k].tflite}
    got = {}
    for path in paths.values():
        interpreter = Interpreter(model_path=path)
        for signature, details in interpreter.get_signature_list().items():
            runner = interpreter.get_signature_runner(signature)
            got[signature] = runner(**{n: inputs[n] for n in details["inputs"]})
    _compare(expected, got, tolerance, os.path.dirname(next(iter(paths.values()))))


def _write_saved_model(model, path):
    archive = keras.export.ExportArchive()
    archive.track(model)
    for signature, endpoint in model.serving_endpoints().items():
        specs = [
            tf.TensorSpec(shape, dtype, name=name)
            for name, (shape, dtype) in endpoint.inputs.items()
        ]
        archive.add_endpoint(signature, endpoint.function, input_signature=specs)
    archive.write_out(path, verbose=False)


def _tflite_parts(model):
    """{file name stem: its signatures}."""
    parts = {}
    for signature, endpoint in model.serving_endpoints().items():
        if endpoint.tflite:
            parts.setdefault(endpoint.tflite, []).append(signature)
    return parts


def _convert(saved_model_dir, signature_keys, quantization):
    converter = tf.lite.TFLiteConverter.from_saved_model(
        saved_model_dir, signature_keys=signature_keys
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def _expected_outputs(model):
    """(every signature input by name, the Keras model's outputs by signature)."""
    inputs = model.serving_examples(3)
    expected = {}
    for signature, endpoint in model.serving_endpoints().items():
        outputs = endpoint.function(*(tf.constant(inputs[name]) for name in endpoint.inputs))
        expected[signature] = {name: np.asarray(value) for name, value in outputs.items()}
    return inputs, expected


def _compare(expected, got, tolerance, where):
    for signature, outputs in expected.items():
        if signature not in got:
            raise AssertionError(f"Export check failed for {where}: no signature {signature!r}.")
        for name, want in outputs.items():
            error = float(np.max(np.abs(np.asarray(got[signature][name]) - want)))
            if not error <= tolerance:
                raise AssertionError(
                    f"Export check failed for {where}: signature {signature!r} output "
                    f"{name!r} differs from the Keras model by {error:g} (> {tolerance:g})."
                )


def _check_free(base_dir, version):
    if os.path.exists(os.path.join(base_dir, str(version))):
        raise FileExistsError(
            f"Version {version} already exists in {base_dir}; exported versions are never "
            "overwritten. Pass another version, or version=None for the next one."
        )


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):  # none, or a kill left it unreadable: start over
        return None


def _check_version(version):
    return validation.check_int("version", version, minimum=1)


def next_version(base_dir):
    """The version after the highest integer directory in `base_dir` (1 for none)."""
    versions = [int(n) for n in os.listdir(base_dir) if re.fullmatch(r"\d+", n)]
    return max(versions, default=0) + 1


def _make_dirs(path):
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise PermissionError(f"Cannot create the export directory {path}: {error}") from None
    if not os.access(path, os.W_OK):
        raise PermissionError(f"Cannot write to the export directory {path}.")
