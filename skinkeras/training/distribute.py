"""Distribution strategy, global batch size and mixed precision of a run.

``auto`` picks a TPU when one is named (``tpu`` / ``TPU_NAME``) or attached, a
`tf.distribute.MirroredStrategy` when there are several GPUs, else the default
(one-device) strategy. ``mirrored`` mirrors over every GPU, or every logical CPU
device when there is no GPU. ``multiworker`` uses
`tf.distribute.MultiWorkerMirroredStrategy`, which reads the cluster from the
``TF_CONFIG`` environment variable on every worker; `keras_multiworker_support`
makes Keras' ``fit`` run under it.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from skinkeras.config import STRATEGIES


def _tpu_strategy(tpu):
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def _mirrored_devices():
    """Every GPU; without one, every logical CPU device (None: TensorFlow's choice).

    `tf.distribute.MirroredStrategy` alone takes only the first CPU of a machine
    without GPUs, even when the CPU is split into several logical devices
    (`tf.config.set_logical_device_configuration`, as the tests do to run two
    replicas on one CPU).
    """
    if tf.config.list_logical_devices("GPU"):
        return None
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    return cpus if len(cpus) > 1 else None


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
        return tf.distribute.MirroredStrategy(_mirrored_devices())
    if name == "tpu":
        return _tpu_strategy(tpu)
    return tf.distribute.MultiWorkerMirroredStrategy()


def multi_worker(strategy):
    """Whether ``strategy`` spans several workers (MultiWorkerMirroredStrategy)."""
    return (
        isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and strategy.extended._in_multi_worker_mode()
    )


def _first_local_value(strategy, value):
    if isinstance(value, tf.distribute.DistributedValues):
        return strategy.experimental_local_results(value)[0]
    return value


def _moving_statistics(model):
    return [
        variable
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.BatchNormalization)
        for variable in (layer.moving_mean, layer.moving_variance)
    ]


class SyncMovingStatistics(keras.callbacks.Callback):
    """Averages the BatchNorm moving statistics over all replicas at each epoch end.

    Keras 3 updates a replica's moving mean and variance from its own part of the
    batch only, so with several replicas (workers, devices) they drift apart: the
    workers would save different models, and validation (predicted by every replica
    on its part) would mix them (issue 14). The mean of the replicas' moving averages
    is the moving average of their batch statistics, what tf.keras 2 read. Must run
    before the epoch is recorded and saved: first in the callback list.
    """

    def __init__(self, strategy):
        super().__init__()
        self.strategy = strategy
        self._sync = None

    def on_epoch_end(self, epoch, logs=None):
        if self.strategy.num_replicas_in_sync < 2:
            return
        if self._sync is None:
            variables = [v.value for v in _moving_statistics(self.model)]

            def average():
                context = tf.distribute.get_replica_context()
                means = context.all_reduce("MEAN", [v.read_value() for v in variables])
                for variable, mean in zip(variables, means, strict=True):
                    variable.assign(mean)

            self._sync = tf.function(lambda: self.strategy.run(average))
        if _moving_statistics(self.model):
            self._sync()


class PairedPredictions:
    """Validation logits and labels from one pass of a multi-worker run (issue 14).

    Keras' ``predict`` gathers the workers' outputs in the order of a DATA-sharded
    dataset (`keras...trainer._multi_worker_concat`), while the labels were read
    from the dataset separately, in its own order: the two agree only while the
    dataset is sharded by DATA (`skinkeras.data.loading.finish`). Here each replica
    returns its logits with its own labels and both are gathered by the same
    collectives, so every logit keeps its label whatever the sharding; the examples
    may come back in another order, which none of the validation metrics reads.
    Every worker runs the same steps: the strategy's distributed iterator hands
    empty batches to a worker whose part ran out (in the last, partial batch).
    """

    def __init__(self, strategy, dataset):
        self.strategy = strategy
        self.dataset = strategy.experimental_distribute_dataset(dataset)
        self._step = None

    def _gathered_step(self, model):
        def replica_step(images, labels):
            # float32 before gathering: a mixed-precision model's bfloat16 or
            # float16 logits convert exactly.
            return tf.cast(model(images, training=False), tf.float32), labels

        def step(batch):
            logits, labels = self.strategy.run(replica_step, args=batch)
            return (
                self.strategy.gather(logits, axis=0),
                self.strategy.gather(labels, axis=0),
            )

        return tf.function(step)

    def __call__(self, model):
        """Returns ``(logits, labels)`` as NumPy arrays, every example once."""
        if self._step is None:
            self._step = self._gathered_step(model)
        logits, labels = [], []
        for batch in self.dataset:
            batch_logits, batch_labels = self._step(batch)
            logits.append(batch_logits.numpy())
            labels.append(batch_labels.numpy())
        return np.concatenate(logits), np.concatenate(labels)


class keras_multiworker_support:  # noqa: N801 - used like a function: `with ...:`
    """Makes Keras' ``fit`` and ``predict`` run under several workers (issue 14).

    Keras 3 (3.15, TensorFlow backend) fails twice under
    `tf.distribute.MultiWorkerMirroredStrategy` with more than one worker
    (keras-team/keras#20585):

    - before training it builds the model from the first distributed batch reduced
      with ``strategy.reduce("MEAN", batch)``; TensorFlow's ``reduce`` takes one
      value, not a nest, and the ``(images, labels)`` tuple fails with "Attempt to
      convert a value (PerReplica:...) ... to a Tensor". Building needs only the
      batch's shapes and dtypes: it builds from the first local replica's batch.
    - every step it averages the replicas' scalar logs (loss, metrics) with
      ``strategy.reduce("MEAN", value, axis=0)``, which fails on a scalar
      ("Invalid reduction dimension 0"). Scalars are averaged over the replicas
      with ``axis=None``, as that call means to.

    Within the block, Keras' TensorFlow trainer uses these two corrected pieces for
    multi-worker strategies only; everything else goes to Keras' own code, and the
    originals are restored afterwards. Outside multi-worker runs it does nothing.
    """

    def __init__(self, strategy):
        self.enabled = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        self.saved = None

    def __enter__(self):
        if not self.enabled:
            return self
        from keras.src.backend.tensorflow import trainer as keras_trainer

        trainer_class = keras_trainer.TensorFlowTrainer
        build, reduce = (
            trainer_class._maybe_symbolic_build,
            keras_trainer.reduce_per_replica,
        )
        self.saved = keras_trainer, build, reduce

        def maybe_symbolic_build(model, iterator=None, data_batch=None):
            strategy = model.distribute_strategy
            if model._distribute_strategy is None or not multi_worker(strategy):
                return build(model, iterator=iterator, data_batch=data_batch)
            if iterator is not None:
                for _, _, batches in iterator:
                    data_batch = keras.tree.map_structure(
                        lambda value: _first_local_value(strategy, value),
                        next(batches),
                    )
                    break
            with strategy.scope():
                model._symbolic_build(data_batch=data_batch)

        def reduce_per_replica(values, strategy, reduction):
            if reduction not in ("auto", "mean") or not multi_worker(strategy):
                return reduce(values, strategy, reduction)

            def mean(value):
                if _first_local_value(strategy, value).shape.rank == 0:
                    return strategy.reduce("MEAN", value, axis=None)
                return reduce(value, strategy, reduction)

            return keras.tree.map_structure(mean, values)

        trainer_class._maybe_symbolic_build = maybe_symbolic_build
        keras_trainer.reduce_per_replica = reduce_per_replica
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            keras_trainer, build, reduce = self.saved
            keras_trainer.TensorFlowTrainer._maybe_symbolic_build = build
            keras_trainer.reduce_per_replica = reduce
            self.saved = None
        return False


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
