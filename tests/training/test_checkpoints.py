"""Crash-consistent checkpoints (issue 14, item 6): faults at every step of a write.

Every variable of a tiny Keras model and of its Adam optimizer is set to the epoch
number before that epoch is saved, so a loaded checkpoint shows at a glance whether
its weights, its optimizer and its state belong to the same epoch.
"""

import hashlib
import json
import logging
import os
import pathlib
import shutil
import signal
import subprocess
import sys

import h5py
import keras
import numpy as np
import pytest

from skinkeras import rundir
from skinkeras.training import checkpoints

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model():
    """One model for all: every test sets all its variables before use."""
    inputs = keras.Input((3,), name="input")
    x = keras.layers.Dense(2, name="dense")(inputs)
    outputs = keras.layers.BatchNormalization(name="bn")(x)  # non-trainable too
    model = keras.Model(inputs, outputs, name="tiny")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


def _variables(model):
    return [*model.weights, *model.optimizer.variables]


def _set_epoch(model, epoch):
    for variable in _variables(model):
        variable.assign(np.full(variable.shape, epoch, variable.dtype))


def _epoch_of(model):
    """The one epoch every model and optimizer variable holds (asserts there is one)."""
    values = {float(v) for var in _variables(model) for v in np.ravel(var.numpy())}
    assert len(values) == 1, values
    return int(values.pop())


def _record(epoch):
    """What `callbacks.EpochRecorder` hands to `Checkpoint.save`, in small."""
    return {
        "epoch": epoch,
        "stage": 1,
        "stage_epoch": epoch,
        "loss": 1.0 / epoch,
        "alphas": {"block1_arl": 0.1 * epoch},
    }


def _save_epochs(model, state, directory, epochs):
    for epoch in epochs:
        _set_epoch(model, epoch)
        checkpoints.Checkpoint(state, directory).save(model, _record(epoch))


def _check_state(state):
    assert [r["epoch"] for r in state.history] == list(range(1, state.epoch + 1))
    assert state.stage_epoch == state.epoch
    assert state.alphas["block1_arl"] == [0.1 * e for e in range(1, state.epoch + 1)]


def _resume(directory, model):
    """Loads as `loop.run` does; checks the checkpoint is one epoch's; returns it."""
    state = checkpoints.load_state(directory)
    assert state is not None
    _set_epoch(model, -1)  # nothing left from before the load
    model.load_weights(state.weights_path)
    assert _epoch_of(model) == state.epoch
    _check_state(state)
    return state


def _values_in(path):
    """Every variable saved in an HDF5 weights file, read without Keras."""
    values = []
    with h5py.File(path, "r") as file:
        file.visititems(
            lambda _, item: (
                values.append(item[()]) if isinstance(item, h5py.Dataset) else None
            )
        )
    return values


def _peek(directory, model):
    """`_resume` without Keras' loading (a quarter of a second): reads the HDF5."""
    state = checkpoints.load_state(directory)
    assert state is not None
    values = _values_in(state.weights_path)
    assert len(values) == len(_variables(model))  # optimizer's included
    assert {float(v) for value in values for v in np.ravel(value)} == {state.epoch}
    _check_state(state)
    return state


def _manifest(directory):
    return json.loads((directory / checkpoints.MANIFEST).read_text())


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def _weights_files(directory):
    return sorted(p.name for p in directory.glob("*.weights.h5"))


def _assert_complete(directory):
    """The manifest's two checkpoints are both whole, and no other file is there."""
    manifest = _manifest(directory)
    named = []
    for entry in (manifest, manifest["previous"]):
        if entry is None:
            continue
        path = directory / entry["weights"]["file"]
        assert path.stat().st_size == entry["weights"]["bytes"], path
        assert (
            hashlib.sha256(path.read_bytes()).hexdigest() == entry["weights"]["sha256"]
        )
        # ...and each is one epoch's: its state and its weights.
        assert entry["epoch"] == len(entry["history"])
        _check_state(checkpoints.RunState.from_dict(entry))
        values = {float(v) for value in _values_in(path) for v in np.ravel(value)}
        assert values == {entry["epoch"]}, path
        named.append(entry["weights"]["file"])
    if manifest["previous"] is not None:
        assert manifest["previous"]["epoch"] == manifest["epoch"] - 1
    assert _weights_files(directory) == sorted(named)
    assert _leftovers(directory) == []


class Killed(Exception):
    """The injected fault."""


