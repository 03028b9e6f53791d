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


def test_write_predictions_csv_formats(tmp_path):
    ids = ["ISIC_0000000", "ISIC_0000001"]
    binary = np.array([[0.25, 0.75], [0.875, 0.125]])
    names = inference.CLASS_NAMES[2]
    inference.write_predictions_csv(tmp_path / "d.csv", ids, binary, names)
    assert read_csv(tmp_path / "d.csv") == [
        ["image_id", "melanoma_probability", "predicted_class"],
        ["ISIC_0000000", "0.75000000", "melanoma"],
        ["ISIC_0000001", "0.12500000", "other"],
    ]
    inference.write_predictions_csv(
        tmp_path / "i.csv", ids, binary, names, format="isic"
    )
    assert read_csv(tmp_path / "i.csv") == [
        ["image", "melanoma", "other"],
        ["ISIC_0000000", "0.75000000", "0.25000000"],
        ["ISIC_0000001", "0.12500000", "0.87500000"],
    ]
    inference.write_predictions_csv(
        tmp_path / "7.csv", ids, binary, names, format="isic2017"
    )
    assert read_csv(tmp_path / "7.csv")[1] == [
        "ISIC_0000000",
        "0.75000000",
        "0.00000000",
    ]

    three = np.array([[0.5, 0.25, 0.25], [0.125, 0.125, 0.75]])
    names = inference.CLASS_NAMES[3]
    inference.write_predictions_csv(tmp_path / "d3.csv", ids, three, names)
    assert [row[2] for row in read_csv(tmp_path / "d3.csv")[1:]] == [
        "nevus",
        "seborrheic_keratosis",
    ]
    inference.write_predictions_csv(
        tmp_path / "i3.csv", ids, three, names, format="isic"
    )
    assert read_csv(tmp_path / "i3.csv")[:2] == [
        ["image", "melanoma", "nevus", "seborrheic_keratosis"],
        ["ISIC_0000000", "0.25000000", "0.50000000", "0.25000000"],
    ]
    inference.write_predictions_csv(
        tmp_path / "73.csv", ids, three, names, format="isic2017"
    )
    assert read_csv(tmp_path / "73.csv") == [
        ["image_id", "melanoma", "seborrheic_keratosis"],
        ["ISIC_0000000", "0.25000000", "0.25000000"],
        ["ISIC_0000001", "0.12500000", "0.75000000"],
    ]
    with pytest.raises(ValueError, match="Received: format=csv"):
        inference.write_predictions_csv(
            tmp_path / "x.csv", ids, three, names, format="csv"
        )


def isic_scorer():
    """The official scorer, in its own pandas<2.2 environment (see notes/CI)."""
    path = (
        os.environ.get("SKINKERAS_ISIC_SCORER")
        or REPO / ".venv-isic/bin/isic-challenge-scoring"
    )
    return pathlib.Path(path) if pathlib.Path(path).is_file() else None


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

    result = subprocess.run(
        [
            str(isic_scorer()),
            "-o",
            "json",
            "classification",
            str(truth_csv),
            str(pred_csv),
            "-m",
            "auc",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    score = json.loads(result.stdout)
    auc = score["per_category"]["auc"]
    assert set(auc) == set(run.class_names)
    for index, name in enumerate(run.class_names):
        expected = skm.roc_auc_score(
            labels == index, predictions.probabilities[:, index]
        )
        assert auc[name] == pytest.approx(expected, abs=1e-9)
    assert score["overall"] == pytest.approx(np.mean(list(auc.values())), abs=1e-9)
