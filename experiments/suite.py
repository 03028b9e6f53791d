r"""Runs every configuration of one of the study's experiments, then compares them.

    python -m experiments.suite --experiment=4 --num_seeds=10 --model_dir=runs/exp4

Each configuration is a preset of `experiments.configs` (the same ones
``experiments.main --preset=...`` trains) run with `skinkeras.training.run_seeds`
into ``MODEL_DIR/<preset>/seed_<k>``: running the command again resumes an
interrupted seed and skips finished ones. Experiment 1's baseline is the same
configuration as experiment 3's ResNet-50 baseline (thesis tables 4.1 and 4.4), so it
runs once, in ``MODEL_DIR/exp3_resnet50``, for whichever experiment comes first. Then
``MODEL_DIR/comparison_exp<N>.md`` gets
the study's numbers (SPEC, "The study's results") beside ours and the significance
of each configuration's difference from the experiment's first one (Welch's t-test
and a bootstrap interval, from `experiments.summarize`).

Common flags pass through to every configuration (only where given, otherwise the
study's protocol), e.g. an offline micro-suite:

    python -m experiments.suite --experiment=4 --num_seeds=2 --model_dir=/tmp/exp4 \
        --dataset=synthetic_lesions --weights=none --image_size=64 \
        --head_epochs=1 --epochs=1

``--launcher=ray`` submits every configuration x seed at once as Ray tasks (on this
machine, or the cluster of ``--ray_address``) and writes the comparison when all
have ended.

Experiment 1 needs the segmenter's masks for ISIC (``--masks_dir``, see
`experiments.make_masks`); synthetic_lesions carries its own masks.
"""

import pathlib

from absl import flags

from experiments import common_flags, deploy_cli, launcher_flags
from experiments.configs import PRESETS, run_preset, with_metadata_encoding
from skinkeras import rundir
from skinkeras.config import MASKED_PREPROCESSING
from skinkeras.config.runnable import check_runnable
from skinkeras.training import launch

# The configurations of each experiment, the first one being the reference.
EXPERIMENTS = {
    1: ("exp1_resnet50", "exp1_resnet50_lesion_mask"),
    2: ("exp2_none", "exp2_max_rgb", "exp2_shades_of_gray", "exp2_ben_graham"),
    3: ("exp3_resnet50", "exp3_resnet50_arl"),
    4: ("exp4_effnet_se", "exp4_effnet_none", "exp4_effnet_arl", "exp4_effnet_se_arl"),
}
TITLES = {
    1: "Experiment 1: ResNet-50 on plain vs. lesion-masked images",
    2: "Experiment 2: ResNet-50 with colour constancy / Ben Graham preprocessing",
    3: "Experiment 3: ResNet-50 with and without ARL",
    4: "Experiment 4: EfficientNet-B0 attention variants",
}
# SPEC, "The study's results": ISIC 2017 validation, 10 seeds, per-run maximum;
# (accuracy mean, accuracy std, AUROC mean), None where the study gives none.
STUDY = {
    "exp1_resnet50": (0.8767, 0.0085, None),
    "exp1_resnet50_lesion_mask": (0.8460, 0.0111, None),
    "exp2_none": (0.8740, None, 0.8854),
    "exp2_max_rgb": (0.8767, None, 0.8913),
    "exp2_shades_of_gray": (0.8667, None, 0.8833),
    "exp2_ben_graham": (0.8873, None, 0.8987),
    "exp3_resnet50": (0.8767, None, None),
    "exp3_resnet50_arl": (0.8800, None, None),
    "exp4_effnet_se": (0.8573, None, 0.8527),
    "exp4_effnet_none": (0.8347, None, 0.7885),
    "exp4_effnet_arl": (0.8293, None, 0.7863),
    "exp4_effnet_se_arl": (0.8620, None, 0.8536),
}
# Flags passed through to every configuration when given (otherwise the preset's value,
# which is the study's protocol); the lesion-masked configurations also take MASK_FLAGS.
PASS_THROUGH = (
    "model",  # e.g. experiment 3 on resnet101, experiment 4 on effnet_b3 (issue 24)
    "metadata",
    "dataset",
    "data_dir",
    "image_size",
    "batch_size",
    "head_epochs",
    "head_lr",
    "epochs",
    "lr",
    "weights",
    "strategy",
    "mixed_precision",
    "jit_compile",
    "deterministic",
)
MASK_FLAGS = ("masks_dir", "mask_mode")

