"""The run directory: its file names, atomic writes, and reading its `config.json`.

What `skinkeras.training` writes into ``model_dir`` for one seed::

    config.json      the run's `TrainConfig`
    calibration.json temperature and decision threshold (fitted on validation)
    summary.json     per-run maxima, final values, per-epoch history, ARL alphas
    model.keras      the trained model (written last: its presence means "finished")
    checkpoints/     resume state (weights + state.json)
    logs/            TensorBoard summaries

and for several seeds, ``model_dir/config.json``, ``results.md``/``results.csv`` (the
multi-seed table) and one such directory per seed, ``seed_<k>/``. Training, inference
and the experiments read and write runs through these names. Imports no TensorFlow.
"""

import json
import os
import pathlib
import tempfile

from skinkeras.training.config import TrainConfig

CONFIG = "config.json"
SUMMARY = "summary.json"
MODEL = "model.keras"
CALIBRATION = "calibration.json"
CHECKPOINTS = "checkpoints"
LOGS = "logs"
RESULTS_MD = "results.md"
RESULTS_CSV = "results.csv"
SEED_PREFIX = "seed_"


def seed_dir(model_dir, seed):
    """``model_dir/seed_<seed>``: one seed's run inside a multi-seed directory."""
    return pathlib.Path(model_dir) / f"{SEED_PREFIX}{seed}"


def seed_dirs(model_dir):
    """``[(k, model_dir/seed_<k>)]`` of the seed directories, in seed order."""
    return sorted(
        (int(path.name.removeprefix(SEED_PREFIX)), path)
        for path in pathlib.Path(model_dir).glob(f"{SEED_PREFIX}*")
        if path.is_dir() and path.name.removeprefix(SEED_PREFIX).isdigit()
    )


def atomic_write_text(path, text):
    """Writes ``text`` to ``path`` through a temporary file and ``os.replace``.

    A reader (or a crash) never sees a half-written file.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_json(path, data):
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path):
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def read_config(run_dir):
    """The `TrainConfig` of a seed directory, else of its parent (multi-seed dir).

    Keys the file lacks take `TrainConfig`'s defaults; unknown keys (newer writers)
    are ignored.

    Raises:
        FileNotFoundError: neither directory holds a `config.json`.
    """
    run_dir = pathlib.Path(run_dir)
    for path in (run_dir / CONFIG, run_dir.parent / CONFIG):
        if path.is_file():
            return TrainConfig.from_json(path.read_text(encoding="utf-8"))
    raise FileNotFoundError(
        f"No {CONFIG} in {run_dir} or its parent: the preprocessing used in "
        f"training is unknown. Received: model_dir={run_dir}"
    )
