r"""Evaluates a trained run on a dataset split or a folder of images: AUROC with its
interval, partial AUROC, average precision, operating points, calibration.

    python -m experiments.evaluate --model_dir=runs/effnet_se_arl [--seed=0] \
        --split=test [--dataset=isic2017] [--tta=8] [--output=metrics.json] \
        [--report_dir=report/] [--compare=runs/effnet_se]
    python -m experiments.evaluate --model_dir=RUN --images=FOLDER --truth=CSV \
        --output=metrics.json --report_dir=DIR
    python -m experiments.evaluate --model_dir=RUN --split=validation --calibrate \
        [--target_sensitivity=0.90 | --operating_point=youden]

The dataset, its `data_dir`, the label, image size and preprocessing default to the
run's `config.json`, so the images go through training's own pipeline
(`skinkeras.data.make_dataset`, without augmentation or oversampling). `--images`
with `--truth` (a challenge ground-truth CSV, `image_id,melanoma,seborrheic_keratosis`)
evaluates image files instead. A multi-seed `--model_dir` is evaluated as the
ensemble of its seeds (mean probability), and each seed alone (mean ± std), unless
`--seed` picks one.

`--calibrate` fits a temperature and chooses an operating point on the evaluated
split (a validation split; never the test split or `--images`) and stores them in
the run as `calibration.json`, and re-saves the run's `model.keras` (the
self-contained pipeline) with them; every later evaluation and `experiments.predict`
applies them. Without one the operating point is the ISIC scorer's
`probability > 0.5`. `--report_dir` gets ROC, precision-recall, reliability and
confusion-matrix PNGs, `report.md` and `MODEL_CARD.md`. docs/analysis.md explains
every number.
"""

import contextlib
import csv
import dataclasses
import json
import logging
import pathlib

from absl import flags

from experiments import common_flags, deploy_cli

FLAGS = flags.FlagValues()
common_flags.define_run_flags(
    FLAGS,
    module=__name__,
    seed_help="With a multi-seed --model_dir: use seed_<k> only.",
)
flags.DEFINE_string(
    "split", "test", "Dataset split to evaluate (not with --images).", flag_values=FLAGS
)
flags.DEFINE_string(
    "dataset", None, "TFDS dataset name; default: the run's.", flag_values=FLAGS
)
flags.DEFINE_string(
    "data_dir", None, "TFDS data directory; default: the run's.", flag_values=FLAGS
)
flags.DEFINE_string(
    "images",
    None,
    "Folder of images to evaluate instead of a TFDS split (needs --truth).",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "truth",
    None,
    "Ground-truth CSV of --images: image_id,melanoma[,seborrheic_keratosis] with "
    "0/1 values (an ISIC 2017 Part 3 ground-truth file).",
    flag_values=FLAGS,
)
flags.DEFINE_integer(
    "batch_size", 16, "Images per model call.", lower_bound=1, flag_values=FLAGS
)
flags.DEFINE_integer(
    "tta",
    1,
    "Test-time augmentation views (flips/90° rotations), 1..8.",
    lower_bound=1,
    upper_bound=8,
    flag_values=FLAGS,
)
flags.DEFINE_integer(
    "bootstrap",
    2000,
    "Resamples of the stratified bootstrap of the AUROC interval and ROC band.",
    lower_bound=1,
    flag_values=FLAGS,
)
flags.DEFINE_integer(
    "bootstrap_seed", 0, "Seed of the bootstrap resamples.", flag_values=FLAGS
)
flags.DEFINE_boolean(
    "calibrate",
    False,
    "Fit the temperature and choose the operating point on this split (a "
    "validation split) and store them in the run's calibration.json.",
    flag_values=FLAGS,
)
flags.DEFINE_enum(
    "operating_point",
    "target_sensitivity",
    ["target_sensitivity", "youden"],
    "With --calibrate: the threshold reaching --target_sensitivity (the most "
    "specific one that does), or the one maximising Youden's J.",
    flag_values=FLAGS,
)
flags.DEFINE_float(
    "target_sensitivity",
    0.90,
    "With --calibrate --operating_point=target_sensitivity: the sensitivity to reach.",
    lower_bound=0.0,
    upper_bound=1.0,
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "compare",
    None,
    "Another run: DeLong's test of the two AUROCs on the same images.",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "output", None, "Optional JSON file for the metrics.", flag_values=FLAGS
)
flags.DEFINE_string(
    "report_dir",
    None,
    "Optional folder for the plots, report.md and MODEL_CARD.md.",
    flag_values=FLAGS,
)
flags.mark_flags_as_required(["model_dir"], flag_values=FLAGS)

