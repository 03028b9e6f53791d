"""Overlap metrics and losses for binary lesion masks.

Dice = 2|P ∩ T| / (|P| + |T|) and IoU (Jaccard) = |P ∩ T| / |P ∪ T|. The metrics sum
intersection and areas over every pixel of every image they see, so the result
for a validation epoch is the Dice of the whole split taken as one image set
("micro" average, as a single large mask), not a mean of per-batch values. With
``threshold`` the predicted probabilities are binarised first (the study's Dice of
hard masks); ``threshold=None`` gives the soft version used by the Dice loss.
Two empty masks agree perfectly: both metrics are 1 when P and T are both empty.
"""

import keras
from keras import ops


def _overlap_sums(y_true, y_pred, threshold=None):
    """Returns (|P ∩ T|, |P|, |T|) summed over everything, in float32."""
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    # Masks stored as 0/255 count as 0/1.
    y_true = ops.cast(y_true > 0.5, "float32")
    if threshold is not None:
        y_pred = ops.cast(y_pred > threshold, "float32")
    return ops.sum(y_true * y_pred), ops.sum(y_pred), ops.sum(y_true)


def _dice(intersection, pred_sum, true_sum):
    total = pred_sum + true_sum
    return ops.where(total > 0, 2.0 * intersection / ops.maximum(total, 1e-7), 1.0)


def _iou(intersection, pred_sum, true_sum):
    union = pred_sum + true_sum - intersection
    return ops.where(union > 0, intersection / ops.maximum(union, 1e-7), 1.0)


class _OverlapMetric(keras.metrics.Metric):
    """Accumulates intersection and areas of binary masks over all updates."""

    def __init__(self, threshold=0.5, name=None, dtype=None):
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValueError(
                f"`threshold` must be in [0, 1] or None. Received: threshold={threshold}"
            )
        super().__init__(name=name, dtype=dtype)
        self.threshold = threshold
        self.intersection = self.add_variable(
            shape=(), initializer="zeros", name="intersection"
        )
        self.pred_sum = self.add_variable(
            shape=(), initializer="zeros", name="pred_sum"
        )
        self.true_sum = self.add_variable(
            shape=(), initializer="zeros", name="true_sum"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(
                "Overlap metrics do not support `sample_weight`. "
                f"Received: sample_weight={sample_weight}"
            )
        intersection, pred_sum, true_sum = _overlap_sums(y_true, y_pred, self.threshold)
        self.intersection.assign_add(intersection)
        self.pred_sum.assign_add(pred_sum)
        self.true_sum.assign_add(true_sum)

    def reset_state(self):
        for variable in (self.intersection, self.pred_sum, self.true_sum):
            variable.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


@keras.saving.register_keras_serializable(package="skinkeras")
class Dice(_OverlapMetric):
    """Dice score 2|P ∩ T| / (|P| + |T|) over everything seen since the last reset.

    Args:
        threshold: probability above which a pixel counts as lesion; None for the
            soft Dice of the probabilities.
    """

    def __init__(self, threshold=0.5, name="dice", dtype=None):
        super().__init__(threshold=threshold, name=name, dtype=dtype)

    def result(self):
        return _dice(self.intersection, self.pred_sum, self.true_sum)


@keras.saving.register_keras_serializable(package="skinkeras")
class IoU(_OverlapMetric):
    """Intersection over union |P ∩ T| / |P ∪ T| (Jaccard index) of the lesion.

    Args:
        threshold: probability above which a pixel counts as lesion; None for the
            soft version.
    """

    def __init__(self, threshold=0.5, name="iou", dtype=None):
        super().__init__(threshold=threshold, name=name, dtype=dtype)

    def result(self):
        return _iou(self.intersection, self.pred_sum, self.true_sum)


def _binary_mask_and_probabilities(y_true, y_pred):
    """float32 0/1 mask, float32 probabilities, and the per-image reduction axes."""
    y_true = ops.cast(ops.cast(y_true, "float32") > 0.5, "float32")
    y_pred = ops.cast(y_pred, "float32")
    return y_true, y_pred, tuple(range(1, len(y_pred.shape)))


def _soft_dice_loss(y_true, y_pred, axes, smooth):
    intersection = ops.sum(y_true * y_pred, axis=axes)
    total = ops.sum(y_true, axis=axes) + ops.sum(y_pred, axis=axes)
    return 1.0 - (2.0 * intersection + smooth) / (total + smooth)


@keras.saving.register_keras_serializable(package="skinkeras")
class DiceLoss(keras.losses.Loss):
    """1 - soft Dice of each image: (B, H, W, 1) probabilities → (B,) losses."""

    def __init__(self, smooth=1.0, name="dice_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.smooth = smooth

    def call(self, y_true, y_pred):
        y_true, y_pred, axes = _binary_mask_and_probabilities(y_true, y_pred)
        return _soft_dice_loss(y_true, y_pred, axes, self.smooth)

    def get_config(self):
        return {**super().get_config(), "smooth": self.smooth}


@keras.saving.register_keras_serializable(package="skinkeras")
class BCEDiceLoss(keras.losses.Loss):
    """Binary cross-entropy (mean over pixels) + soft Dice loss, per image."""

    def __init__(self, smooth=1.0, name="bce_dice_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.smooth = smooth

    def call(self, y_true, y_pred):
        y_true, y_pred, axes = _binary_mask_and_probabilities(y_true, y_pred)
        eps = keras.backend.epsilon()
        p = ops.clip(y_pred, eps, 1.0 - eps)
        bce = -ops.mean(
            y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p), axis=axes
        )
        return bce + _soft_dice_loss(y_true, y_pred, axes, self.smooth)

    def get_config(self):
        return {**super().get_config(), "smooth": self.smooth}


# The losses `SegmentConfig.loss` names (`experiments.segment --loss`), each a
# factory of a fresh loss object.
LOSSES = {
    "bce": lambda: keras.losses.BinaryCrossentropy(name="bce"),
    "dice": DiceLoss,
    "bce_dice": BCEDiceLoss,
}
