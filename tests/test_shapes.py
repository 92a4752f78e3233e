"""The built-in "shapes" dataset: procedurally drawn images and their factors."""

import time

import numpy as np
import pytest

from keras_vae.data import shapes


@pytest.fixture(scope="module")
def drawn():
    return shapes.generate(2000, seed=0)


def test_images_have_the_documented_shape_dtype_and_range(drawn):
    images, factors = drawn
    assert images.shape == (2000, 28, 28, 1)
    assert images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert set(factors) == {"shape", "scale", "rotation", "x", "y"}
    assert all(len(values) == 2000 for values in factors.values())


def test_edges_are_anti_aliased_but_mostly_black_or_white(drawn):
    images, _ = drawn
    grey = (images > 0) & (images < 1)
    assert 0.01 < grey.mean() < 0.15


def test_same_seed_same_images_other_seed_other_images():
    a, factors_a = shapes.generate(50, seed=3)
    b, factors_b = shapes.generate(50, seed=3)
    c, _ = shapes.generate(50, seed=4)
    np.testing.assert_array_equal(a, b)
    for name in factors_a:
        np.testing.assert_array_equal(factors_a[name], factors_b[name])
    assert not np.allclose(a, c)


def test_a_smaller_dataset_is_a_prefix_of_a_larger_one():
    small, _ = shapes.generate(10, seed=5)
    large, _ = shapes.generate(3000, seed=5)
    np.testing.assert_array_equal(small, large[:10])


def test_factors_are_in_their_ranges_and_every_shape_appears(drawn):
    _, factors = drawn
    counts = np.bincount(factors["shape"], minlength=len(shapes.SHAPE_NAMES))
    assert len(counts) == len(shapes.SHAPE_NAMES) == 4
    assert counts.min() > 400  # About 500 each.
    low, high = shapes.SCALE_RANGE
    assert low <= factors["scale"].min() and factors["scale"].max() <= high
    assert 0 <= factors["rotation"].min() and factors["rotation"].max() < 2 * np.pi
    for axis in ("x", "y"):
        assert np.all(factors[axis] - factors["scale"] / 2 >= 0)
        assert np.all(factors[axis] + factors["scale"] / 2 <= 1)


def test_shapes_stay_in_the_frame(drawn):
    images, _ = drawn
    border = np.concatenate(
        [images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], axis=1
    )
    assert border.max() < 0.5
    assert border.mean() < 1e-3


def test_bigger_scale_lights_more_pixels(drawn):
    images, factors = drawn
    lit = images.mean(axis=(1, 2, 3))
    for index in range(len(shapes.SHAPE_NAMES)):
        chosen = factors["shape"] == index
        assert np.corrcoef(factors["scale"][chosen], lit[chosen])[0, 1] > 0.95
    big = factors["scale"] > np.median(factors["scale"])
    assert lit[big].mean() > 1.5 * lit[~big].mean()


def test_each_shape_is_centred_on_its_position(drawn):
    images, factors = drawn
    grid = (np.arange(28) + 0.5) / 28
    mass = images[..., 0].sum(axis=(1, 2))
    x = (images[..., 0].sum(axis=1) * grid).sum(axis=1) / mass
    y = (images[..., 0].sum(axis=2) * grid).sum(axis=1) / mass
    symmetric = np.isin(factors["shape"], [0, 1])  # Square and ellipse: centroid = centre.
    np.testing.assert_allclose(x[symmetric], factors["x"][symmetric], atol=0.02)
    np.testing.assert_allclose(y[symmetric], factors["y"][symmetric], atol=0.02)
    # Triangles and hearts: centroid near the centre.
    np.testing.assert_allclose(x, factors["x"], atol=0.15)
    np.testing.assert_allclose(y, factors["y"], atol=0.15)


def test_the_shape_classes_look_different(drawn):
    images, factors = drawn
    # Fill ratio = lit area / (scale * size)^2 is a per-class constant (rotation aside).
    fill = images.sum(axis=(1, 2, 3)) / (factors["scale"] * 28) ** 2
    medians = [np.median(fill[factors["shape"] == i]) for i in range(4)]
    assert len({round(m, 2) for m in medians}) == 4
    # Square: side 1/sqrt(2) of the enclosing circle -> fill 0.5.
    assert medians[0] == pytest.approx(0.5, abs=0.03)


def test_other_image_sizes_work():
    images, _ = shapes.generate(8, image_size=64, seed=0)
    assert images.shape == (8, 64, 64, 1)
    assert images.max() == 1.0
    small, _ = shapes.generate(8, image_size=8, seed=0)
    assert small.shape == (8, 8, 8, 1) and small.max() > 0.5


def test_generation_is_fast():
    start = time.perf_counter()
    shapes.generate(10_000, seed=0)
    assert time.perf_counter() - start < 3.0  # About 0.15 s on one CPU; slack for CI.


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"num_examples": 0}, "num_examples"),
        ({"num_examples": 2.5}, "num_examples"),
        ({"num_examples": True}, "num_examples"),
        ({"image_size": 4}, "image_size"),
        ({"image_size": 28.0}, "image_size"),
        ({"seed": -1}, "seed"),
        ({"seed": "a"}, "seed"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, name):
    arguments = {"num_examples": 4, **kwargs}
    with pytest.raises(ValueError, match=f"argument {name}.*Received: {name}="):
        shapes.generate(**arguments)
