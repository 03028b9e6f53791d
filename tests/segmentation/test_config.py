"""`skinkeras.segmentation.config` names what the TensorFlow modules implement."""

from skinkeras.models.unet import ENCODERS  # `skinkeras.models.unet` is the builder
from skinkeras.segmentation import config, metrics, training
from tests.fresh_python import run_python


def test_names_are_the_implemented_encoders_and_losses():
    assert config.ENCODER_NAMES == tuple(ENCODERS)
    assert config.LOSS_NAMES == tuple(metrics.LOSSES)
    assert training.SegmentConfig is config.SegmentConfig


def test_config_imports_no_tensorflow():
    code = (
        "import sys; import skinkeras.segmentation.config; "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    assert run_python(code, timeout=60).split() == ["False", "False"]
