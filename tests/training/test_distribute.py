"""Strategy selection and the global batch size."""

import pytest
import tensorflow as tf

from skinkeras.training import global_batch_size, select_strategy


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
