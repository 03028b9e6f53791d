"""A run's self-contained model: loading it, recalibrating it, predicting files.

The pipeline model itself (uint8 images → resize and crop → preprocessing →
network → temperature-scaled probabilities → decision) is
`skinkeras.models.pipeline`'s; this module ties it to run directories:

- `from_run` / `load_model`: a run's pipeline with its `calibration.json`
  (temperature 1 and threshold 0.5 without one), or a saved pipeline `.keras` file;
- `recalibrate`: `experiments.evaluate --calibrate` re-saves a run's `model.keras`
  with the calibration it writes;
- `predict_files`: image files through a pipeline, one file per call.

A run's own `model.keras` is the pipeline (issue 15, item 6): training saves it
uncalibrated (`skinkeras.models.pipeline.run_model`). Readers that want the bare
network take `model.get_layer(NETWORK)` (`skinkeras.inference.load_run` does); runs
written before this hold the bare network, and `load_model` / `from_run` build the
pipeline around it from `config.json`.
"""

import dataclasses
import logging
import pathlib

import keras
import numpy as np
import tensorflow as tf

from skinkeras import data, imagefiles, rundir
from skinkeras.inference import calibration as calibration_lib
from skinkeras.inference.predict import error_message, image_id, list_images
from skinkeras.inference.runs import Run, find_models, load_run
from skinkeras.models.pipeline import (
    DECISION,
    DEFAULT_CALIBRATION,
    IMAGE,
    NETWORK,
    PROBABILITIES,
    carries,
    is_pipeline,
    pipeline_metadata,
    preprocessing_layer,
    run_pipeline,
)

# A metadata pipeline's patient inputs (`skinkeras.models.pipeline`).
PATIENT_SPECS = {
    "age": tf.TensorSpec((None,), tf.float32),
    "sex": tf.TensorSpec((None,), tf.int32),
    "site": tf.TensorSpec((None,), tf.int32),
}


def read_calibration(run_dir):
    """The run's calibration record, or the defaults (temperature 1, threshold 0.5).

    Reads `calibration.json` of the seed directory, else of its parent (the
    ensemble's; `skinkeras.inference.calibration`, which also validates it).

    Raises:
        ValueError: the file holds a temperature that is not > 0 or a threshold
            outside [0, 1].
    """
    run_dir = pathlib.Path(run_dir)
    record = calibration_lib.read_calibration(
        run_dir
    ) or calibration_lib.read_calibration(run_dir.parent)
    return {**DEFAULT_CALIBRATION, **(record or {})}


def seed_directory(run):
    """The directory of a one-seed `Run`'s model: ``seed_<k>/`` of a multi-seed
    directory, or the run directory itself."""
    ((_, directory),) = find_models(run.model_dir, seed=run.seeds[0])
    return pathlib.Path(directory)


def from_run(run):
    """The pipeline of a one-seed `Run`, with its `calibration.json` (if any).

    Raises:
        ValueError: an ensemble (choose a seed) or a lesion-masked run.
    """
    model = run.model  # raises for an ensemble
    preprocessing_layer(run.preprocessing)  # refuses lesion masking before loading
    calibration = read_calibration(seed_directory(run))
    return run_pipeline(model, run.config, run.class_names, calibration)


def recalibrate(seed_dir):
    """Re-saves a seed directory's pipeline `model.keras` with its calibration.

    The calibration is `read_calibration(seed_dir)` (the seed's `calibration.json`,
    else its multi-seed parent's), so the file stays what `from_run` gives for the
    run. Written atomically (`skinkeras.rundir.save_model`), and only
    when it changes.

    Returns:
        The path written, or None: unchanged, or a bare network (a run saved before
        runs held pipelines, or a lesion-masked one), which is left as it is.
    """
    seed_dir = pathlib.Path(seed_dir)
    path = seed_dir / rundir.MODEL
    model = keras.models.load_model(path, compile=False)
    calibration = read_calibration(seed_dir)
    if not is_pipeline(model) or carries(model, calibration):
        return None
    rebuilt = run_pipeline(
        model.get_layer(NETWORK),
        rundir.read_config(seed_dir),
        pipeline_metadata(model)["class_names"],
        calibration,
    )
    rundir.save_model(rebuilt, path)
    return path


