"""The disentanglement metrics on representations whose answer is known."""

import numpy as np
import pytest

import keras_vae
from keras_vae import evaluate
from keras_vae.evaluate.disentanglement import SCORES

pytest.importorskip("sklearn", reason="SAP and DCI need scikit-learn")

N = 4000


@pytest.fixture(scope="module")
def factors():
    """Three independent continuous factors and a discrete one (4 classes)."""
    rng = np.random.default_rng(0)
    continuous = rng.uniform(size=(N, 3))
    return np.concatenate([continuous, rng.integers(0, 4, size=(N, 1))], axis=1)


@pytest.fixture(scope="module")
def aligned(factors):
    return _scores(factors + 0.0, factors)


def _scores(codes, factors):
    return {
        "mig": evaluate.mig(codes, factors),
        "sap": evaluate.sap(codes, factors),
        **evaluate.dci(codes, factors),
        "factor_vae": evaluate.factor_vae_score(codes, factors, num_votes=(800, 400)),
    }


def test_the_factors_themselves_score_about_one(aligned):
    scores = aligned
    assert scores["mig"] > 0.95
    assert scores["sap"] > 0.6  # the discrete factor's best code is right 100%, the next 25%
    assert scores["disentanglement"] > 0.95 and scores["completeness"] > 0.95
    assert scores["informativeness"] > 0.95
    assert scores["factor_vae"] > 0.95


def test_a_random_rotation_mixes_them(factors, aligned):
    rotation = np.linalg.qr(np.random.default_rng(1).standard_normal((4, 4)))[0]
    scores = _scores(factors @ rotation, factors)
    assert scores["mig"] < 0.4 and scores["mig"] < aligned["mig"] - 0.5
    assert scores["disentanglement"] < aligned["disentanglement"] - 0.3
    assert scores["informativeness"] > 0.8  # the information is all there, spread out


def test_independent_noise_scores_about_zero(factors):
    noise = np.random.default_rng(2).standard_normal((N, 4))
    scores = _scores(noise, factors)
    assert scores["mig"] < 0.02 and scores["sap"] < 0.05
    assert scores["informativeness"] < 0.35  # chance for the discrete factor: 0.25
    assert scores["factor_vae"] < 0.45  # chance: 0.25


def test_a_duplicated_factor_loses_its_gap_and_completeness(factors, aligned):
    duplicated = np.concatenate([factors[:, :1], factors], axis=1)
    scores = _scores(duplicated, factors)
    # The first factor is known to two codes equally: its gap is 0, the others' are 1.
    assert scores["mig"] == pytest.approx(0.75, abs=0.05)
    assert scores["sap"] < aligned["sap"] - 0.2
    # Trees split on either copy, so the factor's importance is shared unevenly.
    assert scores["completeness"] < aligned["completeness"] - 0.05
    assert scores["disentanglement"] > 0.9  # each code still serves one factor


def test_discrete_factors_are_inferred_and_can_be_declared(factors):
    # The continuous factors declared discrete are refused; the discrete one as continuous
    # is scored by its correlation.
    with pytest.raises(ValueError, match="argument discrete"):
        evaluate.mig(factors, factors, discrete=[True, False, False, True])
    as_continuous = evaluate.sap(factors, factors, discrete=[False] * 4)
    assert as_continuous > 0.9


def test_a_model_is_scored_on_shapes_through_its_codes():
    images, raw = keras_vae.data.shapes.generate(300, image_size=16, seed=0)
    factors = keras_vae.data.shapes.factor_array(raw)
    assert factors.shape == (300, 5) and set(np.unique(factors[:, 0])) <= {0, 1, 2, 3}
    model = keras_vae.VAE.from_shape((16, 16, 1), latent_dim=3, seed=0)
    scores = evaluate.disentanglement(model, images, factors)
    assert tuple(scores) == SCORES
    assert all(0.0 <= v <= 1.0 for v in scores.values()), scores


@pytest.mark.parametrize(
    "codes, bad, message",
    [
        (np.zeros((100, 3)), np.zeros((99, 2)), "factors.shape"),
        (np.zeros((100, 3)), np.full((100, 2), np.nan), "factors"),
        (np.zeros((100, 3)), np.ones((100, 2)), "factors"),  # constant
        (np.zeros((100, 3)), None, "factors"),
        (np.zeros((5, 3)), np.zeros((5, 2)), "codes.shape"),
        (np.full((100, 3), np.inf), np.zeros((100, 2)), "codes"),
    ],
    ids=["length", "nan", "constant", "missing", "too-few", "inf-codes"],
)
def test_bad_factors_and_codes_are_refused_before_any_work(codes, bad, message):
    for metric in (evaluate.mig, evaluate.sap, evaluate.dci, evaluate.factor_vae_score):
        with pytest.raises(ValueError, match=f"Invalid value received for argument {message}"):
            metric(codes, bad)


def test_disentanglement_refuses_factors_of_another_length():
    images, _ = keras_vae.data.shapes.generate(20, image_size=16, seed=0)
    model = keras_vae.VAE.from_shape((16, 16, 1), latent_dim=2, seed=0)
    with pytest.raises(ValueError, match=r"argument factors.shape. Expected \(20, num_factors\)"):
        evaluate.disentanglement(model, images, np.zeros((19, 5)))
    with pytest.raises(ValueError, match="argument factors. Expected the factors"):
        evaluate.disentanglement(model, images, None)


# ------------------------------------------------------------------- factors as data


