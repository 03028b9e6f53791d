"""`skinkeras.inference.labelled` and `.evaluate`: a run evaluated from Python, no
flags: predictions per seed, the metrics against scikit-learn on the models' own
logits (a NumPy softmax), the stored calibration, DeLong against another run, and
the report with its model card."""

import csv
import dataclasses
import json
import logging
import types

import keras
import numpy as np
import pytest
import scipy.special
from sklearn import metrics as skm

from skinkeras import evaluation, inference
from skinkeras.inference import evaluate, labelled
from skinkeras.models import pipeline
from tests import deploy_fixtures as fx
from tests.inference.helpers import training_path_images
from tests.tfds_isic import fake_grouped
from tests.tfds_isic.helpers import build, examples


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """A 2-seed run, 30 images with a truth CSV, and the seeds' reference logits."""
    tmp_path = tmp_path_factory.mktemp("run")
    sizes = [(32 + 5 * (i % 4), 48 - 3 * (i % 5)) for i in range(30)]
    paths = sorted(fx.write_image_files(tmp_path / "images", sizes, seed=21))
    images = training_path_images(paths, image_size=32, preprocessing="none")
    for seed in (0, 1):
        fx.centred_run(tmp_path / "run" / f"seed_{seed}", images, seed=seed)
    run = inference.load_run(tmp_path / "run")
    logits = [fx.logits_of(model, images) for model in run.models]
    ensemble = np.mean([scipy.special.softmax(z, axis=1) for z in logits], axis=0)
    y = fx.labels_for(ensemble[:, 1], seed=5)
    truth = fx.write_truth(tmp_path / "truth.csv", [p.stem for p in paths], y)
    predictions = labelled.predict_run(
        run, images=tmp_path / "images", truth=truth, batch_size=32
    )
    return types.SimpleNamespace(
        tmp_path=tmp_path,
        run=run,
        truth=truth,
        logits=logits,
        ensemble=ensemble,
        y=y,
        predictions=predictions,
    )


def test_predict_run_gives_each_seed_in_the_truth_order(case):
    predictions = case.predictions
    np.testing.assert_array_equal(predictions.labels, case.y)
    assert len(predictions.per_seed) == 2
    for z, p in zip(case.logits, predictions.per_seed, strict=True):
        np.testing.assert_allclose(p, scipy.special.softmax(z, axis=1), atol=1e-6)
    np.testing.assert_allclose(predictions.probabilities, case.ensemble, atol=1e-6)
    assert predictions.evaluated_on == (
        f"{case.tmp_path / 'images'} (truth {case.truth})"
    )


def test_a_notebook_evaluates_a_run_and_writes_its_report(case, tmp_path):
    result = evaluate.evaluate_run(case.run, case.predictions, resamples=100)
    found = result.metrics
    y, p = case.y, case.ensemble[:, 1]
    assert found["auroc"]["point"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-6)
    assert found["brier"] == pytest.approx(skm.brier_score_loss(y, p), abs=1e-6)
    assert found["model_dir"] == str(case.tmp_path / "run")
    assert found["seeds"] == [0, 1] and found["calibration"] is None
    aurocs = [
        skm.roc_auc_score(y, scipy.special.softmax(z, axis=1)[:, 1])
        for z in case.logits
    ]
    np.testing.assert_allclose(
        found["per_seed"]["metrics"]["AUROC"]["values"], aurocs, atol=1e-6
    )
    assert sorted(result.seed_probabilities) == [0, 1]
    written = evaluate.write_run_report(
        tmp_path / "report", result, config=case.run.config
    )
    names = [*evaluation.PLOTS, "report.md", "MODEL_CARD.md"]
    assert written == [tmp_path / "report" / name for name in names]
    assert all(path.stat().st_size > 0 for path in written)
    card = (tmp_path / "report" / "MODEL_CARD.md").read_text()
    assert f"{found['auroc']['point']:.3f}" in card
    assert found["evaluated_on"] in (tmp_path / "report" / "report.md").read_text()


def test_the_report_draws_the_column_the_metrics_use(case, tmp_path, monkeypatch):
    """A run whose melanoma class is not 1 (issue 16: ISIC 2019 lists MEL first)
    gets plots of its melanoma probabilities, as its metrics."""
    result = evaluate.evaluate_run(case.run, case.predictions, resamples=10)
    result = dataclasses.replace(result, melanoma=0)
    drawn = {}

    def write_report(directory, found, **kwargs):
        drawn.update(kwargs)
        return []

    monkeypatch.setattr(evaluation, "write_report", write_report)
    evaluate.write_run_report(tmp_path / "report", result, config=case.run.config)
    assert drawn["melanoma"] == 0