def load_model(path, *, seed=None):
    """A self-contained model: a saved pipeline `.keras` file, or built from a run.

    Args:
        path: a `.keras` file written by `experiments.export --format=keras` (or
            `build_pipeline(...).save`, or a run's `model.keras`), or a run
            directory (`model.keras` + `config.json` [+ `calibration.json`]).
        seed: with a multi-seed run directory, the seed to load.

    Returns:
        The pipeline Keras model (module doc). From a run directory: its own
        `model.keras` where that is a pipeline carrying the run's calibration;
        else (a bare network, from runs written before runs held pipelines, or a
        `calibration.json` newer than the file) built by `from_run`.
    """
    path = pathlib.Path(path)
    if path.is_file():
        model = keras.models.load_model(path, compile=False)
        if not is_pipeline(model):
            raise ValueError(
                f"{path} holds a network without its preprocessing: pass its run "
                "directory, or export it with `experiments.export --format=keras`. "
                f"Received: path={path}"
            )
        return model
    found = find_models(path, seed=seed)
    if len(found) == 1:  # an ensemble goes on to `from_run`'s error
        ((_, directory),) = found
        preprocessing_layer(rundir.read_config(directory).preprocessing)
        model = keras.models.load_model(directory / rundir.MODEL, compile=False)
        if is_pipeline(model) and carries(model, read_calibration(directory)):
            return model
    return from_run(load_run(path, seed=seed))


@dataclasses.dataclass
class PipelinePredictions:
    """What `predict_files` returns (row i is `paths[i]`).

    Attributes:
        image_ids: file name stems.
        paths: the predicted files.
        probabilities: float32 (N, classes), temperature-scaled.
        decisions: int32 (N,), 1 where the melanoma probability >= the threshold.
        failures: `[(path, message)]` of files that could not be read or decoded.
    """

    image_ids: list
    paths: list
    probabilities: np.ndarray
    decisions: np.ndarray
    failures: list


def predict_files(
    model,
    paths,
    *,
    max_pixels=imagefiles.DEFAULT_MAX_PIXELS,
    min_side=imagefiles.DEFAULT_MIN_SIDE,
    metadata=None,
):
    """Predicts image files (or folders of them) with a pipeline, one file per call.

    Files outside ``max_pixels`` / ``min_side`` (read from their headers, issue 14)
    and files that do not decode are skipped and listed in ``failures`` with the
    reason, as in `skinkeras.inference.predict_files`.

    Args:
        model: a pipeline, or a path for `load_model`.
        paths: image files and folders (`skinkeras.inference.list_images`).
        max_pixels: more pixels (height x width) than this are skipped.
        min_side: a height or width under this is skipped.
        metadata: for a pipeline with patient metadata, the images' metadata: a
            `skinkeras.inference.patient.PatientMetadata` (`patient.read_csv(path,
            pipeline_metadata(model)["metadata_encoding"])`), looked up by image
            id; None for an image-only pipeline.
    """
    if isinstance(model, Run):
        # skinkeras.inference.predict_files (a Run, TTA, batches) shares the name.
        raise TypeError(
            "skinkeras.predict_files takes a pipeline model or a path for "
            "load_model; for a `Run` use skinkeras.inference.predict_files(run, "
            "paths), or skinkeras.predict_files(run.model_dir, paths). Received: "
            "model of type Run"
        )
    if not isinstance(model, keras.Model):
        model = load_model(model)
    found = pipeline_metadata(model)
    num_classes = len(found["class_names"])
    if (metadata is None) != (found["metadata_encoding"] is None):
        raise ValueError(
            "A pipeline with patient metadata needs `metadata` (each image's age, "
            "sex and site: `skinkeras.inference.patient.read_csv`), an image-only "
            f"one none. Received: metadata={metadata!r:.80}"
        )
    image_spec = tf.TensorSpec((None, None, None, 3), tf.uint8)
    if metadata is None:
        call = tf.function(
            lambda images: model(images, training=False), input_signature=[image_spec]
        )
    else:
        call = tf.function(
            lambda inputs: model(inputs, training=False),
            input_signature=[{IMAGE: image_spec, **PATIENT_SPECS}],
        )
    kept, probabilities, decisions, failures = [], [], [], []
    for path in list_images(paths):
        problem = imagefiles.size_problem(
            path, max_pixels=max_pixels, min_side=min_side
        )
        if problem:
            logging.error("Skipping %s: %s", path, problem)
            failures.append((str(path), problem))
            continue
        try:
            image = data.decode_image(tf.io.read_file(str(path)), name=str(path))
            if metadata is None:
                outputs = call(image[tf.newaxis])
            else:
                row = metadata.inputs([image_id(path)])
                outputs = call({IMAGE: image[tf.newaxis], **row})
        except (tf.errors.OpError, OSError) as error:
            message = error_message(error)
            logging.error("Skipping %s: %s", path, message)
            failures.append((str(path), message))
            continue
        kept.append(path)
        probabilities.append(outputs[PROBABILITIES].numpy())
        decisions.append(outputs[DECISION].numpy())
    return PipelinePredictions(
        image_ids=[image_id(path) for path in kept],
        paths=[str(path) for path in kept],
        probabilities=(
            np.concatenate(probabilities)
            if kept
            else np.zeros((0, num_classes), np.float32)
        ),
        decisions=np.concatenate(decisions) if kept else np.zeros((0,), np.int32),
        failures=failures,
    )
