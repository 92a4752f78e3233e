"""Images of a tensorflow-datasets dataset, prepared locally or downloaded, failing fast offline.

tfds retries a download for minutes when the network is down; `tfds_images` first asks
whether the download host answers, and says what to do instead when it does not.
"""

import difflib
import socket
import threading

import tensorflow as tf

from keras_vae import validation
from keras_vae.data.pipeline import to_unit_range

# tfds datasets whose integer pixels are not 0..255.
_TFDS_MAX_VALUES = {"binarized_mnist": 1}

# Where tfds downloads from (prepared datasets, and e.g. MNIST's own files).
_DOWNLOAD_HOST = ("storage.googleapis.com", 443)


class DatasetUnavailableError(FileNotFoundError):
    """A tfds dataset is not prepared locally and cannot be downloaded."""


def tfds_images(name, split, data_dir, download, with_labels=False):
    """Returns the images of a prepared tfds dataset as float32 in [0, 1] (and int32 labels)."""
    import tensorflow_datasets as tfds  # Slow to import; only needed here.

    dataset_name, _ = tfds.core.naming.parse_builder_name_kwargs(name)
    if not dataset_name.namespace:
        known = tfds.list_builders(with_community_datasets=False)
        if dataset_name.name not in known:
            close = difflib.get_close_matches(dataset_name.name, known, n=3)
            expected = (
                "'shapes' (built in) or any tensorflow-datasets image dataset in "
                "tfds.list_builders(), e.g. 'mnist', 'fashion_mnist', 'cifar10'"
                + (f" (did you mean {close}?)" if close else "")
            )
            raise validation.invalid("name", expected, name)
    builder = tfds.builder(name, data_dir=data_dir)
    if not builder.is_prepared():
        if not download:
            _unavailable(name, builder.data_dir_root, "download=False was passed")
        if not _can_download():
            _unavailable(name, builder.data_dir_root, f"{_DOWNLOAD_HOST[0]} is unreachable")
        builder.download_and_prepare()
    if "image" not in builder.info.features:
        expected = f"a dataset with an 'image' feature (it has {list(builder.info.features)})"
        raise validation.invalid("name", expected, name)
    if with_labels and "label" not in builder.info.features:
        features = list(builder.info.features)
        expected = f"with_labels=False: dataset {name!r} has no 'label' feature ({features})"
        raise validation.invalid("with_labels", expected, with_labels)
    max_value = _TFDS_MAX_VALUES.get(dataset_name.name)
    dataset = builder.as_dataset(split=split, shuffle_files=False)
    if with_labels:
        return dataset.map(
            lambda x: (to_unit_range(x["image"], max_value), tf.cast(x["label"], tf.int32)),
            tf.data.AUTOTUNE,
        )
    return dataset.map(lambda x: to_unit_range(x["image"], max_value), tf.data.AUTOTUNE)


def _unavailable(name, data_dir, reason):
    raise DatasetUnavailableError(
        f"Dataset {name!r} is not prepared in {data_dir} and cannot be downloaded ({reason}). "
        "Use local images instead: keras_vae.data.from_npz('images.npz') or "
        "keras_vae.data.from_directory('images/') (CLI: --data FILE.npz or --data DIR); or copy "
        "a prepared tensorflow_datasets directory (e.g. ~/tensorflow_datasets from a machine "
        "with internet access) and pass it as data_dir."
    )


def _can_download(timeout=3.0):
    """Returns whether the tfds download host answers within `timeout` s."""
    answered = []

    def connect():
        try:
            socket.create_connection(_DOWNLOAD_HOST, timeout=timeout).close()
            answered.append(True)
        except OSError:
            pass

    # A daemon thread bounds the wait, DNS look-up included.
    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answered)
