"""The conditional VAE with a classifier: Kingma et al. (2014)'s M2, for few labels or all.

p(x | y, z) and q(z | x, y) take the class y one-hot; q(y | x) is a classifier trained
with them. A labelled example (y >= 0) costs -ELBO(x, y) + alpha * CE(q(y|x), y); an
unlabelled one (y = -1) costs sum_y q(y|x) (-ELBO(x, y)) - H(q(y|x)), with every class
evaluated in one batch. -ELBO(x, y) includes -log p(y) = log C (a uniform prior), so the
loss is a bound on -log p(x, y), or on -log p(x) for unlabelled digits.
"""

import math
import types

import keras
import numpy as np
from keras import ops

from keras_vae import backend, validation
from keras_vae.models import labels as labels_lib
from keras_vae.models import network_checks, objectives
from keras_vae.models.serving import Endpoint
from keras_vae.models.vae import VAE


@keras.saving.register_keras_serializable(package="keras_vae")
class ConditionalVAE(VAE):
    """A class-conditional VAE with a jointly trained classifier (M2, Kingma et al. 2014).

    `fit` takes `(x, labels)` batches of integer labels in [-1, num_classes), where -1
    marks an unlabelled example, so one dataset can mix both kinds. With every label
    given it is a plain conditional VAE whose classifier is trained alongside.
    `keras_vae.data.from_array(x, labels=...)` gives the few labelled examples a fair
    share of every batch. Labels follow one rule everywhere (`keras_vae.models.labels`).

    Args:
        encoder: a Keras model taking `[x, labels]` (labels one-hot, (batch, num_classes))
            to `[z_mean, z_log_var]` (see `VAE`).
        decoder: a Keras model taking `[z, labels]` to the likelihood's parameters.
        classifier: a Keras model taking x to float logits (batch, num_classes).
        num_classes: the number of classes C, >= 2.
        alpha: weight of the classifier's cross-entropy on labelled examples.
        **kwargs: the arguments of `keras_vae.VAE` (likelihood, posterior, objective, ...).

    Examples:

        >>> model = ConditionalVAE.from_shape((28, 28, 1), num_classes=10, latent_dim=8)
        >>> model.sample(3, labels=7, seed=0).shape
        TensorShape([3, 28, 28, 1])
    """

    loss_names = ("reconstruction_loss", "kl_loss", "classifier_loss", "accuracy")

    def __init__(
        self,
        encoder,
        decoder,
        classifier,
        *,
        num_classes,
        alpha=1.0,
        name="conditional_vae",
        **kwargs,
    ):
        self.num_classes = validation.check_int("num_classes", num_classes, minimum=2)
        self.alpha = validation.check_float("alpha", alpha)
        # Held out of Keras's tracking until `_add_parts`, so that the layers' order (and the
        # optimizer's variables) stay those of the files 0.2 saved.
        self._given = types.SimpleNamespace(classifier=classifier)
        kwargs["objective"] = objectives.get(kwargs.get("objective", "elbo"))
        objectives.refuse_draws(kwargs["objective"], type(self).__name__)
        super().__init__(encoder, decoder, name=name, **kwargs)

    def _add_parts(self):
        classifier = self._given.classifier
        del self._given
        network_checks.check_classifier(classifier, self.data_shape, self.num_classes)
        self.classifier = classifier

    @classmethod
    def from_shape(cls, input_shape, latent_dim=16, *, num_classes, **kwargs):
        """A model with the default networks for data of `input_shape` and `num_classes`
        classes: the classifier has the encoder's layers, then `classifier_dropout` (an
        `architecture` argument). See `VAE.from_shape`.

        Examples:

            >>> ConditionalVAE.from_shape((28, 28, 1), num_classes=10).num_classes
            10
        """
        return super().from_shape(input_shape, latent_dim, num_classes=num_classes, **kwargs)

    @classmethod
    def _network_classes(cls, kwargs):
        return kwargs["num_classes"]

    # ----------------------------------------------------------------- inference

    @backend.without_gradients
    def classify(self, x):
        return ops.softmax(self._logits(self.check_batch(x), False), axis=-1)

    def _logits(self, x, training):
        return ops.cast(self.classifier(x, training=training), "float32")

    def _encoding_classes(self, x, labels, training):
        """One-hot classes for encoding x: the given ones, the classifier's best guess where
        a label is -1, or everywhere for None."""
        given = None
        if labels is not None:
            given = labels_lib.check(labels, x.shape[0], self.num_classes, unknown_allowed=True)
        if given is not None and (given >= 0).all():
            return labels_lib.one_hot(given, self.num_classes)
        guess = ops.cast(ops.argmax(self._logits(x, training), axis=-1), "int32")
        return labels_lib.one_hot(
            guess if given is None else ops.where(given >= 0, given, guess), self.num_classes
        )

    def _decoding_classes(self, labels, count):
        if labels is None:
            raise validation.invalid(
                "labels",
                "the classes to decode with (an int, or one per z): a conditional model "
                "decodes p(x|y, z)",
                None,
            )
        return labels_lib.one_hot(
            labels_lib.check(labels, count, self.num_classes, unknown_allowed=False),
            self.num_classes,
        )

    def _sampling_labels(self, labels, n, seed):
        if labels is None:  # classes drawn uniformly
            return np.random.default_rng(seed).integers(self.num_classes, size=n)
        return labels

    # ---------------------------------------------------------------- the bound

    def loss_terms(self, x, *, labels=None, training=False):
        """Per-example M2 terms for a batch of x and int labels (-1 or None: unlabelled).

        An unlabelled example is scored with each of the C classes, a labelled one with
        its own (`_class_rows`), all in one batch.

        Returns a dict of float32 (batch,) tensors: `loss` (-ELBO(x, y) + alpha * CE for
        labelled examples, the expectation over q(y|x) minus its entropy for unlabelled
        ones), `reconstruction_loss` and `kl_loss` (expected under q(y|x) when unlabelled),
        `classifier_loss` and `accuracy` (NaN for unlabelled examples).
        """
        x = ops.convert_to_tensor(x)
        batch, classes = ops.shape(x)[0], self.num_classes
        if labels is None:
            labels = ops.full((batch,), labels_lib.UNKNOWN, "int32")
        labels = ops.cast(labels, "int32")
        labelled = labels >= 0
        example, rows_y = self._class_rows(labels, labelled, batch)
        rows_x = ops.take(x, example, axis=0)
        rows = self._loss_terms(rows_x, labels_lib.one_hot(rows_y, classes), training)
        # Row (i, y) into place (i, y) of a (batch, C) table; rows not scored stay 0 and
        # weigh 0 below.
        where = ops.stack([example, rows_y], axis=-1)
        per_class = {k: ops.scatter(where, v, (batch, classes)) for k, v in rows.items()}
        logits = self._logits(x, training)
        log_q = ops.log_softmax(logits, axis=-1)
        q = ops.exp(log_q)
        given = labels_lib.one_hot(ops.maximum(labels, 0), classes)
        # A labelled example weighs its own class's row; an unlabelled one, q(y|x)'s.
        weights = ops.where(labelled[:, None], given, q)

        def expected(name):
            return ops.sum(weights * per_class[name], axis=-1)

        cross_entropy = -ops.sum(given * log_q, axis=-1)
        negative_entropy = ops.sum(q * log_q, axis=-1)
        nan = ops.full((batch,), np.nan, "float32")
        correct = ops.cast(ops.cast(ops.argmax(logits, axis=-1), "int32") == labels, "float32")
        objective = expected("loss") + math.log(classes)  # -log p(y), p(y) uniform
        return {
            "loss": objective + ops.where(labelled, self.alpha * cross_entropy, negative_entropy),
            "reconstruction_loss": expected("reconstruction_loss"),
            "kl_loss": expected("kl_loss"),
            "classifier_loss": ops.where(labelled, cross_entropy, nan),
            "accuracy": ops.where(labelled, correct, nan),
        }

    def _class_rows(self, labels, labelled, batch):
        """(example index, class) of each row to score: on JAX, whose compiled steps need
        shapes that do not depend on how many are labelled, every class of every example;
        elsewhere a labelled example's own class and every class of an unlabelled one
        (fewer rows: 0.3's cost)."""
        classes = self.num_classes
        every = ops.arange(classes, dtype="int32")
        if backend.name() == "jax":
            example = ops.repeat(ops.arange(batch, dtype="int32"), classes)
            return example, ops.tile(every, [batch])
        index_l = ops.cast(ops.where(labelled)[0], "int32")
        index_u = ops.cast(ops.where(ops.logical_not(labelled))[0], "int32")
        example = ops.concatenate([index_l, ops.repeat(index_u, classes)], axis=0)
        unlabelled_y = ops.tile(every, [ops.shape(index_u)[0]])
        return example, ops.concatenate([ops.take(labels, index_l), unlabelled_y], axis=0)

    def evidence(self, x, eps, *, labels=None):
        """M2's evidence of p(x) = (1/C) sum_y p(x|y), summed exactly over the classes with
        the same noise for each: a draw's log-weight is log (1/C) sum_y w_y, an unbiased
        estimate of p(x) whatever the classifier, and its ELBO M2's bound for an unlabelled
        x, sum_y q(y|x) (ELBO(x, y) - log C) + H(q(y|x)). `kl` is q(z|x, y)'s at the
        classifier's most probable y."""
        if labels is not None:
            raise validation.invalid(
                "labels", "None (the evidence of p(x), summed over the classes)", labels
            )
        classes, batch = self.num_classes, ops.shape(x)[0]
        rows_x = ops.tile(x, [classes] + [1] * len(self.data_shape))  # class-major
        rows_y = ops.repeat(ops.arange(classes, dtype="int32"), batch)
        eps_rows = ops.tile(eps, [1, classes, 1])
        per_class = self._evidence(rows_x, labels_lib.one_hot(rows_y, classes), eps_rows)
        log_w, elbo, kl = (
            ops.reshape(per_class[k], (-1, classes, batch)) for k in ("log_weights", "elbo", "kl")
        )
        log_c = math.log(classes)
        log_q_y = ops.log_softmax(self._logits(x, False), axis=-1)  # (batch, classes)
        q_y = ops.exp(log_q_y)
        entropy = -ops.sum(ops.where(q_y > 0, q_y * log_q_y, 0.0), axis=-1)
        weights = ops.transpose(q_y)[None]  # (1, classes, batch)
        guess = ops.transpose(ops.one_hot(ops.argmax(q_y, axis=-1), classes))[None]
        return {
            "log_weights": ops.logsumexp(log_w, axis=1) - log_c,
            "elbo": ops.sum(weights * (elbo - log_c), axis=1) + entropy,
            "kl": ops.sum(guess * kl, axis=1),
        }

    @property
    def floats_per_draw(self):
        return self.num_classes * super().floats_per_draw

    # ------------------------------------------------------------------ serving

    def serving_endpoints(self):
        """`VAE`'s signatures with int32 `labels` (batch,) beside the data or z (-1 in
        `encode` and `reconstruct`: the classifier's guess; `decode` and `sample` need a
        class), `serving_default` reconstructing from the data alone, and `classify`."""
        import tensorflow as tf  # the exports are TensorFlow's

        data, data_spec = self.data_name, ((None, *self.data_shape), "float32")
        labels_spec = ((None,), "int32")

        def encode(x, labels):
            labels, valid = labels_lib.in_graph(labels, self.num_classes, unknown_allowed=True)
            guess = tf.argmax(self._logits(x, False), axis=-1, output_type=tf.int32)
            one_hot = labels_lib.one_hot(tf.where(labels >= 0, labels, guess), self.num_classes)
            params = self._encoded(x, one_hot, False)
            z_mean = self.posterior.point(params)
            outputs = {"z_mean": z_mean, "z_log_var": params.log_var}
            return {k: labels_lib.mask_invalid(v, valid) for k, v in outputs.items()}, one_hot

        def decode(z, labels):
            labels, valid = labels_lib.in_graph(labels, self.num_classes, unknown_allowed=False)
            mean = self.likelihood.mean(
                self._decoded(z, labels_lib.one_hot(labels, self.num_classes), False)
            )
            return {data: labels_lib.mask_invalid(mean, valid)}

        def reconstruct(x, labels):
            encoded, one_hot = encode(x, labels)
            mean = self.likelihood.mean(self._decoded(encoded["z_mean"], one_hot, False))
            return {data: mean}  # NaN where encode's were

        def classify(x):
            return {"probabilities": tf.nn.softmax(self._logits(x, False))}

        with_labels = {data: data_spec, "labels": labels_spec}
        z_spec, eps_spec = (
            ((None, self.latent_dim), "float32"),
            ((None, self.prior.noise_dim), "float32"),
        )
        return {
            "serving_default": Endpoint(
                lambda x: reconstruct(x, tf.fill(tf.shape(x)[:1], -1)), {data: data_spec}, None
            ),
            "reconstruct": Endpoint(reconstruct, with_labels, None),
            "encode": Endpoint(lambda x, labels: encode(x, labels)[0], with_labels, "encoder"),
            "decode": Endpoint(decode, {"z": z_spec, "labels": labels_spec}, "decoder"),
            "sample": Endpoint(
                lambda eps, labels: decode(self.prior.sample(eps), labels),
                {"eps": eps_spec, "labels": labels_spec},
                "decoder",
            ),
            "classify": Endpoint(classify, {data: data_spec}, "classifier"),
        }

    def serving_examples(self, batch):
        examples = super().serving_examples(batch)
        examples["labels"] = (np.arange(batch) % self.num_classes).astype(np.int32)
        return examples

    # ------------------------------------------------------------- serialization

    def get_config(self):
        return {
            **super().get_config(),
            "classifier": keras.saving.serialize_keras_object(self.classifier),
            "num_classes": self.num_classes,
            "alpha": self.alpha,
        }
