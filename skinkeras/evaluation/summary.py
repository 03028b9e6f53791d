"""A model's class probabilities on labelled images → the metrics dict and its table.

What `experiments.evaluate` prints, stores as `metrics.json` and reports, from NumPy
arrays alone (no run, no TensorFlow), so a notebook gets the same numbers::

    from skinkeras import evaluation

    found = evaluation.evaluate_probabilities(labels, probabilities, calibration=None)
    print(evaluation.format_metrics(found))
    evaluation.write_report("report/", found, labels=labels, probabilities=probabilities)

`evaluate_probabilities` is `clinical_metrics` of the melanoma probability (after the
run's calibration, if it has one) with the study's argmax metrics; `seed_summary`
puts the seeds of an ensemble side by side; `scalar_metrics` is the order of every
table (the printed one, report.md's, the per-seed one).
"""

import numpy as np

from skinkeras import metrics
from skinkeras.evaluation import calibration as calibration_lib
from skinkeras.evaluation import clinical, ranking

__all__ = [
    "evaluate_probabilities",
    "scalar_metrics",
    "seed_summary",
    "format_metrics",
]


def evaluate_probabilities(
    labels,
    probabilities,
    *,
    calibration=None,
    melanoma=metrics.MELANOMA,
    class_names=None,
    resamples=2000,
    seed=0,
):
    """`clinical_metrics` of one model or ensemble, its calibration applied.

    Args:
        labels: (N,) class indices.
        probabilities: (N, classes) the model's, before calibration (an ensemble's:
            the mean over its seeds).
        calibration: a `calibration.json` dict (`apply_calibration`), or None: then
            the operating point is the ISIC scorer's ``p > 0.5``.
        melanoma: the melanoma column (`skinkeras.metrics.melanoma_index`); the
            other classes are "the rest".
        class_names: of the argmax metrics (`metrics.classification_metrics`).
        resamples, seed: of the AUROC's bootstrap interval.

    Returns:
        The `clinical_metrics` dict of the calibrated melanoma probability, its
        ``operating_point`` with a ``rule`` in words, and ``argmax``
        (`skinkeras.metrics.classification_metrics`: accuracy, balanced accuracy,
        sensitivity and specificity of the most probable class), ``calibration``
        (the applied dict, or None) and, when calibrated, ``uncalibrated`` (ECE and
        Brier score before the temperature).
    """
    calibrated, _ = calibration_lib.apply_calibration(probabilities, calibration)
    y = np.asarray(labels) == melanoma
    threshold = calibration["threshold"] if calibration else ranking.ISIC_THRESHOLD
    found = clinical.clinical_metrics(
        y,
        calibrated[:, melanoma],
        threshold=threshold,
        resamples=resamples,
        seed=seed,
    )
    found["operating_point"]["rule"] = (
        f"calibrated p >= {threshold:.6g} (calibration.json, {calibration.get('rule')})"
        if calibration
        else "p > 0.5 (uncalibrated; the ISIC scorer's rule)"
    )
    found["argmax"] = metrics.classification_metrics(
        labels, calibrated, class_names=class_names
    )
    found["calibration"] = calibration
    if calibration:
        raw = np.asarray(probabilities)[:, melanoma]
        found["uncalibrated"] = {
            "ece": calibration_lib.expected_calibration_error(y, raw),
            "brier": calibration_lib.brier_score(y, raw),
        }
    return found


def scalar_metrics(found):
    """``{name: value}`` of the point values of an `evaluate_probabilities` dict, in
    table order."""
    point = found["operating_point"]
    values = {
        "AUROC": found["auroc"]["point"],
        "AUROC above 80 % sensitivity": found["partial_auroc"],
        "average precision": found["average_precision"],
    }
    for target, value in found["sensitivity_at_specificity"].items():
        values[f"sensitivity at specificity {target}"] = value
    for target, value in found["specificity_at_sensitivity"].items():
        values[f"specificity at sensitivity {target}"] = value
    for name in ("sensitivity", "specificity", "ppv", "npv", "balanced_accuracy"):
        values[f"operating point {name.replace('_', ' ')}"] = point[name]
    values["ECE"] = found["ece"]
    values["Brier score"] = found["brier"]
    return values


def seed_summary(seeds, per_seed):
    """Per-seed point values, their mean and sample std (ddof 1), by metric.

    Args:
        seeds: the seed of each entry of `per_seed`.
        per_seed: an `evaluate_probabilities` dict of each seed alone.
    """
    table = [scalar_metrics(found) for found in per_seed]
    return {
        "seeds": list(seeds),
        "metrics": {
            name: {
                "values": [row[name] for row in table],
                "mean": float(np.mean([row[name] for row in table])),
                "std": float(np.std([row[name] for row in table], ddof=1)),
            }
            for name in table[0]
        },
    }


def format_metrics(found):
    """What `experiments.evaluate` prints: metric, value (the AUROC with its
    interval), the counts; above them the model and data if the dict names them
    (``model_dir``, ``seeds``, ``evaluated_on``), below DeLong's test if it has a
    ``compare``."""
    auroc = found["auroc"]
    lines = []
    if "model_dir" in found:
        lines.append(
            f"{found['model_dir']} (seeds {found['seeds']}), {found['evaluated_on']}:"
        )
    lines.append(
        f"{'AUROC':<34} {auroc['point']:.4f} "
        f"({round(100 * found['confidence'])} %: {auroc['low']:.4f}-{auroc['high']:.4f})"
    )
    lines += [
        f"{name:<34} {value:.4f}"
        for name, value in list(scalar_metrics(found).items())[1:]
    ]
    lines.append(
        f"{'examples':<34} {found['num_examples']} ({found['num_melanoma']} melanoma)"
    )
    if "compare" in found:
        result = found["compare"]
        lines.append(
            f"DeLong vs {result['model_dir']}: AUROC {result['auc1']:.4f} vs "
            f"{result['auc2']:.4f}, z {result['z']:.3f}, p {result['p_value']:.4g}"
        )
    return "\n".join(lines)
