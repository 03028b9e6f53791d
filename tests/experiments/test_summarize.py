"""experiments.summarize against scipy / numpy on fake run directories."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.stats

from experiments import summarize

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _fake_run(directory, accuracies, aurocs, balanced=None):
    for seed, (acc, auc) in enumerate(zip(accuracies, aurocs, strict=True)):
        seed_dir = directory / f"seed_{seed}"
        seed_dir.mkdir(parents=True)
        summary = {"seed": seed, "max_accuracy": acc, "max_auroc": auc}
        if balanced is not None:  # a multi-class run (issue 16)
            summary["max_balanced_accuracy"] = balanced[seed]
            summary["max_macro_auroc"] = auc
        (seed_dir / "summary.json").write_text(json.dumps(summary))


def test_table_compares_with_the_first_configuration(tmp_path):
    rng = np.random.default_rng(0)
    a_acc, a_auc = rng.normal(0.87, 0.01, 10), rng.normal(0.88, 0.01, 10)
    b_acc, b_auc = rng.normal(0.89, 0.01, 10), rng.normal(0.9, 0.01, 10)
    _fake_run(tmp_path / "base", a_acc, a_auc)
    _fake_run(tmp_path / "ben_graham", b_acc, b_auc)
    text = summarize.summarize(
        [tmp_path / "base", tmp_path / "ben_graham"], samples=2000
    )
    lines = [line for line in text.splitlines() if line.startswith("| ben_graham")]
    assert len(lines) == 2
    cells = [cell.strip() for cell in lines[0].strip("|").split("|")]
    p = scipy.stats.ttest_ind(b_acc, a_acc, equal_var=False).pvalue
    assert float(cells[-1]) == pytest.approx(p, abs=1e-4)
    assert float(cells[5]) == pytest.approx(b_acc.mean() - a_acc.mean(), abs=1e-4)
    assert cells[2] == f"{b_acc.mean():.4f} ± {b_acc.std(ddof=1):.4f}"


def test_multiclass_runs_compare_balanced_accuracy(tmp_path):
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.6, 0.02, 6), rng.normal(0.65, 0.02, 6)
    _fake_run(tmp_path / "ce", a + 0.2, a + 0.3, balanced=a)
    _fake_run(tmp_path / "focal", b + 0.2, b + 0.3, balanced=b)
    text = summarize.summarize([tmp_path / "ce", tmp_path / "focal"], samples=2000)
    assert "### max_balanced_accuracy" in text and "### max_macro_auroc" in text
    block = text.split("### max_balanced_accuracy")[1]
    line = next(row for row in block.splitlines() if row.startswith("| focal"))
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    p = scipy.stats.ttest_ind(b, a, equal_var=False).pvalue
    assert float(cells[-1]) == pytest.approx(p, abs=1e-4)
    assert cells[2] == f"{b.mean():.4f} ± {b.std(ddof=1):.4f}"


def test_cli_prints_and_writes_the_table(tmp_path):
    _fake_run(tmp_path / "a", [0.8, 0.82, 0.81], [0.85, 0.86, 0.84])
    _fake_run(tmp_path / "b", [0.83, 0.84, 0.82], [0.88, 0.87, 0.86])
    out = tmp_path / "table.md"
    result = subprocess.run(
        [sys.executable, "-m", "experiments.summarize", str(tmp_path / "a"),
         str(tmp_path / "b"), f"--output={out}", "--names=none,ben_graham"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "| ben_graham | 3 |" in result.stdout
    assert out.read_text() in result.stdout + "\n"


def test_a_directory_without_runs_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no finished run"):
        summarize.summarize([tmp_path])
