"""Disentanglement metrics: how the dims of a representation line up with known factors.

Each metric takes codes (N, latent_dim) and the factors that made the data (N, num_factors)
as arrays, so it scores any encoder's codes (or the factors themselves). They follow
`disentanglement_lib` (Locatello et al. 2019), whose definitions the papers' figures use:

    mig    the mutual information gap (Chen et al. 2018): per factor, the gap between the
           two codes that know most about it, over its entropy; 20-bin histograms.
    sap    the separated attribute predictability (Kumar et al. 2018): per factor, the gap
           between the two codes that predict it best, one code at a time.
    dci    disentanglement, completeness and informativeness (Eastwood & Williams 2018),
           from gradient-boosted trees' importances of each code for each factor.
    factor_vae_score  (Kim & Mnih 2018): with one factor held fixed, the dim that varies
           least names the factor; the score is how often a majority vote gets it right.

A factor is discrete when its values are integers with at most `MAX_CLASSES` distinct ones
(a shape index), continuous otherwise (a position); `discrete=` says so explicitly.
Continuous factors are binned like the codes where a metric needs classes (MIG, the
FactorVAE score). SAP, DCI and the FactorVAE score fit on the first 80% of the examples and
score the rest; shuffle the examples first if they are ordered.

SAP and DCI fit scikit-learn estimators (`pip install keras-vae[metrics]`).
"""

import numpy as np

from keras_vae import validation
from keras_vae.evaluate.latents import posterior_means

#: Histogram bins of the codes, and of continuous factors, for MIG and the FactorVAE score.
NUM_BINS = 20
#: The most distinct integer values a factor may have and still count as discrete.
MAX_CLASSES = 64
#: The share of the examples that SAP, DCI and the FactorVAE score fit on.
TRAIN_FRACTION = 0.8
#: The keys of `disentanglement`'s result, in its order.
SCORES = (
    "mig",
    "sap",
    "dci_disentanglement",
    "dci_completeness",
    "dci_informativeness",
    "factor_vae_score",
)


def mig(codes, factors, num_bins=NUM_BINS, discrete=None):
    """The mutual information gap: mean over factors of (I(c_a; v) - I(c_b; v)) / H(v), for
    the codes a and b with the most and second-most information about v.

    Args:
        codes: (N, latent_dim) floats, e.g. the posterior means.
        factors: (N, num_factors) floats or ints.
        num_bins: equal-width bins per code (and per continuous factor), an int >= 2.
        discrete: per factor, whether it is discrete (see the module); None: inferred.

    Returns:
        float in [0, 1]: 1 when each factor is known to one code only.

    Examples:

        >>> v = np.random.default_rng(0).uniform(size=(2000, 2))
        >>> round(mig(v, v), 1)
        1.0
    """
    codes, factors, discrete = _checked(codes, factors, discrete, minimum_codes=2)
    num_bins = validation.check_int("num_bins", num_bins, minimum=2)
    binned_codes = _binned(codes, num_bins)
    binned_factors = _factor_classes(factors, discrete, num_bins)
    info = np.array([[_mutual_information(c, v) for v in binned_factors.T] for c in binned_codes.T])
    entropy = np.array([_entropy(v) for v in binned_factors.T])
    top = np.sort(info, axis=0)[::-1]
    return float(np.mean((top[0] - top[1]) / entropy))


