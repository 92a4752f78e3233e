"""SavedModel (TF Serving layout) and TFLite (LiteRT) exports, checked against Keras."""

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import keras_vae
from keras_vae import export

EXPORT_PAGE = os.path.join(os.path.dirname(__file__), "..", "docs", "pages", "export.md")


@pytest.fixture(scope="module")
def model():
    keras_vae_model = keras_vae.VAE.from_shape((28, 28, 1), latent_dim=16, seed=0)
    keras_vae_model.compile(optimizer="adam")
    images = keras_vae.data.shapes.generate(256, seed=5)[0]
    keras_vae_model.fit(images, batch_size=64, epochs=1, verbose=0)  # weights away from init
    return keras_vae_model


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    return export.saved_model(model, tmp_path_factory.mktemp("serving") / "vae")


def test_versions_follow_tf_serving_layout(model, tmp_path):
    base = tmp_path / "vae"
    first = export.saved_model(model, base)
    second = export.saved_model(model, base)
    assert [os.path.basename(first), os.path.basename(second)] == ["1", "2"]
    assert os.path.isfile(os.path.join(first, "saved_model.pb"))
    assert os.path.isdir(os.path.join(first, "variables"))
    assert export.saved_model(model, base, version=7).endswith("7")
    assert sorted(os.listdir(base)) == ["1", "2", "7"]  # no temporary leftovers
    with pytest.raises(FileExistsError, match="Version 2 already exists"):
        export.saved_model(model, base, version=2)


def test_signatures_have_names_and_dynamic_batch(exported):
    loaded = tf.saved_model.load(exported)
    assert set(loaded.signatures) == {
        "encode",
        "decode",
        "sample",
        "reconstruct",
        "serving_default",
    }
    inputs = {k: loaded.signatures[k].structured_input_signature[1] for k in loaded.signatures}
    assert list(inputs["encode"]) == ["images"] and list(inputs["decode"]) == ["z"]
    assert list(inputs["sample"]) == ["eps"] and list(inputs["serving_default"]) == ["images"]
    assert inputs["decode"]["z"].shape.as_list() == [None, 16]
    outputs = loaded.signatures["encode"].structured_outputs
    assert set(outputs) == {"z_mean", "z_log_var"}
    sample_ops = {op.type for op in loaded.signatures["sample"].graph.get_operations()}
    assert not any("Random" in op for op in sample_ops)


def test_saved_model_cli_lists_every_signature(exported):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    if not os.path.exists(cli):
        pytest.skip("saved_model_cli is not installed beside this Python")
    done = subprocess.run(
        [cli, "show", "--all", "--dir", exported], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("encode", "decode", "sample", "reconstruct", "serving_default"):
        assert f"signature_def['{name}']" in done.stdout
    assert "inputs['eps']" in done.stdout and "outputs['z_log_var']" in done.stdout


def test_saved_model_runs_in_a_process_with_only_tensorflow(model, exported, tmp_path):
    examples = model.serving_examples(5)
    images, z = examples["images"], examples["z"]
    np.savez(tmp_path / "inputs.npz", images=images, z=z)
    script = textwrap.dedent(f"""
        import sys, numpy as np, tensorflow as tf
        inputs = np.load({str(tmp_path / "inputs.npz")!r})
        sig = tf.saved_model.load({exported!r}).signatures
        out = dict(
            z_mean=sig["encode"](images=inputs["images"])["z_mean"],
            decoded=sig["decode"](z=inputs["z"])["images"],
            sampled=sig["sample"](eps=inputs["z"])["images"],
            recon=sig["serving_default"](images=inputs["images"])["images"],
        )
        np.savez({str(tmp_path / "out.npz")!r}, **{{k: v.numpy() for k, v in out.items()}})
        assert "keras_vae" not in sys.modules
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = np.load(tmp_path / "out.npz")
    np.testing.assert_allclose(out["z_mean"], model.encode(images)[0], atol=1e-5)
    np.testing.assert_allclose(out["decoded"], model.decode(z), atol=1e-5)
    np.testing.assert_allclose(out["sampled"], model.decode(z), atol=1e-5)
    np.testing.assert_allclose(out["recon"], model.reconstruct(images), atol=1e-5)


def _rest_predict(loaded, body):
    """What TF Serving's REST API does with a row-format `:predict` body."""
    signature = loaded.signatures[body.get("signature_name", "serving_default")]
    names = list(signature.structured_input_signature[1])
    instances = body["instances"]
    if isinstance(instances[0], dict):
        tensors = {n: tf.constant([row[n] for row in instances], tf.float32) for n in names}
    else:
        (name,) = names
        tensors = {name: tf.constant(instances, tf.float32)}
    outputs = {k: v.numpy() for k, v in signature(**tensors).items()}
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values())).tolist()}
    return {
        "predictions": [
            {k: v[i].tolist() for k, v in outputs.items()} for i in range(len(instances))
        ]
    }


