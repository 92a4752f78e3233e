"""keras_vae.visualization.plotting: image grids and figures."""

import io
import statistics

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

import keras_vae
from keras_vae.visualization import latent, plotting


class RecordingModel:
    """Stands in for a VAE: encodes an image to its mean pixel per latent dim and decodes
    z to an image whose pixels are sigmoid(z[0]); records every z it decodes."""

    num_classes = None

    def __init__(self, latent_dim=2, image_shape=(4, 4, 1)):
        self.latent_dim, self.image_shape, self.decoded = latent_dim, image_shape, []

    def encode(self, images, *, labels=None):
        mean = np.asarray(images).mean(axis=(1, 2, 3))[:, None]
        return np.repeat(mean, self.latent_dim, axis=1), np.zeros((len(images), self.latent_dim))

    def decode(self, z, *, labels=None):
        z = np.asarray(z)
        self.decoded.append(z)
        return np.broadcast_to(1 / (1 + np.exp(-z[:, :1, None, None])), (len(z), *self.image_shape))


@pytest.fixture(scope="module")
def model():
    return keras_vae.VAE.from_shape((28, 28, 1), 3, seed=0)


def test_image_grid_tiles_with_padding():
    images = np.stack([np.full((2, 3, 1), v) for v in (0.0, 0.5, 1.0)])
    grid = plotting.image_grid(images, columns=2)
    assert grid.shape == (5, 7, 1) and grid.dtype == np.uint8
    assert grid[0, 0, 0] == 0 and grid[0, 4, 0] == 128 and grid[3, 0, 0] == 255
    assert not grid[2].any() and not grid[:, 3].any()  # padding rows/columns are black


def test_save_png_round_trips_grey_and_colour(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4, 1)
    colour = np.arange(36, dtype=np.uint8).reshape(3, 4, 3)
    for image, mode in ((grey, "L"), (colour, "RGB")):
        path = tmp_path / f"{mode}.png"
        plotting.save_png(image, path)
        with Image.open(path) as loaded:
            assert loaded.mode == mode and loaded.size == (4, 3)
            np.testing.assert_array_equal(np.asarray(loaded).reshape(image.shape), image)
    fast = plotting.encode_png(colour, compress_level=1)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(fast))), colour)


def test_encode_png_wants_uint8():
    with pytest.raises(ValueError, match="Expected a uint8 array"):
        plotting.encode_png(np.zeros((3, 4, 1), np.float32))


def test_reconstruction_rows_alternate_with_originals(model):
    images = np.random.default_rng(0).uniform(size=(5, 28, 28, 1)).astype(np.float32)
    grid = plotting.reconstruction_grid(model, images, columns=3)
    assert grid.shape == (4 * 29 - 1, 3 * 29 - 1, 1)
    original = np.round(images * 255).astype(np.uint8)
    recon = np.round(np.asarray(model.reconstruct(images)) * 255).astype(np.uint8)
    np.testing.assert_array_equal(grid[:28, :28], original[0])
    np.testing.assert_array_equal(grid[29:57, 29:57], recon[1])
    np.testing.assert_array_equal(grid[58:86, :28], original[3])
    assert not grid[58:, 58:].any()  # the short last row is padded with black


def test_manifold_decodes_the_inverse_cdf_grid():
    stub = RecordingModel(latent_dim=3)
    grid = plotting.manifold(stub, grid=5, dims=(2, 0))
    assert grid.shape == (20, 20, 1)
    z = np.concatenate(stub.decoded).reshape(5, 5, 3)
    expected = [statistics.NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, 5)]
    np.testing.assert_allclose(z[0, :, 2], expected, rtol=1e-6)
    np.testing.assert_allclose(z[:, 0, 0], expected[::-1], rtol=1e-6)
    # dims[1] = 0 drives the stub's pixels: bright at the top, dark at the bottom.
    assert grid[0, 0, 0] > 200 > 50 > grid[-1, 0, 0]


