"""Exports of a ConditionalVAE: labels in, classify out, each checked against Keras."""

import os

import numpy as np
import pytest
import tensorflow as tf

import keras_vae
from keras_vae import export


def tiny_conditional(input_shape=(8, 8, 1), seed=0):
    """A ConditionalVAE trained one epoch on 32 examples (weights away from init)."""
    if len(input_shape) == 3:
        sizes = dict(encoder_filters=(4,), dense_units=8)
    else:
        sizes = dict(hidden_units=(8,))
    model = keras_vae.ConditionalVAE.from_shape(
        input_shape, 2, num_classes=3, architecture=sizes, seed=seed
    )
    model.compile(optimizer="adam")
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(32, *input_shape)).astype("float32")
    labels = rng.integers(-1, 3, size=32).astype("int32")
    model.fit(tf.data.Dataset.from_tensor_slices((x, labels)).batch(32), epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def model():
    return tiny_conditional()


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    return export.saved_model(model, tmp_path_factory.mktemp("serving") / "cvae")


def probe(model, batch, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(batch, *model.data_shape)).astype("float32")
    z = rng.normal(size=(batch, model.latent_dim)).astype("float32")
    return x, z, rng.integers(model.num_classes, size=batch).astype("int32")


def test_signatures_take_labels_and_classify_gives_probabilities(exported):
    signatures = tf.saved_model.load(exported).signatures
    names = {"encode", "decode", "sample", "reconstruct", "classify", "serving_default"}
    assert set(signatures) == names
    inputs = {k: f.structured_input_signature[1] for k, f in signatures.items()}
    for name, data in [
        ("encode", "images"),
        ("decode", "z"),
        ("sample", "eps"),
        ("reconstruct", "images"),
    ]:
        assert sorted(inputs[name]) == sorted([data, "labels"]), name
        assert inputs[name]["labels"].dtype == tf.int32
        assert inputs[name]["labels"].shape.as_list() == [None]
    # A client reconstructs without knowing the class: the classifier's guess stands in.
    assert list(inputs["classify"]) == list(inputs["serving_default"]) == ["images"]
    assert signatures["classify"].structured_outputs["probabilities"].shape.as_list() == [None, 3]
    sample_ops = {op.type for op in signatures["sample"].graph.get_operations()}
    assert not any("Random" in op for op in sample_ops)


def test_saved_model_gives_the_keras_numbers_for_any_labels(model, exported):
    signatures = tf.saved_model.load(exported).signatures
    for batch in (1, 5):
        x, z, labels = probe(model, batch)
        got = signatures["encode"](images=x, labels=labels)
        np.testing.assert_allclose(got["z_mean"], model.encode(x, labels=labels)[0], atol=1e-5)
        got = signatures["sample"](eps=z, labels=labels)["images"]
        np.testing.assert_allclose(got, model.decode(z, labels=labels), atol=1e-5)
        got = signatures["reconstruct"](images=x, labels=labels)["images"]
        np.testing.assert_allclose(got, model.reconstruct(x, labels=labels), atol=1e-5)
        got = signatures["serving_default"](images=x)["images"]
        np.testing.assert_allclose(got, model.reconstruct(x), atol=1e-5)
        unknown = np.full(batch, -1, "int32")  # -1: the classifier's guess, as in Python
        got = signatures["encode"](images=x, labels=unknown)["z_mean"]
        np.testing.assert_allclose(got, model.encode(x)[0], atol=1e-5)
        probabilities = signatures["classify"](images=x)["probabilities"].numpy()
        np.testing.assert_allclose(probabilities, model.classify(x), atol=1e-5)
        np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)
    # The class changes the decoded data: the labels input is not ignored.
    z = np.zeros((2, 2), "float32")
    decoded = signatures["decode"](z=z, labels=np.array([0, 2], "int32"))["images"].numpy()
    assert np.max(np.abs(decoded[0] - decoded[1])) > 1e-4


def test_vectors_keep_their_data_name(tmp_path):
    model = tiny_conditional(input_shape=(6,))
    signatures = tf.saved_model.load(export.saved_model(model, tmp_path / "v")).signatures
    assert sorted(signatures["encode"].structured_input_signature[1]) == ["labels", "x"]
    assert list(signatures["classify"].structured_input_signature[1]) == ["x"]
    assert set(signatures["decode"].structured_outputs) == {"x"}


@pytest.mark.parametrize("quantization", [None, "dynamic_int8"])
def test_tflite_files_take_labels_in_litert(model, tmp_path, quantization):
    from ai_edge_litert.interpreter import Interpreter

    paths = export.tflite(model, tmp_path, quantization=quantization)
    assert sorted(os.listdir(tmp_path)) == ["classifier.tflite", "decoder.tflite", "encoder.tflite"]
    tolerance = export.max_difference(model, quantization)
    runners = {
        name: Interpreter(model_path=paths[part]).get_signature_runner(name)
        for part, name in [("encoder", "encode"), ("decoder", "decode"), ("classifier", "classify")]
    }
    for batch in (1, 4):
        x, z, labels = probe(model, batch)
        got = runners["decode"](z=z, labels=labels)["images"]
        assert np.max(np.abs(got - model.decode(z, labels=labels).numpy())) <= tolerance
        got = runners["encode"](images=x, labels=labels)["z_mean"]
        assert np.max(np.abs(got - model.encode(x, labels=labels)[0].numpy())) <= tolerance
        got = runners["classify"](images=x)["probabilities"]
        assert got.shape == (batch, 3)
        assert np.max(np.abs(got - model.classify(x).numpy())) <= tolerance


def test_publish_writes_the_classifier_too(model, tmp_path):
    path, paths = export.publish(model, tmp_path / "cvae", tflite_files=True, source="a run")
    assert path.endswith(os.sep + "1") and sorted(paths) == ["classifier", "decoder", "encoder"]
    assert all(os.path.isfile(p) for p in paths.values())


def test_labels_outside_the_rule_are_refused_by_the_saved_model(model, exported):
    signatures = tf.saved_model.load(exported).signatures
    x, z, _ = probe(model, 2)
    for name, inputs, bad in [
        ("decode", {"z": z}, [0, 3]),
        ("sample", {"eps": z}, [-1, 1]),  # a class is needed to decode
        ("encode", {"images": x}, [12, 0]),
        ("reconstruct", {"images": x}, [-2, 0]),
    ]:
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"keras_vae input check: labels\|class labels in \[",
        ):
            signatures[name](**inputs, labels=np.array(bad, "int32"))


def test_litert_turns_labels_outside_the_rule_into_nan(model, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    paths = export.tflite(model, tmp_path)
    decode = Interpreter(model_path=paths["decoder"]).get_signature_runner("decode")
    encode = Interpreter(model_path=paths["encoder"]).get_signature_runner("encode")
    x, z, _ = probe(model, 3)
    decoded = decode(z=z, labels=np.array([0, 3, -1], "int32"))["images"]
    assert np.isfinite(decoded[0]).all() and np.isnan(decoded[1:]).all()
    z_mean = encode(images=x, labels=np.array([-1, 7, 2], "int32"))["z_mean"]
    assert np.isfinite(z_mean[[0, 2]]).all() and np.isnan(z_mean[1]).all()
    np.testing.assert_allclose(z_mean[0], model.encode(x[:1])[0][0], atol=1e-5)