def test_calibration_is_stored_applied_and_warns_on_other_tta(case, tmp_path, caplog):
    run_dir = tmp_path / "run"
    fx.write_run(
        run_dir / "seed_0",
        fx.tiny_classifier(seed=0),
        fx.config_for("effnet", image_size=32),
    )
    calibration = evaluation.fit_calibration(
        case.y, case.ensemble, rule="youden", seeds=[0], tta=1
    )
    path, saved = evaluate.store_calibration(run_dir, calibration, seed=0)
    assert path == run_dir / "seed_0" / "calibration.json"
    assert json.loads(path.read_text()) == calibration
    assert saved == [run_dir / "seed_0" / "model.keras"]
    model = keras.models.load_model(run_dir / "seed_0" / "model.keras")
    assert pipeline.pipeline_metadata(model)["calibration"] == calibration
    # Applied to the ensemble; a warning when the TTA views differ.
    with caplog.at_level(logging.WARNING):
        result = evaluate.evaluate_run(
            case.run, case.predictions, calibration=calibration, resamples=20, tta=8
        )
    assert "fitted with --tta=1; evaluating with --tta=8" in caplog.text
    scaled = scipy.special.softmax(
        np.log(case.ensemble) / calibration["temperature"], axis=1
    )
    np.testing.assert_allclose(result.probabilities, scaled, atol=1e-6)
    assert result.metrics["calibration"] == calibration


def test_compare_runs_is_delong_on_the_same_images(case):
    result = evaluate.evaluate_run(case.run, case.predictions, resamples=20)
    other = labelled.RunPredictions(
        case.y, [case.ensemble[:, ::-1] * 0.5 + 0.25], "the same"
    )
    found = evaluate.compare_runs(result, case.tmp_path / "none", other)
    expected = evaluation.delong_test(
        case.y, result.probabilities[:, 1], other.probabilities[:, 1]
    )
    assert found == {"model_dir": str(case.tmp_path / "none"), **expected._asdict()}
    shuffled = other._replace(labels=1 - case.y)
    with pytest.raises(ValueError, match="Received: compare="):
        evaluate.compare_runs(result, "other_run", shuffled)


def test_a_run_without_melanoma_is_refused():
    run = types.SimpleNamespace(class_names=("nevus", "seborrheic_keratosis"))
    with pytest.raises(ValueError, match="no melanoma class"):
        evaluate.melanoma_class(run)
    assert (
        evaluate.melanoma_class(types.SimpleNamespace(class_names=("MEL", "NV"))) == 0
    )


def test_split_metadata_counts_the_source_csvs_values_by_name(tmp_path):
    # isic2019 stores sex and site as ClassLabels (issue 26): the card counts
    # their names, here against the fake metadata CSV as written.
    fake_grouped.write_isic2019(tmp_path / "manual")
    builder = build("isic2019/256", tmp_path / "data", tmp_path / "manual")
    path = tmp_path / "manual" / "ISIC_2019_Training_Metadata.csv"
    with open(path, newline="") as f:
        rows = {row["image"]: row for row in csv.DictReader(f)}
    ids = examples(builder, "train")
    expected = {"sex": {}, "anatomical_site": {}, "age_approximate": {}}
    for image_id in ids:
        row = rows[image_id]
        age = int(float(row["age_approx"])) if row["age_approx"] else None
        decade = None if age is None else age - age % 10
        for field, value in (
            ("sex", row["sex"] or "unknown"),
            ("anatomical_site", row["anatom_site_general"] or "unknown"),
            ("age_approximate", "unknown" if age is None else f"{decade}-{decade + 9}"),
        ):
            expected[field][value] = expected[field].get(value, 0) + 1
    got = labelled.split_metadata(
        "train", dataset="isic2019", data_dir=str(tmp_path / "data"), label="melanoma"
    )
    assert got == expected
    # Alphabetical, "unknown" last (the fake's decades all have two digits).
    for counts in got.values():
        assert list(counts) == sorted(counts, key=lambda n: (n == "unknown", n))
