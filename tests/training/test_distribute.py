"""Strategy selection, the global batch size, Keras under several workers."""

import os
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf

from skinkeras.training import global_batch_size, select_strategy
from skinkeras.training.distribute import keras_multiworker_support

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_global_batch_scales_with_replicas():
    assert global_batch_size(16, 1) == 16
    assert global_batch_size(16, 8) == 128


def test_global_batch_must_divide_among_replicas():
    assert global_batch_size(16, 4, scale_batch=False) == 16
    with pytest.raises(ValueError, match="batch_size=15"):
        global_batch_size(15, 2, scale_batch=False)


def test_auto_follows_the_visible_devices():
    # Any machine: one replica on CPU or one GPU, a replica per GPU with several
    # (the device machines may have them), a TPU when one is attached.
    strategy = select_strategy("auto")
    replicas = strategy.num_replicas_in_sync
    gpus = len(tf.config.list_logical_devices("GPU"))
    if tf.config.list_logical_devices("TPU"):
        assert isinstance(strategy, tf.distribute.TPUStrategy)
    elif gpus > 1:
        assert isinstance(strategy, tf.distribute.MirroredStrategy)
        assert replicas == gpus
    else:
        assert replicas == 1
    assert global_batch_size(16, replicas) == 16 * replicas
    cpu = select_strategy("cpu")
    assert isinstance(cpu, tf.distribute.OneDeviceStrategy)
    assert cpu.num_replicas_in_sync == 1


def test_unknown_strategy_is_rejected():
    with pytest.raises(ValueError, match="strategy='horovod'"):
        select_strategy("horovod")


def _run_python(script, *args, marker):
    """Runs ``script`` in a fresh Python (logical devices are set before TensorFlow
    starts) and returns its stdout, which must contain ``marker``."""
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=REPO,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert marker in result.stdout, result.stderr[-2000:]
    return result.stdout


def test_keras_multiworker_support_patches_only_inside_its_block():
    from keras.src.backend.tensorflow import trainer as keras_trainer

    build = keras_trainer.TensorFlowTrainer._maybe_symbolic_build
    reduce = keras_trainer.reduce_per_replica
    with keras_multiworker_support(tf.distribute.get_strategy()):
        # Not a multi-worker strategy: Keras' own code.
        assert keras_trainer.reduce_per_replica is reduce
    support = keras_multiworker_support(tf.distribute.get_strategy())
    support.enabled = True  # as for a MultiWorkerMirroredStrategy
    with pytest.raises(RuntimeError), support:
        assert keras_trainer.reduce_per_replica is not reduce
        assert keras_trainer.TensorFlowTrainer._maybe_symbolic_build is not build
        # Outside multi-worker runs the patched pieces hand over to Keras'.
        value = tf.constant([1.0, 3.0])
        assert (
            keras_trainer.reduce_per_replica(
                value, tf.distribute.get_strategy(), "auto"
            )
            is value
        )
        raise RuntimeError("restored even after an error")
    assert keras_trainer.reduce_per_replica is reduce
    assert keras_trainer.TensorFlowTrainer._maybe_symbolic_build is build


SYNC_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from skinkeras.training.distribute import SyncMovingStatistics, select_strategy

    if tf.config.list_logical_devices("GPU"):  # a device machine: GPUs come first
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    else:  # --strategy=mirrored takes both logical CPUs
        strategy = select_strategy("mirrored")
    print("REPLICAS", strategy.num_replicas_in_sync)
    # The two replicas see different data: the first half of the batch is 0s, the
    # second 10s, so their own batch means differ.
    x = np.concatenate([np.zeros((4, 3)), np.full((4, 3), 10.0)]).astype("float32")
    with strategy.scope():
        bn = keras.layers.BatchNormalization(momentum=0.5)
        model = keras.Sequential([keras.Input((3,)), bn, keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
    ds = tf.data.Dataset.from_tensors((x, np.zeros((8, 1), "float32")))
    model.fit(ds, epochs=1, verbose=0)

    def copies():
        return [float(np.asarray(v)[0]) for v in bn.moving_mean.value.values]

    print("KERAS", copies())
    sync = SyncMovingStatistics(strategy)
    sync.set_model(model)
    sync.on_epoch_end(0)
    print("SYNCED", copies())
    """
)


def _numbers(output, marker):
    return [float(n) for n in output.split(marker + " [")[1].split("]")[0].split(",")]


def test_moving_statistics_agree_across_replicas():
    output = _run_python(SYNC_SCRIPT, marker="SYNCED")
    assert "REPLICAS 2" in output
    # Momentum 0.5 from 0: each replica's own moving mean is 0.5 * its batch mean,
    # 0 and 5 after Keras' step; their average over both replicas is 2.5.
    assert _numbers(output, "KERAS") == pytest.approx([0.0, 5.0])
    assert _numbers(output, "SYNCED") == pytest.approx([2.5, 2.5])
