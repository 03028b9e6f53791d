"""`import skinkeras` is light, and a saved skinkeras model loads after it alone."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import skinkeras.layers as skl

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(code, timeout=300):
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_import_skinkeras_imports_neither_keras_nor_tensorflow():
    code = (
        "import sys, skinkeras; "
        "print(skinkeras.__version__, sorted(m for m in ('keras', 'tensorflow') "
        "if m in sys.modules))"
    )
    assert _python(code).split() == ["0.1.0", "[]"]


def test_subpackages_import_on_first_use():
    code = (
        "import skinkeras; "
        "print(skinkeras.layers.AttentionResidual.__name__, "
        "skinkeras.training.TrainConfig.__name__)"
    )
    assert _python(code).split() == ["AttentionResidual", "TrainConfig"]


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
