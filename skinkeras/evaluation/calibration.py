"""Calibration of the melanoma probability: reliability, ECE, Brier, temperature scaling.

And the arithmetic of a run's `calibration.json` (its file, where it lives and its
checks are `skinkeras.inference.calibration`'s): `fit_calibration` makes the dict
from validation predictions, `apply_calibration` applies one to probabilities.
"""

import typing

import numpy as np
import scipy.optimize

from skinkeras.evaluation import ranking
from skinkeras.evaluation._checks import _labels, _positive_int, _scores
from skinkeras.metrics import MELANOMA, cross_entropy, softmax

__all__ = [
    "OPERATING_POINT_RULES",
    "ReliabilityCurve",
    "reliability_curve",
    "expected_calibration_error",
    "brier_score",
    "fit_temperature",
    "apply_temperature",
    "log_probabilities",
    "apply_calibration",
    "fit_calibration",
]

# How `fit_calibration` chooses the threshold (`calibration.json`'s `rule`).
OPERATING_POINT_RULES = ("target_sensitivity", "youden")

# Probabilities 0 (float64 underflow) get log(tiny) = -708 rather than -inf.
_TINY = np.finfo(np.float64).tiny


class ReliabilityCurve(typing.NamedTuple):
    mean_probability: np.ndarray  # (bins,) mean melanoma probability, NaN if empty
    frequency: np.ndarray  # (bins,) fraction of melanomas, NaN if empty
    count: np.ndarray  # (bins,) int
    edges: np.ndarray  # (bins + 1,) from 0 to 1


def reliability_curve(y_true, probabilities, bins=15):
    """Positive-class reliability diagram of the melanoma probability.

    ``bins`` equal-width bins on [0, 1], each ``(lo, hi]`` and the first ``[0, hi]``
    (Guo et al. 2017's bins ``((m - 1) / M, m / M]``; the binning of
    `sklearn.calibration.calibration_curve(strategy="uniform")`, scikit-learn 1.9);
    per bin the mean probability, the fraction of melanomas and the count. Empty bins
    have NaN means and count 0. One class in ``y_true`` is allowed.
    """
    y = _labels(y_true, both_classes=False)
    p = _scores(probabilities, y, name="probabilities", probabilities=True)
    bins = _positive_int(bins, "bins")
    edges = np.linspace(0.0, 1.0, bins + 1)
    # side="left": a probability on an edge belongs to the bin below it.
    index = np.searchsorted(edges[1:-1], p, side="left")
    count = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_probability = np.bincount(index, weights=p, minlength=bins) / count
        frequency = np.bincount(index, weights=y, minlength=bins) / count
    return ReliabilityCurve(mean_probability, frequency, count, edges)


def expected_calibration_error(y_true, probabilities, bins=15):
    """Positive-class ECE: ``sum_b n_b / N * |frequency_b - mean_probability_b|``.

    Over the bins of `reliability_curve` (15 equal-width, as Guo et al. 2017,
    "On Calibration of Modern Neural Networks"). Positive-class, not top-label: the
    reliability of the melanoma probability itself, whose value a clinician
    thresholds; the top-label version would bin ``max(p, 1 - p)`` and mix both
    classes' errors.
    """
    curve = reliability_curve(y_true, probabilities, bins)
    filled = curve.count > 0
    gaps = np.abs(curve.frequency[filled] - curve.mean_probability[filled])
    return float(np.sum(curve.count[filled] * gaps) / curve.count.sum())


def brier_score(y_true, probabilities):
    """Mean of ``(probability - y)**2`` (`sklearn.metrics.brier_score_loss`)."""
    y = _labels(y_true, both_classes=False)
    p = _scores(probabilities, y, name="probabilities", probabilities=True)
    return float(np.mean((p - y) ** 2))


def _logits_and_labels(logits, labels):
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] < 2:
        raise ValueError(
            f"`logits` must have shape (N, classes >= 2). Received: logits.shape={z.shape}"
        )
    if not np.isfinite(z).all():
        raise ValueError("`logits` must be finite. Received: non-finite logits")
    if labels is None:
        return z, None
    t = np.asarray(labels)
    if t.shape != (z.shape[0],):
        raise ValueError(
            "`labels` must be (N,) matching `logits` (N, classes). "
            f"Received: labels.shape={t.shape}, logits.shape={z.shape}"
        )
    if t.size and (
        not np.all(t == np.round(t)) or t.min() < 0 or t.max() >= z.shape[1]
    ):
        raise ValueError(
            f"`labels` must be class indices in [0, {z.shape[1]}). "
            f"Received: labels range=[{t.min()}, {t.max()}]"
        )
    return z, t.astype(np.int64)


