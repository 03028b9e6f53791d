"""ARL's pieces run as XLA-fused loops on TensorFlow, with the same numbers unfused."""

import textwrap

import keras
import numpy as np
import pytest

from skinkeras.layers import _fusion
from tests.fresh_python import run_python
from tests.layers.test_arl import numpy_arl

# Run with SKINKERAS_XLA_FUSION set (read once, when skinkeras is imported): whether
# ARL's pieces are XLA-compiled; output and all three gradients of ARL (both
# activations) as one flat array; ARL inside Keras' traced predict function.
SCRIPT = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    import tensorflow as tf
    from skinkeras.layers import AttentionResidual, _arl_kernel, _fusion
    from tests.layers.test_fusion import model_inputs

    pieces = (
        _arl_kernel._shifted_exp,
        _arl_kernel._softmax_scale,
        _arl_kernel._attention_gradient,
    )
    jit = [getattr(piece, "_jit_compile", None) for piece in pieces]

    rng = np.random.default_rng(0)
    x = tf.Variable(rng.normal(size=(2, 7, 5, 6)).astype("float32"))
    f = tf.Variable(rng.normal(0, 2, size=(2, 7, 5, 6)).astype("float32"))
    w = rng.normal(size=(2, 7, 5, 6)).astype("float32")
    parts = []
    for activation in (None, "relu"):
        layer = AttentionResidual(alpha_initializer=0.6, activation=activation)
        with tf.GradientTape() as tape:
            y = layer([x, f])
            loss = tf.reduce_sum(y * w)
        grads = tape.gradient(loss, [x, f, layer.alpha])
        parts += [y.numpy().ravel()] + [np.ravel(g.numpy()) for g in grads]

    a, b = keras.Input((6, 6, 8)), keras.Input((6, 6, 8))
    layer = AttentionResidual(alpha_initializer=0.3, activation="relu")
    model = keras.Model([a, b], layer([a, b]))
    predicted = model.predict(list(model_inputs()), verbose=0)
    np.savez(
        sys.argv[1],
        enabled=_fusion.fusion_enabled(),
        jit=np.array(jit, dtype=object),
        eager=np.concatenate(parts),
        predicted=predicted,
    )
    """
)


def model_inputs():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 6, 6, 8)).astype("float32")
    return x, rng.normal(size=(4, 6, 6, 8)).astype("float32")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The script's results with fusion switched on ("1") and off ("0")."""
    results = {}
    for fusion in ("1", "0"):
        out = tmp_path_factory.mktemp("fusion") / f"fusion_{fusion}.npz"
        run_python(
            SCRIPT,
            out,
            SKINKERAS_XLA_FUSION=fusion,
            KERAS_BACKEND="tensorflow",
        )
        results[fusion] = np.load(out, allow_pickle=True)
    return results


def test_pieces_are_xla_compiled_only_when_switched_on(runs):
    assert bool(runs["1"]["enabled"]) and list(runs["1"]["jit"]) == [True] * 3
    assert not bool(runs["0"]["enabled"]) and list(runs["0"]["jit"]) == [None] * 3


def test_fused_and_unfused_give_the_same_numbers(runs):
    fused, unfused = runs["1"]["eager"], runs["0"]["eager"]
    assert fused.shape == unfused.shape == (2 * (3 * 2 * 7 * 5 * 6 + 1),)
    np.testing.assert_allclose(fused, unfused, rtol=1e-5, atol=1e-6)


def test_switch_values(monkeypatch):
    monkeypatch.setenv("SKINKERAS_XLA_FUSION", "off")
    assert not _fusion.fusion_enabled()
    assert _fusion.xla_fused(np.sum) is np.sum
    monkeypatch.setenv("SKINKERAS_XLA_FUSION", "1")
    assert _fusion.fusion_enabled() is (keras.backend.backend() == "tensorflow")
    monkeypatch.setenv("SKINKERAS_XLA_FUSION", "maybe")
    with pytest.raises(ValueError, match="Received: SKINKERAS_XLA_FUSION='maybe'"):
        _fusion.fusion_enabled()


@pytest.mark.parametrize("fusion", ["1", "0"])
def test_layer_in_a_compiled_model_matches_numpy(runs, fusion):
    """Inside Keras' traced predict function, fused or not, ARL's numbers."""
    x, f = model_inputs()
    np.testing.assert_allclose(
        runs[fusion]["predicted"],
        np.maximum(numpy_arl(x, f, 0.3), 0.0),
        rtol=1e-5,
        atol=1e-5,
    )


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from skinkeras.layers import AttentionResidual

    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 6, 6, 4)).astype("float32")
    f = rng.normal(size=(8, 6, 6, 4)).astype("float32")
    t = rng.normal(size=(8, 6, 6, 4)).astype("float32")

    def alpha_after_one_step(strategy):
        with strategy.scope():
            a, b = keras.Input((6, 6, 4)), keras.Input((6, 6, 4))
            layer = AttentionResidual(alpha_initializer=0.2, activation="relu")
            model = keras.Model([a, b], layer([a, b]))
            model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
        model.fit([x, f], t, batch_size=8, epochs=1, verbose=0)
        return float(layer.alpha.numpy())

    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert mirrored.num_replicas_in_sync == 2
    one, two = alpha_after_one_step(tf.distribute.get_strategy()), alpha_after_one_step(mirrored)
    assert one != 0.2 and abs(one - two) < 1e-5, (one, two)
    print("MIRRORED_OK")
    """
)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TF only")
def test_fused_layer_trains_the_same_under_mirrored_strategy():
    """Two replicas (as on two GPUs) give the single-device step: the XLA pieces run
    inside each replica and their gradients are all-reduced like any other."""
    assert "MIRRORED_OK" in run_python(
        MIRRORED_SCRIPT, SKINKERAS_XLA_FUSION="1", KERAS_BACKEND="tensorflow"
    )
