"""`skinkeras.evaluation`'s arithmetic of a run's calibration.json: applying it
(against scipy's softmax of the scaled logits) and fitting it (against counting, an
NLL scan and sklearn's ROC curve)."""

import numpy as np
import pytest
import scipy.special
from sklearn import metrics as skm

from skinkeras import evaluation as ev

CALIBRATION = {"temperature": 1.7, "threshold": 0.4, "rule": "youden"}


def test_one_model_is_temperature_scaling_of_its_logits():
    logits = np.random.default_rng(0).normal(scale=4, size=(50, 3))
    probabilities = scipy.special.softmax(logits, axis=1)
    calibrated, decisions = ev.apply_calibration(probabilities, CALIBRATION)
    expected = scipy.special.softmax(logits / 1.7, axis=1)
    np.testing.assert_allclose(calibrated, expected, rtol=1e-9)
    np.testing.assert_array_equal(decisions, expected[:, 1] >= 0.4)
    assert 0 < decisions.sum() < 50


def test_saturated_probabilities_stay_finite():
    calibrated, _ = ev.apply_calibration(
        np.array([[1.0, 0.0], [0.0, 1.0]]), CALIBRATION
    )
    assert np.isfinite(calibrated).all()
    np.testing.assert_allclose(calibrated, [[1, 0], [0, 1]], atol=1e-12)


def test_no_calibration_changes_nothing():
    p = np.array([[0.3, 0.7]])
    calibrated, decisions = ev.apply_calibration(p, None)
    np.testing.assert_array_equal(calibrated, p)
    assert decisions is None


def validation_predictions(seed, n=200, num_classes=2):
    """Over-confident logits (labels drawn at T = 2.5), as probabilities."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(n, num_classes))
    cumulative = np.cumsum(scipy.special.softmax(logits / 2.5, axis=1), axis=1)
    labels = (rng.random((n, 1)) > cumulative).sum(axis=1)
    return logits, labels, scipy.special.softmax(logits, axis=1)


def nll(logits, labels, temperature):
    log_p = scipy.special.log_softmax(logits / temperature, axis=1)
    return -np.mean(log_p[np.arange(len(labels)), labels])


def counted(y, p, threshold):
    called = p >= threshold
    return np.mean(called[y]), np.mean(~called[~y])


@pytest.mark.parametrize("melanoma, num_classes", [(1, 2), (1, 3), (0, 3)])
def test_fit_calibration_reaches_the_target_with_the_largest_threshold(
    melanoma, num_classes
):
    logits, labels, probabilities = validation_predictions(3, num_classes=num_classes)
    found = ev.fit_calibration(
        labels,
        probabilities,
        target_sensitivity=0.85,
        melanoma=melanoma,
        split="validation",
        seeds=(0, 1),
        tta=4,
    )
    # The temperature minimises the NLL of the logits (log p is them less a
    # constant per image): nearby temperatures do worse.
    temperature = found["temperature"]
    for other in (temperature * 0.98, temperature * 1.02):
        assert nll(logits, labels, temperature) < nll(logits, labels, other)
    # The largest threshold whose calibrated melanoma probability finds 85 %, counted.
    p = scipy.special.softmax(logits / temperature, axis=1)[:, melanoma]
    y = labels == melanoma
    reaching = [t for t in np.unique(p) if counted(y, p, t)[0] >= 0.85]
    assert found["threshold"] == pytest.approx(max(reaching), rel=1e-9)
    sensitivity, specificity = counted(y, p, found["threshold"] * (1 - 1e-12))
    assert found["validation_sensitivity"] == pytest.approx(sensitivity)
    assert found["validation_specificity"] == pytest.approx(specificity)
    assert {key: found[key] for key in ("rule", "target_sensitivity")} == {
        "rule": "target_sensitivity",
        "target_sensitivity": 0.85,
    }
    assert (found["validation_n"], found["split"], found["seeds"], found["tta"]) == (
        200,
        "validation",
        [0, 1],
        4,
    )


def test_fit_calibration_youden_maximises_j_on_sklearns_roc_curve():
    logits, labels, probabilities = validation_predictions(4)
    found = ev.fit_calibration(labels, probabilities, rule="youden")
    p = scipy.special.softmax(logits / found["temperature"], axis=1)[:, 1]
    fpr, tpr, _ = skm.roc_curve(labels, p)
    assert (
        found["validation_sensitivity"] + found["validation_specificity"] - 1
    ) == pytest.approx(np.max(tpr - fpr))
    assert found["rule"] == "youden" and found["target_sensitivity"] is None


def test_fit_calibration_names_a_bad_rule():
    _, labels, probabilities = validation_predictions(5)
    with pytest.raises(ValueError, match="Received: rule='f1'"):
        ev.fit_calibration(labels, probabilities, rule="f1")
