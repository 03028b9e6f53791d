"""Trains one configuration of the study (SPEC, training protocol), one or more seeds.

    python -m experiments.main --model=effnet --arl --se --preprocessing=ben_graham

Stage 1 trains the new head with the backbone frozen (``--head_epochs`` at
``--head_lr``), stage 2 the whole model (``--epochs`` at ``--lr``), both with
one-cycle AdamW. Each seed runs in ``--model_dir/seed_<k>``; running the same command
again resumes an interrupted seed and skips finished ones; ``--restart`` moves the old
run aside and starts again. One process at a time trains a seed (its directory's
lock): the same command started N times at once (``--seeds=0-9``; a Slurm array, one
per GPU) shares the seeds, each process skipping those another one holds;
``--launcher=ray`` trains each seed as a Ray task, on this machine or a cluster.
``results.md`` and ``results.csv`` in ``--model_dir`` hold the multi-seed table.
Flags: ``--help``.

Offline demo (synthetic lesions, no downloads):

    python -m experiments.main --preset=demo --model_dir=runs/demo
"""

import contextlib
import pathlib
import sys

from absl import app, flags

from experiments import common_flags, deploy_cli, launcher_flags
from experiments.configs import PRESETS, with_metadata_encoding
from skinkeras import rundir
from skinkeras.config import NUM_CLASSES, TrainConfig, parse_seeds
from skinkeras.config.runnable import check_runnable
from skinkeras.training import launch

FLAGS = flags.FLAGS

# The `TrainConfig` fields `config_from_flags` reads, as flags in `--help`'s order;
# their defaults, choices, help and checks are in experiments.common_flags.
TRAIN_FLAGS = [
    "model", "arl", "se", "head", "label", "weights",  # what to train
    "dataset", "data_dir", "preprocessing", "masks_dir", "mask_mode", "image_size",
    "batch_size", "scale_batch", "oversample", "augment", "lighting", "flip", "warp",
    "metadata",  # patient metadata beside the image (issue 26)
    "head_epochs", "head_lr", "epochs", "lr", "train_bn", "weight_decay", "beta_2",
    "epsilon", "class_weight", "loss", "focal_gamma",  # training protocol
    "seed", "seeds",
    "strategy", "tpu", "mixed_precision", "jit_compile", "deterministic",  # where
]  # fmt: skip

flags.DEFINE_enum(
    "preset",
    None,
    sorted(PRESETS),
    "Start from a named preset of experiments/configs.py (the study's experiments, `demo`); flags given explicitly override it.",
)
common_flags.define_train_flags(TRAIN_FLAGS, FLAGS, module=__name__)
common_flags.define_seed_flags(FLAGS, module=__name__)
launcher_flags.define_launcher_flags(FLAGS, module=__name__)
flags.DEFINE_string(
    "model_dir",
    None,
    "Run directory (config.json, results.md/.csv, seed_<k>/...). Default: runs/<model>[_se][_arl]_<preprocessing>-<hash>, the hash (8 hex digits) of every setting that changes the numbers (lr, epochs, augmentation, ...; not the seeds), so the same command resumes and a sweep does not collide.",
)
flags.DEFINE_boolean(
    "restart",
    False,
    "Move an existing --model_dir aside (renamed to MODEL_DIR.old-<UTC time>, never deleted) and train from scratch, e.g. with another --lr after a NaN loss.",
)


def _value(name):
    """The flag's value, or the preset's when the flag was not given explicitly."""
    if FLAGS.preset and not FLAGS[name].present and name in PRESETS[FLAGS.preset]:
        return PRESETS[FLAGS.preset][name]
    return FLAGS[name].value


def seeds_from_flags():
    if FLAGS.seeds:
        try:
            return parse_seeds(FLAGS.seeds)
        except ValueError as error:
            raise app.UsageError(str(error)) from None
    return list(range(FLAGS.seed, FLAGS.seed + FLAGS.num_seeds))


def config_from_flags():
    """The plain `TrainConfig` of the parsed flags (the library never reads flags)."""
    names = [name for name in TRAIN_FLAGS if name != "seeds"]
    values = {name: _value(name) for name in names}
    if values["label"] in NUM_CLASSES:
        values["num_classes"] = NUM_CLASSES[values["label"]]
    else:  # the dataset's ClassLabel (builds a synthetic dataset on first use)
        from skinkeras import data

        info = data.dataset_info(
            values["dataset"], values["data_dir"], label=values["label"]
        )
        values["num_classes"] = info["num_classes"]
        values["class_names"] = info["class_names"]
    values["seeds"] = seeds_from_flags()
    values = with_metadata_encoding(values)
    config = TrainConfig(model_dir="runs/unnamed", **values)
    model_dir = FLAGS.model_dir or f"runs/{rundir.default_name(config)}"
    return config.replace(model_dir=model_dir)


