"""keras_vae.visualization.latent: paths, grids, attribute vectors and neighbours in latent
space."""

import statistics

import keras
import numpy as np
import pytest

import keras_vae
from keras_vae.data import shapes
from keras_vae.visualization import latent


@pytest.fixture(scope="module")
def trained():
    """A VAE trained briefly on shapes, with the held-out images and their factors."""
    keras.utils.set_random_seed(0)
    images, factors = shapes.generate(4096, seed=11)
    model = keras_vae.VAE.from_shape((28, 28, 1), 8, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    model.fit(images[:3584], epochs=6, batch_size=128, verbose=0)
    held_out = {k: v[3584:] for k, v in factors.items()}
    return model, images[3584:], held_out


def test_straight_path_has_both_ends_and_even_steps():
    z_a, z_b = np.array([0.0, 2.0]), np.array([4.0, -2.0])
    path = latent.interpolate_latents(z_a, z_b, steps=5)
    np.testing.assert_allclose(path[0], z_a)
    np.testing.assert_allclose(path[-1], z_b)
    np.testing.assert_allclose(np.diff(path, axis=0), np.tile([[1.0, -1.0]], (4, 1)))


def test_spherical_path_keeps_the_norm_and_falls_back_to_the_line():
    z_a, z_b = np.array([3.0, 0.0, 0.0]), np.array([0.0, 3.0, 0.0])
    path = latent.interpolate_latents(z_a, z_b, steps=7, spherical=True)
    np.testing.assert_allclose(np.linalg.norm(path, axis=-1), 3.0, rtol=1e-6)
    np.testing.assert_allclose(path[[0, -1]], [z_a, z_b], atol=1e-6)
    same_direction = latent.interpolate_latents(z_a, 2 * z_a, steps=3, spherical=True)
    np.testing.assert_allclose(same_direction, [z_a, 1.5 * z_a, 2 * z_a], rtol=1e-6)


def test_paths_of_batches_have_a_steps_axis():
    path = latent.interpolate_latents(np.zeros((4, 6)), np.ones((4, 6)), steps=3, spherical=True)
    assert path.shape == (4, 3, 6)


def test_manifold_grid_is_the_inverse_normal_cdf_of_even_probabilities():
    z = latent.manifold_latents(latent_dim=5, grid=4, dims=(3, 1))
    expected = [statistics.NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, 4)]
    assert z.shape == (4, 4, 5)
    np.testing.assert_allclose(z[0, :, 3], expected, rtol=1e-6)  # left to right
    np.testing.assert_allclose(z[:, 0, 1], expected[::-1], rtol=1e-6)  # top row highest
    assert not z[..., [0, 2, 4]].any()  # the other dims stay at the prior's mean


def test_traversal_varies_one_dim_per_row():
    z = np.arange(4, dtype=np.float32)
    rows = latent.traversal_latents(z, dims=[2, 0], span=2.0, steps=5)
    assert rows.shape == (2, 5, 4)
    np.testing.assert_allclose(rows[0, :, 2], [-2, -1, 0, 1, 2])
    np.testing.assert_allclose(rows[0][:, [0, 1, 3]], np.tile(z[[0, 1, 3]], (5, 1)))
    np.testing.assert_allclose(rows[1, :, 0], [-2, -1, 0, 1, 2])


def test_pca_finds_the_plane_of_the_data():
    rng = np.random.default_rng(0)
    plane = rng.normal(size=(500, 2)) * [5.0, 2.0]
    basis = np.linalg.qr(rng.normal(size=(10, 10)))[0][:2]
    z = plane @ basis + 0.01 * rng.normal(size=(500, 10))
    points, explained = latent.project_2d(z)
    assert points.shape == (500, 2) and explained > 0.999
    np.testing.assert_allclose(np.abs(np.corrcoef(points[:, 0], plane[:, 0])[0, 1]), 1, atol=1e-3)
    small, explained_small = latent.project_2d(z[:, :2])
    np.testing.assert_array_equal(small, z[:, :2].astype(np.float32))
    assert explained_small == 1.0


