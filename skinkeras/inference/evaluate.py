"""A trained run on labelled images: its metrics, its calibration, its report.

The half of `experiments.evaluate` that needs the run (issue 15): the predictions
are `skinkeras.inference.labelled`'s, the numbers `skinkeras.evaluation`'s. From a
notebook::

    from skinkeras import evaluation, inference
    from skinkeras.inference import evaluate, labelled

    run = inference.load_run("runs/effnet_se_arl")
    predictions = labelled.predict_run(run, split="test")
    result = evaluate.evaluate_run(
        run, predictions, calibration=inference.read_calibration(run.model_dir)
    )
    print(evaluation.format_metrics(result.metrics))
    evaluate.write_run_report("report/", result, config=run.config)
"""

import dataclasses
import logging
import pathlib

import numpy as np

from skinkeras import evaluation, metrics, model_card
from skinkeras.inference import pipeline
from skinkeras.inference.calibration import read_calibration, write_calibration
from skinkeras.inference.runs import find_models

# --- Calibration ---------------------------------------------------------------------


def store_calibration(model_dir, calibration, *, seed=None):
    """Writes `calibration` as the run's `calibration.json` and re-saves the
    `model.keras` of its seeds with it.

    A run's `model.keras` carries its calibration (issue 15, item 6): each seed's
    pipeline gets the `calibration.json` of its directory (its own, else the
    ensemble's in the multi-seed parent).

    Returns:
        ``(path of calibration.json, [paths of the re-saved model.keras])``.
    """
    path = write_calibration(model_dir, calibration, seed)
    saved = []
    for _, directory in find_models(model_dir, seed=seed):
        written = pipeline.recalibrate(directory)
        if written is not None:
            saved.append(written)
    return path, saved


# --- Metrics and report --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RunEvaluation:
    """What `evaluate_run` found; the report draws the arrays.

    Attributes:
        metrics: the metrics dict (`metrics.json`): `evaluation.evaluate_probabilities`
            of the ensemble with ``model_dir``, ``seeds``, ``evaluated_on`` and, for a
            multi-seed run, ``per_seed`` (`evaluation.seed_summary`); a caller that
            compares adds ``compare`` (`compare_runs`) before the report.
        labels: (N,) class indices.
        probabilities: (N, classes) the ensemble's, calibrated.
        seed_probabilities: ``{seed: (N, classes)}`` each seed's, calibrated with its
            own `calibration.json` (multi-seed runs; else empty).
        melanoma: the melanoma column.
    """

    metrics: dict
    labels: np.ndarray
    probabilities: np.ndarray
    seed_probabilities: dict
    melanoma: int


def melanoma_class(run):
    """The index of `run`'s melanoma class (issue 16: ISIC 2019 lists MEL first).

    Raises:
        ValueError: the run has no melanoma class.
    """
    melanoma = metrics.melanoma_index(run.class_names)
    if melanoma is None:
        raise ValueError(
            "experiments.evaluate reports melanoma against the rest, and this "
            f"run has no melanoma class. Received: class_names={run.class_names}"
        )
    return melanoma


