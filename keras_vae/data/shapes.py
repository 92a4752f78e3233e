"""The built-in "shapes" dataset: procedurally drawn shapes, like dSprites.

Each image shows one white shape on black, drawn from a signed distance
function with a one-pixel anti-aliased edge. The latent factors (shape,
scale, rotation and position) are drawn uniformly and returned with the
images, so disentanglement can be measured against them.
"""

import numpy as np

from keras_vae import validation

SHAPE_NAMES = ("square", "ellipse", "triangle", "heart")
#: The generating factors, in the columns' order of `factor_array`.
FACTOR_NAMES = ("shape", "scale", "rotation", "x", "y")

# `scale` is the diameter of the circle enclosing the shape, as a fraction of
# the image side; every position keeps that circle inside the image.
SCALE_RANGE = (0.4, 0.85)

# Pixels computed per chunk (images x height x width), to bound memory.
_CHUNK_PIXELS = 1 << 16

_SQRT3 = np.sqrt(3.0)
# The heart of `_heart` spans a circle of this radius centred at (0, r).
_HEART_RADIUS = 0.5 / (1.5 - np.sqrt(0.5))


def generate(num_examples, image_size=28, seed=0):
    """Draws random shapes with their generating factors.

    The first `k` examples do not depend on `num_examples`, so a smaller
    dataset is a prefix of a larger one with the same seed.

    Args:
        num_examples: Number of images, an int >= 1.
        image_size: Side of the square images in pixels, an int >= 8.
        seed: Non-negative int; the same seed gives the same images.

    Returns:
        A tuple `(images, factors)`: `images` is a float32 array of shape
        `(num_examples, image_size, image_size, 1)` in [0, 1]; `factors` is a
        dict of arrays of length `num_examples`: `shape` (int index into
        `SHAPE_NAMES`), `scale`, `rotation` (radians) and `x`, `y` (centre
        column and row in [0, 1] image coordinates, `y` pointing down).

    Examples:

        >>> images, factors = generate(16, image_size=28, seed=1)
        >>> images.shape
        (16, 28, 28, 1)
    """
    validation.check_int("num_examples", num_examples, minimum=1)
    validation.check_int("image_size", image_size, minimum=8)
    validation.check_int("seed", seed, minimum=0)
    factors = _draw_factors(num_examples, image_size, seed)
    images = np.empty((num_examples, image_size, image_size, 1), np.float32)
    chunk = max(1, _CHUNK_PIXELS // image_size**2)
    for index, sdf in enumerate(_SDFS):
        chosen = np.flatnonzero(factors["shape"] == index)
        for start in range(0, len(chosen), chunk):
            rows = chosen[start : start + chunk]
            part = {k: v[rows] for k, v in factors.items()}
            images[rows, ..., 0] = _render(sdf, part, image_size)
    return images, factors


def factor_array(factors):
    """`generate`'s factors as one float32 array (N, 5), columns in `FACTOR_NAMES`' order:
    what the disentanglement metrics (`keras_vae.evaluate.mig`, ...) take.

    Rotation is drawn over a full turn, but a square looks the same every quarter turn and
    an ellipse every half: no encoder can recover it from the images alone, so its scores
    stay low for any model.

    Examples:

        >>> images, factors = generate(4, seed=1)
        >>> factor_array(factors).shape
        (4, 5)
    """
    missing = [name for name in FACTOR_NAMES if name not in factors]
    if missing:
        raise validation.invalid(
            "factors",
            f"a dict with the keys {list(FACTOR_NAMES)}",
            validation.Described(f"a dict without {missing}"),
        )
    return np.stack([np.asarray(factors[name], np.float32) for name in FACTOR_NAMES], axis=1)


def _draw_factors(num_examples, image_size, seed):
    # One (N, 5) draw keeps each row independent of N (prefix stability).
    u = np.random.default_rng(seed).random((num_examples, 5))
    scale = SCALE_RANGE[0] + (SCALE_RANGE[1] - SCALE_RANGE[0]) * u[:, 1]
    # One pixel more for the soft edge; tiny images just centre the shape.
    margin = np.minimum(scale / 2 + 1 / image_size, 0.5)
    return {
        "shape": (u[:, 0] * len(SHAPE_NAMES)).astype(np.int64),
        "scale": scale.astype(np.float32),
        "rotation": (2 * np.pi * u[:, 2]).astype(np.float32),
        "x": (margin + (1 - 2 * margin) * u[:, 3]).astype(np.float32),
        "y": (margin + (1 - 2 * margin) * u[:, 4]).astype(np.float32),
    }


def _render(sdf, factors, image_size):
    """Returns (n, size, size) coverage in [0, 1] of one kind of shape."""
    grid = (np.arange(image_size, dtype=np.float32) + 0.5) / image_size
    scale = factors["scale"][:, None, None]
    dx = (grid[None, None, :] - factors["x"][:, None, None]) / scale
    dy = (grid[None, :, None] - factors["y"][:, None, None]) / scale
    cos = np.cos(factors["rotation"])[:, None, None]
    sin = np.sin(factors["rotation"])[:, None, None]
    # Shape-local coordinates: unit enclosing circle diameter, y pointing up.
    distance = sdf(cos * dx + sin * dy, sin * dx - cos * dy)
    # Signed distance in pixels -> coverage with a one-pixel linear ramp.
    return np.clip(0.5 - distance * (scale * image_size), 0.0, 1.0)


def _length(x, y):
    return np.sqrt(x * x + y * y)


def _square(x, y):
    half_side = 0.5 / np.sqrt(2.0)
    qx, qy = np.abs(x) - half_side, np.abs(y) - half_side
    outside = _length(np.maximum(qx, 0), np.maximum(qy, 0))
    return outside + np.minimum(np.maximum(qx, qy), 0)


def _ellipse(x, y, axes=(0.5, 0.3)):
    # First-order distance estimate, accurate near the edge where it matters.
    k0 = _length(x / axes[0], y / axes[1])
    k1 = _length(x / axes[0] ** 2, y / axes[1] ** 2)
    return k0 * (k0 - 1) / np.maximum(k1, 1e-6)


def _triangle(x, y):
    # Equilateral triangle with circumradius 0.5, apex up (after I. Quilez).
    half_side = 0.25 * _SQRT3
    x = np.abs(x) - half_side
    y = y + half_side / _SQRT3
    fold = x + _SQRT3 * y > 0
    x, y = (
        np.where(fold, (x - _SQRT3 * y) / 2, x),
        np.where(fold, (-_SQRT3 * x - y) / 2, y),
    )
    x = x - np.clip(x, -2 * half_side, 0)
    return -_length(x, y) * np.sign(y)


def _heart(x, y):
    # Exact heart distance (after I. Quilez), rescaled to a unit circle.
    zoom = _HEART_RADIUS / 0.5
    x, y = np.abs(x) * zoom, y * zoom + _HEART_RADIUS
    lobe = _length(x - 0.25, y - 0.75) - np.sqrt(2.0) / 4
    t = 0.5 * np.maximum(x + y, 0)
    body = np.sqrt(np.minimum(x * x + (y - 1) ** 2, (x - t) ** 2 + (y - t) ** 2)) * np.sign(x - y)
    return np.where(x + y > 1, lobe, body) / zoom


_SDFS = (_square, _ellipse, _triangle, _heart)
