"""tfds_isic.splits: grouped stratified splits, checked by plain set and count
arithmetic written here (never by the splitter's own helpers)."""

import collections
import random

import numpy as np
import pytest

from tfds_isic import splits

FRACTIONS = (("train", 0.7), ("validation", 0.15), ("test", 0.15))


def _realistic(seed=0, n_groups=400, classes=("nv", "mel", "bkl", "bcc")):
    """Patients with 1-30 images (geometric sizes), a few ungrouped images, and
    class shares 80 / 8 / 7 / 5 %; classes mostly constant within a group."""
    rng = np.random.default_rng(seed)
    labels, groups = {}, {}
    for g in range(n_groups):
        size = min(30, int(rng.geometric(0.15)))
        main = rng.choice(classes, p=[0.8, 0.08, 0.07, 0.05])
        for _ in range(size):
            image_id = f"ISIC_{len(labels):07d}"
            labels[image_id] = main if rng.random() < 0.9 else rng.choice(classes)
            groups[image_id] = f"IP_{g:05d}"
    for _ in range(50):  # no group id: each its own group
        image_id = f"ISIC_{len(labels):07d}"
        labels[image_id] = rng.choice(classes, p=[0.8, 0.08, 0.07, 0.05])
        groups[image_id] = "" if len(labels) % 2 else None
    return labels, groups


def _groups_per_split(assignment, groups):
    by_group = collections.defaultdict(set)
    for image_id, split in assignment.items():
        if groups.get(image_id):
            by_group[groups[image_id]].add(split)
    return by_group


def test_no_group_crosses_splits_and_every_image_is_assigned():
    labels, groups = _realistic()
    assignment = splits.grouped_split(labels, groups, FRACTIONS)
    assert set(assignment) == set(labels)
    assert set(assignment.values()) == {"train", "validation", "test"}
    crossing = [
        g for g, s in _groups_per_split(assignment, groups).items() if len(s) > 1
    ]
    assert crossing == []


def test_fractions_and_class_shares_are_met_as_far_as_groups_allow():
    labels, groups = _realistic()
    assignment = splits.grouped_split(labels, groups, FRACTIONS)
    n = len(labels)
    sizes = collections.Counter(assignment.values())
    for name, fraction in FRACTIONS:
        assert abs(sizes[name] / n - fraction) < 0.02, (name, sizes)
    totals = collections.Counter(labels.values())
    for name, fraction in FRACTIONS:
        in_split = collections.Counter(
            labels[i] for i, s in assignment.items() if s == name
        )
        for label, total in totals.items():
            # Each split holds its fraction of each class, within 2 % of the class.
            assert abs(in_split[label] - fraction * total) <= 0.02 * total + 1, (
                name,
                label,
                in_split[label],
                fraction * total,
            )


def test_stratifies_better_than_random_group_splits():
    labels, groups = _realistic(seed=1)
    overall = sum(v == "mel" for v in labels.values()) / len(labels)

    def melanoma_error(assignment):
        ids = [i for i, s in assignment.items() if s == "test"]
        return abs(sum(labels[i] == "mel" for i in ids) / len(ids) - overall)

    def random_split(seed):
        """Whole groups, in a random order, cut at 85 % of the images."""
        group_ids = sorted({groups[i] or i for i in labels})
        random.Random(seed).shuffle(group_ids)
        sizes = collections.Counter(groups[i] or i for i in labels)
        split, seen = {}, 0
        for g in group_ids:
            split[g] = "train" if seen < 0.85 * len(labels) else "test"
            seen += sizes[g]
        return {i: split[groups[i] or i] for i in labels}

    ours = melanoma_error(splits.grouped_split(labels, groups, FRACTIONS))
    random_errors = [melanoma_error(random_split(seed)) for seed in range(20)]
    assert ours < 0.01
    assert ours < np.mean(random_errors) / 2, (ours, random_errors)


def test_deterministic_and_independent_of_input_order():
    labels, groups = _realistic(seed=2)
    first = splits.grouped_split(labels, groups, FRACTIONS)
    items = list(labels.items())
    random.Random(3).shuffle(items)
    shuffled = splits.grouped_split(dict(items), groups, FRACTIONS)
    assert shuffled == first
    other_salt = splits.grouped_split(labels, groups, FRACTIONS, salt="other")
    assert other_salt != first  # the salt reorders the groups


def test_images_without_group_are_their_own_group():
    # Four ungrouped images of one class, fractions 1/2 each: they must be able to
    # land in both splits (one shared "" group could not).
    labels = {f"a{i}": "nv" for i in range(4)}
    groups = {"a0": "", "a1": None}  # a2, a3: missing
    assignment = splits.grouped_split(labels, groups, (("x", 0.5), ("y", 0.5)))
    assert collections.Counter(assignment.values()) == {"x": 2, "y": 2}


def test_one_group_stays_whole_even_against_the_fractions():
    labels = {f"i{k}": "nv" for k in range(10)}
    groups = {f"i{k}": "P1" for k in range(8)}  # 8 of 10 in one group
    assignment = splits.grouped_split(labels, groups, (("train", 0.5), ("test", 0.5)))
    assert len({assignment[f"i{k}"] for k in range(8)}) == 1


@pytest.mark.parametrize(
    "fractions",
    [(("train", 0.7), ("test", 0.2)), (("a", 0.5), ("a", 0.5)), (("a", 0), ("b", 1))],
)
def test_bad_fractions_name_the_argument(fractions):
    with pytest.raises(ValueError, match="Received: fractions="):
        splits.grouped_split({"a": 0}, {}, fractions)


def test_size_configs_carry_the_fractions():
    configs = splits.size_configs()
    assert [c.name for c in configs] == ["256", "512", "full"]
    assert [c.shorter_side for c in configs] == [256, 512, None]
    assert all(c.fractions == splits.DEFAULT_FRACTIONS for c in configs)
