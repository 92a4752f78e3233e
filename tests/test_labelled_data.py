"""Labelled data: (x, labels) pipelines that give the few labelled examples a fair share of
every batch, labels from .npz files and tfds, and `keras-vae train --labels-key`."""

import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_vae import cli, data
from keras_vae.data import tfds_loading


def digits(n=100, labelled=10, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)
    labels = np.full(n, -1, np.int64)
    labels[:labelled] = np.arange(labelled) % 5
    return images, labels


def test_every_batch_mixes_labelled_examples_and_an_epoch_sees_each_unlabelled_once():
    images, labels = digits()
    images[:, 0, 0] = np.arange(100)  # an id per example
    dataset = data.from_array(images, labels, batch_size=8, cache=False)
    assert int(dataset.cardinality()) == 15  # 90 unlabelled, 6 per batch
    seen = []
    for _ in range(2):
        ids_of_epoch = []
        for x, y in dataset:
            y = y.numpy()
            assert x.shape[0] == 8 and np.count_nonzero(y >= 0) == 2  # a quarter of 8
            ids = np.round(x.numpy()[:, 0, 0, 0] * 255).astype(int)
            np.testing.assert_array_equal(np.where(ids < 10, ids % 5, -1), y)  # labels follow
            ids_of_epoch += ids[y < 0].tolist()
        assert sorted(ids_of_epoch) == list(range(10, 100))
        seen.append(ids_of_epoch)
    assert seen[0] != seen[1]  # reshuffled every epoch


def test_the_labelled_share_can_be_chosen_and_is_never_below_their_share():
    images, labels = digits(labelled=60)
    x, y = next(iter(data.from_array(images, labels, batch_size=10)))
    assert np.count_nonzero(y.numpy() >= 0) == 6  # their share of the data: 60%
    x, y = next(iter(data.from_array(images, labels, batch_size=10, labelled_fraction=0.8)))
    assert np.count_nonzero(y.numpy() >= 0) == 8


def test_held_out_and_fully_labelled_data_keep_their_order():
    images, labels = digits()
    batches = list(data.from_array(images, labels, batch_size=30, shuffle=False))
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), labels)
    all_unlabelled = data.from_array(images, np.full(100, -1), batch_size=50, shuffle=False)
    assert int(all_unlabelled.cardinality()) == 2  # held-out data need no label


def test_labelled_images_are_shifted_and_unlabelled_ones_are_not():
    images = np.zeros((40, 9, 9), np.uint8)
    images[:, 4, 4] = 255
    labels = np.full(40, -1)
    labels[:8] = 1
    corners = set()
    for x, y in data.from_array(images, labels, batch_size=8, labelled_shift=2).take(20):
        for image, label in zip(x.numpy()[..., 0], y.numpy()):
            position = tuple(np.argwhere(image > 0)[0])
            if label < 0:
                assert position == (4, 4)
            else:
                assert max(abs(position[0] - 4), abs(position[1] - 4)) <= 2
                corners.add(position)
    assert len(corners) > 5


@pytest.mark.parametrize("fully_labelled", [False, True])
def test_labelled_images_are_turned_and_scaled_anew_each_time_and_unlabelled_ones_are_not(
    fully_labelled,
):
    images = np.zeros((40, 15, 15), np.uint8)
    images[:, 3:12, 7] = 255  # an upright bar
    labels = np.full(40, 1) if fully_labelled else np.r_[np.full(8, 1), np.full(32, -1)]
    dataset = data.from_array(images, labels, batch_size=8, labelled_rotation=40, labelled_zoom=0.3)
    labelled = []
    for x, y in dataset.take(10):
        x, y = x.numpy()[..., 0], y.numpy()
        assert x.min() >= 0 and x.max() <= 1
        for image in x[y < 0]:
            np.testing.assert_array_equal(image, images[0] / 255)
        labelled += list(x[y >= 0])
    labelled = np.array(labelled)
    columns = (labelled > 0.5).any(axis=1).sum(axis=1)  # 1 for the upright bar
    rows = (labelled > 0.5).any(axis=2).sum(axis=1)  # 9 for the bar at its size
    assert np.mean(columns > 1) > 0.5  # most are turned ...
    assert len(set(rows.tolist())) > 3  # ... by different angles and scales
    # Anew for every draw: no two batches (even those built in parallel) share transforms.
    assert len(np.unique(labelled.reshape(len(labelled), -1), axis=0)) == len(labelled)
    with pytest.raises(ValueError, match=r"labelled_zoom.*unless labelled images"):
        data.from_array(np.zeros((10, 4), np.float32), np.zeros(10, int), labelled_zoom=0.1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(labels=np.full(100, -1)), r"at least one labelled.*all -1"),
        (dict(labels=np.zeros(100, np.float32)), r"labels\.dtype.*float32"),
        (dict(labels=np.zeros(99, int)), r"100 labels.*Received: labels=99 labels"),
        (dict(labels=np.full(100, -3)), r"labels >= -1.*e\.g\. -3"),
        (dict(labelled_fraction=0.5), r"labelled_fraction.*None without labels"),
        (dict(labels=np.zeros(100, int), labelled_fraction=1.0), r"share in \(0, 1\)"),
        (dict(labels=np.zeros(100, int), labelled_shift=-1), "labelled_shift"),
        (dict(labelled_shift=2), r"labelled_shift.*unless labelled images"),
        (dict(labels=np.zeros(100, int), labelled_rotation=-5), "labelled_rotation"),
        (dict(labels=np.zeros(100, int), labelled_rotation=200), r"\[0, 180\] degrees"),
        (dict(labels=np.zeros(100, int), labelled_zoom=1.0), r"labelled_zoom.*\[0, 1\)"),
        (dict(labelled_rotation=10), r"labelled_rotation.*unless labelled images"),
    ],
)
def test_bad_labels_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.from_array(digits()[0], **kwargs)


