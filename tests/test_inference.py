"""Tests of skinkeras.inference: run loading, training-path preprocessing, TTA,
batched prediction with bad files, CSV formats (with the official ISIC scorer) and
metrics against scikit-learn."""

import csv
import json
import os
import pathlib
import shutil
import subprocess

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn import metrics as skm

from skinkeras import data, inference
from tests import deploy_fixtures as fx

REPO = pathlib.Path(__file__).resolve().parents[1]


def softmax_of(model, images):
    """Independent reference: the model's logits through a NumPy softmax."""
    logits = np.asarray(
        model(np.asarray(images, np.float32), training=False), np.float64
    )
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.reader(file))


def training_path_images(paths, *, image_size, preprocessing):
    """The images `make_dataset` feeds training, from the same encoded files."""
    source = tf.data.Dataset.from_tensor_slices(
        {
            "image": [pathlib.Path(p).read_bytes() for p in paths],
            "image_id": [pathlib.Path(p).stem for p in paths],
            "melanoma": [0] * len(paths),
        }
    )
    dataset = data.make_dataset(
        "test",
        source=source,
        preprocessing=preprocessing,
        image_size=image_size,
        batch_size=len(paths),
        shuffle=False,
    )
    return next(iter(dataset))[0].numpy()


@pytest.mark.parametrize("preprocessing", ["none", "shades_of_gray", "ben_graham"])
def test_bytes_transform_is_the_training_path(tmp_path, preprocessing):
    # Mixed sizes and formats: the same resize + centre crop as training handles them.
    paths = fx.write_image_files(tmp_path, [(40, 60), (90, 45), (32, 32), (77, 100)])
    transform = inference.bytes_transform(image_size=32, preprocessing=preprocessing)
    ours = np.stack([transform(tf.io.read_file(str(p)))[1].numpy() for p in paths])
    expected = training_path_images(paths, image_size=32, preprocessing=preprocessing)
    # Both round to integers (make_dataset's uint8 cache); float differences between
    # eager and tf.data execution may move a value at x.5 to the other integer.
    assert np.abs(ours - expected).max() <= 1.0
    assert np.mean(ours != expected) < 1e-3


def test_load_run_seed_dir_and_ensemble(tmp_path):
    fx.tiny_run(tmp_path / "runs" / "seed_0", seed=0)
    fx.tiny_run(tmp_path / "runs" / "seed_3", seed=3)
    images = fx.random_images(5, 32).astype(np.float32)
    model_0 = keras.models.load_model(tmp_path / "runs" / "seed_0" / "model.keras")
    model_3 = keras.models.load_model(tmp_path / "runs" / "seed_3" / "model.keras")
    p0, p3 = softmax_of(model_0, images), softmax_of(model_3, images)
    assert np.abs(p0 - p3).max() > 0.01  # two genuinely different seeds

    single = inference.load_run(tmp_path / "runs" / "seed_3")
    assert (single.image_size, single.preprocessing, single.num_classes) == (
        32,
        "none",
        2,
    )
    assert single.class_names == ("other", "melanoma")
    np.testing.assert_allclose(inference.Predictor(single)(images), p3, atol=1e-6)

    ensemble = inference.load_run(tmp_path / "runs")
    assert ensemble.seeds == (0, 3)
    np.testing.assert_allclose(
        inference.Predictor(ensemble)(images), (p0 + p3) / 2, atol=1e-6
    )
    with pytest.raises(ValueError, match="choose one with `seed`"):
        ensemble.model  # noqa: B018

    chosen = inference.load_run(tmp_path / "runs", seed=0)
    assert chosen.seeds == (0,)
    np.testing.assert_allclose(inference.Predictor(chosen)(images), p0, atol=1e-6)


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(inference.ModelNotFoundError, match="not a directory"):
        inference.load_run(tmp_path / "nowhere")
    with pytest.raises(inference.ModelNotFoundError, match="No trained model in"):
        inference.load_run(tmp_path)
    (tmp_path / "seed_0" / "checkpoints").mkdir(parents=True)
    with pytest.raises(inference.ModelNotFoundError, match="training unfinished"):
        inference.load_run(tmp_path)
    fx.tiny_run(tmp_path / "seed_1")
    with pytest.raises(inference.ModelNotFoundError, match="no seed_7/"):
        inference.load_run(tmp_path, seed=7)
    with pytest.raises(inference.ModelNotFoundError, match="training unfinished"):
        inference.load_run(tmp_path, seed=0)
    assert inference.load_run(tmp_path).seeds == (1,)  # unfinished seed_0 left out
    masked = inference.load_run(
        fx.tiny_run(tmp_path / "masked", preprocessing="lesion_mask")
    )
    with pytest.raises(ValueError, match="lesion mask"):
        inference.predict_files(masked, [])
    (tmp_path / "seed_1" / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="No config.json"):
        inference.load_run(tmp_path / "seed_1")


