"""skinkeras.inference.submission: CSV formats, read by the official ISIC scorer."""

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest
from sklearn import metrics as skm

from skinkeras import inference
from tests import deploy_fixtures as fx
from tests.inference.helpers import REPO, read_csv

IDS = ["ISIC_0000000", "ISIC_0000001"]
# Binary: (other, melanoma); three classes: (nevus, melanoma, seborrheic keratosis).
PROBABILITIES = {
    2: np.array([[0.25, 0.75], [0.875, 0.125]]),
    3: np.array([[0.5, 0.25, 0.25], [0.125, 0.125, 0.75]]),
}


@pytest.mark.parametrize(
    "num_classes, format, expected",
    [
        (
            2,
            "default",
            [
                ["image_id", "melanoma_probability", "predicted_class"],
                ["ISIC_0000000", "0.75000000", "melanoma"],
                ["ISIC_0000001", "0.12500000", "other"],
            ],
        ),
        (
            2,
            "isic",
            [
                ["image", "melanoma", "other"],
                ["ISIC_0000000", "0.75000000", "0.25000000"],
                ["ISIC_0000001", "0.12500000", "0.87500000"],
            ],
        ),
        (  # a binary model has no seborrheic keratosis output: a constant 0
            2,
            "isic2017",
            [
                ["image_id", "melanoma", "seborrheic_keratosis"],
                ["ISIC_0000000", "0.75000000", "0.00000000"],
                ["ISIC_0000001", "0.12500000", "0.00000000"],
            ],
        ),
        (
            3,
            "default",
            [
                ["image_id", "melanoma_probability", "predicted_class"],
                ["ISIC_0000000", "0.25000000", "nevus"],
                ["ISIC_0000001", "0.12500000", "seborrheic_keratosis"],
            ],
        ),
        (
            3,
            "isic",
            [
                ["image", "melanoma", "nevus", "seborrheic_keratosis"],
                ["ISIC_0000000", "0.25000000", "0.50000000", "0.25000000"],
                ["ISIC_0000001", "0.12500000", "0.12500000", "0.75000000"],
            ],
        ),
        (
            3,
            "isic2017",
            [
                ["image_id", "melanoma", "seborrheic_keratosis"],
                ["ISIC_0000000", "0.25000000", "0.25000000"],
                ["ISIC_0000001", "0.12500000", "0.75000000"],
            ],
        ),
    ],
)
def test_write_predictions_csv_formats(tmp_path, num_classes, format, expected):
    path = tmp_path / "predictions.csv"
    inference.write_predictions_csv(
        path,
        IDS,
        PROBABILITIES[num_classes],
        inference.CLASS_NAMES[num_classes],
        format=format,
    )
    assert read_csv(path) == expected


def test_write_predictions_csv_refuses_an_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="Received: format=csv"):
        inference.write_predictions_csv(
            tmp_path / "x.csv",
            IDS,
            PROBABILITIES[3],
            inference.CLASS_NAMES[3],
            format="csv",
        )


def isic_scorer():
    """The official scorer, in its own pandas<2.2 environment (see notes/CI)."""
    path = (
        os.environ.get("SKINKERAS_ISIC_SCORER")
        or REPO / ".venv-isic/bin/isic-challenge-scoring"
    )
    return pathlib.Path(path) if pathlib.Path(path).is_file() else None