def test_npz_labels(tmp_path):
    images, labels = digits()
    np.savez(tmp_path / "d.npz", images=images, labels=labels.astype(np.int16))
    x, y = next(iter(data.from_npz(tmp_path / "d.npz", labels_key="labels", batch_size=8)))
    assert x.shape == (8, 8, 8, 1) and y.dtype == tf.int32
    np.testing.assert_array_equal(data.read_labels(tmp_path / "d.npz"), labels)
    with pytest.raises(ValueError, match=r"argument labels_key.*\['images', 'labels'\].*'nope'"):
        data.from_npz(tmp_path / "d.npz", labels_key="nope")
    np.savez(tmp_path / "f.npz", images=images, labels=labels.astype(np.float32))
    with pytest.raises(ValueError, match=r"argument labels\.dtype.*float32"):
        data.read_labels(tmp_path / "f.npz")


def test_tfds_and_shapes_labels(monkeypatch):
    monkeypatch.setattr(tfds_loading, "_can_download", lambda timeout=3.0: True)
    with tfds.testing.mock_data(num_examples=12):
        x, y = next(iter(data.load("mnist", batch_size=12, with_labels=True, shuffle=False)))
    assert x.shape == (12, 28, 28, 1) and y.dtype == tf.int32 and 0 <= y.numpy().min()
    x, y = next(
        iter(data.load("shapes", batch_size=50, with_labels=True, num_examples=50, shuffle=False))
    )
    assert set(y.numpy()) == set(range(len(data.shapes.SHAPE_NAMES)))


def _unseen(augmented, originals):
    """The share of `augmented` images that match none of `originals`."""
    flat = originals.reshape(len(originals), -1)
    return np.mean([np.abs(flat - a.reshape(-1)).max(axis=1).min() > 1e-4 for a in augmented])


def test_named_datasets_augment_their_labelled_training_images(monkeypatch):
    monkeypatch.setattr(tfds_loading, "_can_download", lambda timeout=3.0: True)
    with tfds.testing.mock_data(num_examples=12):
        raw, _ = next(iter(data.load("mnist", batch_size=12, with_labels=True, shuffle=False)))
        turned, labels = next(
            iter(
                data.load(
                    "mnist", batch_size=12, with_labels=True, labelled_rotation=30, labelled_shift=2
                )
            )
        )
        held_out, _ = next(
            iter(
                data.load(
                    "mnist", batch_size=12, with_labels=True, shuffle=False, labelled_rotation=30
                )
            )
        )
    assert turned.shape == raw.shape and labels.shape == (12,)
    assert _unseen(turned.numpy(), raw.numpy()) > 0.5
    np.testing.assert_array_equal(held_out, raw)  # held-out data (no shuffling): as they are
    shapes = dict(batch_size=40, with_labels=True, num_examples=40)
    raw, _ = next(iter(data.load("shapes", shuffle=False, **shapes)))
    zoomed, _ = next(iter(data.load("shapes", labelled_zoom=0.3, **shapes)))
    assert _unseen(zoomed.numpy(), raw.numpy()) > 0.5
    with pytest.raises(ValueError, match=r"labelled_zoom.*unless with_labels=True"):
        data.load("shapes", labelled_zoom=0.1)


