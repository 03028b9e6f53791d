"""Classification metrics of the study, in NumPy and scikit-learn, outside the graph.

SPEC: accuracy and AUROC of the melanoma probability; sensitivity and specificity of
the melanoma class. Class index 1 is melanoma in the binary task and in ISIC 2017's
3-class ``label`` alike, so "positive" means label 1 (`MELANOMA`).

One function, `classification_metrics(labels, probabilities)`, serves evaluation and
prediction; training's per-epoch record is `validation_metrics(labels, logits)`: the
same metrics of ``softmax(logits)`` plus the cross-entropy ``loss``. Softmax and loss
are computed in float64 from the logits: in float32 confident predictions saturate to
exactly 0 or 1 and their ranking (AUROC) is lost.
"""

import numpy as np
from sklearn import metrics as skm

MELANOMA = 1  # class index of melanoma in both the binary and the 3-class task
CLASS_NAMES = {
    2: ("other", "melanoma"),
    3: ("nevus", "melanoma", "seborrheic_keratosis"),
}
# The keys of training's per-epoch record (``val_<key>``); summary.json reports them.
VALIDATION_METRICS = ("loss", "accuracy", "auroc", "sensitivity", "specificity")


def softmax(logits):
    """Row-wise softmax of ``(N, C)`` logits, computed stably in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def melanoma_probability(logits):
    """Probability of class 1 (melanoma) from logits: softmax, column `MELANOMA`."""
    return softmax(logits)[:, MELANOMA]


def cross_entropy(labels, logits):
    """Mean sparse categorical cross-entropy of integer ``labels`` given logits."""
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    logits = np.asarray(logits, dtype=np.float64)
    # log-softmax from the logits: log(softmax) would be -inf where it underflows.
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def auroc(y_true, scores):
    """Area under the ROC curve of binary ``y_true`` ranked by ``scores``.

    Ties count one half (scikit-learn's trapezoids). NaN when a class is absent,
    where scikit-learn raises.
    """
    y_true = np.asarray(y_true).astype(bool).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y_true.all() or not y_true.any():
        return float("nan")
    return float(skm.roc_auc_score(y_true, scores))


def _rate(count, total):
    return float(count / total) if total else float("nan")


def sensitivity_specificity(y_true, y_pred):
    """True-positive and true-negative rates of binary predictions (NaN if undefined).

    Sensitivity: melanomas predicted as melanoma / melanomas; specificity: other
    lesions predicted as other / other lesions.
    """
    y_true = np.asarray(y_true).astype(bool).reshape(-1)
    y_pred = np.asarray(y_pred).astype(bool).reshape(-1)
    # labels=: always the 2×2 matrix, also when a class is absent.
    tn, fp, fn, tp = skm.confusion_matrix(y_true, y_pred, labels=[False, True]).ravel()
    return _rate(tp, tp + fn), _rate(tn, tn + fp)


def balanced_accuracy(labels, predicted):
    """Mean recall over the classes present in ``labels`` (NaN without labels).

    scikit-learn's `balanced_accuracy_score`, written as the macro recall over the
    present classes: that one warns when a class is absent from ``labels`` or
    ``predicted``, which a validation split of a few images does often.
    """
    labels = np.asarray(labels).reshape(-1)
    present = np.unique(labels)
    if present.size == 0:
        return float("nan")
    return float(skm.recall_score(labels, predicted, labels=present, average="macro"))


def classification_metrics(labels, probabilities):
    """Metrics of class probabilities (e.g. averaged over seeds and TTA).

    Args:
        labels: int (N,) class indices; melanoma is index 1 (binary or 3-class).
        probabilities: float (N, classes).

    Returns:
        dict with `auroc` (melanoma probability, melanoma vs rest), `accuracy` and
        `balanced_accuracy` (most probable class vs label, over the model's classes:
        the mean per-class recall), `sensitivity` and `specificity` (melanoma vs
        rest, melanoma predicted when it is the most probable class),
        `num_examples` and `num_melanoma`. An undefined metric (a class absent from
        `labels`) is NaN.
    """
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    probabilities = np.asarray(probabilities, np.float64)
    if probabilities.ndim != 2 or probabilities.shape[0] != labels.shape[0]:
        raise ValueError(
            "`probabilities` must have shape (N, classes) matching `labels` (N,). "
            f"Received: probabilities.shape={probabilities.shape}, "
            f"labels.shape={labels.shape}"
        )
    predicted = np.argmax(probabilities, axis=-1)
    is_melanoma = labels == MELANOMA
    sensitivity, specificity = sensitivity_specificity(
        is_melanoma, predicted == MELANOMA
    )
    return {
        "auroc": auroc(is_melanoma, probabilities[:, MELANOMA]),
        "accuracy": float(np.mean(predicted == labels)),
        "balanced_accuracy": balanced_accuracy(labels, predicted),
        "sensitivity": sensitivity,
        "specificity": specificity,
        "num_examples": int(labels.size),
        "num_melanoma": int(is_melanoma.sum()),
    }


def validation_metrics(labels, logits):
    """Training's per-epoch validation record from integer labels and logits.

    Returns:
        dict of `VALIDATION_METRICS`: the cross-entropy ``loss`` of the logits and
        `classification_metrics` of their softmax.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] != np.size(labels):
        raise ValueError(
            "`logits` must have shape (N, num_classes) matching `labels` (N,). "
            f"Received: logits.shape={logits.shape}, "
            f"labels.shape={np.shape(labels)}"
        )
    found = classification_metrics(labels, softmax(logits))
    found["loss"] = cross_entropy(labels, logits)
    return {key: found[key] for key in VALIDATION_METRICS}
