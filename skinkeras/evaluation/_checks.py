"""Input checks shared by the evaluation modules (names the argument at fault)."""

import numpy as np


def _labels(y_true, *, both_classes=True, min_per_class=1):
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(
            f"`y_true` must be 1-D (one label per lesion). Received: y_true.shape={y.shape}"
        )
    if y.size == 0:
        raise ValueError(
            f"`y_true` must not be empty. Received: y_true.shape={y.shape}"
        )
    values = np.unique(y)
    if not np.isin(values, [0, 1]).all():
        raise ValueError(
            "`y_true` must be binary: 1 (melanoma) or 0. "
            f"Received: y_true values={values.tolist()[:10]}"
        )
    y = y.astype(bool)
    if both_classes:
        counts = {"melanoma": int(y.sum()), "other": int((~y).sum())}
        if min(counts.values()) < min_per_class:
            raise ValueError(
                f"`y_true` needs at least {min_per_class} lesion(s) of each class. "
                f"Received: y_true counts={counts}"
            )
    return y


def _scores(scores, y, *, name="scores", probabilities=False):
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != y.shape:
        raise ValueError(
            f"`{name}` must be 1-D with one value per label in `y_true`. "
            f"Received: {name}.shape={s.shape}, y_true.shape={y.shape}"
        )
    if not np.isfinite(s).all():
        raise ValueError(
            f"`{name}` must be finite. Received: {name} with "
            f"{int((~np.isfinite(s)).sum())} non-finite value(s)"
        )
    if probabilities and s.size and (s.min() < 0 or s.max() > 1):
        raise ValueError(
            f"`{name}` must be probabilities in [0, 1]. "
            f"Received: {name} range=[{s.min()}, {s.max()}]"
        )
    return s


def _binary(y_true, scores, **kwargs):
    y = _labels(y_true, **kwargs)
    return y, _scores(scores, y)


def _fraction(value, name):
    # A rate target in (0, 1]: every operating point reaches a sensitivity of 0.
    if not 0 < value <= 1:
        raise ValueError(f"`{name}` must be in (0, 1]. Received: {name}={value}")
    return float(value)


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(
            f"`{name}` must be a positive integer. Received: {name}={value!r}"
        )
    return int(value)


def _confidence(confidence):
    if not 0 < confidence < 1:
        raise ValueError(
            f"`confidence` must be in (0, 1). Received: confidence={confidence}"
        )
    return float(confidence)