def _documented_bodies():
    text = open(EXPORT_PAGE, encoding="utf-8").read()
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.S)
    return [json.loads(b) for b in blocks if '"instances"' in b]


def test_the_documented_rest_bodies_give_the_keras_numbers(model, exported):
    loaded = tf.saved_model.load(exported)
    bodies = {b["signature_name"]: b for b in _documented_bodies()}
    assert {"decode", "sample"} <= set(bodies)
    for name in ("decode", "sample"):
        z = np.asarray(bodies[name]["instances"], np.float32)
        got = np.asarray(_rest_predict(loaded, bodies[name])["predictions"])
        np.testing.assert_allclose(got, model.decode(z), atol=1e-5)
    # encode/reconstruct bodies are built in code, as the page shows.
    images = keras_vae.data.shapes.generate(2, seed=9)[0]
    body = json.loads(json.dumps({"signature_name": "encode", "instances": images.tolist()}))
    rows = _rest_predict(loaded, body)["predictions"]
    np.testing.assert_allclose([r["z_mean"] for r in rows], model.encode(images)[0], atol=1e-5)
    body = {"instances": images.tolist()}  # serving_default = reconstruct
    got = np.asarray(_rest_predict(loaded, body)["predictions"])
    np.testing.assert_allclose(got, model.reconstruct(images), atol=1e-5)


@pytest.mark.parametrize("quantization", [None, "float16", "dynamic_int8"])
def test_tflite_runs_in_litert_with_any_batch(model, tmp_path, quantization):
    from ai_edge_litert.interpreter import Interpreter

    paths = export.tflite(model, tmp_path, quantization=quantization)
    assert sorted(os.listdir(tmp_path)) == ["decoder.tflite", "encoder.tflite"]
    decoder = Interpreter(model_path=paths["decoder"]).get_signature_runner("decode")
    encoder = Interpreter(model_path=paths["encoder"]).get_signature_runner("encode")
    # Tighter than the export check's contract (export.TOLERANCE): measured 1.5e-7, 4.7e-5
    # and 1.7e-3 on a trained default model (benchmarks/RESULTS.md).
    tolerance = {None: 1e-6, "float16": 2e-4, "dynamic_int8": 5e-3}[quantization]
    for batch in (1, 7):
        examples = model.serving_examples(batch)
        images, z = examples["images"], examples["z"]
        got = decoder(z=z)["images"]
        assert got.shape == (batch, 28, 28, 1)
        assert np.max(np.abs(got - model.decode(z).numpy())) <= tolerance
        z_mean = encoder(images=images)["z_mean"]
        assert z_mean.shape == (batch, 16)
    if quantization:
        assert os.path.getsize(paths["decoder"]) < 0.6 * _float32_size(model, tmp_path)


def _float32_size(model, tmp_path):
    return os.path.getsize(export.tflite(model, tmp_path / "f32")["decoder"])


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda m, d: export.saved_model(object(), d), ValueError, "a keras_vae model"),
        (lambda m, d: export.saved_model(m, d, version=0), ValueError, "version=0"),
        (lambda m, d: export.tflite(m, d, quantization="int4"), ValueError, "int4"),
    ],
)
def test_bad_arguments_fail_clearly_and_write_nothing(model, tmp_path, call, error, match):
    target = tmp_path / "out"
    with pytest.raises(error, match=match):
        call(model, target)
    assert not target.exists() or os.listdir(target) == []


