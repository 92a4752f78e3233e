"""Where data come from: tfds, .npz files, folders of images and the built-in "shapes".

Each source returns a `keras_vae.data.pipeline` dataset and takes its options.
"""

import os
import pathlib
import warnings
import zipfile

import numpy as np
import tensorflow as tf

from keras_vae import validation
from keras_vae.data import shapes
from keras_vae.data.pipeline import (
    augmented_pipeline,
    build_pipeline,
    check_augmentation,
    check_options,
    from_array,
)
from keras_vae.data.tfds_loading import tfds_images

BUILTIN_DATASETS = ("shapes",)
# Examples per split of the built-in "shapes" set. A split's content depends
# on its own seed only, never on the `seed` option, so runs stay comparable.
SHAPES_SPLITS = {"train": 16384, "validation": 2048, "test": 2048}
_SHAPES_SEEDS = {"train": 1, "validation": 2, "test": 3}

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_DECODABLE_FORMATS = ("PNG", "JPEG", "BMP", "GIF")  # What tf.io.decode_image reads.


def load(
    name,
    split="train",
    *,
    with_labels=False,
    with_factors=False,
    batch_size=128,
    shuffle=True,
    binarize=False,
    image_size=None,
    cache=True,
    seed=0,
    data_dir=None,
    download=True,
    num_examples=None,
    drop_remainder=False,
    labelled_shift=0,
    labelled_rotation=0.0,
    labelled_zoom=0.0,
):
    """Loads a named dataset: the built-in "shapes" or a tfds image dataset.

    Args:
        name: `"shapes"` or a tensorflow-datasets name with an `image` feature, e.g. `"mnist"`,
            `"fashion_mnist"`, `"binarized_mnist"`, `"cifar10"`, `"celeb_a"`.
        split: `"train"`, `"validation"` or `"test"` for shapes; any tfds split string
            (e.g. `"train[:90%]"`) otherwise.
        with_labels: whether to yield `(images, labels)` batches: the tfds `label` feature, or
            the shape's index into `shapes.SHAPE_NAMES` for shapes.
        with_factors: shapes only: whether to yield `(images, factors)` batches, the
            factors (B, 5) float32 in `shapes.FACTOR_NAMES`' order (for
            `keras_vae.evaluate.disentanglement`). Not with labels.
        batch_size: Images per batch, an int >= 1.
        shuffle: Whether to reshuffle the images every epoch.
        binarize: `False`; `True`/`"dynamic"` to draw `Bernoulli(x)` pixels anew every epoch
            (training); `"static"` for one fixed draw, the same every epoch (held-out sets).
        image_size: `None`, an int or `(height, width)` to resize to.
        cache: `True` to cache the decoded images in memory, a file name to cache them on
            disk, or `False`.
        seed: Int seed of the shuffling and the binarization.
        data_dir: tfds data directory; `None` uses the tfds default.
        download: Whether tfds may download a dataset it has not prepared.
        num_examples: Number of examples to keep (shapes: to draw).
        drop_remainder: Whether to drop the last, smaller batch.
        labelled_shift, labelled_rotation, labelled_zoom: with labels, augmentation of the
            training images (`shuffle`), as in `keras_vae.data.from_array`.

    Returns:
        A `tf.data.Dataset` of float32 images in [0, 1] (and int32 labels).

    Raises:
        DatasetUnavailableError: The tfds dataset is not prepared in `data_dir` and cannot be
            downloaded.

    Examples:

        >>> train = load("shapes", batch_size=64)
        >>> next(iter(train)).shape
        TensorShape([64, 28, 28, 1])
    """
    options = check_options(
        batch_size=batch_size,
        shuffle=shuffle,
        binarize=binarize,
        image_size=image_size,
        cache=cache,
        seed=seed,
        drop_remainder=drop_remainder,
    )
    if num_examples is not None:
        validation.check_int("num_examples", num_examples, minimum=1)
    if not isinstance(name, str):
        raise validation.invalid("name", "a dataset name (a string)", name)
    if not isinstance(with_labels, bool):
        raise validation.invalid("with_labels", "True or False", with_labels)
    if not isinstance(with_factors, bool):
        raise validation.invalid("with_factors", "True or False", with_factors)
    if with_factors and with_labels:
        raise validation.invalid("with_factors", "False with with_labels=True", with_factors)
    if with_factors and name != "shapes":
        raise validation.invalid(
            "with_factors",
            "False for a tfds dataset (only the built-in 'shapes' knows what made its images; "
            "bring your own with keras_vae.data.from_array(x, factors=...))",
            validation.Described(f"True with dataset {name!r}"),
        )
    augment = check_augmentation(labelled_shift, labelled_rotation, labelled_zoom)
    for key, value in augment.items():
        if value and not with_labels:
            raise validation.invalid(f"labelled_{key}", "0 unless with_labels=True", value)
    if name == "shapes":
        return _load_shapes(split, num_examples, options, with_labels, augment, with_factors)
    images = tfds_images(name, split, data_dir, download, with_labels)
    if num_examples is not None:
        images = images.take(num_examples)
    spec = images.element_spec[0] if with_labels else images.element_spec
    if options["image_size"] is None and not spec.shape.is_fully_defined():
        raise validation.invalid(
            "image_size", f"(height, width): the images of dataset {name!r} differ in size", None
        )
    if options["shuffle"] and any(augment.values()):
        return augmented_pipeline(images, augment, options)
    return build_pipeline(images, **options)


