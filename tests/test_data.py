"""keras_vae.data: arrays, .npz files, folders, "shapes" and tfds, all offline."""

import threading
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from keras_vae import data
from keras_vae.data import tfds_loading

_PROBE = tfds_loading._can_download  # The real one, before `no_network` replaces it.


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Tests never probe the network; the ones that need the probe set its answer."""

    def probe(timeout=3.0):
        raise AssertionError("a test tried to reach the network")

    monkeypatch.setattr(tfds_loading, "_can_download", probe)


def batches(dataset):
    return [batch.numpy() for batch in dataset]


def concat(dataset):
    return np.concatenate(batches(dataset))


def grey_images(n=10, size=(6, 5), seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *size), dtype=np.uint8)


# --- from_array and the shared options -------------------------------------------------------


def test_uint8_rank3_gets_a_channel_axis_and_is_scaled():
    images = grey_images()
    dataset = data.from_array(images, batch_size=4, shuffle=False)
    assert dataset.element_spec == tf.TensorSpec((None, 6, 5, 1), tf.float32)
    np.testing.assert_allclose(concat(dataset)[..., 0], images / 255, atol=1e-6)


def test_float_and_rgb_arrays_pass_through():
    images = np.random.default_rng(0).uniform(size=(7, 4, 4, 3))  # float64
    out = concat(data.from_array(images, batch_size=3, shuffle=False))
    assert out.dtype == np.float32 and out.shape == (7, 4, 4, 3)
    np.testing.assert_allclose(out, images, atol=1e-6)


def test_batch_sizes_and_drop_remainder():
    images = grey_images(10)
    sizes = [len(b) for b in batches(data.from_array(images, batch_size=4))]
    assert sizes == [4, 4, 2]
    dataset = data.from_array(images, batch_size=4, drop_remainder=True)
    assert dataset.element_spec.shape == (4, 6, 5, 1)
    assert [len(b) for b in batches(dataset)] == [4, 4]


def order(dataset):
    """The index of every image of `distinct_images`, in the order it comes."""
    return np.rint(concat(dataset)[:, 0, 0, 0] * 255).astype(int).tolist()


def distinct_images(n=64):
    return np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None], (n, 3, 3))


def test_every_pipeline_runs_without_tf_data_autotuning(tmp_path):
    # Autotuning's background thread halved the step's speed in many epochs on 2 cores.
    labels = np.array([0, 1, -1, 1, -1, 0, 1, -1, 0, 1])
    np.savez(tmp_path / "digits.npz", images=grey_images())
    for dataset in (
        data.from_array(grey_images(), batch_size=4, binarize=True),
        data.from_array(grey_images(), labels, batch_size=4),  # mixed batches
        data.from_array(grey_images(), labels % 2, batch_size=4, labelled_shift=1),
        data.from_npz(tmp_path / "digits.npz", batch_size=4, image_size=4),
    ):
        assert dataset.options().autotune.enabled is False


def test_shuffling_is_seeded_and_changes_every_epoch():
    images = distinct_images()
    dataset = data.from_array(images, batch_size=16, seed=1)
    first, second = order(dataset), order(dataset)
    assert sorted(first) == list(range(64))
    assert first != second
    again = data.from_array(images, batch_size=16, seed=1)
    assert order(again) == first and order(again) == second
    assert order(data.from_array(images, batch_size=16, seed=2)) != first
    unshuffled = order(data.from_array(images, batch_size=16, shuffle=False))
    assert unshuffled == list(range(64))


def test_dynamic_binarization():
    images = np.full((256, 8, 8), 0.3, np.float32)
    dataset = data.from_array(images, batch_size=64, binarize=True, shuffle=False, seed=5)
    first, second = concat(dataset), concat(dataset)
    assert set(np.unique(first)) <= {0.0, 1.0}
    assert first.mean() == pytest.approx(0.3, abs=0.02)
    assert not np.array_equal(first, second)  # Redrawn every epoch ...
    again = data.from_array(images, batch_size=64, binarize="dynamic", shuffle=False, seed=5)
    np.testing.assert_array_equal(concat(again), first)  # ... repeatably for a seed.
    np.testing.assert_array_equal(concat(again), second)
    other = data.from_array(images, batch_size=64, binarize=True, shuffle=False, seed=6)
    assert not np.array_equal(concat(other), first)


def test_static_binarization_is_the_same_every_epoch():
    images = np.full((256, 8, 8), 0.3, np.float32)
    dataset = data.from_array(images, batch_size=64, binarize="static", shuffle=False, seed=5)
    first = concat(dataset)
    assert set(np.unique(first)) <= {0.0, 1.0}
    assert first.mean() == pytest.approx(0.3, abs=0.02)
    np.testing.assert_array_equal(concat(dataset), first)


def test_binarization_follows_the_grey_levels():
    images = np.repeat(np.linspace(0, 1, 11, dtype=np.float32)[:, None, None], 400, axis=1)
    images = np.broadcast_to(images[..., None], (11, 400, 20, 1))
    out = concat(data.from_array(images, batch_size=11, binarize=True, shuffle=False))
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), np.linspace(0, 1, 11), atol=0.02)


def test_binarization_with_shuffle_and_without_cache():
    images = np.full((32, 4, 4), 0.5, np.float32)
    dataset = data.from_array(images, batch_size=8, binarize=True, cache=False)
    assert not np.array_equal(concat(dataset), concat(dataset))


def test_resizing_to_an_int_or_a_pair():
    images = np.ones((3, 10, 10, 1), np.float32)
    square = data.from_array(images, image_size=5, shuffle=False)
    assert square.element_spec.shape == (None, 5, 5, 1)
    np.testing.assert_allclose(concat(square), 1.0, atol=1e-6)
    pair = data.from_array(images, image_size=(4, 8))
    assert concat(pair).shape == (3, 4, 8, 1)


def test_cache_on_disk(tmp_path):
    images = grey_images(5)
    dataset = data.from_array(images, shuffle=False, cache=str(tmp_path / "cache"))
    np.testing.assert_allclose(concat(dataset), concat(dataset))
    assert list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "images, match",
    [
        (np.zeros((0, 4, 4), np.uint8), "non-empty"),
        (np.zeros((4, 4), np.uint8), r"x\.shape.*\(4, 4\)"),
        (np.zeros((2, 4, 4, 2), np.uint8), r"C in \{1, 3\}"),
        (np.zeros((2, 4, 4), np.int64), "uint8"),
        (np.full((2, 4, 4), np.nan, np.float32), "32 NaN or inf"),
        (np.full((2, 4), np.inf), "NaN or inf"),
        (np.full((2, 4, 4, 1), 255.0), r"divide .* by 255.*\[255, 255\]"),
        (np.full((2, 4, 4, 1), -0.5), r"\[-0.5, -0.5\]"),
        (np.zeros((2, 3, 4, 4, 1), np.float32), r"vectors \(N, D\), sequences"),
    ],
)
def test_bad_arrays_are_rejected_early(images, match):
    with pytest.raises(ValueError, match=match):
        data.from_array(images)


@pytest.mark.parametrize(
    "options, name",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.0}, "batch_size"),
        ({"binarize": "always"}, "binarize"),
        ({"image_size": 0}, "image_size"),
        ({"image_size": 2.5}, "image_size"),
        ({"image_size": (4, 4, 4)}, "image_size"),
        ({"cache": 3}, "cache"),
        ({"seed": None}, "seed"),
    ],
)
def test_bad_options_name_themselves(options, name):
    with pytest.raises(ValueError, match=f"argument {name}.*Received: {name}="):
        data.from_array(grey_images(), **options)
    with pytest.raises(ValueError, match=f"argument {name}"):
        data.load("shapes", num_examples=4, **options)


# --- from_npz -----------------------------------------------------------------------------------


def test_from_npz(tmp_path):
    path = tmp_path / "images.npz"
    np.savez(path, digits=grey_images(6), labels=np.arange(6))
    dataset = data.from_npz(str(path), key="digits", batch_size=6, shuffle=False)
    np.testing.assert_allclose(concat(dataset)[..., 0], grey_images(6) / 255, atol=1e-6)
    np.save(tmp_path / "images.npy", grey_images(6))
    assert concat(data.from_npz(tmp_path / "images.npy")).shape == (6, 6, 5, 1)


def test_from_npz_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        data.from_npz(str(tmp_path / "missing.npz"))
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(ValueError, match="Could not read .*corrupt.npz"):
        data.from_npz(str(corrupt))
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="Could not read .*text.npz"):
        data.from_npz(str(text))
    good = tmp_path / "good.npz"
    np.savez(good, x=grey_images(2), y=np.arange(2))
    with pytest.raises(ValueError, match=r"argument key.*\['x', 'y'\].*key='images'"):
        data.from_npz(str(good))
    with pytest.raises(ValueError, match="argument batch_size"):
        data.from_npz(str(tmp_path / "missing.npz"), batch_size=0)  # Options first.


# --- from_directory -----------------------------------------------------------------------------


def write_images(folder, arrays, suffix=".png"):
    folder.mkdir(parents=True, exist_ok=True)
    for index, array in enumerate(arrays):
        Image.fromarray(array).save(folder / f"{index:03d}{suffix}")


def test_grey_directory_gives_one_channel_in_sorted_order(tmp_path):
    images = grey_images(5)
    write_images(tmp_path / "a", images[:3])
    write_images(tmp_path / "b" / "nested", images[3:], suffix=".bmp")
    (tmp_path / "notes.txt").write_text("not an image")
    dataset = data.from_directory(str(tmp_path), batch_size=8, shuffle=False)
    assert dataset.element_spec.shape == (None, 6, 5, 1)
    np.testing.assert_allclose(concat(dataset)[..., 0], images / 255, atol=1e-6)


def test_mixed_directory_gives_three_channels(tmp_path):
    rng = np.random.default_rng(1)
    write_images(tmp_path, grey_images(2))
    Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)).save(tmp_path / "c.jpg")
    Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)).save(tmp_path / "d.gif")
    out = concat(data.from_directory(tmp_path, shuffle=False))
    assert out.shape == (4, 6, 5, 3)
    np.testing.assert_allclose(
        out[0], np.repeat(grey_images(2)[0, ..., None] / 255, 3, -1), atol=1e-6
    )
    forced = concat(data.from_directory(tmp_path, channels=1, shuffle=False))
    assert forced.shape == (4, 6, 5, 1) and 0 <= forced.min() and forced.max() <= 1


def test_sizes_must_match_unless_resized(tmp_path):
    write_images(tmp_path, grey_images(2, size=(6, 5)))
    Image.fromarray(grey_images(1, size=(9, 9))[0]).save(tmp_path / "big.png")
    with pytest.raises(ValueError, match=r"image_size.*differ in size.*\(9, 9\)"):
        data.from_directory(tmp_path)
    out = concat(data.from_directory(tmp_path, image_size=(4, 3)))
    assert out.shape == (3, 4, 3, 1)


def test_unreadable_files_are_skipped_with_a_warning(tmp_path):
    write_images(tmp_path, grey_images(3))
    (tmp_path / "broken.png").write_bytes(b"definitely not a png")
    # A truncated file: its header reads fine, its pixels do not.
    (tmp_path / "truncated.png").write_bytes((tmp_path / "000.png").read_bytes()[:-20])
    with pytest.warns(UserWarning, match="Skipped 1 unreadable.*broken.png"):
        dataset = data.from_directory(tmp_path, batch_size=8)
    assert concat(dataset).shape == (3, 6, 5, 1)


def test_directory_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        data.from_directory(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No image files"):
        data.from_directory(tmp_path / "empty")
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.png").write_bytes(b"junk")
    (junk / "b.jpg").write_bytes(b"")
    (junk / "c.txt").write_text("text")
    with pytest.raises(ValueError, match="None of the 2 image files .* could be read"):
        data.from_directory(junk)
    with pytest.raises(ValueError, match="argument channels"):
        data.from_directory(junk, channels=2)


# --- load("shapes") -----------------------------------------------------------------------------


def test_shapes_splits_have_their_sizes_and_share_no_image():
    splits = {
        split: concat(data.load("shapes", split, batch_size=512, shuffle=False))
        for split in ("train", "validation", "test")
    }
    assert {k: len(v) for k, v in splits.items()} == data.SHAPES_SPLITS
    assert splits["train"].shape[1:] == (28, 28, 1) and splits["train"].dtype == np.float32
    fingerprints = {k: {image.tobytes() for image in v} for k, v in splits.items()}
    assert len(fingerprints["train"]) == len(splits["train"])
    assert not fingerprints["train"] & fingerprints["validation"]
    assert not fingerprints["train"] & fingerprints["test"]
    assert not fingerprints["validation"] & fingerprints["test"]


def test_shapes_options():
    small = data.load("shapes", "test", num_examples=10, image_size=64, shuffle=False)
    assert concat(small).shape == (10, 64, 64, 1)
    oblong = data.load("shapes", num_examples=3, image_size=(32, 16))
    assert concat(oblong).shape == (3, 32, 16, 1)
    binary = concat(data.load("shapes", num_examples=20, binarize=True))
    assert set(np.unique(binary)) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="argument split.*'train', 'validation', 'test'"):
        data.load("shapes", "train[:10%]")
    with pytest.raises(ValueError, match="argument num_examples"):
        data.load("shapes", num_examples=0)


# --- load(<tfds name>), offline -----------------------------------------------------------------


@pytest.fixture
def mocked_tfds(monkeypatch):
    """tfds with random data and a download step that does nothing."""
    monkeypatch.setattr(tfds_loading, "_can_download", lambda timeout=3.0: True)
    with tfds.testing.mock_data(num_examples=12):
        yield


@pytest.mark.parametrize("name, shape", [("mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))])
def test_tfds_images_only_as_floats_in_the_unit_interval(mocked_tfds, name, shape):
    dataset = data.load(name, "train", batch_size=5)
    assert dataset.element_spec == tf.TensorSpec((None, *shape), tf.float32)
    out = concat(dataset)
    assert out.shape == (12, *shape)
    assert 0 <= out.min() and out.max() <= 1 and out.max() > 0.9  # uint8 / 255


def test_tfds_options(mocked_tfds):
    dataset = data.load("fashion_mnist", "test[:50%]", num_examples=7, image_size=14, binarize=True)
    out = concat(dataset)
    assert out.shape == (7, 14, 14, 1)
    assert set(np.unique(out)) <= {0.0, 1.0}


def test_binarized_mnist_keeps_its_zero_one_pixels(monkeypatch):
    monkeypatch.setattr(tfds_loading, "_can_download", lambda timeout=3.0: True)
    with tfds.testing.mock_data(num_examples=4, max_value=2):  # Exclusive: pixels 0 or 1.
        out = concat(data.load("binarized_mnist", shuffle=False))
    assert set(np.unique(out)) == {0.0, 1.0}


def test_unknown_name_is_a_value_error_within_seconds():
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"argument name.*'shapes'.*tfds.*Received: name='mnits'"):
        data.load("mnits")
    assert time.perf_counter() - start < 10
    with pytest.raises(ValueError, match="did you mean.*'mnist'"):
        data.load("mnits")
    with pytest.raises(ValueError, match="argument name"):
        data.load(None)


def test_the_probe_answers_false_fast_when_the_host_is_unreachable(monkeypatch):
    def refuse(address, timeout):
        raise OSError("network is unreachable")

    released = threading.Event()

    def hang(address, timeout):
        released.wait(10)
        raise OSError("timed out")

    monkeypatch.setattr(tfds_loading.socket, "create_connection", refuse)
    assert _PROBE() is False
    monkeypatch.setattr(tfds_loading.socket, "create_connection", hang)
    start = time.perf_counter()
    assert _PROBE(timeout=0.2) is False
    assert time.perf_counter() - start < 2
    released.set()
    monkeypatch.setattr(
        tfds_loading.socket, "create_connection", lambda address, timeout: open(__file__)
    )
    assert _PROBE() is True


@pytest.mark.parametrize("download", [False, True])
def test_unprepared_dataset_fails_fast_with_a_way_out(tmp_path, monkeypatch, download):
    probes = []
    monkeypatch.setattr(
        tfds_loading, "_can_download", lambda timeout=3.0: probes.append(1) or False
    )
    start = time.perf_counter()
    with pytest.raises(data.DatasetUnavailableError) as raised:
        data.load("mnist", data_dir=str(tmp_path), download=download)
    assert time.perf_counter() - start < 10
    message = str(raised.value)
    assert "'mnist' is not prepared in " + str(tmp_path) in message
    assert "cannot be downloaded" in message
    assert "from_npz" in message and "from_directory" in message and "--data" in message
    assert ("download=False" in message) is (not download)
    assert probes == ([1] if download else [])
    assert isinstance(raised.value, FileNotFoundError)


def test_read_images_from_a_file_or_a_directory(tmp_path):
    np.savez(tmp_path / "images.npz", images=grey_images(4))
    from_file = data.read_images(str(tmp_path / "images.npz"), image_size=3)
    assert from_file.shape == (4, 3, 3, 1) and from_file.dtype == np.float32
    write_images(tmp_path / "pngs", grey_images(4))
    from_folder = data.read_images(tmp_path / "pngs")
    np.testing.assert_allclose(from_folder[..., 0], grey_images(4) / 255, atol=1e-6)
    with pytest.raises(FileNotFoundError):
        data.read_images(tmp_path / "nothing.npz")
