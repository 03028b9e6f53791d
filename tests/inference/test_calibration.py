"""`skinkeras.inference.calibration`: where calibration.json lives, what it does to
probabilities (against scipy's softmax of the scaled logits), and its checks."""

import json

import numpy as np
import pytest
import scipy.special

from skinkeras.inference import calibration, write_predictions_csv
from tests.inference.helpers import read_csv

CALIBRATION = {"temperature": 1.7, "threshold": 0.4, "rule": "youden"}


def test_one_model_is_temperature_scaling_of_its_logits():
    logits = np.random.default_rng(0).normal(scale=4, size=(50, 3))
    probabilities = scipy.special.softmax(logits, axis=1)
    calibrated, decisions = calibration.apply_calibration(probabilities, CALIBRATION)
    expected = scipy.special.softmax(logits / 1.7, axis=1)
    np.testing.assert_allclose(calibrated, expected, rtol=1e-9)
    np.testing.assert_array_equal(decisions, expected[:, 1] >= 0.4)
    assert 0 < decisions.sum() < 50


def test_saturated_probabilities_stay_finite():
    calibrated, _ = calibration.apply_calibration(
        np.array([[1.0, 0.0], [0.0, 1.0]]), CALIBRATION
    )
    assert np.isfinite(calibrated).all()
    np.testing.assert_allclose(calibrated, [[1, 0], [0, 1]], atol=1e-12)


def test_no_calibration_changes_nothing():
    p = np.array([[0.3, 0.7]])
    calibrated, decisions = calibration.apply_calibration(p, None)
    np.testing.assert_array_equal(calibrated, p)
    assert decisions is None


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