def numpy_tta_views(images, tta):
    """Independent reference for `tta` (README, "Predict"): the first N views of
    1 none, 2 + horizontal flip, 4 + vertical flip and 180°, 8 all of them (the
    90° rotations and both transposes: the dihedral group D4 on the (H, W) axes)."""
    images = np.asarray(images)
    views = [
        images,
        images[:, :, ::-1],  # horizontal flip: the width axis reversed
        images[:, ::-1],  # vertical flip
        images[:, ::-1, ::-1],  # 180°
    ]
    views += [np.rot90(images, k, axes=(1, 2)) for k in (1, 3)]
    views += [np.swapaxes(images, 1, 2), np.swapaxes(images[:, ::-1, ::-1], 1, 2)]
    return {1: views[:1], 2: views[:2], 4: views[:4], 8: views}[tta]


def numpy_tta(models, images, tta):
    """Softmax averaged over the models and the numpy views."""
    return np.mean(
        [softmax_of(m, v) for m in models for v in numpy_tta_views(images, tta)],
        axis=0,
    )


def test_tta_averages_the_documented_views(tmp_path):
    run = inference.load_run(fx.tiny_run(tmp_path / "seed_0"))
    images = fx.random_images(3, 32, seed=5).astype(np.float32)
    # The 8 views are the 8 distinct symmetries of the square, i.e. the whole group,
    # and the model tells each of them apart (else a wrong subgroup would pass).
    views = numpy_tta_views(images, 8)
    group = [
        np.rot90(images[:, :, ::f], k, axes=(1, 2)) for f in (1, -1) for k in range(4)
    ]
    for view in group:
        assert sum(np.array_equal(view, v) for v in views) == 1
    per_view = [softmax_of(run.models[0], v)[:, 1] for v in views]
    for i in range(8):
        for j in range(i):
            assert np.abs(per_view[i] - per_view[j]).max() > 1e-3, (i, j)
    for tta in (1, 2, 4, 8):
        np.testing.assert_allclose(
            inference.Predictor(run, tta=tta)(images),
            numpy_tta(run.models, images, tta),
            atol=1e-6,
            err_msg=f"tta={tta}",
        )
    with pytest.raises(ValueError, match="Received: tta=9"):
        inference.Predictor(run, tta=9)


def test_predict_files_skips_bad_files(tmp_path, caplog):
    run = inference.load_run(fx.tiny_run(tmp_path / "run" / "seed_0"))
    folder = tmp_path / "images"
    good = fx.write_image_files(
        folder, [(50, 70), (32, 32), (90, 40), (64, 64), (33, 80)]
    )
    (folder / "notes.jpg").write_text("not an image")
    truncated = folder / "truncated.jpg"
    truncated.write_bytes(good[0].read_bytes()[:200])
    (folder / "sub").mkdir()
    shutil.copy(good[1], folder / "sub" / "ISIC_0000099.png")
    (folder / "sub" / "ISIC_0000099_superpixels.png").write_bytes(b"skipped")
    (folder / "labels.csv").write_text("image_id\n")
    text_file = tmp_path / "readme.txt"
    text_file.write_text("hello")

    paths = inference.list_images([folder, text_file])
    expected = sorted(
        good + [folder / "notes.jpg", truncated, folder / "sub/ISIC_0000099.png"]
    )
    assert paths == expected + [text_file]
    predictions = inference.predict_files(run, paths, batch_size=2)

    failed = {pathlib.Path(path).name for path, _ in predictions.failures}
    assert failed == {"notes.jpg", "truncated.jpg", "readme.txt"}
    for name in failed:
        assert name in caplog.text
    good_paths = sorted([*good, folder / "sub" / "ISIC_0000099.png"])
    assert predictions.paths == [str(p) for p in good_paths]
    assert predictions.image_ids == [p.stem for p in good_paths]
    images = training_path_images(good_paths, image_size=32, preprocessing="none")
    np.testing.assert_allclose(
        predictions.probabilities, softmax_of(run.models[0], images), atol=1e-6
    )
    with pytest.raises(ValueError, match="ISIC_0000001"):
        inference.check_unique_ids([*good_paths, folder / "sub" / "ISIC_0000001.jpg"])


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


@pytest.mark.parametrize("num_classes", [2, 3])
def test_classification_metrics_match_sklearn(num_classes):
    rng = np.random.default_rng(num_classes)
    labels = rng.integers(0, num_classes, 200)
    logits = rng.normal(size=(200, num_classes)) + 1.5 * np.eye(num_classes)[labels]
    probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    probabilities[:20] = probabilities[20:40]  # ties in the melanoma probability
    ours = inference.classification_metrics(labels, probabilities)

    predicted = probabilities.argmax(-1)
    melanoma, predicted_melanoma = labels == 1, predicted == 1
    assert ours["auroc"] == pytest.approx(
        skm.roc_auc_score(melanoma, probabilities[:, 1]), abs=1e-12
    )
    assert ours["accuracy"] == pytest.approx(skm.accuracy_score(labels, predicted))
    assert ours["balanced_accuracy"] == pytest.approx(
        skm.balanced_accuracy_score(labels, predicted)
    )
    assert ours["sensitivity"] == pytest.approx(
        skm.recall_score(melanoma, predicted_melanoma)
    )
    assert ours["specificity"] == pytest.approx(
        skm.recall_score(melanoma, predicted_melanoma, pos_label=False)
    )
    assert ours["num_examples"] == 200
    assert ours["num_melanoma"] == int(melanoma.sum())


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
