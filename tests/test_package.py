"""`import skinkeras` is light, and a saved skinkeras model loads after it alone."""

import keras
import numpy as np
import pytest

import skinkeras.layers as skl
from tests.fresh_python import run_python


def _python(code):
    return run_python(code, TF_CPP_MIN_LOG_LEVEL="3")


@pytest.mark.parametrize(
    "code, printed",
    [
        pytest.param(
            "import sys, skinkeras; "
            "print(skinkeras.__version__, sorted(m for m in ('keras', 'tensorflow') "
            "if m in sys.modules))",
            ["0.1.0", "[]"],
            id="imports_neither_keras_nor_tensorflow",
        ),
        pytest.param(
            "import skinkeras; "
            "print(skinkeras.layers.AttentionResidual.__name__, "
            "skinkeras.training.TrainConfig.__name__)",
            ["AttentionResidual", "TrainConfig"],
            id="subpackages_import_on_first_use",
        ),
    ],
)
def test_import_skinkeras_in_a_fresh_process(code, printed):
    assert _python(code).split() == printed


@pytest.mark.parametrize(
    "imports",
    [
        "import skinkeras\nimport keras",
        # Keras is first imported by TensorFlow's own import.
        "import skinkeras\nimport tensorflow\nimport keras",
    ],
    ids=["keras", "tensorflow"],
)
def test_saved_model_loads_in_a_fresh_process_after_import_skinkeras(tmp_path, imports):
    inputs = keras.Input(shape=(8, 8, 3))
    x = skl.CaffePreprocess(name="caffe")(inputs)
    f = keras.layers.Conv2D(4, 3, padding="same", name="conv")(x)
    f = skl.SqueezeExcite(2, name="se")(f)
    shortcut = keras.layers.Conv2D(4, 1, name="shortcut")(x)
    x = skl.AttentionResidual(alpha_initializer=0.3, name="arl")([shortcut, f])
    model = keras.Model(inputs, x)
    images = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "expected.npy", model.predict(images, verbose=0))

    code = f"""{imports}
import numpy as np
model = keras.models.load_model({str(tmp_path / "model.keras")!r})
images = np.load({str(tmp_path / "images.npy")!r})
expected = np.load({str(tmp_path / "expected.npy")!r})
np.testing.assert_allclose(model.predict(images, verbose=0), expected, rtol=1e-6)
print(*sorted(type(layer).__qualname__ for layer in model.layers
              if type(layer).__module__.startswith("skinkeras.layers.")))
"""
    assert _python(code).split() == [
        "AttentionResidual",
        "CaffePreprocess",
        "SqueezeExcite",
    ]
