"""The run's state and what is written to disk of it: checkpoints, the final model.

``checkpoints/`` (docs/training.md, "Run directory") holds the last two finished
epochs' checkpoints. Each is ``ckpt-<epoch>.weights.h5`` (model and optimizer
variables: moments and ``iterations``, hence the position in the one-cycle
schedules) plus its `RunState` (stage/epoch counters, history, alphas), and
``state.json`` ties them together: it is the manifest, holding the newest
checkpoint's state, the size and SHA-256 of its weights file, and the same for the
checkpoint before it (``"previous"``). A run resumes from them after any finished
epoch.

Crash consistency (issue 14): weights, optimizer and state form one unit, committed
by the rename of ``state.json``, written last. Every file is written under a name
unique to the process, ``.tmp-<pid>-<name>``, synced to disk and renamed into place.
A write interrupted anywhere leaves the previous manifest naming files that were not
touched (the weights file of a redone epoch is replaced by a rename, never rewritten
in place); files it no longer names are deleted only once the new manifest is in
place. Loading checks the weights against the manifest and falls back to the previous
checkpoint on a mismatch; it also removes what an interrupted write left behind.
"""

import hashlib
import json
import logging
import os
import pathlib

from skinkeras import rundir

MANIFEST = "state.json"
# The format before issue 14: ckpt.weights.h5 and state.json renamed one after the
# other, the state unchecked against the weights. Still loaded (see `load_state`).
LEGACY_WEIGHTS = "ckpt.weights.h5"
FORMAT = 2
TMP_PREFIX = rundir.TMP_PREFIX
_CHUNK = 1 << 20


class CheckpointError(ValueError):
    """``checkpoints/`` holds a manifest but no checkpoint that matches it."""


class RunState:
    """What a run has done so far: stage/epoch counters, history and ARL alphas.

    ``history`` holds one dict per finished epoch (both stages, in order);
    ``alphas`` maps each ARL layer name to its alpha after every finished epoch.
    ``nan`` says where the loss became NaN (set by `callbacks.NanGuard`), if it did.
    ``saved`` is the manifest entry (state and weights file) of the checkpoint this
    state was loaded from or last saved as, and ``weights_path`` its weights file
    (both None before the first checkpoint).
    """

    def __init__(self, *, stage=0, stage_epoch=0, history=None, alphas=None):
        self.stage = stage
        self.stage_epoch = stage_epoch
        self.history = list(history or [])
        self.alphas = dict(alphas or {})
        self.nan = None
        self.saved = None
        self.weights_path = None

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

    # Copies both ways: a checkpoint's dict must not grow with later epochs
    # (`saved` is kept as the next manifest's "previous").
    def to_dict(self):
        return {
            "stage": self.stage,
            "stage_epoch": self.stage_epoch,
            "epoch": self.epoch,
            "history": [dict(record) for record in self.history],
            "alphas": {name: list(values) for name, values in self.alphas.items()},
        }

    @classmethod
    def from_dict(cls, data):
        return cls(
            stage=data["stage"],
            stage_epoch=data["stage_epoch"],
            history=[dict(record) for record in data["history"]],
            alphas={name: list(values) for name, values in data["alphas"].items()},
        )


class Checkpoint:
    """Adds a finished epoch to the run state and saves it with the weights.

    `callbacks.EpochEnd` calls `save` last of an epoch's steps: a state that counts
    an epoch means everything about it (its TensorBoard summaries included) was
    written.
    """

    def __init__(self, state, directory):
        self.state = state
        self.directory = pathlib.Path(directory)

    def save(self, model, record):
        self.state.add_epoch(record)
        save_checkpoint(model, self.state, self.directory)


def weights_name(epoch):
    """The weights file of the checkpoint after ``epoch`` finished epochs."""
    return f"ckpt-{epoch:04d}.weights.h5"