class FaultAt:
    """Fails the ``k``-th step of the checkpoint writes that follow; counts them.

    The steps are the file operations a write can be stopped around: the model's
    ``save_weights`` and ``Path.write_text`` (failed half-way: half the file is
    on disk), ``os.replace``/``rename``/``fsync``/``unlink``/``remove``. Before failing,
    it copies ``directory`` to ``snapshot`` as it is at that instant: what a SIGKILL
    there leaves on disk, since no cleanup runs after one. The exception itself, which
    the writer's cleanup sees, stands for an I/O error such as a full disk.
    """

    def __init__(self, monkeypatch, model, *, directory, snapshot, k=None):
        self.directory, self.snapshot, self.k = directory, snapshot, k
        self.count = 0
        for name in ("replace", "rename", "fsync", "unlink", "remove"):
            monkeypatch.setattr(os, name, self._step(getattr(os, name)))
        monkeypatch.setattr(
            model, "save_weights", self._step(model.save_weights, partial=True)
        )
        write_text = pathlib.Path.write_text
        monkeypatch.setattr(
            pathlib.Path,
            "write_text",
            self._step(lambda path, *a, **kw: write_text(path, *a, **kw), partial=True),
        )

    def _step(self, real, *, partial=False):
        def step(*args, **kwargs):
            self.count += 1
            if self.count != self.k:
                return real(*args, **kwargs)
            if partial:  # the write stops half-way
                real(*args, **kwargs)
                path = pathlib.Path(args[0])
                with open(path, "r+b") as file:
                    file.truncate(path.stat().st_size // 2)
            shutil.copytree(self.directory, self.snapshot)
            raise Killed(f"step {self.k}")

        return step


def test_a_write_stopped_at_any_step_loses_at_most_that_epoch(
    model, tmp_path, monkeypatch, caplog
):
    base = tmp_path / "two_epochs"
    _save_epochs(model, checkpoints.RunState(), base, (1, 2))

    def two_epochs_then_the_third(run, k):
        directory = run / "checkpoints"
        shutil.copytree(base, directory)
        state = checkpoints.load_state(directory)
        _set_epoch(model, 3)
        with monkeypatch.context() as patch:
            fault = FaultAt(
                patch, model, directory=directory, snapshot=run / "killed", k=k
            )
            checkpoint = checkpoints.Checkpoint(state, directory)
            if k is None:
                checkpoint.save(model, _record(3))
            else:
                with pytest.raises(Killed):
                    checkpoint.save(model, _record(3))
        return directory, fault.count

    _, steps = two_epochs_then_the_third(tmp_path / "count", None)
    assert steps >= 9  # weights and manifest: write, fsync, rename, sync dir; delete
    killed, failed, left_by_errors = [], [], {}
    for k in range(1, steps + 1):
        run = tmp_path / f"step_{k}"
        directory, _ = two_epochs_then_the_third(run, k)
        left_by_errors[k] = _leftovers(directory)
        for where, epochs in ((directory, failed), (run / "killed", killed)):
            state = _peek(where, model)
            assert state.epoch in (2, 3), (k, where)
            epochs.append(state.epoch)
            # The next start removed the temporary files and unnamed weights.
            _assert_complete(where)
        # ...and the killed run goes on from there, the last two epochs kept.
        _save_epochs(model, state, where, (state.epoch + 1,))
        assert _peek(where, model).epoch == epochs[-1] + 1
        _assert_complete(where)
        assert len(_weights_files(where)) == 2
    # Epoch 3 counts from one step on (the manifest's rename), never before it.
    commit = killed.index(3)
    assert killed == [2] * commit + [3] * (steps - commit), killed
    assert failed == killed
    # The I/O errors: the writer removed its temporary files itself.
    assert left_by_errors == {k: [] for k in range(1, steps + 1)}
    # Consistent without falling back: the newest checkpoint was always complete.
    assert "incomplete" not in caplog.text


def _fd_path(fd):
    return os.readlink(f"/proc/self/fd/{fd}")


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_files_reach_the_disk_before_their_names(model, tmp_path, monkeypatch):
    """fsync the file, rename it, fsync the directory: a power cut keeps the order."""
    directory = tmp_path / "checkpoints"
    state = checkpoints.RunState()
    _save_epochs(model, state, directory, (1, 2))
    trace = []
    real_fsync, real_replace, real_unlink = os.fsync, os.replace, os.unlink

    def fsync(fd):
        trace.append(("fsync", pathlib.Path(_fd_path(fd)).name))
        real_fsync(fd)

    def replace(src, dst):
        trace.append(("replace", pathlib.Path(src).name, pathlib.Path(dst).name))
        real_replace(src, dst)

    def unlink(path, *args, **kwargs):
        trace.append(("unlink", pathlib.Path(path).name))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "unlink", unlink)
    _set_epoch(model, 3)
    checkpoints.Checkpoint(state, directory).save(model, _record(3))
    pid = os.getpid()
    weights, manifest = "ckpt-0003.weights.h5", "state.json"
    assert trace == [
        ("fsync", f".tmp-{pid}-{weights}"),
        ("replace", f".tmp-{pid}-{weights}", weights),
        ("fsync", "checkpoints"),
        ("fsync", f".tmp-{pid}-{manifest}"),
        ("replace", f".tmp-{pid}-{manifest}", manifest),
        ("fsync", "checkpoints"),
        ("unlink", "ckpt-0001.weights.h5"),
    ]


