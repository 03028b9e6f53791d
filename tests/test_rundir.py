"""skinkeras.rundir: atomic writes, seed directories and reading a run's config."""

import json
import os
import pathlib
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest

from skinkeras import rundir
from skinkeras.config import TrainConfig


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "summary.json"
    rundir.atomic_write_json(path, {"a": 1})

    class Boom:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        rundir.atomic_write_json(path, {"a": Boom()})
    assert rundir.read_json(path) == {"a": 1}
    assert os.listdir(tmp_path) == ["summary.json"]


def test_seed_dirs_in_numeric_order(tmp_path):
    for name in ("seed_10", "seed_2", "seed_x", "logs"):
        (tmp_path / name).mkdir()
    (tmp_path / "seed_3").write_text("a file, not a run")
    assert rundir.seed_dirs(tmp_path) == [
        (2, tmp_path / "seed_2"),
        (10, tmp_path / "seed_10"),
    ]
    assert rundir.seed_dir(tmp_path, 4) == tmp_path / "seed_4"


def test_read_config_fills_defaults_and_falls_back_to_the_parent(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps({"image_size": 64, "preprocessing": "ben_graham", "newer_key": 1})
    )
    (tmp_path / "seed_0").mkdir()
    config = rundir.read_config(tmp_path / "seed_0")
    # Written keys win; the others are TrainConfig's defaults, not retyped here.
    assert config == TrainConfig(image_size=64, preprocessing="ben_graham")
    (tmp_path / "seed_0" / "config.json").write_text(json.dumps({"seed": 5}))
    assert rundir.read_config(tmp_path / "seed_0").seed == 5
    with pytest.raises(FileNotFoundError, match="No config.json"):
        rundir.read_config(tmp_path / "elsewhere" / "seed_0")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text(json.dumps({"model": "vgg"}))
    with pytest.raises(ValueError, match="bad/config.json: .*Received: model='vgg'"):
        rundir.read_config(tmp_path / "bad")


# A process that holds the lock of argv[1] until killed (issue 14's second writer).
HOLDER = """
import sys, time
from skinkeras import rundir
with rundir.lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(600)
"""
REPO = pathlib.Path(__file__).resolve().parent.parent


