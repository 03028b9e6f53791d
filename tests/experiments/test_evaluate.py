"""Tests of `python -m experiments.evaluate`: metrics equal scikit-learn's on the
same predictions."""

import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf
from sklearn import metrics as skm

from experiments import evaluate
from skinkeras import data, inference
from tests import deploy_fixtures as fx
from tests.experiments.test_predict import run_cli
from tests.inference.helpers import softmax_of, training_path_images


def sklearn_metrics(labels, probabilities):
    predicted = probabilities.argmax(-1)
    melanoma, predicted_melanoma = labels == 1, predicted == 1
    return {
        "auroc": skm.roc_auc_score(melanoma, probabilities[:, 1]),
        "accuracy": skm.accuracy_score(labels, predicted),
        "balanced_accuracy": skm.balanced_accuracy_score(labels, predicted),
        "sensitivity": skm.recall_score(melanoma, predicted_melanoma),
        "specificity": skm.recall_score(melanoma, predicted_melanoma, pos_label=False),
    }


def assert_metrics_match(ours, expected):
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value, abs=1e-9), name


@pytest.mark.parametrize("num_classes", [2, 3])
def test_evaluate_matches_sklearn(tmp_path, num_classes):
    run = inference.load_run(fx.tiny_run(tmp_path / "seed_0", num_classes=num_classes))
    sizes = [(32 + 5 * (i % 4), 48 - 3 * (i % 5)) for i in range(20)]
    paths = fx.write_image_files(tmp_path / "images", sizes, seed=11)
    labels = np.arange(20) % num_classes
    label_key = "melanoma" if num_classes == 2 else "label"
    source = tf.data.Dataset.from_tensor_slices(
        {
            "image": [p.read_bytes() for p in paths],
            "image_id": [p.stem for p in paths],
            label_key: labels,
        }
    )
    ours = evaluate.evaluate(run, split="test", source=source, batch_size=6)
    images = training_path_images(paths, image_size=32, preprocessing="none")
    probabilities = softmax_of(run.model, images)
    assert_metrics_match(ours, sklearn_metrics(labels, probabilities))
    assert ours["num_examples"] == 20
    assert 0.0 < ours["auroc"] < 1.0 and ours["auroc"] != 0.5


def test_evaluate_errors(tmp_path):
    assert "No trained model in" in run_cli(evaluate, f"--model_dir={tmp_path}")


@pytest.mark.slow
def test_evaluate_command_line_on_synthetic_lesions(tmp_path, capsys):
    data_dir = tmp_path / "tfds"
    run_dir = fx.tiny_run(tmp_path / "run" / "seed_0")
    config = json.loads((run_dir / "config.json").read_text())
    config["data_dir"] = str(data_dir)
    (run_dir / "config.json").write_text(json.dumps(config))
    out = tmp_path / "metrics.json"
    status = run_cli(
        evaluate, f"--model_dir={tmp_path / 'run'}", "--split=test", f"--output={out}"
    )
    assert status == 0
    assert "balanced_accuracy" in capsys.readouterr().out
    ours = json.loads(out.read_text())

    dataset = data.make_dataset(
        "test",
        dataset="synthetic_lesions",
        data_dir=str(data_dir),
        image_size=32,
        batch_size=50,
    )
    run = inference.load_run(pathlib.Path(run_dir))
    labels, probabilities = [], []
    for images, batch_labels in dataset:
        probabilities.append(softmax_of(run.model, images))
        labels.append(batch_labels.numpy())
    labels, probabilities = np.concatenate(labels), np.concatenate(probabilities)
    assert ours["num_examples"] == len(labels) == 150
    assert_metrics_match(ours, sklearn_metrics(labels, probabilities))
