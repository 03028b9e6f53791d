"""experiments.main: flags, bad input, the config it builds, the offline demo (slow)."""

import json
import os
import subprocess
import sys

import pytest
from absl import flags

from experiments import main as main_module
from skinkeras.training import loop

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The README's offline demo command (`--preset=demo`).
DEMO_FLAGS = [
    "--dataset=synthetic_lesions",
    "--weights=none",
    "--model=resnet50",
    "--image_size=48",
    "--head_epochs=1",
    "--epochs=8",
    "--lr=3e-3",
]


def _cli(*args, timeout=120):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "experiments.main", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def parsed():
    """Parses flags in-process; restores the defaults afterwards."""

    def parse(*args):
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["experiments.main", *args])
        return flags.FLAGS

    yield parse
    flags.FLAGS.unparse_flags()


def test_helpfull_documents_every_flag_of_the_issue():
    result = _cli("--helpfull")  # absl exits with 1 after printing help
    for name in (
        "model", "arl", "se", "preprocessing", "dataset", "data_dir", "image_size",
        "batch_size", "head_epochs", "head_lr", "epochs", "lr", "oversample",
        "augment", "lighting", "flip", "warp", "weights", "seed", "num_seeds",
        "seeds", "model_dir", "strategy", "tpu", "mixed_precision", "jit_compile",
        "deterministic", "train_bn", "weight_decay", "beta_2", "epsilon",
    ):  # fmt: skip
        assert f"--{name}:" in result.stdout or f"--[no]{name}:" in result.stdout, name
    assert "<auto|cpu|gpu|mirrored|tpu|multiworker>" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model=vgg"], "value should be one of <resnet50|effnet>"),
        (["--strategy=horovod"], "value should be one of <auto|cpu|gpu"),
        (["--model=resnet50", "--se"], "--se applies only to --model=effnet"),
        (["--head_epochs=-1"], "--head_epochs=-1"),
        (["--noaugment", "--lighting"], "remove --noaugment"),
        (["--noaugment", "--warp"], "remove --noaugment"),
        (["--seed=-1"], "--seed=-1"),
    ],
)
def test_bad_flags_fail_before_anything_runs(args, message):
    result = _cli(*args)
    assert result.returncode != 0
    assert message in result.stderr


def test_flags_become_one_config(parsed, monkeypatch, tmp_path):
    seen = {}

    def fake_run_seeds(config, seeds, **kwargs):
        seen["config"], seen["seeds"] = config, seeds
        return []

    monkeypatch.setattr(loop, "run_seeds", fake_run_seeds)
    parsed(
        "--model=effnet", "--arl", "--nose", "--num_seeds=3", "--seed=5", "--lr=1e-3"
    )
    assert main_module.main(["experiments.main"]) == 0
    config = seen["config"]
    assert seen["seeds"] == [5, 6, 7] == config.seeds
    assert (config.model, config.arl, config.se, config.lr) == (
        "effnet",
        True,
        False,
        1e-3,
    )
    assert config.model_dir == "runs/effnet_arl_none"
    assert (config.head_epochs, config.epochs, config.batch_size) == (4, 20, 16)
    # The study's protocol by default (README, "The study's protocol").
    assert config.augment and config.oversample and not config.lighting
    assert (config.epsilon, config.weight_decay, config.deterministic) == (
        1e-8,
        0.01,
        False,
    )


def test_demo_preset_is_the_readme_command(parsed):
    parsed("--preset=demo")
    from_preset = main_module.config_from_flags()
    parsed(*DEMO_FLAGS)
    assert main_module.config_from_flags() == from_preset


def test_preset_values_yield_to_explicit_flags(parsed):
    parsed("--preset=exp4_effnet_se_arl", "--epochs=3", "--seeds=1,4")
    config = main_module.config_from_flags()
    assert (config.model, config.se, config.arl, config.augment) == (
        "effnet",
        True,
        True,
        True,
    )
    assert config.epochs == 3 and config.seeds == [1, 4]


def test_unprepared_isic_dataset_prints_the_tfds_build_command(
    parsed, tmp_path, capsys
):
    parsed(
        "--dataset=isic2017", f"--data_dir={tmp_path}", f"--model_dir={tmp_path}/run"
    )
    assert main_module.main(["experiments.main"]) == 1
    error = capsys.readouterr().err
    assert "tfds build isic2017" in error
    assert "Traceback" not in error


@pytest.mark.slow
def test_offline_demo_reaches_auroc_0_8(tmp_path):
    """The README's main command: synthetic lesions, no network, 2 CPU cores."""
    result = _cli(
        *DEMO_FLAGS,
        "--deterministic",  # op determinism and the fixed seed 0: not flaky
        f"--data_dir={tmp_path / 'tfds'}",
        f"--model_dir={tmp_path / 'run'}",
        timeout=3600,  # CI runs the slow tests two at a time
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "seed_0" / "summary.json").read_text())
    assert summary["max_auroc"] >= 0.8, summary["history"]
    assert (tmp_path / "run" / "results.md").exists()


@pytest.mark.slow
def test_three_class_run_with_class_weights_and_focal_loss_end_to_end(tmp_path):
    """N classes through TFDS, flags, loop and tables: 32 px, 1 + 1 epochs."""
    result = _cli(
        "--dataset=synthetic_lesions",
        "--label=label",  # nevus / melanoma / seborrheic keratosis
        "--class_weight=balanced",
        "--loss=focal",
        "--focal_gamma=1",
        "--model=effnet",
        "--weights=none",
        "--image_size=32",
        "--head_epochs=1",
        "--epochs=1",
        f"--data_dir={tmp_path / 'tfds'}",
        f"--model_dir={tmp_path / 'run'}",
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "seed_0" / "summary.json").read_text())
    assert len(summary["history"]) == 2
    assert 0.0 <= summary["max_balanced_accuracy"] <= 1.0
    assert len(summary["final_confusion_matrix"]) == 3
    assert "max_balanced_accuracy" in (tmp_path / "run" / "results.md").read_text()
    assert "balanced accuracy" in result.stdout


def test_dataset_defined_label_takes_the_datasets_classes(parsed, monkeypatch):
    from skinkeras import data

    asked = []

    def dataset_info(dataset, data_dir=None, *, label):
        asked.append((dataset, data_dir, label))
        names = ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]
        return {"num_classes": len(names), "class_names": names}

    monkeypatch.setattr(data, "dataset_info", dataset_info)
    parsed(
        "--dataset=isic2019",
        "--label=diagnosis",
        "--class_weight=balanced",
        "--loss=focal",
        "--focal_gamma=1.5",
    )
    config = main_module.config_from_flags()
    assert asked == [("isic2019", None, "diagnosis")]
    assert config.num_classes == 9 and config.class_names[0] == "MEL"
    assert (config.class_weight, config.loss, config.focal_gamma) == (
        "balanced",
        "focal",
        1.5,
    )


def test_focal_gamma_needs_the_focal_loss(parsed):
    with pytest.raises(flags.IllegalFlagValueError, match="focal_gamma=3.0"):
        parsed("--focal_gamma=3")
