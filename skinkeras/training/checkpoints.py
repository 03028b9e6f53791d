"""The run's state and what is written to disk of it: checkpoints, the final model.

``checkpoints/`` (README, "Run directory") holds ``ckpt.weights.h5`` (model and
optimizer variables: moments and ``iterations``, hence the position in the one-cycle
schedules) and ``state.json`` (`RunState`: stage/epoch counters, history, alphas).
A run resumes from them after any finished epoch.
"""

import os
import pathlib

from skinkeras import rundir

CHECKPOINT_WEIGHTS = "ckpt.weights.h5"
CHECKPOINT_STATE = "state.json"


class RunState:
    """What a run has done so far: stage/epoch counters, history and ARL alphas.

    ``history`` holds one dict per finished epoch (both stages, in order);
    ``alphas`` maps each ARL layer name to its alpha after every finished epoch.
    ``nan`` says where the loss became NaN (set by `callbacks.NanGuard`), if it did.
    """

    def __init__(self, *, stage=0, stage_epoch=0, history=None, alphas=None):
        self.stage = stage
        self.stage_epoch = stage_epoch
        self.history = list(history or [])
        self.alphas = dict(alphas or {})
        self.nan = None

    @property
    def epoch(self):
        """Number of finished epochs over both stages."""
        return len(self.history)

    def add_epoch(self, record):
        """Counts the epoch of ``record`` (see `callbacks.EpochRecorder`) as finished."""
        self.stage_epoch = record["stage_epoch"]
        self.history.append({k: v for k, v in record.items() if k != "alphas"})
        for name, alpha in record["alphas"].items():
            self.alphas.setdefault(name, []).append(alpha)

    def to_dict(self):
        return {
            "stage": self.stage,
            "stage_epoch": self.stage_epoch,
            "epoch": self.epoch,
            "history": self.history,
            "alphas": self.alphas,
        }

    @classmethod
    def from_dict(cls, data):
        return cls(
            stage=data["stage"],
            stage_epoch=data["stage_epoch"],
            history=data["history"],
            alphas=data["alphas"],
        )


class Checkpoint:
    """Adds a finished epoch to the run state and saves weights, then state.

    Both files are written to a temporary file first and renamed, weights before
    state, so the state on disk never points past the weights. `callbacks.EpochEnd`
    calls `save` last of an epoch's steps: a state that counts an epoch means
    everything about it (its TensorBoard summaries included) was written.
    """

    def __init__(self, state, directory):
        self.state = state
        self.directory = pathlib.Path(directory)

    def save(self, model, record):
        self.state.add_epoch(record)
        save_checkpoint(model, self.state, self.directory)


def save_checkpoint(model, state, directory):
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # Keras picks the format from the suffix, so the temporary name keeps it.
    tmp = directory / f".tmp-{os.getpid()}-{CHECKPOINT_WEIGHTS}"
    model.save_weights(tmp)
    os.replace(tmp, directory / CHECKPOINT_WEIGHTS)
    rundir.atomic_write_json(directory / CHECKPOINT_STATE, state.to_dict())


def load_state(directory):
    """The saved `RunState`, or None when no epoch has finished yet."""
    directory = pathlib.Path(directory)
    state_path = directory / CHECKPOINT_STATE
    if not (state_path.exists() and (directory / CHECKPOINT_WEIGHTS).exists()):
        return None
    return RunState.from_dict(rundir.read_json(state_path))


def save_model(model, path):
    """Saves an uncompiled copy, atomically: it loads with only `import skinkeras`.

    ``from_config``, unlike ``keras.models.clone_model``, does not copy the compile
    state, whose optimizer and loss (the OneCycle schedule, `LayerGroupAdamW`, the
    segmentation losses) would otherwise be needed to load the file.
    """
    path = pathlib.Path(path)
    clone = model.__class__.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    tmp = path.with_name(f".tmp-{path.name}")
    clone.save(tmp)
    tmp.replace(path)
