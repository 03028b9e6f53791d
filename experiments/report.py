"""The report of `experiments.evaluate --report_dir`: plots, `report.md`, model card.

Files (issue 15, item 4)::

    roc.png          ROC curve, its pointwise bootstrap band, the operating point
                     (and each seed's curve, thin, for a multi-seed run)
    pr.png           precision-recall curve and the operating point
    reliability.png  reliability diagram (15 bins) and the count per bin
    confusion.png    confusion matrix at the operating point
    report.md        the metrics table with intervals, per-seed mean ± std, DeLong
    MODEL_CARD.md    `skinkeras.model_card`

The numbers come from the `experiments.evaluate` metrics dict; the curves from the
same (calibrated) melanoma probabilities.
"""

import pathlib

import numpy as np

from experiments import deploy_cli

PLOTS = {
    "roc.png": "ROC curve",
    "pr.png": "Precision-recall curve",
    "reliability.png": "Reliability diagram",
    "confusion.png": "Confusion matrix",
}


def _short_rule(threshold):
    from skinkeras.evaluation import ISIC_THRESHOLD

    return "p > 0.5" if threshold == ISIC_THRESHOLD else f"p >= {threshold:.3g}"


def _roc_plot(plt, path, found, y, p, seed_probabilities):
    from sklearn import metrics as skm

    from skinkeras import evaluation

    band = evaluation.roc_band(
        y,
        p,
        resamples=found["resamples"],
        confidence=found["confidence"],
        seed=found["bootstrap_seed"],
    )
    figure, axes = plt.subplots(figsize=(5, 5))
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
    plt.close(figure)


def _pr_plot(plt, path, found, y, p):
    from sklearn import metrics as skm

    precision, recall, _ = skm.precision_recall_curve(y, p)
    figure, axes = plt.subplots(figsize=(5, 5))
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
    plt.close(figure)


def _reliability_plot(plt, path, found, y, p):
    from skinkeras import evaluation

    curve = evaluation.reliability_curve(y, p)
    filled = curve.count > 0
    figure, (axes, counts) = plt.subplots(
        2, 1, figsize=(5, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
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
    plt.close(figure)


def _confusion_plot(plt, path, found):
    matrix = np.asarray(found["operating_point"]["confusion_matrix"])
    figure, axes = plt.subplots(figsize=(4, 4))
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
    plt.close(figure)


def _value(value):
    return "n/a" if value is None or value != value else f"{value:.4f}"


def _interval(found):
    return f"{_value(found['low'])} – {_value(found['high'])}"


def metrics_table(found):
    """Markdown rows: metric | value | interval, of an `experiments.evaluate` dict."""
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
    """The text of `report.md` for an `experiments.evaluate` metrics dict."""
    point = found["operating_point"]
    calibration = found.get("calibration")
    ensemble = len(found["seeds"]) > 1
    lines = [
        f"# Evaluation of {found['model_dir']}",
        "",
        f"- Data: {found['evaluated_on']}: {found['num_examples']} images, "
        f"{found['num_melanoma']} melanoma.",
        f"- Model: {'ensemble of seeds' if ensemble else 'seed'} {found['seeds']}.",
        f"- Operating point: melanoma when {point['rule']}.",
    ]
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
    report_dir,
    *,
    found,
    labels,
    probabilities,
    seed_probabilities,
    config,
    dataset_metadata=None,
):
    """Writes the plots, `report.md` and `MODEL_CARD.md` into `report_dir`.

    Args:
        found: the `experiments.evaluate` metrics dict.
        labels: (N,) class indices.
        probabilities: (N, classes) calibrated probabilities that `found` describes.
        seed_probabilities: ``{seed: (N, classes)}`` of each seed (multi-seed runs).
        config: the run's `TrainConfig`, for the model card.
        dataset_metadata: the evaluated images' metadata counts, for the model card
            (`model_card.render`).
    """
    from skinkeras import model_card
    from skinkeras.metrics import MELANOMA

    report_dir = pathlib.Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    plt = deploy_cli.pyplot()
    y = np.asarray(labels) == MELANOMA
    p = np.asarray(probabilities)[:, MELANOMA]
    seeds = {k: np.asarray(v)[:, MELANOMA] for k, v in seed_probabilities.items()}
    _roc_plot(plt, report_dir / "roc.png", found, y, p, seeds)
    _pr_plot(plt, report_dir / "pr.png", found, y, p)
    _reliability_plot(plt, report_dir / "reliability.png", found, y, p)
    _confusion_plot(plt, report_dir / "confusion.png", found)
    (report_dir / "report.md").write_text(report_markdown(found), encoding="utf-8")
    model_card.write(
        report_dir / model_card.MODEL_CARD,
        config,
        metrics=found,
        calibration=found.get("calibration"),
        dataset_metadata=dataset_metadata,
        evaluated_on=found["evaluated_on"],
        title=found["model_dir"],
    )
