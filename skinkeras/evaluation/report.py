"""The evaluation report: plots and `report.md` of a metrics dict (issue 15, item 4).

Files that `write_report` writes::

    roc.png          ROC curve, its pointwise bootstrap band, the operating point
                     (and each seed's curve, thin, for a multi-seed run)
    pr.png           precision-recall curve and the operating point
    reliability.png  reliability diagram (15 bins) and the count per bin
    confusion.png    confusion matrix at the operating point
    report.md        the metrics table with intervals, per-seed mean ± std, DeLong

The numbers come from the `evaluate_probabilities` dict; the curves from the same
(calibrated) melanoma probabilities. `experiments.evaluate --report_dir` adds
`MODEL_CARD.md` (`skinkeras.inference.evaluate.write_run_report`). matplotlib is
imported when a plot is drawn, and only its object-oriented `Figure` is used: no
pyplot state, no backend switched, so a notebook's own plots are left alone.
"""

import pathlib

import numpy as np

from skinkeras.evaluation import calibration as calibration_lib
from skinkeras.evaluation import intervals, ranking
from skinkeras.metrics import MELANOMA

__all__ = ["PLOTS", "metrics_table", "report_markdown", "write_report"]

PLOTS = {
    "roc.png": "ROC curve",
    "pr.png": "Precision-recall curve",
    "reliability.png": "Reliability diagram",
    "confusion.png": "Confusion matrix",
}


def _short_rule(threshold):
    return "p > 0.5" if threshold == ranking.ISIC_THRESHOLD else f"p >= {threshold:.3g}"


def _figure(**kwargs):
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _roc_plot(path, found, y, p, seed_probabilities):
    from sklearn import metrics as skm

    band = intervals.roc_band(
        y,
        p,
        resamples=found["resamples"],
        confidence=found["confidence"],
        seed=found["bootstrap_seed"],
    )
    figure = _figure(figsize=(5, 5))
    axes = figure.subplots()
    for k, probabilities in seed_probabilities.items():
        fpr, tpr, _ = skm.roc_curve(y, probabilities)
        axes.plot(
            fpr,
            tpr,
            color="0.7",
            lw=0.8,
            label="seeds" if k == min(seed_probabilities) else None,
        )
    percent = round(100 * found["confidence"])
    axes.fill_between(
        band.fpr, band.low, band.high, alpha=0.3, label=f"{percent} % bootstrap band"
    )
    fpr, tpr, _ = skm.roc_curve(y, p)
    auroc = found["auroc"]
    axes.plot(
        fpr,
        tpr,
        lw=2,
        label=f"AUROC {auroc['point']:.3f} ({auroc['low']:.3f}-{auroc['high']:.3f})",
    )
    point = found["operating_point"]
    axes.plot(
        1 - point["specificity"],
        point["sensitivity"],
        "o",
        color="C3",
        label=f"operating point ({_short_rule(point['threshold'])})",
    )
    axes.plot([0, 1], [0, 1], ":", color="0.5")
    axes.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC")
    axes.legend(loc="lower right", fontsize="small")
    figure.savefig(path, dpi=100, bbox_inches="tight")