def evaluate_run(
    run,
    predictions,
    *,
    calibration=None,
    resamples=2000,
    bootstrap_seed=0,
    tta=None,
):
    """Melanoma against the rest: the metrics of `run`'s ensemble and of each seed.

    Args:
        run: the evaluated `Run`.
        predictions: its `RunPredictions` (`predict_run`).
        calibration: the `calibration.json` dict applied to the ensemble, or None
            (`read_calibration` of the run's directory and seed). Each seed of a
            multi-seed run is calibrated with its own ``seed_<k>/calibration.json``.
        resamples, bootstrap_seed: of the AUROC's bootstrap interval.
        tta: the TTA views of `predictions`: a warning when the calibration was
            fitted with others.

    Returns:
        `RunEvaluation`.
    """
    if tta is not None and calibration and calibration.get("tta", tta) != tta:
        logging.warning(
            "calibration.json was fitted with --tta=%s; evaluating with --tta=%s.",
            calibration["tta"],
            tta,
        )
    melanoma = melanoma_class(run)
    labels, per_seed = predictions.labels, predictions.per_seed
    arguments = dict(
        resamples=resamples,
        seed=bootstrap_seed,
        melanoma=melanoma,
        class_names=run.class_names,
    )
    # Each seed alone with its own calibration (seed_<k>/calibration.json).
    seed_calibrations = {
        k: read_calibration(run.model_dir, k)
        for k in (run.seeds if len(run.seeds) > 1 else ())
    }
    found = {
        "model_dir": str(run.model_dir),
        "seeds": list(run.seeds),
        "evaluated_on": predictions.evaluated_on,
        **evaluation.evaluate_probabilities(
            labels, predictions.probabilities, calibration=calibration, **arguments
        ),
    }
    if seed_calibrations:
        seeds_found = [
            evaluation.evaluate_probabilities(
                labels, p, calibration=seed_calibrations[k], **arguments
            )
            for k, p in zip(run.seeds, per_seed, strict=True)
        ]
        found["per_seed"] = evaluation.seed_summary(run.seeds, seeds_found)
    return RunEvaluation(
        metrics=found,
        labels=labels,
        probabilities=evaluation.apply_calibration(
            predictions.probabilities, calibration
        )[0],
        seed_probabilities={
            k: evaluation.apply_calibration(p, seed_calibrations[k])[0]
            for k, p in zip(run.seeds, per_seed, strict=True)
            if k in seed_calibrations
        },
        melanoma=melanoma,
    )


def compare_runs(result, compare, predictions):
    """DeLong's test of `result`'s melanoma probabilities against another run's.

    Args:
        result: our `RunEvaluation`.
        compare: the other run's directory (its `calibration.json` is applied).
        predictions: the other run's `RunPredictions` on the same images.

    Returns:
        The ``compare`` entry of the metrics dict: ``model_dir`` and
        `evaluation.delong_test`'s fields.
    """
    melanoma = result.melanoma
    theirs, _ = evaluation.apply_calibration(
        predictions.probabilities, read_calibration(compare)
    )
    y = np.asarray(result.labels) == melanoma
    if not np.array_equal(y, np.asarray(predictions.labels) == melanoma):
        raise ValueError(
            f"--compare run {compare} saw other melanoma labels on these images: "
            f"the two runs must be evaluated on the same data. Received: "
            f"compare={compare}"
        )
    found = evaluation.delong_test(
        y, result.probabilities[:, melanoma], theirs[:, melanoma]
    )
    return {"model_dir": str(compare), **found._asdict()}


def write_run_report(report_dir, result, *, config, dataset_metadata=None):
    """Writes the report of `result` and `MODEL_CARD.md` into `report_dir`.

    The plots and `report.md` are `evaluation.write_report`'s; the card is
    `skinkeras.model_card`'s, with the measured metrics.

    Args:
        report_dir: the report's folder (made if needed).
        result: a `RunEvaluation`.
        config: the run's `TrainConfig`, for the model card.
        dataset_metadata: the evaluated images' metadata counts, for the model card
            (`split_metadata`; `model_card.render`).

    Returns:
        The paths written.
    """
    found = result.metrics
    # The plots draw the column the metrics use: a run labelled by diagnosis
    # (issue 16: ISIC 2019 lists MEL first) has its melanoma class elsewhere than 1.
    written = evaluation.write_report(
        report_dir,
        found,
        labels=result.labels,
        probabilities=result.probabilities,
        seed_probabilities=result.seed_probabilities,
        melanoma=result.melanoma,
    )
    card = model_card.write(
        pathlib.Path(report_dir) / model_card.MODEL_CARD,
        config,
        metrics=found,
        calibration=found.get("calibration"),
        dataset_metadata=dataset_metadata,
        evaluated_on=found["evaluated_on"],
        title=found["model_dir"],
    )
    return [*written, card]
