"""Clinical-grade evaluation of the melanoma probability, in NumPy, SciPy and sklearn.

Issue 15: intervals, partial AUROC, operating points, calibration and a paired test
of two models, beside `skinkeras.metrics` (whose `auroc` and `MELANOMA` this reuses).
Binary labels throughout: ``y_true`` 1 (or True) is melanoma, 0 any other lesion;
``scores`` rank melanoma higher (e.g. `metrics.melanoma_probability(logits)`).

Functions:
    clinical_metrics            all of the below at once, as `experiments.evaluate`
                                reports them (JSON-ready).
    auroc_ci                    AUROC, stratified bootstrap percentile interval.
    roc_band                    pointwise bootstrap band of the ROC curve.
    proportion_ci               Wilson interval of a proportion (sensitivity, PPV, ...).
    partial_auroc               the ISIC scorer's "AUC above 80 % sensitivity".
    average_precision           the ISIC scorer's (and sklearn's) AP.
    sensitivity_at_specificity  best sensitivity with specificity >= a target.
    specificity_at_sensitivity  best specificity with sensitivity >= a target.
    operating_point_metrics     sensitivity, specificity, PPV, NPV, ... at a threshold.
    threshold_for_sensitivity   largest threshold reaching a sensitivity.
    youden_threshold            threshold maximising sensitivity + specificity - 1.
    expected_calibration_error  positive-class ECE, equal-width bins.
    reliability_curve           per-bin mean probability, observed frequency, count.
    brier_score                 mean squared error of the melanoma probability.
    fit_temperature, apply_temperature   temperature scaling (Guo et al. 2017).
    delong_test                 DeLong's test of two correlated AUROCs.

Decision rule: a lesion is called melanoma when ``score >= threshold`` (sklearn's
`roc_curve` convention). The ISIC scorer (isic-challenge-scoring 5.6.0,
`classification.py` `_category_score`) calls a category when its probability is
``> 0.5``; `operating_point_metrics` with ``threshold=np.nextafter(0.5, 1)`` is that
rule exactly.

Operating points are the achievable ones: ``score >= t`` for ``t`` each distinct score,
plus "no lesion called melanoma" (``t = inf``); nothing is interpolated between them.
"""

import typing

import numpy as np
import scipy.optimize
import scipy.stats
from sklearn import metrics as skm

from skinkeras.metrics import auroc, cross_entropy, softmax

__all__ = [
    "ISIC_THRESHOLD",
    "SENSITIVITY_TARGETS",
    "SPECIFICITY_TARGETS",
    "ConfidenceInterval",
    "DeLongResult",
    "ReliabilityCurve",
    "RocBand",
    "apply_temperature",
    "auroc_ci",
    "average_precision",
    "brier_score",
    "clinical_metrics",
    "delong_test",
    "expected_calibration_error",
    "fit_temperature",
    "operating_point_metrics",
    "partial_auroc",
    "proportion_ci",
    "reliability_curve",
    "roc_band",
    "sensitivity_at_specificity",
    "specificity_at_sensitivity",
    "threshold_for_sensitivity",
    "youden_threshold",
]


# Issue 15's operating points (ISIC 2017 papers report specificity at sensitivities
# 0.82 / 0.89 / 0.95) and the ISIC scorer's decision rule, ``probability > 0.5``.
SPECIFICITY_TARGETS = (0.80, 0.90, 0.95)
SENSITIVITY_TARGETS = (0.82, 0.89, 0.95)
ISIC_THRESHOLD = float(np.nextafter(0.5, 1))


class ConfidenceInterval(typing.NamedTuple):
    point: float
    low: float
    high: float


class DeLongResult(typing.NamedTuple):
    auc1: float
    auc2: float
    difference: float  # auc1 - auc2
    z: float
    p_value: float  # two-sided
    variance: float  # DeLong's variance of the difference


class RocBand(typing.NamedTuple):
    fpr: np.ndarray  # (points,) grid from 0 to 1
    low: np.ndarray  # (points,) lower percentile of the resampled sensitivities
    high: np.ndarray  # (points,) upper percentile


