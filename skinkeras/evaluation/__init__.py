"""Clinical-grade evaluation of the melanoma probability, in NumPy, SciPy and sklearn.

Issue 15: intervals, partial AUROC, operating points, calibration and a paired test
of two models, beside `skinkeras.metrics` (whose `auroc` and `MELANOMA` this reuses).
Binary labels throughout: ``y_true`` 1 (or True) is melanoma, 0 any other lesion;
``scores`` rank melanoma higher (e.g. `metrics.melanoma_probability(logits)`).

Modules: `ranking` (operating points, partial AUROC, AP), `intervals` (bootstrap and
Wilson intervals), `calibration`, `delong`, `clinical` (everything at once), `summary`
(a model's probabilities → the metrics dict and table that `experiments.evaluate`
prints), `report` (its plots and report.md); every name below is exported here.

A notebook gets `experiments.evaluate`'s numbers and report from arrays::

    from skinkeras import evaluation

    found = evaluation.evaluate_probabilities(labels, probabilities)
    print(evaluation.format_metrics(found))
    evaluation.write_report("report/", found, labels=labels, probabilities=probabilities)

(`skinkeras.inference.evaluate` makes the arrays from a run, and adds the model card.)

Functions:
    evaluate_probabilities      class probabilities (N, classes) and labels → the
                                metrics dict: `clinical_metrics` after the run's
                                calibration, the study's argmax metrics.
    scalar_metrics, seed_summary, format_metrics   its point values, the seeds of
                                an ensemble side by side, the printed table.
    write_report                plots (ROC, PR, reliability, confusion) and report.md.
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
    fit_calibration, apply_calibration   a run's `calibration.json`: temperature
                                and operating point, fitted on validation data.
    delong_test                 DeLong's test of two correlated AUROCs.

Decision rule: a lesion is called melanoma when ``score >= threshold`` (sklearn's
`roc_curve` convention). The ISIC scorer (isic-challenge-scoring 5.6.0,
`classification.py` `_category_score`) calls a category when its probability is
``> 0.5``; `operating_point_metrics` with ``threshold=np.nextafter(0.5, 1)`` is that
rule exactly.

Operating points are the achievable ones: ``score >= t`` for ``t`` each distinct score,
plus "no lesion called melanoma" (``t = inf``); nothing is interpolated between them.
"""

from skinkeras.evaluation.calibration import (
    OPERATING_POINT_RULES,
    ReliabilityCurve,
    apply_calibration,
    apply_temperature,
    brier_score,
    expected_calibration_error,
    fit_calibration,
    fit_temperature,
    log_probabilities,
    reliability_curve,
)
from skinkeras.evaluation.clinical import (
    SENSITIVITY_TARGETS,
    SPECIFICITY_TARGETS,
    clinical_metrics,
)
from skinkeras.evaluation.delong import (
    DeLongResult,
    delong_test,
)
from skinkeras.evaluation.intervals import (
    ConfidenceInterval,
    RocBand,
    auroc_ci,
    proportion_ci,
    roc_band,
)
from skinkeras.evaluation.ranking import (
    ISIC_THRESHOLD,
    average_precision,
    operating_point_metrics,
    partial_auroc,
    sensitivity_at_specificity,
    specificity_at_sensitivity,
    threshold_for_sensitivity,
    youden_threshold,
)
from skinkeras.evaluation.report import (
    PLOTS,
    metrics_table,
    report_markdown,
    write_report,
)
from skinkeras.evaluation.summary import (
    evaluate_probabilities,
    format_metrics,
    scalar_metrics,
    seed_summary,
)

__all__ = [
    "ISIC_THRESHOLD",
    "OPERATING_POINT_RULES",
    "PLOTS",
    "SENSITIVITY_TARGETS",
    "SPECIFICITY_TARGETS",
    "ConfidenceInterval",
    "DeLongResult",
    "ReliabilityCurve",
    "RocBand",
    "apply_calibration",
    "apply_temperature",
    "auroc_ci",
    "average_precision",
    "brier_score",
    "clinical_metrics",
    "delong_test",
    "evaluate_probabilities",
    "expected_calibration_error",
    "fit_calibration",
    "fit_temperature",
    "format_metrics",
    "log_probabilities",
    "metrics_table",
    "operating_point_metrics",
    "partial_auroc",
    "proportion_ci",
    "reliability_curve",
    "report_markdown",
    "roc_band",
    "scalar_metrics",
    "seed_summary",
    "sensitivity_at_specificity",
    "specificity_at_sensitivity",
    "threshold_for_sensitivity",
    "write_report",
    "youden_threshold",
]
