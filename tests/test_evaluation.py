"""skinkeras.evaluation against independent references: scikit-learn, SciPy, counts
and pairwise comparisons written out here, and the official ISIC scorer itself
(isic-challenge-scoring 5.6.0, run in its own environment in a subprocess)."""

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest
import scipy.special
import scipy.stats
from sklearn import calibration
from sklearn import metrics as skm

from skinkeras import evaluation as ev

REPO = pathlib.Path(__file__).resolve().parent.parent


def _data(seed, n=300, prevalence=0.2, separation=1.2, decimals=None):
    """Binary labels and melanoma probabilities; ``decimals`` rounds (ties)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    y[:2] = [0, 1]  # both classes, whatever the draw
    p = scipy.special.expit(rng.normal(size=n) + separation * y - 1.0)
    if decimals is not None:
        p = np.round(p * 20, decimals) / 20  # steps of 0.05: 0.5 itself occurs
    return y, p


def _counts(y, p, threshold):
    """Sensitivity and specificity of ``p >= threshold``, counted."""
    y = np.asarray(y, bool)
    called = p >= threshold
    return np.mean(called[y]), np.mean(~called[~y])


def _candidates(p):
    # Every achievable operating point: each distinct score, and nothing called.
    return np.r_[np.inf, np.unique(p)[::-1]]


# --- The official scorer -------------------------------------------------------------


def isic_scorer():
    """The official scorer, in its own pandas<2.2 environment (as in
    tests/inference/test_submission.py; .ci/run sets SKINKERAS_ISIC_SCORER)."""
    path = (
        os.environ.get("SKINKERAS_ISIC_SCORER")
        or REPO / ".venv-isic/bin/isic-challenge-scoring"
    )
    return pathlib.Path(path) if pathlib.Path(path).is_file() else None


needs_scorer = pytest.mark.skipif(
    isic_scorer() is None,
    reason="isic-challenge-scoring not installed: create it with `python3 -m venv "
    ".venv-isic && .venv-isic/bin/pip install isic-challenge-scoring==5.6.0 "
    "'pandas<2.2' 'numpy<2'` or set SKINKERAS_ISIC_SCORER to its executable",
)

# Runs in the scorer's environment: its per-category scores (the code path of
# `isic-challenge-scoring classification`, probability > 0.5 for the binary
# metrics) and `auc_above_sensitivity` at other sensitivities.
_SCORER_SCRIPT = """
import json, sys
import numpy as np, pandas as pd
from isic_challenge_scoring import metrics
from isic_challenge_scoring.classification import ClassificationScore
out = []
for case in json.load(sys.stdin):
    truth = pd.Series(np.asarray(case["y"], float))
    pred = pd.Series(np.asarray(case["p"], float))
    weights = pd.Series(np.ones(len(truth)))
    score = ClassificationScore._category_score(truth, pred, weights, "melanoma")
    found = {key: float(value) for key, value in score.items()}
    found["auc_above"] = [
        float(metrics.auc_above_sensitivity(truth, pred, weights, s))
        for s in case["sensitivities"]
    ]
    out.append(found)
