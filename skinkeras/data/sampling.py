"""Which training examples an epoch visits, and in which order: a pure function of seeds.

fastai v1's training loader, which the study's protocol follows (SPEC, training
protocol; docs/training.md, "The study's protocol"), draws each epoch either

- a random permutation of the split (`DataLoader(shuffle=True)`), or, with
  oversampling, `num_classes × largest class count` examples **with replacement**,
  each with probability proportional to one over its class's count
  (fastai/callbacks/oversampling.py, `OverSamplingCallback`: a
  `WeightedRandomSampler(weights=(1/label_counts)[labels],
  num_samples=int(data.c * max(label_counts)))`), so that every class is drawn
  equally often in expectation;

and drops the last partial batch (`drop_last=True`).

Here the draw of epoch ``e`` comes from stateless random ops fed by
`epoch_key(seed, stage, e)`: the same (seed, stage, epoch) always gives the same
examples in the same order, whatever ran before in the process, so a run resumed at
an epoch boundary continues exactly as if it had never stopped.
"""

import numpy as np
import tensorflow as tf

__all__ = ["class_counts", "epoch_indices", "epoch_key", "epoch_size"]

# Tags that keep the streams derived from one seed apart (data vs. e.g. dropout).
DATA_STREAM = 0x5EED_DA7A


def _label_fn(label_key_or_fn):
    if callable(label_key_or_fn):
        return label_key_or_fn
    if isinstance(label_key_or_fn, str):
        return lambda example: example[label_key_or_fn]
    if isinstance(label_key_or_fn, int) and not isinstance(label_key_or_fn, bool):
        return lambda *example: example[label_key_or_fn]  # e.g. 1 for (image, label)
    raise ValueError(
        "`label_key_or_fn` must be a dict key, a tuple index or a callable. "
        f"Received: label_key_or_fn={label_key_or_fn!r}"
    )


def _call(fn, element):
    return fn(*element) if isinstance(element, tuple) else fn(element)


def labels_of(dataset, *, label_key_or_fn):
    """The integer label of every example, in dataset order (one pass, labels only)."""
    label_fn = _label_fn(label_key_or_fn)
    labels = dataset.map(
        lambda *e: tf.cast(_call(label_fn, e if len(e) > 1 else e[0]), tf.int64)
    )
    return np.fromiter(labels.as_numpy_iterator(), dtype=np.int64)


def class_counts(dataset, *, num_classes, label_key_or_fn):
    """Number of examples per class (one pass over the labels only).

    Raises:
        ValueError: a label outside ``[0, num_classes)``.
    """
    labels = labels_of(dataset, label_key_or_fn=label_key_or_fn)
    return counts_of(labels, num_classes=num_classes)


def counts_of(labels, *, num_classes):
    """``np.bincount`` of ``labels`` after checking that they lie in [0, num_classes)."""
    labels = np.asarray(labels, dtype=np.int64)
    bad = labels[(labels < 0) | (labels >= num_classes)]
    if bad.size:
        raise ValueError(
            f"Labels must lie in [0, {num_classes}). "
            f"Received: labels {sorted(set(bad.tolist()))[:10]}"
        )
    return np.bincount(labels, minlength=num_classes)


def epoch_size(counts, *, oversample):
    """Examples one epoch draws: the split's size, or fastai v1's oversampled length.

    ``oversample``: ``num_classes × max(counts)`` (`OverSamplingCallback`'s
    ``total_len_oversample``, with ``data.c`` the number of classes); ISIC 2017
    train, melanoma vs. rest (374 / 1626): 2 × 1626 = 3252.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim != 1 or counts.size == 0 or counts.sum() == 0:
        raise ValueError(f"`counts` must list examples per class. Received: {counts}")
    return int(counts.size * counts.max()) if oversample else int(counts.sum())


def epoch_key(seed, stage, epoch):
    """The stateless RNG key (int32, shape (2,)) of one epoch of one training stage.

    ``seed``, ``stage`` and ``epoch`` may be Python ints or int tensors (``epoch`` is
    a tensor inside `tf.data`). Folding them in one after the other gives unrelated
    streams for neighbouring values.
    """
    key = tf.stack([tf.cast(seed, tf.int64), tf.constant(DATA_STREAM, tf.int64)])
    key = tf.random.experimental.stateless_fold_in(key, tf.cast(stage, tf.int64))
    return tf.random.experimental.stateless_fold_in(key, tf.cast(epoch, tf.int64))


def epoch_indices(labels, key, *, num_classes, oversample, shuffle=True):
    """The indices (int32) of the examples an epoch visits, in order.

    Args:
        labels: int tensor (n,) of the split's labels, in [0, num_classes).
        key: stateless RNG key of shape (2,), e.g. `epoch_key(...)`.
        num_classes: number of classes (fastai's ``data.c``).
        oversample: draw ``num_classes × max class count`` indices with replacement,
            index ``i`` with probability ∝ ``1 / count[labels[i]]`` (fastai v1's
            `OverSamplingCallback`). Classes without examples are never drawn, as
            in fastai (its weights exist only for present labels).
        shuffle: without oversampling, a random permutation (else ``0..n-1``).
    """
    labels = tf.cast(labels, tf.int32)
    n = tf.shape(labels)[0]
    if oversample:
        counts = tf.math.bincount(
            labels, minlength=num_classes, maxlength=num_classes, dtype=tf.int32
        )
        size = num_classes * tf.reduce_max(counts)
        weights = 1.0 / tf.cast(tf.gather(counts, labels), tf.float32)
        logits = tf.math.log(weights)[tf.newaxis]
        return tf.random.stateless_categorical(logits, size, key, dtype=tf.int32)[0]
    if shuffle:
        return tf.random.experimental.stateless_shuffle(tf.range(n), key)
    return tf.range(n)
