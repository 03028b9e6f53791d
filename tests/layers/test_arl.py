"""AttentionResidual against numpy; alpha is its only weight and it trains."""

import keras
import numpy as np
import pytest

from skinkeras.layers import AttentionResidual
from tests.layers.test_spatial_softmax import numpy_spatial_softmax


def _inputs(seed=0, shape=(2, 8, 8, 16)):
    rng = np.random.default_rng(seed)
    shortcut = rng.normal(size=shape).astype("float32")
    residual = rng.normal(0, 2, size=shape).astype("float32")
    return shortcut, residual


def numpy_arl(shortcut, residual, alpha):
    """SPEC, ARL: y = x + F(x) + alpha * softmax_spatial(F(x)) * x."""
    x, f = shortcut.astype(np.float64), residual.astype(np.float64)
    return x + f + alpha * numpy_spatial_softmax(f) * x


def test_matches_numpy_reference():
    shortcut, residual = _inputs()
    layer = AttentionResidual(alpha_initializer=0.37)
    out = keras.ops.convert_to_numpy(layer([shortcut, residual]))
    np.testing.assert_allclose(
        out, numpy_arl(shortcut, residual, 0.37), rtol=1e-5, atol=1e-5
    )


def test_relu_activation_matches_numpy_reference():
    shortcut, residual = _inputs(8)
    layer = AttentionResidual(alpha_initializer=0.37, activation="relu")
    out = keras.ops.convert_to_numpy(layer([shortcut, residual]))
    expected = np.maximum(numpy_arl(shortcut, residual, 0.37), 0.0)
    assert (expected == 0).mean() > 0.2  # the ReLU does cut
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_alpha_zero_is_the_plain_residual_sum():
    shortcut, residual = _inputs(1)
    out = keras.ops.convert_to_numpy(AttentionResidual()([shortcut, residual]))
    np.testing.assert_array_equal(out, shortcut + residual)


def test_alpha_is_the_only_weight():
    layer = AttentionResidual(name="conv2_block1_arl")
    layer.build([(None, 8, 8, 16), (None, 8, 8, 16)])
    assert len(layer.weights) == 1
    assert layer.trainable_weights == [layer.alpha]
    assert layer.alpha.name == "alpha"
    assert tuple(layer.alpha.shape) == ()
    assert float(keras.ops.convert_to_numpy(layer.alpha)) == 0.0
    assert layer.count_params() == 1


def test_training_step_changes_alpha_by_the_numpy_gradient():
    shortcut, residual = _inputs(2, shape=(4, 6, 6, 8))
    target = np.random.default_rng(3).normal(size=shortcut.shape).astype("float32")
    a = keras.Input(shape=shortcut.shape[1:])
    b = keras.Input(shape=shortcut.shape[1:])
    model = keras.Model(
        [a, b], AttentionResidual(alpha_initializer=0.1, name="arl")([a, b])
    )
    lr = 0.5
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    model.train_on_batch([shortcut, residual], target)
    alpha = float(keras.ops.convert_to_numpy(model.get_layer("arl").alpha))
    # d mean((y - t)^2) / d alpha = mean(2 (y - t) * softmax(F) * x)
    y = numpy_arl(shortcut, residual, 0.1)
    grad = np.mean(2 * (y - target) * numpy_spatial_softmax(residual) * shortcut)
    assert alpha != pytest.approx(0.1)
    assert alpha == pytest.approx(0.1 - lr * grad, rel=1e-4)


def _numeric_gradient(fn, value, eps=1e-6):
    """Central differences of scalar `fn` at `value` (float64 numpy)."""
    value = np.asarray(value, np.float64)
    grad = np.zeros_like(value)
    for index in np.ndindex(value.shape):
        step = np.zeros_like(value)
        step[index] = eps
        grad[index] = (fn(value + step) - fn(value - step)) / (2 * eps)
    return grad


@pytest.mark.parametrize("activation", [None, "relu"])
def test_gradients_match_finite_differences(activation):
    """The layer writes its gradient out (custom gradient): check all three."""
    import tensorflow as tf

    shortcut, residual = _inputs(5, shape=(2, 3, 4, 2))
    weights = np.random.default_rng(6).normal(size=shortcut.shape)
    alpha = 0.7
    layer = AttentionResidual(alpha_initializer=alpha, activation=activation)
    act = (lambda z: np.maximum(z, 0.0)) if activation else (lambda z: z)
    # Central differences are only valid away from ReLU's kink.
    assert np.abs(numpy_arl(shortcut, residual, alpha)).min() > 1e-3
    x, f = tf.Variable(shortcut), tf.Variable(residual)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer([x, f]) * weights.astype("float32"))
    dx, df, da = tape.gradient(loss, [x, f, layer.alpha])

    def loss_of(x_=shortcut, f_=residual, a_=alpha):
        return float(np.sum(act(numpy_arl(x_, f_, a_)) * weights))

    np.testing.assert_allclose(
        dx, _numeric_gradient(lambda v: loss_of(x_=v), shortcut), rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(
        df, _numeric_gradient(lambda v: loss_of(f_=v), residual), rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(
        float(da), _numeric_gradient(lambda v: loss_of(a_=float(v)), alpha), rtol=1e-4
    )


def test_config_round_trip():
    layer = AttentionResidual(alpha_initializer=0.25, name="block2b_arl")
    config = layer.get_config()
    assert config["alpha_initializer"] == 0.25
    clone = AttentionResidual.from_config(config)
    shortcut, residual = _inputs(4)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(clone([shortcut, residual])),
        keras.ops.convert_to_numpy(layer([shortcut, residual])),
    )
    relu = AttentionResidual(activation="relu").get_config()
    assert relu["activation"] == "relu"
    assert AttentionResidual.from_config(relu).activation == "relu"
    ones = AttentionResidual(alpha_initializer="ones")
    clone = AttentionResidual.from_config(ones.get_config())
    clone.build([(None, 2, 2, 1)] * 2)
    assert float(keras.ops.convert_to_numpy(clone.alpha)) == 1.0


def test_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="same shape"):
        AttentionResidual()(
            [np.zeros((1, 4, 4, 8), "float32"), np.zeros((1, 4, 4, 4), "float32")]
        )
    with pytest.raises(ValueError, match="list"):
        AttentionResidual().build((None, 4, 4, 8))
    with pytest.raises(ValueError, match="Received: activation='gelu'"):
        AttentionResidual(activation="gelu")


def test_mixed_float16_computes_in_float32():
    shortcut, residual = _inputs(7)
    layer = AttentionResidual(alpha_initializer=0.5, dtype="mixed_float16")
    out = layer([shortcut.astype("float16"), residual.astype("float16")])
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    expected = numpy_arl(
        shortcut.astype("float16").astype("float32"),
        residual.astype("float16").astype("float32"),
        0.5,
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(out).astype("float64"),
        expected,
        rtol=2e-3,
        atol=2e-3,
    )
