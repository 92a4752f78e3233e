"""How a model's parts are named: a string, a config dict or an instance becomes a part.

Each kind of part (likelihood, posterior, prior, objective) has a base class; a part class
names itself with `alias`, the string users pass (`VAE(..., posterior="iaf")`). `get`
resolves an identifier as `keras.activations.get` does: an instance is returned as it is, a
string is looked up among the subclasses of the base (every one defined so far, in any
module), a dict is deserialized with Keras.
"""

import keras

from keras_vae import validation


def registered(base):
    """{alias: class} of every subclass of `base` with an alias, defined in any module."""
    found, stack = {}, [base]
    while stack:
        cls = stack.pop()
        if getattr(cls, "alias", None) and cls.__dict__.get("alias"):
            found.setdefault(cls.alias, cls)
        stack.extend(cls.__subclasses__())
    return dict(sorted(found.items()))


def get(identifier, base, argument, **kwargs):
    """The part `identifier` names: an instance of `base`, an alias or a serialized config.

    Args:
        identifier: a `base` instance (returned as it is), one of its subclasses' aliases
            (`kwargs` go to its constructor), or a dict from `keras.saving.serialize_keras_object`.
        base: the kind of part, e.g. `keras_vae.models.posteriors.Posterior`.
        argument: the argument's name, for the error.
        **kwargs: constructor arguments for an alias.

    Returns:
        An instance of `base`.

    Examples:

        >>> get("iaf", posteriors.Posterior, "posterior", steps=4).steps
        4
    """
    choices = registered(base)
    if isinstance(identifier, base) and not kwargs:
        return identifier
    if isinstance(identifier, dict) and not kwargs:
        part = keras.saving.deserialize_keras_object(identifier)
        if isinstance(part, base):
            return part
    if isinstance(identifier, str) and identifier in choices:
        return choices[identifier](**kwargs)
    expected = f"one of {list(choices)}, a {base.__name__} instance, or its config"
    if kwargs and not isinstance(identifier, str):
        expected = f"a name of {list(choices)} when its arguments {sorted(kwargs)} are given"
    raise validation.invalid(argument, expected, identifier)


def alias_of(part):
    """The alias a part was made from, or its class name for a part without one."""
    return getattr(type(part), "alias", None) or type(part).__name__