print(json.dumps(out))
"""

_SENSITIVITIES = [0.8, 0.5, 0.9, 0.95, 1.0]


def _scorer_cases():
    rng = np.random.default_rng(5)
    cases = {
        "continuous": _data(0),
        "ties_at_0.5": _data(1, n=200, decimals=0),
        # 5 melanomas: sensitivity 0.8 is exactly a ROC point (4 / 5).
        "small": (np.r_[1, 1, 1, 1, 1, np.zeros(9, int)], rng.random(14)),
        "nothing_called": (np.r_[1, 1, 0, 0, 0, 0], [0.4, 0.1, 0.3, 0.2, 0.05, 0.5]),
        "everything_called": (np.r_[1, 0, 0, 0], [0.9, 0.6, 0.99, 0.51]),
        "perfect": (np.r_[0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.7, 0.8]),
        "reversed": (np.r_[1, 1, 0, 0, 0], [0.1, 0.2, 0.3, 0.7, 0.8]),
    }
    return {
        name: (np.asarray(y, int), np.asarray(p, float))
        for name, (y, p) in cases.items()
    }


@pytest.fixture(scope="module")
def scorer_results():
    python = isic_scorer().parent / "python"
    cases = _scorer_cases()
    payload = [
        {"y": y.tolist(), "p": p.tolist(), "sensitivities": _SENSITIVITIES}
        for y, p in cases.values()
    ]
    result = subprocess.run(
        [str(python), "-c", _SCORER_SCRIPT],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return dict(zip(cases, json.loads(result.stdout), strict=True))


@needs_scorer
@pytest.mark.parametrize("case", list(_scorer_cases()))
def test_ranking_metrics_match_the_isic_scorer(scorer_results, case):
    y, p = _scorer_cases()[case]
    expected = scorer_results[case]
    assert ev.partial_auroc(y, p) == pytest.approx(expected["auc_sens_80"], abs=1e-12)
    for sensitivity, area in zip(_SENSITIVITIES, expected["auc_above"], strict=True):
        assert ev.partial_auroc(y, p, sensitivity) == pytest.approx(area, abs=1e-12)
    assert ev.average_precision(y, p) == pytest.approx(expected["ap"], abs=1e-12)
    point = ev.auroc_ci(y, p, resamples=1).point
    assert point == pytest.approx(expected["auc"], abs=1e-12)


@needs_scorer
@pytest.mark.parametrize("case", list(_scorer_cases()))
def test_operating_point_matches_the_isic_scorer(scorer_results, case):
    y, p = _scorer_cases()[case]
    expected = scorer_results[case]
    # The scorer calls melanoma when p > 0.5; ours is p >= threshold.
    got = ev.operating_point_metrics(y, p, np.nextafter(0.5, 1), zero_division=1.0)
    for key in ("sensitivity", "specificity", "ppv", "npv"):
        assert got[key] == pytest.approx(expected[key], abs=1e-12), key
    (tn, fp), (fn, tp) = got["confusion_matrix"]
    assert (tp + tn) / len(y) == pytest.approx(expected["accuracy"], abs=1e-12)
    if case == "ties_at_0.5":
        # Scores of exactly 0.5 are melanoma for `>= 0.5`, not for the scorer.
        at_half = ev.operating_point_metrics(y, p, 0.5)
        assert at_half["specificity"] < expected["specificity"]


# --- AUROC interval ------------------------------------------------------------------


def test_auroc_ci_is_the_documented_stratified_bootstrap():
    y, p = _data(2, n=120, decimals=0)  # with ties, which count one half
    got = ev.auroc_ci(y, p, resamples=300, confidence=0.9, seed=3)
    # The documented draws, each resample scored by sklearn.
    rng = np.random.default_rng(3)
    positives, negatives = p[y == 1], p[y == 0]
    aurocs = []
    for _ in range(300):
        pos = positives[rng.integers(positives.size, size=positives.size)]
        neg = negatives[rng.integers(negatives.size, size=negatives.size)]
        labels = np.r_[np.ones(pos.size), np.zeros(neg.size)]
        aurocs.append(skm.roc_auc_score(labels, np.r_[pos, neg]))
    low, high = np.quantile(aurocs, [0.05, 0.95])
    assert got.point == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert got.low == pytest.approx(low, abs=1e-12)
    assert got.high == pytest.approx(high, abs=1e-12)
    assert got.low < got.point < got.high


def test_auroc_ci_keeps_rare_melanomas_in_every_resample():
    # 3 melanomas in 150: an unstratified resample often has none (AUROC undefined).
    y, p = _data(4, n=150, prevalence=0.0)
    y[:3] = 1
    got = ev.auroc_ci(y, p, resamples=500)
    assert np.isfinite([got.low, got.high]).all()
    assert got.low <= got.point <= got.high


def test_auroc_ci_seeded_and_narrower_at_lower_confidence():
    y, p = _data(6, n=200, decimals=1)
    assert ev.auroc_ci(y, p, resamples=200) == ev.auroc_ci(y, p, resamples=200)
    assert ev.auroc_ci(y, p, resamples=200, seed=1) != ev.auroc_ci(y, p, resamples=200)
    wide = ev.auroc_ci(y, p, resamples=400, confidence=0.95)
    narrow = ev.auroc_ci(y, p, resamples=400, confidence=0.5)
    assert wide.low < narrow.low < narrow.high < wide.high


@pytest.mark.parametrize("decimals", [None, 0])
def test_roc_band_is_the_percentile_of_the_resampled_curves(decimals):
    y, p = _data(21, n=80, decimals=decimals)
    band = ev.roc_band(y, p, resamples=150, confidence=0.9, seed=5, points=21)
    # The documented draws (auroc_ci's), each curve from sklearn's roc_curve.
    rng = np.random.default_rng(5)
    positives, negatives = p[y == 1], p[y == 0]
    grid = np.linspace(0, 1, 21)
    curves = []
    for _ in range(150):
        pos = positives[rng.integers(positives.size, size=positives.size)]
        neg = negatives[rng.integers(negatives.size, size=negatives.size)]
        labels = np.r_[np.ones(pos.size), np.zeros(neg.size)]
        fpr, tpr, _ = skm.roc_curve(labels, np.r_[pos, neg], drop_intermediate=False)
        curves.append(np.interp(grid, fpr, tpr))
    low, high = np.quantile(curves, [0.05, 0.95], axis=0)
    np.testing.assert_allclose(band.fpr, grid)
    np.testing.assert_allclose(band.low, low, atol=1e-12)
    np.testing.assert_allclose(band.high, high, atol=1e-12)
    # The full-sample curve lies inside the band at most points.
    fpr, tpr, _ = skm.roc_curve(y, p, drop_intermediate=False)
    inside = (band.low <= np.interp(grid, fpr, tpr)) & (
        np.interp(grid, fpr, tpr) <= band.high
    )
    assert inside.mean() > 0.8


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (10, 10), (57, 120)])
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_proportion_ci_is_scipys_wilson_interval(k, n, confidence):
    expected = scipy.stats.binomtest(k, n).proportion_ci(confidence, method="wilson")
    got = ev.proportion_ci(k, n, confidence)
    assert got.point == k / n
    assert got.low == pytest.approx(expected.low, abs=1e-12)
    assert got.high == pytest.approx(expected.high, abs=1e-12)


def test_proportion_ci_of_nothing_is_nan():
    assert np.isnan(ev.proportion_ci(0, 0)).all()
    with pytest.raises(ValueError, match="Received: successes=5, total=4"):
        ev.proportion_ci(5, 4)


def test_clinical_metrics_gathers_the_pieces():
    y, p = _data(22, n=200)
    found = ev.clinical_metrics(y, p, threshold=0.3, resamples=100, seed=2)
    ci = ev.auroc_ci(y, p, resamples=100, seed=2)
    assert found["auroc"] == {"point": ci.point, "low": ci.low, "high": ci.high}
    assert found["auroc"]["point"] == pytest.approx(skm.roc_auc_score(y, p))
    assert found["average_precision"] == pytest.approx(
        skm.average_precision_score(y, p)
    )
    assert found["brier"] == pytest.approx(skm.brier_score_loss(y, p))
    assert list(found["sensitivity_at_specificity"]) == ["0.80", "0.90", "0.95"]
    assert list(found["specificity_at_sensitivity"]) == ["0.82", "0.89", "0.95"]
    sensitivity, specificity = _counts(y, p, 0.3)
    point = found["operating_point"]
    assert point["sensitivity"] == pytest.approx(sensitivity)
    assert point["specificity"] == pytest.approx(specificity)
    tn, fp, fn, tp = skm.confusion_matrix(y, p >= 0.3).ravel()
    assert point["confusion_matrix"] == [[tn, fp], [fn, tp]]
    ppv = scipy.stats.binomtest(tp, tp + fp).proportion_ci(0.95, method="wilson")
    assert point["intervals"]["ppv"]["low"] == pytest.approx(ppv.low)
    assert found["num_examples"] == 200 and found["num_melanoma"] == y.sum()
    json.dumps(found)  # JSON-ready
    # Default operating point: the ISIC scorer's probability > 0.5.
    at_half = ev.clinical_metrics([0, 1, 1, 0], [0.5, 0.5, 0.6, 0.2], resamples=5)
    assert at_half["operating_point"]["confusion_matrix"] == [[2, 0], [1, 1]]


# --- Partial AUROC, average precision ------------------------------------------------


def reference_partial_auroc(y, p, min_sensitivity):
    """ROC polygon from counts; trapezoids right of where it reaches the target."""
    points = [(0.0, 0.0)]
    for threshold in np.unique(p)[::-1]:
        sensitivity, specificity = _counts(y, p, threshold)
        points.append((1 - specificity, sensitivity))
    area = 0.0
    for (f0, t0), (f1, t1) in zip(points[:-1], points[1:], strict=True):
        if t1 < min_sensitivity:
            continue
        if t0 < min_sensitivity:  # the segment crossing the target, clipped
            f0 += (min_sensitivity - t0) / (t1 - t0) * (f1 - f0)
            t0 = min_sensitivity
        area += (f1 - f0) * (t0 + t1) / 2
    return area


@pytest.mark.parametrize("decimals", [None, 0, 1])
@pytest.mark.parametrize("min_sensitivity", [0.8, 0.5, 0.95, 1.0])
def test_partial_auroc_matches_the_polygon_area(decimals, min_sensitivity):
    for seed in range(3):
        y, p = _data(seed, n=150, decimals=decimals)
        assert ev.partial_auroc(y, p, min_sensitivity) == pytest.approx(
            reference_partial_auroc(y, p, min_sensitivity), abs=1e-12
        )
    # Target exactly on a ROC point (4 of 5 melanomas), and on a vertical jump.
    y = np.r_[1, 1, 1, 1, 1, np.zeros(9, int)]
    p = np.random.default_rng(3).random(14)
    assert ev.partial_auroc(y, p, min_sensitivity) == pytest.approx(
        reference_partial_auroc(y, p, min_sensitivity), abs=1e-12
    )


def test_partial_auroc_extremes():
    y = np.r_[np.zeros(50, int), np.ones(50, int)]
    ranked = np.linspace(0, 1, 100)
    assert ev.partial_auroc(y, ranked) == pytest.approx(1.0)
    assert ev.partial_auroc(y, ranked[::-1]) == pytest.approx(0.0)
    # Chance: the diagonal from FPR 0.8 to 1.
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40_000)
    assert ev.partial_auroc(y, rng.random(y.size)) == pytest.approx(0.18, abs=0.005)


def test_average_precision_is_step_wise_precision_over_recall():
    for decimals in (None, 0):
        y, p = _data(7, n=200, decimals=decimals)
        expected = 0.0
        previous_recall = 0.0
        for threshold in np.unique(p)[::-1]:
            called = p >= threshold
            recall = np.sum(called & (y == 1)) / np.sum(y == 1)
            precision = np.sum(called & (y == 1)) / np.sum(called)
            expected += (recall - previous_recall) * precision
            previous_recall = recall
        assert ev.average_precision(y, p) == pytest.approx(expected, abs=1e-12)
        assert ev.average_precision(y, p) == pytest.approx(
            skm.average_precision_score(y, p), abs=1e-12
        )


# --- Operating points ----------------------------------------------------------------


# Each operating point maximises one of (sensitivity, specificity) while the other
# is held at or above the target: (index maximised, index held).
OPERATING_POINTS = {
    "sensitivity_at_specificity": (0, 1),
    "specificity_at_sensitivity": (1, 0),
}


@pytest.mark.parametrize(
    "function, target, seed",
    [
        ("sensitivity_at_specificity", 0.80, 8),
        ("sensitivity_at_specificity", 0.90, 8),
        ("sensitivity_at_specificity", 0.95, 8),
        ("specificity_at_sensitivity", 0.82, 9),
        ("specificity_at_sensitivity", 0.89, 9),
        ("specificity_at_sensitivity", 0.95, 9),
    ],
)
def test_operating_point_is_the_best_qualifying_point(function, target, seed):
    maximised, held = OPERATING_POINTS[function]
    for decimals in (None, 0, 1):
        y, p = _data(seed, n=200, decimals=decimals)
        rates = [_counts(y, p, t) for t in _candidates(p)]
        expected = max(rate[maximised] for rate in rates if rate[held] >= target)
        assert getattr(ev, function)(y, p, target) == expected


def test_targets_met_exactly_count():
    # 10 others, 5 melanomas. At p >= 0.6: specificity 9/10 = 0.9 and sensitivity
    # 4/5 = 0.8 exactly; the next stricter point, p >= 0.7, has 1 and 3/5.
    y = np.r_[np.zeros(10, int), np.ones(5, int)]
    p = np.r_[np.arange(9) / 20, 0.6, 0.3, 0.6, 0.7, 0.8, 0.9]
    assert ev.sensitivity_at_specificity(y, p, 0.9) == 0.8
    assert ev.specificity_at_sensitivity(y, p, 0.8) == 0.9
    assert ev.threshold_for_sensitivity(y, p, 0.8) == 0.6
    assert ev.threshold_for_sensitivity(y, p, 0.81) == 0.3
    assert ev.sensitivity_at_specificity(y, p, 1.0) == 0.6


@pytest.mark.parametrize("target", [0.5, 0.8, 0.95, 1.0])
def test_threshold_for_sensitivity_is_the_largest_that_reaches_it(target):
    for decimals in (None, 0):
        y, p = _data(10, n=200, decimals=decimals)
        threshold = ev.threshold_for_sensitivity(y, p, target)
        assert threshold in p
        assert _counts(y, p, threshold)[0] >= target
        assert all(_counts(y, p, t)[0] < target for t in p[p > threshold])


def test_youden_threshold_matches_sklearn_roc_curve():
    for decimals in (None, 0, 1):
        for seed in range(3):
            y, p = _data(seed, n=150, decimals=decimals)
            fpr, tpr, thresholds = skm.roc_curve(y, p, drop_intermediate=False)
            expected = thresholds[np.argmax(tpr - fpr)]
            assert ev.youden_threshold(y, p) == expected
    # Equal J (0.5 at both 0.6 and 0.4): the larger threshold, the fewer false alarms.
    y = np.array([1, 1, 0, 0])
    assert ev.youden_threshold(y, np.array([0.8, 0.4, 0.6, 0.1])) == 0.8


def test_operating_point_metrics_match_sklearn():
    y, p = _data(11, n=200, decimals=0)
    for threshold in (0.25, 0.5, 0.75):
        got = ev.operating_point_metrics(y, p, threshold)
        called = p >= threshold  # scores equal to the threshold count as melanoma
        assert np.any(p == threshold)
        np.testing.assert_array_equal(
            got["confusion_matrix"], skm.confusion_matrix(y, called, labels=[0, 1])
        )
        assert got["sensitivity"] == pytest.approx(skm.recall_score(y, called))
        assert got["specificity"] == pytest.approx(skm.recall_score(1 - y, ~called))
        assert got["ppv"] == pytest.approx(skm.precision_score(y, called))
        assert got["npv"] == pytest.approx(skm.precision_score(1 - y, ~called))
        assert got["balanced_accuracy"] == pytest.approx(
            skm.balanced_accuracy_score(y, called)
        )
        assert got["threshold"] == threshold


def test_operating_point_metrics_undefined_predictive_values():
    y, p = np.array([1, 0, 0]), np.array([0.2, 0.1, 0.3])
    assert np.isnan(ev.operating_point_metrics(y, p, 0.5)["ppv"])
    assert ev.operating_point_metrics(y, p, 0.5, zero_division=1.0)["ppv"] == 1.0
    assert np.isnan(ev.operating_point_metrics(y, p, 0.0)["npv"])


# --- Calibration ---------------------------------------------------------------------


def _edge_probabilities():
    # Uniform draws plus every bin edge, 0 and 1 (the edges' bin is the convention).
    rng = np.random.default_rng(12)
    p = np.r_[rng.random(500), np.linspace(0, 1, 16), np.linspace(0, 1, 11)]
    y = (rng.random(p.size) < p**2).astype(int)  # miscalibrated on purpose
    return y, p


@pytest.mark.parametrize("bins", [15, 10, 4])
def test_reliability_curve_matches_sklearn_calibration_curve(bins):
    y, p = _edge_probabilities()
    curve = ev.reliability_curve(y, p, bins=bins)
    frequency, mean_probability = calibration.calibration_curve(
        y, p, n_bins=bins, strategy="uniform"
    )
    filled = curve.count > 0
    np.testing.assert_allclose(curve.frequency[filled], frequency, atol=1e-12)
    np.testing.assert_allclose(
        curve.mean_probability[filled], mean_probability, atol=1e-12
    )
    edges = np.linspace(0, 1, bins + 1)
    np.testing.assert_array_equal(
        curve.count, [np.sum(_in_bin(p, edges, k)) for k in range(bins)]
    )
    np.testing.assert_allclose(curve.edges, np.linspace(0, 1, bins + 1))


def test_reliability_curve_empty_bins_are_nan():
    curve = ev.reliability_curve([0, 1, 1, 0], [0.0, 0.99, 1.0, 0.2], bins=5)
    np.testing.assert_array_equal(curve.count, [2, 0, 0, 0, 2])  # 0.2: first bin
    assert np.isnan(curve.frequency[1:4]).all()
    assert curve.frequency[4] == 1.0
    assert curve.mean_probability[4] == pytest.approx(0.995)


def _in_bin(p, edges, k):
    # Guo et al.'s bins (lo, hi]; 0 itself in the first.
    return ((p > edges[k]) | (k == 0)) & (p <= edges[k + 1])


def reference_ece(y, p, bins):
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for k in range(bins):
        inside = _in_bin(p, edges, k)
        if inside.any():
            total += inside.sum() * abs(y[inside].mean() - p[inside].mean())
    return total / p.size


@pytest.mark.parametrize("bins", [15, 10, 1])
def test_expected_calibration_error_matches_a_loop_over_bins(bins):
    y, p = _edge_probabilities()
    assert ev.expected_calibration_error(y, p, bins) == pytest.approx(
        reference_ece(y, p, bins), abs=1e-12
    )


def test_expected_calibration_error_by_hand():
    # One bin holding p = 0.8: 8 of 10 melanomas is calibrated, 5 of 10 is 0.3 off.
    p = np.full(10, 0.8)
    assert ev.expected_calibration_error(
        np.r_[np.ones(8), np.zeros(2)], p
    ) == pytest.approx(0.0, abs=1e-12)
    y = np.r_[np.ones(5), np.zeros(5)]
    assert ev.expected_calibration_error(y, p) == pytest.approx(0.3)
    # Positive-class, not top-label: p = 0.2 and 0.8 are different bins. Weighted:
    # 30 lesions at 0.2 all others (gap 0.2), 10 at 0.8 all melanoma (gap 0.2).
    y, p = np.r_[np.zeros(30), np.ones(10)], np.r_[np.full(30, 0.2), np.full(10, 0.8)]
    assert ev.expected_calibration_error(y, p) == pytest.approx(0.2)
    y, p = np.r_[np.zeros(30), np.zeros(10)], np.r_[np.full(30, 0.1), np.full(10, 0.6)]
    assert ev.expected_calibration_error(y, p) == pytest.approx(
        (30 * 0.1 + 10 * 0.6) / 40
    )


def test_brier_score_matches_sklearn():
    y, p = _edge_probabilities()
    assert ev.brier_score(y, p) == pytest.approx(skm.brier_score_loss(y, p))
    assert ev.brier_score([1, 1], [0.5, 1.0]) == pytest.approx(0.125)  # one class


@pytest.mark.parametrize("num_classes", [2, 3])
@pytest.mark.parametrize("true_temperature", [0.6, 1.0, 2.5])
def test_fit_temperature_recovers_the_temperature(num_classes, true_temperature):
    rng = np.random.default_rng(13)
    # 200 000 lesions: the fit's sampling error is then well inside 2 % (at 40 000
    # it reached 2.4 % over 5 seeds, at 200 000 0.6 %).
    logits = rng.normal(scale=2.0, size=(200_000, num_classes))
    probabilities = scipy.special.softmax(logits / true_temperature, axis=1)
    # Inverse-CDF sampling of one class per row from softmax(z / T_true).
    cumulative = np.cumsum(probabilities, axis=1)
    labels = (rng.random((len(logits), 1)) > cumulative).sum(axis=1)
    fitted = ev.fit_temperature(logits, labels)
    assert fitted == pytest.approx(true_temperature, rel=0.02)
    # Its NLL is the minimum: nearby temperatures do worse.
    nll = skm.log_loss(labels, ev.apply_temperature(logits, fitted))
    for other in (fitted * 0.97, fitted * 1.03):
        assert nll < skm.log_loss(labels, ev.apply_temperature(logits, other))


def test_apply_temperature_is_softmax_of_scaled_logits():
    logits = np.random.default_rng(14).normal(size=(20, 3)) * 5
    np.testing.assert_allclose(
        ev.apply_temperature(logits, 1.7),
        scipy.special.softmax(logits / 1.7, axis=1),
        rtol=1e-12,
    )


# --- DeLong --------------------------------------------------------------------------


def reference_delong(y, scores1, scores2):
    """DeLong et al. (1988) by pairwise comparison, O(m n)."""
    y = np.asarray(y, bool)
    v10, v01 = [], []
    for s in (scores1, scores2):
        difference = s[y][:, None] - s[~y][None, :]
        psi = (difference > 0) + 0.5 * (difference == 0)
        v10.append(psi.mean(axis=1))  # per melanoma
        v01.append(psi.mean(axis=0))  # per other lesion
    m, n = y.sum(), (~y).sum()
    s10 = np.cov(np.array(v10))
    s01 = np.cov(np.array(v01))
    covariance = s10 / m + s01 / n
    contrast = np.array([1.0, -1.0])
    variance = contrast @ covariance @ contrast
    aucs = [v.mean() for v in v10]
    z = (aucs[0] - aucs[1]) / np.sqrt(variance)
    return aucs, z, 2 * scipy.stats.norm.sf(abs(z)), variance


def _two_models(seed, n=300, decimals=None):
    rng = np.random.default_rng(seed)
    y, p = _data(seed, n=n, decimals=decimals)
    q = scipy.special.expit(scipy.special.logit(p) + rng.normal(scale=0.8, size=n))
    if decimals is not None:
        q = np.round(q * 20, decimals) / 20
    return y, p, q


@pytest.mark.parametrize("decimals", [None, 0])
def test_delong_matches_the_pairwise_definition(decimals):
    for seed in range(3):
        y, p, q = _two_models(seed, decimals=decimals)
        got = ev.delong_test(y, p, q)
        (auc1, auc2), z, p_value, variance = reference_delong(y, p, q)
        assert got.auc1 == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
        assert got.auc2 == pytest.approx(auc2, abs=1e-12)
        assert got.auc1 == pytest.approx(auc1, abs=1e-12)
        assert got.difference == pytest.approx(auc1 - auc2, abs=1e-12)
        assert got.variance == pytest.approx(variance, rel=1e-9)
        assert got.z == pytest.approx(z, rel=1e-9)
        assert got.p_value == pytest.approx(p_value, rel=1e-9)
        swapped = ev.delong_test(y, q, p)
        assert swapped.z == pytest.approx(-got.z)
        assert swapped.p_value == pytest.approx(got.p_value)


def test_delong_variance_agrees_with_a_paired_bootstrap():
    y, p, q = _two_models(15, n=400)
    got = ev.delong_test(y, p, q)
    # Paired, stratified: the same resampled lesions for both models.
    rng = np.random.default_rng(16)
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    resamples = 2000
    index = np.concatenate(
        [
            rng.choice(positives, size=(resamples, positives.size)),
            rng.choice(negatives, size=(resamples, negatives.size)),
        ],
        axis=1,
    )
    m = positives.size

    def aurocs(scores):
        # Mann-Whitney from ranks over each resample (rows).
        ranks = scipy.stats.rankdata(scores[index], axis=1)
        return (ranks[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * negatives.size)

    bootstrap = np.var(aurocs(p) - aurocs(q), ddof=1)
    assert got.variance == pytest.approx(bootstrap, rel=0.15)


def test_delong_identical_models():
    y, p = _data(17, n=100)
    got = ev.delong_test(y, p, p)
    assert (got.difference, got.z, got.p_value) == (0.0, 0.0, 1.0)


# --- Input checks --------------------------------------------------------------------

_RANKING = [
    lambda y, p: ev.auroc_ci(y, p, resamples=5),
    ev.partial_auroc,
    ev.average_precision,
    lambda y, p: ev.sensitivity_at_specificity(y, p, 0.9),
    lambda y, p: ev.specificity_at_sensitivity(y, p, 0.9),
    lambda y, p: ev.threshold_for_sensitivity(y, p, 0.9),
    ev.youden_threshold,
    lambda y, p: ev.operating_point_metrics(y, p, 0.5),
    lambda y, p: ev.delong_test(y, p, p),
]
_CALIBRATION = [
    ev.expected_calibration_error,
    ev.reliability_curve,
    ev.brier_score,
]


@pytest.mark.parametrize("function", _RANKING + _CALIBRATION)
@pytest.mark.parametrize(
    "y, p, message",
    [
        (
            [0, 1, 1, 0],
            [0.1, 0.2, 0.3],
            r"`(scores1?|probabilities)`.*Received: \w+\.shape",
        ),
        ([0, 1, 2, 0], [0.1, 0.2, 0.3, 0.4], r"`y_true`.*Received: y_true values"),
        ([[0, 1], [1, 0]], [[0.1, 0.2], [0.3, 0.4]], r"`y_true`.*Received: y_true"),
        ([0, 1, 1, 0], [0.1, np.nan, 0.3, 0.4], r"finite\. Received: "),
    ],
)
def test_bad_inputs_name_the_argument(function, y, p, message):
    with pytest.raises(ValueError, match=message):
        function(np.array(y), np.array(p))


@pytest.mark.parametrize("function", _RANKING)
def test_ranking_needs_both_classes(function):
    with pytest.raises(ValueError, match=r"each class\. Received: y_true counts="):
        function(np.ones(4, int), np.linspace(0, 1, 4))


def test_argument_checks():
    y, p = _data(18, n=50)
    cases = [
        (lambda: ev.partial_auroc(y, p, 0.0), "Received: min_sensitivity=0.0"),
        (lambda: ev.sensitivity_at_specificity(y, p, 1.5), "Received: specificity="),
        (lambda: ev.specificity_at_sensitivity(y, p, -1), "Received: sensitivity=-1"),
        (lambda: ev.threshold_for_sensitivity(y, p, 0), "Received: target=0"),
        (lambda: ev.auroc_ci(y, p, confidence=1.0), "Received: confidence=1.0"),
        (lambda: ev.auroc_ci(y, p, resamples=0), "Received: resamples=0"),
        (lambda: ev.roc_band(y, p, points=0), "Received: points=0"),
        (lambda: ev.roc_band(y, p, confidence=0), "Received: confidence=0"),
        (lambda: ev.reliability_curve(y, p, bins=2.5), "Received: bins=2.5"),
        (lambda: ev.brier_score([], []), r"Received: y_true\.shape=\(0,\)"),
        (lambda: ev.brier_score(y, p * 2), r"Received: probabilities range="),
        (lambda: ev.operating_point_metrics(y, p, np.nan), "Received: threshold=nan"),
        (lambda: ev.delong_test(np.r_[1, 0, 0], [1, 2, 3], [1, 2, 3]), "at least 2"),
        (lambda: ev.delong_test(y, p, p[:-1]), r"Received: scores2\.shape"),
        (lambda: ev.fit_temperature(np.ones(5), [0] * 5), r"Received: logits\.shape"),
        (lambda: ev.fit_temperature(np.ones((3, 2)), [0, 2, 1]), r"labels range="),
        (lambda: ev.fit_temperature(np.ones((3, 2)), [0, 1]), r"labels\.shape"),
        (lambda: ev.apply_temperature(np.ones((3, 2)), 0.0), "Received: temperature"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
