"""Prediction and ground-truth CSVs: ours, and the ISIC challenge scorer's formats."""

import csv
import logging
import pathlib

import numpy as np

from skinkeras.metrics import ISIC2019_CATEGORIES, isic2019_category, melanoma_index

CSV_FORMATS = ("default", "isic", "isic2017", "isic2019", "isic2020")
# Columns of a challenge ground-truth CSV (SPEC, Datasets).
TRUTH_COLUMNS = ("image_id", "melanoma", "seborrheic_keratosis")


def _format_probability(value):
    # Always a decimal point: the ISIC scorer rejects columns that pandas reads as int.
    return f"{float(value):.8f}"


def write_predictions_csv(
    path, image_ids, probabilities, class_names, *, format="default", decisions=None
):
    """Writes predictions as CSV.

    Formats:
        default:  `image_id,melanoma_probability,predicted_class` (the class name
                  with the highest probability), and with `decisions` (a calibrated
                  run's operating point, `apply_calibration`) a column
                  `decision`: 1 melanoma, 0 not.
        isic:     what `isic-challenge-scoring classification` reads: `image` and one
                  probability column per class — `melanoma,other` for the binary
                  task, `melanoma,nevus,seborrheic_keratosis` for ISIC 2017's 3 classes.
        isic2017: ISIC 2017 Part 3 submission, `image_id,melanoma,seborrheic_keratosis`.
                  A binary model has no seborrheic keratosis output: that column is
                  then a constant 0.0 (its AUC scores 0.5) and a warning is logged.
        isic2019: ISIC 2019 Task 1 submission, `image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK`
                  (`isic-challenge-scoring classification`'s format too). Every class
                  must be one of those categories (`skinkeras.metrics.
                  isic2019_category`: a `--label=diagnosis` model); a category the
                  model lacks (UNK, or SCC for HAM10000) is a constant 0.0, with a
                  warning.
        isic2020: ISIC 2020 submission, `image_name,target`: the melanoma
                  probability.

    The melanoma column is the class `skinkeras.metrics.melanoma_index` finds
    (index 1 of the fixed labels); formats that need it raise without one.
    """
    probabilities = np.asarray(probabilities, np.float64)
    if format not in CSV_FORMATS:
        raise ValueError(
            f"`format` must be one of {CSV_FORMATS}. Received: format={format}"
        )
    if decisions is not None and format != "default":
        # The scorer's formats have a fixed set of columns.
        raise ValueError(
            "A `decision` column exists in the default format only. "
            f"Received: format={format}"
        )
    if probabilities.shape != (len(image_ids), len(class_names)):
        raise ValueError(
            f"Expected probabilities of shape {(len(image_ids), len(class_names))}. "
            f"Received: probabilities.shape={probabilities.shape}"
        )
    class_names = [str(name) for name in class_names]
    melanoma = melanoma_index(class_names)
    if melanoma is None and format in ("default", "isic2017", "isic2020"):
        raise ValueError(
            f"format={format!r} writes the melanoma probability, and the model has no "
            f"melanoma class. Received: class_names={class_names}"
        )
    if format == "default":
        header = ["image_id", "melanoma_probability", "predicted_class"]
        rows = [
            [key, _format_probability(p[melanoma]), class_names[int(np.argmax(p))]]
            for key, p in zip(image_ids, probabilities, strict=True)
        ]
        if decisions is not None:
            header.append("decision")
            for row, decision in zip(rows, decisions, strict=True):
                row.append(int(decision))
    elif format == "isic":
        # The melanoma column first, if there is one; then the others by name.
        first = [] if melanoma is None else [class_names[melanoma]]
        order = first + sorted(set(class_names) - set(first))
        columns = [class_names.index(name) for name in order]
        header = ["image", *order]
        rows = _probability_rows(image_ids, probabilities, columns)
    elif format == "isic2019":
        header = ["image", *ISIC2019_CATEGORIES]
        rows = _probability_rows(
            image_ids, probabilities, _isic2019_columns(class_names)
        )
    elif format == "isic2020":
        header = ["image_name", "target"]
        rows = _probability_rows(image_ids, probabilities, [melanoma])
    else:
        if "seborrheic_keratosis" in class_names:
            keratosis = class_names.index("seborrheic_keratosis")
        else:
            keratosis = None
            logging.warning(
                "Binary model: the isic2017 column seborrheic_keratosis is a constant 0.0."
            )
        header = ["image_id", "melanoma", "seborrheic_keratosis"]
        rows = [
            [
                key,
                _format_probability(p[melanoma]),
                _format_probability(0.0 if keratosis is None else p[keratosis]),
            ]
            for key, p in zip(image_ids, probabilities, strict=True)
        ]
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)


