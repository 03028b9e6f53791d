"""Validation metrics against scikit-learn on random inputs."""

import numpy as np
import pytest
import scipy.special
from sklearn import metrics as skm

from skinkeras.training import metrics


def _random(seed, n=200, num_classes=2):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, n)
    logits = rng.normal(size=(n, num_classes)) + 1.5 * np.eye(num_classes)[labels]
    return labels, logits


@pytest.mark.parametrize("num_classes", [2, 3])
def test_metrics_match_sklearn(num_classes):
    for seed in range(5):
        _check_against_sklearn(seed, num_classes)


def _check_against_sklearn(seed, num_classes):
    labels, logits = _random(seed, num_classes=num_classes)
    got = metrics.classification_metrics(labels, logits)
    probs = scipy.special.softmax(logits, axis=-1)
    is_mel = labels == 1
    pred_mel = logits.argmax(-1) == 1
    tn, fp, fn, tp = skm.confusion_matrix(is_mel, pred_mel).ravel()
    assert got["auroc"] == pytest.approx(skm.roc_auc_score(is_mel, probs[:, 1]))
    assert got["accuracy"] == pytest.approx(
        skm.accuracy_score(labels, logits.argmax(-1))
    )
    assert got["sensitivity"] == pytest.approx(skm.recall_score(is_mel, pred_mel))
    assert got["specificity"] == pytest.approx(tn / (tn + fp))
    assert got["loss"] == pytest.approx(
        skm.log_loss(labels, probs, labels=range(num_classes))
    )


def test_auroc_with_ties_matches_sklearn():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 300)
    scores = rng.integers(0, 5, 300) / 4.0  # many ties
    assert metrics.auroc(y, scores) == pytest.approx(skm.roc_auc_score(y, scores))


def test_melanoma_probability_is_softmax_column_one():
    _, logits = _random(0, n=10, num_classes=3)
    np.testing.assert_allclose(
        metrics.melanoma_probability(logits), scipy.special.softmax(logits, -1)[:, 1]
    )


def test_single_class_gives_nan_not_an_error():
    labels = np.zeros(6, int)
    got = metrics.classification_metrics(labels, np.zeros((6, 2)))
    assert np.isnan(got["auroc"]) and np.isnan(got["sensitivity"])
    assert got["specificity"] == 1.0  # argmax of ties is class 0


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="Received"):
        metrics.classification_metrics(np.zeros(3), np.zeros((4, 2)))
