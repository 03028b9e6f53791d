"""skinkeras.metrics against independent references: scikit-learn, SciPy, and
counts or pairwise comparisons written out in NumPy."""

import numpy as np
import pytest
import scipy.special
from sklearn import metrics as skm

from skinkeras import metrics


def _random(seed, n=200, num_classes=2):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, n)
    logits = rng.normal(size=(n, num_classes)) + 1.5 * np.eye(num_classes)[labels]
    return labels, logits


def pairwise_auroc(y, scores):
    """Mann-Whitney by brute force: P(positive scores above negative), ties 1/2."""
    positives, negatives = scores[y], scores[~y]
    difference = positives[:, None] - negatives[None, :]
    return np.mean((difference > 0) + 0.5 * (difference == 0))


@pytest.mark.parametrize("num_classes", [2, 3])
def test_validation_metrics_match_sklearn(num_classes):
    for seed in range(5):
        _check_against_sklearn(seed, num_classes)


def _check_against_sklearn(seed, num_classes):
    labels, logits = _random(seed, num_classes=num_classes)
    got = metrics.validation_metrics(labels, logits)
    # The study's five first; 3 classes add the multi-class ones (issue 16).
    assert tuple(got)[:5] == metrics.VALIDATION_METRICS
    assert (len(got) > 5) == (num_classes > 2)
    probs = scipy.special.softmax(logits, axis=-1)
    is_mel = labels == 1
    pred_mel = logits.argmax(-1) == 1
    assert got["auroc"] == pytest.approx(pairwise_auroc(is_mel, probs[:, 1]))
    assert got["accuracy"] == pytest.approx(np.mean(logits.argmax(-1) == labels))
    assert got["sensitivity"] == pytest.approx(np.sum(is_mel & pred_mel) / is_mel.sum())
    assert got["specificity"] == pytest.approx(
        np.sum(~is_mel & ~pred_mel) / (~is_mel).sum()
    )
    assert got["loss"] == pytest.approx(
        skm.log_loss(labels, probs, labels=range(num_classes))
    )


@pytest.mark.parametrize("num_classes", [2, 3])
def test_classification_metrics_match_sklearn(num_classes):
    rng = np.random.default_rng(num_classes)
    labels = rng.integers(0, num_classes, 200)
    logits = rng.normal(size=(200, num_classes)) + 1.5 * np.eye(num_classes)[labels]
    probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    probabilities[:20] = probabilities[20:40]  # ties in the melanoma probability
    ours = metrics.classification_metrics(labels, probabilities)

    predicted = probabilities.argmax(-1)
    melanoma, predicted_melanoma = labels == 1, predicted == 1
    assert ours["auroc"] == pytest.approx(
        skm.roc_auc_score(melanoma, probabilities[:, 1]), abs=1e-12
    )
    assert ours["auroc"] == pytest.approx(
        pairwise_auroc(melanoma, probabilities[:, 1]), abs=1e-12
    )
    assert ours["accuracy"] == pytest.approx(skm.accuracy_score(labels, predicted))
    recalls = [np.mean(predicted[labels == c] == c) for c in range(num_classes)]
    assert ours["balanced_accuracy"] == pytest.approx(np.mean(recalls))
    assert ours["sensitivity"] == pytest.approx(
        skm.recall_score(melanoma, predicted_melanoma)
    )
    assert ours["specificity"] == pytest.approx(
        skm.recall_score(melanoma, predicted_melanoma, pos_label=False)
    )
    assert ours["num_examples"] == 200
    assert ours["num_melanoma"] == int(melanoma.sum())


def test_auroc_with_ties_matches_pairwise_count():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 300).astype(bool)
    scores = rng.integers(0, 5, 300) / 4.0  # many ties
    assert metrics.auroc(y, scores) == pytest.approx(pairwise_auroc(y, scores))


def test_melanoma_probability_is_softmax_column_one():
    _, logits = _random(0, n=10, num_classes=3)
    np.testing.assert_allclose(
        metrics.melanoma_probability(logits), scipy.special.softmax(logits, -1)[:, 1]
    )


def test_single_class_gives_nan_not_an_error():
    labels = np.zeros(6, int)
    got = metrics.validation_metrics(labels, np.zeros((6, 2)))
    assert np.isnan(got["auroc"]) and np.isnan(got["sensitivity"])
    assert got["specificity"] == 1.0  # argmax of ties is class 0
    # Class 2 predicted but absent from the labels: its recall is left out.
    three = metrics.classification_metrics(labels, np.eye(3)[[0, 0, 0, 2, 2, 2]])
    assert three["balanced_accuracy"] == 0.5


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="Received"):
        metrics.validation_metrics(np.zeros(3), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="Received"):
        metrics.classification_metrics(np.zeros(3), np.zeros((4, 2)))


