"""Oversampling balances the classes by sampling."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from skinkeras.data import oversample
from skinkeras.data.sampling import class_counts


def labelled(counts):
    labels = np.concatenate([np.full(n, c, np.int64) for c, n in enumerate(counts)])
    ids = np.arange(len(labels))
    return tf.data.Dataset.from_tensor_slices({"id": ids, "label": labels})


def frequencies(dataset, key, draws):
    labels = [int(ex[key]) for ex in dataset.take(draws).as_numpy_iterator()]
    counts = collections.Counter(labels)
    return {c: n / draws for c, n in counts.items()}, labels


def test_classes_within_5_percent_of_equal_over_2000_draws():
    for counts in ((90, 10), (140, 40, 20)):
        ds = oversample(
            labelled(counts), num_classes=len(counts), label_key_or_fn="label", seed=0
        )
        freq, _ = frequencies(ds, "label", 2000)
        for c in range(len(counts)):
            # Within 5 percentage points of 1 / num_classes.
            assert abs(freq[c] - 1 / len(counts)) < 0.05, (counts, freq)


def test_examples_are_reused_not_duplicated_and_all_seen():
    ds = oversample(labelled((50, 5)), num_classes=2, label_key_or_fn="label", seed=1)
    ids = [int(ex["id"]) for ex in ds.take(400).as_numpy_iterator()]
    assert set(ids) == set(range(55))  # every example drawn, minority ones repeatedly
    assert collections.Counter(ids)[52] > 10


def test_seeded_epochs_and_empty_classes():
    make = lambda seed: oversample(  # noqa: E731
        labelled((30, 0, 6)),  # class 1 has no examples: skipped, no endless loop
        num_classes=3,
        label_key_or_fn=lambda ex: ex["label"],
        seed=seed,
        num_samples=36,
    )
    a, b, c = make(3), make(3), make(4)
    first = [int(x["id"]) for x in a]
    second = [int(x["id"]) for x in a]  # next epoch: re-randomised
    assert first == [int(x["id"]) for x in b]
    assert first != second and first != [int(x["id"]) for x in c]
    assert len(first) == 36 and {int(x["label"]) for x in a} == {0, 2}


def test_tuple_datasets_and_counts():
    ds = tf.data.Dataset.from_tensor_slices((tf.zeros([12, 2]), [0] * 9 + [1] * 3))
    np.testing.assert_array_equal(
        class_counts(ds, num_classes=2, label_key_or_fn=1), [9, 3]
    )
    out = oversample(ds, num_classes=2, label_key_or_fn=1, seed=0).take(400)
    labels = np.array([int(y) for _, y in out])
    assert abs(labels.mean() - 0.5) < 0.08
    with pytest.raises(ValueError, match=r"Received: num_classes=0"):
        oversample(ds, num_classes=0, label_key_or_fn=1, seed=0)
