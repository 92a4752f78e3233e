"""Recipes: a model described by flat settings, as presets and run configs hold them.

A recipe names its model family (`model`, default `"VAE"`) and sets any of:

    the model's own  latent_dim, num_classes, alpha, seed; latent_dims, top_down_units (a
                     HierarchicalVAE's)
    its parts        likelihood, posterior, prior, objective (aliases), and their arguments:
                     gaussian_scale; flow_steps, flow_units; beta, free_bits,
                     kl_warmup_steps, kl_schedule, kl_cycle_steps, num_samples;
                     tc_alpha, tc_gamma, tc_estimator, dataset_size (objective tcvae)
    its networks     encoder_filters, decoder_filters, dense_units, kernel_size,
                     residual_blocks, hidden_units, classifier_dropout

`build` turns one into a model for data of a given shape, with the default networks.
A setting the chosen part does not take (free_bits with IWAE, flow_steps with a Gaussian
posterior) is refused, naming both. `keras_vae.training.TrainConfig` has one field per
setting, so that the command line reaches each of them.
"""

import inspect

import keras

from keras_vae import validation
from keras_vae.models import likelihoods, networks, objectives, parts, posteriors, priors
from keras_vae.models.base import LatentVariableModel

#: Each part's kind, its base class, its default, and {recipe setting: the part's argument}.
PARTS = {
    "likelihood": (likelihoods.Likelihood, None, {"gaussian_scale": "scale"}),
    "posterior": (posteriors.Posterior, "gaussian", {"flow_steps": "steps", "flow_units": "units"}),
    "prior": (priors.Prior, "standard_normal", {}),
    "objective": (
        objectives.Objective,
        "elbo",
        {
            "beta": "beta",
            "free_bits": "free_bits",
            "kl_warmup_steps": "warmup_steps",
            "kl_schedule": "schedule",
            "kl_cycle_steps": "cycle_steps",
            "num_samples": "num_samples",
            "tc_alpha": "alpha",
            "tc_gamma": "gamma",
            "tc_estimator": "estimator",
            "dataset_size": "dataset_size",
        },
    ),
}
#: The settings of the default networks.
ARCHITECTURE = (
    *networks.CONV_ARCHITECTURE,
    *networks.MLP_ARCHITECTURE,
    *networks.CLASSIFIER_ARCHITECTURE,
)
#: The model's own settings, passed to its family's `from_shape` when given.
MODEL = ("latent_dim", "latent_dims", "top_down_units", "num_classes", "alpha", "seed")
#: Every setting a recipe may hold about the model.
SETTINGS = (
    "model",
    *PARTS,
    *(s for _, _, args in PARTS.values() for s in args),
    *ARCHITECTURE,
    *MODEL,
)


def build(recipe, data_shape, *, dtype=None, networks=None):
    """A model for data of `data_shape` from `recipe` (settings not about the model are ignored).

    With `networks` ({"encoder": ..., "decoder": ...}, and "classifier" for a family with
    classes), the recipe's parts go with your networks instead of the default ones, and
    its architecture settings are ignored.

    Examples:

        >>> build({"latent_dim": 2, "beta": 4.0}, (28, 28, 1)).objective.beta
        4.0
    """
    recipe = {k: v for k, v in recipe.items() if k in SETTINGS and v is not None}
    family = model_class(recipe.get("model"))
    made = {kind: make_part(kind, recipe, data_shape) for kind in PARTS}
    architecture = {k: recipe[k] for k in ARCHITECTURE if k in recipe}
    own = {k: recipe[k] for k in MODEL if k in recipe}
    accepted = _accepted(family, "__init__") | _accepted(family, "from_shape")
    for name in own:
        if name not in accepted:
            raise validation.invalid(
                name, f"None for a {family.__name__}, which takes no {name}", own[name]
            )
    if networks:
        own.pop("latent_dim", None)  # the networks say it
        return family(**networks, **made, **own, dtype=dtype)
    return family.from_shape(data_shape, architecture=architecture, dtype=dtype, **made, **own)


def from_preset(family, name, learning_rate=None, steps_per_epoch=None, overrides=None):
    """`LatentVariableModel.from_preset`: preset `name`'s compiled model, which must be of
    `family` (or a subclass), with `overrides` (settings, or your own networks)."""
    from keras_vae.models import optimizers, presets

    overrides = dict(overrides or {})
    networks = {k: overrides.pop(k) for k in ("encoder", "decoder", "classifier") if k in overrides}
    recipe = {**presets.get(name), **overrides}
    named = model_class(recipe.get("model"))
    if not issubclass(named, family):
        raise validation.invalid(
            "name",
            f"a preset of a {family.__name__} (or a subclass)",
            validation.Described(f"{name!r}, a preset of a {named.__name__}"),
        )
    if steps_per_epoch is not None:
        validation.check_int("steps_per_epoch", steps_per_epoch, minimum=1)
    input_shape = recipe.pop("input_shape")
    model = build(recipe, input_shape, networks=networks)
    schedule = recipe.get("lr_schedule", "constant")
    rate = learning_rate or recipe["learning_rate"]
    model.compile(optimizer=optimizers.for_run(rate, schedule, recipe["epochs"], steps_per_epoch))
    return model


def make_part(kind, recipe, data_shape):
    """The `kind` part a recipe describes: its alias (or the default) with its settings."""
    base, default, arguments = PARTS[kind]
    name = recipe.get(kind) or (
        likelihoods.default_for(data_shape) if kind == "likelihood" else default
    )
    choices = parts.registered(base)
    if name not in choices:
        return parts.get(name, base, kind)  # the package's error, listing the choices
    # A setting of None is the part's default (as a TrainConfig field left unset).
    set_ = {setting for setting in arguments if recipe.get(setting) is not None}
    given = {arg: recipe[setting] for setting, arg in arguments.items() if setting in set_}
    accepted = _accepted(choices[name], "__init__")
    for setting, arg in arguments.items():
        if setting in set_ and arg not in accepted:
            raise validation.invalid(
                setting, f"None with {kind}={name!r}, which takes no {arg}", recipe[setting]
            )
    return choices[name](**given)


def families():
    """{name: class} of the model families defined so far (subclasses of the interface)."""
    found, stack = {}, [LatentVariableModel]
    while stack:
        cls = stack.pop()
        if cls is not LatentVariableModel:
            found.setdefault(cls.__name__, cls)
        stack.extend(cls.__subclasses__())
    return dict(sorted(found.items()))


def model_class(name):
    """The model family `name` names (`"VAE"`, `"ConditionalVAE"`, or a registered
    `"package>Class"`), default `VAE`."""
    return resolve_class(name or "VAE")


def resolve_class(name):
    """The class Keras registered as `name` (`"keras_vae>VAE"`, or `"VAE"` in this package)."""
    registered = keras.saving.get_registered_object(
        name if ">" in str(name) else f"keras_vae>{name}"
    )
    if not (isinstance(registered, type) and issubclass(registered, LatentVariableModel)):
        raise validation.invalid(
            "model",
            f"a model family: one of {list(families())} or a registered 'package>Class'",
            name,
        )
    return registered


def _accepted(cls, method):
    """The named arguments `cls.method` takes, through the **kwargs it passes up its bases."""
    names = set()
    for base in cls.__mro__:
        if method in base.__dict__:
            names |= set(inspect.signature(getattr(base, method)).parameters)
    return names
