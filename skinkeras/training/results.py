"""Result files: a run's ``summary.json`` (`make_summary`), the study's multi-seed
tables, and comparisons.

SPEC: a run's score is the maximum validation accuracy (and separately the maximum
AUROC) over its epochs; a configuration is reported as mean, std, 25 %, 50 %, 75 % and
max of those per-run scores over its seeds. The comparison adds what the study lacked:
Welch's t-test and a bootstrap 95 % interval of the difference of means.
"""

import csv
import io
import pathlib

import numpy as np
import scipy.stats

from skinkeras import metrics, rundir

SCORES = ("max_accuracy", "max_auroc")
# Multi-class runs (issue 16) also score ISIC 2019's balanced accuracy and the mean
# one-vs-rest AUROC; the tables add them when every summary has them.
MULTICLASS_SCORES = ("max_balanced_accuracy", "max_macro_auroc")
STATISTICS = ("mean", "std", "25%", "50%", "75%", "max")


def describe(values):
    """mean, std (sample, ddof=1 as pandas' describe), 25/50/75 % (linear) and max."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return {name: float("nan") for name in STATISTICS}
    q25, q50, q75 = np.percentile(values, [25, 50, 75])
    return {
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if values.size > 1 else float("nan"),
        "25%": float(q25),
        "50%": float(q50),
        "75%": float(q75),
        "max": float(values.max()),
    }


def scores_of(summaries):
    """`SCORES`, and the `MULTICLASS_SCORES` that every summary holds."""
    extra = [s for s in MULTICLASS_SCORES if all(s in summary for summary in summaries)]
    return (*SCORES, *extra)


def _best(history, key):
    values = np.array([record[f"val_{key}"] for record in history], dtype=np.float64)
    if values.size == 0 or np.all(np.isnan(values)):
        return float("nan"), None
    index = int(np.nanargmax(values))
    return float(values[index]), history[index]["epoch"]


def make_summary(config, state, *, model_name):
    """The run's ``summary.json``: per-run maxima, final values, history, alphas."""
    history = state.history
    summary = {"seed": config.seed, "model_name": model_name, "epochs": len(history)}
    summary["max_accuracy"], summary["best_epoch_accuracy"] = _best(history, "accuracy")
    summary["max_auroc"], summary["best_epoch_auroc"] = _best(history, "auroc")
    final = history[-1] if history else {}
    multiclass = config.num_classes > 2
    if multiclass:  # issue 16: ISIC 2019's score and the mean one-vs-rest AUROC
        for key in metrics.MULTICLASS_METRICS:
            summary[f"max_{key}"], summary[f"best_epoch_{key}"] = _best(history, key)
    for key in metrics.VALIDATION_METRICS + (
        metrics.MULTICLASS_METRICS if multiclass else ()
    ):
        summary[f"final_{key}"] = final.get(f"val_{key}", float("nan"))
    if multiclass:
        summary["final_confusion_matrix"] = final.get("val_confusion_matrix")
    summary["final_train_loss"] = final.get("loss", float("nan"))
    summary["history"] = history
    summary["alphas"] = state.alphas
    return summary


def seed_table(summaries):
    """Rows of the multi-seed table: one per score, columns n and STATISTICS."""
    rows = []
    for score in scores_of(summaries):
        values = [summary[score] for summary in summaries]
        rows.append({"score": score, "n": len(values), **describe(values)})
    return rows