# Columns of a challenge ground-truth CSV (SPEC, Datasets).
TRUTH_COLUMNS = ("image_id", "melanoma", "seborrheic_keratosis")


# --- Predictions ---------------------------------------------------------------------


def seed_runs(run):
    """One `Run` per seed of `run` (itself when it has one model)."""
    return [
        dataclasses.replace(run, models=(model,), seeds=(seed,))
        for model, seed in zip(run.models, run.seeds, strict=True)
    ]


def predict_split(
    run, *, split, dataset=None, data_dir=None, batch_size=16, tta=1, source=None
):
    """``(labels, probabilities)`` of `run` on a split, through training's pipeline.

    `source` (optional) is `make_dataset`'s: a `tf.data.Dataset` of example dicts
    used instead of TFDS.
    """
    from skinkeras import data, inference

    config = run.config
    images = data.make_dataset(
        split,
        dataset=dataset or config.dataset,
        data_dir=data_dir or config.data_dir,
        preprocessing=run.preprocessing,
        image_size=run.image_size,
        batch_size=batch_size,
        augment=False,
        oversample=False,
        label=config.label,
        shuffle=False,
        masks_dir=config.masks_dir,
        mask_mode=config.mask_mode,
        drop_remainder=False,
        source=source,
    )
    return inference.predict_dataset(inference.Predictor(run, tta=tta), images)


def split_metadata(split, *, dataset, data_dir, label):
    """``{field: {value: count}}`` of a TFDS split's `sex` and `age_approximate`.

    For the model card's limits (issue 15: the data's coverage, from its metadata).
    Ages by decade; -1 (unknown) as ``"unknown"``. None if the split has neither.
    """
    import collections

    from skinkeras.data import loading

    raw, _ = loading.raw_examples(
        split, dataset=dataset, data_dir=data_dir, label=label, source=None
    )
    fields = [key for key in ("sex", "age_approximate") if key in raw.element_spec]
    if not fields:
        return None
    counts = {key: collections.Counter() for key in fields}
    for example in raw.map(lambda e: {key: e[key] for key in fields}):
        if "sex" in counts:
            counts["sex"][example["sex"].numpy().decode()] += 1
        if "age_approximate" in counts:
            age = int(example["age_approximate"])
            decade = f"{age // 10 * 10}-{age // 10 * 10 + 9}" if age >= 0 else "unknown"
            counts["age_approximate"][decade] += 1

    def order(item):  # names alphabetically, decades in order, "unknown" last
        start = item[0].split("-")[0]
        return (item[0] == "unknown", int(start) if start.isdigit() else -1, item[0])

    return {
        key: dict(sorted(found.items(), key=order)) for key, found in counts.items()
    }


def read_truth_csv(path, num_classes):
    """``{image_id: class index}`` from a challenge ground-truth CSV.

    Columns `image_id`, `melanoma` and (for a 3-class model) `seborrheic_keratosis`,
    values 0 or 1 (``0.0``/``1.0``); nevus is both 0. Class indices follow
    `skinkeras.metrics.CLASS_NAMES`: melanoma 1, seborrheic keratosis 2.

    Raises:
        ValueError: a column is missing, a value is not 0/1, an image id repeats or
            a lesion is marked both melanoma and seborrheic keratosis.
    """
    needed = TRUTH_COLUMNS[: 2 if num_classes == 2 else 3]
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
        header = rows[0].keys() if rows else []
    missing = [column for column in needed if column not in header]
    if missing or not rows:
        raise ValueError(
            f"{path}: a ground-truth CSV needs the columns {list(needed)} and at "
            f"least one row. Received: columns={list(header)}, rows={len(rows)}"
        )
    labels = {}
    for line, row in enumerate(rows, start=2):
        flags_ = []
        for column in needed[1:]:
            try:
                value = float(row[column])
            except (TypeError, ValueError):
                value = None
            if value not in (0.0, 1.0):
                raise ValueError(
                    f"{path}, line {line}: `{column}` must be 0 or 1. "
                    f"Received: {column}={row[column]!r}"
                )
            flags_.append(value == 1.0)
        if all(flags_) and len(flags_) == 2:
            raise ValueError(
                f"{path}, line {line}: a lesion is melanoma or seborrheic keratosis, "
                f"not both. Received: image_id={row['image_id']}"
            )
        key = row["image_id"]
        if key in labels:
            raise ValueError(
                f"{path}, line {line}: image id repeated. Received: image_id={key}"
            )
        labels[key] = 1 if flags_[0] else (2 if flags_[1:] == [True] else 0)
    return labels


