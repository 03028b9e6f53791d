"""Multi-seed tables and comparisons against numpy / scipy references."""

import csv
import os

import numpy as np
import pytest
import scipy.stats

from skinkeras.training import results


def _summaries(values_acc, values_auc):
    return [
        {"seed": i, "max_accuracy": a, "max_auroc": b}
        for i, (a, b) in enumerate(zip(values_acc, values_auc, strict=True))
    ]


def test_describe_matches_numpy():
    values = np.random.default_rng(0).uniform(0.8, 0.9, 10)
    got = results.describe(values)
    assert got["mean"] == pytest.approx(values.mean())
    assert got["std"] == pytest.approx(
        np.sqrt(((values - values.mean()) ** 2).sum() / 9)
    )
    sorted_values = np.sort(values)
    # Linear interpolation between order statistics (pandas' describe): rank p*(n-1).
    for name, p in (("25%", 0.25), ("50%", 0.5), ("75%", 0.75)):
        rank = p * 9
        low = int(np.floor(rank))
        expected = sorted_values[low] + (rank - low) * (
            sorted_values[min(low + 1, 9)] - sorted_values[low]
        )
        assert got[name] == pytest.approx(expected)
    assert got["max"] == values.max()


def test_write_results_writes_markdown_and_csv(tmp_path):
    acc, auc = [0.87, 0.88, 0.86], [0.9, 0.91, 0.89]
    results.write_results(tmp_path, _summaries(acc, auc), title="resnet50_none")
    text = (tmp_path / "results.md").read_text()
    assert "| max_accuracy | 3 | 0.8700 |" in text
    with open(tmp_path / "results.csv") as file:
        rows = list(csv.DictReader(file))
    assert [row["score"] for row in rows] == ["max_accuracy", "max_auroc"]
    assert float(rows[1]["max"]) == pytest.approx(0.91)
    assert float(rows[0]["std"]) == pytest.approx(np.std(acc, ddof=1))
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_multiclass_runs_add_balanced_accuracy_and_macro_auroc(tmp_path):
    summaries = _summaries([0.7, 0.8], [0.9, 0.92])
    for summary, value in zip(summaries, [0.55, 0.65], strict=True):
        summary.update(max_balanced_accuracy=value, max_macro_auroc=value + 0.3)
    rows = results.write_results(tmp_path, summaries)
    assert [row["score"] for row in rows] == [
        "max_accuracy",
        "max_auroc",
        "max_balanced_accuracy",
        "max_macro_auroc",
    ]
    assert rows[2]["mean"] == pytest.approx(0.6)
    assert rows[3]["std"] == pytest.approx(np.std([0.85, 0.95], ddof=1))
    # A binary run among them: only the study's two scores are shared.
    assert results.scores_of([*summaries, _summaries([0.8], [0.9])[0]]) == (
        "max_accuracy",
        "max_auroc",
    )


def test_welch_matches_the_textbook_formula():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.87, 0.01, 10), rng.normal(0.88, 0.02, 8)
    t, p = results.welch_t_test(a, b)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    t_ref = (b.mean() - a.mean()) / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    assert t == pytest.approx(t_ref)
    assert p == pytest.approx(2 * scipy.stats.t.sf(abs(t_ref), df))


def _scipy_percentile_interval(a, b, confidence, samples):
    return scipy.stats.bootstrap(
        (b, a),
        lambda x, y, axis: np.mean(x, axis=axis) - np.mean(y, axis=axis),
        n_resamples=samples,
        confidence_level=confidence,
        method="percentile",
        random_state=np.random.default_rng(3),
    ).confidence_interval


def test_bootstrap_interval_agrees_with_scipy():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0.87, 0.01, 10), rng.normal(0.885, 0.01, 10)
    # 200,000 resamples (0.3 s): the two Monte Carlo estimates then differ by
    # 2e-5 here (at most 8e-5 over 20 pairs of seeds), while the ends of a 93 %
    # (or 94 %) interval lie 5e-4 to 6.5e-4 (2.7e-4) from the 95 % ones.
    samples, tolerance = 200_000, 1.5e-4
    low, high = results.bootstrap_difference(a, b, samples=samples, seed=0)
    reference = _scipy_percentile_interval(a, b, 0.95, samples)
    assert low == pytest.approx(reference.low, abs=tolerance)
    assert high == pytest.approx(reference.high, abs=tolerance)
    assert low < b.mean() - a.mean() < high
    # The tolerance tells a 93 % interval from a 95 % one.
    narrower = _scipy_percentile_interval(a, b, 0.93, samples)
    assert narrower.low - reference.low > 2 * tolerance
    assert reference.high - narrower.high > 2 * tolerance


def test_compare_first_group_is_the_reference():
    first = _summaries([0.86, 0.87, 0.88], [0.88, 0.89, 0.9])
    second = _summaries([0.88, 0.89, 0.9], [0.9, 0.91, 0.92])
    rows = results.compare([("base", first), ("new", second)], samples=2000)
    by_key = {(row["configuration"], row["score"]): row for row in rows}
    assert by_key[("base", "max_accuracy")]["p"] is None
    row = by_key[("new", "max_accuracy")]
    assert row["diff"] == pytest.approx(0.02)
    assert row["p"] == pytest.approx(
        scipy.stats.ttest_ind(
            [0.88, 0.89, 0.9], [0.86, 0.87, 0.88], equal_var=False
        ).pvalue
    )
    text = results.format_comparison(rows)
    assert "| new | 3 |" in text and "+0.0200" in text
