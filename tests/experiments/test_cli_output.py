"""What the commands print: a quiet start-up unless --verbosity asks, stage headers."""

import os
import re
import subprocess
import sys

import pytest
from absl import flags

from experiments import main as main_module
from skinkeras.training import seeds as seeds_module

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# What TensorFlow's C++ libraries print at start-up on a machine without a GPU.
TF_START_UP = ("absl::InitializeLog", "cudart_stub", "cuInit", "cpu_feature_guard")

# A stand-in command on experiments.deploy_cli: an absl INFO and WARNING line, then
# the TF_CPP_MIN_LOG_LEVEL that TensorFlow would see.
SCRIPT = """
import os, sys
from absl import logging
from experiments import deploy_cli

def main(argv):
    logging.info("an info line")
    logging.warning("a warning line")
    print("TF_CPP_MIN_LOG_LEVEL", os.environ.get("TF_CPP_MIN_LOG_LEVEL"))

sys.argv = ["script", *sys.argv[1:]]
deploy_cli.run(main)
"""


def _run(args, *, env=None, timeout=60):
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith("TF_CPP_MIN_LOG")
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    "args, env, info, level",
    [
        ([], {}, False, "3"),
        (["--verbosity=0"], {}, False, "3"),
        (["--verbosity=1"], {}, True, "None"),
        (["--verbosity=2"], {}, True, "None"),
        ([], {"TF_CPP_MIN_LOG_LEVEL": "1"}, False, "1"),  # the user's own setting
    ],
)
def test_verbosity_maps_to_absl_and_tensorflow_logging(args, env, info, level):
    result = _run(["-c", SCRIPT, *args], env=env)
    assert result.returncode == 0, result.stderr
    assert ("an info line" in result.stderr) == info
    assert "a warning line" in result.stderr
    assert f"TF_CPP_MIN_LOG_LEVEL {level}\n" in result.stdout


def test_verbosity_is_accepted_by_commands_with_their_own_flags(tmp_path):
    result = _run(["-m", "experiments.plot_alphas", "--verbosity=1", str(tmp_path)])
    assert result.returncode == 1  # no run there, but the flag parsed
    assert "No summary.json" in result.stderr


def test_main_starts_without_tensorflow_log_lines(tmp_path):
    # Imports TensorFlow, picks a device, then stops at the unprepared dataset.
    result = _run(
        [
            "-m",
            "experiments.main",
            "--dataset=isic2017",
            f"--data_dir={tmp_path}",
            f"--model_dir={tmp_path / 'run'}",
        ],
        timeout=600,
    )
    assert result.returncode == 1
    assert "tfds build isic2017" in result.stderr
    for text in TF_START_UP:
        assert text not in result.stderr
    # No C++ log lines (I0000 ...) and no absl INFO lines (I1130 12:00:00 ...).
    assert not re.search(r"^[IEW]0000 |^I\d{4} ", result.stderr, re.M), result.stderr


@pytest.fixture
def parsed():
    def parse(*args):
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["experiments.main", *args])

    yield parse
    flags.FLAGS.unparse_flags()


@pytest.mark.parametrize(
    "seeds, expected",
    [
        (
            "--seeds=0",
            [
                "stage 1/2: head only (backbone frozen), 4 epochs, one-cycle max lr 3e-3",
                "stage 2/2: whole model, 20 epochs, one-cycle max lr 3e-4",
            ],
        ),
        (
            "--seeds=1,2",
            [
                "seed 1, stage 1/2: head only (backbone frozen), 4 epochs, "
                "one-cycle max lr 3e-3",
                "seed 1, stage 2/2: whole model, 20 epochs, one-cycle max lr 3e-4",
                "seed 2, stage 1/2: head only (backbone frozen), 4 epochs, "
                "one-cycle max lr 3e-3",
                "seed 2, stage 2/2: whole model, 20 epochs, one-cycle max lr 3e-4",
            ],
        ),
    ],
)
def test_main_prints_a_header_per_stage(
    parsed, monkeypatch, capsys, tmp_path, seeds, expected
):
    def fake_run_seeds(config, seeds, *, on_stage, **kwargs):
        for seed in seeds:  # what seeds.run_seeds reports for the study's protocol
            on_stage(seed, 1, config.head_epochs, config.head_lr)
            on_stage(seed, 2, config.epochs, config.lr)
        return []

    monkeypatch.setattr(seeds_module, "run_seeds", fake_run_seeds)
    parsed(seeds, f"--model_dir={tmp_path}")
    assert main_module.main(["experiments.main"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if "stage" in line] == expected


@pytest.mark.parametrize(
    "value, text", [(3e-3, "3e-3"), (3e-4, "3e-4"), (1e-2, "1e-2"), (2.5e-4, "2.5e-4")]
)
def test_learning_rates_read_like_the_flags(value, text):
    assert main_module.format_lr(value) == text


def test_one_epoch_is_singular():
    header = main_module.stage_header(0, 1, 1, 3e-3)
    assert (
        header
        == "stage 1/2: head only (backbone frozen), 1 epoch, one-cycle max lr 3e-3"
    )