def _break(path, how):
    if how == "byte":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[:-100])
    else:
        path.unlink()


@pytest.mark.parametrize("how", ["byte", "truncated", "missing"])
def test_a_newest_checkpoint_that_fails_its_check_falls_back_to_the_one_before(
    model, tmp_path, caplog, how
):
    directory = tmp_path / "checkpoints"
    state = checkpoints.RunState()
    _save_epochs(model, state, directory, (1, 2, 3))
    _break(directory / "ckpt-0003.weights.h5", how)
    with caplog.at_level(logging.WARNING):
        state = _resume(directory, model)
    assert state.epoch == 2
    assert "Checkpoint of epoch 3 is incomplete" in caplog.text
    assert "resuming from epoch 2" in caplog.text
    # The redone epoch replaces the broken file; the one before stays the previous.
    _save_epochs(model, state, directory, (3,))
    assert _manifest(directory)["previous"]["epoch"] == 2
    _assert_complete(directory)
    assert _resume(directory, model).epoch == 3


def test_no_complete_checkpoint_is_refused_naming_the_files(model, tmp_path):
    directory = tmp_path / "checkpoints"
    state = checkpoints.RunState()
    _save_epochs(model, state, directory, (1, 2))
    _break(directory / "ckpt-0002.weights.h5", "byte")
    _break(directory / "ckpt-0001.weights.h5", "truncated")
    with pytest.raises(checkpoints.CheckpointError) as error:
        checkpoints.load_state(directory)
    message = str(error.value)
    assert "SHA-256 of " + str(directory / "ckpt-0002.weights.h5") in message
    assert str(directory / "ckpt-0001.weights.h5") + " has " in message
    assert message.endswith(f"Received: directory={str(directory)!r}")
    # Nothing was deleted: the files stay for whoever looks into it.
    assert _weights_files(directory) == ["ckpt-0001.weights.h5", "ckpt-0002.weights.h5"]


def test_an_unreadable_manifest_is_refused_naming_it(tmp_path):
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    (directory / "state.json").write_text('{"format": 2, "epo')
    with pytest.raises(checkpoints.CheckpointError, match="manifest .*state.json"):
        checkpoints.load_state(directory)


def test_only_the_last_two_checkpoints_are_kept(model, tmp_path):
    directory = tmp_path / "checkpoints"
    state = checkpoints.RunState()
    _save_epochs(model, state, directory, (1,))
    assert _weights_files(directory) == ["ckpt-0001.weights.h5"]
    assert _manifest(directory)["previous"] is None
    _save_epochs(model, state, directory, (2, 3, 4))
    assert _weights_files(directory) == ["ckpt-0003.weights.h5", "ckpt-0004.weights.h5"]
    manifest = _manifest(directory)
    assert (manifest["epoch"], manifest["previous"]["epoch"]) == (4, 3)
    assert manifest["previous"]["history"] == manifest["history"][:3]
    _assert_complete(directory)


def test_leftovers_are_removed_on_the_next_start_and_nothing_else(model, tmp_path):
    directory = tmp_path / "checkpoints"
    state = checkpoints.RunState()
    _save_epochs(model, state, directory, (1, 2))
    leftovers = [
        ".tmp-12345-ckpt-0003.weights.h5",  # killed while writing weights
        ".tmp-12345-state.json",  # ... or the manifest
        ".state.json.k2j4x8.tmp",  # the writer before issue 14
        ".tmp-12345-ckpt.weights.h5",  # ditto
        "ckpt-0003.weights.h5",  # killed before the manifest named it
    ]
    for name in leftovers:
        (directory / name).write_bytes(b"partial")
    (directory / "notes.txt").write_text("the user's")
    assert _resume(directory, model).epoch == 2
    assert sorted(p.name for p in directory.iterdir()) == [
        "ckpt-0001.weights.h5",
        "ckpt-0002.weights.h5",
        "notes.txt",
        "state.json",
    ]


