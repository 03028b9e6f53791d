"""Tests of `python -m experiments.evaluate`: every number of metrics.json against
scikit-learn, counts or the official ISIC scorer on predictions made here from the
model's logits (a NumPy softmax); calibration stored and applied; the report."""

import json
import pathlib
import shutil
import subprocess

import keras
import numpy as np
import pytest
import scipy.special
import tensorflow as tf
from sklearn import metrics as skm

from experiments import evaluate, predict
from skinkeras import data, inference
from skinkeras import evaluation as ev
from skinkeras.inference import labelled
from skinkeras.models import pipeline
from tests import deploy_fixtures as fx
from tests import test_rundir
from tests.experiments.test_predict import read_rows, run_cli
from tests.inference.helpers import training_path_images
from tests.test_evaluation import isic_scorer, needs_scorer

SIZES = [(32 + 5 * (i % 4), 48 - 3 * (i % 5)) for i in range(30)]


def reference_images(paths):
    return training_path_images(paths, image_size=32, preprocessing="none")


@pytest.fixture(scope="module")
def shared_case(tmp_path_factory):
    """A 2-seed run, test images with a ground-truth CSV, their reference logits.

    Built once per module (tests that write into the run copy it: `case`).
    """
    tmp_path = tmp_path_factory.mktemp("case")
    run_dir = tmp_path / "run"
    paths = sorted(fx.write_image_files(tmp_path / "images", SIZES, seed=11))
    images = reference_images(paths)
    for seed in (0, 1):
        fx.centred_run(run_dir / f"seed_{seed}", images, seed=seed)
    run = inference.load_run(run_dir)
    logits = [fx.logits_of(model, images) for model in run.models]
    ensemble = np.mean([scipy.special.softmax(z, axis=1) for z in logits], axis=0)
    y = fx.labels_for(ensemble[:, 1], seed=3)
    truth = fx.write_truth(tmp_path / "truth.csv", [p.stem for p in paths], y)
    return {
        "run_dir": run_dir,
        "paths": paths,
        "reference_images": images,
        "images": tmp_path / "images",
        "truth": truth,
        "logits": logits,
        "probabilities": ensemble,
        "y": y,
    }


@pytest.fixture
def case(shared_case, tmp_path):
    """`shared_case` with a private copy of the run directory."""
    shutil.copytree(shared_case["run_dir"], tmp_path / "run")
    return {**shared_case, "run_dir": tmp_path / "run"}


@pytest.fixture(scope="module")
def folder_result(shared_case, tmp_path_factory):
    """One command line on the folder + CSV route with a report and --compare."""
    tmp_path = tmp_path_factory.mktemp("result")
    other_dir = fx.tiny_run(tmp_path / "other", seed=7)
    found = evaluate_cli(
        shared_case,
        tmp_path,
        f"--report_dir={tmp_path / 'report'}",
        f"--compare={other_dir}",
    )
    return found, tmp_path / "report", other_dir


def evaluate_cli(case, tmp_path, *args):
    out = tmp_path / "metrics.json"
    status = run_cli(
        evaluate,
        f"--model_dir={case['run_dir']}",
        f"--images={case['images']}",
        f"--truth={case['truth']}",
        f"--output={out}",
        "--bootstrap=200",
        "--batch_size=32",  # one traced call per model
        *args,
    )
    assert status == 0
    return json.loads(out.read_text())


def counted(y, p, threshold):
    """Operating point by counting (the reference)."""
    y, called = np.asarray(y, bool), p >= threshold
    tp, fp = np.sum(y & called), np.sum(~y & called)
    fn, tn = np.sum(y & ~called), np.sum(~y & ~called)
    with np.errstate(invalid="ignore"):  # NaN where nothing (everything) is called
        return {
            "sensitivity": tp / (tp + fn),
            "specificity": tn / (tn + fp),
            "ppv": tp / (tp + fp),
            "npv": tn / (tn + fn),
            "confusion_matrix": [[tn, fp], [fn, tp]],
        }


