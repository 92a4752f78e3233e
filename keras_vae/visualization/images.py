"""Images as uint8 arrays (H, W, C): grids of a batch, PNG bytes, and matplotlib figures.

Figures are built without pyplot (`matplotlib.figure.Figure`), so no GUI backend or global
figure state is involved. `keras_vae.visualization.plotting` draws models with these.
"""

import numpy as np

from keras_vae import validation


def image_grid(images, columns=None, padding=1):
    """Tiles a batch of images (N, H, W, C) in [0, 1] into one uint8 image.

    Args:
        images: array of shape (N, H, W, C) with C in {1, 3}.
        columns: images per row (default: a near-square grid).
        padding: pixels of black between images.

    Returns:
        uint8 array (rows * (H + padding) - padding, columns * (W + padding) - padding, C).

    Examples:

        >>> image_grid(np.zeros([6, 28, 28, 1]), columns=3).shape
        (57, 86, 1)
    """
    images = validation.check_images("images", images)
    n, height, width, channels = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.zeros(
        (rows * (height + padding) - padding, columns * (width + padding) - padding, channels),
        np.uint8,
    )
    pixels = np.round(np.clip(images, 0.0, 1.0) * 255).astype(np.uint8)
    for i, image in enumerate(pixels):
        top, left = (i // columns) * (height + padding), (i % columns) * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid


def save_png(image, path, compress_level=6):
    """Writes a uint8 (H, W, 1 or 3) image as a PNG file (see `encode_png`)."""
    with open(path, "wb") as f:
        f.write(encode_png(image, compress_level))


def encode_png(image, compress_level=6):
    """Returns the PNG file contents of a uint8 image (H, W, 1 or 3) as bytes.

    Args:
        image: uint8 array (H, W, 1 or 3), e.g. from `image_grid`.
        compress_level: zlib level 0-9; 1 is about three times faster than 6 and makes
            files about 1.5 times larger.

    Examples:

        >>> encode_png(np.zeros((28, 28, 1), np.uint8))[:4]
        b'\\x89PNG'
    """
    import io

    from PIL import Image

    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] not in (1, 3):
        received = f"an array of dtype {image.dtype} and shape {image.shape}"
        raise validation.invalid("image", "a uint8 array (H, W, C) with C in {1, 3}", received)
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
        buffer, format="PNG", compress_level=compress_level
    )
    return buffer.getvalue()


def encode_gif(frames, seconds_per_frame=0.1, bounce=True):
    """Returns the contents of an animated GIF of uint8 frames (T, H, W, 1 or 3), looping.

    Args:
        frames: uint8 array (T, H, W, C) with T >= 1 and C in {1, 3}.
        seconds_per_frame: how long each frame shows, > 0.
        bounce: play forward then back (a sweep from -3 to 3 returns smoothly to -3).

    Examples:

        >>> encode_gif(np.zeros((3, 8, 8, 1), np.uint8))[:6]
        b'GIF89a'
    """
    import io

    from PIL import Image

    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] not in (1, 3):
        received = f"an array of dtype {frames.dtype} and shape {frames.shape}"
        raise validation.invalid("frames", "a uint8 array (T, H, W, C) with C in {1, 3}", received)
    validation.check_float("seconds_per_frame", seconds_per_frame, positive=True)
    order = [*range(len(frames)), *range(len(frames) - 2, 0, -1)] if bounce else range(len(frames))
    pictures = [
        Image.fromarray(frames[i, ..., 0] if frames.shape[-1] == 1 else frames[i]) for i in order
    ]
    buffer = io.BytesIO()
    pictures[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=pictures[1:],
        duration=int(round(1000 * seconds_per_frame)),
        loop=0,
    )
    return buffer.getvalue()


def tile_rows(rows, padding=1):
    """Tiles images (R, K, H, W, C) into one uint8 image with R rows of K images.

    Examples:

        >>> tile_rows(np.zeros([2, 5, 28, 28, 1])).shape
        (57, 144, 1)
    """
    rows = np.asarray(rows, np.float32)
    if rows.ndim != 5:
        raise validation.invalid("rows.shape", "(rows, columns, H, W, C)", rows.shape)
    return image_grid(rows.reshape(-1, *rows.shape[2:]), columns=rows.shape[1], padding=padding)


def show(image, title=None, scale=2.0):
    """A figure showing one uint8 image (e.g. a grid) at `scale` screen pixels per pixel.

    Args:
        image: uint8 array (H, W, 1 or 3), e.g. from `manifold` or `image_grid`.
        title: optional title.
        scale: screen pixels per image pixel (at 100 dpi).

    Returns:
        a `matplotlib.figure.Figure` (not registered with pyplot): a notebook cell that
        ends with it displays it.

    Examples:

        >>> show(manifold(model), title="manifold")
    """
    from matplotlib.figure import Figure

    image = np.asarray(image)
    height, width = image.shape[:2]
    extra = 0.3 if title else 0.0
    figure = Figure(figsize=(width * scale / 100, height * scale / 100 + extra), dpi=100)
    axes = figure.add_axes((0, 0, 1, height * scale / 100 / (height * scale / 100 + extra)))
    if image.ndim == 2 or image.shape[-1] == 1:
        axes.imshow(
            image.reshape(height, width), cmap="gray", vmin=0, vmax=255, interpolation="nearest"
        )
    else:
        axes.imshow(image, interpolation="nearest")
    axes.set_axis_off()
    if title:
        figure.suptitle(title, y=1.0, va="top", fontsize=10)
    return figure


def figure_to_array(figure):
    """Renders a matplotlib figure with Agg and returns it as a uint8 RGB array (H, W, 3)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
