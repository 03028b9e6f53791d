"""`skinkeras.inference.calibration`: where calibration.json lives and its checks.

What it does to probabilities is `skinkeras.evaluation.apply_calibration`'s
(tests/evaluation/test_calibration.py)."""

import json

import numpy as np
import pytest

from skinkeras.inference import calibration, write_predictions_csv
from tests.inference.helpers import read_csv

CALIBRATION = {"temperature": 1.7, "threshold": 0.4, "rule": "youden"}


def test_where_it_lives(tmp_path):
    (tmp_path / "seed_0").mkdir()
    (tmp_path / "seed_0" / "model.keras").write_text("")
    # A multi-seed dir: its own file is the ensemble's, seed_<k>/ the seed's.
    assert calibration.calibration_path(tmp_path) == tmp_path / "calibration.json"
    assert calibration.calibration_path(tmp_path, 0) == (
        tmp_path / "seed_0" / "calibration.json"
    )
    # A seed dir is its own run whatever `seed` says (as load_run).
    seed_dir = tmp_path / "seed_0"
    assert calibration.calibration_path(seed_dir, 3) == seed_dir / "calibration.json"
    assert calibration.read_calibration(tmp_path) is None
    path = calibration.write_calibration(tmp_path, CALIBRATION, seed=0)
    assert json.loads(path.read_text()) == CALIBRATION
    assert calibration.read_calibration(tmp_path, 0) == CALIBRATION
    assert calibration.read_calibration(tmp_path) is None


@pytest.mark.parametrize(
    "content, message",
    [
        ({"temperature": 0.0, "threshold": 0.5}, "Received: temperature=0.0"),
        ({"temperature": 1.0}, "Received: threshold=None"),
        ({"temperature": "2", "threshold": 0.5}, "Received: temperature='2'"),
    ],
)
def test_a_bad_file_names_itself(tmp_path, content, message):
    (tmp_path / "calibration.json").write_text(json.dumps(content))
    with pytest.raises(ValueError, match=message) as error:
        calibration.read_calibration(tmp_path)
    assert "calibration.json" in str(error.value)


def test_decision_column_only_in_the_default_format(tmp_path):
    p = np.array([[0.8, 0.2], [0.3, 0.7]])
    names = ("other", "melanoma")
    write_predictions_csv(tmp_path / "a.csv", ["a", "b"], p, names, decisions=[0, 1])
    rows = read_csv(tmp_path / "a.csv")
    assert rows[0] == [
        "image_id",
        "melanoma_probability",
        "predicted_class",
        "decision",
    ]
    assert [row[3] for row in rows[1:]] == ["0", "1"]
    with pytest.raises(ValueError, match="Received: format=isic"):
        write_predictions_csv(
            tmp_path / "b.csv", ["a", "b"], p, names, format="isic", decisions=[0, 1]
        )