def test_train_on_a_named_dataset_with_labels_augments_as_configured(tmp_path, capsys):
    from keras_vae.training import config as config_module
    from keras_vae.training import run as run_module

    settings = dict(dataset="shapes", with_labels=True, num_examples=40, batch_size=40)
    config = config_module.config_for(tmp_path / "a", labelled_zoom=0.3, **settings)
    train, _, _, num_classes = run_module._datasets(config)
    raw, _ = next(
        iter(
            data.load(
                "shapes", shuffle=False, **{k: v for k, v in settings.items() if k != "dataset"}
            )
        )
    )
    assert num_classes == len(data.shapes.SHAPE_NAMES)
    assert _unseen(next(iter(train))[0].numpy(), raw.numpy()) > 0.5
    run = tmp_path / "run"
    args = [
        "train",
        "--dataset",
        "shapes",
        "--with-labels",
        "--num-examples",
        "64",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--latent-dim",
        "2",
        "--encoder-filters",
        "4",
        "--dense-units",
        "8",
        "--labelled-rotation",
        "20",
        "--labelled-zoom",
        "0.1",
        "--verbose",
        "0",
        "--export-dir",
        "",
        "--no-images",
        "--out",
        str(run),
    ]
    assert cli.main(args) == 0
    config = json.loads((run / "config.json").read_text())
    assert (config["labelled_rotation"], config["labelled_zoom"]) == (20.0, 0.1)


def test_train_with_labels_key_trains_a_conditional_vae(tmp_path, capsys):
    images, labels = digits(200, labelled=40)
    images = np.kron(images, np.ones((1, 2, 2), np.uint8))  # 16x16
    np.savez(tmp_path / "d.npz", images=images, labels=labels)
    run = tmp_path / "run"
    args = [
        "train",
        "--data",
        str(tmp_path / "d.npz"),
        "--labels-key",
        "labels",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--latent-dim",
        "2",
        "--encoder-filters",
        "4",
        "--dense-units",
        "8",
        "--alpha",
        "2",
        "--labelled-shift",
        "1",
        "--verbose",
        "0",
        "--export-dir",
        "",
        "--no-images",
        "--out",
        str(run),
    ]
    assert cli.main(args) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["labels_key"] == "labels" and config["data_classes"] == 5
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"loss", "classifier_loss", "accuracy"} <= set(metrics)
    import keras

    model = keras.models.load_model(run / "model.keras", safe_mode=True)
    assert (
        type(model).__name__ == "ConditionalVAE" and model.num_classes == 5 and model.alpha == 2.0
    )


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--labels-key", "nope"], r"argument labels_key.*Received: labels_key='nope'"),
        (
            ["--preset", "mnist_semi_supervised"],
            r"argument labels_key.*preset 'mnist_semi_supervised' trains a ConditionalVAE",
        ),
        (["--alpha", "2"], r"argument labels_key.*for alpha"),
        (
            ["--labels-key", "labels", "--num-classes", "3"],
            r"num_classes.*at least 5.*num_classes=3",
        ),
    ],
)
def test_train_refuses_bad_label_settings_before_writing(tmp_path, capsys, extra, message):
    images, labels = digits(20)
    np.savez(tmp_path / "d.npz", images=images, labels=labels)
    run = tmp_path / "run"
    assert cli.main(["train", "--data", str(tmp_path / "d.npz"), *extra, "--out", str(run)]) != 0
    assert __import__("re").search(message, capsys.readouterr().err)
    assert not run.exists()


def test_the_semi_supervised_preset_trains_from_the_command_line(tmp_path, capsys):
    images, labels = digits(96, labelled=20)
    labels[:20] = np.arange(20) % 10
    labels[-9:] = np.arange(9)  # the held-out tenth has labels too
    np.savez(
        tmp_path / "d.npz",
        images=np.kron(images, np.ones((1, 4, 4), np.uint8))[:, 2:30, 2:30],
        labels=labels,
    )
    run = tmp_path / "run"
    args = [
        "train",
        "--preset",
        "mnist_semi_supervised",
        "--data",
        str(tmp_path / "d.npz"),
        "--labels-key",
        "labels",
        "--epochs",
        "1",
        "--verbose",
        "0",
        "--export-dir",
        "",
        "--no-images",
        "--out",
        str(run),
    ]
    assert cli.main(args) == 0
    config = json.loads((run / "config.json").read_text())
    assert (config["num_classes"], config["alpha"], config["labelled_shift"]) == (10, 20.0, 2)
    assert (config["labelled_rotation"], config["labelled_zoom"]) == (15.0, 0.1)
    assert "classifier accuracy" in capsys.readouterr().out


def test_from_array_checks_the_range_of_labels_it_is_told():
    x = np.zeros((6, 4), np.float32)
    labels = np.array([0, 1, 10, -1, 2, 3])
    data.from_array(x, labels)  # without num_classes: only >= -1
    with pytest.raises(
        ValueError, match=r"argument labels\. Expected class labels in \[-1, 10\).*e\.g\. 10"
    ):
        data.from_array(x, labels, num_classes=10)
