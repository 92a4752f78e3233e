"""Users' files from keras-vae 0.2 still work: its saved models load and compute the same,
and its unfinished run directory resumes to the weights 0.2 itself trained to.

The fixtures were made by 0.2.0 (tests/fixtures/v0_2/, the script is in the history of
make_fixtures.py at commit 2a211f6).
"""

import csv
import json
import os
import sys

import keras
import numpy as np
import pytest

import keras_vae
from keras_vae import training

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers"))
import fixture_run  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "v0_2")
KINDS = {"vae_conv": "VAE", "vae_iaf": "VAE", "vae_mlp": "VAE", "conditional": "ConditionalVAE"}


def assert_same(actual, desired):
    """Equal up to float32 rounding: the same weights give the same values, but TensorFlow's
    CPU kernels round in the last bit differently by instruction set (seen: AVX-512 against
    AMD's AVX2, up to 1.8e-7), so bit equality would test the machine, not the file."""
    np.testing.assert_allclose(actual, desired, rtol=2e-6, atol=1e-6)


@pytest.fixture(scope="module")
def expected():
    return dict(np.load(os.path.join(FIXTURES, "expected.npz")))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_0_2_model_loads_and_computes_what_0_2_did(kind, expected, tmp_path):
    model = keras.models.load_model(os.path.join(FIXTURES, f"{kind}.keras"), safe_mode=True)
    assert type(model).__name__ == KINDS[kind]
    given = {"labels": expected[f"{kind}/labels"]} if f"{kind}/labels" in expected else {}
    x, z = expected[f"{kind}/x"], expected[f"{kind}/z"]
    assert_same(model.encode(x, **given)[0], expected[f"{kind}/z_mean"])
    assert_same(model.decode(z, **given), expected[f"{kind}/decoded"])
    assert_same(model.reconstruct(x, **given), expected[f"{kind}/reconstructed"])
    if given:
        assert_same(model.classify(x), expected[f"{kind}/probabilities"])
    # The optimizer's state came along, each slot beside the variable it belongs to.
    assert int(model.optimizer.iterations) == int(expected[f"{kind}/iterations"])
    slots = [v for v in model.optimizer.variables if v.path.endswith(("_momentum", "_velocity"))]
    shapes = [tuple(v.shape) for v in model.trainable_variables]
    assert [tuple(s.shape) for s in slots[0::2]] == shapes == [tuple(s.shape) for s in slots[1::2]]
    # Saved again, it loads again (a flow's weights keep the place 0.2 gave them).
    model.save(tmp_path / "again.keras")
    again = keras.models.load_model(tmp_path / "again.keras", safe_mode=True)
    assert_same(again.decode(z, **given), expected[f"{kind}/decoded"])
    labels = given.get("labels")
    again.fit(x, labels, epochs=1, verbose=0)  # and trains on


def test_the_parts_of_a_0_2_model_are_read_from_its_flat_settings():
    iaf = keras.models.load_model(os.path.join(FIXTURES, "vae_iaf.keras"), safe_mode=True)
    assert (iaf.posterior.alias, iaf.posterior.steps, iaf.posterior.units) == ("iaf", 2, (8,))
    assert iaf.likelihood.alias == "gaussian" and iaf.objective.alias == "elbo"
    mlp = keras.models.load_model(os.path.join(FIXTURES, "vae_mlp.keras"), safe_mode=True)
    assert mlp.objective.beta == 0.5 and mlp.likelihood.mean_activation == "linear"
    conditional = keras.models.load_model(
        os.path.join(FIXTURES, "conditional.keras"), safe_mode=True
    )
    assert (conditional.num_classes, conditional.alpha) == (3, 2.0)


def test_a_0_2_run_directory_resumes_to_the_weights_0_2_trained(tmp_path, monkeypatch):
    fixture_run.copy_to(tmp_path, monkeypatch)
    config = fixture_run.config()
    result = training.train(config)
    want = np.load(os.path.join(FIXTURES, "run_resumed.npz"))
    want = [want[f"arr_{i}"] for i in range(len(want.files))]
    got = result["model"].get_weights()
    assert len(got) == len(want)
    for a, b in zip(got, want):
        # 0.3 computes the bound in keras.ops where 0.2 used TFP: the same formulas, whose
        # float32 rounding may differ in the last bit (seen: 1 weight of 36, by 1.5e-7).
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    with open(tmp_path / "run" / "history.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(FIXTURES, "run_resumed.json"), encoding="utf-8") as f:
        recorded = json.load(f)["history"]
    assert [r["epoch"] for r in rows] == ["0", "1"]
    for row, old in zip(rows, recorded):  # the same training, epoch by epoch
        assert float(row["loss"]) == pytest.approx(float(old["loss"]), rel=1e-6)


def test_a_model_file_from_before_0_2_is_refused_with_the_way_out():
    config = keras_vae.VAE.from_shape((8, 8, 1), 2).get_config()
    flat = {k: v for k, v in config.items() if k not in ("encoder", "decoder")}
    flat.update(likelihood="bernoulli", beta=1.0)
    with pytest.raises(
        ValueError, match=r"config\. Expected a model saved by keras-vae 0\.2 or later"
    ):
        keras_vae.VAE.from_config(flat)