def test_an_empty_or_missing_directory_has_no_state(tmp_path):
    assert checkpoints.load_state(tmp_path / "checkpoints") is None
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    (directory / ".tmp-1-ckpt-0001.weights.h5").write_bytes(b"partial")
    (directory / "ckpt-0001.weights.h5").write_bytes(b"renamed, not named")
    assert checkpoints.load_state(directory) is None
    assert list(directory.iterdir()) == []


def _legacy_checkpoint(model, directory, epochs):
    """What skinkeras wrote before issue 14 (ckpt.weights.h5, then state.json)."""
    state = checkpoints.RunState()
    for epoch in epochs:
        _set_epoch(model, epoch)
        state.add_epoch(_record(epoch))
    directory.mkdir(parents=True)
    model.save_weights(directory / "ckpt.weights.h5")
    rundir.atomic_write_json(directory / "state.json", state.to_dict())


def test_a_checkpoint_of_the_old_format_loads_and_is_converted(model, tmp_path, caplog):
    directory = tmp_path / "checkpoints"
    _legacy_checkpoint(model, directory, (1, 2))
    (directory / ".tmp-777-ckpt.weights.h5").write_bytes(b"partial")
    with caplog.at_level(logging.WARNING):
        state = _resume(directory, model)
    assert state.epoch == 2 and state.weights_path.name == "ckpt.weights.h5"
    assert "predates checkpoint manifests" in caplog.text
    assert _leftovers(directory) == []
    _save_epochs(model, state, directory, (3,))
    manifest = _manifest(directory)
    assert manifest["format"] == 2
    assert manifest["previous"]["weights"]["file"] == "ckpt.weights.h5"
    _assert_complete(directory)
    _save_epochs(model, state, directory, (4,))
    assert _weights_files(directory) == ["ckpt-0003.weights.h5", "ckpt-0004.weights.h5"]
    assert _resume(directory, model).epoch == 4


def test_an_old_state_without_its_weights_starts_afresh_as_before(model, tmp_path):
    directory = tmp_path / "checkpoints"
    _legacy_checkpoint(model, directory, (1,))
    (directory / "ckpt.weights.h5").unlink()
    assert checkpoints.load_state(directory) is None


# A writer in a process of its own, SIGKILLed at one point of its third checkpoint.
# `H5Model` stands for the Keras model (an HDF5 file of its epoch, written dataset by
# dataset), so the child imports no TensorFlow and starts in about a second.
_WRITER = """
import os, signal, sys
import h5py, numpy as np
from skinkeras.training import checkpoints

point, directory = sys.argv[1], sys.argv[2]
print(os.getpid(), flush=True)

def kill():
    os.kill(os.getpid(), signal.SIGKILL)

class H5Model:
    epoch = 0

    def save_weights(self, path):
        with h5py.File(path, "w") as file:
            for i in range(4):
                if self.epoch == 3 and point == "weights" and i == 2:
                    file.flush()
                    kill()
                file.create_dataset(f"v{i}", data=np.full(5000, self.epoch))

def kill_before(real, point_here, name):
    def call(*args, **kwargs):
        if H5Model.epoch == 3 and point == point_here and name in str(args[-1]):
            kill()
        return real(*args, **kwargs)
    return call

os.replace = kill_before(os.replace, "weights_rename", "ckpt-0003")
os.replace = kill_before(os.replace, "manifest_rename", "state.json")
os.unlink = kill_before(os.unlink, "cleanup", "ckpt-0001")
model, state = H5Model(), checkpoints.RunState()
for epoch in (1, 2, 3):
    H5Model.epoch = epoch
    record = {"epoch": epoch, "stage": 1, "stage_epoch": epoch, "loss": 1.0 / epoch}
    record["alphas"] = {"block1_arl": 0.1 * epoch}  # as `_record` has them
    checkpoints.Checkpoint(state, directory).save(model, record)
"""


@pytest.mark.parametrize(
    "point, epoch, left",
    [
        ("weights", 2, [".tmp-PID-ckpt-0003.weights.h5"]),
        ("weights_rename", 2, [".tmp-PID-ckpt-0003.weights.h5"]),
        ("manifest_rename", 2, [".tmp-PID-state.json"]),
        ("cleanup", 3, []),
    ],
)
def test_a_writer_killed_by_sigkill_resumes_consistently(tmp_path, point, epoch, left):
    directory = tmp_path / "checkpoints"
    child = subprocess.run(
        [sys.executable, "-c", _WRITER, point, str(directory)],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    left = [name.replace("PID", child.stdout.strip()) for name in left]
    assert _leftovers(directory) == left
    state = checkpoints.load_state(directory)
    assert state.epoch == epoch
    with h5py.File(state.weights_path, "r") as file:
        assert {float(v) for name in file for v in file[name][()]} == {epoch}
        assert len(file) == 4
    _assert_complete(directory)
