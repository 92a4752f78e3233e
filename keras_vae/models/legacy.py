"""Reading model files saved by keras-vae 0.2: their flat settings become parts.

A 0.2 model's config holds its networks, as now, and every setting flat (`likelihood`
as a name, `beta`, `posterior`, `flow_steps`, ...), with the default networks'
architecture beside them. `translate` turns that into the arguments of today's
constructors. Its weights load unchanged; a flow's are held under `flow/` in a 0.2 file,
which the model is told (`legacy_weight_paths`). Files written before 0.2 held no
networks and are refused.
"""

from keras_vae import validation
from keras_vae.models import likelihoods, networks, objectives, posteriors

#: Settings a 0.2 config holds flat, which name or configure a part.
_FLAT = (
    "beta",
    "kl_warmup_steps",
    "free_bits",
    "num_samples",
    "kl_schedule",
    "kl_cycle_steps",
    "gaussian_scale",
    "flow_steps",
    "flow_units",
)
#: What 0.2 records that the networks now hold themselves.
_DROPPED = (
    "latent_dim",
    *networks.CONV_ARCHITECTURE,
    *networks.MLP_ARCHITECTURE,
    "classifier_dropout",
)


def is_legacy(config):
    """Whether `config` is a 0.2 model's: a part given by name, or a flat setting."""
    return isinstance(config.get("likelihood"), str) or any(key in config for key in _FLAT)


def translate(config):
    """Today's constructor arguments for a 0.2 model's `config`."""
    config = dict(config)
    if not isinstance(config.get("encoder"), dict):
        raise validation.invalid(
            "config",
            "a model saved by keras-vae 0.2 or later (with its networks); load this file with "
            "keras-vae 0.1 and save it with 0.2 first",
            validation.Described("a config without networks"),
        )
    flat = {key: config.pop(key) for key in _FLAT if key in config}
    config["likelihood"] = _likelihood(
        config.get("likelihood", "bernoulli"), flat.get("gaussian_scale")
    )
    config["objective"] = _objective(config.pop("objective", "elbo"), flat)
    posterior = config.pop("posterior", "gaussian")
    steps, units = flat.get("flow_steps"), flat.get("flow_units")
    config["posterior"] = (
        posteriors.get(posterior, steps=steps, units=tuple(units))
        if posterior == "iaf"
        else posterior
    )
    config["legacy_weight_paths"] = posterior == "iaf"
    for key in _DROPPED:
        config.pop(key, None)
    return config


def _likelihood(name, gaussian_scale):
    if name != "gaussian":
        return likelihoods.get(name)
    return likelihoods.Gaussian(scale=gaussian_scale, initial_scale=0.1)  # 0.2's start


def _objective(name, flat):
    settings = dict(
        beta=flat.get("beta", 1.0),
        warmup_steps=flat.get("kl_warmup_steps", 0),
        schedule=flat.get("kl_schedule", "linear"),
        cycle_steps=flat.get("kl_cycle_steps", 0),
        num_samples=flat.get("num_samples", 1),
    )
    if name == "elbo":
        settings["free_bits"] = flat.get("free_bits", 0.0)
    return objectives.get(name, **settings)
