"""skinkeras.training.launch: every (configuration, seed) a Ray task (issue 25).

The slow test runs a local Ray (2 CPUs) on 2 configurations x 2 seeds of the bundled
synthetic lesions, kills one task's worker (SIGKILL) after the first checkpoint of
its second stage, and compares every run's ``summary.json`` with the serial
`seeds.run_seeds` of the same configurations, float for float.
"""

import json
import os
import pathlib
import re
import signal
import sys

import keras
import pytest

from skinkeras.training import launch
from tests.training import helpers

REPO = str(pathlib.Path(__file__).resolve().parents[2])


def _config(model_dir, **overrides):
    """Synthetic lesions at 32 px, 1 + 2 epochs: the tiny model's runs (`helpers`)."""
    values = dict(dataset="synthetic_lesions", image_size=32, batch_size=32)
    values.update(oversample=False, model_dir=str(model_dir), **overrides)
    return helpers.config(model_dir, **values)


def test_without_ray_the_launcher_fails_at_once_with_the_install_command(
    tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(launch.RayNotInstalledError, match=re.escape(launch.INSTALL)):
        launch.require_ray()
    with pytest.raises(launch.RayNotInstalledError):
        launch.run_on_ray([("a", _config(tmp_path / "a"), [0])])
    assert not (tmp_path / "a").exists()  # nothing written
    assert launch.INSTALL == 'pip install -e ".[ray]"'


def test_a_multi_worker_configuration_is_refused_before_ray_starts(tmp_path):
    pytest.importorskip("ray")
    config = _config(tmp_path / "a", strategy="multiworker")
    with pytest.raises(ValueError, match="Received: strategy='multiworker'"):
        launch.run_on_ray([("a", config, [0, 1])])
    assert not (tmp_path / "a").exists()


def test_progress_line_gives_runs_done_elapsed_and_time_left():
    from skinkeras.training import seeds

    summary = {"max_accuracy": 0.8125, "max_auroc": 0.75}
    trained = seeds.SeedOutcome(3, seeds.TRAINED, summary)
    line = launch.progress_line(
        "exp4_effnet_se", 3, trained, done=3, total=8, trained=2, elapsed=125.4
    )
    # 125.4 s for 2 runs trained: 62.7 s a run, 5 runs left.
    assert line == (
        "exp4_effnet_se seed 3: trained, max accuracy 0.8125, max AUROC 0.7500; "
        "runs 3/8, elapsed 0:02:05, estimated time left 0:05:14"
    )
    finished = seeds.SeedOutcome(0, seeds.FINISHED, summary)
    line = launch.progress_line("a", 0, finished, done=1, total=2, trained=0, elapsed=3)
    assert "seed 0: finished before, max accuracy 0.8125" in line
    assert line.endswith("runs 1/2, elapsed 0:00:03, estimated time left unknown")
    busy = seeds.SeedOutcome(1, seeds.BUSY, holder="4242", lock_path="x/.lock")
    line = launch.progress_line("a", 1, busy, done=2, total=2, trained=0, elapsed=4)
    assert "seed 1: skipped, another process is training it (pid 4242)" in line
    assert line.endswith("estimated time left 0:00:00")
    line = launch.progress_line("a", 1, None, done=1, total=2, trained=1, elapsed=60)
    assert line.startswith("a seed 1: failed; runs 1/2")


def test_ray_task_resources_ask_for_gpus_only_where_there_are_gpus():
    class FakeRay:
        gpus = 0

        def cluster_resources(self):
            return {"CPU": 16.0, "GPU": self.gpus} if self.gpus else {"CPU": 16.0}

    ray = FakeRay()
    options = dict(gpus_per_run=0.5, cpus_per_run=2)
    assert launch._resources(ray, **options) == {"num_cpus": 2}
    ray.gpus = 8
    # A fresh worker per GPU task: TensorFlow keeps the GPU it saw first.
    # Two runs on one GPU: TensorFlow must not take all its memory.
    assert launch._resources(ray, **options) == {
        "num_cpus": 2,
        "num_gpus": 0.5,
        "max_calls": 1,
        "runtime_env": {"env_vars": {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}},
    }
    options["gpus_per_run"] = 1
    assert launch._resources(ray, **options) == {
        "num_cpus": 2,
        "num_gpus": 1,
        "max_calls": 1,
    }


# The slow test: a local Ray, a killed worker.

TARGET = "b seed 1"  # the task whose worker is killed once


def tiny_models():
    """Ray's worker setup hook: the loop builds `helpers.tiny_model` (a test's
    monkeypatch does not reach the worker processes)."""
    from skinkeras.training import loop

    loop.model_from_config = helpers.tiny_model


class KillOnce(keras.callbacks.Callback):
    """Logs ``task<TAB>pid`` after each epoch (after its checkpoint); SIGKILLs the
    worker of task `TARGET` after its second epoch (stage 2's first) once."""

    def __init__(self, directory):
        super().__init__()
        self.directory = str(directory)

    def on_epoch_end(self, epoch, logs=None):
        import ray

        task = ray.get_runtime_context().get_task_name()
        directory = pathlib.Path(self.directory)
        with open(directory / "epochs.log", "a") as log:
            log.write(f"{task}\t{os.getpid()}\n")
        lines = (directory / "epochs.log").read_text().splitlines()
        marker = directory / "killed"
        if task == TARGET and not marker.exists():
            if sum(line.startswith(f"{task}\t") for line in lines) == 2:
                marker.write_text(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)


def _floats(model_dir, seed):
    summary = json.loads((model_dir / f"seed_{seed}" / "summary.json").read_text())
    return json.dumps([summary["history"], summary["alphas"]])


@pytest.mark.slow
def test_two_configurations_on_a_local_ray_give_the_serial_numbers_after_a_kill(
    tmp_path, monkeypatch
):
    ray = pytest.importorskip("ray")
    from skinkeras import data
    from skinkeras.training import loop, seeds

    data_dir = tmp_path / "tfds"
    data.dataset_info("synthetic_lesions", str(data_dir), label="melanoma")  # built

    def runs(root):
        return [
            (name, _config(root / name, data_dir=str(data_dir), **changes), [0, 1])
            for name, changes in (("a", {}), ("b", {"lr": 3e-3}))
        ]

    lines = []
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        # The hook runs before Ray puts the driver's directory on the workers' path.
        runtime_env={
            "env_vars": {"PYTHONPATH": REPO},
            "worker_process_setup_hook": tiny_models,
        },
    )
    try:
        outcomes = launch.run_on_ray(
            runs(tmp_path / "ray"),
            callbacks=[KillOnce(tmp_path)],
            progress=lines.append,
        )
    finally:
        ray.shutdown()

    # The serial reference: this process, one seed after another.
    monkeypatch.setattr(loop, "model_from_config", helpers.tiny_model)
    for _, config, seed_list in runs(tmp_path / "serial"):
        seeds.run_seeds(config, seed_list)

    for name in ("a", "b"):
        assert [o.status for o in outcomes[name]] == [seeds.TRAINED] * 2
        for seed in (0, 1):
            ours = _floats(tmp_path / "ray" / name, seed)
            assert ours == _floats(tmp_path / "serial" / name, seed), (name, seed)
        assert (
            "| max_auroc | 2 |" in (tmp_path / "ray" / name / "results.md").read_text()
        )
        assert (tmp_path / "ray" / name / "results.csv").is_file()
        config = json.loads((tmp_path / "ray" / name / "config.json").read_text())
        assert config["seeds"] == [0, 1]
    assert _floats(tmp_path / "ray" / "a", 0) != _floats(tmp_path / "ray" / "b", 0)

    # The target's worker died after stage 2's first epoch; its retry, in another
    # process, trained only the last epoch (resumed from the checkpoint).
    epochs = [
        line.split("\t")
        for line in (tmp_path / "epochs.log").read_text().split("\n")
        if line
    ]
    killed_pid = (tmp_path / "killed").read_text()
    target = [pid for task, pid in epochs if task == TARGET]
    assert target[:2] == [killed_pid] * 2 and len(target) == 3
    assert target[2] != killed_pid
    for task in ("a seed 0", "a seed 1", "b seed 0"):
        assert sum(t == task for t, _ in epochs) == 3, epochs

    # One line per run: the run, runs done / total, elapsed, time left.
    assert len(lines) == 4, lines
    pattern = (
        r"[ab] seed [01]: trained, max accuracy [\d.]+, max AUROC [\d.]+; "
        r"runs (\d)/4, elapsed \d+:\d\d:\d\d, estimated time left \d+:\d\d:\d\d"
    )
    done = [int(re.fullmatch(pattern, line).group(1)) for line in lines]
    assert done == [1, 2, 3, 4]
