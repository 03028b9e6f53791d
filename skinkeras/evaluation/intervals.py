"""Confidence intervals: bootstrap AUROC and ROC band (stratified), Wilson proportions."""

import typing

import numpy as np
import scipy.stats

from skinkeras.evaluation._checks import _binary, _confidence, _positive_int
from skinkeras.evaluation.ranking import _mann_whitney, _rates
from skinkeras.metrics import auroc

__all__ = ["ConfidenceInterval", "RocBand", "auroc_ci", "roc_band", "proportion_ci"]


class ConfidenceInterval(typing.NamedTuple):
    point: float
    low: float
    high: float


class RocBand(typing.NamedTuple):
    fpr: np.ndarray  # (points,) grid from 0 to 1
    low: np.ndarray  # (points,) lower percentile of the resampled sensitivities
    high: np.ndarray  # (points,) upper percentile


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
