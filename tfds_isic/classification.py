"""What the multi-class builders (`isic2019`, `isic2020`, `ham10000`) share.

- `read_weights`: the official scorer's per-image weights of a test ground truth;
- `read_one_hot`: a one-hot ground-truth CSV (ISIC 2019, ISIC 2018 Task 3) to one
  class name per image, with the label-integrity checks of `isic2017` (values 0 or
  1 only, exactly one 1 per row, one row per image);
- `age`, `sex`, `text_or_unknown`: metadata with explicit unknowns, as `isic2017`
  stores them (-1 / "unknown");
- `split_ids`: the grouped splits of `tfds_isic.splits` for the builder's config;
- `features`: the part of each builder's `_info` that only differs by name;
- `images`: the split's images from the official zip (checked: top folder, one
  file per id, the same ids as the labels), resized once at build time.
"""

import tensorflow_datasets as tfds

from tfds_isic import archives, imaging, splits


def read_one_hot(data, *, name, columns, key="image"):
    """{image id: column name} of a CSV with one 0/1 column per class.

    Raises `archives.IntegrityError` naming the ids of repeated rows, of values
    other than 0 or 1 and of rows without exactly one 1.
    """
    rows = archives.rows_by_id(
        archives.read_csv(data, name=name, columns=[key, *columns]),
        name=name,
        key=key,
    )
    not_flags, not_one = [], []
    labels = {}
    for image_id, row in rows.items():
        flags = {c: flag(row[c]) for c in columns}
        not_flags += [
            f"{image_id} {c}={row[c]!r}" for c, v in flags.items() if v is None
        ]
        ones = [c for c, v in flags.items() if v]
        if len(ones) == 1:
            labels[image_id] = ones[0]
        elif all(v is not None for v in flags.values()):
            not_one.append(f"{image_id} ({'+'.join(ones) or 'none'})")
    if not_flags:
        raise archives.IntegrityError(
            f"{name}: labels must be 0 or 1 (0.0/1.0 in the official file). "
            f"Received: {archives.listing(not_flags)}"
        )
    if not_one:
        raise archives.IntegrityError(
            f"{name}: each image has exactly one diagnosis (one 1 per row). "
            f"Received: {archives.listing(not_one)}"
        )
    return labels


def read_weights(data, *, name, column, key="image"):
    """{image id: float} of `column` of a CSV; {} when the header lacks it.

    The official scorer (isic-challenge-scoring, `parse_truth_csv`) reads its
    `score_weight` the same way: absent in older truth files, then every image
    weighs 1. Raises `archives.IntegrityError` naming the ids whose value is not a
    number >= 0.
    """
    rows = archives.read_csv(data, name=name, columns=[key])
    if not rows or column not in rows[0]:
        return {}
    weights, bad = {}, []
    for row in rows:
        try:
            weights[row[key]] = float(row[column])
        except (TypeError, ValueError):
            weights[row[key]] = -1.0
        if not weights[row[key]] >= 0:  # also NaN
            bad.append(f"{row[key]} {column}={row[column]!r}")
    if bad:
        raise archives.IntegrityError(
            f"{name}: {column} must be a number >= 0. Received: {archives.listing(bad)}"
        )
    return weights


def flag(value):
    """True for 1, False for 0 ("1.0", "0", ...), None for any other value."""
    try:
        number = float(value)
    except (TypeError, ValueError):  # None: a short row
        return None
    return {0.0: False, 1.0: True}.get(number)


def age(value):
    """int age, or -1 when empty / "unknown" / not a number."""
    try:
        return int(float((value or "").strip()))
    except ValueError:
        return -1


def sex(value):
    value = (value or "").strip().lower()
    return value if value in ("female", "male") else "unknown"


def text_or_unknown(value):
    return (value or "").strip() or "unknown"


def split_ids(config, labels, groups):
    """{split: sorted ids}: `splits.grouped_split` with the config's settings."""
    assignment = splits.grouped_split(
        labels, groups, config.fractions, salt=config.salt
    )
    return {
        name: sorted(i for i, s in assignment.items() if s == name)
        for name, _ in config.fractions
    }


def features(diagnoses, **metadata):
    """FeaturesDict: image, image_id, diagnosis, melanoma and `metadata`."""
    return tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"),
            "image_id": tfds.features.Text(),
            "diagnosis": tfds.features.ClassLabel(names=diagnoses),
            "melanoma": tfds.features.ClassLabel(names=["other", "melanoma"]),
            **metadata,
        }
    )


def images(
    path, *, name, top_folder, pattern, labels, labels_name, ids, shorter_side, skip=()
):
    """(id, JPEG bytes) of `ids` from the zip at `path`, resized to `shorter_side`
    or, for None, the original bytes after a check that they decode.

    The zip must hold its files under `top_folder/`, one file matching `pattern`
    per id, and exactly the ids of `labels` (the rows of `labels_name`) once the
    ids in `skip` (ISIC 2020's published duplicates) are left out.
    """
    with archives.ZipArchive(path, name=name) as archive:
        archive.check_top_folder(top_folder)
        members = archive.files_matching(pattern, what="image")
        members = {i: m for i, m in members.items() if i not in skip}
        archives.check_same_ids(
            members, labels, images_name=archive.name, labels_name=labels_name
        )
        for image_id in ids:
            data = archive.read(members[image_id])
            where = {"image_id": image_id, "archive": archive.name}
            if shorter_side is None:
                imaging.check_decodable(data, **where)
            else:
                image, _ = imaging.decode_resized(data, shorter_side, **where)
                data = imaging.encode_jpeg(image)
            yield image_id, data
