"""CaffePreprocess equals keras.applications.resnet50.preprocess_input."""

import keras
import numpy as np
import pytest

from skinkeras.layers import CaffePreprocess


def test_matches_keras_applications_preprocess_input():
    x = np.random.default_rng(0).uniform(0, 255, size=(2, 5, 7, 3)).astype("float32")
    expected = keras.applications.resnet50.preprocess_input(x.copy())
    out = keras.ops.convert_to_numpy(CaffePreprocess()(x))
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-4)
    # Independent of Keras: BGR order, ImageNet means subtracted.
    np.testing.assert_allclose(out[..., 0], x[..., 2] - 103.939, atol=1e-4)
    np.testing.assert_allclose(out[..., 2], x[..., 0] - 123.68, atol=1e-4)


def test_config_and_bad_channels():
    layer = CaffePreprocess.from_config(
        CaffePreprocess(name="caffe_preprocess").get_config()
    )
    assert layer.name == "caffe_preprocess"
    with pytest.raises(ValueError, match="3 channels"):
        CaffePreprocess()(np.zeros((1, 4, 4, 1), "float32"))