def save_checkpoint(model, state, directory):
    """Writes ``model``'s variables and ``state`` as one checkpoint (module docstring).

    The checkpoint ``state.saved`` names becomes the manifest's ``"previous"``;
    ``state.saved`` and ``state.weights_path`` then name the new one.
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = _write_durably(directory / weights_name(state.epoch), model.save_weights)
    entry = {**state.to_dict(), "weights": weights}
    manifest = {"format": FORMAT, **entry, "previous": state.saved}
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    _write_durably(
        directory / MANIFEST, lambda path: path.write_text(text, encoding="utf-8")
    )
    _remove_unnamed(directory, _named_files(manifest))
    state.saved = entry
    state.weights_path = directory / weights["file"]


def load_state(directory):
    """The `RunState` of the newest complete checkpoint, or None before the first.

    Complete means its weights file has the size and SHA-256 the manifest gives;
    when the newest is not, the previous one is used (with a warning), losing one
    more epoch. ``weights_path`` of the result is the file to load into the model
    (with its optimizer built). Then removes what interrupted writes left: temporary
    files, and weights files the manifest does not name.

    A ``state.json`` without ``"format"`` was written before issue 14: it loads with
    its ``ckpt.weights.h5`` as before (nothing to check it against) and the next
    checkpoint is written in the new format.

    Raises:
        CheckpointError: ``state.json`` is unreadable, or none of the checkpoints it
            names is complete.
    """
    directory = pathlib.Path(directory)
    path = directory / MANIFEST
    if not path.exists():
        _remove_unnamed(directory, set())
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CheckpointError(
            f"Cannot read the checkpoint manifest {path} ({error}); resume is "
            f"impossible, use another --model_dir. Received: path={str(path)!r}"
        ) from error
    if "format" not in manifest:
        return _load_legacy(directory, manifest)
    if manifest["format"] != FORMAT:
        raise CheckpointError(
            f"The checkpoint manifest {path} has format {manifest['format']!r}; this "
            f"skinkeras reads format {FORMAT}. Received: path={str(path)!r}"
        )
    problems = []
    for entry in (manifest, manifest["previous"]):
        if entry is None:
            continue
        problem = _mismatch(directory, entry["weights"])
        if problem is not None:
            problems.append(problem)
            continue
        if problems:
            logging.warning(
                "Checkpoint of epoch %d is incomplete (%s); resuming from epoch %d.",
                manifest["epoch"],
                problems[0],
                entry["epoch"],
            )
        _remove_unnamed(directory, _named_files(manifest))
        return _restored(directory, entry)
    raise CheckpointError(
        f"No complete checkpoint in {directory}: {'; '.join(problems)}. Resume is "
        f"impossible, use another --model_dir. Received: directory={str(directory)!r}"
    )


def _load_legacy(directory, data):
    weights = directory / LEGACY_WEIGHTS
    if not weights.exists():
        _remove_unnamed(directory, set())
        return None  # what the old loader did: no epoch counts as finished
    logging.warning(
        "%s predates checkpoint manifests: its weights cannot be checked against "
        "its state (epoch %d).",
        directory,
        data["epoch"],
    )
    size, digest = _size_and_sha256(weights)
    entry = {
        **RunState.from_dict(data).to_dict(),
        "weights": {"file": LEGACY_WEIGHTS, "bytes": size, "sha256": digest},
    }
    _remove_unnamed(directory, {LEGACY_WEIGHTS})
    return _restored(directory, entry)


def _restored(directory, entry):
    state = RunState.from_dict(entry)
    state.saved = {key: value for key, value in entry.items() if key != "previous"}
    state.saved.pop("format", None)
    state.weights_path = directory / entry["weights"]["file"]
    return state


def _write_durably(path, write):
    """Writes ``path`` with ``write(tmp)`` then a rename; returns its manifest entry.

    Synced before the rename and the directory after it, so that once a manifest
    names the file, the file is whole on disk (a power cut included).
    """
    # Keras picks the weights format from the suffix, so the temporary name keeps it.
    tmp = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")
    try:
        write(tmp)
        with open(tmp, "rb") as file:
            os.fsync(file.fileno())
        size, digest = _size_and_sha256(tmp)
        os.replace(tmp, path)
    except BaseException:
        # A failed write (disk full) leaves nothing behind; a killed one leaves the
        # temporary file to the next `load_state`.
        tmp.unlink(missing_ok=True)
        raise
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return {"file": path.name, "bytes": size, "sha256": digest}


def _size_and_sha256(path):
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _mismatch(directory, weights):
    """Why the weights file does not match its manifest entry, or None."""
    path = directory / weights["file"]
    if not path.is_file():
        return f"{path} is missing"
    size = path.stat().st_size
    if size != weights["bytes"]:
        return f"{path} has {size} bytes, the manifest says {weights['bytes']}"
    if _size_and_sha256(path)[1] != weights["sha256"]:
        return f"the SHA-256 of {path} differs from the manifest's"
    return None


def _named_files(manifest):
    return {
        entry["weights"]["file"]
        for entry in (manifest, manifest.get("previous"))
        if entry is not None
    }


def _is_leftover(name):
    if name.startswith(TMP_PREFIX):
        return True
    # The temporary manifest of the writer before issue 14 (`rundir.atomic_write_text`).
    return name.startswith(f".{MANIFEST}.") and name.endswith(".tmp")


def _is_weights(name):
    return name == LEGACY_WEIGHTS or (
        name.startswith("ckpt-") and name.endswith(".weights.h5")
    )


def _remove_unnamed(directory, keep):
    """Deletes temporary files and the weights files not in ``keep``.

    Only one process writes a run directory (its lock), so a temporary file here is
    never another writer's file in progress.
    """
    if not directory.is_dir():
        return
    for path in directory.iterdir():
        if _is_leftover(path.name) or (
            _is_weights(path.name) and path.name not in keep
        ):
            path.unlink(missing_ok=True)
