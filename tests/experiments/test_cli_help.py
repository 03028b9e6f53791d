"""Every experiments command: `--help` describes it and exits 0, fast, without TensorFlow;
every console script of setup.py is a zero-argument function that runs its command."""

import ast
import importlib
import inspect
import os
import re
import subprocess
import sys
import time

import pytest

from tests.fresh_python import run_python

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The goal is 1.5 s on an idle machine (README); the bound leaves room for a loaded CI.
MAX_SECONDS = 3.0

# (module, words of its description, its positional arguments, one of its flags)
CLIS = [
    ("main", "Trains one configuration of the study", "", "--head_epochs"),
    ("suite", "Runs every configuration of one of the study's", "", "--experiment"),
    ("summarize", "Puts several configurations side by side", "RUN_DIR...", "--names"),
    ("preview", "Writes a grid comparing the study's preprocessings", "", "--images"),
    ("segment", "Trains the U-Net lesion segmenter", "", "--encoder"),
    ("make_masks", "Writes the segmenter's lesion masks", "", "--segmenter"),
    ("gradcam", "Grad-CAM comparison grid of several trained runs", "", "--model_dirs"),
    ("plot_alphas", "Plots each ARL alpha over the epochs", "RUN_DIR", "--columns"),
    (
        "predict",
        "Predicts melanoma on image files with a trained run",
        "IMAGE_OR_FOLDER...",
        "--gradcam_dir",
    ),
    ("evaluate", "Evaluates a trained run on a dataset split", "", "--split"),
    ("export", "Exports a trained run: a self-contained .keras", "", "--quantize"),
]


def _imported(importtime_log):
    """Top-level packages that `python -X importtime` reports as imported."""
    return {
        match.group(1).split(".")[0]
        for match in re.finditer(r"^import time:.*\|\s*(\S+)$", importtime_log, re.M)
    }


@pytest.mark.parametrize("name, description, positional, flag", CLIS)
def test_help_describes_the_command_fast_without_tensorflow(
    name, description, positional, flag
):
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", f"experiments.{name}", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, result.stderr[-3000:]
    assert description in result.stdout
    usage = " ".join(
        filter(None, [f"python -m experiments.{name}", "[flags]", positional])
    )
    assert f"usage: {usage}\n" in result.stdout
    if positional:
        assert f"\n  {positional}: " in result.stdout  # what the argument is
    assert f"\n  {flag}: " in result.stdout
    assert "--verbosity" in result.stdout
    imported = _imported(result.stderr)
    assert "absl" in imported  # the log is read correctly
    assert not imported & {"tensorflow", "keras", "tensorflow_datasets", "matplotlib"}
    assert elapsed < MAX_SECONDS, f"{name} --help took {elapsed:.2f} s"


def test_helpfull_adds_absl_flags():
    result = subprocess.run(
        [sys.executable, "-m", "experiments.plot_alphas", "--helpfull"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "\n  --columns: " in result.stdout
    assert "--[no]logtostderr" in result.stdout


def _console_scripts():
    """``{name: "module:function"}`` from setup.py's entry_points (not installed)."""
    tree = ast.parse(open(os.path.join(REPO, "setup.py"), encoding="utf-8").read())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "entry_points":
            scripts = ast.literal_eval(node.value)["console_scripts"]
            return dict(
                (part.strip() for part in script.split("=")) for script in scripts
            )
    raise AssertionError("setup.py has no entry_points")


def test_every_command_has_a_console_script():
    targets = {target for target in _console_scripts().values()}
    assert targets == {f"experiments.{name}:cli" for name, *_ in CLIS}
    assert _console_scripts()["skinkeras-train"] == "experiments.main:cli"


@pytest.mark.parametrize("script, target", sorted(_console_scripts().items()))
def test_console_script_is_a_zero_argument_function_that_runs_the_command(
    script, target
):
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    assert callable(function) and not inspect.signature(function).parameters
    # What the installed script does: sys.argv[0] is the script's name.
    code = (
        "import importlib, sys; "
        f"sys.argv = [{script!r}, '--help']; "
        f"importlib.import_module({module_name!r}).{function_name}()"
    )
    assert f"usage: {script} [flags]" in run_python(code, timeout=60)


def test_preview_columns_are_skinkeras_preprocessings():
    # experiments.preview names them without importing skinkeras.data (TensorFlow).
    from experiments import preview
    from skinkeras.data import PREPROCESSING_NAMES

    assert tuple(preview.TITLES) == PREPROCESSING_NAMES
