"""skinkeras.rundir: atomic writes, seed directories and reading a run's config."""

import json
import os

import pytest

from skinkeras import rundir
from skinkeras.training.config import TrainConfig


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "summary.json"
    rundir.atomic_write_json(path, {"a": 1})

    class Boom:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        rundir.atomic_write_json(path, {"a": Boom()})
    assert rundir.read_json(path) == {"a": 1}
    assert os.listdir(tmp_path) == ["summary.json"]


def test_seed_dirs_in_numeric_order(tmp_path):
    for name in ("seed_10", "seed_2", "seed_x", "logs"):
        (tmp_path / name).mkdir()
    (tmp_path / "seed_3").write_text("a file, not a run")
    assert rundir.seed_dirs(tmp_path) == [
        (2, tmp_path / "seed_2"),
        (10, tmp_path / "seed_10"),
    ]
    assert rundir.seed_dir(tmp_path, 4) == tmp_path / "seed_4"


def test_read_config_fills_defaults_and_falls_back_to_the_parent(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps({"image_size": 64, "preprocessing": "ben_graham", "newer_key": 1})
    )
    (tmp_path / "seed_0").mkdir()
    config = rundir.read_config(tmp_path / "seed_0")
    # Written keys win; the others are TrainConfig's defaults, not retyped here.
    assert config == TrainConfig(image_size=64, preprocessing="ben_graham")
    (tmp_path / "seed_0" / "config.json").write_text(json.dumps({"seed": 5}))
    assert rundir.read_config(tmp_path / "seed_0").seed == 5
    with pytest.raises(FileNotFoundError, match="No config.json"):
        rundir.read_config(tmp_path / "elsewhere" / "seed_0")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text(json.dumps({"model": "vgg"}))
    with pytest.raises(ValueError, match="Received: model='vgg'"):
        rundir.read_config(tmp_path / "bad")