# ISIC 2019's categories in a builder's order (MEL not first: found by name).
NINE = ("NV", "MEL", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK")


def _multiclass(seed, n=400, num_classes=9):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, n)
    logits = rng.normal(size=(n, num_classes)) + 1.2 * np.eye(num_classes)[labels]
    probabilities = scipy.special.softmax(logits, axis=-1)
    probabilities[:30] = probabilities[30:60]  # ties
    return labels, probabilities


def test_multiclass_metrics_match_sklearn():
    labels, probabilities = _multiclass(0)
    names = ("mel", "nv", "bcc", "akiec", "bkl", "df", "vasc", "SCC", "unknown")
    ours = metrics.classification_metrics(labels, probabilities, class_names=names)
    predicted = probabilities.argmax(-1)
    # ISIC 2019's official score: balanced multi-class accuracy.
    assert ours["balanced_accuracy"] == pytest.approx(
        skm.balanced_accuracy_score(labels, predicted), abs=1e-12
    )
    per_class = skm.roc_auc_score(
        labels, probabilities, multi_class="ovr", average=None
    )
    for name, expected in zip(names, per_class, strict=True):
        assert ours[f"auroc_{name}"] == pytest.approx(expected, abs=1e-12)
    assert ours["macro_auroc"] == pytest.approx(
        skm.roc_auc_score(labels, probabilities, multi_class="ovr"), abs=1e-12
    )
    np.testing.assert_array_equal(
        ours["confusion_matrix"], skm.confusion_matrix(labels, predicted)
    )
    # Melanoma is class 0 here ("mel"): the study's metrics follow it.
    assert ours["auroc"] == pytest.approx(per_class[0], abs=1e-12)
    assert ours["sensitivity"] == pytest.approx(
        skm.recall_score(labels == 0, predicted == 0)
    )
    assert ours["num_melanoma"] == int(np.sum(labels == 0))


def test_melanoma_is_found_by_name():
    assert metrics.melanoma_index(NINE) == 1
    assert metrics.melanoma_index(metrics.CLASS_NAMES[2]) == metrics.MELANOMA
    assert metrics.melanoma_index(metrics.CLASS_NAMES[3]) == metrics.MELANOMA
    assert metrics.melanoma_index(("nv", "bcc")) is None
    assert [metrics.isic2019_category(n) for n in NINE] == list(NINE)
    assert metrics.isic2019_category("akiec") == "AK"
    assert metrics.isic2019_category("other") is None


def test_absent_class_gives_nan_auroc_and_is_left_out_of_the_means():
    labels, probabilities = _multiclass(1, num_classes=4)
    keep = labels != 2
    labels, probabilities = labels[keep], probabilities[keep]
    ours = metrics.classification_metrics(
        labels, probabilities, class_names=("a", "melanoma", "c", "d")
    )
    assert np.isnan(ours["auroc_c"])
    present = [0, 1, 3]
    expected = [skm.roc_auc_score(labels == c, probabilities[:, c]) for c in present]
    assert ours["macro_auroc"] == pytest.approx(np.mean(expected), abs=1e-12)
    # Recall over the present classes (class 2 may still be predicted).
    recalls = [np.mean(probabilities.argmax(-1)[labels == c] == c) for c in present]
    assert ours["balanced_accuracy"] == pytest.approx(np.mean(recalls), abs=1e-12)


def test_no_melanoma_class_gives_nan_melanoma_metrics():
    labels, probabilities = _multiclass(2, num_classes=3)
    ours = metrics.classification_metrics(
        labels, probabilities, class_names=("nv", "bcc", "bkl")
    )
    assert np.isnan(ours["auroc"]) and np.isnan(ours["sensitivity"])
    assert ours["num_melanoma"] == 0
    with pytest.raises(ValueError, match="Received: class_names"):
        metrics.classification_metrics(labels, probabilities, class_names=("a", "b"))


def test_validation_metrics_of_nine_classes():
    labels, probabilities = _multiclass(3)
    logits = np.log(probabilities)
    got = metrics.validation_metrics(labels, logits, class_names=NINE)
    assert set(got) == {
        *metrics.VALIDATION_METRICS,
        *metrics.MULTICLASS_METRICS,
        *(f"auroc_{name}" for name in NINE),
    }
    assert got["loss"] == pytest.approx(skm.log_loss(labels, probabilities))
    assert got["balanced_accuracy"] == pytest.approx(
        skm.balanced_accuracy_score(labels, probabilities.argmax(-1))
    )