def score_classification(truth_csv, pred_csv, *, metric):
    """`isic-challenge-scoring -o json classification TRUTH PRED -m METRIC`."""
    result = subprocess.run(
        [
            str(isic_scorer()),
            "-o",
            "json",
            "classification",
            str(truth_csv),
            str(pred_csv),
            "-m",
            metric,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.skipif(
    isic_scorer() is None,
    reason="isic-challenge-scoring not installed: create it with `python3 -m venv "
    ".venv-isic && .venv-isic/bin/pip install isic-challenge-scoring==5.6.0 "
    "'pandas<2.2'` or set SKINKERAS_ISIC_SCORER to its executable",
)
@pytest.mark.parametrize("num_classes", [2, 3])
def test_isic_format_is_read_by_the_official_scorer(tmp_path, num_classes):
    run = inference.load_run(fx.tiny_run(tmp_path / "seed_0", num_classes=num_classes))
    sizes = [(40 + 3 * i, 60 - 2 * i) for i in range(12)]
    paths = fx.write_image_files(tmp_path / "images", sizes, seed=7)
    predictions = inference.predict_files(run, paths, batch_size=5)
    pred_csv = tmp_path / "pred.csv"
    inference.write_predictions_csv(
        pred_csv,
        predictions.image_ids,
        predictions.probabilities,
        run.class_names,
        format="isic",
    )
    labels = np.arange(12) % num_classes
    truth_csv = tmp_path / "truth.csv"
    inference.write_isic_truth_csv(
        truth_csv, predictions.image_ids, labels, run.class_names
    )

    score = score_classification(truth_csv, pred_csv, metric="auc")
    auc = score["per_category"]["auc"]
    assert set(auc) == set(run.class_names)
    # Both sides rank the same probabilities (the scorer's with 8 decimals): exact.
    for index, name in enumerate(run.class_names):
        expected = skm.roc_auc_score(
            labels == index, predictions.probabilities[:, index]
        )
        assert auc[name] == pytest.approx(expected, abs=1e-9)
    assert score["overall"] == pytest.approx(np.mean(list(auc.values())), abs=1e-9)


# HAM10000's `dx` codes in its builder's (alphabetical) order: no SCC, no UNK.
HAM10000 = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
ISIC2019 = ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]


def test_isic2019_and_isic2020_formats(tmp_path):
    ids = IDS
    probabilities = np.array(
        [[0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.015625], np.full(7, 1 / 7)]
    )
    inference.write_predictions_csv(
        tmp_path / "19.csv", ids, probabilities, HAM10000, format="isic2019"
    )
    rows = read_csv(tmp_path / "19.csv")
    assert rows[0] == ["image", *ISIC2019]
    # Each category's column holds its class's probability; SCC and UNK are 0.
    categories = ["AK", "BCC", "BKL", "DF", "MEL", "NV", "VASC"]
    expected = {category: index for index, category in enumerate(categories)}
    for category, value in zip(ISIC2019, rows[1][1:], strict=True):
        wanted = probabilities[0, expected[category]] if category in expected else 0.0
        assert float(value) == pytest.approx(wanted), category
    inference.write_predictions_csv(
        tmp_path / "20.csv", ids, probabilities, HAM10000, format="isic2020"
    )
    assert read_csv(tmp_path / "20.csv") == [
        ["image_name", "target"],
        ["ISIC_0000000", "0.03125000"],
        ["ISIC_0000001", "0.14285714"],
    ]
    binary = PROBABILITIES[2]
    inference.write_predictions_csv(
        tmp_path / "b20.csv", ids, binary, inference.CLASS_NAMES[2], format="isic2020"
    )
    assert read_csv(tmp_path / "b20.csv")[1] == ["ISIC_0000000", "0.75000000"]
    # A binary model has no ISIC 2019 categories; a model without melanoma no target.
    with pytest.raises(ValueError, match=r"Received: class_names=\['other'"):
        inference.write_predictions_csv(
            tmp_path / "x.csv", ids, binary, inference.CLASS_NAMES[2], format="isic2019"
        )
    with pytest.raises(ValueError, match=r"Received: class_names=\['nv', 'bcc'\]"):
        inference.write_predictions_csv(
            tmp_path / "x.csv", ids, binary, ("nv", "bcc"), format="isic2020"
        )


@pytest.mark.skipif(
    isic_scorer() is None,
    reason="isic-challenge-scoring not installed (see the test above)",
)
def test_isic2019_format_is_scored_by_the_official_scorer_as_ours(tmp_path):
    # Nine classes in a builder's order (NV first, MEL second). All occur in the
    # truth, as in ISIC 2019's test set (the scorer fails on a category without
    # positives: its partial AUC has no points).
    names = ("NV", "MEL", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 9, 120)
    logits = rng.normal(size=(120, 9)) + 1.5 * np.eye(9)[labels]
    probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    ids = [f"ISIC_{i:07d}" for i in range(120)]
    pred_csv, truth_csv = tmp_path / "pred.csv", tmp_path / "truth.csv"
    inference.write_predictions_csv(
        pred_csv, ids, probabilities, names, format="isic2019"
    )
    # ISIC 2019's ground truth: image + one-hot floats in the official order.
    truth_rows = [["image", *ISIC2019]]
    for key, label in zip(ids, labels, strict=True):
        truth_rows.append(
            [key, *("1.0" if c == names[label] else "0.0" for c in ISIC2019)]
        )
    truth_csv.write_text("\n".join(",".join(row) for row in truth_rows) + "\n")

    score = score_classification(truth_csv, pred_csv, metric="balanced_accuracy")
    ours = inference.classification_metrics(labels, probabilities, class_names=names)
    assert score["overall"] == pytest.approx(ours["balanced_accuracy"], abs=1e-12)
    assert score["overall"] == pytest.approx(
        skm.balanced_accuracy_score(labels, probabilities.argmax(-1)), abs=1e-12
    )
    for name in names:
        assert score["per_category"]["auc"][name] == pytest.approx(
            ours[f"auroc_{name}"], abs=1e-9
        )


def test_read_truth_csv_of_a_challenge_ground_truth(tmp_path):
    # ISIC 2017 Part 3's layout: nevus is 0 in both columns, values as floats.
    truth = tmp_path / "truth.csv"
    truth.write_text(
        "image_id,melanoma,seborrheic_keratosis\n"
        "ISIC_0000000,1.0,0.0\nISIC_0000001,0.0,1.0\nISIC_0000002,0.0,0.0\n"
    )
    assert inference.read_truth_csv(truth, 3) == {
        "ISIC_0000000": 1,
        "ISIC_0000001": 2,
        "ISIC_0000002": 0,
    }
    # A binary model: seborrheic keratosis is "other".
    assert list(inference.read_truth_csv(truth, 2).values()) == [1, 0, 0]


@pytest.mark.parametrize(
    "text, message",
    [
        ("image_id,melanoma\nISIC_0000000,0.5\n", r"line 2: `melanoma` must be 0 or 1"),
        ("image_id,melanoma\nISIC_0000000,1\nISIC_0000000,0\n", "image id repeated"),
        ("image_id\nISIC_0000000\n", r"needs the columns \['image_id', 'melanoma'\]"),
    ],
)
def test_read_truth_csv_errors(tmp_path, text, message):
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    with pytest.raises(ValueError, match=message):
        inference.read_truth_csv(bad, 2)