def sap(codes, factors, discrete=None):
    """The separated attribute predictability: mean over factors of the gap between the two
    codes that predict the factor best on their own.

    A continuous factor's score for a code is the squared correlation of the two (R^2 of a
    line); a discrete factor's is the held-out accuracy of a linear SVM on that one code
    (`LinearSVC(C=0.01, class_weight="balanced")`, as in disentanglement_lib).

    Args:
        codes, factors, discrete: as in `mig`.

    Returns:
        float in [0, 1].
    """
    codes, factors, discrete = _checked(codes, factors, discrete, minimum_codes=2)
    train, test = _split(len(codes))
    scores = np.zeros((codes.shape[1], factors.shape[1]))
    for j, factor in enumerate(factors.T):
        for i, code in enumerate(codes.T):
            if discrete[j]:
                svm = _sklearn("svm")
                classifier = svm.LinearSVC(C=0.01, class_weight="balanced")
                classifier.fit(code[train, None], factor[train])
                scores[i, j] = np.mean(classifier.predict(code[test, None]) == factor[test])
            else:
                scores[i, j] = _squared_correlation(code, factor)
    top = np.sort(scores, axis=0)[::-1]
    return float(np.mean(top[0] - top[1]))


def dci(codes, factors, discrete=None, seed=0):
    """Disentanglement, completeness and informativeness (Eastwood & Williams 2018).

    For each factor, gradient-boosted trees (scikit-learn's defaults: a classifier for a
    discrete factor, a regressor for a continuous one) predict it from all codes; their
    feature importances R (latent_dim, num_factors) give:
    - disentanglement: per code, 1 - the entropy (base num_factors) of its importance over
      the factors, averaged with weights of each code's share of the importance;
    - completeness: per factor, 1 - the entropy (base latent_dim) of its importance over
      the codes, averaged with weights of each factor's share;
    - informativeness: per factor, the held-out accuracy (discrete) or R^2 (continuous,
      at least 0) of its trees, averaged.

    Args:
        codes, factors, discrete: as in `mig`.
        seed: the trees' random state.

    Returns:
        dict: `disentanglement`, `completeness`, `informativeness`, floats in [0, 1].
    """
    codes, factors, discrete = _checked(codes, factors, discrete)
    seed = validation.check_int("seed", seed, minimum=0)
    ensemble = _sklearn("ensemble")
    train, test = _split(len(codes))
    importance = np.zeros((codes.shape[1], factors.shape[1]))
    informativeness = []
    for j, factor in enumerate(factors.T):
        if discrete[j]:
            trees = ensemble.GradientBoostingClassifier(random_state=seed)
            trees.fit(codes[train], factor[train])
            informativeness.append(np.mean(trees.predict(codes[test]) == factor[test]))
        else:
            trees = ensemble.GradientBoostingRegressor(random_state=seed)
            trees.fit(codes[train], factor[train])
            informativeness.append(max(0.0, trees.score(codes[test], factor[test])))
        importance[:, j] = np.abs(trees.feature_importances_)
    return {
        "disentanglement": _weighted_specificity(importance),
        "completeness": _weighted_specificity(importance.T),
        "informativeness": float(np.mean(informativeness)),
    }


def factor_vae_score(
    codes,
    factors,
    discrete=None,
    batch_size=64,
    num_votes=(5000, 2500),
    num_bins=NUM_BINS,
    seed=0,
):
    """The FactorVAE score (Kim & Mnih 2018), on a fixed set of examples.

    Each vote takes a factor k and one of its values, picks `batch_size` examples with that
    value (from the examples in a bin of a continuous factor), and names the dim whose
    variance across them, over its variance across all examples, is least. A majority
    vote maps each dim to a factor on the training votes (from the first 80% of the
    examples); the score is its accuracy on the others'. Dims whose variance over all
    examples is 0 do not vote.

    Args:
        codes, factors, discrete, num_bins: as in `mig`.
        batch_size: examples per vote, an int >= 2.
        num_votes: (training votes, evaluation votes), ints >= 1 (disentanglement_lib
            takes 10,000 and 5,000 from a generator of fresh examples).
        seed: the votes' random draws.

    Returns:
        float in [0, 1]; chance is 1 / num_factors.
    """
    codes, factors, discrete = _checked(codes, factors, discrete)
    batch_size = validation.check_int("batch_size", batch_size, minimum=2)
    if not (isinstance(num_votes, (tuple, list)) and len(num_votes) == 2):
        raise validation.invalid("num_votes", "(training votes, evaluation votes)", num_votes)
    for count in num_votes:
        validation.check_int("num_votes", count, minimum=1)
    num_bins = validation.check_int("num_bins", num_bins, minimum=2)
    seed = validation.check_int("seed", seed, minimum=0)
    scale = np.var(codes, axis=0)
    active = scale > 0
    if not active.any():
        return 0.0
    classes = _factor_classes(factors, discrete, num_bins)
    rng = np.random.default_rng(seed)
    train, test = _split(len(codes))
    votes = [
        _votes(codes[rows][:, active], scale[active], classes[rows], batch_size, count, rng)
        for rows, count in zip((train, test), num_votes)
    ]
    if not votes[1].sum():  # no value of any factor is shared by two examples
        raise validation.invalid(
            "factors",
            "a value of some factor shared by two or more examples (a vote holds one fixed)",
            validation.Described(f"{len(factors)} examples, no two alike in any factor"),
        )
    owner = np.argmax(votes[0], axis=0)  # each dim's majority factor
    right = votes[1][owner, np.arange(votes[1].shape[1])].sum()
    return float(right / votes[1].sum())


