"""Per-layer-group learning rates: the encoder's step is a tenth of the decoder's."""

import keras
import numpy as np
import pytest

from skinkeras.segmentation.optimizers import LayerGroupAdamW
from skinkeras.training.callbacks import attach_beta_1


def _numpy_adamw(w, grads, lr, wd, beta_1=0.9, beta_2=0.99, eps=1e-8):
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        w = w - lr * wd * w
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w = w - alpha * m / (np.sqrt(v) + eps)
    return w


def _variables():
    init = np.array([1.0, -2.0, 0.5], "float32")
    return (
        keras.Variable(init, name="encoder_w"),
        keras.Variable(init, name="decoder_w"),
        init,
    )


def test_each_group_follows_adamw_with_its_own_learning_rate():
    encoder, decoder, init = _variables()
    optimizer = LayerGroupAdamW(
        3e-4, lr_multipliers={"": 0.1, "decoder_": 1.0}, weight_decay=0.01
    )
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=3).astype("float32") for _ in range(4)]
    for g in grads:
        optimizer.apply([g, g], [encoder, decoder])
    np.testing.assert_allclose(
        decoder.numpy(), _numpy_adamw(init, grads, 3e-4, 0.01), rtol=1e-6
    )
    np.testing.assert_allclose(
        encoder.numpy(), _numpy_adamw(init, grads, 3e-5, 0.01), rtol=1e-6
    )


def test_encoder_step_is_a_tenth_with_a_schedule():
    # Zero weights so that float32 rounding of w - step does not blur the ratio.
    encoder = keras.Variable(np.zeros(3, "float32"), name="encoder_w")
    decoder = keras.Variable(np.zeros(3, "float32"), name="decoder_w")
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 10, 0.5)
    optimizer = LayerGroupAdamW(
        schedule, lr_multipliers={"": 0.1, "decoder_": 1.0}, weight_decay=0.0
    )
    g = np.array([0.3, -1.0, 2.0], "float32")
    optimizer.apply([g, g], [encoder, decoder])
    # Same gradient, same Adam state: the steps differ only by the factor.
    np.testing.assert_allclose(encoder.numpy(), 0.1 * decoder.numpy(), rtol=1e-6)
    assert np.all(np.abs(decoder.numpy()) > 1e-4)


def test_unet_groups():
    from skinkeras.models.unet import unet

    model = unet(input_shape=(64, 64, 3), encoder="efficientnet_b0", weights=None)
    optimizer = LayerGroupAdamW(1e-3, lr_multipliers={"": 0.1, "decoder_": 1.0})
    factors = {v.path: optimizer.multiplier(v) for v in model.trainable_variables}
    assert factors["block1a_dwconv/kernel"] == 0.1
    assert factors["decoder_logits/kernel"] == 1.0
    assert set(factors.values()) == {0.1, 1.0}


def test_serialisation_roundtrip():
    optimizer = LayerGroupAdamW(
        keras.optimizers.schedules.ExponentialDecay(1e-3, 10, 0.5),
        lr_multipliers={"": 0.1, "decoder_": 1.0},
        weight_decay=0.02,
    )
    attach_beta_1(optimizer).assign(0.9)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(restored, LayerGroupAdamW)
    config = restored.get_config()
    assert config["lr_multipliers"] == {"": 0.1, "decoder_": 1.0}
    assert config["weight_decay"] == 0.02
    assert config["beta_1"] == pytest.approx(0.9)


def test_beta_1_can_be_cycled():
    _, decoder, init = _variables()
    optimizer = LayerGroupAdamW(1e-2, weight_decay=0.0, beta_1=0.95)
    beta_1 = attach_beta_1(optimizer)  # what the one-cycle momentum callback uses
    g = np.ones(3, "float32")
    optimizer.apply([g], [decoder])
    beta_1.assign(0.85)
    optimizer.apply([2 * g], [decoder])
    want = _numpy_adamw(init, [g], 1e-2, 0.0, beta_1=0.95)
    # Second step by hand with beta_1 = 0.85 (PyTorch / fastai semantics).
    m = 0.85 * (0.05 * g) + 0.15 * 2 * g
    v = 0.99 * (0.01 * g * g) + 0.01 * 4 * g * g
    alpha = 1e-2 * np.sqrt(1 - 0.99**2) / (1 - 0.85**2)
    want = want - alpha * m / (np.sqrt(v) + 1e-8)
    np.testing.assert_allclose(decoder.numpy(), want, rtol=1e-6)


def test_invalid_multipliers():
    with pytest.raises(ValueError, match="Received: lr_multipliers="):
        LayerGroupAdamW(lr_multipliers={"": -1.0})
