"""Prediction and ground-truth CSVs: ours, and the ISIC challenge scorer's formats."""

import csv
import logging
import pathlib

import numpy as np

from skinkeras.metrics import MELANOMA

CSV_FORMATS = ("default", "isic", "isic2017")


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
                  run's operating point, `calibration.apply_calibration`) a column
                  `decision`: 1 melanoma, 0 not.
        isic:     what `isic-challenge-scoring classification` reads: `image` and one
                  probability column per class — `melanoma,other` for the binary
                  task, `melanoma,nevus,seborrheic_keratosis` for ISIC 2017's 3 classes.
        isic2017: ISIC 2017 Part 3 submission, `image_id,melanoma,seborrheic_keratosis`.
                  A binary model has no seborrheic keratosis output: that column is
                  then a constant 0.0 (its AUC scores 0.5) and a warning is logged.
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
    if format == "default":
        header = ["image_id", "melanoma_probability", "predicted_class"]
        rows = [
            [key, _format_probability(p[MELANOMA]), class_names[int(np.argmax(p))]]
            for key, p in zip(image_ids, probabilities, strict=True)
        ]
        if decisions is not None:
            header.append("decision")
            for row, decision in zip(rows, decisions, strict=True):
                row.append(int(decision))
    elif format == "isic":
        order = ["melanoma"] + sorted(set(class_names) - {"melanoma"})
        columns = [class_names.index(name) for name in order]
        header = ["image", *order]
        rows = [
            [key, *(_format_probability(p[c]) for c in columns)]
            for key, p in zip(image_ids, probabilities, strict=True)
        ]
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
                _format_probability(p[MELANOMA]),
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
