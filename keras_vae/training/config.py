"""`TrainConfig`: every setting of a run, in one place. `keras-vae train` is generated from it.

Each field's metadata holds its command-line help and, where it has them, its choices,
read from the module that owns them. The model fields are the settings of a recipe
(`keras_vae.models.recipes`); one left at None takes the preset's value, else the part's
own default.
"""

import dataclasses
import os

from keras_vae import validation
from keras_vae.models import (
    likelihoods,
    objectives,
    optimizers,
    parts,
    posteriors,
    presets,
    priors,
    recipes,
)
from keras_vae.training.distribute import STRATEGIES

LIKELIHOODS = tuple(parts.registered(likelihoods.Likelihood))
POSTERIORS = tuple(parts.registered(posteriors.Posterior))
PRIORS = tuple(parts.registered(priors.Prior))
OBJECTIVES = tuple(parts.registered(objectives.Objective))
KL_SCHEDULES = objectives.KL_SCHEDULES
MODELS = tuple(recipes.families())
LR_SCHEDULES = optimizers.SCHEDULES
PRESETS = tuple(sorted(presets.PRESETS))

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
JIT_COMPILE = ("auto", "on", "off")


def _field(default, help, choices=None, group="run", **metadata):
    return dataclasses.field(
        default=default, metadata={"help": help, "choices": choices, "group": group, **metadata}
    )


def _model(help, choices=None, **metadata):
    return _field(None, help, choices, group="model", **metadata)


