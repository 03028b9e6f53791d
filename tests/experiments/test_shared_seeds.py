"""Issue 25: processes that share one run directory share its seeds.

`experiments.main` subprocesses on the bundled synthetic lesions (ResNet-26 from
random weights, 32 px, 1 + 1 epochs): one process training seeds 0 and 1 after each
other is the reference; two processes training seed 0 and seed 1 at the same time
into one directory, and two identical ``--seeds=0-3`` commands at the same time, must
each finish every seed once and give the reference's numbers, float for float.
"""

import json
import re
import subprocess

import pytest

from tests.experiments import test_reproducibility as reproducibility

COMMAND = [
    "--dataset=synthetic_lesions",
    "--weights=none",
    "--model=resnet26",
    "--image_size=32",
    "--batch_size=32",
    "--head_epochs=1",
    "--epochs=1",
    "--verbose=0",
]


def _start(data_dir, model_dir, seeds):
    return subprocess.Popen(
        [
            *reproducibility._command(data_dir, model_dir, seeds)[:3],
            *COMMAND,
            f"--seeds={seeds}",
            f"--data_dir={data_dir}",
            f"--model_dir={model_dir}",
        ],
        cwd=reproducibility.REPO,
        env=reproducibility._env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(*processes):
    """Waits for the processes; returns their stdouts (each must exit 0)."""
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=2400)  # CI: two slow tests at a time
        assert process.returncode == 0, err[-3000:]
        outputs.append(out)
    return outputs


def _floats(model_dir, seed):
    summary = json.loads((model_dir / f"seed_{seed}" / "summary.json").read_text())
    return json.dumps([summary["history"], summary["alphas"]])


def _trained(output):
    """The seeds a process trained itself (not those it found finished or busy)."""
    return {int(k) for k in re.findall(r"^seed (\d+): max accuracy", output, re.M)}


@pytest.mark.slow
def test_processes_on_one_directory_share_the_seeds_with_the_serial_numbers(
    tmp_path,
):
    data_dir = tmp_path / "tfds"
    serial, pair, queue = tmp_path / "serial", tmp_path / "pair", tmp_path / "queue"
    (out,) = _finish(_start(data_dir, serial, "0,1"))
    assert _trained(out) == {0, 1}

    # Two seeds of one configuration at once, one directory.
    outs = _finish(_start(data_dir, pair, "0"), _start(data_dir, pair, "1"))
    assert [_trained(out) for out in outs] == [{0}, {1}]
    for seed in (0, 1):
        assert _floats(pair, seed) == _floats(serial, seed)
    assert "| max_auroc | 2 |" in (pair / "results.md").read_text()

    # Two identical commands: the file system is their queue.
    outs = _finish(_start(data_dir, queue, "0-3"), _start(data_dir, queue, "0-3"))
    first, second = (_trained(out) for out in outs)
    assert first | second == {0, 1, 2, 3} and not first & second, outs
    assert first and second  # both worked
    for out, other in ((outs[0], second), (outs[1], first)):
        for seed in other:  # what the other one trained was skipped here
            assert re.search(
                rf"^seed {seed}(: skipped, another process is training it \(pid "
                rf"\d+|, finished before: skipped)",
                out,
                re.M,
            ), out
    for seed in range(4):  # each seed trained once: one event file per stage
        assert len(list((queue / f"seed_{seed}" / "logs").rglob("events.*"))) == len(
            list((serial / "seed_0" / "logs").rglob("events.*"))
        )
    for seed in (0, 1):
        assert _floats(queue, seed) == _floats(serial, seed)
    assert _floats(queue, 2) != _floats(queue, 3)
    assert "| max_auroc | 4 |" in (queue / "results.md").read_text()
    assert json.loads((queue / "config.json").read_text())["seeds"] == [0, 1, 2, 3]