def predict_folder(run, *, images, truth, batch_size=16, tta=1):
    """``(labels, probabilities)`` of `run` on the image files of `images`.

    Every image needs a row in `truth` and every row an image, and every image must
    decode: a metric over a silent subset would mislead.
    """
    import numpy as np

    from skinkeras import inference

    labels = read_truth_csv(truth, run.num_classes)
    paths = inference.list_images([images])
    inference.check_unique_ids(paths)
    ids = {inference.image_id(path) for path in paths}
    for what, extra in (
        (f"images in {images} without a row in {truth}", sorted(ids - set(labels))),
        (f"rows of {truth} without an image in {images}", sorted(set(labels) - ids)),
    ):
        if extra:
            raise ValueError(
                f"{len(extra)} {what}. Received: image_ids={extra[:10]}"
                + (" ..." if len(extra) > 10 else "")
            )
    predictions = inference.predict_files(run, paths, tta=tta, batch_size=batch_size)
    if predictions.failures:
        raise ValueError(
            f"{len(predictions.failures)} image(s) could not be read. "
            f"Received: failures={predictions.failures[:10]}"
        )
    return (
        np.array([labels[key] for key in predictions.image_ids], np.int64),
        predictions.probabilities,
    )


def predict_seeds(run, predict):
    """``(labels, [probabilities of each seed])`` with ``predict(run)`` per seed.

    The ensemble's probabilities are their mean, as `Predictor` averages them; one
    pass per seed costs the same model calls as one pass of the ensemble.
    """
    import numpy as np

    labels, per_seed = None, []
    for single in seed_runs(run):
        found, probabilities = predict(single)
        if labels is not None and not np.array_equal(found, labels):
            raise ValueError(
                f"Seed {single.seeds[0]} saw other labels than seed {run.seeds[0]}: "
                f"the data are not read in one order. Received: seed={single.seeds[0]}"
            )
        labels = found
        per_seed.append(probabilities)
    return labels, per_seed


# --- Calibration ---------------------------------------------------------------------


def fit_calibration(
    labels, probabilities, *, rule, target_sensitivity, split, run, tta, melanoma
):
    """The `calibration.json` dict fitted on a (validation) split's predictions."""
    import numpy as np

    from skinkeras import evaluation, inference

    temperature = evaluation.fit_temperature(
        inference.calibration.log_probabilities(probabilities), labels
    )
    calibrated = evaluation.apply_temperature(
        inference.calibration.log_probabilities(probabilities), temperature
    )[:, melanoma]
    y = np.asarray(labels) == melanoma
    if rule == "youden":
        threshold = evaluation.youden_threshold(y, calibrated)
    else:
        threshold = evaluation.threshold_for_sensitivity(
            y, calibrated, target_sensitivity
        )
    point = evaluation.operating_point_metrics(y, calibrated, threshold)
    return {
        "temperature": temperature,
        "threshold": threshold,
        "rule": rule,
        "target_sensitivity": target_sensitivity if rule != "youden" else None,
        "validation_sensitivity": point["sensitivity"],
        "validation_specificity": point["specificity"],
        "validation_n": int(y.size),
        "split": split,
        "seeds": list(run.seeds),
        "tta": tta,
    }


def resave_models(model_dir, seed):
    """Re-saves the evaluated seeds' `model.keras` with the calibration just written.

    A run's `model.keras` carries its calibration (issue 15, item 6): each seed's
    pipeline gets `read_calibration` of its directory (its own, else the ensemble's
    in the multi-seed parent). Returns the paths written.
    """
    from skinkeras import inference
    from skinkeras.inference import pipeline

    saved = []
    for _, directory in inference.find_models(model_dir, seed=seed):
        path = pipeline.recalibrate(directory)
        if path is not None:
            saved.append(path)
    return saved


