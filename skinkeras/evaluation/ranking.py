"""Operating points of a score: partial AUROC, AP, sensitivity/specificity targets,
thresholds and the metrics at one threshold (module doc of `skinkeras.evaluation`)."""

import numpy as np
from sklearn import metrics as skm

from skinkeras.evaluation._checks import _binary, _fraction

__all__ = [
    "ISIC_THRESHOLD",
    "partial_auroc",
    "average_precision",
    "sensitivity_at_specificity",
    "specificity_at_sensitivity",
    "threshold_for_sensitivity",
    "youden_threshold",
    "operating_point_metrics",
]


ISIC_THRESHOLD = float(np.nextafter(0.5, 1))


def _operating_points(y, s):
    """Counts at ``score >= t`` for each distinct score ``t`` (descending) and inf.

    Returns thresholds, true positives and false positives, each (K + 1,), the first
    entry being ``t = inf`` (nothing called melanoma).
    """
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    # Last index of each run of equal scores: tied lesions switch together.
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), s.size - 1]
    tp = np.cumsum(y_sorted)[last]
    fp = last + 1 - tp
    return np.r_[np.inf, s_sorted[last]], np.r_[0, tp], np.r_[0, fp]


def _rates(y, s):
    thresholds, tp, fp = _operating_points(y, s)
    positives, negatives = int(y.sum()), int((~y).sum())
    # Counts divided directly (not 1 - fpr): 9 / 10 == 0.9 exactly, so a target of
    # 0.9 is met by 9 true negatives out of 10.
    return thresholds, tp / positives, (negatives - fp) / negatives


def _mann_whitney(positives, sorted_negatives):
    # AUROC = P(melanoma scored above other) + P(tie) / 2, O(n log n).
    below = np.searchsorted(sorted_negatives, positives, side="left")
    not_above = np.searchsorted(sorted_negatives, positives, side="right")
    wins = below.sum() + 0.5 * (not_above - below).sum()
    return wins / (positives.size * sorted_negatives.size)


def partial_auroc(y_true, scores, min_sensitivity=0.80):
    """The ISIC challenge scorer's "AUC above 80 % sensitivity" (``auc_sens_80``).

    Exactly isic-challenge-scoring 5.6.0's `metrics.auc_above_sensitivity`: the ROC
    curve (sklearn, every threshold), a point inserted where the curve first reaches
    sensitivity ``min_sensitivity`` (FPR linearly interpolated), and the trapezoidal
    area under the curve from that point on, i.e. the area under the ROC curve for
    FPR from ``FPR(min_sensitivity)`` to 1 — a raw area, not McClish-normalised
    (which sklearn's ``max_fpr`` would apply). A perfect ranking scores 1, chance
    ``(1 - min_sensitivity**2) / 2`` (0.18 at 80 %).
    """
    y, s = _binary(y_true, scores)
    min_sensitivity = _fraction(min_sensitivity, "min_sensitivity")
    fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    # side="left": the segment keeps every point at exactly the target. tpr[0] == 0
    # < min_sensitivity, so index >= 1 and the 2-point segment below straddles it.
    index = tpr.searchsorted(min_sensitivity, side="left")
    fpr_at = np.interp(
        min_sensitivity, tpr[index - 1 : index + 1], fpr[index - 1 : index + 1]
    )
    return float(
        skm.auc(np.r_[fpr_at, fpr[index:]], np.r_[min_sensitivity, tpr[index:]])
    )


def average_precision(y_true, scores):
    """Average precision as the ISIC scorer and sklearn compute it.

    ``sum_k (R_k - R_{k-1}) P_k`` over the thresholds (step-wise, no interpolation):
    `sklearn.metrics.average_precision_score`, which the scorer calls.
    """
    y, s = _binary(y_true, scores)
    return float(skm.average_precision_score(y, s))


