"""What a model exports: its serving signatures, as `Endpoint`s for `keras_vae.export`."""

import collections

#: One serving signature: a graph-safe function of named tensors returning a dict of
#: tensors, its inputs {name: (shape, dtype)}, and the LiteRT file that holds it (or None).
Endpoint = collections.namedtuple("Endpoint", "function inputs tflite")


def standard_endpoints(model, encode, reconstruct, decode, sample):
    """A model's `serving_endpoints` from graph-safe functions of the data (encode, reconstruct),
    of a top-layer z (decode) and of a prior sample's noise (sample)."""
    data = ((None, *model.data_shape), "float32")
    return {
        "serving_default": Endpoint(reconstruct, {model.data_name: data}, None),
        "reconstruct": Endpoint(reconstruct, {model.data_name: data}, None),
        "encode": Endpoint(encode, {model.data_name: data}, "encoder"),
        "decode": Endpoint(decode, {"z": ((None, model.latent_dim), "float32")}, "decoder"),
        "sample": Endpoint(sample, {"eps": ((None, model.sample_noise_dim), "float32")}, "decoder"),
    }