class ReliabilityCurve(typing.NamedTuple):
    mean_probability: np.ndarray  # (bins,) mean melanoma probability, NaN if empty
    frequency: np.ndarray  # (bins,) fraction of melanomas, NaN if empty
    count: np.ndarray  # (bins,) int
    edges: np.ndarray  # (bins + 1,) from 0 to 1


# --- Input checks ------------------------------------------------------------------


def _labels(y_true, *, both_classes=True, min_per_class=1):
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(
            f"`y_true` must be 1-D (one label per lesion). Received: y_true.shape={y.shape}"
        )
    if y.size == 0:
        raise ValueError(
            f"`y_true` must not be empty. Received: y_true.shape={y.shape}"
        )
    values = np.unique(y)
    if not np.isin(values, [0, 1]).all():
        raise ValueError(
            "`y_true` must be binary: 1 (melanoma) or 0. "
            f"Received: y_true values={values.tolist()[:10]}"
        )
    y = y.astype(bool)
    if both_classes:
        counts = {"melanoma": int(y.sum()), "other": int((~y).sum())}
        if min(counts.values()) < min_per_class:
            raise ValueError(
                f"`y_true` needs at least {min_per_class} lesion(s) of each class. "
                f"Received: y_true counts={counts}"
            )
    return y


def _scores(scores, y, *, name="scores", probabilities=False):
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != y.shape:
        raise ValueError(
            f"`{name}` must be 1-D with one value per label in `y_true`. "
            f"Received: {name}.shape={s.shape}, y_true.shape={y.shape}"
        )
    if not np.isfinite(s).all():
        raise ValueError(
            f"`{name}` must be finite. Received: {name} with "
            f"{int((~np.isfinite(s)).sum())} non-finite value(s)"
        )
    if probabilities and s.size and (s.min() < 0 or s.max() > 1):
        raise ValueError(
            f"`{name}` must be probabilities in [0, 1]. "
            f"Received: {name} range=[{s.min()}, {s.max()}]"
        )
    return s


def _binary(y_true, scores, **kwargs):
    y = _labels(y_true, **kwargs)
    return y, _scores(scores, y)


def _fraction(value, name):
    # A rate target in (0, 1]: every operating point reaches a sensitivity of 0.
    if not 0 < value <= 1:
        raise ValueError(f"`{name}` must be in (0, 1]. Received: {name}={value}")
    return float(value)


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(
            f"`{name}` must be a positive integer. Received: {name}={value!r}"
        )
    return int(value)


# --- Ranking -----------------------------------------------------------------------


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


def auroc_ci(y_true, scores, *, resamples=2000, confidence=0.95, seed=0):
    """AUROC with a stratified bootstrap percentile interval.

    Each resample draws the melanomas and the other lesions separately, with
    replacement, as many of each as in ``y_true`` (so every resample has both
    classes and the study's prevalence); the interval is the ``(1 - confidence) / 2``
    and ``(1 + confidence) / 2`` quantiles (NumPy's linear interpolation) of the
    resampled AUROCs. Draw order, for reproducing it elsewhere: with
    ``rng = np.random.default_rng(seed)``, per resample
    ``rng.integers(n_melanoma, size=n_melanoma)`` then
    ``rng.integers(n_other, size=n_other)``, indices into the melanomas and the other
    lesions in their order in ``y_true``.

    Returns:
        `ConfidenceInterval(point, low, high)`; ``point`` is `metrics.auroc`.
    """
    y, s = _binary(y_true, scores)
    alpha = 1 - _confidence(confidence)
    aurocs = [
        _mann_whitney(pos, np.sort(neg))
        for pos, neg in _stratified_resamples(y, s, resamples, seed)
    ]
    low, high = np.quantile(aurocs, [alpha / 2, 1 - alpha / 2])
    return ConfidenceInterval(auroc(y, s), float(low), float(high))


def _confidence(confidence):
    if not 0 < confidence < 1:
        raise ValueError(
            f"`confidence` must be in (0, 1). Received: confidence={confidence}"
        )
    return float(confidence)