def test_unwritable_target(model, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        with pytest.raises(PermissionError, match="Cannot"):
            export.saved_model(model, locked / "vae")
    finally:
        locked.chmod(0o700)


def test_interrupted_export_leaves_no_version_and_next_export_works(model, tmp_path, monkeypatch):
    real_write = export._write_saved_model

    def crash_midway(m, path):
        real_write(m, path)  # some files are written ...
        raise KeyboardInterrupt  # ... then the process is interrupted

    monkeypatch.setattr(export, "_write_saved_model", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        export.saved_model(model, tmp_path / "vae")
    assert os.listdir(tmp_path / "vae") == []
    monkeypatch.setattr(export, "_write_saved_model", real_write)
    assert export.saved_model(model, tmp_path / "vae").endswith(os.sep + "1")


def test_a_wrong_export_is_never_published(model, tmp_path, monkeypatch):
    endpoints = model.serving_endpoints()
    encode = endpoints["encode"]

    def differs_in_the_graph(x):  # what an export bug looks like: the graph is not Keras
        outputs = encode.function(x)
        shift = 0.0 if tf.executing_eagerly() else 5.0
        return {k: v + shift for k, v in outputs.items()}

    endpoints["encode"] = encode._replace(function=differs_in_the_graph)
    monkeypatch.setattr(model, "serving_endpoints", lambda: endpoints)
    with pytest.raises(
        AssertionError, match="signature 'encode' output 'z_mean' differs from the Keras model by 5"
    ):
        export.saved_model(model, tmp_path / "vae")
    assert os.listdir(tmp_path / "vae") == []


def test_the_endpoints_are_the_public_methods(model):
    examples = model.serving_examples(4)
    endpoints = model.serving_endpoints()
    images, z, eps = examples["images"], examples["z"], examples["eps"]
    encoded = endpoints["encode"].function(tf.constant(images))
    for got, want in zip((encoded["z_mean"], encoded["z_log_var"]), model.encode(images)):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(
        endpoints["decode"].function(tf.constant(z))["images"], model.decode(z), rtol=1e-6
    )
    sampled = endpoints["sample"].function(tf.constant(eps))["images"]
    np.testing.assert_allclose(sampled, model.decode(model.prior.sample(eps)), rtol=1e-6)
    for name in ("reconstruct", "serving_default"):
        got = endpoints[name].function(tf.constant(images))["images"]
        np.testing.assert_allclose(got, model.reconstruct(images), rtol=1e-6)


def test_a_mixed_bfloat16_model_exports_within_its_precision(tmp_path):
    architecture = dict(encoder_filters=(8, 16), dense_units=16)
    model = keras_vae.VAE.from_shape(
        (28, 28, 1), 4, architecture=architecture, seed=0, dtype="mixed_bfloat16"
    )
    plain = keras_vae.VAE.from_shape((28, 28, 1), 4, architecture=architecture)
    assert export.max_difference(model) == 1e-2 and export.max_difference(plain) == 1e-5
    path = export.saved_model(model, tmp_path / "bf16")  # checked against Keras inside
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))


def test_onnx_files_run_in_onnx_runtime_like_keras(model, tmp_path):
    import onnxruntime

    paths = export.onnx(model, tmp_path / "onnx")
    assert sorted(os.listdir(tmp_path / "onnx")) == ["decoder.onnx", "encoder.onnx"]
    x = keras_vae.data.shapes.generate(5, seed=9)[0]
    session = onnxruntime.InferenceSession(paths["encoder"], providers=["CPUExecutionProvider"])
    z_mean, z_log_var = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(z_mean, model.encode(x)[0], atol=1e-5)
    np.testing.assert_allclose(z_log_var, model.encode(x)[1], atol=1e-5)
    session = onnxruntime.InferenceSession(paths["decoder"], providers=["CPUExecutionProvider"])
    (decoded,) = session.run(None, {session.get_inputs()[0].name: z_mean})
    np.testing.assert_allclose(decoded, model.decode(z_mean), atol=1e-5)


def test_a_wrong_onnx_export_is_never_written(model, tmp_path, monkeypatch):
    endpoints = model.serving_endpoints()
    decode = endpoints["decode"]

    def differs_in_the_graph(z):
        shift = 0.0 if tf.executing_eagerly() else 5.0
        return {k: v + shift for k, v in decode.function(z).items()}

    endpoints["decode"] = decode._replace(function=differs_in_the_graph)
    monkeypatch.setattr(model, "serving_endpoints", lambda: endpoints)
    with pytest.raises(AssertionError, match="signature 'decode' output 'images' differs"):
        export.onnx(model, tmp_path / "onnx")
    assert os.listdir(tmp_path / "onnx") == []


def test_onnx_refuses_a_model_with_classes(tmp_path):
    model = keras_vae.ConditionalVAE.from_shape((28, 28, 1), num_classes=3, latent_dim=2)
    with pytest.raises(ValueError, match=r"argument model\. Expected a model without classes"):
        export.onnx(model, tmp_path / "onnx")
    assert not os.path.exists(tmp_path / "onnx")
