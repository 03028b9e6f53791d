"""experiments.gradcam: a comparison grid from two small saved runs."""

import json

import cv2
import matplotlib.image
import numpy as np
import pytest

from experiments import deploy_cli
from experiments import gradcam as gradcam_cli


def _save_run(run_dir, *, name, arl, preprocessing="none"):
    from skinkeras.models import build_model

    seed_dir = run_dir / "seed_0"
    seed_dir.mkdir(parents=True)
    model = build_model(name, arl=arl, weights=None, input_shape=(64, 64, 3))
    model.save(seed_dir / "model.keras")
    config = {
        "model": name,
        "arl": arl,
        "image_size": 64,
        "preprocessing": preprocessing,
    }
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


def test_grid_of_two_runs(tmp_path, image_files, capsys):
    _save_run(tmp_path / "effnet", name="effnet", arl=False)
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


def test_lesion_mask_runs_are_refused(tmp_path):
    run = tmp_path / "masked"
    (run / "seed_0").mkdir(parents=True)
    (run / "seed_0" / "model.keras").write_bytes(b"")
    (run / "config.json").write_text(json.dumps({"preprocessing": "lesion_mask"}))
    with pytest.raises(ValueError, match="lesion mask"):
        gradcam_cli.load_model_run(run)
