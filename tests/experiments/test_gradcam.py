"""experiments.gradcam: a comparison grid from two small saved runs."""

import json

import cv2
import matplotlib.image
import numpy as np
import pytest

from experiments import deploy_cli
from experiments import gradcam as gradcam_cli
from skinkeras.config import TrainConfig
from skinkeras.gradcam import overlay
from skinkeras.models import pipeline
from tests import deploy_fixtures as fx
from tests.inference.helpers import training_path_images
from tests.test_gradcam import reference_gradcam


def _save_run(run_dir, *, name, arl, preprocessing="none", bare=False):
    """A run whose model.keras is what training saves (the pipeline), or with
    `bare` the network alone (runs written before issue 15, item 6)."""
    from skinkeras.models import build_model

    seed_dir = run_dir / "seed_0"
    seed_dir.mkdir(parents=True)
    config = {
        "model": name,
        "arl": arl,
        "image_size": 64,
        "preprocessing": preprocessing,
    }
    model = build_model(name, arl=arl, weights=None, input_shape=(64, 64, 3))
    if not bare:
        model = pipeline.run_model(model, TrainConfig.from_dict(config))
    model.save(seed_dir / "model.keras")
    (run_dir / "config.json").write_text(json.dumps(config))
    (seed_dir / "config.json").write_text(json.dumps(config))


@pytest.fixture
def image_files(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        image = rng.integers(0, 255, (80, 100, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"ISIC_000000{i}.jpg"), image)
    return folder


@pytest.mark.slow  # 20-40 s of training: the default suite stays well under 15 min
def test_grid_of_two_runs(tmp_path, image_files, capsys):
    _save_run(tmp_path / "effnet", name="effnet", arl=False, bare=True)
    _save_run(
        tmp_path / "effnet_arl", name="effnet", arl=True, preprocessing="ben_graham"
    )
    out = tmp_path / "grid.png"
    deploy_cli.parse(
        gradcam_cli.FLAGS,
        [
            "gradcam",
            f"--model_dirs={tmp_path / 'effnet'},{tmp_path / 'effnet_arl'}",
            f"--images={image_files}",
            f"--out={out}",
            "--class_index=1",
        ],
    )
    assert gradcam_cli.main(["gradcam"]) == 0
    assert "2 images x 2 runs" in capsys.readouterr().out
    grid = matplotlib.image.imread(out)
    assert grid.shape[1] > grid.shape[0]  # 3 columns, 2 rows


def test_explain_overlays_the_heatmap_of_the_runs_own_input(tmp_path, image_files):
    run = gradcam_cli.load_model_run(
        fx.tiny_run(tmp_path / "run", image_size=32, preprocessing="ben_graham")
    )
    # The network the run's model.keras (a pipeline) holds, built again.
    model = fx.tiny_classifier(image_size=32)
    paths = sorted(image_files.iterdir())
    overlays, natural, probabilities = gradcam_cli.explain(
        run, paths, class_index=1, alpha=0.4
    )
    # References: the training path's images (the model sees Ben Graham's, the
    # picture shows the plain resized image), an independent Grad-CAM of class 1,
    # a numpy softmax.
    plain = training_path_images(paths, image_size=32, preprocessing="none")
    inputs = training_path_images(paths, image_size=32, preprocessing="ben_graham")
    heatmaps = reference_gradcam(model, inputs, "top_activation", [1, 1])
    np.testing.assert_array_equal(heatmaps.max(axis=(1, 2)), 1.0)
    assert np.all(heatmaps.std(axis=(1, 2)) > 0.1)
    # `plain` is rounded like the training cache, `natural` is not: 1 level.
    np.testing.assert_allclose(np.stack(natural), plain, atol=1)
    for actual, image, heatmap in zip(overlays, plain, heatmaps, strict=True):
        # Heatmaps agree to ~1e-6, but a colormap bin may flip: 1-2 levels.
        np.testing.assert_allclose(actual, overlay(image, heatmap), atol=2)
    logits = np.asarray(model(inputs, training=False), np.float64)
    expected = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(probabilities, expected[:, 1], atol=1e-6)


def test_lesion_mask_runs_are_refused(tmp_path):
    run = tmp_path / "masked"
    fx.tiny_run(run / "seed_0", preprocessing="lesion_mask")
    with pytest.raises(ValueError, match="lesion mask"):
        gradcam_cli.load_model_run(run)


def test_metadata_runs_are_refused(tmp_path):
    # Issue 26: its network takes {"image", "age", "sex", "site"}, which Grad-CAM
    # here does not feed.
    run = fx.tiny_run(tmp_path / "meta", metadata=fx.ENCODING)
    with pytest.raises(ValueError, match="reads patient metadata"):
        gradcam_cli.load_model_run(run)