def check_calibration_split(*, calibrate, split, images):
    """Refuses to calibrate on test data (issue 15: chosen on validation, never test)."""
    if not calibrate:
        return
    if images:
        raise ValueError(
            "--calibrate fits on a validation split, not on --images (test images "
            "would judge their own threshold): use --split=validation. "
            f"Received: images={images}"
        )
    # Every part of a TFDS split expression ("validation+test[:50%]"): `test` and
    # the official `challenge_test` sets are test data, sliced or not.
    names = [part.split("[")[0].strip() for part in split.split("+")]
    if any(name == "test" or name.endswith("_test") for name in names):
        raise ValueError(
            "--calibrate must not see the test split: the operating point chosen on "
            "it would overstate its own metrics. Use --split=validation. "
            f"Received: split={split}"
        )


# --- Metrics -------------------------------------------------------------------------


def run_metrics(
    labels, probabilities, calibration, *, resamples, seed, melanoma, class_names
):
    """`clinical_metrics` of one model or ensemble, its calibration applied.

    Adds ``argmax`` (`skinkeras.metrics.classification_metrics`: accuracy, balanced
    accuracy, sensitivity and specificity of the most probable class),
    ``calibration`` (the applied `calibration.json`, or None) and, when calibrated,
    ``uncalibrated`` (ECE and Brier score before the temperature).
    """
    import numpy as np

    from skinkeras import evaluation, inference, metrics

    calibrated, _ = inference.apply_calibration(probabilities, calibration)
    y = np.asarray(labels) == melanoma
    threshold = calibration["threshold"] if calibration else evaluation.ISIC_THRESHOLD
    found = evaluation.clinical_metrics(
        y,
        calibrated[:, melanoma],
        threshold=threshold,
        resamples=resamples,
        seed=seed,
    )
    found["operating_point"]["rule"] = (
        f"calibrated p >= {threshold:.6g} (calibration.json, {calibration.get('rule')})"
        if calibration
        else "p > 0.5 (uncalibrated; the ISIC scorer's rule)"
    )
    found["argmax"] = metrics.classification_metrics(
        labels, calibrated, class_names=class_names
    )
    found["calibration"] = calibration
    if calibration:
        raw = probabilities[:, melanoma]
        found["uncalibrated"] = {
            "ece": evaluation.expected_calibration_error(y, raw),
            "brier": evaluation.brier_score(y, raw),
        }
    return found


def scalar_metrics(found):
    """``{name: value}`` of the point values of a `run_metrics` dict, in table order."""
    point = found["operating_point"]
    values = {
        "AUROC": found["auroc"]["point"],
        "AUROC above 80 % sensitivity": found["partial_auroc"],
        "average precision": found["average_precision"],
    }
    for target, value in found["sensitivity_at_specificity"].items():
        values[f"sensitivity at specificity {target}"] = value
    for target, value in found["specificity_at_sensitivity"].items():
        values[f"specificity at sensitivity {target}"] = value
    for name in ("sensitivity", "specificity", "ppv", "npv", "balanced_accuracy"):
        values[f"operating point {name.replace('_', ' ')}"] = point[name]
    values["ECE"] = found["ece"]
    values["Brier score"] = found["brier"]
    return values


def seed_summary(seeds, per_seed):
    """Per-seed point values, their mean and sample std (ddof 1), by metric."""
    import numpy as np

    table = [scalar_metrics(found) for found in per_seed]
    return {
        "seeds": list(seeds),
        "metrics": {
            name: {
                "values": [row[name] for row in table],
                "mean": float(np.mean([row[name] for row in table])),
                "std": float(np.std([row[name] for row in table], ddof=1)),
            }
            for name in table[0]
        },
    }


