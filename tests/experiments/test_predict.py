"""Tests of `python -m experiments.predict` (run in-process through its flags)."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from experiments import deploy_cli, predict
from skinkeras import inference
from tests import deploy_fixtures as fx
from tests import hostile_files
from tests.inference.helpers import REPO, numpy_tta, softmax_of, training_path_images


def run_cli(module, *args):
    """Parses `args` with the module's flags and runs its main; returns the status."""
    try:
        return module.main(
            deploy_cli.parse(module.FLAGS, [module.__name__, *map(str, args)])
        )
    except SystemExit as exit:
        return exit.code


def read_rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_predict_folder_with_a_bad_file(tmp_path, capsys):
    run_dir = fx.tiny_run(tmp_path / "run" / "seed_0")
    good = fx.write_image_files(tmp_path / "images", [(40, 50), (32, 32), (80, 36)])
    broken = tmp_path / "images" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    thin = fx.write_image_files(tmp_path / "thin", [(80, 2)])[0]
    thin = thin.rename(tmp_path / "images" / "thin.jpg")
    status = run_cli(
        predict,
        f"--model_dir={run_dir}",
        f"--output={tmp_path / 'pred.csv'}",
        tmp_path / "images",
    )
    assert status == 1  # non-zero at the end: files were skipped
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary == (
        f"3 predicted, 2 skipped: predictions in {tmp_path / 'pred.csv'}, "
        f"skipped files in {tmp_path / 'pred.skipped.csv'}"
    )
    skipped = read_rows(tmp_path / "pred.skipped.csv")
    assert [row["path"] for row in skipped] == [str(broken), str(thin)]
    assert "PNG" in skipped[0]["reason"]
    assert skipped[1]["reason"] == "2x80 pixels, a side under min_side=32"
    rows = read_rows(tmp_path / "pred.csv")
    assert [row["image_id"] for row in rows] == [p.stem for p in sorted(good)]
    run = inference.load_run(run_dir)
    images = training_path_images(sorted(good), image_size=32, preprocessing="none")
    expected = softmax_of(run.model, images)
    np.testing.assert_allclose(
        [float(row["melanoma_probability"]) for row in rows], expected[:, 1], atol=1e-6
    )
    assert [row["predicted_class"] for row in rows] == [
        run.class_names[c] for c in expected.argmax(-1)
    ]


def test_predict_ensemble_tta_and_gradcam(tmp_path):
    fx.tiny_run(tmp_path / "run" / "seed_0", seed=0)
    fx.tiny_run(tmp_path / "run" / "seed_1", seed=1)
    paths = fx.write_image_files(tmp_path / "images", [(40, 50), (70, 33)])
    args = [f"--model_dir={tmp_path / 'run'}", "--tta=4", "--batch_size=1"]
    status = run_cli(
        predict,
        *args,
        f"--output={tmp_path / 'all.csv'}",
        f"--gradcam_dir={tmp_path / 'cams'}",
        *paths,
    )
    assert status == 0
    assert (
        run_cli(predict, *args, "--seed=1", f"--output={tmp_path / 's1.csv'}", *paths)
        == 0
    )

    run = inference.load_run(tmp_path / "run")
    images = training_path_images(paths, image_size=32, preprocessing="none")
    per_seed = [numpy_tta([m], images, 4) for m in run.models]
    ensemble = [
        float(row["melanoma_probability"]) for row in read_rows(tmp_path / "all.csv")
    ]
    seed_1 = [
        float(row["melanoma_probability"]) for row in read_rows(tmp_path / "s1.csv")
    ]
    np.testing.assert_allclose(ensemble, np.mean(per_seed, axis=0)[:, 1], atol=1e-6)
    np.testing.assert_allclose(seed_1, per_seed[1][:, 1], atol=1e-6)

    import cv2

    for path in paths:
        overlay = cv2.imread(str(tmp_path / "cams" / f"{path.stem}.png"))
        assert overlay.shape == (32, 32, 3)


@pytest.mark.parametrize(
    ("num_classes", "format", "header"),
    [
        (2, "isic", ["image", "melanoma", "other"]),
        (3, "isic", ["image", "melanoma", "nevus", "seborrheic_keratosis"]),
        (3, "isic2017", ["image_id", "melanoma", "seborrheic_keratosis"]),
    ],
)
def test_predict_isic_formats(tmp_path, num_classes, format, header):
    run_dir = fx.tiny_run(tmp_path / "seed_0", num_classes=num_classes)
    paths = fx.write_image_files(tmp_path / "images", [(40, 50), (32, 32)])
    out = tmp_path / "pred.csv"
    assert (
        run_cli(
            predict,
            f"--model_dir={run_dir}",
            f"--output={out}",
            f"--format={format}",
            *paths,
        )
        == 0
    )
    with open(out, newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == header
    assert [row[0] for row in rows[1:]] == [p.stem for p in paths]
    probabilities = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    if format == "isic":
        np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-6)
    # Nothing skipped: a header alone, so that no file of an earlier run misleads.
    assert (tmp_path / "pred.skipped.csv").read_text().splitlines() == ["path,reason"]