def reference_ece(y, p, bins=15):
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (p > lo) & (p <= hi) if lo > 0 else (p >= lo) & (p <= hi)
        if inside.any():
            total += inside.sum() * abs(y[inside].mean() - p[inside].mean())
    return total / len(y)


def test_folder_and_truth_csv_end_to_end(shared_case, folder_result):
    case = shared_case
    found, report, _ = folder_result
    y, p = case["y"], case["probabilities"][:, 1]
    assert found["num_examples"] == 30 and found["num_melanoma"] == y.sum()
    assert found["auroc"]["point"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-9)
    assert found["auroc"]["low"] < found["auroc"]["point"] < found["auroc"]["high"]
    assert found["average_precision"] == pytest.approx(
        skm.average_precision_score(y, p), abs=1e-9
    )
    # The command's probabilities come from float32 model calls of other batch
    # shapes than the fixture's: each differs by up to ~1e-7 relative (Intel vs AMD,
    # issue 23), so the Brier score and ECE by up to ~5e-7. AUROC and AP only
    # rank them: exact unless two probabilities tie within that rounding.
    assert found["brier"] == pytest.approx(skm.brier_score_loss(y, p), abs=1e-6)
    assert found["ece"] == pytest.approx(reference_ece(y, p), abs=1e-6)
    # Uncalibrated: the ISIC scorer's rule, probability > 0.5.
    expected = counted(y, p, np.nextafter(0.5, 1))
    point = found["operating_point"]
    for name in ("sensitivity", "specificity", "ppv", "npv"):
        assert point[name] == pytest.approx(expected[name], abs=1e-12), name
    assert point["confusion_matrix"] == expected["confusion_matrix"]
    assert found["calibration"] is None
    # Specificity at sensitivity: the best over every achievable threshold, counted.
    for target, value in found["specificity_at_sensitivity"].items():
        best = max(
            counted(y, p, t)["specificity"]
            for t in np.unique(p)
            if counted(y, p, t)["sensitivity"] >= float(target)
        )
        assert value == pytest.approx(best, abs=1e-12), target
    # Each seed alone, and their mean ± std.
    per_seed = found["per_seed"]
    aurocs = [
        skm.roc_auc_score(y, scipy.special.softmax(z, axis=1)[:, 1])
        for z in case["logits"]
    ]
    assert per_seed["seeds"] == [0, 1]
    np.testing.assert_allclose(per_seed["metrics"]["AUROC"]["values"], aurocs)
    assert per_seed["metrics"]["AUROC"]["std"] == pytest.approx(np.std(aurocs, ddof=1))


