"""Every metric of `skinkeras.evaluation` at once, as `experiments.evaluate` reports them."""

from skinkeras.evaluation import calibration, intervals, ranking
from skinkeras.evaluation._checks import _labels, _scores

__all__ = ["SPECIFICITY_TARGETS", "SENSITIVITY_TARGETS", "clinical_metrics"]


# Issue 15's operating points (ISIC 2017 papers report specificity at sensitivities
# 0.82 / 0.89 / 0.95) and the ISIC scorer's decision rule, ``probability > 0.5``.
SPECIFICITY_TARGETS = (0.80, 0.90, 0.95)


SENSITIVITY_TARGETS = (0.82, 0.89, 0.95)


def clinical_metrics(
    y_true,
    probabilities,
    *,
    threshold=ranking.ISIC_THRESHOLD,
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
    point = ranking.operating_point_metrics(y, p, threshold)
    (tn, fp), (fn, tp) = point["confusion_matrix"].tolist()
    counts = {
        "sensitivity": (tp, tp + fn),
        "specificity": (tn, tn + fp),
        "ppv": (tp, tp + fp),
        "npv": (tn, tn + fn),
    }
    point["confusion_matrix"] = point["confusion_matrix"].tolist()
    point["intervals"] = {
        name: intervals.proportion_ci(k, n, confidence)._asdict()
        for name, (k, n) in counts.items()
    }
    return {
        "num_examples": int(y.size),
        "num_melanoma": int(y.sum()),
        "auroc": intervals.auroc_ci(
            y, p, resamples=resamples, confidence=confidence, seed=seed
        )._asdict(),
        "partial_auroc": ranking.partial_auroc(y, p),
        "average_precision": ranking.average_precision(y, p),
        "sensitivity_at_specificity": {
            f"{target:.2f}": ranking.sensitivity_at_specificity(y, p, target)
            for target in SPECIFICITY_TARGETS
        },
        "specificity_at_sensitivity": {
            f"{target:.2f}": ranking.specificity_at_sensitivity(y, p, target)
            for target in SENSITIVITY_TARGETS
        },
        "operating_point": point,
        "ece": calibration.expected_calibration_error(y, p, bins),
        "brier": calibration.brier_score(y, p),
        "confidence": float(confidence),
        "resamples": int(resamples),
        "bootstrap_seed": int(seed),
    }
