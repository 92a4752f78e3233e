"""keras_vae.visualization.callbacks: callbacks that draw PNGs and TensorBoard images during
model.fit."""

import glob
import io
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import keras_vae
from keras_vae.data import shapes
from keras_vae.visualization import callbacks as visualize
from keras_vae.visualization import plotting


@pytest.fixture(scope="module")
def images():
    return shapes.generate(640, seed=21)[0]


def _fit(
    images, callbacks, epochs=2, latent_dim=4, input_shape=(28, 28, 1), likelihood="bernoulli"
):
    keras.utils.set_random_seed(0)
    model = keras_vae.VAE.from_shape(input_shape, latent_dim, likelihood=likelihood, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    model.fit(images, epochs=epochs, batch_size=64, verbose=0, callbacks=callbacks)
    return model


def _all_six(images, **where):
    return [
        visualize.ReconstructionGrid(images[:16], **where),
        visualize.PriorSamples(n=64, seed=0, **where),
        visualize.LatentManifold(grid=10, **where),
        visualize.LatentScatter(images[:100], labels=np.arange(100) % 4, **where),
        visualize.Interpolation(images[:2], images[2:4], steps=6, spherical=True, **where),
        visualize.LatentTraversal(images[0], dims=[0, 1, 2], span=3, steps=5, **where),
    ]


def _read_png(path):
    with Image.open(path) as image:
        return np.asarray(image)


def test_every_callback_writes_a_png_per_epoch_with_the_expected_size(images, tmp_path):
    _fit(images, _all_six(images, image_dir=tmp_path))
    expected = {  # (height, width) of the grids: 28-pixel tiles, 1-pixel padding
        "reconstructions": (4 * 29 - 1, 8 * 29 - 1),
        "prior_samples": (8 * 29 - 1, 8 * 29 - 1),
        "manifold": (280, 280),
        "latent_scatter": (500, 500),
        "interpolation": (4 * 29 - 1, 6 * 29 - 1),
        "traversal": (3 * 29 - 1, 5 * 29 - 1),
    }
    assert sorted(os.listdir(tmp_path)) == sorted(
        f"{name}_epoch_{epoch:04d}.png" for name in expected for epoch in (1, 2)
    )
    for name, size in expected.items():
        pixels = _read_png(tmp_path / f"{name}_epoch_0002.png")
        assert pixels.shape[:2] == size, name
        assert pixels.std() > 10, f"{name} is blank"


def test_every_n_epochs_and_fixed_inputs(images, tmp_path):
    samples = visualize.PriorSamples(n=4, image_dir=tmp_path, every_n_epochs=2)
    model = _fit(images, [samples], epochs=5)
    assert sorted(os.listdir(tmp_path)) == [
        "prior_samples_epoch_0002.png",
        "prior_samples_epoch_0004.png",
    ]
    samples.on_epoch_end(5)
    np.testing.assert_array_equal(samples.last_image, samples.render())  # the same draws
    expected = np.round(np.asarray(model.sample(4, seed=0)) * 255)  # the model's own prior
    np.testing.assert_array_equal(samples.last_image[:28, :28], expected[0])


def test_tensorboard_logs_hold_the_image_summaries(images, tmp_path):
    _fit(images, visualize.default_callbacks(images[:64], log_dir=tmp_path), epochs=2)
    events = glob.glob(str(tmp_path / "images" / "events.out.tfevents.*"))
    assert len(events) == 1  # one shared writer, so TensorBoard reads every image
    found = {}
    for event in tf.compat.v1.train.summary_iterator(events[0]):
        for value in event.summary.value:
            assert value.metadata.plugin_data.plugin_name == "images"
            width, height, png = tf.make_ndarray(value.tensor)
            pixels = np.asarray(Image.open(io.BytesIO(png)))
            assert pixels.shape[:2] == (int(height), int(width)) and pixels.std() > 1  # not blank
            found.setdefault(value.tag, []).append(event.step)
    assert found == {"reconstructions": [0, 1], "prior_samples": [0, 1], "manifold": [0, 1]}


def test_callbacks_do_not_change_training(images, tmp_path):
    plain = _fit(images, [])
    watched = _fit(images, _all_six(images, image_dir=tmp_path / "png", log_dir=tmp_path / "tb"))
    for a, b in zip(plain.weights, watched.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_rgb_images(tmp_path):
    rng = np.random.default_rng(0)
    grey = shapes.generate(128, image_size=16, seed=3)[0]
    colour = (grey * rng.uniform(0.3, 1.0, size=(128, 1, 1, 3))).astype(np.float32)
    callbacks = _all_six(colour, image_dir=tmp_path)
    _fit(colour, callbacks, epochs=1, input_shape=(16, 16, 3), likelihood="gaussian")
    for callback in callbacks:
        pixels = _read_png(tmp_path / f"{callback.name}_epoch_0001.png")
        assert pixels.ndim == 3 and pixels.shape[-1] == 3, callback.name
    assert _read_png(tmp_path / "manifold_epoch_0001.png").shape == (160, 160, 3)


def test_active_manifold_dims_and_defaults(images):
    callbacks = visualize.default_callbacks(tf.data.Dataset.from_tensor_slices(images).batch(50))
    assert [type(c) for c in callbacks] == [
        visualize.ReconstructionGrid,
        visualize.PriorSamples,
        visualize.LatentManifold,
    ]
    assert len(callbacks[0].images) == 16 and len(callbacks[2].images) == 128
    _fit(images, callbacks, epochs=1, latent_dim=6)
    assert callbacks[2].last_image.shape == (560, 560, 1)
    assert all(c.last_image is not None and c.seconds > 0 for c in callbacks)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda x: visualize.PriorSamples(every_n_epochs=0), "every_n_epochs"),
        (lambda x: visualize.PriorSamples(n=0), "argument n"),
        (lambda x: visualize.ReconstructionGrid(x[0]), "argument images"),
        (lambda x: visualize.LatentManifold(grid=1), "grid"),
        (lambda x: visualize.LatentManifold(dims="best", images=x), "dims"),
        (lambda x: visualize.LatentManifold(dims="active"), r"images.*dims='active'.*images=None"),
        (lambda x: visualize.LatentScatter(x[:4], labels=[0, 1]), "labels"),
        (lambda x: visualize.Interpolation(x[:2], x[:3]), r"b.shape.*a's shape"),
        (lambda x: visualize.LatentTraversal(x[0], steps=1), "steps"),
    ],
)
def test_bad_arguments_fail_at_construction(images, make, message):
    with pytest.raises(ValueError, match=message):
        make(images)


