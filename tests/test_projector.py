"""The latent means in TensorBoard's projector layout, which the projector plugin reads."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from PIL import Image
from tensorboard.plugins import projector as tb_projector

import keras_vae
from keras_vae.data import shapes
from keras_vae.visualization import LatentProjector, latent, write_projector


@pytest.fixture(scope="module")
def data():
    images, raw = shapes.generate(50, image_size=16, seed=3)
    return images, shapes.factor_array(raw)


def _model():
    return keras_vae.VAE.from_shape((16, 16, 1), latent_dim=3, seed=0)


def _config(directory):
    config = tb_projector.ProjectorConfig()
    with open(os.path.join(directory, "projector_config.pbtxt")) as f:
        text_format.Parse(f.read(), config)
    return config


def test_the_callback_writes_codes_metadata_and_sprite_the_projector_reads(data, tmp_path):
    images, factors = data
    model = _model()
    model.compile(optimizer="adam")
    callback = LatentProjector(
        images,
        tmp_path,
        labels=factors[:, 0].astype(int),
        factors=factors[:, 1:3],
        factor_names=["scale", "rotation"],
    )
    model.fit(images, epochs=2, batch_size=25, verbose=0, callbacks=[callback])
    directory = tmp_path / "projector"
    config = _config(directory)
    (embedding,) = config.embeddings
    reader = tf.train.load_checkpoint(str(directory / config.model_checkpoint_path))
    codes = reader.get_tensor(embedding.tensor_name)
    np.testing.assert_allclose(codes, latent.encode_mean(model, images), rtol=1e-6)
    assert config.model_checkpoint_path == "embedding-0001"  # the second epoch's; the first's gone
    assert sorted(p for p in os.listdir(directory) if p.startswith("embedding-0000")) == []
    rows = (directory / embedding.metadata_path).read_text().splitlines()
    assert rows[0] == "label\tscale\trotation" and len(rows) == 51
    assert rows[1].split("\t")[0] == str(int(factors[0, 0]))
    with Image.open(directory / embedding.sprite.image_path) as sprite:
        assert sprite.size == (8 * 16, 8 * 16)  # 50 images in an 8 x 8 square
    assert list(embedding.sprite.single_image_dim) == [16, 16]
    assert not [p for p in os.listdir(directory) if p.startswith(".")]  # no temporary files


def test_one_column_has_no_header_and_vectors_have_no_sprite(tmp_path):
    table = np.random.default_rng(0).normal(size=(20, 6)).astype("float32")
    model = keras_vae.VAE.from_shape((6,), latent_dim=2, seed=0)
    write_projector(model, table, tmp_path, {"label": np.arange(20)})
    config = _config(tmp_path / "projector")
    rows = (tmp_path / "projector" / "metadata.tsv").read_text().splitlines()
    assert rows == [str(i) for i in range(20)]
    assert not config.embeddings[0].sprite.image_path


def test_bad_metadata_is_refused_before_training(data, tmp_path):
    images, factors = data
    with pytest.raises(ValueError, match=r"argument metadata\['label'\]. Expected one value"):
        LatentProjector(images, tmp_path, labels=np.arange(49))
    with pytest.raises(ValueError, match="argument factor_names"):
        LatentProjector(images, tmp_path, factors=factors, factor_names=["a"])
    with pytest.raises(ValueError, match="argument images. Expected at most"):
        # 20,000 images of 64 x 64 (a view of one, no memory): 141 a side, 128 fit.
        many = np.broadcast_to(np.zeros((1, 64, 64, 1), "float32"), (20000, 64, 64, 1))
        LatentProjector(many, tmp_path)
    assert not os.path.exists(tmp_path / "projector")
    keras.backend.clear_session()
