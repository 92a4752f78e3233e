"""Test driver: runs keras_vae.training.train and dumps the final weights to an .npz file.

Usage: python train_and_dump.py WEIGHTS.npz LOGICAL_CPUS STRATEGY -- keras-vae train args
"""

import sys

import tensorflow as tf

weights_path, logical_cpus, strategy_name = sys.argv[1:4]
if int(logical_cpus) > 1:  # before any other TF op
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * int(logical_cpus)
    )

import numpy as np  # noqa: E402

from keras_vae import cli, training  # noqa: E402
from keras_vae.training import distribute  # noqa: E402

args = cli._parser().parse_args(sys.argv[sys.argv.index("--") + 1 :])
config = training.config_for(args.out, **cli._given_settings(args))
if strategy_name == "mirrored_cpus":
    strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(int(logical_cpus))])
else:
    strategy = distribute.strategy(strategy_name)
result = training.train(config, strategy=strategy)
np.savez(weights_path, *result["model"].get_weights())
print("replicas", strategy.num_replicas_in_sync, "chief", result["is_chief"])