def from_npz(path, key="images", labels_key=None, factors_key=None, **options):
    """Makes a dataset from the array stored under `key` in an .npz file.

    Args:
        path: Path of an `.npz` file (an `.npy` file works too).
        key: Name of the array in the file (images, sequences or vectors, as `from_array`).
        labels_key: None, or the name of the file's integer labels (-1: unlabelled): the
            dataset then yields `(x, labels)` batches, mixed as in `from_array`.
        factors_key: None, or the name of the file's factors (N, num_factors): the dataset
            then yields `(x, factors)` batches, as `from_array(x, factors=...)` (e.g.
            dSprites' `latents_values`).
        **options: Options of `from_array`.

    Returns:
        A `tf.data.Dataset` of float32 images in [0, 1] (and int32 labels, or factors).

    Examples:

        >>> dataset = from_npz("digits.npz", key="images", batch_size=64)
        >>> labelled = from_npz("digits.npz", labels_key="labels")     # (images, labels)
        >>> known = from_npz("dsprites.npz", "imgs", factors_key="latents_values")
    """
    labelled = {
        k: options.pop(k) for k in list(options) if k.startswith("labelled_") or k == "num_classes"
    }
    check_options(**options)  # Fail before reading a maybe large file.
    labels = read_labels(path, labels_key) if labels_key is not None else None
    if factors_key is not None:
        options["factors"] = _read_npz(path, factors_key, "factors_key")
    return from_array(_read_npz(path, key), labels, **labelled, **options)


def read_labels(path, key="labels"):
    """Reads the integer labels stored under `key` in an .npz file, as int32 (-1: unlabelled).

    Examples:

        >>> labels = read_labels("digits.npz", "labels")
    """
    if not isinstance(key, str):
        raise validation.invalid("labels_key", "the name of an array in the .npz file", key)
    if str(path).endswith(".npy"):
        raise validation.invalid(
            "labels_key",
            "None for an .npy file (it holds one array); store images and labels in one .npz",
            key,
        )
    labels = _read_npz(path, key, "labels_key")
    return validation.check_labels("labels", labels, require_labelled=False)


def from_directory(path, image_size=None, channels=None, **options):
    """Makes a dataset from the image files in a directory tree.

    PNG, JPEG, BMP and GIF files are read recursively in sorted order; unreadable ones are
    skipped with a warning.

    Args:
        path: Directory to search.
        image_size: `None` (all images must share a size), an int or `(height, width)`.
        channels: 1, 3 or `None`: 1 if every image is grayscale, else 3.
        **options: The other options of `from_array`.

    Returns:
        A `tf.data.Dataset` of float32 images in [0, 1].

    Examples:

        >>> dataset = from_directory("faces/", image_size=64)
    """
    options = check_options(image_size=image_size, **options)
    if channels not in (None, 1, 3):
        raise validation.invalid("channels", "1, 3 or None", channels)
    paths, sizes, grey = _scan_directory(path)
    channels = channels or (1 if all(grey) else 3)
    if options["image_size"] is None and len(set(sizes)) > 1:
        other = next(i for i, size in enumerate(sizes) if size != sizes[0])
        raise validation.invalid(
            "image_size",
            f"(height, width): the images in {path} differ in size, e.g. "
            f"{paths[0]} is {sizes[0]} and {paths[other]} is {sizes[other]}",
            None,
        )
    dataset = tf.data.Dataset.from_tensor_slices(paths)
    dataset = dataset.map(lambda file: _decode(file, channels, all(grey)), tf.data.AUTOTUNE)
    # Files whose header read fine but whose pixels do not are skipped too.
    dataset = dataset.ignore_errors(log_warning=True)
    if options["image_size"] is None:
        dataset = dataset.map(lambda x: tf.ensure_shape(x, sizes[0] + (channels,)))
    return build_pipeline(dataset, **options)


