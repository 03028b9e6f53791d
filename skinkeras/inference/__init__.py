"""Inference with a trained run: loading, predicting on image files, CSVs, export.

Submodules, one job each:
    runs        `load_run`: one seed's model, or every seed's as an ensemble.
    transforms  the training path for image files (`bytes_transform`) and
                test-time augmentation by the symmetries of the square (`tta_batch`).
    predict     `Predictor` (softmax averaged over seeds and TTA), `predict_files`,
                `predict_dataset`, image file listing.
    submission  prediction and ISIC ground-truth CSVs (`CSV_FORMATS`,
                `read_truth_csv`).
    calibration a run's `calibration.json` (temperature, operating point).
    patient     the patient metadata of image files from a challenge's metadata
                CSV, for a run trained with metadata (`patient.read_csv`).
    labelled    a run's predictions on labelled images: a TFDS split or a folder
                with its ground-truth CSV (`from skinkeras.inference import labelled`).
    evaluate    the run's metrics, calibration and report from those, the library
                behind `experiments.evaluate` (`from skinkeras.inference import
                evaluate`).
    export      SavedModel and TFLite (`from skinkeras.inference import export`).

Metrics are `skinkeras.metrics`'; the run directory's layout is `skinkeras.rundir`.
The names below are re-exported so that `from skinkeras.inference import X` works.
"""

from skinkeras.evaluation.calibration import apply_calibration
from skinkeras.inference.calibration import (
    calibration_path,
    read_calibration,
    write_calibration,
)
from skinkeras.inference.predict import (
    IMAGE_EXTENSIONS,
    Predictions,
    Predictor,
    check_unique_ids,
    image_id,
    list_images,
    predict_dataset,
    predict_files,
)
from skinkeras.inference.runs import ModelNotFoundError, Run, find_models, load_run
from skinkeras.inference.submission import (
    CSV_FORMATS,
    read_truth_csv,
    write_isic_truth_csv,
    write_predictions_csv,
)
from skinkeras.inference.transforms import (
    TTA_TRANSFORMS,
    bytes_transform,
    image_transform,
    round_like_training,
    tta_batch,
)
from skinkeras.metrics import CLASS_NAMES, MELANOMA, classification_metrics
from skinkeras.rundir import CONFIG as CONFIG_FILE
from skinkeras.rundir import MODEL as MODEL_FILE
from skinkeras.rundir import read_config

__all__ = [
    "CLASS_NAMES",
    "CONFIG_FILE",
    "CSV_FORMATS",
    "IMAGE_EXTENSIONS",
    "MELANOMA",
    "MODEL_FILE",
    "TTA_TRANSFORMS",
    "ModelNotFoundError",
    "Predictions",
    "Predictor",
    "Run",
    "apply_calibration",
    "bytes_transform",
    "calibration_path",
    "check_unique_ids",
    "classification_metrics",
    "find_models",
    "image_id",
    "image_transform",
    "list_images",
    "load_run",
    "predict_dataset",
    "predict_files",
    "read_calibration",
    "read_config",
    "read_truth_csv",
    "round_like_training",
    "tta_batch",
    "write_calibration",
    "write_isic_truth_csv",
    "write_predictions_csv",
]