def sensitivity_at_specificity(y_true, scores, specificity):
    """Highest sensitivity among the operating points with specificity >= target.

    Operating points: ``score >= t`` for every distinct score and ``t = inf`` (the
    latter has specificity 1, so one always qualifies). No interpolation. Issue 15's
    targets: 0.80, 0.90, 0.95.
    """
    y, s = _binary(y_true, scores)
    specificity = _fraction(specificity, "specificity")
    _, sensitivities, specificities = _rates(y, s)
    return float(sensitivities[specificities >= specificity].max())


def specificity_at_sensitivity(y_true, scores, sensitivity):
    """Highest specificity among the operating points with sensitivity >= target.

    As `sensitivity_at_specificity` with the roles swapped (the lowest threshold
    has sensitivity 1, so one always qualifies). Issue 15's targets: 0.82, 0.89, 0.95.
    """
    y, s = _binary(y_true, scores)
    sensitivity = _fraction(sensitivity, "sensitivity")
    _, sensitivities, specificities = _rates(y, s)
    return float(specificities[sensitivities >= sensitivity].max())


def threshold_for_sensitivity(y_true, scores, target):
    """Largest threshold whose sensitivity (``score >= threshold``) is >= target.

    A distinct value of ``scores``; the most specific operating point that still
    finds ``target`` of the melanomas in these data.
    """
    y, s = _binary(y_true, scores)
    target = _fraction(target, "target")
    thresholds, sensitivities, _ = _rates(y, s)
    # Sensitivity grows as the threshold falls: the first that qualifies is largest.
    return float(thresholds[np.argmax(sensitivities >= target)])


def youden_threshold(y_true, scores):
    """Threshold maximising Youden's J = sensitivity + specificity - 1.

    A distinct value of ``scores`` (``score >= threshold``); among equal J the largest
    threshold (the most specific), as ``argmax`` over sklearn's `roc_curve`.
    """
    y, s = _binary(y_true, scores)
    thresholds, sensitivities, specificities = _rates(y, s)
    # Index 0 (t = inf) has J = 0; a finite threshold always reaches J >= 0 too
    # (the lowest has J = 0), so the argmax over the finite ones is the same.
    j = sensitivities[1:] + specificities[1:] - 1
    return float(thresholds[1:][np.argmax(j)])


def operating_point_metrics(y_true, scores, threshold, *, zero_division=np.nan):
    """Metrics of the decision ``score >= threshold`` (melanoma).

    Args:
        y_true: (N,) binary labels, both classes present.
        scores: (N,) melanoma scores.
        threshold: decision threshold; ``np.nextafter(0.5, 1)`` reproduces the ISIC
            scorer's ``probability > 0.5``.
        zero_division: PPV when nothing is called melanoma, NPV when everything is.
            NaN by default (undefined); the ISIC scorer scores them 1.0
            (`binary_ppv`, `binary_npv`), which ``zero_division=1.0`` reproduces.

    Returns:
        dict: ``sensitivity`` TP / (TP + FN), ``specificity`` TN / (TN + FP), ``ppv``
        TP / (TP + FP), ``npv`` TN / (TN + FN), ``balanced_accuracy`` (sensitivity +
        specificity) / 2, ``confusion_matrix`` int [[TN, FP], [FN, TP]] (rows: truth
        other, melanoma; sklearn's layout), ``threshold``.
    """
    y, s = _binary(y_true, scores)
    threshold = float(threshold)
    if np.isnan(threshold):
        raise ValueError(
            f"`threshold` must be a number. Received: threshold={threshold}"
        )
    called = s >= threshold
    tp, fp = int(np.sum(y & called)), int(np.sum(~y & called))
    fn, tn = int(np.sum(y & ~called)), int(np.sum(~y & ~called))
    sensitivity, specificity = tp / (tp + fn), tn / (tn + fp)
    return {
        "sensitivity": sensitivity,
        "specificity": specificity,
        "ppv": tp / (tp + fp) if tp + fp else float(zero_division),
        "npv": tn / (tn + fn) if tn + fn else float(zero_division),
        "balanced_accuracy": (sensitivity + specificity) / 2,
        "confusion_matrix": np.array([[tn, fp], [fn, tp]]),
        "threshold": threshold,
    }
