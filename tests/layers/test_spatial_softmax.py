"""SpatialSoftmax against a float64 numpy reference."""

import keras
import numpy as np
import pytest

from skinkeras.layers import SpatialSoftmax


def numpy_spatial_softmax(x):
    """Reference: softmax over the H·W positions of each (example, channel)."""
    x = np.asarray(x, dtype=np.float64)
    b, h, w, c = x.shape
    flat = x.reshape(b, h * w, c)
    e = np.exp(flat - flat.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).reshape(b, h, w, c)


def test_matches_numpy_reference():
    x = np.random.default_rng(0).normal(0, 3, size=(2, 8, 8, 16)).astype("float32")
    out = keras.ops.convert_to_numpy(SpatialSoftmax()(x))
    np.testing.assert_allclose(out, numpy_spatial_softmax(x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out.sum(axis=(1, 2)), 1.0, rtol=1e-5)


def test_stable_for_large_inputs():
    x = np.random.default_rng(1).normal(0, 1, size=(2, 4, 5, 3)).astype("float32")
    x[0, 1, 2, :] = 1000.0  # exp overflows float32 without the max shift
    out = keras.ops.convert_to_numpy(SpatialSoftmax()(x))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, numpy_spatial_softmax(x), rtol=1e-5, atol=1e-7)


def test_float16_computed_in_float32():
    x = np.random.default_rng(2).normal(0, 2, size=(1, 56, 56, 4)).astype("float16")
    out = SpatialSoftmax(dtype="mixed_float16")(x)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(out).astype("float64"),
        numpy_spatial_softmax(x),
        rtol=2e-3,
        atol=1e-6,
    )


def test_config_round_trip():
    layer = SpatialSoftmax(name="att")
    clone = SpatialSoftmax.from_config(layer.get_config())
    assert clone.name == "att"
    x = np.random.default_rng(3).normal(size=(1, 3, 3, 2)).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(clone(x)), keras.ops.convert_to_numpy(layer(x))
    )


def test_rejects_non_4d_input():
    with pytest.raises(ValueError, match="input_shape"):
        SpatialSoftmax()(np.zeros((2, 8, 3), "float32"))