def test_grids_have_one_row_per_path_dim_or_query(model):
    images = np.random.default_rng(1).uniform(size=(6, 28, 28, 1)).astype(np.float32)
    tile = lambda rows, columns: (rows * 29 - 1, columns * 29 - 1, 1)  # noqa: E731
    assert plotting.interpolation_grid(model, images[0], images[1], steps=4).shape == tile(1, 4)
    both = plotting.interpolation_grid(model, images[:2], images[2:4], steps=5, spherical=True)
    assert both.shape == tile(4, 5)
    assert plotting.traversal_grid(model, images[0], steps=7).shape == tile(3, 7)
    assert plotting.traversal_grid(model, images[0], dims=[1], steps=3).shape == tile(1, 3)
    assert plotting.attribute_grid(model, images[:2], np.ones(3), [0, 1, 2]).shape == tile(2, 3)
    neighbours = plotting.neighbors_grid(model, images[:2], images, k=2)
    assert neighbours.shape == tile(2, 3)
    np.testing.assert_array_equal(neighbours[:28, :28], np.round(images[0] * 255))
    np.testing.assert_array_equal(neighbours[:28, 29:57], np.round(images[0] * 255))  # itself
    assert plotting.decoded_grid(model, np.zeros((6, 3)), columns=3).shape == tile(2, 3)


def test_show_draws_grey_images_upright_and_not_inverted():
    image = np.zeros((20, 30, 1), np.uint8)
    image[:10] = 255  # white top half
    figure = plotting.show(image, scale=2)
    assert isinstance(figure, Figure)
    pixels = plotting.figure_to_array(figure)
    assert pixels.shape == (40, 60, 3)
    assert pixels[5, 30].min() > 240 and pixels[35, 30].max() < 15
    titled = plotting.figure_to_array(plotting.show(np.zeros((20, 30, 3), np.uint8), title="t"))
    assert titled.shape[0] > 40


@pytest.mark.parametrize(
    "labels", [None, np.arange(200) % 4, np.linspace(0, 1, 200), np.arange(200) % 25]
)
def test_latent_scatter_draws_labels_classes_or_values(model, labels):
    images = np.random.default_rng(2).uniform(size=(200, 28, 28, 1)).astype(np.float32)
    names = ["a", "b", "c", "d"] if labels is not None and labels.max() == 3 else None
    figure = plotting.latent_scatter(model, images, labels, label_names=names, size=3)
    axes = figure.axes[0]
    assert "PCA of 3 dims" in axes.get_title()
    if names:
        assert [t.get_text() for t in axes.get_legend().get_texts()] == names
    pixels = plotting.figure_to_array(figure)
    assert pixels.shape == (300, 300, 3) and pixels.std() > 10


def test_latent_scatter_of_a_2d_latent_uses_the_latent_axes():
    stub = RecordingModel(latent_dim=2)
    figure = plotting.latent_scatter(stub, np.random.default_rng(3).uniform(size=(10, 4, 4, 1)))
    assert figure.axes[0].get_xlabel() == "z[0]"
    with pytest.raises(ValueError, match="one label per image"):
        plotting.latent_scatter(stub, np.zeros((10, 4, 4, 1)), labels=np.arange(3))


@pytest.fixture(scope="module")
def conditional():
    """An untrained tiny ConditionalVAE (3 classes, latent_dim=2, 8x8 images)."""
    architecture = dict(encoder_filters=(4,), dense_units=8)
    return keras_vae.ConditionalVAE.from_shape(
        (8, 8, 1), 2, num_classes=3, architecture=architecture, seed=0
    )


def _pixels(images):
    return np.round(np.clip(np.asarray(images), 0, 1) * 255).astype(np.uint8)


def _tile(grid, row, column, size=8):
    top, left = row * (size + 1), column * (size + 1)
    return grid[top : top + size, left : left + size]


