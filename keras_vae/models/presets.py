"""Named, complete recipes: the model and how to train it, as data.

    model = keras_vae.VAE.from_preset("mnist")               # a compiled VAE
    keras-vae train --preset mnist --dataset mnist --out runs/mnist

Each preset is one flat dict of settings: `model` names its family (a registered model
class), `input_shape` the data it was made for, the model settings of
`keras_vae.models.recipes`, and the training settings it was tuned with (learning rate and
its schedule, batch size, epochs, dynamic binarization, ...), under the names of
`keras_vae.training.TrainConfig`, so that command-line flags override any of them.
"""

import copy

from keras_vae import validation

PRESETS = {
    # The Keras documentation's example (keras.io/examples/generative/vae), rebuilt.
    "keras_example": dict(
        model="VAE",
        input_shape=(28, 28, 1),
        latent_dim=2,
        dense_units=16,
        encoder_filters=(32, 64),
        decoder_filters=(64, 64, 32),
        learning_rate=1e-3,
        batch_size=128,
        epochs=30,
        binarize=False,
    ),
    # Our MNIST model (benchmarks/quality.py): an IAF posterior (2 steps, MADE 64-64) on
    # dynamically binarized digits, a learned mixture of 10 Gaussians as the prior, a 32-d
    # latent, a 512-unit encoder layer and a decoder with two stride-2 transposed convs (64,
    # 32); small batches and a cosine-decayed rate, 40 epochs. The mixture prior was chosen on
    # a validation split (the 8k sample's last 1,000, trained on its first 7,000): 89.70 nats
    # against 91.53 for the standard normal, for 5% more time (RESULTS.md). The ELBO, not
    # IWAE k=4: at the same time budget the twice-faster epochs bought more than k did.
    # Residual blocks were left out: one per stage made an epoch over 3x slower.
    "mnist": dict(
        model="VAE",
        input_shape=(28, 28, 1),
        latent_dim=32,
        dense_units=512,
        encoder_filters=(32, 64),
        decoder_filters=(64, 64, 32),
        posterior="iaf",
        flow_steps=2,
        flow_units=(64, 64),
        prior="mixture",
        learning_rate=1e-3,
        lr_schedule="cosine",
        batch_size=32,
        epochs=40,
        binarize=True,
    ),
    # The quality MNIST model (benchmarks/quality.py): a HierarchicalVAE with three
    # stochastic layers (32, 16 and 8 wide, bottom first) inferred top-down, a learned
    # mixture prior on the top layer, the `mnist` preset's conv networks, a 256-wide
    # top-down state, and the KL warmed up over the first 10 epochs' steps. Chosen on a
    # validation split (the 8k sample's last 1,000, trained on its first 7,000; RESULTS.md):
    # two layers scored 90.09 nats, three 88.43, three with the learned prior 87.46.
    "mnist_hierarchical": dict(
        model="HierarchicalVAE",
        input_shape=(28, 28, 1),
        latent_dims=(32, 16, 8),
        top_down_units=256,
        prior="mixture",
        dense_units=512,
        encoder_filters=(32, 64),
        decoder_filters=(64, 64, 32),
        kl_warmup_steps=2500,
        learning_rate=1e-3,
        lr_schedule="cosine",
        batch_size=32,
        epochs=80,
        binarize=True,
    ),
    # Semi-supervised MNIST (Kingma et al. 2014's M2; benchmarks/semi_supervised.py): a
    # ConditionalVAE whose classifier q(y|x) learns from 10 labels per class and the
    # unlabelled digits. Labelled digits fill a quarter of every batch, each shifted by up to
    # 2 pixels, turned by up to 15 degrees and scaled by up to 10% every time it is drawn
    # (the error fell from 7.9% to 4.7% on the hardest label draw); alpha 20 and dropout 0.5
    # keep the classifier from memorising them. A 3-d z leaves the class to y: with 6 dims z
    # kept part of it, and only 82% of the conditional samples were recognised, against 96%
    # now. 30 epochs win back the accuracy the small z costs (4.8% test error; RESULTS.md).
    "mnist_semi_supervised": dict(
        model="ConditionalVAE",
        input_shape=(28, 28, 1),
        num_classes=10,
        latent_dim=3,
        dense_units=256,
        encoder_filters=(32, 64),
        decoder_filters=(64, 64, 32),
        alpha=20.0,
        classifier_dropout=0.5,
        learning_rate=1e-3,
        lr_schedule="cosine",
        batch_size=64,
        epochs=30,
        binarize=True,
        labelled_fraction=0.25,
        labelled_shift=2,
        labelled_rotation=15.0,
        labelled_zoom=0.1,
    ),
    # Disentangled shapes (benchmarks/disentanglement.py): beta-TCVAE (Chen et al. 2018)
    # with the total correlation weighted by beta = 6 (estimated on minibatch-stratified
    # samples) and the default conv networks, a 10-d latent, batches of 256 for the
    # estimate, 20 epochs of the 16,384 training shapes. `dataset_size` is that split's
    # size; `keras-vae train` counts the run's own data instead. Chosen on the validation
    # split (RESULTS.md): beta 10 scored a lower MIG (0.22 against 0.28 at 20 epochs).
    "shapes_tcvae": dict(
        model="VAE",
        input_shape=(28, 28, 1),
        latent_dim=10,
        dense_units=256,
        encoder_filters=(32, 64),
        decoder_filters=(64, 32),
        objective="tcvae",
        beta=6.0,
        dataset_size=16384,
        learning_rate=1e-3,
        batch_size=256,
        epochs=20,
        binarize=False,
    ),
    # Colour 32x32 (CIFAR-10): 8-bit discretized logistic likelihood, reports bits/dim.
    "cifar10": dict(
        model="VAE",
        input_shape=(32, 32, 3),
        likelihood="logistic",
        latent_dim=128,
        dense_units=1024,
        encoder_filters=(64, 128, 256),
        residual_blocks=1,
        kl_warmup_steps=2000,
        learning_rate=5e-4,
        batch_size=64,
        epochs=50,
        binarize=False,
    ),
}


def get(name):
    """A deep copy of preset `name`: one flat dict of settings.

    Examples:

        >>> get("mnist")["model"], get("mnist")["posterior"]
        ('VAE', 'iaf')
    """
    validation.check_choice("name", name, sorted(PRESETS))
    return copy.deepcopy(PRESETS[name])
