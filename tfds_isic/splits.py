"""Leakage-free splits: deterministic, grouped by lesion or patient, stratified.

Many images in ISIC 2019, ISIC 2020 and HAM10000 show one lesion (or one patient)
several times; a random split puts the same lesion in train and test and inflates
every number (issue 16). `grouped_split` assigns whole groups to splits:

- every group lands in exactly one split; an image without a group id is its own
  group;
- groups are taken in the order of an MD5 of `salt` and the group id (so the
  result depends on nothing but the inputs; not largest first, which would put
  the patients with most images into train), and each goes to the split where it
  most reduces the squared distance between the split's per-class
  and total counts and their targets (`fraction x total`), each class weighted by
  1 / its total so that rare classes (1.8 % melanoma in ISIC 2020) weigh as much as
  common ones: classes stratified as far as groups allow.

Written here rather than taken from sklearn's `StratifiedGroupKFold` so that a
dataset's splits never change with a library upgrade (a built TFDS version must
always hold the same examples) and fractions need not be 1 / k.
"""

import collections
import dataclasses
import hashlib

from tfds_isic import imaging

# The three splits the builders make where the official data has no labelled
# validation / test split (issue 16: fractions set in the config).
DEFAULT_FRACTIONS = (("train", 0.7), ("validation", 0.15), ("test", 0.15))


@dataclasses.dataclass(eq=False)
class GroupedSplitConfig(imaging.SizeConfig):
    """A `SizeConfig` that also sets the grouped split fractions and their salt."""

    fractions: tuple = DEFAULT_FRACTIONS
    salt: str = "tfds_isic"


def size_configs(fractions=DEFAULT_FRACTIONS):
    """`imaging.SIZE_CONFIGS` (256 / 512 / full) with the grouped split settings."""
    return [
        GroupedSplitConfig(
            name=c.name,
            shorter_side=c.shorter_side,
            description=c.description
            + " Splits grouped by "
            + ", ".join(f"{name} {fraction:.0%}" for name, fraction in fractions)
            + ".",
            fractions=fractions,
        )
        for c in imaging.SIZE_CONFIGS
    ]


def check_fractions(fractions):
    """Raises `ValueError` unless `fractions` is ((name, > 0), ...) summing to 1."""
    names = [name for name, _ in fractions]
    values = [fraction for _, fraction in fractions]
    if (
        not fractions
        or len(set(names)) != len(names)
        or any(not isinstance(v, (int, float)) or v <= 0 for v in values)
        or abs(sum(values) - 1.0) > 1e-9
    ):
        raise ValueError(
            "`fractions` must be distinct split names with positive fractions that "
            f"sum to 1. Received: fractions={fractions!r}"
        )


def _order_key(salt, group):
    return hashlib.md5(f"{salt}\0{group}".encode()).hexdigest()


def grouped_split(labels, groups, fractions=DEFAULT_FRACTIONS, *, salt="tfds_isic"):
    """{image id: split name}, whole groups per split, classes stratified.

    Args:
        labels: {image id: class (any hashable)}.
        groups: {image id: group id}; a missing, None or empty group id makes the
            image its own group.
        fractions: ((split name, fraction), ...), fractions > 0 summing to 1.
        salt: string that, with the group ids, orders the groups.

    Returns:
        {image id: split name} for every id in `labels`.
    """
    check_fractions(fractions)
    members = collections.defaultdict(list)
    for image_id in labels:
        group = groups.get(image_id) or None
        members[("group", group) if group else ("image", image_id)].append(image_id)
    classes = sorted({labels[i] for i in labels}, key=str)
    column = {c: k for k, c in enumerate(classes)}
    class_totals = [0] * len(classes)
    for label in labels.values():
        class_totals[column[label]] += 1
    total = len(labels)
    names = [name for name, _ in fractions]
    # Targets and current counts: per class, then the split's size (last column).
    targets = [
        [fraction * t for t in class_totals] + [fraction * total]
        for _, fraction in fractions
    ]
    weights = [1.0 / t**2 for t in class_totals] + [1.0 / max(total, 1) ** 2]
    counts = [[0] * (len(classes) + 1) for _ in fractions]
    order = sorted(members, key=lambda g: (_order_key(salt, g[1]), g[0]))
    assignment = {}
    for group in order:
        added = [0] * (len(classes) + 1)
        for image_id in members[group]:
            added[column[labels[image_id]]] += 1
        added[-1] = len(members[group])
        best, best_cost = None, None
        for s in range(len(names)):
            # Change of the weighted squared distance to the targets.
            cost = sum(
                w * ((c + a - t) ** 2 - (c - t) ** 2)
                for w, c, a, t in zip(
                    weights, counts[s], added, targets[s], strict=True
                )
                if a
            )
            if best_cost is None or cost < best_cost - 1e-15:
                best, best_cost = s, cost
        counts[best] = [c + a for c, a in zip(counts[best], added, strict=True)]
        for image_id in members[group]:
            assignment[image_id] = names[best]
    return assignment


def split_counts(assignment, labels):
    """{split: {class: count}} of an assignment (for READMEs and benchmarks)."""
    counts = collections.defaultdict(collections.Counter)
    for image_id, split in assignment.items():
        counts[split][labels[image_id]] += 1
    return {split: dict(c) for split, c in counts.items()}
