"""What a model's config holds: its networks, data shape, seed, dtype policy and parts.

Keras's automatic `get_config` of a subclassed model records defaults, not the arguments:
each family writes its networks and parts explicitly, through `model_config`, and makes
them again in `from_config` through `deserialized_networks`.
"""

import copy

import keras


def model_config(model, base_config, parts):
    """`model.get_config()`: Keras's `base_config`, the networks (encoder, decoder and a
    classifier where there is one), the data shape, seed and dtype policy, and `parts`
    (attribute names), each serialized."""
    config = {
        **base_config,
        "encoder": keras.saving.serialize_keras_object(model.encoder),
        "decoder": keras.saving.serialize_keras_object(model.decoder),
        "input_shape": list(model.data_shape),
        "seed": model.seed,
        "dtype": keras.dtype_policies.serialize(model.dtype_policy),
    }
    for part in parts:
        config[part] = keras.saving.serialize_keras_object(getattr(model, part))
    return config


def deserialized_networks(config):
    """A copy of a model's config with its networks (encoder, decoder, classifier) made from
    their serialized configs (deep copies: deserializing consumes the dict)."""
    config = dict(config)
    for key in ("encoder", "decoder", "classifier"):
        if isinstance(config.get(key), dict):
            config[key] = keras.saving.deserialize_keras_object(copy.deepcopy(config[key]))
    return config