def disentanglement(model, images, factors=None, discrete=None, batch_size=100, seed=0):
    """Every metric of this module on `model`'s codes of `images`: the posterior means
    (`model.encode`'s point, in batches of `batch_size`).

    Args:
        model: a keras_vae model.
        images: examples (N, *data_shape); or a `tf.data.Dataset` of `(x, factors)` batches,
            such as `keras_vae.data.load("shapes", "test", with_factors=True)` or
            `keras_vae.data.from_array(x, factors=f, shuffle=False)`.
        factors: what made the examples (N, num_factors), e.g.
            `keras_vae.data.shapes.factor_array`; None when `images` is a dataset.
        discrete, seed: as in the metrics.

    Returns:
        dict: `mig`, `sap`, `dci_disentanglement`, `dci_completeness`,
        `dci_informativeness` and `factor_vae_score` (`SCORES`).
    """
    if validation.is_dataset(images):
        images, factors = _dataset_factors(images, factors)
    factors = validation.check_factors("factors", factors, len(np.asarray(images)))
    codes = posterior_means(model, images, batch_size)
    scores = dci(codes, factors, discrete, seed)
    return {
        "mig": mig(codes, factors, discrete=discrete),
        "sap": sap(codes, factors, discrete),
        **{f"dci_{name}": value for name, value in scores.items()},
        "factor_vae_score": factor_vae_score(codes, factors, discrete, seed=seed),
    }


# ------------------------------------------------------------------------- helpers


def _checked(codes, factors, discrete, minimum_codes=1):
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] < minimum_codes or len(codes) < 10:
        raise validation.invalid(
            "codes.shape",
            f"(N, latent_dim) with N >= 10 and latent_dim >= {minimum_codes}",
            codes.shape,
        )
    codes = validation.check_array("codes", codes.astype(np.float64))
    factors = validation.check_factors("factors", factors, len(codes))
    if discrete is None:
        discrete = [_looks_discrete(v) for v in factors.T]
    discrete = [bool(d) for d in np.atleast_1d(discrete)]
    if len(discrete) != factors.shape[1]:
        raise validation.invalid(
            "discrete",
            f"one flag per factor ({factors.shape[1]})",
            validation.Described(f"{len(discrete)} flags"),
        )
    for j, (flag, values) in enumerate(zip(discrete, factors.T)):
        if flag and not np.all(values == np.round(values)):
            raise validation.invalid(
                "discrete", f"False for factor {j}, whose values are not integers", flag
            )
        if np.all(values == values[0]):
            raise validation.invalid(
                "factors",
                "factors that vary (a constant one has no entropy to explain)",
                validation.Described(f"factor {j} is {values[0]:g} throughout"),
            )
    return codes.astype(np.float64), factors, discrete