@dataclasses.dataclass
class TrainConfig:
    """Every setting of a run; saved as RUN_DIR/config.json."""

    out: str = _field(None, "run directory", required=True)
    preset: str | None = _field(
        None, "a complete model + training recipe; flags override it", PRESETS
    )
    # Data.
    dataset: str | None = _field(
        None,
        "built-in 'shapes' (offline; the default without --data) "
        "or a tfds name: mnist, fashion_mnist, binarized_mnist, "
        "cifar10, celeb_a, ...",
        group="data",
    )
    data: str | None = _field(
        None,
        "your own data: a .npz file (images, sequences or vectors) or a directory of images",
        group="data",
    )
    npz_key: str = _field("images", "array name inside --data FILE.npz", group="data")
    labels_key: str | None = _field(
        None,
        "integer labels inside --data FILE.npz (-1: unlabelled): trains a ConditionalVAE (M2)",
        group="data",
    )
    with_labels: bool = _field(
        False,
        "train a ConditionalVAE on --dataset's labels (tfds 'label', or the shape for 'shapes')",
        group="data",
    )
    labelled_fraction: float | None = _field(
        None,
        "share of every batch drawn from the labelled "
        "examples when some are -1 (default: theirs, at "
        "least 0.25)",
        group="data",
    )
    labelled_shift: int | None = _field(
        None,
        "shift labelled images by up to this many pixels, "
        "at random, every time they are drawn (default 0)",
        group="data",
    )
    labelled_rotation: float | None = _field(
        None, "turn labelled images by up to this many degrees, at random (default 0)", group="data"
    )
    labelled_zoom: float | None = _field(
        None, "scale labelled images by up to 1 +- this, at random (default 0)", group="data"
    )
    image_size: int | None = _field(None, "resize images to this square size", group="data")
    binarize: bool = _field(
        False,
        "dynamic binarization: new binary pixels every epoch (the "
        "held-out set gets one fixed draw)",
        group="data",
    )
    num_examples: int | None = _field(None, "size of the 'shapes' training set", group="data")
    validation_fraction: float = _field(0.1, "share of --data held out", group="data")
    # Model (None: the preset's, else the part's default).
    model: str | None = _model(
        "the model family (default: ConditionalVAE with labels, else VAE)", MODELS
    )
    latent_dim: int | None = _model("latent dimensions (default 16; a hierarchy's top layer)")
    latent_dims: tuple[int, ...] | None = _model(
        "widths of a HierarchicalVAE's layers z1 ... zL, bottom first (default 32 16 8)"
    )
    top_down_units: int | None = _model("width of a HierarchicalVAE's top-down state (256)")
    likelihood: str | None = _model(
        "default: bernoulli for grey images, else gaussian", LIKELIHOODS
    )
    beta: float | None = _model("weight of the KL term (default 1)")
    kl_warmup_steps: int | None = _model("ramp beta from 0 over this many steps (default 0)")
    kl_schedule: str | None = _model("KL warm-up schedule", KL_SCHEDULES)
    kl_cycle_steps: int | None = _model("cycle length of the cyclical schedule")
    free_bits: float | None = _model("nats per latent dim not penalised (default 0)")
    objective: str | None = _model("training objective (default elbo)", OBJECTIVES)
    num_samples: int | None = _model("z draws per example (k of IWAE; default 1)")
    tc_alpha: float | None = _model("tcvae: weight of the index-code mutual information (1)")
    tc_gamma: float | None = _model("tcvae: weight of the dimension-wise KL (1)")
    tc_estimator: str | None = _model(
        "tcvae: q(z) from minibatch-stratified or -weighted sampling (default mss)",
        objectives.TC_ESTIMATORS,
    )
    dataset_size: int | None = _model(
        "tcvae: the examples q(z) is over (default: the training set's, counted)"
    )
    gaussian_scale: float | None = _model("fixed std of the Gaussian (default: learned)")
    posterior: str | None = _model(
        "q(z|x): a diagonal Gaussian, or iaf (it through an inverse autoregressive flow)",
        POSTERIORS,
    )
    flow_steps: int | None = _model("IAF steps (default 2; posterior iaf only)")
    flow_units: tuple[int, ...] | None = _model(
        "hidden widths of each IAF step's MADE (default 64 64)"
    )
    prior: str | None = _model(
        "p(z) (default standard_normal; mixture: a learned mixture of Gaussians)", PRIORS
    )
    encoder_filters: tuple[int, ...] | None = _model("conv encoder widths (default 32 64)")
    decoder_filters: tuple[int, ...] | None = _model("conv decoder widths (default: reversed)")
    dense_units: int | None = _model("conv encoder's dense layer (default 256)")
    kernel_size: int | None = _model("conv kernel size (default 3)")
    residual_blocks: int | None = _model("residual blocks per conv stage (default 0)")
    hidden_units: tuple[int, ...] | None = _model("MLP widths for vectors/sequences (256 128)")
    num_classes: int | None = _model("classes of a ConditionalVAE (default: the largest label + 1)")
    alpha: float | None = _model("weight of a ConditionalVAE's classifier loss (default 1)")
    classifier_dropout: float | None = _model("dropout before the classifier's logits (default 0)")
    # Training.
    epochs: int = _field(10, "passes over the training data", group="training")
    batch_size: int = _field(128, "global batch, split across replicas", group="training")
    learning_rate: float = _field(1e-3, "Adam's (initial) learning rate", group="training")
    lr_schedule: str = _field(
        "constant", "cosine: decay the rate to 0 over the run", LR_SCHEDULES, group="training"
    )
    seed: int = _field(0, "seed of data order, initialisation and noise", group="training")
    max_skipped_updates: int = _field(
        25, "stop after this many NaN/inf updates in a row", group="training"
    )
    strategy: str = _field(
        "auto",
        "tf.distribute strategy (auto: several GPUs -> mirrored, "
        "TF_CONFIG with several workers -> multi_worker)",
        STRATEGIES,
        group="training",
    )
    precision: str = _field("float32", "dtype policy", PRECISIONS, group="training")
    jit_compile: str = _field(
        "auto",
        "XLA; auto = TensorFlow: on with a GPU, off on CPU (slower there); JAX: on; torch: off",
        JIT_COMPILE,
        group="training",
    )
    checkpoint_every: int | None = _field(
        None, "also back up every N steps (default: every epoch)", group="training", metavar="STEPS"
    )
    # Outputs.
    images: bool = _field(True, "draw reconstructions, samples and the manifold every epoch")
    export_dir: str | None = _field(
        None,
        "publish the trained model to EXPORT_DIR/<run name>/"
        "<version>/ (TF Serving layout); '' for none",
        cli_default="saved_models",
    )
    overwrite: bool = _field(False, "start afresh in --out, removing a run there")
    verbose: str | int = _field(
        "auto",
        "progress: 1 a bar, 2 a line per epoch, 0 silent "
        "(auto: a bar on a terminal, else a line per epoch)",
        ("auto", 0, 1, 2),
    )

    def __post_init__(self):
        if isinstance(self.out, os.PathLike):
            self.out = os.fspath(self.out)
        if not (isinstance(self.out, str) and self.out):
            raise validation.invalid("out", "the run directory, a non-empty path", self.out)
        if self.data is not None and self.dataset is not None:
            raise validation.invalid(
                "dataset", f"None with data={self.data!r} (one source of data)", self.dataset
            )
        if self.data is None and self.dataset is None:
            self.dataset = "shapes"
        for name in ("epochs", "batch_size", "seed", "max_skipped_updates"):
            validation.check_int(name, getattr(self, name), minimum=0 if name == "seed" else 1)
        validation.check_float("learning_rate", self.learning_rate, positive=True)
        for field in dataclasses.fields(self):
            choices = field.metadata.get("choices")
            value = getattr(self, field.name)
            if choices and value is not None:
                validation.check_choice(field.name, value, choices)
        if not 0.0 < self.validation_fraction < 1.0:
            raise validation.invalid(
                "validation_fraction", "a float in (0, 1)", self.validation_fraction
            )
        if self.image_size is not None:
            validation.check_int("image_size", self.image_size, minimum=1)
            _check_fits_in_memory(self.image_size, self.batch_size)
        self._check_labels()

    @property
    def conditional(self):
        """Whether the run trains a `ConditionalVAE` (its data have labels)."""
        return self.labels_key is not None or self.with_labels

    def _check_labels(self):
        if self.labels_key is not None and self.data is None:
            raise validation.invalid(
                "labels_key",
                "None without data=FILE.npz (for a named dataset use with_labels=True)",
                self.labels_key,
            )
        if self.with_labels and self.data is not None:
            raise validation.invalid(
                "with_labels",
                "False with data= (give labels_key: the labels' name in the .npz)",
                self.with_labels,
            )
        labelled_only = (
            "num_classes",
            "alpha",
            "classifier_dropout",
            "labelled_fraction",
            "labelled_shift",
            "labelled_rotation",
            "labelled_zoom",
        )
        given = [name for name in labelled_only if getattr(self, name) is not None]
        if given and not self.conditional:
            preset = f" (preset {self.preset!r} trains a ConditionalVAE)" if self.preset else ""
            raise validation.invalid(
                "labels_key",
                f"the labels' array in data=FILE.npz, or with_labels=True, for "
                f"{', '.join(given)}{preset}",
                self.labels_key,
            )

    def model_arguments(self):
        """The recipe settings this config sets (the model fields that are not None)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.metadata.get("group") == "model" and getattr(self, f.name) is not None
        }


#: A floor on the bytes a conv VAE keeps per input pixel of a training batch: the input (4),
#: the default encoder's first conv (32 float32 channels at a quarter of the pixels: 32),
#: the decoder's mirror of it (32), and their gradients (64). Larger models need more.
_BYTES_PER_PIXEL = 132


def _check_fits_in_memory(image_size, batch_size):
    """Refuses an image size whose training batch cannot fit in this machine's memory."""
    needed = _BYTES_PER_PIXEL * batch_size * image_size**2
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX: no figure to compare with
        return
    if needed > memory:
        raise validation.invalid(
            "image_size",
            f"a size whose training batch fits in memory: a batch of {batch_size} "
            f"images of {image_size}x{image_size} needs at least {needed / 2**30:,.1f} GiB, "
            f"this machine has {memory / 2**30:,.1f} GiB",
            image_size,
        )


def config_for(out, preset=None, **settings):
    """A `TrainConfig`: its defaults, then the preset's settings, then `settings`."""
    base = {}
    if preset:
        names = {f.name for f in dataclasses.fields(TrainConfig)}
        # A preset's dataset_size counts the data it was made for; a run counts its own.
        base = {k: v for k, v in presets.get(preset).items() if k in names - {"dataset_size"}}
    return TrainConfig(out=out, preset=preset, **{**base, **settings})