def format_lr(value):
    """``3e-3`` rather than Python's ``0.003``: learning rates as the flags write them."""
    mantissa, exponent = f"{value:e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def stage_header(seed, stage, epochs, max_lr, *, with_seed=False):
    """One line announcing a training stage, e.g. ``stage 1/2: head only ...``."""
    what = "head only (backbone frozen)" if stage == 1 else "whole model"
    count = f"{epochs} epoch" + ("" if epochs == 1 else "s")
    line = f"stage {stage}/2: {what}, {count}, one-cycle max lr {format_lr(max_lr)}"
    return f"seed {seed}, {line}" if with_seed else line


def restart(model_dir):
    """Moves ``model_dir`` aside (`rundir.move_aside`) unless a seed of it is
    training: its lock and every ``seed_<k>/``'s are held while it moves."""
    with contextlib.ExitStack() as locks:
        locks.enter_context(rundir.lock(model_dir, wait=rundir.BRIEF_WAIT))
        for _, path in rundir.seed_dirs(model_dir):
            locks.enter_context(rundir.lock(path))
        moved = rundir.move_aside(model_dir)
    if moved is not None:
        print(f"--restart: moved the old run to {moved}", flush=True)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    try:
        if FLAGS.launcher == "ray":
            launch.require_ray()  # before anything is read, built or moved
        config = config_from_flags()
        check_runnable(config)
        if FLAGS.restart and config.strategy == "multiworker":
            raise ValueError(
                "--restart moves the run directory that every worker shares: move it "
                "aside before starting the workers. Received: restart=True"
            )
        if FLAGS.restart:
            restart(config.model_dir)
        # Each seed's directory is locked while it trains, the configuration's only
        # briefly (skinkeras.training.seeds): the same command run N times at once
        # shares the seeds (issue 25).
        train(config)
    except (
        ValueError,
        FileNotFoundError,
        FloatingPointError,
        rundir.RunDirBusyError,
        launch.RayNotInstalledError,
        launch.RunsFailedError,
    ) as error:
        # Configuration and data errors (e.g. the `tfds build` command for an
        # unprepared ISIC dataset) are messages for the user, not tracebacks.
        print(f"experiments.main: error: {error}", file=sys.stderr)
        return 1
    print(f"Results: {config.model_dir}/results.md")
    return 0


def train(config):
    """Trains every seed of ``config`` (`seeds.run_seeds`, or a Ray task per seed
    with --launcher=ray), printing progress."""
    # Imported here so that `--help` does not wait for TensorFlow.
    from skinkeras.training import seeds

    print(f"Run directory: {config.model_dir}  seeds: {config.seeds}", flush=True)
    ray_options = launcher_flags.launcher_options(FLAGS)
    if ray_options is not None:
        name = pathlib.Path(config.model_dir).name
        launch.run_on_ray(
            [(name, config, config.seeds)],
            verbose=FLAGS.verbose,
            progress=lambda line: print(line, flush=True),
            **ray_options,
        )
        return

    def report(outcome):
        seed, summary = outcome.seed, outcome.summary
        if outcome.status == seeds.BUSY:
            print(
                f"seed {seed}: skipped, another process is training it (pid "
                f"{outcome.holder}, holding {outcome.lock_path})",
                flush=True,
            )
            return
        skipped = (
            ", finished before: skipped" if outcome.status == seeds.FINISHED else ""
        )
        line = (
            f"seed {seed}{skipped}: max accuracy {summary['max_accuracy']:.4f} "
            f"(epoch {summary['best_epoch_accuracy']}), max AUROC "
            f"{summary['max_auroc']:.4f} (epoch {summary['best_epoch_auroc']})"
        )
        if "max_balanced_accuracy" in summary:  # more than two classes
            line += (
                f", max balanced accuracy {summary['max_balanced_accuracy']:.4f}"
                f" (epoch {summary['best_epoch_balanced_accuracy']})"
            )
        print(line, flush=True)

    def announce(seed, stage, epochs, max_lr):
        with_seed = len(config.seeds) > 1
        header = stage_header(seed, stage, epochs, max_lr, with_seed=with_seed)
        print(header, flush=True)

    seeds.run_seeds(
        config,
        config.seeds,
        verbose=FLAGS.verbose,
        progress=report,
        on_stage=announce,
    )


cli = deploy_cli.console_script(main)

if __name__ == "__main__":
    cli()
