"""Data as `tf.data` pipelines of float32 batches: tfds, arrays, .npz files, folders, "shapes".

train = keras_vae.data.load("shapes", "train", batch_size=128)    # images in [0, 1]
table = keras_vae.data.from_array(features, batch_size=64)        # vectors (N, D)
mixed = keras_vae.data.from_array(images, labels=labels)          # (x, y); -1: unlabelled
"""

from keras_vae.data import shapes
from keras_vae.data.pipeline import from_array
from keras_vae.data.sources import (
    BUILTIN_DATASETS,
    IMAGE_EXTENSIONS,
    SHAPES_SPLITS,
    from_directory,
    from_npz,
    load,
    read_images,
    read_labels,
)
from keras_vae.data.tfds_loading import DatasetUnavailableError

__all__ = [
    "load",
    "from_array",
    "from_npz",
    "from_directory",
    "read_images",
    "read_labels",
    "shapes",
    "DatasetUnavailableError",
    "BUILTIN_DATASETS",
    "IMAGE_EXTENSIONS",
    "SHAPES_SPLITS",
]