@pytest.mark.parametrize(
    "make, latent_dim, message",
    [
        (lambda x: visualize.LatentManifold(dims=(0, 4)), 4, "dims"),
        (lambda x: visualize.LatentManifold(), 1, r"latent_dim.*>= 2"),
        (lambda x: visualize.LatentTraversal(x[0], dims=[7]), 4, "dims"),
    ],
)
def test_dims_that_the_model_lacks_fail_before_training(images, make, latent_dim, message):
    callback = make(images)
    with pytest.raises(ValueError, match=message):
        _fit(images[:64], [callback], latent_dim=latent_dim)
    assert callback.last_image is None


@pytest.fixture(scope="module")
def labelled():
    """128 shapes of 16x16 pixels and their classes (4 shapes)."""
    images, factors = shapes.generate(128, image_size=16, seed=5)
    return images, factors["shape"].astype(np.int32)


def _conditional(num_classes=4):
    keras.utils.set_random_seed(0)
    model = keras_vae.ConditionalVAE.from_shape(
        (16, 16, 1),
        2,
        num_classes=num_classes,
        architecture=dict(encoder_filters=(4,), dense_units=8),
        seed=0,
    )
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    return model


def _labelled_batches(images, labels):
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(64)


def test_class_callbacks_write_pngs_and_summaries(labelled, tmp_path):
    images, labels = labelled
    where = dict(image_dir=tmp_path / "png", log_dir=tmp_path / "logs")
    samples = visualize.ClassSamples(styles=5, seed=1, **where)
    analogies = visualize.Analogies(images[:3], labels=labels[:3], **where)
    model = _conditional()
    model.fit(
        _labelled_batches(images, labels), epochs=2, verbose=0, callbacks=[samples, analogies]
    )
    assert sorted(os.listdir(tmp_path / "png")) == [
        f"{name}_epoch_{epoch:04d}.png"
        for name in ("analogies", "class_samples")
        for epoch in (1, 2)
    ]
    pixels = _read_png(tmp_path / "png" / "class_samples_epoch_0002.png")
    assert pixels.shape == (4 * 17 - 1, 5 * 17 - 1)  # one row per class, one column per z
    np.testing.assert_array_equal(pixels[..., None], plotting.class_grid(model, 5, seed=1))
    pixels = _read_png(tmp_path / "png" / "analogies_epoch_0002.png")
    assert pixels.shape == (3 * 17 - 1, 5 * 17 - 1)  # the input, then every class
    np.testing.assert_array_equal(pixels[:16, :16], np.round(images[0, ..., 0] * 255))
    events = glob.glob(str(tmp_path / "logs" / "images" / "events.out.tfevents.*"))
    steps = {}
    for event in tf.compat.v1.train.summary_iterator(events[0]):
        for value in event.summary.value:
            steps.setdefault(value.tag, []).append(event.step)
    assert steps == {"class_samples": [0, 1], "analogies": [0, 1]}


