"""Distribution strategy, global batch size and mixed precision of a run.

``auto`` picks a TPU when one is named (``tpu`` / ``TPU_NAME``) or attached, a
`tf.distribute.MirroredStrategy` when there are several GPUs, else the default
(one-device) strategy. ``multiworker`` uses `tf.distribute.MultiWorkerMirroredStrategy`,
which reads the cluster from the ``TF_CONFIG`` environment variable on every worker.
"""

import os

import keras
import tensorflow as tf

from skinkeras.training.config import STRATEGIES


def _tpu_strategy(tpu):
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def select_strategy(name="auto", *, tpu=None):
    """Returns the `tf.distribute.Strategy` named by ``name`` (one of STRATEGIES)."""
    if name not in STRATEGIES:
        raise ValueError(
            f"`strategy` must be one of {list(STRATEGIES)}. Received: strategy={name!r}"
        )
    if name == "auto":
        if tpu or os.environ.get("TPU_NAME") or tf.config.list_logical_devices("TPU"):
            return _tpu_strategy(tpu or os.environ.get("TPU_NAME"))
        if len(tf.config.list_logical_devices("GPU")) > 1:
            return tf.distribute.MirroredStrategy()
        return tf.distribute.get_strategy()
    if name == "cpu":
        return tf.distribute.OneDeviceStrategy("/cpu:0")
    if name == "gpu":
        if not tf.config.list_logical_devices("GPU"):
            raise ValueError(
                "No GPU is visible to TensorFlow; use --strategy=cpu or auto. "
                "Received: strategy='gpu'"
            )
        return tf.distribute.OneDeviceStrategy("/gpu:0")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "tpu":
        return _tpu_strategy(tpu)
    return tf.distribute.MultiWorkerMirroredStrategy()


def global_batch_size(batch_size, num_replicas, *, scale_batch=True):
    """The batch size the input pipeline must produce for ``num_replicas`` replicas.

    With ``scale_batch`` the configured ``batch_size`` is per replica (the study's 16
    per device) and the global batch is ``batch_size * num_replicas``; otherwise
    ``batch_size`` is already global and must divide evenly among the replicas.
    """
    if scale_batch:
        return batch_size * num_replicas
    if batch_size % num_replicas:
        raise ValueError(
            f"`batch_size` must be divisible by the number of replicas "
            f"({num_replicas}) when it is the global batch (--noscale_batch). "
            f"Received: batch_size={batch_size}"
        )
    return batch_size


def mixed_precision_policy(strategy):
    """``mixed_bfloat16`` on TPU and CPU, ``mixed_float16`` on GPU (Keras' advice)."""
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "mixed_bfloat16"
    if tf.config.list_logical_devices("GPU"):
        return "mixed_float16"
    return "mixed_bfloat16"


class dtype_policy:  # noqa: N801 - used like a function: `with dtype_policy(name):`
    """Sets Keras' global dtype policy for the block and restores the old one."""

    def __init__(self, name):
        self.name = name
        self.previous = None

    def __enter__(self):
        self.previous = keras.config.dtype_policy().name
        if self.name:
            keras.config.set_dtype_policy(self.name)
        return self

    def __exit__(self, *exc):
        keras.config.set_dtype_policy(self.previous)
        return False


def worker_subdir(strategy):
    """Where a non-chief worker of a multi-worker run writes, relative to model_dir.

    Every worker of `tf.distribute.MultiWorkerMirroredStrategy` runs the same program;
    only the chief (task "chief", or "worker" 0 when there is no chief) owns
    ``model_dir``. The others write their checkpoints, logs and summaries to
    ``model_dir/workers/<task>_<index>`` (their own resume state; Keras'
    BackupAndRestore does the same). Returns None for the chief and single-worker runs.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return None
    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type is None or task_type == "chief":
        return None
    if task_type == "worker" and task_id == 0:
        if "chief" not in resolver.cluster_spec().as_dict():
            return None
    return f"workers/{task_type}_{task_id}"


class op_determinism:  # noqa: N801 - used like a function: `with op_determinism(on):`
    """`tf.config.experimental.enable_op_determinism()` for the block (``--deterministic``).

    Makes GPU/TPU kernels whose results depend on thread scheduling (atomic adds in
    convolution and reduction gradients, scatter ops) use deterministic algorithms,
    and refuses ops that have none. It is process-wide; the previous setting is
    restored afterwards. On CPU, TensorFlow's kernels give the same numbers run after
    run without it (README, "Reproducibility").
    """

    def __init__(self, enabled):
        self.enabled = bool(enabled)
        self.previous = None

    def __enter__(self):
        from tensorflow.python.framework import config as tf_config

        self.previous = tf_config.is_op_determinism_enabled()
        if self.enabled:
            tf.config.experimental.enable_op_determinism()
        return self

    def __exit__(self, *exc):
        from tensorflow.python.framework import config as tf_config

        if self.enabled and not self.previous:
            tf_config.disable_op_determinism()
        return False