def test_interpolation_ends_at_the_reconstructions(trained):
    model, images, _ = trained
    path = latent.interpolate(model, images[0], images[1], steps=6)
    assert path.shape == (6, 28, 28, 1)
    np.testing.assert_allclose(path[0], model.reconstruct(images[:1])[0], atol=1e-5)
    np.testing.assert_allclose(path[-1], model.reconstruct(images[1:2])[0], atol=1e-5)
    pairs = latent.interpolate(model, images[:3], images[3:6], steps=4, spherical=True)
    assert pairs.shape == (3, 4, 28, 28, 1)


def test_a_scale_vector_makes_decoded_shapes_bigger(trained):
    model, images, factors = trained
    scale = factors["scale"]
    bigger = latent.attribute_vector(model, images[scale > 0.75], images[scale < 0.5])
    assert bigger.shape == (8,)
    mid = images[(scale > 0.55) & (scale < 0.7)][:32]
    decoded = latent.apply_attribute(model, mid, bigger, strengths=[-1, 0, 1])
    assert decoded.shape == (len(mid), 3, 28, 28, 1)
    ink = decoded.sum(axis=(2, 3, 4))  # area of the decoded shape, per image and strength
    assert np.mean(ink[:, 2] > ink[:, 1]) > 0.9 and np.mean(ink[:, 0] < ink[:, 1]) > 0.9
    np.testing.assert_allclose(decoded[:, 1], model.reconstruct(mid), atol=1e-5)


def test_nearest_neighbours_share_factors(trained):
    model, images, factors = trained
    queries, pool = images[:64], images[64:]
    indices, distances = latent.nearest_neighbors(model, queries, pool, k=3)
    assert indices.shape == distances.shape == (64, 3)
    assert np.all(np.diff(distances, axis=1) >= 0)
    scale = factors["scale"]
    neighbour_gap = np.abs(scale[:64] - scale[64:][indices[:, 0]]).mean()
    random_gap = np.abs(scale[:64] - np.random.default_rng(0).permutation(scale[64:])[:64]).mean()
    assert neighbour_gap < 0.5 * random_gap
    itself, distance = latent.nearest_neighbors(model, images[5:6], images, k=1)
    assert itself[0, 0] == 5 and distance[0, 0] < 1e-3


def test_active_dims_are_the_most_varying(trained):
    model, images, _ = trained
    dims = latent.active_dims(model, images, count=2)
    variance = latent.encode_mean(model, images).var(axis=0)
    assert dims == tuple(sorted(np.argsort(-variance)[:2]))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m, x: latent.manifold_latents(4, dims=(0, 0)), "dims"),
        (lambda m, x: latent.manifold_latents(4, dims=(0, 4)), "dims"),
        (lambda m, x: latent.manifold_latents(4, grid=1), "grid"),
        (
            lambda m, x: latent.interpolate_latents(np.zeros(2), np.zeros(3)),
            r"z_b.shape.*z_a's shape",
        ),
        (lambda m, x: latent.interpolate(m, x[0], x[1], steps=1), "steps"),
        (lambda m, x: latent.nearest_neighbors(m, x[:1], x[:2], k=3), "k"),
        (lambda m, x: latent.apply_attribute(m, x[:1], np.zeros(3)), "vector"),
        (lambda m, x: latent.encode_mean(m, x[0]), "images"),
        (lambda m, x: latent.decode(m, np.zeros((2, 3))), "z"),
        (lambda m, x: latent.traversal_latents(np.zeros(4), [0], span=-1), "span"),
        (lambda m, x: latent.active_dims(m, x, count=9), "count"),
    ],
)
def test_bad_arguments_name_themselves(trained, call, message):
    model, images, _ = trained
    with pytest.raises(ValueError, match=message):
        call(model, images[:4])