def test_report_holds_the_plots_and_the_numbers(folder_result):
    found, report, other_dir = folder_result
    per_seed = found["per_seed"]
    for name in ("roc.png", "pr.png", "reliability.png", "confusion.png"):
        assert (report / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    text = (report / "report.md").read_text()
    for name, value in ev.scalar_metrics(found).items():
        assert f"| {name}" in text or name in text
        assert f"{value:.4f}" in text, name
    assert f"{found['auroc']['low']:.4f} – {found['auroc']['high']:.4f}" in text
    assert f"{per_seed['metrics']['AUROC']['mean']:.4f} ± " in text
    card = (report / "MODEL_CARD.md").read_text()
    assert "Not a diagnostic device" in card.replace("**", "")
    assert f"{found['auroc']['point']:.3f}" in card
    assert f"{found['compare']['p_value']:.4f}" in text


@needs_scorer
def test_metrics_agree_with_the_isic_scorer_on_the_same_csv(
    shared_case, folder_result, tmp_path
):
    case, (found, _, _) = shared_case, folder_result
    ids = [p.stem for p in case["paths"]]
    truth = tmp_path / "isic_truth.csv"
    inference.write_isic_truth_csv(truth, ids, case["y"], ("other", "melanoma"))
    prediction = tmp_path / "isic_pred.csv"
    inference.write_predictions_csv(
        prediction, ids, case["probabilities"], ("other", "melanoma"), format="isic"
    )
    result = subprocess.run(
        [str(isic_scorer()), "-o", "json", "classification", truth, prediction],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    scores = json.loads(result.stdout)["per_category"]
    official = {key: value["melanoma"] for key, value in scores.items()}
    point = found["operating_point"]
    assert found["auroc"]["point"] == pytest.approx(official["auc"], abs=1e-6)
    assert found["partial_auroc"] == pytest.approx(official["auc_sens_80"], abs=1e-6)
    assert found["average_precision"] == pytest.approx(official["ap"], abs=1e-6)
    for name in ("sensitivity", "specificity", "ppv", "npv"):
        assert point[name] == pytest.approx(official[name], abs=1e-6), name


def validation_source(paths, y):
    """A 'validation split' of image files, read by the real pipeline."""
    return tf.data.Dataset.from_tensor_slices(
        {
            "image": [p.read_bytes() for p in paths],
            "image_id": [p.stem for p in paths],
            "melanoma": np.asarray(y),
        }
    )


def test_calibration_is_stored_then_applied_by_evaluate_and_predict(
    case, tmp_path, monkeypatch
):
    # Seed 0 alone; the validation split is 30 other images.
    seed_dir = case["run_dir"] / "seed_0"
    model = inference.load_run(seed_dir).model
    val_paths = sorted(
        fx.write_image_files(tmp_path / "val", SIZES, seed=12, extensions=(".png",))
    )
    val_logits = fx.logits_of(model, reference_images(val_paths))
    val_y = fx.labels_for(scipy.special.softmax(val_logits, axis=1)[:, 1], seed=4)
    real = labelled.predict_split

    def on_files(run, **kwargs):
        assert kwargs["split"] == "validation"
        return real(run, **{**kwargs, "source": validation_source(val_paths, val_y)})

    monkeypatch.setattr(labelled, "predict_split", on_files)
    status = run_cli(
        evaluate,
        f"--model_dir={seed_dir}",
        "--split=validation",
        "--calibrate",
        "--target_sensitivity=0.8",
        "--bootstrap=50",
        "--batch_size=32",
    )
    assert status == 0
    stored = json.loads((seed_dir / "calibration.json").read_text())
    # Temperature scaling of the logits themselves (the reference), not of log p.
    temperature = ev.fit_temperature(val_logits, val_y)
    assert stored["temperature"] == pytest.approx(temperature, rel=1e-6)
    calibrated = scipy.special.softmax(val_logits / temperature, axis=1)[:, 1]
    # The most specific threshold that finds 80 % of the melanomas, by counting.
    reaching = [
        t
        for t in np.unique(calibrated)
        if counted(val_y, calibrated, t)["sensitivity"] >= 0.8
    ]
    # One of the command's own float32 probabilities (see above): ~1e-7 relative.
    assert stored["threshold"] == pytest.approx(max(reaching), rel=1e-6)
    expected = counted(val_y, calibrated, max(reaching) * (1 - 1e-9))
    assert stored["validation_sensitivity"] == pytest.approx(expected["sensitivity"])
    assert stored["validation_specificity"] == pytest.approx(expected["specificity"])
    assert stored["rule"] == "target_sensitivity"
    assert stored["target_sensitivity"] == 0.8 and stored["validation_n"] == 30
    # The run's model.keras carries them (issue 15, item 6): uint8 images in,
    # softmax(logits / T) and the decision at the stored threshold out.
    saved = keras.models.load_model(seed_dir / "model.keras")
    meta = pipeline.pipeline_metadata(saved)
    assert meta["calibration"] == stored
    assert (meta["temperature"], meta["threshold"]) == (
        stored["temperature"],
        stored["threshold"],
    )
    test_p = scipy.special.softmax(case["logits"][0] / temperature, axis=1)[:, 1]
    for path, expected_p in zip(case["paths"][:6], test_p, strict=False):
        outputs = saved(data.decode_image(path.read_bytes())[tf.newaxis])
        assert outputs["probabilities"].numpy()[0, 1] == pytest.approx(
            expected_p, abs=1e-5
        )
        assert outputs["decision"].numpy()[0] == int(expected_p >= stored["threshold"])

    # Evaluation on the test images applies both.
    out = tmp_path / "test.json"
    status = run_cli(
        evaluate,
        f"--model_dir={seed_dir}",
        f"--images={case['images']}",
        f"--truth={case['truth']}",
        f"--output={out}",
        "--bootstrap=50",
        "--batch_size=32",
    )
    assert status == 0
    found = json.loads(out.read_text())
    y = case["y"]
    assert found["operating_point"]["threshold"] == stored["threshold"]
    reference = counted(y, test_p, stored["threshold"] * (1 - 1e-9))
    reference_high = counted(y, test_p, stored["threshold"] * (1 + 1e-9))
    for name in ("sensitivity", "specificity"):
        assert found["operating_point"][name] in (
            pytest.approx(reference[name]),
            pytest.approx(reference_high[name]),
        )
    assert found["brier"] == pytest.approx(skm.brier_score_loss(y, test_p), abs=1e-6)
    raw = scipy.special.softmax(case["logits"][0], axis=1)[:, 1]
    assert found["uncalibrated"]["brier"] == pytest.approx(
        skm.brier_score_loss(y, raw), abs=1e-6
    )

    # experiments.predict: calibrated probabilities and the decision column.
    status = run_cli(
        predict,
        f"--model_dir={seed_dir}",
        f"--output={tmp_path / 'p.csv'}",
        *case["paths"],
    )
    assert status == 0
    rows = read_rows(tmp_path / "p.csv")
    got = np.array([float(row["melanoma_probability"]) for row in rows])
    np.testing.assert_allclose(got, test_p, atol=1e-6)
    decisions = [int(row["decision"]) for row in rows]
    assert decisions == [int(v) for v in test_p >= stored["threshold"]]
    assert 0 < sum(decisions) < len(decisions)


def test_calibration_of_an_ensemble_is_stored_at_its_level(case, tmp_path, monkeypatch):
    real = labelled.predict_split
    source = validation_source(case["paths"], case["y"])
    monkeypatch.setattr(
        labelled,
        "predict_split",
        lambda run, **kwargs: real(run, **{**kwargs, "source": source}),
    )
    args = ["--split=validation", "--calibrate", "--operating_point=youden"]
    status = run_cli(
        evaluate,
        f"--model_dir={case['run_dir']}",
        *args,
        "--bootstrap=20",
        "--batch_size=32",
    )
    assert status == 0
    stored = json.loads((case["run_dir"] / "calibration.json").read_text())
    assert not list(case["run_dir"].glob("seed_*/calibration.json"))
    assert stored["seeds"] == [0, 1] and stored["rule"] == "youden"
    # Each seed's model.keras applies the ensemble's calibration, as its export does.
    for seed in (0, 1):
        saved = keras.models.load_model(
            case["run_dir"] / f"seed_{seed}" / "model.keras"
        )
        assert pipeline.pipeline_metadata(saved)["calibration"] == stored
    assert stored["target_sensitivity"] is None
    # The ensemble's log-probabilities are what the temperature scales.
    log_p = np.log(case["probabilities"])
    assert stored["temperature"] == pytest.approx(
        ev.fit_temperature(log_p, case["y"]), rel=1e-6
    )
    calibrated = scipy.special.softmax(log_p / stored["temperature"], axis=1)[:, 1]
    j = [
        counted(case["y"], calibrated, t)["sensitivity"]
        + counted(case["y"], calibrated, t)["specificity"]
        for t in np.unique(calibrated)
    ]
    assert stored["validation_sensitivity"] + stored[
        "validation_specificity"
    ] == pytest.approx(max(j))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--calibrate"], "must not see the test split"),
        (["--calibrate", "--split=test[:50%]"], "must not see the test split"),
        (["--calibrate", "--split=validation+test"], "must not see the test split"),
        (["--calibrate", "--split=challenge_test"], "must not see the test split"),
        (["--calibrate", "--images=x", "--truth=y"], "not on --images"),
        (["--images=x"], "--images and --truth go together"),
        (["--target_sensitivity=0.8"], "without --calibrate"),
    ],
)
def test_refusals(tmp_path, capsys, args, message):
    assert run_cli(evaluate, f"--model_dir={tmp_path}", *args) is not None
    assert (
        message
        in str(run_cli(evaluate, f"--model_dir={tmp_path}", *args))
        + capsys.readouterr().err
    )
    assert not (tmp_path / "calibration.json").exists()