def compare_runs(labels, ours, other_labels, theirs, other_dir, *, melanoma):
    """DeLong's test of our melanoma probabilities against another run's."""
    import numpy as np

    from skinkeras import evaluation

    y, other_y = np.asarray(labels) == melanoma, np.asarray(other_labels) == melanoma
    if not np.array_equal(y, other_y):
        raise ValueError(
            f"--compare run {other_dir} saw other melanoma labels on these images: "
            f"the two runs must be evaluated on the same data. Received: "
            f"compare={other_dir}"
        )
    result = evaluation.delong_test(y, ours[:, melanoma], theirs[:, melanoma])
    return {"model_dir": str(other_dir), **result._asdict()}


def format_metrics(found):
    auroc = found["auroc"]
    lines = [
        f"{'AUROC':<34} {auroc['point']:.4f} "
        f"({round(100 * found['confidence'])} %: {auroc['low']:.4f}-{auroc['high']:.4f})"
    ]
    lines += [
        f"{name:<34} {value:.4f}"
        for name, value in list(scalar_metrics(found).items())[1:]
    ]
    lines.append(
        f"{'examples':<34} {found['num_examples']} ({found['num_melanoma']} melanoma)"
    )
    return "\n".join(lines)


# --- Command -------------------------------------------------------------------------


def _predictor(images, truth, split, dataset, data_dir):
    """``predict(run) -> (labels, probabilities)`` for the chosen data."""

    def predict(run):
        if images:
            return predict_folder(
                run,
                images=images,
                truth=truth,
                batch_size=FLAGS.batch_size,
                tta=FLAGS.tta,
            )
        return predict_split(
            run,
            split=split,
            dataset=dataset,
            data_dir=data_dir,
            batch_size=FLAGS.batch_size,
            tta=FLAGS.tta,
        )

    return predict


def _check_flags():
    if bool(FLAGS.images) != bool(FLAGS.truth):
        raise ValueError(
            "--images and --truth go together (the folder and its ground truth). "
            f"Received: images={FLAGS.images}, truth={FLAGS.truth}"
        )
    if FLAGS.images and FLAGS["split"].present:
        raise ValueError(
            f"--split reads a TFDS split; --images a folder: give one. "
            f"Received: split={FLAGS.split}, images={FLAGS.images}"
        )
    for name in ("operating_point", "target_sensitivity"):
        if FLAGS[name].present and not FLAGS.calibrate:
            raise ValueError(
                f"--{name} chooses the operating point that --calibrate stores; "
                f"without --calibrate the run's calibration.json is used. "
                f"Received: {name}={FLAGS[name].value}"
            )
    if FLAGS.target_sensitivity <= 0:
        raise ValueError(
            "--target_sensitivity must be in (0, 1]. "
            f"Received: target_sensitivity={FLAGS.target_sensitivity}"
        )
    check_calibration_split(
        calibrate=FLAGS.calibrate, split=FLAGS.split, images=FLAGS.images
    )


def main(argv):
    if len(argv) > 1:
        raise SystemExit(f"error: unexpected arguments {argv[1:]}.")
    try:
        _check_flags()
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    from skinkeras import rundir

    with contextlib.ExitStack() as stack:
        if FLAGS.calibrate:
            # --calibrate writes calibration.json and re-saves model.keras: the run
            # must not be training meanwhile, and two calibrations must not
            # interleave (issue 14). Taken before predicting: a busy run fails at once.
            try:
                stack.enter_context(rundir.lock_run(FLAGS.model_dir))
            except (FileNotFoundError, rundir.RunDirBusyError) as error:
                raise SystemExit(f"error: {error}") from None
        return _evaluate()


