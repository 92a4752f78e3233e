"""The conditional VAE with a classifier: Kingma et al. (2014)'s M2, for few labels or all.

p(x | y, z) and q(z | x, y) take the class y one-hot; q(y | x) is a classifier trained
with them. A labelled example (y >= 0) costs -ELBO(x, y) + alpha * CE(q(y|x), y); an
unlabelled one (y = -1) costs sum_y q(y|x) (-ELBO(x, y)) - H(q(y|x)), with every class
evaluated in one batch. -ELBO(x, y) includes -log p(y) = log C (a uniform prior), so the
loss is a bound on -log p(x, y), or on -log p(x) for unlabelled digits.
"""

import copy
import math
import types
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_vae import validation
from keras_vae.models import networks
from keras_vae.models.vae import VAE

#: The label of an example whose class is not known.
UNLABELLED = -1
#: The least share of every batch that `keras_vae.data.from_array` fills with labelled
#: examples when some are unlabelled.
LABELLED_FRACTION = 0.25


@keras.saving.register_keras_serializable(package="keras_vae")
class LabelledMean(keras.metrics.Mean):
    """A mean over the labelled examples: NaN, not 0, when a batch or epoch has none."""

    def result(self):
        return tf.where(self.count > 0, super().result(), tf.constant(np.nan, self.dtype))


