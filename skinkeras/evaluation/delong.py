"""DeLong's test of two correlated AUROCs on one test set."""

import typing

import numpy as np
import scipy.stats

from skinkeras.evaluation._checks import _labels, _scores

__all__ = ["DeLongResult", "delong_test"]


class DeLongResult(typing.NamedTuple):
    auc1: float
    auc2: float
    difference: float  # auc1 - auc2
    z: float
    p_value: float  # two-sided
    variance: float  # DeLong's variance of the difference


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
