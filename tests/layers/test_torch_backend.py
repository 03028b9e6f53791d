"""The layers use keras.ops only, so they also run under Keras' torch backend."""

import importlib.util
import textwrap

import pytest

from tests.fresh_python import run_python

SCRIPT = textwrap.dedent(
    """
    from tests.layers import backend_checks as checks
    checks.check_backend("torch")
    checks.check_layers()
    checks.check_preprocessing_layers()
    checks.check_arl_gradients()
    checks.check_training_step()
    print("TORCH_OK")
    """
)


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="torch is not installed"
)
def test_layers_under_torch_backend():
    assert "TORCH_OK" in run_python(SCRIPT, KERAS_BACKEND="torch")
