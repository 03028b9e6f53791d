"""Validation metrics of the study, computed from logits in NumPy.

SPEC: accuracy and AUROC of the melanoma probability on the validation split each
epoch; sensitivity and specificity are added for the melanoma class. Class index 1 is
melanoma (binary task and the 3-class ``label`` alike), so "positive" means label 1.
"""

import numpy as np

MELANOMA = 1


def softmax(logits):
    """Row-wise softmax of ``(N, C)`` logits, computed stably in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def melanoma_probability(logits):
    """Probability of class 1 (melanoma): softmax of the logits, column 1."""
    return softmax(logits)[:, MELANOMA]


def cross_entropy(labels, logits):
    """Mean sparse categorical cross-entropy of integer ``labels`` given logits."""
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def auroc(y_true, scores):
    """Area under the ROC curve of binary ``y_true`` ranked by ``scores``.

    Mann-Whitney form: the probability that a random positive scores above a random
    negative, ties counting one half (average ranks). NaN when a class is absent.
    """
    y_true = np.asarray(y_true).astype(bool).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    n_pos = int(y_true.sum())
    n_neg = y_true.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(scores.size, dtype=np.float64)
    # Average rank (1-based) within each run of tied scores.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for start, count in zip(first, counts, strict=True):
        ranks[order[start : start + count]] = start + (count + 1) / 2.0
    u = ranks[y_true].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def sensitivity(y_true, y_pred):
    """True-positive rate: melanomas predicted as melanoma / melanomas (NaN if none)."""
    y_true = np.asarray(y_true).astype(bool).reshape(-1)
    y_pred = np.asarray(y_pred).astype(bool).reshape(-1)
    positives = y_true.sum()
    return float((y_true & y_pred).sum() / positives) if positives else float("nan")


def specificity(y_true, y_pred):
    """True-negative rate: other lesions predicted as other / others (NaN if none)."""
    y_true = np.asarray(y_true).astype(bool).reshape(-1)
    y_pred = np.asarray(y_pred).astype(bool).reshape(-1)
    negatives = (~y_true).sum()
    return float((~y_true & ~y_pred).sum() / negatives) if negatives else float("nan")


def classification_metrics(labels, logits):
    """All validation metrics of one epoch from integer labels and ``(N, C)`` logits.

    Returns a dict with ``loss``, ``accuracy`` (argmax over all classes), ``auroc``
    (melanoma probability vs. melanoma/other), ``sensitivity`` and ``specificity``
    (melanoma predicted when it is the argmax class).
    """
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] != labels.shape[0]:
        raise ValueError(
            "`logits` must have shape (N, num_classes) matching `labels` (N,). "
            f"Received: logits.shape={logits.shape}, labels.shape={labels.shape}"
        )
    predicted = logits.argmax(axis=-1)
    is_melanoma = labels == MELANOMA
    predicted_melanoma = predicted == MELANOMA
    return {
        "loss": cross_entropy(labels, logits),
        "accuracy": float((predicted == labels).mean()),
        "auroc": auroc(is_melanoma, melanoma_probability(logits)),
        "sensitivity": sensitivity(is_melanoma, predicted_melanoma),
        "specificity": specificity(is_melanoma, predicted_melanoma),
    }
