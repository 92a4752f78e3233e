"""Choosing a `tf.distribute.Strategy`, and the multi-worker details.

Correctness lives in the model: `VAE.train_step` averages per-example losses over
the global batch and `Sampling` folds the replica id into its seed. This module only
picks and creates strategies, and keeps a worker from hanging on a missing peer.

Strategies are TensorFlow's: on another Keras backend `"auto"` and `"default"` give
`NoStrategy` (one process, the backend's own devices; on JAX,
`keras.distribution.DataParallel` spreads a batch over them), and the others are refused.
"""

import contextlib
import functools
import os
import subprocess
import sys

import tensorflow as tf

from keras_vae import backend, validation

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker", "tpu")
#: Seconds a worker waits for its peers before giving up (override: KERAS_VAE_PEER_TIMEOUT).
DEFAULT_PEER_TIMEOUT = 300.0


def strategy(name="auto", peer_timeout=None):
    """Returns a `tf.distribute.Strategy` by name.

    `"auto"` picks TPUStrategy when a TPU is configured (`TPU_NAME`), then
    MultiWorkerMirroredStrategy when `TF_CONFIG` names several workers, then
    MirroredStrategy when more than one GPU is visible, else the default strategy.

    Args:
        name: one of `STRATEGIES`.
        peer_timeout: seconds a multi-worker process waits for its peers before it
            exits with an error (default `DEFAULT_PEER_TIMEOUT`, or the
            `KERAS_VAE_PEER_TIMEOUT` environment variable).

    Returns:
        A `tf.distribute.Strategy`; build and compile the model in its `scope()`.

    Examples:

        >>> with strategy("auto").scope():
        ...     model = keras_vae.VAE()
        ...     model.compile(optimizer="adam")
    """
    validation.check_choice("name", name, STRATEGIES)
    if not backend.is_tensorflow():
        if name in ("auto", "default") and num_workers() == 1:
            return NoStrategy()
        backend.require_tensorflow(
            f"strategy={name!r} (tf.distribute)",
            "on JAX, use keras.distribution.DataParallel for several devices",
        )
    if name == "auto":
        name = _auto()
    if name == "multi_worker":
        return _multi_worker(peer_timeout)
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if name == "mirrored":
        return _mirrored()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    return tf.distribute.get_strategy()


class NoStrategy:
    """What `strategy` gives on a backend without tf.distribute: a scope that does nothing."""

    num_replicas_in_sync = 1

    def scope(self):
        return contextlib.nullcontext()


@functools.cache
def _mirrored():
    """The process's one MirroredStrategy: a second one reuses the first's collective keys, so
    training another model under it fails with a shape mismatch (tensorflow/tensorflow#62790)."""
    return tf.distribute.MirroredStrategy()


def num_workers():
    """Number of workers `TF_CONFIG` names (1 without it)."""
    cluster, _, _ = _cluster()
    return len(cluster.get("worker", [])) + len(cluster.get("chief", [])) or 1


def is_chief():
    """True for the one process that writes outputs (always true on one machine)."""
    cluster, task_type, task_index = _cluster()
    if task_type is None or num_workers() == 1:
        return True
    if "chief" in cluster:
        return task_type == "chief"
    return task_type == "worker" and task_index == 0


def task_id():
    """This process's `type_index` in TF_CONFIG, e.g. `worker_1` (`chief_0` on one machine)."""
    _, task_type, task_index = _cluster()
    return f"{task_type or 'chief'}_{task_index}"


def _cluster():
    """(cluster dict, task type or None, task index) from TF_CONFIG: the one place that reads it."""
    if not os.environ.get("TF_CONFIG", "").strip():  # unset or empty: one machine
        return {}, None, 0
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    return resolver.cluster_spec().as_dict(), resolver.task_type, int(resolver.task_id or 0)


def _auto():
    if os.environ.get("TPU_NAME"):
        return "tpu"
    if num_workers() > 1:
        return "multi_worker"
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return "mirrored"
    return "default"


def _multi_worker(peer_timeout):
    if num_workers() < 2:
        raise ValueError(
            "The multi_worker strategy needs TF_CONFIG naming at least two workers, e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}. '
            f"Received: {num_workers()} worker(s)"
        )
    timeout = float(peer_timeout or os.environ.get("KERAS_VAE_PEER_TIMEOUT", DEFAULT_PEER_TIMEOUT))
    with _watchdog(timeout):
        try:
            result = tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as error:
            raise RuntimeError(
                "MultiWorkerMirroredStrategy must be created before any other TensorFlow "
                "op runs in this process (create the strategy first, then load data and "
                f"build the model). TensorFlow said: {error}"
            ) from None
        # A first collective: returns only once every peer has joined.
        result.reduce("SUM", result.run(lambda: tf.constant(1.0)), axis=None)
    return result


_WATCHDOG = """
import os, signal, sys, time
parent, timeout, message = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    time.sleep(0.2)
    if os.getppid() != parent:  # the parent is gone: nothing to watch
        sys.exit(0)
print(message, file=sys.stderr, flush=True)
os.kill(parent, signal.SIGKILL)
"""


class _watchdog:
    """Kills this process with a clear error if the block does not finish in `timeout` s.

    A worker waiting for a peer is blocked inside TensorFlow's C++ (holding the GIL),
    where neither a signal handler nor a Python thread can run: the watchdog is a
    separate tiny process.
    """

    def __init__(self, timeout):
        self.timeout = timeout
        self._process = None

    def __enter__(self):
        message = (
            f"keras-vae: error: the other workers named in TF_CONFIG did not come up "
            f"within {self.timeout:g} s (set KERAS_VAE_PEER_TIMEOUT to wait longer). "
            f"cluster: {_cluster()[0]}"
        )
        self._process = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(self.timeout), message]
        )
        return self

    def __exit__(self, *exc):
        self._process.kill()
        self._process.wait()
        return False