def _pr_plot(path, found, y, p):
    from sklearn import metrics as skm

    precision, recall, _ = skm.precision_recall_curve(y, p)
    figure = _figure(figsize=(5, 5))
    axes = figure.subplots()
    axes.step(
        recall,
        precision,
        where="post",
        lw=2,
        label=f"AP {found['average_precision']:.3f}",
    )
    point = found["operating_point"]
    axes.plot(
        point["sensitivity"], point["ppv"], "o", color="C3", label="operating point"
    )
    axes.axhline(np.mean(y), ls=":", color="0.5", label="prevalence")
    axes.set(
        xlabel="recall (sensitivity)",
        ylabel="precision (PPV)",
        title="Precision-recall",
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    axes.legend(loc="lower left", fontsize="small")
    figure.savefig(path, dpi=100, bbox_inches="tight")


def _reliability_plot(path, found, y, p):
    curve = calibration_lib.reliability_curve(y, p)
    filled = curve.count > 0
    figure = _figure(figsize=(5, 6))
    axes, counts = figure.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    axes.plot([0, 1], [0, 1], ":", color="0.5", label="perfectly calibrated")
    axes.plot(
        curve.mean_probability[filled],
        curve.frequency[filled],
        "o-",
        label=f"ECE {found['ece']:.3f}, Brier {found['brier']:.3f}",
    )
    axes.set(ylabel="fraction of melanomas", title="Reliability (15 bins)")
    axes.legend(loc="upper left", fontsize="small")
    centres = (curve.edges[:-1] + curve.edges[1:]) / 2
    counts.bar(centres, curve.count, width=np.diff(curve.edges), color="0.6")
    counts.set(xlabel="melanoma probability", ylabel="images", xlim=(0, 1))
    figure.savefig(path, dpi=100, bbox_inches="tight")


def _confusion_plot(path, found):
    matrix = np.asarray(found["operating_point"]["confusion_matrix"])
    figure = _figure(figsize=(4, 4))
    axes = figure.subplots()
    axes.imshow(matrix, cmap="Blues")
    for (row, column), value in np.ndenumerate(matrix):
        colour = "white" if value > matrix.max() / 2 else "black"
        axes.text(column, row, str(value), ha="center", va="center", color=colour)
    names = ["other", "melanoma"]
    axes.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xticklabels=names,
        yticklabels=names,
        xlabel="predicted",
        ylabel="truth",
        title=_short_rule(found["operating_point"]["threshold"]),
    )
    figure.savefig(path, dpi=100, bbox_inches="tight")


def _value(value):
    return "n/a" if value is None or value != value else f"{value:.4f}"


def _interval(found):
    return f"{_value(found['low'])} – {_value(found['high'])}"


def metrics_table(found):
    """Markdown rows: metric | value | interval, of an `evaluate_probabilities` dict."""
    point = found["operating_point"]
    intervals = point["intervals"]
    rows = [
        ("AUROC", found["auroc"]["point"], _interval(found["auroc"])),
        ("AUROC above 80 % sensitivity (ISIC)", found["partial_auroc"], ""),
        ("average precision", found["average_precision"], ""),
    ]
    rows += [
        (f"sensitivity at specificity {target}", value, "")
        for target, value in found["sensitivity_at_specificity"].items()
    ]
    rows += [
        (f"specificity at sensitivity {target}", value, "")
        for target, value in found["specificity_at_sensitivity"].items()
    ]
    rows += [
        (f"operating point {name}", point[key], _interval(intervals[key]))
        for name, key in (
            ("sensitivity", "sensitivity"),
            ("specificity", "specificity"),
            ("PPV", "ppv"),
            ("NPV", "npv"),
        )
    ]
    rows += [
        ("operating point balanced accuracy", point["balanced_accuracy"], ""),
        ("ECE (15 bins)", found["ece"], ""),
        ("Brier score", found["brier"], ""),
    ]
    percent = round(100 * found["confidence"])
    lines = [f"| metric | value | {percent} % interval |", "|---|---|---|"]
    lines += [f"| {name} | {_value(value)} | {ci} |" for name, value, ci in rows]
    return lines


def _seed_lines(per_seed):
    seeds = per_seed["seeds"]
    lines = [
        "## Per seed",
        "",
        "Each seed alone (its own `seed_<k>/calibration.json` if any); mean ± "
        "sample std over the seeds.",
        "",
        "| metric | " + " | ".join(f"seed {k}" for k in seeds) + " | mean ± std |",
        "|---|" + "---|" * (len(seeds) + 1),
    ]
    for name, summary in per_seed["metrics"].items():
        values = " | ".join(_value(v) for v in summary["values"])
        lines.append(
            f"| {name} | {values} | {_value(summary['mean'])} ± "
            f"{_value(summary['std'])} |"
        )
    return lines + [""]