FLAGS = flags.FlagValues()
flags.DEFINE_enum(
    "experiment",
    None,
    ["1", "2", "3", "4"],
    "Which experiment of the study.",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "model_dir",
    None,
    "Suite directory: one subdirectory per configuration.",
    flag_values=FLAGS,
)
# The same flags as experiments.main's (defaults, help, checks).
common_flags.define_train_flags(
    ["seed", *PASS_THROUGH, *MASK_FLAGS], FLAGS, module=__name__
)
common_flags.define_seed_flags(
    FLAGS, module=__name__, num_seeds=common_flags.STUDY_NUM_SEEDS
)
launcher_flags.define_launcher_flags(FLAGS, module=__name__)
flags.mark_flags_as_required(["experiment", "model_dir"], flag_values=FLAGS)


def suite_configs(experiment, model_dir, *, overrides=None, mask_overrides=None):
    """``[(preset name, TrainConfig)]`` of one experiment, in table order.

    Args:
        experiment: 1..4.
        model_dir: the suite directory; each configuration runs in
            ``model_dir/<preset>`` (a shared preset in its target's directory,
            `experiments.configs.SHARED_RUNS`).
        overrides: TrainConfig fields set in every configuration.
        mask_overrides: ``masks_dir`` / ``mask_mode`` for lesion-masked ones.
    """
    from skinkeras.training import TrainConfig

    if experiment not in EXPERIMENTS:
        raise ValueError(
            f"`experiment` must be one of {sorted(EXPERIMENTS)}. Received: experiment={experiment!r}"
        )
    configs = []
    for name in EXPERIMENTS[experiment]:
        values = {**PRESETS[name], **(overrides or {})}
        if values.get("preprocessing") in MASKED_PREPROCESSING:
            values.update(mask_overrides or {})
        values["model_dir"] = str(pathlib.Path(model_dir) / run_preset(name))
        configs.append((name, TrainConfig(**with_metadata_encoding(values))))
    return configs


def _mean_std(summaries, score):
    from skinkeras.training import results

    stats = results.describe([summary[score] for summary in summaries])
    return f"{stats['mean']:.4f} ± {stats['std']:.4f}"


def _study(value, std=None):
    if value is None:
        return "—"
    return f"{value:.4f}" + (f" ± {std:.4f}" if std is not None else "")


def comparison_markdown(experiment, directories, names):
    """The study-vs-ours table and `experiments.summarize`'s significance tables.

    Args:
        experiment: 1..4 (the title).
        directories: each configuration's run directory (``seed_*/summary.json``),
            the first being the reference.
        names: the presets of those directories (keys of `STUDY`).
    """
    from experiments import summarize

    groups = summarize.load_groups(directories, names)
    lines = [
        f"# {TITLES[experiment]}",
        "",
        "Per-run maximum over epochs on the validation split, mean ± std over seeds "
        "(study: ISIC 2017 validation, 10 seeds).",
        "",
        "| configuration | seeds | accuracy (ours) | accuracy (study) | AUROC (ours) | AUROC (study) |",
        "|---|---|---|---|---|---|",
    ]
    for name, summaries in groups:
        accuracy, std, auroc = STUDY[name]
        lines.append(
            f"| {name} | {len(summaries)} | {_mean_std(summaries, 'max_accuracy')} | "
            f"{_study(accuracy, std)} | {_mean_std(summaries, 'max_auroc')} | "
            f"{_study(auroc)} |"
        )
    lines += [
        "",
        "## Differences from the first configuration",
        "",
        summarize.summarize(directories, names=list(names)),
    ]
    return "\n".join(lines)