def _stratified_resamples(y, s, resamples, seed):
    """`auroc_ci`'s documented draws: ``(melanoma scores, other scores)`` each."""
    resamples = _positive_int(resamples, "resamples")
    positives, negatives = s[y], s[~y]
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        pos = positives[rng.integers(positives.size, size=positives.size)]
        neg = negatives[rng.integers(negatives.size, size=negatives.size)]
        yield pos, neg


def roc_band(y_true, scores, *, resamples=2000, confidence=0.95, seed=0, points=101):
    """Pointwise bootstrap band of the ROC curve (vertical averaging).

    The resamples of `auroc_ci` (same ``seed``, same draws); each resample's ROC
    curve (every operating point, linearly interpolated between them) is read at
    ``points`` equally spaced false-positive rates, and the band is the percentile
    interval of the sensitivities at each. For plots: it is not a simultaneous band.

    Returns:
        `RocBand(fpr, low, high)`.
    """
    y, s = _binary(y_true, scores)
    alpha = 1 - _confidence(confidence)
    grid = np.linspace(0.0, 1.0, _positive_int(points, "points"))
    curves = []
    for pos, neg in _stratified_resamples(y, s, resamples, seed):
        labels = np.r_[np.ones(pos.size, bool), np.zeros(neg.size, bool)]
        _, sensitivities, specificities = _rates(labels, np.r_[pos, neg])
        curves.append(np.interp(grid, 1 - specificities, sensitivities))
    low, high = np.quantile(curves, [alpha / 2, 1 - alpha / 2], axis=0)
    return RocBand(grid, low, high)


def proportion_ci(successes, total, confidence=0.95):
    """Wilson score interval of a proportion ``successes / total``.

    For the rates at an operating point (sensitivity: melanomas found / melanomas;
    PPV: melanomas among those called; ...). Wilson (1927); unlike the normal
    approximation it stays inside [0, 1] and is usable at 0 or ``total`` successes.
    ``total`` 0 gives NaNs.
    """
    z = scipy.stats.norm.isf((1 - _confidence(confidence)) / 2)
    if total == 0:
        return ConfidenceInterval(np.nan, np.nan, np.nan)
    if not 0 <= successes <= total:
        raise ValueError(
            "`successes` must be in [0, total]. "
            f"Received: successes={successes}, total={total}"
        )
    p = successes / total
    centre = (p + z**2 / (2 * total)) / (1 + z**2 / total)
    half = z / (1 + z**2 / total) * np.sqrt(p * (1 - p) / total + z**2 / (4 * total**2))
    low, high = np.clip([centre - half, centre + half], 0.0, 1.0)
    return ConfidenceInterval(float(p), float(low), float(high))


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


# --- Calibration -------------------------------------------------------------------


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


# --- Comparing two models ----------------------------------------------------------


def delong_test(y_true, scores1, scores2):
    """DeLong's test that two AUROCs on the same lesions are equal.

    DeLong, DeLong & Clarke-Pearson (1988), "Comparing the areas under two or more
    correlated receiver operating characteristic curves", Biometrics 44: the
    structural components (placement values) of each melanoma, ``V10`` (fraction of
    other lesions scored below it, ties 1/2), and of each other lesion, ``V01``
    (fraction of melanomas scored above it); ``S10``, ``S01`` their 2 x 2 sample
    covariances over the two models; ``var(AUC1 - AUC2) = c' (S10 / m + S01 / n) c``
    with ``c = (1, -1)``, m melanomas, n others; ``z = (AUC1 - AUC2) / sqrt(var)``,
    two-sided normal p-value. The placement values come from midranks, Sun & Xu
    (2014), "Fast implementation of DeLong's algorithm", IEEE Signal Process. Lett.
    21: O(N log N) instead of the O(m n) comparisons.

    Identical scores give difference 0, z 0 and p 1. Needs >= 2 lesions of each class.

    Returns:
        `DeLongResult(auc1, auc2, difference, z, p_value, variance)`.
    """
    y = _labels(y_true, min_per_class=2)
    both = np.stack(
        [_scores(scores1, y, name="scores1"), _scores(scores2, y, name="scores2")]
    )
    m, n = int(y.sum()), int((~y).sum())
    positives, negatives = both[:, y], both[:, ~y]
    # Sun & Xu's midranks: rank among all minus rank among its own class counts the
    # other class below (ties 1/2).
    rank_all = scipy.stats.rankdata(np.concatenate([positives, negatives], 1), axis=1)
    rank_pos = scipy.stats.rankdata(positives, axis=1)
    rank_neg = scipy.stats.rankdata(negatives, axis=1)
    v10 = (rank_all[:, :m] - rank_pos) / n  # per melanoma: others below it
    v01 = 1 - (rank_all[:, m:] - rank_neg) / m  # per other: melanomas above it
    aucs = v10.mean(axis=1)
    covariance = np.cov(v10) / m + np.cov(v01) / n
    variance = float(covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1])
    difference = float(aucs[0] - aucs[1])
    if difference == 0:
        z = 0.0
    elif variance <= 0:
        # No variance left (e.g. one model's scores constant within a class).
        z = float(np.copysign(np.inf, difference))
    else:
        z = float(difference / np.sqrt(variance))
    p_value = float(2 * scipy.stats.norm.sf(abs(z)))
    return DeLongResult(
        float(aucs[0]), float(aucs[1]), difference, z, p_value, variance
    )


