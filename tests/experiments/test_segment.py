"""experiments.segment: flags → SegmentConfig, and an offline run (slow)."""

import json

import pytest

from experiments import deploy_cli, segment
from skinkeras.segmentation.config import SegmentConfig
from tests.segmentation.test_training import check_finished_run


def test_defaults_are_the_study_protocol():
    deploy_cli.parse(segment.FLAGS, ["segment"])
    config = segment.config_from_flags()
    assert config.dataset == "isic2018_task1"
    assert (config.batch_size, config.head_epochs, config.epochs) == (8, 2, 10)
    assert config.lr == 3e-4
    assert config.lr * config.encoder_lr_factor == pytest.approx(3e-5)
    assert config.encoder == "resnet50" and config.weights == "imagenet"


def test_flags_map_to_config():
    deploy_cli.parse(
        segment.FLAGS,
        [
            "segment",
            "--dataset=synthetic_lesions",
            "--encoder=efficientnet_b0",
            "--weights=none",
            "--image_size=64",
            "--loss=bce_dice",
            "--noaugment",
        ],
    )
    config = segment.config_from_flags()
    assert config.dataset == "synthetic_lesions" and config.encoder == "efficientnet_b0"
    assert config.image_size == 64 and config.loss == "bce_dice" and not config.augment


def test_bad_flag_exits():
    with pytest.raises(SystemExit):
        deploy_cli.parse(segment.FLAGS, ["segment", "--encoder=vgg16"])


@pytest.mark.slow
def test_offline_run_on_synthetic_lesions(tmp_path, capsys):
    """EfficientNet-B0's U-Net, two stages, through the command: the one end-to-end
    run of a real encoder (the library's resume test trains a tiny one)."""
    deploy_cli.parse(
        segment.FLAGS,
        [
            "segment",
            f"--model_dir={tmp_path / 'seg'}",
            f"--data_dir={tmp_path / 'tfds'}",
            "--dataset=synthetic_lesions",
            "--train_split=train[:16]",
            "--validation_split=validation[:8]",
            "--encoder=efficientnet_b0",
            "--weights=none",
            "--image_size=32",
            "--batch_size=4",
            "--head_epochs=1",
            "--epochs=1",
            "--loss=bce_dice",
        ],
    )
    assert segment.main(["segment"]) == 0
    assert "validation Dice" in capsys.readouterr().out
    run = tmp_path / "seg"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs"] == 2
    config = SegmentConfig.from_dict(json.loads((run / "config.json").read_text()))
    check_finished_run(run, config, None, summary)


def test_a_locked_run_directory_is_refused_before_training(tmp_path, monkeypatch):
    """Issue 14: one writer per run directory."""
    from skinkeras import rundir
    from skinkeras.segmentation import training

    def must_not_train(*args, **kwargs):
        raise AssertionError("trained on a locked directory")

    monkeypatch.setattr(training, "train_segmenter", must_not_train)
    deploy_cli.parse(segment.FLAGS, ["segment", f"--model_dir={tmp_path}"])
    with rundir.lock(tmp_path):
        with pytest.raises(SystemExit, match=f"{tmp_path} is in use .*pid"):
            segment.main(["segment"])
