"""Dice / IoU metrics and losses against numpy."""

import keras
import numpy as np
import pytest

from skinkeras.segmentation.metrics import BCEDiceLoss, Dice, DiceLoss, IoU


def _numpy_scores(y_true, y_pred, threshold):
    t = y_true.astype(bool).astype(np.float64)
    p = y_pred.astype(np.float64)
    if threshold is not None:
        p = (p > threshold).astype(np.float64)
    inter = (t * p).sum()
    return 2 * inter / (t.sum() + p.sum()), inter / (t.sum() + p.sum() - inter)


@pytest.fixture
def batches():
    rng = np.random.default_rng(0)
    y_true = (rng.uniform(size=(3, 4, 16, 16, 1)) > 0.6).astype("float32")
    y_pred = np.clip(0.7 * y_true + rng.uniform(-0.4, 0.5, y_true.shape), 0, 1)
    return y_true, y_pred.astype("float32")


@pytest.mark.parametrize("threshold", [0.5, 0.3, None])
def test_metrics_accumulate_over_batches_like_numpy(batches, threshold):
    y_true, y_pred = batches
    dice, iou = Dice(threshold=threshold), IoU(threshold=threshold)
    for t, p in zip(y_true, y_pred, strict=True):
        dice.update_state(t, p)
        iou.update_state(t, p)
    want_dice, want_iou = _numpy_scores(y_true, y_pred, threshold)
    np.testing.assert_allclose(float(dice.result()), want_dice, rtol=1e-5)
    np.testing.assert_allclose(float(iou.result()), want_iou, rtol=1e-5)
    dice.reset_state()
    dice.update_state(y_true[0], y_pred[0])
    np.testing.assert_allclose(
        float(dice.result()),
        _numpy_scores(y_true[0], y_pred[0], threshold)[0],
        rtol=1e-5,
    )


def test_masks_stored_as_0_255_count_as_binary(batches):
    y_true, y_pred = batches
    a, b = Dice(), Dice()
    a.update_state(y_true[0], y_pred[0])
    b.update_state(255 * y_true[0], y_pred[0])
    assert float(a.result()) == pytest.approx(float(b.result()))


def test_empty_masks_agree_perfectly_and_disjoint_ones_score_zero():
    empty = np.zeros((1, 8, 8, 1), "float32")
    full = np.ones((1, 8, 8, 1), "float32")
    for metric in (Dice(), IoU()):
        metric.update_state(empty, empty)
        assert float(metric.result()) == 1.0
        metric.reset_state()
        metric.update_state(empty, full)
        assert float(metric.result()) == 0.0


def test_metric_inside_compiled_model_evaluate(batches):
    y_true, y_pred = batches
    inputs = keras.Input((16, 16, 1))
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    model.compile(loss="mse", metrics=[Dice(), IoU()])
    x, y = y_pred.reshape(-1, 16, 16, 1), y_true.reshape(-1, 16, 16, 1)
    result = model.evaluate(x, y, batch_size=5, verbose=0, return_dict=True)
    want_dice, want_iou = _numpy_scores(y_true, y_pred, 0.5)
    assert result["dice"] == pytest.approx(want_dice, rel=1e-5)
    assert result["iou"] == pytest.approx(want_iou, rel=1e-5)


def test_losses_against_numpy(batches):
    y_true, y_pred = batches[0][0], batches[1][0]
    t = y_true.reshape(len(y_true), -1).astype(np.float64)
    p = y_pred.reshape(len(y_pred), -1).astype(np.float64)
    dice = 1 - (2 * (t * p).sum(1) + 1) / (t.sum(1) + p.sum(1) + 1)
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    bce = -(t * np.log(pc) + (1 - t) * np.log(1 - pc)).mean(1)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(DiceLoss().call(y_true, y_pred)), dice, rtol=1e-5
    )
    np.testing.assert_allclose(
        float(BCEDiceLoss()(y_true, y_pred)), (bce + dice).mean(), rtol=1e-5
    )


def test_serialisation_roundtrip():
    for obj in (Dice(threshold=0.4), IoU(threshold=None), BCEDiceLoss(smooth=2.0)):
        restored = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(obj)
        )
        assert type(restored) is type(obj)
        assert restored.get_config() == obj.get_config()


def test_invalid_threshold():
    with pytest.raises(ValueError, match="Received: threshold=1.5"):
        Dice(threshold=1.5)
