"""The layers use keras.ops only, so they also run under Keras' torch backend."""

import importlib.util
import textwrap

import pytest

from tests.layers.helpers import run_python

SCRIPT = textwrap.dedent(
    """
    import keras
    import numpy as np
    assert keras.backend.backend() == "torch", keras.backend.backend()
    import skinkeras.layers as skl
    from tests.layers.test_arl import numpy_arl
    from tests.layers.test_spatial_softmax import numpy_spatial_softmax
    from tests.layers.test_squeeze_excite import numpy_squeeze_excite

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 8, 8, 16)).astype("float32")
    f = rng.normal(0, 2, size=(2, 8, 8, 16)).astype("float32")
    c = keras.ops.convert_to_numpy
    np.testing.assert_allclose(
        c(skl.SpatialSoftmax()(f)), numpy_spatial_softmax(f), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        c(skl.AttentionResidual(alpha_initializer=0.4)([x, f])),
        numpy_arl(x, f, 0.4), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        c(skl.AttentionResidual(alpha_initializer=0.4, activation="relu")([x, f])),
        np.maximum(numpy_arl(x, f, 0.4), 0), rtol=1e-5, atol=1e-5)
    se = skl.SqueezeExcite(4)
    se.build(x.shape)
    w1, b1, w2, b2 = se.get_weights()
    np.testing.assert_allclose(
        c(se(x)), numpy_squeeze_excite(x, w1[0, 0], b1, w2[0, 0], b2),
        rtol=1e-5, atol=1e-6)
    rgb = rng.uniform(0, 255, size=(1, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(
        c(skl.CaffePreprocess()(rgb))[..., 0], rgb[..., 2] - 103.939, atol=1e-4)

    # A training step through ARL moves alpha under torch too.
    a, b = keras.Input((8, 8, 16)), keras.Input((8, 8, 16))
    arl = skl.AttentionResidual(alpha_initializer=0.1)
    model = keras.Model([a, b], arl([a, b]))
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.train_on_batch([x, f], np.zeros_like(x))
    # SGD step with the numpy gradient of mean(y^2): 2 y * softmax(F) * x.
    grad = np.mean(2 * numpy_arl(x, f, 0.1) * numpy_spatial_softmax(f) * x)
    np.testing.assert_allclose(float(c(arl.alpha)), 0.1 - 0.5 * grad, rtol=1e-4)
    print("TORCH_OK")
    """
)


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="torch is not installed"
)
def test_layers_under_torch_backend():
    assert "TORCH_OK" in run_python(SCRIPT, KERAS_BACKEND="torch")
