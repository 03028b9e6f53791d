"""A run's `calibration.json`: temperature scaling and the operating point.

`experiments.evaluate --calibrate` fits both on a validation split and writes them
(issue 15); evaluation and `experiments.predict` apply them. Fitting and applying
are arithmetic, `skinkeras.evaluation.fit_calibration` and `apply_calibration`; this
module reads and writes the file. The file (keys; extra keys may be added, readers
ignore them)::

    temperature             T > 0 of temperature scaling (Guo et al. 2017)
    threshold               melanoma when the calibrated melanoma probability >= it
    rule                    "target_sensitivity" or "youden": how it was chosen
    target_sensitivity      the target of that rule, or null for "youden"
    validation_sensitivity  what the threshold gave on the calibration split
    validation_specificity
    validation_n            images in the calibration split
    split, seeds, tta       the split, the run's seeds and the TTA views it was fitted on

Where: a seed directory's ``calibration.json`` is that model's; a multi-seed
directory's own is the ensemble's (the mean probability of its seeds), and a seed
chosen with ``seed=k`` uses ``seed_<k>/calibration.json``.

The temperature divides the log of the (seed- and TTA-averaged) probabilities:
``softmax(log(p) / T)``. For one model without TTA that is exactly
``softmax(logits / T)`` (``log softmax(z)`` is ``z`` less a constant per image);
for an ensemble it scales the ensemble's own log-probabilities, one temperature for
the averaged prediction that is evaluated and deployed.
"""

import pathlib

import numpy as np

from skinkeras import rundir


def calibration_path(model_dir, seed=None):
    """Where the calibration of ``load_run(model_dir, seed=seed)`` lives."""
    model_dir = pathlib.Path(model_dir)
    # A seed directory is its own run whatever `seed` says (as in `find_models`).
    if seed is None or (model_dir / rundir.MODEL).is_file():
        return model_dir / rundir.CALIBRATION
    return rundir.seed_dir(model_dir, seed) / rundir.CALIBRATION


def read_calibration(model_dir, seed=None):
    """The run's `calibration.json` as a dict, or None when it has none."""
    path = calibration_path(model_dir, seed)
    if not path.is_file():
        return None
    calibration = rundir.read_json(path)
    for key in ("temperature", "threshold"):
        value = calibration.get(key)
        if not isinstance(value, int | float) or not np.isfinite(value):
            raise ValueError(
                f"{path}: `{key}` must be a number. Received: {key}={value!r}"
            )
    if calibration["temperature"] <= 0:
        raise ValueError(
            f"{path}: `temperature` must be positive. "
            f"Received: temperature={calibration['temperature']}"
        )
    if not 0 <= calibration["threshold"] <= 1:
        raise ValueError(
            f"{path}: `threshold` must be a probability in [0, 1]. "
            f"Received: threshold={calibration['threshold']}"
        )
    return calibration


def write_calibration(model_dir, calibration, seed=None):
    """Writes `calibration` (a dict with the keys above) atomically; returns the path."""
    path = calibration_path(model_dir, seed)
    rundir.atomic_write_json(path, calibration)
    return path