def comparison_path(model_dir, experiment):
    """``MODEL_DIR/comparison_exp<N>.md``: one file per experiment of a shared suite."""
    return pathlib.Path(model_dir) / f"comparison_exp{experiment}.md"


def run_suite(
    experiment,
    model_dir,
    *,
    seeds,
    overrides=None,
    mask_overrides=None,
    sources=None,
    verbose=0,
    progress=print,
    ray=None,
):
    """Runs (or resumes) every configuration, writes `comparison_path`; returns its text.

    ``sources`` (optional) is passed to `run_seeds` (in-memory data for tests).
    ``ray``: None trains the configurations here, one after another; a dict of
    `launch.run_on_ray`'s options (``address``, ``gpus_per_run``, ...) submits every
    configuration x seed at once as a Ray task instead (``sources`` cannot travel
    to Ray workers). Each
    seed's directory is locked while it trains, so the same suite started several
    times at once (or an ``experiments.main`` on one of its configurations) shares
    the seeds: each process skips those another one holds (issue 25). Every process
    writes the comparison when it ends; the last one's covers every seed.
    """
    from skinkeras.training import run_seeds

    configs = suite_configs(
        experiment, model_dir, overrides=overrides, mask_overrides=mask_overrides
    )
    for _, config in configs:  # every configuration, before the first one trains
        check_runnable(config)
    if ray is None:
        for name, config in configs:
            if progress:
                progress(f"[{name}] {config.model_dir}, seeds {list(seeds)}")
            run_seeds(config, seeds, sources=sources, verbose=verbose)
    elif sources is not None:
        raise ValueError(
            "In-memory `sources` cannot be sent to Ray workers: train on a TFDS "
            "dataset. Received: sources and ray"
        )
    else:  # every configuration x seed at once (issue 25)
        launch.run_on_ray(
            [(name, config, seeds) for name, config in configs],
            verbose=verbose,
            progress=progress,
            **ray,
        )
    text = comparison_markdown(
        experiment,
        [config.model_dir for _, config in configs],
        [name for name, _ in configs],
    )
    rundir.atomic_write_text(comparison_path(model_dir, experiment), text + "\n")
    return text


def overrides_from_flags(flag_values=FLAGS):
    """The pass-through flags that were given: (overrides, mask overrides)."""

    def given(names):
        return {n: flag_values[n].value for n in names if flag_values[n].present}

    return given(PASS_THROUGH), given(MASK_FLAGS)


def main(argv):
    if len(argv) > 1:
        raise SystemExit(f"error: unexpected arguments {argv[1:]}.")
    experiment = int(FLAGS.experiment)
    overrides, masks = overrides_from_flags()
    seeds = list(range(FLAGS.seed, FLAGS.seed + FLAGS.num_seeds))
    try:
        if FLAGS.launcher == "ray":
            launch.require_ray()  # before anything is read or written
        text = run_suite(
            experiment,
            FLAGS.model_dir,
            seeds=seeds,
            overrides=overrides,
            mask_overrides=masks,
            verbose=FLAGS.verbose,
            progress=lambda line: print(line, flush=True),
            ray=launcher_flags.launcher_options(FLAGS),
        )
    except (
        ValueError,
        FileNotFoundError,
        rundir.RunDirBusyError,
        launch.RayNotInstalledError,
        launch.RunsFailedError,
    ) as error:
        raise SystemExit(f"error: {error}") from None
    print(text)
    print(f"Wrote {comparison_path(FLAGS.model_dir, experiment)}")
    return 0


cli = deploy_cli.console_script(main, FLAGS)

if __name__ == "__main__":
    cli()
