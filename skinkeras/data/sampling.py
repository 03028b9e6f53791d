"""Class-balancing oversampling of a labelled `tf.data.Dataset`, by sampling.

SPEC: oversampling of minority classes to balance the training stream (experiments
2–4). As fastai's `OverSamplingCallback`, examples are drawn with probability inversely
proportional to their class frequency; nothing is duplicated on disk. Implementation:
one filtered, shuffled, repeated stream per class, mixed with equal weights by
`tf.data.Dataset.sample_from_datasets`.
"""

import numpy as np
import tensorflow as tf

__all__ = ["class_counts", "oversample"]


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


def class_counts(dataset, *, num_classes, label_key_or_fn):
    """Number of examples per class (one pass over the labels only)."""
    label_fn = _label_fn(label_key_or_fn)
    labels = dataset.map(
        lambda *e: tf.cast(_call(label_fn, e if len(e) > 1 else e[0]), tf.int64)
    )
    counts = labels.reduce(
        tf.zeros([num_classes], tf.int64),
        lambda acc, y: acc + tf.one_hot(y, num_classes, dtype=tf.int64),
    )
    return np.asarray(counts)


def oversample(
    dataset,
    *,
    num_classes,
    label_key_or_fn,
    seed,
    num_samples=None,
    shuffle_buffer=10_000,
    counts=None,
    class_stream_fn=None,
):
    """Resamples `dataset` so every class is drawn equally often.

    Args:
        dataset: a finite `tf.data.Dataset` of dicts (or tuples) with integer labels
            in [0, num_classes). Put it behind `.cache()`: each class stream reads it.
        num_classes: number of classes.
        label_key_or_fn: dict key of the label, tuple index, or element → label.
        seed: int seed (shuffles and class choice); each iteration re-randomises.
        num_samples: examples per iteration (e.g. the dataset's size, fastai's epoch
            length); None gives an infinite stream.
        shuffle_buffer: shuffle buffer of each class stream.
        counts: examples per class if known (skips the counting pass).
        class_stream_fn: optional `Dataset → Dataset` applied to each class's filtered
            stream before its shuffle, e.g. `lambda ds: ds.map(decode).cache()`, so
            each example is decoded and cached once (a shared cache upstream of the
            filters would be filled by every class stream on the first pass).

    Returns:
        A `tf.data.Dataset` with the same element structure.
    """
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, int)
        or num_classes < 1
    ):
        raise ValueError(
            f"`num_classes` must be a positive int. Received: num_classes={num_classes!r}"
        )
    label_fn = _label_fn(label_key_or_fn)
    if counts is None:
        counts = class_counts(
            dataset, num_classes=num_classes, label_key_or_fn=label_key_or_fn
        )
    present = [c for c in range(num_classes) if counts[c] > 0]
    if not present:
        raise ValueError(f"`dataset` has no examples. Received: counts={list(counts)}")

    streams = []
    for offset, c in enumerate(present):
        # A class with no examples would make filter().repeat() spin forever: skipped.
        stream = dataset.filter(
            lambda *e, c=c: tf.equal(
                tf.cast(_call(label_fn, e if len(e) > 1 else e[0]), tf.int64), c
            )
        )
        if class_stream_fn is not None:
            stream = class_stream_fn(stream)
        stream = stream.shuffle(
            min(shuffle_buffer, int(counts[c])),
            seed=seed + 1 + offset,
            reshuffle_each_iteration=True,
        ).repeat()
        streams.append(stream)
    mixed = tf.data.Dataset.sample_from_datasets(
        streams,
        weights=[1.0 / len(streams)] * len(streams),
        seed=seed,
        rerandomize_each_iteration=True,
    )
    if num_samples is not None:
        mixed = mixed.take(num_samples)
    return mixed