def test_default_callbacks_of_a_conditional_model(labelled, tmp_path):
    images, labels = labelled
    model = _conditional()
    callbacks = visualize.default_callbacks(
        _labelled_batches(images, labels), image_dir=tmp_path, model=model
    )
    assert [type(c) for c in callbacks] == [
        visualize.ReconstructionGrid,
        visualize.ClassSamples,
        visualize.Analogies,
    ]
    np.testing.assert_array_equal(callbacks[2].labels, labels[:8])  # the dataset's own labels
    model.fit(_labelled_batches(images, labels), epochs=1, verbose=0, callbacks=callbacks)
    assert len(os.listdir(tmp_path)) == 3 and all(c.last_image is not None for c in callbacks)
    unlabelled = np.where(np.arange(128) % 2, -1, labels)  # -1 among the first 8: guesses
    assert visualize.default_callbacks(images, model=model, labels=unlabelled)[2].labels is None
    plain = visualize.default_callbacks(
        images, model=keras_vae.VAE.from_shape((28, 28, 1), 2, seed=0)
    )
    assert [type(c) for c in plain][1:] == [visualize.PriorSamples, visualize.LatentManifold]


@pytest.mark.parametrize(
    "make, conditional, message",
    [
        (lambda x: visualize.ClassSamples(), False, r"model.*a model with classes.*ClassSamples"),
        (lambda x: visualize.Analogies(x[:2]), False, r"model.*a model with classes.*Analogies"),
        (lambda x: visualize.PriorSamples(n=4), True, r"model.*without classes for PriorSamples"),
        (lambda x: visualize.LatentManifold(), True, r"without classes for LatentManifold"),
        (lambda x: visualize.Analogies(x[:2], labels=[0, 4]), True, r"labels.*\[0, 4\)"),
    ],
)
def test_class_pictures_need_a_class_conditional_model(labelled, make, conditional, message):
    images, labels = labelled
    callback = make(images)
    if conditional:
        model, data = _conditional(), _labelled_batches(images[:64], labels[:64])
    else:
        model, data = keras_vae.VAE.from_shape((16, 16, 1), 2, seed=0), images[:64]
        model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=message):
        model.fit(data, epochs=1, verbose=0, callbacks=[callback])
    assert callback.last_image is None


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda x: visualize.ClassSamples(styles=0), "argument styles"),
        (lambda x: visualize.Analogies(x[0]), "argument images"),
        (lambda x: visualize.Analogies(x[:2], labels=[0]), "2 labels, one per example"),
        (lambda x: visualize.Analogies(x[:2], labels=[0, -1]), r"labels.*>= 0"),
    ],
)
def test_bad_class_picture_arguments_fail_at_construction(labelled, make, message):
    with pytest.raises(ValueError, match=message):
        make(labelled[0])


def test_the_traversal_animation_writes_a_gif_and_a_slider_of_frames(images, tmp_path):
    animation = keras_vae.visualization.TraversalAnimation(
        images[:3], span=3, steps=5, image_dir=tmp_path / "png", log_dir=tmp_path
    )
    model = _fit(images, [animation], epochs=1)
    path = tmp_path / "png" / "traversal_animation_epoch_0001.gif"
    with Image.open(path) as gif:
        assert gif.n_frames == 8  # 5 forward, 3 back (the ends not repeated)
        gif.seek(0)
        first = np.asarray(gif.convert("L"))
        gif.seek(4)
        last = np.asarray(gif.convert("L"))
    # 4 dims, one row each, 3 images a row, 28 pixels and 1 of padding.
    assert first.shape == (4 * 29 - 1, 3 * 29 - 1)
    assert np.abs(first.astype(int) - last).mean() > 1  # the sweep changes the pictures
    frames = animation.last_image
    np.testing.assert_array_equal(frames[0, ..., 0], first)
    # Rows in order of KL, largest first: the top row moves the most from -3 to 3.
    order = plotting.dims_by_kl(model, images[:3])
    kl = np.mean(np.asarray(model.kl_per_dim(images[:3])), axis=0)
    assert list(order) == sorted(range(4), key=lambda d: -kl[d])
    events = glob.glob(str(tmp_path / "images" / "events.out.tfevents.*"))
    counts = [
        len(value.tensor.string_val) - 2  # width, height, then one PNG per frame
        for event in tf.compat.v1.train.summary_iterator(events[0])
        for value in event.summary.value
    ]
    assert counts == [5]


def test_a_static_traversal_of_chosen_dims(images):
    model = _fit(images, [], epochs=1)
    frames = plotting.traversal_frames(model, images[:2], dims=[1, 3], steps=3)
    assert frames.shape == (3, 2 * 29 - 1, 2 * 29 - 1, 1) and frames.dtype == np.uint8
    with pytest.raises(ValueError, match="argument frames"):
        plotting.encode_gif(frames.astype("float32"))
    with pytest.raises(ValueError, match="argument steps"):
        keras_vae.visualization.TraversalAnimation(images[:2], steps=1)
