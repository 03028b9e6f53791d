"""The run directory: its file names, atomic writes, and reading its `config.json`.

What `skinkeras.training` writes into ``model_dir`` for one seed::

    config.json      the run's `TrainConfig`
    summary.json     per-run maxima, final values, per-epoch history, ARL alphas
    model.keras      the trained model as the self-contained pipeline (uint8 image
                     in, probabilities and decision out; the network is its layer
                     "network"; `skinkeras.models.pipeline`), or the bare network
                     for lesion-masked runs and runs written before issue 15; written
                     last: its presence means "finished"
    calibration.json temperature and operating point (`experiments.evaluate
                     --calibrate`; docs/analysis.md); a multi-seed dir's own one
                     is the ensemble's
    checkpoints/     resume state: the last two epochs, named by state.json
    logs/            TensorBoard summaries

and ``.lock``, the lock file of the one process that writes there (`lock`,
`lock_run`; a configuration's directory has one too, held briefly).

and for several seeds, ``model_dir/config.json``, ``results.md``/``results.csv`` (the
multi-seed table) and one such directory per seed, ``seed_<k>/``. Training, inference
and the experiments read and write runs through these names. Imports no TensorFlow.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import pathlib
import tempfile
import time

from skinkeras.config import RUNTIME_KEYS, TrainConfig

CONFIG = "config.json"
SUMMARY = "summary.json"
MODEL = "model.keras"
CALIBRATION = "calibration.json"
CHECKPOINTS = "checkpoints"
LOGS = "logs"
RESULTS_MD = "results.md"
RESULTS_CSV = "results.csv"
SEED_PREFIX = "seed_"
LOCK = ".lock"
# Temporary files in a run directory (unique per process); removed on resume.
TMP_PREFIX = ".tmp-"


class RunDirBusyError(RuntimeError):
    """Another process holds the run directory's lock (issue 14: one writer per run).

    ``holder`` is the holder's pid as its lock file records it (a string; "unknown"
    before the holder wrote it), ``path`` the lock file.
    """

    def __init__(self, message, *, holder="unknown", path=None):
        super().__init__(message)
        self.holder = holder
        self.path = path


class CorruptFileError(ValueError):
    """A file of a run directory cannot be read as what it should be."""


# How long a brief lock (`lock(..., wait=...)`: writing or comparing a configuration's
# `config.json`, rewriting its results tables) waits for another holder, in seconds.
BRIEF_WAIT = 300.0
_POLL = 0.05


@contextlib.contextmanager
def lock(model_dir, *, wait=0.0):
    """Holds an exclusive `fcntl.flock` on ``model_dir/.lock`` for the block.

    One process writes a run directory at a time (issue 14): a second one gets
    `RunDirBusyError` at once (``wait=0``), or after ``wait`` seconds of trying,
    naming the directory and the holder's pid, which the lock file records. A
    training seed's directory is held for the whole run; a configuration's
    directory only briefly (``wait=BRIEF_WAIT``; `skinkeras.training.seeds`, issue
    25). The kernel drops the lock when its holder exits, however it exits (a
    SIGKILL included), so a stale lock file never blocks; it is never deleted
    (deleting it would let two processes lock two different files). On a shared
    file system (NFS) `flock` locks across machines only where the client maps it
    to fcntl locks (Linux does, since 2.6.12; docs/training.md).
    Creates ``model_dir``. Yields the lock file's path.
    """
    model_dir = pathlib.Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(_POLL)
                    continue
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
                raise RunDirBusyError(
                    f"{model_dir} is in use by another process (pid "
                    f"{holder or 'unknown'}, holding {path}); wait for it to finish "
                    f"or use another --model_dir. Received: model_dir={str(model_dir)!r}",
                    holder=holder or "unknown",
                    path=path,
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def lock_run(model_dir):
    """`lock` of the existing run directory ``model_dir`` for a writer that is not
    training (`experiments.evaluate --calibrate`).

    Training holds the lock of each seed's directory while that seed trains (issue
    25), so a write into a seed directory fails at once (`RunDirBusyError`) while
    that run trains. Unlike `lock`, creates nothing: ``model_dir`` must exist.
    Yields ``model_dir``.
    """
    model_dir = pathlib.Path(model_dir)
    if not model_dir.is_dir():
        raise FileNotFoundError(
            f"No run directory to lock. Received: model_dir={str(model_dir)!r}"
        )
    with lock(model_dir):
        yield model_dir


def multiworker_subdir(tf_config):
    """``workers/<task>_<index>`` of a non-chief ``TF_CONFIG`` task, else None.

    The TensorFlow-free twin of `skinkeras.training.distribute.worker_subdir`: every
    worker of a multi-worker run gets the same ``--model_dir`` and each writes (and
    locks) only its own directory, the chief ``model_dir`` itself.
    """
    if not tf_config:
        return None
    try:
        data = json.loads(tf_config)
        task_type, task_id = data["task"]["type"], int(data["task"]["index"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"TF_CONFIG is not valid JSON with a task type and index ({error}). "
            f"Received: TF_CONFIG={tf_config!r}"
        ) from None
    if task_type == "chief":
        return None
    if (
        task_type == "worker"
        and task_id == 0
        and "chief" not in data.get("cluster", {})
    ):
        return None
    return f"workers/{task_type}_{task_id}"


def move_aside(model_dir):
    """Renames ``model_dir`` to ``<model_dir>.old-<UTC time>`` (never deletes it).

    Returns the new path, or None when ``model_dir`` does not exist. What
    ``experiments.main --restart`` does before starting again.
    """
    model_dir = pathlib.Path(model_dir)
    if not model_dir.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = model_dir.with_name(f"{model_dir.name}.old-{stamp}")
    suffix = 1
    while target.exists():
        target = model_dir.with_name(f"{model_dir.name}.old-{stamp}-{suffix}")
        suffix += 1
    model_dir.rename(target)
    return target


def default_name(config):
    """``<run_name>-<hash>``: the default run directory name of ``config``.

    ``run_name`` (e.g. ``effnet_se_arl_none``) says what is trained; the hash (8 hex
    digits of the SHA-256 of every field that changes the numbers: all but
    `RUNTIME_KEYS` and the seeds) tells runs of different lr, epochs, augmentation,
    image size ... apart, so parameter sweeps do not collide (issue 14), while the
    same command, with more seeds, still names the same directory.
    """
    fields = {
        key: value
        for key, value in config.to_dict().items()
        if key not in RUNTIME_KEYS and key != "seed"
    }
    if not config.metadata:  # issue 26's fields, off: the names runs had before
        del fields["metadata"], fields["metadata_encoding"]
    text = json.dumps(fields, sort_keys=True)
    return f"{config.run_name}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def _umask():
    """The process's umask: Linux shows it; elsewhere set and restore it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no getter: briefly set, then restored
    os.umask(mask)
    return mask


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

    A reader (or a crash) never sees a half-written file. The temporary name is
    unique per process (`tempfile.mkstemp`); the file gets the mode of an ordinary
    ``open``, 0666 less the umask (mkstemp's own 0600 would make results private).
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_model(model, path):
    """Saves an uncompiled copy of a Keras model, atomically: it loads with only
    `import skinkeras`.

    ``from_config``, unlike ``keras.models.clone_model``, does not copy the compile
    state, whose optimizer and loss (the OneCycle schedule, `LayerGroupAdamW`, the
    segmentation losses) would otherwise be needed to load the file. Here, not in
    `training`, because inference re-saves a run's model too (`evaluate --calibrate`).
    """
    path = pathlib.Path(path)
    clone = model.__class__.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    tmp = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")  # unique per process
    try:
        clone.save(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # e.g. a full disk: no half-written file left
        raise


def atomic_write_json(path, data):
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path):
    """The JSON of ``path``; `CorruptFileError` (a ValueError) names a corrupt file."""
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CorruptFileError(
            f"{path} is not valid JSON ({error}); it may be truncated or "
            f"overwritten. Received: path={str(path)!r}"
        ) from None


def read_config(run_dir):
    """The `TrainConfig` of a seed directory, else of its parent (multi-seed dir).

    Keys the file lacks take `TrainConfig`'s defaults; unknown keys (newer writers)
    are ignored.

    Raises:
        FileNotFoundError: neither directory holds a `config.json`.
        ValueError: the file is corrupt or holds an invalid configuration (the
            message names the file).
    """
    run_dir = pathlib.Path(run_dir)
    for path in (run_dir / CONFIG, run_dir.parent / CONFIG):
        if path.is_file():
            data = read_json(path)
            if not isinstance(data, dict):
                raise CorruptFileError(
                    f"{path} must hold a JSON object. Received: {type(data).__name__}"
                )
            try:
                return TrainConfig.from_dict(data)
            except (ValueError, TypeError) as error:
                raise CorruptFileError(f"{path}: {error}") from None
    raise FileNotFoundError(
        f"No {CONFIG} in {run_dir} or its parent: the preprocessing used in "
        f"training is unknown. Received: model_dir={run_dir}"
    )
