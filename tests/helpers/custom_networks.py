"""A user's own networks, as a user module would define them (registered, subclassed)."""

import keras


@keras.saving.register_keras_serializable(package="my_project")
class TwoLayerEncoder(keras.layers.Layer):
    """A subclassed encoder returning one tensor of width 2 * latent_dim."""

    def __init__(self, latent_dim, units=16, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim, self.units = latent_dim, units
        self.hidden = keras.layers.Dense(units, activation="tanh")
        self.out = keras.layers.Dense(2 * latent_dim)

    def call(self, x):
        return self.out(self.hidden(keras.ops.reshape(x, (keras.ops.shape(x)[0], -1))))

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "units": self.units}


@keras.saving.register_keras_serializable(package="my_project")
class TwoLayerDecoder(keras.layers.Layer):
    """A subclassed decoder: z -> (features,) parameters."""

    def __init__(self, features, units=16, **kwargs):
        super().__init__(**kwargs)
        self.features, self.units = features, units
        self.hidden = keras.layers.Dense(units, activation="tanh")
        self.out = keras.layers.Dense(features)

    def call(self, z):
        return self.out(self.hidden(z))

    def get_config(self):
        return {**super().get_config(), "features": self.features, "units": self.units}