def _dataset_factors(dataset, factors):
    """The examples and factors of a dataset of `(x, factors)` batches, as arrays."""
    if factors is not None:
        raise validation.invalid(
            "factors", "None when the images are a dataset (it yields its own factors)", factors
        )
    spec = dataset.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise validation.invalid(
            "images",
            "a dataset of (x, factors) batches, e.g. keras_vae.data.load('shapes', "
            "with_factors=True) or keras_vae.data.from_array(x, factors=f); or arrays "
            "with factors=",
            validation.Described(f"a dataset of {spec}"),
        )
    batches = list(dataset.as_numpy_iterator())
    if not batches:
        raise validation.invalid("images", "a non-empty dataset", validation.Described("none"))
    return (np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches]))


def _looks_discrete(values):
    return bool(np.all(values == np.round(values)) and len(np.unique(values)) <= MAX_CLASSES)


def _binned(values, num_bins):
    """Each column's equal-width histogram bin index (disentanglement_lib's discretization)."""
    out = np.zeros(values.shape, np.int64)
    for j, column in enumerate(values.T):
        edges = np.histogram_bin_edges(column, num_bins)
        out[:, j] = np.digitize(column, edges[1:-1])
    return out


def _factor_classes(factors, discrete, num_bins):
    """Discrete factors as their values' indices, continuous ones binned."""
    binned = _binned(factors, num_bins)
    for j, flag in enumerate(discrete):
        if flag:
            binned[:, j] = np.unique(factors[:, j], return_inverse=True)[1]
    return binned


def _entropy(labels):
    p = np.bincount(labels) / len(labels)
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def _mutual_information(a, b):
    """I(a; b) in nats of two integer label arrays, from their contingency table."""
    table = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(table, (a, b), 1.0)
    joint = table / len(a)
    pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nonzero = joint > 0
    return float(np.sum(joint[nonzero] * np.log(joint[nonzero] / (pa @ pb)[nonzero])))


def _squared_correlation(a, b):
    cov = np.cov(a, b, ddof=1)
    if cov[0, 0] <= 1e-12 or cov[1, 1] <= 1e-12:
        return 0.0
    return float(cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1]))


def _weighted_specificity(importance):
    """sum over rows of (1 - entropy of the row, base its length) * the row's share."""
    if importance.sum() == 0:
        importance = np.ones_like(importance)
    p = importance + 1e-11
    p = p / p.sum(axis=1, keepdims=True)
    entropy = -np.sum(p * np.log(p), axis=1) / np.log(importance.shape[1])
    share = importance.sum(axis=1) / importance.sum()
    return float(np.sum((1.0 - entropy) * share))


def _split(n):
    cut = int(round(TRAIN_FRACTION * n))
    return np.arange(cut), np.arange(cut, n)


def _votes(codes, scale, classes, batch_size, count, rng):
    """(num_factors, active dims) counts of the dim named by each of `count` votes."""
    num_factors = classes.shape[1]
    votes = np.zeros((num_factors, codes.shape[1]), np.int64)
    members = {}  # factor: the example groups sharing a value, of 2 or more
    for k in range(num_factors):
        groups = [np.flatnonzero(classes[:, k] == value) for value in np.unique(classes[:, k])]
        if groups := [rows for rows in groups if len(rows) >= 2]:
            members[k] = groups
    voters = sorted(members)
    for _ in range(count if voters else 0):
        k = voters[rng.integers(len(voters))]
        rows = members[k][rng.integers(len(members[k]))]
        batch = codes[rng.choice(rows, size=batch_size, replace=len(rows) < batch_size)]
        votes[k, np.argmin(np.var(batch, axis=0, ddof=1) / scale)] += 1
    return votes


def _sklearn(module):
    """A scikit-learn module, or an error saying how to install it."""
    import importlib

    try:
        return importlib.import_module(f"sklearn.{module}")
    except ImportError as error:
        raise ImportError(
            "SAP and DCI fit scikit-learn estimators: pip install keras-vae[metrics] "
            "(or scikit-learn)"
        ) from error