@keras.saving.register_keras_serializable(package="keras_vae")
class ConditionalVAE(VAE):
    """A class-conditional VAE with a jointly trained classifier (M2, Kingma et al. 2014).

    `fit` takes `(x, labels)` batches of integer labels in [-1, num_classes), where -1
    marks an unlabelled example, so one dataset can mix both kinds. With every label
    given it is a plain conditional VAE whose classifier is trained alongside.
    `keras_vae.data.from_array(x, labels=...)` gives the few labelled examples a fair
    share of every batch.

    Args:
        encoder: a Keras model taking `[x, labels]` (labels one-hot, (batch, num_classes))
            to `[z_mean, z_log_var]` (or one tensor of width 2 * latent_dim). Default:
            `networks.conv_encoder(..., num_classes=C)` for images, the MLP otherwise.
        decoder: a Keras model taking `[z, labels]` to the likelihood's parameters.
        classifier: a Keras model taking x to float logits (batch, num_classes). Default:
            the encoder's layers (`networks.default_classifier`), then `classifier_dropout`.
        num_classes: the number of classes C, >= 2.
        alpha: weight of the classifier's cross-entropy on labelled examples.
        classifier_dropout: dropout rate before the default classifier's logits.
        **kwargs: the arguments of `keras_vae.VAE` (likelihood, objective, beta, ...).

    Example:

    >>> model = ConditionalVAE(num_classes=10, latent_dim=8)
    >>> model.compile(optimizer="adam")
    >>> model.sample(3, labels=7, seed=0).shape
    TensorShape([3, 28, 28, 1])
    """

    def __init__(
        self, encoder=None, decoder=None, classifier=None, *, num_classes=None, alpha=1.0,
        classifier_dropout=0.0, name="conditional_vae", **kwargs,
    ):  # fmt: skip
        if num_classes is None:
            raise validation.invalid("num_classes", "the number of classes, an int >= 2", None)
        self.num_classes = validation.check_int("num_classes", num_classes, minimum=2)
        self.alpha = validation.check_float("alpha", alpha)
        self.classifier_dropout = validation.check_float("classifier_dropout", classifier_dropout)
        if self.classifier_dropout >= 1.0:
            raise validation.invalid("classifier_dropout", "a rate in [0, 1)", classifier_dropout)
        # Held out of Keras's tracking until `_add_parts`, so that the layers' order (and
        # the optimizer's variables) are the same when the model is built and when loaded.
        self._given = types.SimpleNamespace(classifier=classifier)
        super().__init__(encoder, decoder, name=name, **kwargs)

    def _add_parts(self):
        classifier = self._given.classifier
        del self._given
        if classifier is None:
            classifier = networks.default_classifier(
                self.data_shape, self.num_classes, self.architecture, self.classifier_dropout,
                self.dtype_policy,
            )  # fmt: skip
        networks.check_classifier(classifier, self.data_shape, self.num_classes)
        self.classifier = classifier
        self.classifier_tracker = LabelledMean(name="classifier_loss")
        self.accuracy_tracker = LabelledMean(name="accuracy")

    def _label_width(self):
        return self.num_classes

    # ----------------------------------------------------------------- inference

    def classify(self, x):
        """q(y|x): float32 class probabilities of shape (batch, num_classes)."""
        return tf.nn.softmax(self._logits(self._as_batch(x, "x"), training=False))

    def posterior_parameters(self, x, training=False, labels=None):
        """What `encode` returns, for a tensor batch x; y is the classifier's best guess
        when None."""
        return self._encoding(self._given_labels(x, training, labels))

    def posterior(self, x, training=False, labels=None):
        """q(z|x, y) as a TFP distribution (see `VAE.posterior`); y as in `encode`."""
        return self._distribution(*self._given_labels(x, training, labels))

    def _given_labels(self, x, training, labels):
        if labels is None:
            labels = tf.argmax(self._logits(x, training), axis=-1)
        return self._posterior(x, self._one_hot(labels), training)

    def encode(self, x, labels=None):
        """(z_mean, z_log_var) of q(z|x, y), each (batch, latent_dim).

        `labels`: one class per example, an int for all, or None for the classifier's
        most probable class. For a flow posterior, see `VAE.encode`.
        """
        x = self._as_batch(x, "x")
        labels = None if labels is None else self._check_labels(labels, x.shape[0])
        return self.posterior_parameters(x, labels=labels)

    def decode(self, z, labels):
        """The mean of p(x|y, z) for latent vectors z and their classes (one per z, or an int)."""
        z = tf.convert_to_tensor(z, dtype=tf.float32)
        validation.check_batch_shape("z", z.shape, (self.latent_dim,), what="latent vectors")
        one_hot = self._one_hot(self._check_labels(labels, z.shape[0]))
        return self.likelihood.mean(self.decoder([z, one_hot], training=False))

    def sample(self, n, labels=None, seed=None):
        """Decodes `n` draws z ~ N(0, I) with the given classes (an int, one per sample, or
        None for classes drawn uniformly); returns the means of p(x|y, z)."""
        n = validation.check_int("n", n, minimum=1)
        if labels is None:
            labels = np.random.default_rng(seed).integers(self.num_classes, size=n)
        labels = self._check_labels(labels, n)
        return self.decode(keras.random.normal((n, self.latent_dim), seed=seed), labels)

    def reconstruct(self, x, labels=None):
        """Encodes to the posterior mean given y (or the classifier's guess) and decodes it."""
        x = self._as_batch(x, "x")
        labels = self._check_labels(labels, x.shape[0]) if labels is not None else tf.argmax(
            self._logits(x, False), axis=-1
        )  # fmt: skip
        z_mean, _ = self.posterior_parameters(x, labels=labels)
        return self.likelihood.mean(self.decoder([z_mean, self._one_hot(labels)], training=False))

    def call(self, inputs, training=False):
        labels = tf.argmax(self._logits(inputs, training), axis=-1)
        posterior = self._given_labels(inputs, training, labels)
        z = self._draw(posterior)[0] if training else self._encoding(posterior)[0]
        return self.likelihood.mean(self.decoder([z, self._one_hot(labels)], training=training))

    def _logits(self, x, training):
        return tf.cast(self.classifier(x, training=training), tf.float32)

    def _one_hot(self, labels):
        return tf.one_hot(tf.cast(labels, tf.int32), self.num_classes, dtype=tf.float32)

    def _check_labels(self, labels, n):
        """`labels` (an int, or n of them) as an int32 tensor (n,) of classes, or raises."""
        array = np.asarray(labels.numpy() if hasattr(labels, "numpy") else labels)
        if array.ndim == 0:
            array = np.full([n], array)
        validation.check_labels("labels", array, n, self.num_classes, allow_unlabelled=False)
        return tf.constant(array, tf.int32)

    # ------------------------------------------------------------------ training

    def loss_terms(self, x, labels, training=False):
        """Per-example M2 terms for a batch of x and int labels (-1: unlabelled).

        Returns a dict of float32 (batch,) tensors: `loss` (-ELBO(x, y) + alpha * CE for
        labelled examples, the expectation over q(y|x) minus its entropy for unlabelled
        ones), `reconstruction_loss` and `kl_loss` (expected under q(y|x) when unlabelled),
        `classifier_loss` and `accuracy` (meaningful where `labelled` is 1), `labelled`.
        """
        classes = self.num_classes
        labels = tf.cast(labels, tf.int32)
        logits = self._logits(x, training)
        index_l = tf.cast(tf.where(labels >= 0)[:, 0], tf.int32)
        index_u = tf.cast(tf.where(labels < 0)[:, 0], tf.int32)
        count_l = tf.shape(index_l)[0]
        # One row per labelled example, C rows (one per class) per unlabelled one.
        x_u = tf.repeat(tf.gather(x, index_u), classes, axis=0)
        rows_x = tf.concat([tf.gather(x, index_l), x_u], axis=0)
        all_classes = tf.tile(tf.range(classes), [tf.shape(index_u)[0]])
        rows_y = tf.concat([tf.gather(labels, index_l), all_classes], axis=0)
        objective, reconstruction, kl = self._bound_terms(rows_x, self._one_hot(rows_y), training)
        objective += math.log(classes)  # -log p(y), p(y) uniform
        logits_l, logits_u = tf.gather(logits, index_l), tf.gather(logits, index_u)
        q_u, log_q_u = tf.nn.softmax(logits_u), tf.nn.log_softmax(logits_u)

        def per_example(labelled_rows, class_rows, extra_u=0.0):
            expected = tf.reduce_sum(q_u * tf.reshape(class_rows, [-1, classes]), axis=-1)
            return tf.dynamic_stitch([index_l, index_u], [labelled_rows, expected + extra_u])

        labels_l = tf.gather(labels, index_l)
        cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels_l, logits_l)
        negative_entropy = tf.reduce_sum(q_u * log_q_u, axis=-1)
        loss = per_example(objective[:count_l] + self.alpha * cross_entropy,
                           objective[count_l:], negative_entropy)  # fmt: skip
        zeros_u = tf.zeros_like(index_u, tf.float32)
        correct = tf.cast(tf.equal(tf.argmax(logits_l, -1, tf.int32), labels_l), tf.float32)
        return {
            "loss": loss,
            "reconstruction_loss": per_example(reconstruction[:count_l], reconstruction[count_l:]),
            "kl_loss": per_example(kl[:count_l], kl[count_l:]),
            "classifier_loss": tf.dynamic_stitch([index_l, index_u], [cross_entropy, zeros_u]),
            "accuracy": tf.dynamic_stitch([index_l, index_u], [correct, zeros_u]),
            "labelled": tf.cast(labels >= 0, tf.float32),
        }

    def _step_terms(self, data, training):
        x, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = validation.assert_valid_batch(x, self.likelihood.requires_unit_interval)
        if labels is None:  # e.g. evaluate() on digits without labels: all unlabelled
            labels = tf.fill(tf.shape(x)[:1], UNLABELLED)
        labels = validation.assert_valid_labels(labels, self.num_classes)
        terms = self.loss_terms(x, labels, training=training)
        labelled = terms["labelled"]
        return terms["loss"], {
            "reconstruction_loss": (terms["reconstruction_loss"], None),
            "kl_loss": (terms["kl_loss"], None),
            "classifier_loss": (terms["classifier_loss"], labelled),
            "accuracy": (terms["accuracy"], labelled),
        }

    @property
    def metrics(self):
        return [*super().metrics, self.classifier_tracker, self.accuracy_tracker]

    def _check_targets(self, y, x, training=True):
        """Labels: refused when not integers in [-1, C); needed to train, not to evaluate."""
        spec = x.element_spec if isinstance(x, tf.data.Dataset) else None
        if spec is not None:
            labelled = isinstance(spec, tuple) and len(spec) > 1
            if (training or labelled) and not (labelled and spec[1].dtype.is_integer):
                raise validation.invalid(
                    "x", "a dataset of (x, labels) batches with integer labels (-1: unlabelled), "
                    "e.g. keras_vae.data.from_array(x, labels=labels)",
                    validation.Described(f"a dataset whose elements are {spec}"),
                )  # fmt: skip
            return
        if y is None and isinstance(x, np.ndarray) and training:
            raise validation.invalid("y", "integer labels, one per example (-1: unlabelled)", y)
        if y is None:
            return
        labels = validation.check_labels("y", y, len(x) if hasattr(x, "__len__") else None,
                                         self.num_classes, require_labelled=training)  # fmt: skip
        share = float(np.mean(labels >= 0))
        if training and share < LABELLED_FRACTION:
            warnings.warn(
                f"Only {share:.1%} of the examples are labelled, and fit() slices arrays in "
                "order: most batches hold no label. keras_vae.data.from_array(x, labels) gives "
                f"them {LABELLED_FRACTION:.0%} of every batch.", UserWarning, stacklevel=3,
            )  # fmt: skip

    # ------------------------------------------------------------- serialization

    def get_config(self):
        return {
            **super().get_config(),
            "classifier": keras.saving.serialize_keras_object(self.classifier),
            "num_classes": self.num_classes,
            "alpha": self.alpha,
            "classifier_dropout": self.classifier_dropout,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("classifier"), dict):
            # A deep copy: deserializing consumes the dict.
            config["classifier"] = keras.saving.deserialize_keras_object(
                copy.deepcopy(config["classifier"])
            )
        return super().from_config(config)
