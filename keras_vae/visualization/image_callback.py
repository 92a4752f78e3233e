"""`ImageCallback`, the base of the picture callbacks: when to draw, and where the image goes
(the pictures themselves are in `keras_vae.visualization.callbacks`)."""

import os
import time
import weakref

import keras
import numpy as np
import tensorflow as tf

from keras_vae import files, validation
from keras_vae.visualization import latent, plotting

# One summary writer per directory, shared by all callbacks writing there: TensorBoard
# reads only the newest event file of a directory while it is being written.
_WRITERS = weakref.WeakValueDictionary()


class ImageCallback(keras.callbacks.Callback):
    """Base of the visualization callbacks: when to draw, and where the image goes.

    Subclasses implement `render()`, returning a uint8 image (H, W, 1 or 3).

    Args:
        image_dir: directory for PNG files (created if needed), or None.
        log_dir: TensorBoard log directory (summaries go to `log_dir/images`), or None.
        every_n_epochs: draw after every n-th epoch, an int >= 1.
        name: file prefix and TensorBoard tag (default: the class's `default_name`).
        show: display each image inline (in a notebook, via IPython).

    Examples:

        >>> class Means(ImageCallback):
        ...     def render(self):
        ...         z = np.zeros((1, self.model.latent_dim))
        ...         return plotting.image_grid(self.model.decode(z))
        >>> model.fit(train, epochs=3, callbacks=[Means(image_dir="images", name="origin")])
    """

    default_name = "images"
    # True: only class-conditional models; False: only models without classes; None: any.
    needs_classes = None

    def __init__(self, image_dir=None, log_dir=None, every_n_epochs=1, name=None, show=False):
        super().__init__()
        self.image_dir = None if image_dir is None else os.fspath(image_dir)
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self.every_n_epochs = validation.check_int("every_n_epochs", every_n_epochs, minimum=1)
        self.name = name or self.default_name
        self.show = show
        self.last_image = None
        self.seconds = 0.0  # time spent drawing and writing, for overhead checks
        self._writer = None

    def render(self):
        """Returns the current image as a uint8 array (H, W, C)."""
        raise NotImplementedError

    def check_model(self, model):
        """Raises ValueError if the callback cannot draw `model` (e.g. bad latent dims)."""

    def on_train_begin(self, logs=None):
        if self.needs_classes is not None:
            latent.check_classes(self.model, type(self).__name__, needed=self.needs_classes)
        self.check_model(self.model)
        if self.image_dir is not None:
            os.makedirs(self.image_dir, exist_ok=True)
        if self.log_dir is not None and self._writer is None:
            self._writer = _summary_writer(os.path.join(self.log_dir, "images"))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        start = time.perf_counter()
        self.last_image = self.render()
        self.write(self.last_image, epoch)
        self.seconds += time.perf_counter() - start

    def write(self, image, epoch):
        """Sends `image` to the PNG folder, TensorBoard and the notebook, as configured."""
        if self.image_dir is None and self._writer is None and not self.show:
            return
        png = plotting.encode_png(image, compress_level=1)
        if self.image_dir is not None:
            path = os.path.join(self.image_dir, f"{self.name}_epoch_{epoch + 1:04d}.png")
            with files.atomic_path(path, suffix=".png") as tmp:
                with open(tmp, "wb") as f:
                    f.write(png)
        if self._writer is not None:
            write_image_summary(self._writer, self.name, image, step=epoch)
        if self.show:
            from IPython import display

            display.display(display.Image(data=png, format="png"))


def write_image_summary(writer, tag, image, step):
    """Writes one uint8 image (H, W, C) as a TensorBoard image summary, and flushes.

    Examples:

        >>> writer = tf.summary.create_file_writer("logs/images")
        >>> write_image_summary(writer, "grid", grid, step=0)
    """
    with writer.as_default():
        tf.summary.image(tag, np.asarray(image)[None], step=step)
    writer.flush()


def _summary_writer(path):
    path = os.path.abspath(path)
    writer = _WRITERS.get(path)
    if writer is None:
        writer = tf.summary.create_file_writer(path)
        _WRITERS[path] = writer
    return writer