def read_images(path, key="images", image_size=None, channels=None):
    """Reads all the images of an .npz/.npy file or of a directory into one array.

    Args:
        path: An `.npz` file (array under `key`), an `.npy` file or a directory of images.
        key, image_size: As in `from_npz` and `from_directory`.
        channels: As in `from_directory`; directories only.

    Returns:
        A float32 NumPy array in file order: images `(N, height, width, channels)` in [0, 1],
        or a file's sequences or vectors as they are.

    Examples:

        >>> images = read_images("digits.npz")
        >>> train = from_array(images[:-1000])
    """
    options = dict(image_size=image_size, batch_size=4096, shuffle=False, cache=False)
    if os.path.isdir(path):
        dataset = from_directory(path, channels=channels, **options)
    else:
        dataset = from_npz(path, key, **options)
    return np.concatenate([batch.numpy() for batch in dataset])


def _read_npz(path, key, argument="key"):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such .npz file: {path}")
    unreadable = (OSError, EOFError, ValueError, zipfile.BadZipFile)
    try:
        contents = np.load(path, allow_pickle=False)
    except unreadable as error:
        raise ValueError(f"Could not read {path} as an .npz file: {error}") from error
    if isinstance(contents, np.ndarray):  # An .npy file holds one array.
        return contents
    with contents:
        if key not in contents.files:
            raise validation.invalid(
                argument, f"one of the arrays in {path}: {contents.files}", key
            )
        try:
            return contents[key]
        except unreadable as error:
            message = f"Could not read array {key!r} from {path}: {error}"
            raise ValueError(message) from error


def _scan_directory(path):
    """Returns the readable image files, their (height, width) and greyness."""
    from PIL import Image  # Only this function needs Pillow.

    if not os.path.isdir(path):
        raise FileNotFoundError(f"No such directory: {path}")
    files = pathlib.Path(path).rglob("*")
    files = sorted(str(f) for f in files if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file())
    if not files:
        raise ValueError(f"No image files ({', '.join(IMAGE_EXTENSIONS)}) in {path}.")
    paths, sizes, grey, failures = [], [], [], []
    for file in files:
        try:
            with Image.open(file) as image:  # Reads the header only.
                if image.format not in _DECODABLE_FORMATS:
                    raise ValueError(f"{image.format} images are not supported")
                sizes.append(image.size[::-1])
                grey.append(_is_grey(image))
            paths.append(file)
        except (OSError, ValueError, SyntaxError) as error:
            failures.append(f"{file} ({error})")
    if not paths:
        message = f"None of the {len(files)} image files in {path} could be read"
        raise ValueError(f"{message}, e.g. {failures[0]}")
    if failures:
        message = f"Skipped {len(failures)} unreadable image file(s) in {path}, "
        warnings.warn(message + f"e.g. {failures[0]}", stacklevel=3)
    return paths, sizes, grey


def _is_grey(image):
    if image.mode in ("1", "L", "LA", "I", "F") or image.mode.startswith("I;"):
        return True
    if image.mode in ("P", "PA"):
        rgb = np.reshape(image.getpalette("RGB"), (-1, 3))
        return bool((rgb == rgb[:, :1]).all())
    return False


def _decode(file, channels, all_grey):
    # channels=3 because the GIF and BMP decoders cannot give 1 channel.
    contents = tf.io.read_file(file)
    image = tf.io.decode_image(contents, channels=3, dtype=tf.float32, expand_animations=False)
    if channels == 3:
        return image
    # Grey files decode to 3 equal channels: keeping one is exact.
    return image[..., :1] if all_grey else tf.image.rgb_to_grayscale(image)


def _load_shapes(split, num_examples, options, with_labels=False, augment=None, with_factors=False):
    if split not in SHAPES_SPLITS:
        expected = f"one of {tuple(SHAPES_SPLITS)} for the shapes dataset"
        raise validation.invalid("split", expected, split)
    height, width = options["image_size"] or (28, 28)
    size, seed = max(height, width), _SHAPES_SEEDS[split]
    images, factors = shapes.generate(
        num_examples or SHAPES_SPLITS[split], image_size=size, seed=seed
    )
    # Square sizes are drawn as they are; others are resized from a square.
    resize = (height, width) if height != width else None
    labels = factors["shape"] if with_labels else None
    if with_factors:
        options = dict(options, factors=shapes.factor_array(factors))
    augment = {f"labelled_{key}": value for key, value in (augment or {}).items()}
    return from_array(images, labels, **augment, **dict(options, image_size=resize))