def test_predict_isic2019_and_isic2020_of_a_diagnosis_run(tmp_path):
    # A --label=diagnosis run on HAM10000's 7 classes: config.json names them.
    names = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    config = fx.config_for(
        "effnet", image_size=32, num_classes=7, label="diagnosis", class_names=names
    )
    run_dir = fx.write_run(
        tmp_path / "seed_0", fx.tiny_classifier(num_classes=7, image_size=32), config
    )
    paths = fx.write_image_files(tmp_path / "images", [(40, 50), (32, 32)])
    run = inference.load_run(run_dir)
    assert run.class_names == tuple(names)
    expected = inference.predict_files(run, paths).probabilities
    for format in ("isic2019", "isic2020"):
        out = tmp_path / f"{format}.csv"
        args = (f"--model_dir={run_dir}", f"--output={out}", f"--format={format}")
        assert run_cli(predict, *args, *paths) == 0
        with open(out, newline="") as file:
            rows = list(csv.reader(file))
        assert [row[0] for row in rows[1:]] == [p.stem for p in paths]
        values = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
        if format == "isic2019":
            assert rows[0] == [
                "image",
                "MEL",
                "NV",
                "BCC",
                "AK",
                "BKL",
                "DF",
                "VASC",
            ] + [
                "SCC",
                "UNK",
            ]
            order = [4, 5, 1, 0, 2, 3, 6]  # MEL NV BCC AK BKL DF VASC in `names`
            # The CLI runs `predict_files` at the same batch size: the same float32
            # numbers, written with 8 decimals (atol 1e-8 is that rounding).
            np.testing.assert_allclose(values[:, :7], expected[:, order], atol=1e-8)
            assert not values[:, 7:].any()
        else:
            assert rows[0] == ["image_name", "target"]
            np.testing.assert_allclose(values[:, 0], expected[:, 4], atol=1e-8)


def test_predict_errors(tmp_path):
    image = fx.write_image_files(tmp_path / "images", [(32, 32)])[0]
    status = run_cli(
        predict, f"--model_dir={tmp_path}", f"--output={tmp_path / 'p.csv'}", image
    )
    assert "No trained model in" in status
    run_dir = fx.tiny_run(tmp_path / "seed_0")
    status = run_cli(
        predict, f"--model_dir={run_dir}", f"--output={tmp_path / 'p.csv'}"
    )
    assert "at least one image" in status
    status = run_cli(
        predict,
        f"--model_dir={run_dir}",
        f"--output={tmp_path / 'p.csv'}",
        tmp_path / "missing.jpg",
    )
    assert "No such file or folder" in status
    assert (
        run_cli(predict, "--tta=9", f"--model_dir={run_dir}", "--output=x", image) == 2
    )
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.slow
def test_predict_command_line(tmp_path):
    # The real entry point in a fresh interpreter (absl app.run, exit status).
    # Issue 14: a 16000x16000 PNG of 0.75 MB took a 4-image job to 1.6 GiB; it is
    # skipped from its header now.
    run_dir = fx.tiny_run(tmp_path / "seed_0")
    image = fx.write_image_files(tmp_path / "images", [(40, 40)])[0]
    (tmp_path / "images" / "bad.jpg").write_text("x")
    hostile_files.write_black_png(tmp_path / "images" / "huge.png", 16000, 16000)
    status, stdout, stderr, peak = hostile_files.run_measured(
        [
            sys.executable,
            "-m",
            "experiments.predict",
            f"--model_dir={run_dir}",
            f"--output={tmp_path / 'p.csv'}",
            tmp_path / "images",
        ],
        cwd=REPO,
    )
    assert peak < 1.2 * 2**30, f"peak RSS {peak / 2**30:.2f} GiB"
    assert status == 1, stderr
    assert "bad.jpg" in stderr and "huge.png" in stderr
    assert stdout.splitlines()[-1].startswith("1 predicted, 2 skipped: ")
    assert read_rows(tmp_path / "p.csv")[0]["image_id"] == image.stem
    skipped = read_rows(tmp_path / "p.skipped.csv")
    assert skipped[1]["reason"].endswith("more than max_pixels=100000000")
    result = subprocess.run(
        [sys.executable, "-m", "experiments.predict", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0 and "--gradcam_dir" in result.stdout
    assert "--model_dir" in result.stdout and "--seed" in result.stdout
