"""Several seeds in one process vs one process per seed (issue 25: one compile).

    python -m benchmarks.seeds                     # 3 seeds, EfficientNet-B0 + ARL, 32 px
    python -m benchmarks.seeds --seeds=3 --rounds=2 -- --model=resnet26 --image_size=64

Times, from outside, ``experiments.main --seeds=0,...,N-1`` in one process (A) and
the same seeds as N one-seed processes run one after another (B), each into a fresh
``--model_dir``, on the bundled synthetic lesions (built once, untimed). A process
training several seeds builds the model and traces each stage once
(`skinkeras.training.compiled`); B pays TensorFlow's import, the model build and
every trace per seed. ``--rounds`` pairs run A then B, or B then A every other round,
so that load from other processes spreads over both; the ratios A / B of the wall
time and of the CPU time (user + system of the processes) are taken per pair and
their medians printed. The default training command is the issue's demo-scale
setting: EfficientNet-B0 with ARL from random weights, 32 px, 1 + 2 epochs. Flags
after ``--`` replace or extend it (e.g. ``--preset=demo``).
"""

import argparse
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

COMMAND = [
    "--dataset=synthetic_lesions",
    "--weights=none",
    "--model=effnet",
    "--arl",
    "--image_size=32",
    "--batch_size=32",
    "--head_epochs=1",
    "--epochs=2",
    "--verbose=0",
]


def train(data_dir, model_dir, seeds, extra):
    """Runs one `experiments.main` process; returns its wall and CPU seconds (user +
    system, the operating system's accounting of the finished child: less moved than
    the wall time by other work on the machine)."""
    command = [sys.executable, "-m", "experiments.main", *COMMAND, *extra]
    command += [
        f"--seeds={seeds}",
        f"--data_dir={data_dir}",
        f"--model_dir={model_dir}",
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(
            f"benchmarks.seeds: {' '.join(command)} failed:\n{result.stderr[-3000:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seeds", type=int, default=3, help="Seeds per arm (default 3)."
    )
    parser.add_argument("--rounds", type=int, default=1, help="Pairs (A, B) timed.")
    parser.add_argument("extra", nargs="*", help="experiments.main flags, after --.")
    args = parser.parse_args(argv)
    if args.seeds < 2 or args.rounds < 1:
        parser.error(
            f"--seeds must be >= 2 and --rounds >= 1. Received: seeds={args.seeds}, rounds={args.rounds}"
        )
    seeds = list(range(args.seeds))
    with tempfile.TemporaryDirectory(prefix="skinkeras-bench-seeds-") as tmp:
        tmp = pathlib.Path(tmp)
        data_dir = tmp / "tfds"
        train(data_dir, tmp / "warmup", "0", args.extra)  # builds the dataset
        ratios = []
        joined = ",".join(map(str, seeds))
        ratios = {"wall": [], "CPU": []}
        for round_ in range(args.rounds):
            order = ("A", "B") if round_ % 2 == 0 else ("B", "A")
            arms = {}
            for arm in order:
                if arm == "A":
                    arms[arm] = train(data_dir, tmp / f"a{round_}", joined, args.extra)
                else:
                    times = [
                        train(data_dir, tmp / f"b{round_}", str(seed), args.extra)
                        for seed in seeds
                    ]
                    arms[arm] = tuple(map(sum, zip(*times, strict=True)))
            for index, kind in enumerate(ratios):
                ratios[kind].append(arms["A"][index] / arms["B"][index])
            print(
                f"round {round_ + 1}: one process {arms['A'][0]:.1f} s wall "
                f"({arms['A'][1]:.1f} s CPU), {len(seeds)} processes "
                f"{arms['B'][0]:.1f} s wall ({arms['B'][1]:.1f} s CPU): ratio "
                f"{ratios['wall'][-1]:.3f} wall, {ratios['CPU'][-1]:.3f} CPU",
                flush=True,
            )
    for kind, values in ratios.items():
        print(
            f"seeds {seeds}: one process / one process per seed = "
            f"{statistics.median(values):.3f} {kind} (median of {len(values)} round(s))"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
