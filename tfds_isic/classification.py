"""What the classification builders share.

For every classification builder (`isic2017`, `synthetic_lesions`, `isic2019`,
`isic2020`, `ham10000`):
- `features`: image, image_id, the class label, melanoma, age and sex;
- `read_flags`, `read_one_hot`: ground-truth CSVs of 0/1 columns (ISIC 2017 Part 3,
  ISIC 2019, ISIC 2018 Task 3) with the label-integrity checks (values 0 or 1 only,
  one row per image; one-hot: exactly one 1 per row);
- `age`, `sex`, `text_or_unknown`: metadata with explicit unknowns, as `isic2017`
  stores them (-1 / "unknown").

For the grouped ones (`isic2019`, `isic2020`, `ham10000`):
- `read_weights`: the official scorer's per-image weights of a test ground truth;
- `split_ids`: the grouped splits of `tfds_isic.splits` for the builder's config;
- `images`: the split's images from the official zip (checked: top folder, one
  file per id, the same ids as the labels), resized once at build time.
"""

import numpy as np
import tensorflow_datasets as tfds

from tfds_isic import archives, imaging, splits


def read_flags(data, *, name, columns, key):
    """{row[key]: {column: bool}} of a CSV whose `columns` hold 0 or 1.

    Raises `archives.IntegrityError` naming the ids of repeated rows and of values
    other than 0 or 1 (a 0.9 or a 2.0 is no label).
    """
    rows = archives.rows_by_id(
        archives.read_csv(data, name=name, columns=[key, *columns]),
        name=name,
        key=key,
    )
    flags = {i: {c: flag(row[c]) for c in columns} for i, row in rows.items()}
    not_flags = [
        f"{image_id} {c}={rows[image_id][c]!r}"
        for image_id, values in flags.items()
        for c, value in values.items()
        if value is None
    ]
    if not_flags:
        raise archives.IntegrityError(
            f"{name}: labels must be 0 or 1 (0.0/1.0 in the official file). "
            f"Received: {archives.listing(not_flags)}"
        )
    return flags


def read_one_hot(data, *, name, columns, key="image"):
    """{image id: column name} of a CSV with one 0/1 column per class.

    Raises `archives.IntegrityError` naming the ids of repeated rows, of values
    other than 0 or 1 and of rows without exactly one 1.
    """
    flags = read_flags(data, name=name, columns=columns, key=key)
    labels, not_one = {}, []
    for image_id, values in flags.items():
        ones = [c for c, value in values.items() if value]
        if len(ones) == 1:
            labels[image_id] = ones[0]
        else:
            not_one.append(f"{image_id} ({'+'.join(ones) or 'none'})")
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


def features(labels, *, label="diagnosis", image_shape=(None, None, 3), **metadata):
    """FeaturesDict: image, image_id, `label` (a ClassLabel of `labels`), melanoma,
    age_approximate (-1 unknown), sex (female / male / unknown) and `metadata`."""
    return tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=image_shape, encoding_format="jpeg"),
            "image_id": tfds.features.Text(),
            label: tfds.features.ClassLabel(names=labels),
            "melanoma": tfds.features.ClassLabel(names=["other", "melanoma"]),
            "age_approximate": tfds.features.Scalar(dtype=np.int32),
            "sex": tfds.features.Text(),
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
