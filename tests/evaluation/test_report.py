"""`skinkeras.evaluation.report`: a notebook's call, without flags or a run, writes the
plots and report.md of its own numbers; report.md's tables against the dict."""

import matplotlib.image
import numpy as np
import pytest

from skinkeras import evaluation as ev
from tests.evaluation.test_summary import predictions

PNG = b"\x89PNG\r\n\x1a\n"


def test_a_notebook_call_writes_the_report_files(tmp_path):
    labels, probabilities = predictions(11)
    found = ev.evaluate_probabilities(labels, probabilities, resamples=50)
    written = ev.write_report(
        tmp_path / "report", found, labels=labels, probabilities=probabilities
    )
    names = ["roc.png", "pr.png", "reliability.png", "confusion.png", "report.md"]
    assert written == [tmp_path / "report" / name for name in names]
    assert list(ev.PLOTS) == names[:4]
    for path in written[:4]:
        assert path.read_bytes()[:8] == PNG, path.name
        assert matplotlib.image.imread(path).shape[0] > 100  # a drawn figure
    text = written[4].read_text()
    assert text.startswith("# Evaluation\n")
    assert f"- Data: 120 images, {labels.sum()} melanoma." in text
    for name, value in ev.scalar_metrics(found).items():
        assert f"{value:.4f}" in text, name
    for name, title in ev.PLOTS.items():
        assert f"![{title}]({name})" in text


def test_the_report_takes_seeds_and_another_melanoma_column(tmp_path):
    # A diagnosis-style run lists melanoma first: its column is 0.
    labels, probabilities = predictions(12, num_classes=3, melanoma=0)
    found = ev.evaluate_probabilities(labels, probabilities, melanoma=0, resamples=20)
    seeds = {0: probabilities, 1: probabilities[:, [0, 2, 1]]}
    ev.write_report(
        tmp_path,
        found,
        labels=labels,
        probabilities=probabilities,
        seed_probabilities=seeds,
        melanoma=0,
    )
    assert (tmp_path / "roc.png").read_bytes()[:8] == PNG


def test_report_markdown_names_the_run_its_seeds_and_the_comparison():
    labels, probabilities = predictions(13)
    per_seed = [
        ev.evaluate_probabilities(labels, probabilities**k, resamples=20)
        for k in (1, 2)
    ]
    found = {
        "model_dir": "runs/effnet",
        "seeds": [0, 1],
        "evaluated_on": "isic2017 test",
        **ev.evaluate_probabilities(labels, probabilities, resamples=20),
        "per_seed": ev.seed_summary([0, 1], per_seed),
        "compare": {
            "model_dir": "runs/resnet",
            "auc1": 0.81,
            "auc2": 0.75,
            "difference": 0.06,
            "z": 1.9,
            "p_value": 0.0574,
            "variance": 0.001,
        },
    }
    text = ev.report_markdown(found)
    assert text.startswith("# Evaluation of runs/effnet\n")
    assert f"- Data: isic2017 test: 120 images, {labels.sum()} melanoma." in text
    assert "- Model: ensemble of seeds [0, 1]." in text
    assert "## Metrics (ensemble)" in text
    mean = found["per_seed"]["metrics"]["AUROC"]["mean"]
    std = np.std([f["auroc"]["point"] for f in per_seed], ddof=1)
    assert f"{mean:.4f} ± {std:.4f}" in text
    assert "| 0.8100 | 0.7500 | 0.0600 | 1.9000 | 0.0574 |" in text


def test_metrics_table_rows_and_intervals():
    labels, probabilities = predictions(14)
    found = ev.evaluate_probabilities(labels, probabilities, resamples=20)
    rows = ev.metrics_table(found)
    assert rows[:2] == ["| metric | value | 95 % interval |", "|---|---|---|"]
    auroc = found["auroc"]
    assert rows[2] == (
        f"| AUROC | {auroc['point']:.4f} | {auroc['low']:.4f} – {auroc['high']:.4f} |"
    )
    sensitivity = found["operating_point"]["intervals"]["sensitivity"]
    assert any(
        row.startswith("| operating point sensitivity |")
        and row.endswith(f"{sensitivity['low']:.4f} – {sensitivity['high']:.4f} |")
        for row in rows
    )
    assert len(rows) == 2 + len(ev.scalar_metrics(found))


@pytest.mark.parametrize("value, shown", [(None, "n/a"), (float("nan"), "n/a")])
def test_undefined_values_read_n_a(value, shown):
    labels, probabilities = predictions(15)
    found = ev.evaluate_probabilities(labels, probabilities, resamples=20)
    found["operating_point"]["ppv"] = value
    assert f"| operating point PPV | {shown} |" in "\n".join(ev.metrics_table(found))
