"""The layers and both models run under Keras' JAX backend, like under torch.

CI installs `jax[cpu]`; without jax the tests skip. What runs on TensorFlow only
(docs/models.md, "Layers"): the XLA fusion of ARL's pieces (not used on JAX, which compiles
whole steps itself) and Grad-CAM, which says so instead of failing deep inside.
"""

import importlib.util
import textwrap

import keras
import numpy as np
import pytest

from tests.fresh_python import run_python
from tests.layers import backend_checks
from tests.models.helpers import relative_error

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None, reason="jax is not installed"
)

LAYERS = textwrap.dedent(
    """
    from tests.layers import backend_checks as checks
    checks.check_backend("jax")
    from skinkeras.layers import _fusion
    assert not _fusion.fusion_enabled()
    assert _fusion.xla_fused(len) is len  # ARL's pieces run as plain keras.ops
    checks.check_layers()
    checks.check_preprocessing_layers()
    checks.check_arl_gradients()
    checks.check_training_step()

    import keras
    import numpy as np
    import pytest
    from skinkeras.gradcam import gradcam
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), keras.layers.Flatten(),
         keras.layers.Dense(2)])
    with pytest.raises(RuntimeError, match="TensorFlow backend.*Received: .*'jax'"):
        gradcam(model, np.zeros((1, 8, 8, 3), "float32"))
    print("JAX_OK")
    """
)

MODELS = textwrap.dedent(
    """
    import sys
    from tests.layers import backend_checks as checks
    checks.check_backend("jax")
    checks.write_models(sys.argv[1])
    print("JAX_OK")
    """
)


# JAX compiles every op it runs eagerly (each weight initialiser, for each shape)
# with XLA; unoptimised code compiles 2-3 times faster and is checked all the same.
JAX_ENV = dict(
    KERAS_BACKEND="jax",
    JAX_PLATFORMS="cpu",
    XLA_FLAGS="--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes",
)


def test_layers_under_jax_backend():
    assert "JAX_OK" in run_python(LAYERS, **JAX_ENV)


@pytest.mark.slow  # about a minute on 2 cores: building the models compiles ~1000 ops
def test_models_under_jax_equal_tensorflow(tmp_path):
    """Both models built and run under JAX give, with the same weights, the logits
    of the same models under TensorFlow (nonzero alphas, so ARL counts)."""
    assert "JAX_OK" in run_python(MODELS, tmp_path, **JAX_ENV)
    assert keras.backend.backend() == "tensorflow"
    images = backend_checks.model_images()
    for name, model in backend_checks.build_models().items():
        model.load_weights(tmp_path / f"{name}.weights.h5")
        expected = keras.ops.convert_to_numpy(model(images, training=False))
        actual = np.load(tmp_path / f"{name}.npy")
        # Logits that differ between images (relative: a random init's scale varies
        # with the environment; CI's gave a spread of 0.021 on logits of ~0.17).
        assert np.ptp(expected) > 0.1 * np.abs(expected).max(), name
        # Relative to the largest logit: float32 sums over deep random networks,
        # whose logits here are nearly equal (spread ~12 % of the largest), so that
        # rounding in ~50 layers shows: CI measured 1.8e-4 for an unseeded ResNet-50,
        # 1.9e-5 here for the seeded one (EfficientNet: 1.8e-6). Moving ResNet-50's
        # first ARL alpha by 0.05 moves them by 9.7e-2.
        assert relative_error(actual, expected) < 1e-3, name