# --- Everything at once --------------------------------------------------------------


def clinical_metrics(
    y_true,
    probabilities,
    *,
    threshold=ISIC_THRESHOLD,
    resamples=2000,
    confidence=0.95,
    seed=0,
    bins=15,
):
    """Issue 15's evaluation of melanoma probabilities, as a JSON-ready dict.

    Args:
        y_true: (N,) binary labels (1 melanoma), both classes present.
        probabilities: (N,) melanoma probabilities (calibrated ones, if the run has
            a temperature: every probability metric is computed on these).
        threshold: the operating point, ``probability >= threshold`` (default: the
            ISIC scorer's ``> 0.5``).
        resamples, confidence, seed: of the AUROC bootstrap (`auroc_ci`).
        bins: of the expected calibration error.

    Returns:
        dict: ``num_examples``, ``num_melanoma``; ``auroc`` ``{point, low, high}``;
        ``partial_auroc`` (above 80 % sensitivity, the ISIC scorer's
        ``auc_sens_80``); ``average_precision``; ``sensitivity_at_specificity`` and
        ``specificity_at_sensitivity`` keyed by the target (``"0.80"``, ...);
        ``operating_point``: `operating_point_metrics` at ``threshold`` (confusion
        matrix as nested lists) and a Wilson interval ``{point, low, high}`` of each
        of its four rates under ``intervals``; ``ece``, ``brier``; ``confidence``,
        ``resamples``, ``bootstrap_seed``.
    """
    y = _labels(y_true)
    p = _scores(probabilities, y, name="probabilities", probabilities=True)
    point = operating_point_metrics(y, p, threshold)
    (tn, fp), (fn, tp) = point["confusion_matrix"].tolist()
    counts = {
        "sensitivity": (tp, tp + fn),
        "specificity": (tn, tn + fp),
        "ppv": (tp, tp + fp),
        "npv": (tn, tn + fn),
    }
    point["confusion_matrix"] = point["confusion_matrix"].tolist()
    point["intervals"] = {
        name: proportion_ci(k, n, confidence)._asdict()
        for name, (k, n) in counts.items()
    }
    return {
        "num_examples": int(y.size),
        "num_melanoma": int(y.sum()),
        "auroc": auroc_ci(
            y, p, resamples=resamples, confidence=confidence, seed=seed
        )._asdict(),
        "partial_auroc": partial_auroc(y, p),
        "average_precision": average_precision(y, p),
        "sensitivity_at_specificity": {
            f"{target:.2f}": sensitivity_at_specificity(y, p, target)
            for target in SPECIFICITY_TARGETS
        },
        "specificity_at_sensitivity": {
            f"{target:.2f}": specificity_at_sensitivity(y, p, target)
            for target in SENSITIVITY_TARGETS
        },
        "operating_point": point,
        "ece": expected_calibration_error(y, p, bins),
        "brier": brier_score(y, p),
        "confidence": float(confidence),
        "resamples": int(resamples),
        "bootstrap_seed": int(seed),
    }