def report_markdown(found):
    """The text of `report.md` for an `evaluate_probabilities` dict.

    What `experiments.evaluate` adds to the dict is reported where present:
    ``model_dir``, ``seeds``, ``evaluated_on``, ``per_seed`` (`seed_summary`) and
    ``compare`` (DeLong's test).
    """
    point = found["operating_point"]
    calibration = found.get("calibration")
    ensemble = len(found.get("seeds", ())) > 1
    data = f"{found['evaluated_on']}: " if found.get("evaluated_on") else ""
    lines = [
        "# Evaluation" + (f" of {found['model_dir']}" if "model_dir" in found else ""),
        "",
        f"- Data: {data}{found['num_examples']} images, "
        f"{found['num_melanoma']} melanoma.",
    ]
    if "seeds" in found:
        lines.append(
            f"- Model: {'ensemble of seeds' if ensemble else 'seed'} {found['seeds']}."
        )
    lines.append(f"- Operating point: melanoma when {point['rule']}.")
    if calibration:
        lines.append(
            f"- Temperature {calibration['temperature']:.4f} (from "
            f"`{calibration.get('split')}`); before it ECE "
            f"{_value(found['uncalibrated']['ece'])}, Brier "
            f"{_value(found['uncalibrated']['brier'])}."
        )
    lines += [
        f"- Intervals: AUROC by a stratified bootstrap ({found['resamples']} "
        f"resamples, seed {found['bootstrap_seed']}); rates at the operating point "
        "by Wilson's score interval.",
        "",
        "## Metrics" + (" (ensemble)" if ensemble else ""),
        "",
        *metrics_table(found),
        "",
        "Confusion matrix at the operating point (rows truth, columns predicted; "
        "other, melanoma): " + str(point["confusion_matrix"]) + ".",
        "",
    ]
    if "per_seed" in found:
        lines += _seed_lines(found["per_seed"])
    if "compare" in found:
        result = found["compare"]
        lines += [
            "## Compared with " + result["model_dir"],
            "",
            "DeLong's test of the two AUROCs on the same images (two-sided):",
            "",
            "| AUROC (this) | AUROC (other) | difference | z | p |",
            "|---|---|---|---|---|",
            f"| {_value(result['auc1'])} | {_value(result['auc2'])} | "
            f"{_value(result['difference'])} | {_value(result['z'])} | "
            f"{_value(result['p_value'])} |",
            "",
        ]
    lines += ["## Plots", ""]
    lines += [f"![{title}]({name})" for name, title in PLOTS.items()]
    return "\n".join(lines) + "\n"


def write_report(
    directory,
    found,
    *,
    labels,
    probabilities,
    seed_probabilities=None,
    melanoma=MELANOMA,
):
    """Writes the plots and `report.md` of `found` into `directory` (made if needed).

    Args:
        directory: the report's folder.
        found: the metrics dict (`report_markdown`).
        labels: (N,) class indices.
        probabilities: (N, classes) calibrated probabilities that `found` describes.
        seed_probabilities: ``{seed: (N, classes)}`` of each seed (multi-seed runs),
            drawn thin on the ROC plot.
        melanoma: the melanoma column of `labels` and `probabilities`.

    Returns:
        The paths written, in `PLOTS` order, then `report.md`.
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    y = np.asarray(labels) == melanoma
    p = np.asarray(probabilities)[:, melanoma]
    seeds = {
        k: np.asarray(v)[:, melanoma] for k, v in (seed_probabilities or {}).items()
    }
    _roc_plot(directory / "roc.png", found, y, p, seeds)
    _pr_plot(directory / "pr.png", found, y, p)
    _reliability_plot(directory / "reliability.png", found, y, p)
    _confusion_plot(directory / "confusion.png", found)
    (directory / "report.md").write_text(report_markdown(found), encoding="utf-8")
    return [directory / name for name in PLOTS] + [directory / "report.md"]