def test_class_grid_has_one_row_per_class_and_one_z_per_column(conditional):
    grid = plotting.class_grid(conditional, styles=4, seed=3)
    assert grid.shape == (3 * 9 - 1, 4 * 9 - 1, 1) and grid.dtype == np.uint8
    for label in range(3):
        expected = _pixels(conditional.sample(4, labels=label, seed=3))  # the columns' z's
        for column in range(4):
            np.testing.assert_array_equal(_tile(grid, label, column), expected[column])
    assert not np.array_equal(_tile(grid, 0, 0), _tile(grid, 1, 0))  # the class changes the image
    assert not np.array_equal(_tile(grid, 0, 0), _tile(grid, 0, 1))  # and so does z
    np.testing.assert_array_equal(grid, plotting.class_grid(conditional, styles=4, seed=3))


def test_analogy_grid_starts_each_row_with_its_input_then_every_class(conditional):
    images = np.random.default_rng(4).uniform(size=(2, 8, 8, 1)).astype(np.float32)
    labels = np.array([2, 0])
    grid = plotting.analogy_grid(conditional, images, labels)
    assert grid.shape == (2 * 9 - 1, 4 * 9 - 1, 1)
    for row in range(2):
        np.testing.assert_array_equal(_tile(grid, row, 0), _pixels(images[row]))
        z = np.asarray(
            conditional.encode(images[row : row + 1], labels=labels[row])[0]
        )  # q(z|x, y)
        for label in range(3):
            expected = _pixels(conditional.decode(z, labels=label))[0]
            np.testing.assert_array_equal(_tile(grid, row, 1 + label), expected)
    guesses = np.argmax(conditional.classify(images), axis=-1)  # no labels: the classifier's
    np.testing.assert_array_equal(
        plotting.analogy_grid(conditional, images),
        plotting.analogy_grid(conditional, images, guesses),
    )


def test_conditional_reconstructions_use_the_classifiers_guess(conditional):
    images = np.random.default_rng(5).uniform(size=(3, 8, 8, 1)).astype(np.float32)
    grid = plotting.reconstruction_grid(conditional, images, columns=3)
    np.testing.assert_array_equal(grid[9:17, :8], _pixels(conditional.reconstruct(images))[0])


@pytest.mark.parametrize(
    "draw, message",
    [
        (
            lambda m, v, x: plotting.class_grid(v),
            r"model.*a model with classes.*Received: model=a VAE without classes",
        ),
        (lambda m, v, x: plotting.analogy_grid(v, x), r"model.*a model with classes"),
        (lambda m, v, x: plotting.class_grid(m, styles=0), "argument styles"),
        (lambda m, v, x: plotting.analogy_grid(m, x, labels=[0, 3]), r"labels.*\[0, 3\)"),
        (lambda m, v, x: plotting.analogy_grid(m, x, labels=[0, -1]), r"labels.*\[0, 3\)"),
        (lambda m, v, x: plotting.analogy_grid(m, x, labels=[0]), "2 labels, one per example"),
        (lambda m, v, x: plotting.analogy_grid(m, x[0]), "argument images"),
        (lambda m, v, x: latent.decode(m, np.zeros((2, 2))), r"labels.*classes to decode with"),
        (lambda m, v, x: latent.decode(m, np.zeros((2, 2)), [0, 1, 2]), r"labels.shape"),
        (lambda m, v, x: latent.encode_mean(v, x, labels=[0, 1]), r"labels.*without classes"),
    ],
)
def test_class_pictures_refuse_plain_models_and_bad_arguments(conditional, draw, message):
    plain = keras_vae.VAE.from_shape(
        (8, 8, 1), 2, architecture=dict(encoder_filters=(4,), dense_units=8)
    )
    with pytest.raises(ValueError, match=message):
        draw(conditional, plain, np.zeros((2, 8, 8, 1), np.float32))