def start_holder(run_dir):
    """A subprocess holding ``run_dir``'s lock (returns once it holds it)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(run_dir)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert holder.stdout.readline() == "locked\n"
    return holder


def test_lock_refuses_a_second_writer_naming_the_directory_and_holder(tmp_path):
    run_dir = tmp_path / "run"
    holder = start_holder(run_dir)
    try:
        with pytest.raises(rundir.RunDirBusyError) as error:
            with rundir.lock(run_dir):
                pass
        assert str(run_dir) in str(error.value)
        assert f"pid {holder.pid}" in str(error.value)
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_never_blocks(tmp_path):
    run_dir = tmp_path / "run"
    holder = start_holder(run_dir)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    # The lock file (with the dead pid) is still there; the kernel released its lock.
    assert (run_dir / rundir.LOCK).read_text() == f"{holder.pid}\n"
    with rundir.lock(run_dir) as path:
        assert path.read_text() == f"{os.getpid()}\n"
    with rundir.lock(run_dir):  # released at the end of the block, in-process too
        pass


def test_lock_run_of_a_seed_directory_fails_while_that_seed_trains(tmp_path):
    # Training holds each seed's own lock (issue 25); a writer into seed_1 must
    # wait for it (experiments.evaluate --calibrate --model_dir=RUN/seed_1), not
    # for the other seeds or the configuration's directory.
    run_dir = tmp_path / "run"
    seed_dir = run_dir / "seed_1"
    seed_dir.mkdir(parents=True)
    holder = start_holder(seed_dir)
    try:
        with pytest.raises(rundir.RunDirBusyError) as error:
            with rundir.lock_run(seed_dir):
                pass
        assert f"{seed_dir} is in use" in str(error.value)
        assert error.value.holder == str(holder.pid)
        with rundir.lock_run(run_dir):  # the configuration's directory is free
            pass
    finally:
        holder.kill()
        holder.wait()
    with rundir.lock_run(seed_dir) as locked:
        assert locked == seed_dir
        assert (seed_dir / rundir.LOCK).read_text() == f"{os.getpid()}\n"


def test_a_brief_lock_waits_for_its_holder_then_gives_up(tmp_path):
    run_dir = tmp_path / "run"
    holder = start_holder(run_dir)
    try:
        start = time.monotonic()
        with pytest.raises(rundir.RunDirBusyError, match=f"pid {holder.pid}"):
            with rundir.lock(run_dir, wait=0.5):
                pass
        assert time.monotonic() - start >= 0.5
        threading.Timer(0.3, holder.kill).start()
        with rundir.lock(run_dir, wait=30) as path:  # got it once the holder died
            assert path.read_text() == f"{os.getpid()}\n"
    finally:
        holder.kill()
        holder.wait()


def test_lock_run_creates_no_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="Received: model_dir='.*missing'"):
        with rundir.lock_run(tmp_path / "missing"):
            pass
    assert not (tmp_path / "missing").exists()


def test_move_aside_renames_and_never_deletes(tmp_path):
    run_dir = tmp_path / "run"
    assert rundir.move_aside(run_dir) is None
    (run_dir / "seed_0").mkdir(parents=True)
    (run_dir / "seed_0" / "summary.json").write_text("{}")
    first = rundir.move_aside(run_dir)
    assert not run_dir.exists()
    assert first.name.startswith("run.old-")
    assert (first / "seed_0" / "summary.json").read_text() == "{}"
    run_dir.mkdir()
    second = rundir.move_aside(run_dir)  # the same second: a new name, not over it
    assert second != first and first.exists() and second.exists()


def test_default_name_tells_sweeps_apart_but_not_seeds_or_places():
    base = TrainConfig()
    name = rundir.default_name(base)
    assert (
        name.startswith("effnet_se_none-") and len(name) == len("effnet_se_none-") + 8
    )
    for changed in (
        dict(lr=1e-4),
        dict(head_lr=1e-3),
        dict(epochs=5),
        dict(head_epochs=1),
        dict(augment=False),
        dict(image_size=128),
        dict(batch_size=8),
    ):
        assert rundir.default_name(base.replace(**changed)) != name, changed
    same = base.replace(seed=3, seeds=[3, 4], model_dir="elsewhere", data_dir="/d")
    assert rundir.default_name(same) == name


def test_multiworker_subdir_matches_tf_distribute_roles():
    def tf_config(task_type, index, chief=False):
        cluster = {"worker": ["a:1", "b:2"], **({"chief": ["c:3"]} if chief else {})}
        task = {"type": task_type, "index": index}
        return json.dumps({"cluster": cluster, "task": task})

    assert rundir.multiworker_subdir(None) is None
    assert rundir.multiworker_subdir(tf_config("worker", 0)) is None
    assert rundir.multiworker_subdir(tf_config("worker", 1)) == "workers/worker_1"
    assert rundir.multiworker_subdir(tf_config("chief", 0, True)) is None
    assert rundir.multiworker_subdir(tf_config("worker", 0, True)) == "workers/worker_0"
    with pytest.raises(ValueError, match="TF_CONFIG"):
        rundir.multiworker_subdir("{not json")


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0, 0o666)])
def test_atomic_writes_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        rundir.atomic_write_text(tmp_path / "results.md", "x")
        # What `open` gives, the reference: an ordinary file of the same umask.
        (tmp_path / "plain").write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "plain").st_mode) == mode
    assert stat.S_IMODE(os.stat(tmp_path / "results.md").st_mode) == mode


def test_corrupt_json_names_the_file(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text('{"max_accuracy": 0.8,')  # truncated
    with pytest.raises(ValueError, match=f"{path} is not valid JSON"):
        rundir.read_json(path)
    path.write_bytes(b"\xff\xfe{")
    with pytest.raises(rundir.CorruptFileError, match="summary.json"):
        rundir.read_json(path)
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="config.json must hold a JSON object"):
        rundir.read_config(tmp_path)
    (tmp_path / "config.json").write_text('{"image_size": ')
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        rundir.read_config(tmp_path)
