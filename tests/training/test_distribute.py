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


def test_auto_on_a_cpu_machine_is_one_device():
    strategy = select_strategy("auto")
    assert strategy.num_replicas_in_sync == 1
    assert isinstance(select_strategy("cpu"), tf.distribute.OneDeviceStrategy)


def test_unknown_strategy_is_rejected():
    with pytest.raises(ValueError, match="strategy='horovod'"):
        select_strategy("horovod")