# Temperatures searched, wide enough for any trained network (Guo et al. report
# 1.1 to 3); a result on a bound means the logits carry little information.
_TEMPERATURE_BOUNDS = (1e-2, 1e2)


def fit_temperature(logits, labels):
    """Temperature ``T > 0`` minimising the NLL of ``softmax(logits / T)``.

    Temperature scaling (Guo et al. 2017): one scalar fitted on held-out data (a
    validation split, never the test set); it changes the probabilities, not their
    ranking. Bounded scalar minimisation (Brent) over ``log T`` in
    ``log [0.01, 100]``: the NLL is smooth in ``log T`` and ``T`` stays positive.

    Args:
        logits: (N, classes) pre-softmax outputs (`MELANOMA` is column 1).
        labels: (N,) integer class indices.
    """
    z, t = _logits_and_labels(logits, labels)
    if not z.shape[0]:
        raise ValueError(
            f"`logits` must not be empty. Received: logits.shape={z.shape}"
        )
    low, high = np.log(_TEMPERATURE_BOUNDS)
    found = scipy.optimize.minimize_scalar(
        lambda log_t: cross_entropy(t, z / np.exp(log_t)),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-7},
    )
    return float(np.exp(found.x))


def apply_temperature(logits, temperature):
    """Calibrated probabilities ``softmax(logits / temperature)``, (N, classes).

    The melanoma probability is column `MELANOMA`.
    """
    z, _ = _logits_and_labels(logits, None)
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(
            f"`temperature` must be positive. Received: temperature={temperature}"
        )
    return softmax(z / temperature)


def log_probabilities(probabilities):
    """``log(p)``, with 0 mapped to ``log(tiny)``: logits of `probabilities`."""
    return np.log(np.maximum(np.asarray(probabilities, np.float64), _TINY))


def apply_calibration(probabilities, calibration, *, melanoma=MELANOMA):
    """Calibrated probabilities and decisions of (N, classes) `probabilities`.

    Returns:
        ``(probabilities, decisions)``: ``softmax(log(p) / temperature)`` (N,
        classes), and int (N,) 1 where its melanoma column is >= the threshold (0
        otherwise). With ``calibration`` None, the probabilities unchanged and no
        decisions (None).
    """
    probabilities = np.asarray(probabilities, np.float64)
    if calibration is None:
        return probabilities, None
    calibrated = softmax(log_probabilities(probabilities) / calibration["temperature"])
    decisions = (calibrated[:, melanoma] >= calibration["threshold"]).astype(np.int64)
    return calibrated, decisions


def fit_calibration(
    labels,
    probabilities,
    *,
    rule="target_sensitivity",
    target_sensitivity=0.90,
    melanoma=MELANOMA,
    split=None,
    seeds=(),
    tta=1,
):
    """The `calibration.json` dict fitted on held-out (validation) predictions.

    Issue 15: a temperature (`fit_temperature` of ``log(probabilities)``), then on
    the calibrated melanoma probability the operating point: the largest threshold
    reaching `target_sensitivity` (`threshold_for_sensitivity`), or with
    ``rule="youden"`` the one maximising Youden's J. Choose both on validation
    data: on the test set they would overstate its metrics.

    Args:
        labels: (N,) class indices.
        probabilities: (N, classes) the model's (an ensemble's: their mean).
        rule: one of `OPERATING_POINT_RULES`.
        target_sensitivity: the sensitivity that ``rule="target_sensitivity"``
            reaches.
        melanoma: the melanoma column (`skinkeras.metrics.melanoma_index`).
        split, seeds, tta: what it is fitted on, recorded in the dict.
    """
    if rule not in OPERATING_POINT_RULES:
        raise ValueError(
            f"`rule` must be one of {list(OPERATING_POINT_RULES)}. Received: rule={rule!r}"
        )
    temperature = fit_temperature(log_probabilities(probabilities), labels)
    calibrated = apply_temperature(log_probabilities(probabilities), temperature)[
        :, melanoma
    ]
    y = np.asarray(labels) == melanoma
    if rule == "youden":
        threshold = ranking.youden_threshold(y, calibrated)
    else:
        threshold = ranking.threshold_for_sensitivity(y, calibrated, target_sensitivity)
    point = ranking.operating_point_metrics(y, calibrated, threshold)
    return {
        "temperature": temperature,
        "threshold": threshold,
        "rule": rule,
        "target_sensitivity": target_sensitivity if rule != "youden" else None,
        "validation_sensitivity": point["sensitivity"],
        "validation_specificity": point["specificity"],
        "validation_n": int(y.size),
        "split": split,
        "seeds": list(seeds),
        "tta": tta,
    }
