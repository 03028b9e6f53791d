"""`skinkeras.evaluation.summary`: class probabilities → the metrics dict that
`experiments.evaluate` prints and stores, against scikit-learn, NumPy and counting."""

import json

import numpy as np
import pytest
import scipy.special
from sklearn import metrics as skm

from skinkeras import evaluation as ev


def predictions(seed, n=120, num_classes=2, melanoma=1):
    """Labels and (N, classes) probabilities in which melanoma ranks higher."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, n)
    labels[:num_classes] = np.arange(num_classes)  # every class present
    logits = rng.normal(size=(n, num_classes))
    logits[:, melanoma] += 1.5 * (labels == melanoma)
    return labels, scipy.special.softmax(logits, axis=1)


@pytest.mark.parametrize("melanoma, num_classes", [(1, 2), (1, 3), (0, 3)])
def test_uncalibrated_metrics_are_sklearns_on_the_melanoma_column(
    melanoma, num_classes
):
    labels, probabilities = predictions(1, num_classes=num_classes, melanoma=melanoma)
    names = [f"class_{c}" for c in range(num_classes)]
    names[melanoma] = "melanoma"
    found = ev.evaluate_probabilities(
        labels, probabilities, melanoma=melanoma, class_names=names, resamples=50
    )
    y, p = labels == melanoma, probabilities[:, melanoma]
    assert found["auroc"]["point"] == pytest.approx(skm.roc_auc_score(y, p))
    assert found["average_precision"] == pytest.approx(
        skm.average_precision_score(y, p)
    )
    assert found["brier"] == pytest.approx(skm.brier_score_loss(y, p))
    # The ISIC scorer's rule, p > 0.5, counted.
    tn, fp, fn, tp = skm.confusion_matrix(y, p > 0.5).ravel()
    assert found["operating_point"]["confusion_matrix"] == [[tn, fp], [fn, tp]]
    assert found["operating_point"]["rule"] == (
        "p > 0.5 (uncalibrated; the ISIC scorer's rule)"
    )
    # The study's argmax metrics, over every class.
    predicted = probabilities.argmax(axis=1)
    assert found["argmax"]["accuracy"] == pytest.approx(
        skm.accuracy_score(labels, predicted)
    )
    assert found["argmax"]["balanced_accuracy"] == pytest.approx(
        skm.balanced_accuracy_score(labels, predicted)
    )
    assert found["calibration"] is None and "uncalibrated" not in found
    assert found["resamples"] == 50
    json.dumps(found)  # JSON-ready: what metrics.json stores


def test_calibrated_metrics_are_of_the_temperature_scaled_probabilities():
    labels, probabilities = predictions(2)
    calibration = {"temperature": 2.0, "threshold": 0.45, "rule": "youden"}
    found = ev.evaluate_probabilities(
        labels, probabilities, calibration=calibration, resamples=50
    )
    y = labels == 1
    scaled = scipy.special.softmax(np.log(probabilities) / 2.0, axis=1)[:, 1]
    assert found["brier"] == pytest.approx(skm.brier_score_loss(y, scaled))
    assert found["auroc"]["point"] == pytest.approx(skm.roc_auc_score(y, scaled))
    tn, fp, fn, tp = skm.confusion_matrix(y, scaled >= 0.45).ravel()
    point = found["operating_point"]
    assert point["confusion_matrix"] == [[tn, fp], [fn, tp]]
    assert point["rule"] == "calibrated p >= 0.45 (calibration.json, youden)"
    # Before the temperature: of the raw probabilities.
    assert found["uncalibrated"]["brier"] == pytest.approx(
        skm.brier_score_loss(y, probabilities[:, 1])
    )
    assert found["calibration"] == calibration


def test_seed_summary_is_numpys_mean_and_sample_std():
    per_seed = [
        ev.evaluate_probabilities(*predictions(seed), resamples=20)
        for seed in (3, 4, 5)
    ]
    summary = ev.seed_summary([3, 4, 5], per_seed)
    assert summary["seeds"] == [3, 4, 5]
    assert list(summary["metrics"]) == list(ev.scalar_metrics(per_seed[0]))
    aurocs = [found["auroc"]["point"] for found in per_seed]
    entry = summary["metrics"]["AUROC"]
    assert entry["values"] == aurocs
    assert entry["mean"] == pytest.approx(np.mean(aurocs))
    assert entry["std"] == pytest.approx(np.std(aurocs, ddof=1))
    eces = [found["ece"] for found in per_seed]
    assert summary["metrics"]["ECE"]["std"] == pytest.approx(np.std(eces, ddof=1))


def test_scalar_metrics_order_and_values():
    found = ev.evaluate_probabilities(*predictions(6), resamples=20)
    values = ev.scalar_metrics(found)
    assert list(values)[:3] == [
        "AUROC",
        "AUROC above 80 % sensitivity",
        "average precision",
    ]
    assert list(values)[-2:] == ["ECE", "Brier score"]
    assert (
        values["specificity at sensitivity 0.89"]
        == (found["specificity_at_sensitivity"]["0.89"])
    )
    assert (
        values["operating point balanced accuracy"]
        == (found["operating_point"]["balanced_accuracy"])
    )


def test_format_metrics_is_the_printed_table():
    found = ev.evaluate_probabilities(*predictions(7), resamples=20)
    text = ev.format_metrics(found)
    auroc = found["auroc"]
    assert text.splitlines()[0] == (
        f"{'AUROC':<34} {auroc['point']:.4f} "
        f"(95 %: {auroc['low']:.4f}-{auroc['high']:.4f})"
    )
    for name, value in list(ev.scalar_metrics(found).items())[1:]:
        assert f"{name:<34} {value:.4f}" in text.splitlines()
    assert text.splitlines()[-1] == (
        f"{'examples':<34} 120 ({found['num_melanoma']} melanoma)"
    )
    # What experiments.evaluate adds: the model and data above, DeLong below.
    named = {
        **found,
        "model_dir": "runs/a",
        "seeds": [0, 1],
        "evaluated_on": "isic2017 test",
        "compare": {"model_dir": "runs/b", "auc1": 0.8, "auc2": 0.7, "z": 2.0}
        | {"p_value": 0.0455},
    }
    lines = ev.format_metrics(named).splitlines()
    assert lines[0] == "runs/a (seeds [0, 1]), isic2017 test:"
    assert lines[-1] == "DeLong vs runs/b: AUROC 0.8000 vs 0.7000, z 2.000, p 0.0455"
    assert lines[1:-1] == text.splitlines()
