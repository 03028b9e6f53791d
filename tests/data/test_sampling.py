"""Epoch draws as fastai v1's training loader: permutation, or oversampling with replacement."""

import numpy as np
import pytest
import tensorflow as tf

from skinkeras.data import sampling

# SPEC, datasets: ISIC 2017 train, melanoma vs rest.
ISIC2017_MELANOMA_VS_REST = (1626, 374)


def labels_for(counts):
    return np.concatenate([np.full(n, c, np.int64) for c, n in enumerate(counts)])


def test_oversampled_epoch_size_is_fastai_v1s():
    # fastai/callbacks/oversampling.py: int(data.c * np.max(label_counts)).
    assert sampling.epoch_size(ISIC2017_MELANOMA_VS_REST, oversample=True) == 3252
    assert sampling.epoch_size(ISIC2017_MELANOMA_VS_REST, oversample=False) == 2000
    assert sampling.epoch_size((1372, 374, 254), oversample=True) == 3 * 1372
    with pytest.raises(ValueError, match="counts"):
        sampling.epoch_size((0, 0), oversample=True)


def draw_counts(counts, epochs, *, oversample, seed=0):
    labels = labels_for(counts)
    per_epoch = []
    for epoch in range(epochs):
        key = sampling.epoch_key(seed, 2, epoch)
        indices = sampling.epoch_indices(
            labels, key, num_classes=len(counts), oversample=oversample
        ).numpy()
        per_epoch.append(np.bincount(indices, minlength=len(labels)))
    return labels, np.stack(per_epoch)


def test_oversampling_draws_with_replacement_balanced_classes():
    counts = (60, 12)
    labels, drawn = draw_counts(counts, epochs=300, oversample=True)
    size = 2 * 60
    assert (drawn.sum(axis=1) == size).all()
    # Each class is drawn with probability 1/2 per draw: over 300 epochs of 120 draws
    # the minority share is within 4 binomial standard deviations of 0.5.
    minority_share = drawn[:, labels == 1].sum() / drawn.sum()
    assert abs(minority_share - 0.5) < 4 * np.sqrt(0.25 / drawn.sum())
    # With replacement, example i is drawn Binomial(size, p_i) times per epoch,
    # p_i = 1 / (num_classes * count[label_i]) (WeightedRandomSampler with weights
    # 1/count). A per-class cycle of shuffles (without replacement) would give the
    # majority examples exactly one draw per epoch: variance 0 instead of ~0.99.
    for c, n in enumerate(counts):
        p = 1.0 / (2 * n)
        mean, var = size * p, size * p * (1 - p)
        got = drawn[:, labels == c]
        assert got.mean() == pytest.approx(mean, rel=0.05), c
        assert got.var() == pytest.approx(var, rel=0.1), c
    assert (drawn[:, labels == 0] == 0).any()  # some majority images left out


def test_without_oversampling_an_epoch_is_a_permutation():
    labels, drawn = draw_counts((7, 5), epochs=3, oversample=False)
    assert (drawn == 1).all()
    orders = [
        sampling.epoch_indices(
            labels, sampling.epoch_key(0, 1, e), num_classes=2, oversample=False
        ).numpy()
        for e in range(3)
    ]
    assert sorted(orders[0]) == list(range(12))
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[0], np.arange(12))
    key = sampling.epoch_key(0, 1, 0)
    unshuffled = sampling.epoch_indices(
        labels, key, num_classes=2, oversample=False, shuffle=False
    )
    np.testing.assert_array_equal(unshuffled, np.arange(12))


def test_draws_are_a_pure_function_of_seed_stage_and_epoch():
    labels = labels_for((9, 3))

    def draw(seed, stage, epoch):
        key = sampling.epoch_key(seed, stage, epoch)
        return sampling.epoch_indices(
            labels, key, num_classes=2, oversample=True
        ).numpy()

    first = draw(0, 1, 0)
    tf.random.set_seed(1234)  # global random state must not matter
    np.random.seed(99)
    np.testing.assert_array_equal(draw(0, 1, 0), first)
    for other in (draw(1, 1, 0), draw(0, 2, 0), draw(0, 1, 1)):
        assert not np.array_equal(other, first)
    # Keys also work with tensor epochs (inside tf.data).
    key = sampling.epoch_key(0, 1, tf.constant(0, tf.int64))
    np.testing.assert_array_equal(key, sampling.epoch_key(0, 1, 0))


def test_class_counts_and_bad_labels():
    ds = tf.data.Dataset.from_tensor_slices((tf.zeros([12, 2]), [0] * 9 + [1] * 3))
    np.testing.assert_array_equal(
        sampling.class_counts(ds, num_classes=2, label_key_or_fn=1), [9, 3]
    )
    bad = tf.data.Dataset.from_tensor_slices({"label": [0, 1, 2, 5]})
    with pytest.raises(ValueError, match=r"\[0, 2\).*\[2, 5\]"):
        sampling.class_counts(bad, num_classes=2, label_key_or_fn="label")