def test_calibrate_refuses_a_run_another_process_writes(tmp_path, capsys):
    # A training (or another calibration) holds the run's lock: nothing is written.
    holder = test_rundir.start_holder(tmp_path)
    try:
        message = run_cli(
            evaluate, f"--model_dir={tmp_path}", "--calibrate", "--split=validation"
        )
    finally:
        holder.kill()
        holder.wait()
    assert f"{tmp_path} is in use by another process (pid {holder.pid}" in str(message)
    assert not (tmp_path / "calibration.json").exists()


def test_compare_is_delong_on_the_same_images(shared_case, folder_result):
    found, _, other_dir = folder_result
    theirs = scipy.special.softmax(
        fx.logits_of(
            inference.load_run(other_dir).model, shared_case["reference_images"]
        ),
        axis=1,
    )
    expected = ev.delong_test(
        shared_case["y"], shared_case["probabilities"][:, 1], theirs[:, 1]
    )
    for name, value in expected._asdict().items():
        assert found["compare"][name] == pytest.approx(value, rel=1e-6), name


def test_truth_csv_errors(shared_case, tmp_path):
    case = shared_case
    short = fx.write_truth(tmp_path / "short.csv", [case["paths"][0].stem], [1])
    message = str(
        run_cli(
            evaluate,
            f"--model_dir={case['run_dir']}",
            f"--images={case['images']}",
            f"--truth={short}",
        )
    )
    assert "29 images in" in message and "without a row" in message


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
        evaluate,
        f"--model_dir={tmp_path / 'run'}",
        "--split=test",
        f"--output={out}",
        "--bootstrap=100",
        f"--report_dir={tmp_path / 'report'}",
    )
    assert status == 0
    assert "AUROC" in capsys.readouterr().out
    # The model card states the split's sex metadata, counted here from TFDS.
    import tensorflow_datasets as tfds

    # A ClassLabel since synthetic_lesions 1.1.0 (issue 26).
    names = (
        tfds.builder("synthetic_lesions", data_dir=str(data_dir))
        .info.features["sex"]
        .names
    )
    sexes = [
        names[example["sex"]]
        for example in tfds.load(
            "synthetic_lesions", split="test", data_dir=str(data_dir)
        ).as_numpy_iterator()
    ]
    counts = ", ".join(f"{sex} {sexes.count(sex)}" for sex in sorted(set(sexes)))
    card = (tmp_path / "report" / "MODEL_CARD.md").read_text()
    assert f"Sex in the evaluated images: {counts}." in card
    ours = json.loads(out.read_text())

    dataset = data.make_dataset(
        "test",
        dataset="synthetic_lesions",
        data_dir=str(data_dir),
        image_size=32,
        batch_size=50,
    )
    model = inference.load_run(pathlib.Path(run_dir)).model
    labels, logits = [], []
    for images, batch_labels in dataset:
        logits.append(np.asarray(model(images, training=False), np.float64))
        labels.append(batch_labels.numpy())
    labels = np.concatenate(labels)
    p = scipy.special.softmax(np.concatenate(logits), axis=1)[:, 1]
    assert ours["num_examples"] == len(labels) == 150
    assert ours["auroc"]["point"] == pytest.approx(skm.roc_auc_score(labels, p))
    predicted = p > 0.5
    assert ours["argmax"]["accuracy"] == pytest.approx(np.mean(predicted == labels))