def format_markdown(rows, *, title=None):
    header = ["score", "n", *STATISTICS]
    lines = [f"# {title}", ""] if title else []
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for row in rows:
        cells = [row["score"], str(row["n"])]
        cells += [f"{row[name]:.4f}" for name in STATISTICS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def format_csv(rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["score", "n", *STATISTICS])
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()


def write_results(model_dir, summaries, *, title=None):
    """Writes ``results.md`` and ``results.csv`` (atomically) into ``model_dir``."""
    rows = seed_table(summaries)
    seeds = ", ".join(str(summary.get("seed", "?")) for summary in summaries)
    text = format_markdown(rows, title=title)
    text += f"\nPer-run maximum over epochs on the validation split; seeds: {seeds}.\n"
    rundir.atomic_write_text(pathlib.Path(model_dir) / rundir.RESULTS_MD, text)
    rundir.atomic_write_text(
        pathlib.Path(model_dir) / rundir.RESULTS_CSV, format_csv(rows)
    )
    return rows


def load_summaries(model_dir):
    """The ``summary.json`` of every finished seed under ``model_dir`` (seed order)."""
    return [
        rundir.read_json(path / rundir.SUMMARY)
        for _, path in rundir.seed_dirs(model_dir)
        if (path / rundir.SUMMARY).is_file()
    ]


def welch_t_test(a, b):
    """Welch's unequal-variance t-test of mean(b) vs mean(a): (t, two-sided p)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size < 2 or b.size < 2:
        return float("nan"), float("nan")
    result = scipy.stats.ttest_ind(b, a, equal_var=False)
    return float(result.statistic), float(result.pvalue)


def bootstrap_difference(a, b, *, samples=10_000, confidence=0.95, seed=0):
    """Percentile bootstrap interval of ``mean(b) - mean(a)``.

    Each group is resampled with replacement on its own (the seeds of two
    configurations are independent runs).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    mean_a = a[rng.integers(0, a.size, size=(samples, a.size))].mean(axis=1)
    mean_b = b[rng.integers(0, b.size, size=(samples, b.size))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(mean_b - mean_a, [tail, 100.0 - tail])
    return float(low), float(high)


def compare(groups, *, samples=10_000, seed=0):
    """Side-by-side rows for several configurations, each compared with the first.

    Args:
        groups: list of ``(name, summaries)``.

    The scores are `scores_of` all the summaries. Returns one dict per
    (configuration, score) with n, mean, std, median, max and,
    except for the first configuration, ``diff`` (mean minus the first's mean),
    ``ci_low``/``ci_high`` (bootstrap 95 %) and Welch's ``t`` and ``p``.
    """
    if not groups:
        raise ValueError("`groups` must not be empty. Received: groups=[]")
    rows = []
    scores = scores_of([summary for _, summaries in groups for summary in summaries])
    for score in scores:
        reference = [summary[score] for summary in groups[0][1]]
        for index, (name, summaries) in enumerate(groups):
            values = [summary[score] for summary in summaries]
            stats = describe(values)
            row = {
                "configuration": name,
                "score": score,
                "n": len(values),
                "mean": stats["mean"],
                "std": stats["std"],
                "50%": stats["50%"],
                "max": stats["max"],
            }
            if index == 0:
                row.update(diff=None, ci_low=None, ci_high=None, t=None, p=None)
            else:
                low, high = bootstrap_difference(
                    reference, values, samples=samples, seed=seed
                )
                t, p = welch_t_test(reference, values)
                row.update(
                    diff=stats["mean"] - float(np.nanmean(reference)),
                    ci_low=low,
                    ci_high=high,
                    t=t,
                    p=p,
                )
            rows.append(row)
    return rows


def format_comparison(rows):
    """Markdown table of ``compare`` rows, one block per score."""

    def number(value):
        return "—" if value is None else f"{value:.4f}"

    header = "| configuration | n | mean ± std | median | max | Δ mean vs first | 95 % CI (bootstrap) | Welch p |"
    lines = []
    for score in dict.fromkeys(row["score"] for row in rows):  # in `compare`'s order
        lines += [f"### {score}", "", header, "|---|---|---|---|---|---|---|---|"]
        for row in rows:
            if row["score"] != score:
                continue
            ci = (
                "—"
                if row["ci_low"] is None
                else f"[{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]"
            )
            diff = "—" if row["diff"] is None else f"{row['diff']:+.4f}"
            lines.append(
                f"| {row['configuration']} | {row['n']} | {row['mean']:.4f} ± "
                f"{row['std']:.4f} | {row['50%']:.4f} | {row['max']:.4f} | {diff} | "
                f"{ci} | {number(row['p'])} |"
            )
        lines.append("")
    return "\n".join(lines)
