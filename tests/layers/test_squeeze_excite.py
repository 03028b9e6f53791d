"""SqueezeExcite against numpy and against keras.applications' SE layer sequence."""

import keras
import numpy as np
import pytest

from skinkeras.layers import SqueezeExcite


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_squeeze_excite(u, w1, b1, w2, b2):
    """SPEC, SE: z = mean_ij u; s = sigmoid(W2 · swish(W1 · z)); out = u * s."""
    u = u.astype(np.float64)
    z = u.mean(axis=(1, 2))  # (B, C)
    h = z @ w1 + b1
    h = h * _sigmoid(h)  # swish
    s = _sigmoid(h @ w2 + b2)  # (B, C)
    return u * s[:, None, None, :]


def _randomize(layer, seed):
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.normal(0, 0.5, size=w.shape).astype("float32") for w in layer.weights]
    )


def test_matches_numpy_reference():
    u = np.random.default_rng(0).normal(size=(2, 8, 8, 16)).astype("float32")
    layer = SqueezeExcite(4)
    layer.build(u.shape)
    _randomize(layer, 1)
    assert [tuple(w.shape) for w in layer.weights] == [
        (1, 1, 16, 4),
        (4,),
        (1, 1, 4, 16),
        (16,),
    ]
    w1, b1, w2, b2 = layer.get_weights()
    expected = numpy_squeeze_excite(u, w1[0, 0], b1, w2[0, 0], b2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(u)), expected, rtol=1e-5, atol=1e-6
    )


def test_equals_keras_applications_se_layers():
    """The same computation as EfficientNet's block*_se_{squeeze..excite} layers."""
    u = np.random.default_rng(2).normal(size=(2, 6, 6, 8)).astype("float32")
    inputs = keras.Input(shape=u.shape[1:])
    s = keras.layers.GlobalAveragePooling2D()(inputs)
    s = keras.layers.Reshape((1, 1, 8))(s)
    reduce = keras.layers.Conv2D(2, 1, padding="same", activation="swish")
    expand = keras.layers.Conv2D(8, 1, padding="same", activation="sigmoid")
    reference = keras.Model(
        inputs, keras.layers.Multiply()([inputs, expand(reduce(s))])
    )
    layer = SqueezeExcite(2)
    layer.build(u.shape)
    _randomize(layer, 3)
    w1, b1, w2, b2 = layer.get_weights()
    reduce.set_weights([w1, b1])
    expand.set_weights([w2, b2])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(u)),
        reference.predict(u, verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )


def test_config_round_trip_and_set_weights():
    layer = SqueezeExcite(3, activation="relu", name="se")
    layer.build((None, 4, 4, 12))
    _randomize(layer, 4)
    config = layer.get_config()
    assert config["filters_reduced"] == 3 and config["activation"] == "relu"
    clone = SqueezeExcite.from_config(config)
    clone.build((None, 4, 4, 12))
    clone.set_weights(layer.get_weights())
    u = np.random.default_rng(5).normal(size=(1, 4, 4, 12)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(clone(u)),
        keras.ops.convert_to_numpy(layer(u)),
        rtol=1e-6,
    )


@pytest.mark.parametrize("bad", [0, -2, 2.5])
def test_rejects_bad_filters_reduced(bad):
    with pytest.raises(ValueError, match=f"Received: filters_reduced={bad}"):
        SqueezeExcite(bad)
