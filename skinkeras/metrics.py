"""Classification metrics of the study, in NumPy and scikit-learn, outside the graph.

SPEC: accuracy and AUROC of the melanoma probability; sensitivity and specificity of
the melanoma class. Class index 1 is melanoma in the binary task and in ISIC 2017's
3-class ``label`` alike, so "positive" means label 1 (`MELANOMA`). A dataset-defined
label (``diagnosis`` of ISIC 2019 / HAM10000, issue 16) brings its own class names;
its melanoma class is found by name (`melanoma_index`), and its columns in the ISIC
2019 submission by `isic2019_category`. The class names and indices are defined here
once; training, inference and evaluation all read them from this module.

With more than two classes the metrics add ISIC 2019's official score, the balanced
multi-class accuracy (mean per-class recall), the one-vs-rest AUROC of every class
(``auroc_<class name>``) and their mean (``macro_auroc``), and the confusion matrix.

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
# ISIC 2019's categories, in the order of its ground-truth and submission CSVs.
ISIC2019_CATEGORIES = ("MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK")
# Other spellings of those categories that a builder's ClassLabel may use: HAM10000's
# `dx` codes and the long names (matched case-insensitively).
_CATEGORY_ALIASES = {
    "melanoma": "MEL",
    "nevus": "NV",
    "melanocytic_nevus": "NV",
    "basal_cell_carcinoma": "BCC",
    "akiec": "AK",
    "actinic_keratosis": "AK",
    "benign_keratosis": "BKL",
    "dermatofibroma": "DF",
    "vascular_lesion": "VASC",
    "squamous_cell_carcinoma": "SCC",
    "unknown": "UNK",
}
# The keys of training's per-epoch record (``val_<key>``); summary.json reports them.
VALIDATION_METRICS = ("loss", "accuracy", "auroc", "sensitivity", "specificity")
# Added to the record when there are more than two classes (with ``auroc_<name>``).
MULTICLASS_METRICS = ("balanced_accuracy", "macro_auroc")


def isic2019_category(name):
    """The ISIC 2019 category (``"MEL"``, ...) of a class name, or None."""
    key = str(name).lower()
    if key.upper() in ISIC2019_CATEGORIES:
        return key.upper()
    return _CATEGORY_ALIASES.get(key)


def default_class_names(num_classes):
    """The names of the fixed labels: ``melanoma`` (2 classes), ISIC 2017 (3)."""
    if num_classes not in CLASS_NAMES:
        raise ValueError(
            "Only the 2-class `melanoma` and the 3-class ISIC 2017 `label` have "
            "default class names; give the dataset's names. "
            f"Received: num_classes={num_classes}"
        )
    return CLASS_NAMES[num_classes]


def melanoma_index(class_names):
    """Index of the melanoma class in ``class_names`` (None if there is none)."""
    for index, name in enumerate(class_names):
        if isic2019_category(name) == "MEL":
            return index
    return None


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


def one_vs_rest_auroc(labels, probabilities):
    """AUROC of each class's probability against all other classes (NaN if absent).

    scikit-learn's ``roc_auc_score(multi_class="ovr", average=None)``, one class at a
    time so that a class absent from ``labels`` gives NaN instead of an error.
    """
    labels = np.asarray(labels).reshape(-1)
    probabilities = np.asarray(probabilities, np.float64)
    return [
        auroc(labels == c, probabilities[:, c]) for c in range(probabilities.shape[1])
    ]


def confusion_matrix(labels, predicted, *, num_classes):
    """``(num_classes, num_classes)`` counts: row = true class, column = predicted."""
    return skm.confusion_matrix(labels, predicted, labels=np.arange(num_classes))


def _check_class_names(class_names, num_classes):
    names = default_class_names(num_classes) if class_names is None else class_names
    if len(names) != num_classes:
        raise ValueError(
            f"`class_names` must name the {num_classes} classes. "
            f"Received: class_names={list(names)}"
        )
    return tuple(str(name) for name in names)


def classification_metrics(labels, probabilities, *, class_names=None):
    """Metrics of class probabilities (e.g. averaged over seeds and TTA).

    Args:
        labels: int (N,) class indices.
        probabilities: float (N, classes).
        class_names: the name of each class; None: the fixed labels' names
            (`default_class_names`: melanoma is index 1, binary or 3-class).

    Returns:
        dict with `auroc` (melanoma probability, melanoma vs rest), `accuracy` and
        `balanced_accuracy` (most probable class vs label, over the model's classes:
        the mean per-class recall, ISIC 2019's official score), `sensitivity` and
        `specificity` (melanoma vs rest, melanoma predicted when it is the most
        probable class), `num_examples` and `num_melanoma`; with more than two
        classes also `macro_auroc` (mean over the classes present of the
        one-vs-rest AUROC), ``auroc_<class name>`` per class and
        `confusion_matrix` (list of rows: true class; columns: predicted). An
        undefined metric (a class absent from `labels`, no melanoma class) is NaN.
    """
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    probabilities = np.asarray(probabilities, np.float64)
    if probabilities.ndim != 2 or probabilities.shape[0] != labels.shape[0]:
        raise ValueError(
            "`probabilities` must have shape (N, classes) matching `labels` (N,). "
            f"Received: probabilities.shape={probabilities.shape}, "
            f"labels.shape={labels.shape}"
        )
    num_classes = probabilities.shape[1]
    if class_names is None and num_classes not in CLASS_NAMES:
        class_names = [f"class_{c}" for c in range(num_classes)]
    class_names = _check_class_names(class_names, num_classes)
    predicted = np.argmax(probabilities, axis=-1)
    found = {
        "accuracy": float(np.mean(predicted == labels)),
        "balanced_accuracy": balanced_accuracy(labels, predicted),
    }
    melanoma = melanoma_index(class_names)  # `MELANOMA` (1) for the fixed labels
    if melanoma is None:
        nan = float("nan")
        found.update(auroc=nan, sensitivity=nan, specificity=nan, num_melanoma=0)
    else:
        is_melanoma = labels == melanoma
        sensitivity, specificity = sensitivity_specificity(
            is_melanoma, predicted == melanoma
        )
        found.update(
            {
                "auroc": auroc(is_melanoma, probabilities[:, melanoma]),
                "sensitivity": sensitivity,
                "specificity": specificity,
                "num_melanoma": int(is_melanoma.sum()),
            }
        )
    found["num_examples"] = int(labels.size)
    if num_classes > 2:
        per_class = one_vs_rest_auroc(labels, probabilities)
        present = [value for value in per_class if not np.isnan(value)]
        found["macro_auroc"] = float(np.mean(present)) if present else float("nan")
        for name, value in zip(class_names, per_class, strict=True):
            found[f"auroc_{name}"] = value
        matrix = confusion_matrix(labels, predicted, num_classes=num_classes)
        found["confusion_matrix"] = matrix.tolist()
    return found


def validation_metrics(labels, logits, *, class_names=None):
    """Training's per-epoch validation record from integer labels and logits.

    Returns:
        dict of `VALIDATION_METRICS`: the cross-entropy ``loss`` of the logits and
        `classification_metrics` of their softmax; with more than two classes also
        `MULTICLASS_METRICS` and ``auroc_<class name>`` (numbers only: the
        confusion matrix is `classification_metrics`').
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] != np.size(labels):
        raise ValueError(
            "`logits` must have shape (N, num_classes) matching `labels` (N,). "
            f"Received: logits.shape={logits.shape}, "
            f"labels.shape={np.shape(labels)}"
        )
    found = classification_metrics(labels, softmax(logits), class_names=class_names)
    found["loss"] = cross_entropy(labels, logits)
    keys = list(VALIDATION_METRICS)
    if logits.shape[1] > 2:
        keys += [*MULTICLASS_METRICS, *(k for k in found if k.startswith("auroc_"))]
    return {key: found[key] for key in keys}
