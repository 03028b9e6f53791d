r"""Evaluates a trained run on a dataset split or a folder of images: AUROC with its
interval, partial AUROC, average precision, operating points, calibration.

    python -m experiments.evaluate --model_dir=runs/effnet_se_arl [--seed=0] \
        --split=test [--dataset=isic2017] [--tta=8] [--output=metrics.json] \
        [--report_dir=report/] [--compare=runs/effnet_se]
    python -m experiments.evaluate --model_dir=RUN --images=FOLDER --truth=CSV \
        [--metadata=METADATA_CSV] --output=metrics.json --report_dir=DIR
    python -m experiments.evaluate --model_dir=RUN --split=validation --calibrate \
        [--target_sensitivity=0.90 | --operating_point=youden]

The dataset, its `data_dir`, the label, image size and preprocessing default to the
run's `config.json`, so the images go through training's own pipeline
(`skinkeras.data.make_dataset`, without augmentation or oversampling). `--images`
with `--truth` (a challenge ground-truth CSV, `image_id,melanoma,seborrheic_keratosis`)
evaluates image files instead (a run trained with patient metadata also needs
`--metadata`, their metadata CSV, read as `experiments.predict` reads it). A
multi-seed `--model_dir` is evaluated as the ensemble of its seeds (mean
probability), and each seed alone (mean ± std), unless `--seed` picks one.

`--calibrate` fits a temperature and chooses an operating point on the evaluated
split (a validation split; never the test split or `--images`) and stores them in
the run as `calibration.json`, and re-saves the run's `model.keras` (the
self-contained pipeline) with them; every later evaluation and `experiments.predict`
applies them. Without one the operating point is the ISIC scorer's
`probability > 0.5`. `--report_dir` gets ROC, precision-recall, reliability and
confusion-matrix PNGs, `report.md` and `MODEL_CARD.md`. docs/analysis.md explains
every number.

The work is the library's, callable without flags: `skinkeras.inference.labelled`
predicts, `skinkeras.inference.evaluate` evaluates the run and writes its report,
`skinkeras.evaluation` holds the metrics, the printed table and the plots.
"""

import contextlib
import json
import pathlib

from absl import flags

from experiments import common_flags, deploy_cli, evaluate_checks, patient_flags

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
patient_flags.define_metadata_flag(
    FLAGS, module=__name__, extra_help=" With --images only (a split has its own)."
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


def main(argv):
    if len(argv) > 1:
        raise SystemExit(f"error: unexpected arguments {argv[1:]}.")
    try:
        evaluate_checks.check_flags(FLAGS)
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


def _calibrate(run, predictions, melanoma):
    """--calibrate: fits the calibration on this split, stores it; returns it."""
    from skinkeras import evaluation
    from skinkeras.inference import evaluate

    try:
        calibration = evaluation.fit_calibration(
            predictions.labels,
            predictions.probabilities,
            rule=FLAGS.operating_point,
            target_sensitivity=FLAGS.target_sensitivity,
            melanoma=melanoma,
            split=FLAGS.split,
            seeds=run.seeds,
            tta=FLAGS.tta,
        )
    except ValueError as error:  # e.g. one class only in the split
        raise SystemExit(f"error: {error}") from None
    path, saved = evaluate.store_calibration(
        FLAGS.model_dir, calibration, seed=FLAGS.seed
    )
    print(
        f"Calibration written to {path}: temperature "
        f"{calibration['temperature']:.4f}, threshold "
        f"{calibration['threshold']:.6g}"
    )
    for model in saved:
        print(f"{model} re-saved with it")
    return calibration


def _evaluate():
    from skinkeras import evaluation, inference
    from skinkeras.inference import evaluate, labelled

    try:
        run = inference.load_run(FLAGS.model_dir, seed=FLAGS.seed)
        melanoma = evaluate.melanoma_class(run)  # before predicting: fails at once
        calibration = inference.read_calibration(FLAGS.model_dir, FLAGS.seed)
        other = inference.load_run(FLAGS.compare) if FLAGS.compare else None
        # The evaluated run's dataset for --compare too: the same images.
        data = dict(
            split=FLAGS.split,
            dataset=FLAGS.dataset or run.config.dataset,
            data_dir=FLAGS.data_dir or run.config.data_dir,
            images=FLAGS.images,
            truth=FLAGS.truth,
            batch_size=FLAGS.batch_size,
            tta=FLAGS.tta,
        )
        metadata = patient_flags.for_images(run, FLAGS.metadata, FLAGS.images)
        predictions = labelled.predict_run(run, **data, metadata=metadata)
        if metadata is not None:  # how much of it the model got
            paths = inference.list_images([FLAGS.images])
            print(metadata.summary(inference.image_id(path) for path in paths))
        # An image-only --compare run goes without (the other may need it).
        other_metadata = other and patient_flags.for_images(
            other, FLAGS.metadata, FLAGS.images, optional=True
        )
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
    if FLAGS.calibrate:
        calibration = _calibrate(run, predictions, melanoma)
    try:
        result = evaluate.evaluate_run(
            run,
            predictions,
            calibration=calibration,
            resamples=FLAGS.bootstrap,
            bootstrap_seed=FLAGS.bootstrap_seed,
            tta=FLAGS.tta,
        )
        if other is not None:
            result.metrics["compare"] = evaluate.compare_runs(
                result,
                FLAGS.compare,
                labelled.predict_run(other, **data, metadata=other_metadata),
            )
    except ValueError as error:  # e.g. one class only in the data
        raise SystemExit(f"error: {error}") from None
    print(evaluation.format_metrics(result.metrics))
    if FLAGS.output:
        path = pathlib.Path(FLAGS.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result.metrics, indent=2) + "\n")
    if FLAGS.report_dir:
        metadata = None
        if not FLAGS.images:
            metadata = labelled.split_metadata(
                FLAGS.split,
                dataset=data["dataset"],
                data_dir=data["data_dir"],
                label=run.config.label,
            )
        evaluate.write_run_report(
            FLAGS.report_dir, result, config=run.config, dataset_metadata=metadata
        )
        print(f"Report written to {FLAGS.report_dir}")
    return 0


cli = deploy_cli.console_script(main, FLAGS)

if __name__ == "__main__":
    cli()
