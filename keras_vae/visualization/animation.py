"""`TraversalAnimation`: the animated latent traversal of disentanglement_lib, as a callback
(a GIF per draw, and the frames to TensorBoard)."""

import os

import numpy as np
import tensorflow as tf

from keras_vae import files, validation
from keras_vae.visualization import latent, plotting
from keras_vae.visualization.image_callback import ImageCallback


class TraversalAnimation(ImageCallback):
    """An animated latent traversal, as disentanglement_lib draws them: one row per latent
    dim (by KL, largest first), one column per image, each dim swept from -span to span and
    back. Writes `IMAGE_DIR/traversal_animation_epoch_NNNN.gif` and, to TensorBoard, the
    frames as one image summary of `steps` images (a slider).

    Args:
        images: the images whose codes are swept (N, H, W, C), a few.
        dims: dims to show, top first (default: every dim, by KL over `images`, chosen anew
            each time it draws).
        span: the largest absolute value of the swept dim.
        steps: frames from -span to span, an int >= 2.
        seconds_per_frame: how long the GIF shows each frame.
        **kwargs: as in `ImageCallback`.

    Examples:

        >>> TraversalAnimation(val_images[:5], image_dir="images", log_dir="logs")
    """

    default_name = "traversal_animation"
    needs_classes = False

    def __init__(self, images, dims=None, span=3.0, steps=13, seconds_per_frame=0.1, **kwargs):
        super().__init__(**kwargs)
        self.images = validation.check_images("images", images)
        self.dims = None if dims is None else list(dims)
        self.span = span
        self.steps = validation.check_int("steps", steps, minimum=2)
        self.seconds_per_frame = validation.check_float(
            "seconds_per_frame", seconds_per_frame, positive=True
        )

    def check_model(self, model):
        dims = range(model.latent_dim) if self.dims is None else self.dims
        latent.traversal_latents(np.zeros(model.latent_dim), dims, self.span, self.steps)

    def render(self):
        """The frames (steps, H, W, C); `last_image` holds them after each draw."""
        return plotting.traversal_frames(self.model, self.images, self.dims, self.span, self.steps)

    def write(self, frames, epoch):
        if self.image_dir is not None:
            path = os.path.join(self.image_dir, f"{self.name}_epoch_{epoch + 1:04d}.gif")
            with files.atomic_path(path, suffix=".gif") as tmp:
                with open(tmp, "wb") as f:
                    f.write(plotting.encode_gif(frames, self.seconds_per_frame))
        if self._writer is not None:
            with self._writer.as_default():
                tf.summary.image(self.name, frames, step=epoch, max_outputs=len(frames))
            self._writer.flush()
        if self.show:
            from IPython import display

            gif = plotting.encode_gif(frames, self.seconds_per_frame)
            display.display(display.Image(data=gif, format="gif"))