def _evaluate():
    from skinkeras import inference, metrics

    try:
        run = inference.load_run(FLAGS.model_dir, seed=FLAGS.seed)
        # Melanoma vs the rest, wherever the run's classes put melanoma (issue 16:
        # ISIC 2019 lists MEL first).
        melanoma = metrics.melanoma_index(run.class_names)
        if melanoma is None:
            raise ValueError(
                "experiments.evaluate reports melanoma against the rest, and this "
                f"run has no melanoma class. Received: class_names={run.class_names}"
            )
        calibration = inference.read_calibration(FLAGS.model_dir, FLAGS.seed)
        other = inference.load_run(FLAGS.compare) if FLAGS.compare else None
        dataset = FLAGS.dataset or run.config.dataset
        data_dir = FLAGS.data_dir or run.config.data_dir
        predict = _predictor(FLAGS.images, FLAGS.truth, FLAGS.split, dataset, data_dir)
        labels, per_seed = predict_seeds(run, predict)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
    probabilities = sum(per_seed) / len(per_seed)
    if (
        not FLAGS.calibrate
        and calibration
        and calibration.get("tta", FLAGS.tta) != FLAGS.tta
    ):
        logging.warning(
            "calibration.json was fitted with --tta=%s; evaluating with --tta=%s.",
            calibration["tta"],
            FLAGS.tta,
        )
    evaluated_on = (
        f"{FLAGS.images} (truth {FLAGS.truth})"
        if FLAGS.images
        else f"{dataset} {FLAGS.split}"
    )
    if FLAGS.calibrate:
        try:
            calibration = fit_calibration(
                labels,
                probabilities,
                rule=FLAGS.operating_point,
                target_sensitivity=FLAGS.target_sensitivity,
                split=FLAGS.split,
                run=run,
                tta=FLAGS.tta,
                melanoma=melanoma,
            )
        except ValueError as error:  # e.g. one class only in the split
            raise SystemExit(f"error: {error}") from None
        path = inference.write_calibration(FLAGS.model_dir, calibration, FLAGS.seed)
        print(
            f"Calibration written to {path}: temperature "
            f"{calibration['temperature']:.4f}, threshold "
            f"{calibration['threshold']:.6g}"
        )
        for saved in resave_models(FLAGS.model_dir, FLAGS.seed):
            print(f"{saved} re-saved with it")
    metrics_args = dict(
        resamples=FLAGS.bootstrap,
        seed=FLAGS.bootstrap_seed,
        melanoma=melanoma,
        class_names=run.class_names,
    )
    try:
        # Each seed alone with its own calibration (seed_<k>/calibration.json).
        seed_calibrations = {
            k: inference.read_calibration(FLAGS.model_dir, k)
            for k in (run.seeds if len(run.seeds) > 1 else ())
        }
        found = {
            "model_dir": str(run.model_dir),
            "seeds": list(run.seeds),
            "evaluated_on": evaluated_on,
            **run_metrics(labels, probabilities, calibration, **metrics_args),
        }
        if seed_calibrations:
            seeds_found = [
                run_metrics(labels, p, seed_calibrations[k], **metrics_args)
                for k, p in zip(run.seeds, per_seed, strict=True)
            ]
            found["per_seed"] = seed_summary(run.seeds, seeds_found)
        ours, _ = inference.apply_calibration(probabilities, calibration)
        if other is not None:
            other_labels, other_seeds = predict_seeds(other, predict)
            theirs, _ = inference.apply_calibration(
                sum(other_seeds) / len(other_seeds),
                inference.read_calibration(FLAGS.compare),
            )
            found["compare"] = compare_runs(
                labels, ours, other_labels, theirs, FLAGS.compare, melanoma=melanoma
            )
    except ValueError as error:  # e.g. one class only in the data
        raise SystemExit(f"error: {error}") from None
    print(f"{run.model_dir} (seeds {list(run.seeds)}), {evaluated_on}:")
    print(format_metrics(found))
    if "compare" in found:
        result = found["compare"]
        print(
            f"DeLong vs {FLAGS.compare}: AUROC {result['auc1']:.4f} vs "
            f"{result['auc2']:.4f}, z {result['z']:.3f}, p {result['p_value']:.4g}"
        )
    if FLAGS.output:
        path = pathlib.Path(FLAGS.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(found, indent=2) + "\n")
    if FLAGS.report_dir:
        from experiments import report

        metadata = None
        if not FLAGS.images:
            metadata = split_metadata(
                FLAGS.split, dataset=dataset, data_dir=data_dir, label=run.config.label
            )
        report.write_report(
            FLAGS.report_dir,
            dataset_metadata=metadata,
            found=found,
            labels=labels,
            probabilities=ours,
            seed_probabilities={
                k: inference.apply_calibration(p, seed_calibrations[k])[0]
                for k, p in zip(run.seeds, per_seed, strict=True)
                if k in seed_calibrations
            },
            config=run.config,
        )
        print(f"Report written to {FLAGS.report_dir}")
    return 0


def cli():
    """Console script entry point."""
    deploy_cli.run(main, FLAGS)


if __name__ == "__main__":
    cli()