def _probability_rows(image_ids, probabilities, columns):
    """``[image_id, p[c] for c in columns]`` rows; a column None is 0.0."""
    return [
        [key, *(_format_probability(0.0 if c is None else p[c]) for c in columns)]
        for key, p in zip(image_ids, probabilities, strict=True)
    ]


def _isic2019_columns(class_names):
    """The class index of each ISIC 2019 category (None: the model lacks it)."""
    categories = [isic2019_category(name) for name in class_names]
    unknown = [n for n, c in zip(class_names, categories, strict=True) if c is None]
    if unknown or len(set(categories)) != len(categories):
        raise ValueError(
            "format='isic2019' needs one class per ISIC 2019 category "
            f"{list(ISIC2019_CATEGORIES)} (a --label=diagnosis model); "
            f"{unknown or 'two classes'} map to none or the same. "
            f"Received: class_names={class_names}"
        )
    missing = [c for c in ISIC2019_CATEGORIES if c not in categories]
    if missing:
        logging.warning(
            "The model has no class for ISIC 2019 categories %s: constant 0.0.",
            missing,
        )
    return [
        categories.index(c) if c in categories else None for c in ISIC2019_CATEGORIES
    ]


def write_isic_truth_csv(path, image_ids, labels, class_names):
    """Ground truth for `isic-challenge-scoring`: `image` + one-hot class columns.

    `labels` are class indices of `class_names` (use the 3 ISIC 2017 names for
    `label`, `("other", "melanoma")` for the binary `melanoma` label).
    """
    labels = np.asarray(labels).reshape(-1)
    header = ["image", *class_names]
    with pathlib.Path(path).open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for key, label in zip(image_ids, labels, strict=True):
            writer.writerow(
                [
                    key,
                    *("1.0" if c == label else "0.0" for c in range(len(class_names))),
                ]
            )


def read_truth_csv(path, num_classes):
    """``{image_id: class index}`` from a challenge ground-truth CSV.

    Columns `image_id`, `melanoma` and (for a 3-class model) `seborrheic_keratosis`,
    values 0 or 1 (``0.0``/``1.0``); nevus is both 0. Class indices follow
    `skinkeras.metrics.CLASS_NAMES`: melanoma 1, seborrheic keratosis 2.

    Raises:
        ValueError: a column is missing, a value is not 0/1, an image id repeats or
            a lesion is marked both melanoma and seborrheic keratosis.
    """
    needed = TRUTH_COLUMNS[: 2 if num_classes == 2 else 3]
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
        header = rows[0].keys() if rows else []
    missing = [column for column in needed if column not in header]
    if missing or not rows:
        raise ValueError(
            f"{path}: a ground-truth CSV needs the columns {list(needed)} and at "
            f"least one row. Received: columns={list(header)}, rows={len(rows)}"
        )
    labels = {}
    for line, row in enumerate(rows, start=2):
        flags_ = []
        for column in needed[1:]:
            try:
                value = float(row[column])
            except (TypeError, ValueError):
                value = None
            if value not in (0.0, 1.0):
                raise ValueError(
                    f"{path}, line {line}: `{column}` must be 0 or 1. "
                    f"Received: {column}={row[column]!r}"
                )
            flags_.append(value == 1.0)
        if all(flags_) and len(flags_) == 2:
            raise ValueError(
                f"{path}, line {line}: a lesion is melanoma or seborrheic keratosis, "
                f"not both. Received: image_id={row['image_id']}"
            )
        key = row["image_id"]
        if key in labels:
            raise ValueError(
                f"{path}, line {line}: image id repeated. Received: image_id={key}"
            )
        labels[key] = 1 if flags_[0] else (2 if flags_[1:] == [True] else 0)
    return labels