def test_shapes_yields_its_factors_beside_the_images():
    dataset = keras_vae.data.load(
        "shapes", "test", with_factors=True, num_examples=64, batch_size=32, shuffle=False
    )
    images, factors = (np.concatenate(part) for part in zip(*dataset.as_numpy_iterator()))
    expected_images, raw = keras_vae.data.shapes.generate(64, seed=3)  # the test split's seed
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_allclose(factors, keras_vae.data.shapes.factor_array(raw))
    assert factors.dtype == np.float32


def test_from_array_keeps_each_example_with_its_factors_when_shuffled():
    index = np.arange(100, dtype=np.float32)
    x = np.repeat(index[:, None], 4, axis=1)  # example i is the vector (i, i, i, i)
    factors = np.stack([index, -index], axis=1)
    dataset = keras_vae.data.from_array(x, factors=factors, batch_size=16, seed=1)
    seen = [(bx, bf) for bx, bf in dataset.as_numpy_iterator()]
    xs, fs = np.concatenate([b[0] for b in seen]), np.concatenate([b[1] for b in seen])
    assert not np.array_equal(fs[:, 0], index)  # shuffled ...
    np.testing.assert_array_equal(xs[:, 0], fs[:, 0])  # ... but still in pairs
    np.testing.assert_array_equal(fs[:, 1], -fs[:, 0])


def test_from_npz_reads_the_factors_it_is_told(tmp_path):
    images, raw = keras_vae.data.shapes.generate(40, image_size=16, seed=0)
    path = tmp_path / "known.npz"
    np.savez(path, imgs=images, latents=keras_vae.data.shapes.factor_array(raw))
    dataset = keras_vae.data.from_npz(path, "imgs", factors_key="latents", shuffle=False)
    x, f = next(iter(dataset))
    assert x.shape == (40, 16, 16, 1) and f.shape == (40, 5)
    with pytest.raises(ValueError, match="argument factors_key. Expected one of the arrays"):
        keras_vae.data.from_npz(path, "imgs", factors_key="latent")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: keras_vae.data.from_array(x, factors=np.zeros((9, 2))), r"factors.shape"),
        (lambda x: keras_vae.data.from_array(x, factors=np.full(10, np.inf)), r"factors\. "),
        (
            lambda x: keras_vae.data.from_array(x, np.zeros(10, int), factors=np.zeros(10)),
            r"factors\. Expected None with labels",
        ),
        (lambda x: keras_vae.data.load("mnist", with_factors=True), "with_factors"),
        (lambda x: keras_vae.data.load("shapes", with_factors=1), "with_factors"),
    ],
    ids=["length", "inf", "with-labels", "tfds", "not-bool"],
)
def test_bad_factors_in_data_are_refused_before_any_work(call, message):
    with pytest.raises(ValueError, match=f"Invalid value received for argument {message}"):
        call(np.zeros((10, 3), np.float32))


def test_disentanglement_takes_a_dataset_of_images_and_factors():
    model = keras_vae.VAE.from_shape((16, 16, 1), latent_dim=3, seed=0)
    dataset = keras_vae.data.load(
        "shapes", "validation", with_factors=True, num_examples=300, image_size=16, shuffle=False
    )
    images, raw = keras_vae.data.shapes.generate(300, image_size=16, seed=2)
    from_arrays = evaluate.disentanglement(model, images, keras_vae.data.shapes.factor_array(raw))
    assert evaluate.disentanglement(model, dataset) == pytest.approx(from_arrays)
    plain = keras_vae.data.load("shapes", num_examples=50, image_size=16)
    with pytest.raises(ValueError, match=r"argument images. Expected a dataset of \(x, factors\)"):
        evaluate.disentanglement(model, plain)
    with pytest.raises(ValueError, match="argument factors. Expected None when the images"):
        evaluate.disentanglement(model, dataset, np.zeros((300, 5)))


def test_the_command_line_reports_the_metrics_on_data_with_factors(tmp_path, capsys):
    import json

    from keras_vae import cli

    model = keras_vae.VAE.from_shape((28, 28, 1), latent_dim=3, seed=0)
    model.save(tmp_path / "m.keras")
    common = [str(tmp_path / "m.keras"), "--limit", "200", "--num-samples", "2"]
    out = tmp_path / "scores.json"
    assert cli.main(["evaluate", *common, "--disentanglement", "--out", str(out)]) == 0
    scores = json.loads(out.read_text())["disentanglement"]
    assert tuple(scores) == SCORES and all(0 <= v <= 1 for v in scores.values())
    # A .npz file's own factors, named by --factors-key (which implies --disentanglement).
    images, raw = keras_vae.data.shapes.generate(200, seed=5)
    np.savez(tmp_path / "d.npz", images=images, f=keras_vae.data.shapes.factor_array(raw))
    npz = ["--data", str(tmp_path / "d.npz"), "--out", str(out)]
    assert cli.main(["evaluate", *common, *npz, "--factors-key", "f"]) == 0
    assert tuple(json.loads(out.read_text())["disentanglement"]) == SCORES
    capsys.readouterr()
    for flags, argument in [
        (["--dataset", "mnist", "--disentanglement"], "disentanglement"),
        (["--data", str(tmp_path), "--factors-key", "f"], "factors_key"),
    ]:
        assert cli.main(["evaluate", *common, *flags]) == 2
        assert f"Invalid value received for argument {argument}" in capsys.readouterr().err
