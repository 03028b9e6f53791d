"""Puts several configurations side by side and compares each with the first.

    python -m experiments.summarize runs/resnet50_none runs/resnet50_ben_graham

Each argument is a ``--model_dir`` of ``experiments.main`` (its ``seed_*/summary.json``
files are read). For the per-run maximum accuracy and maximum AUROC (SPEC: a run's
score) the table gives n, mean ± std, median and max per configuration and — what the
study lacked — the difference of means to the first configuration with a bootstrap
95 % interval and Welch's t-test p-value. Multi-class runs (``--label=diagnosis`` or
``label``) add the maximum balanced accuracy (ISIC 2019's score) and the maximum mean
one-vs-rest AUROC when every run has them. ``--output`` also writes it to a file.
"""

import pathlib
import sys

from absl import app, flags

from experiments import deploy_cli
from skinkeras import rundir, training  # `training.results` is imported on first use

FLAGS = flags.FLAGS

flags.DEFINE_string(
    "output", None, "Also write the Markdown table to this file (written atomically)."
)
flags.DEFINE_integer(
    "bootstrap_samples",
    10_000,
    "Bootstrap resamples for the 95 % interval.",
    lower_bound=100,
)
flags.DEFINE_integer("bootstrap_seed", 0, "Seed of the bootstrap resampling.")
flags.DEFINE_list(
    "names",
    None,
    "Comma-separated names of the configurations (default: each directory's name).",
)
POSITIONAL = [
    (
        "RUN_DIR...",
        "Run directories of experiments.main (--model_dir), the first being the "
        "reference.",
    )
]


def load_groups(directories, names=None):
    """``[(name, summaries)]`` of each run directory, in the given order."""
    if names is not None and len(names) != len(directories):
        raise ValueError(
            f"--names must give one name per directory ({len(directories)}). "
            f"Received: names={names}"
        )
    groups = []
    for index, directory in enumerate(directories):
        path = pathlib.Path(directory)
        summaries = training.results.load_summaries(path)
        if not summaries:
            raise ValueError(
                f"{path} holds no finished run (no seed_*/summary.json). "
                f"Received: directory={str(path)!r}"
            )
        groups.append((names[index] if names else path.name, summaries))
    return groups


def summarize(directories, *, names=None, samples=10_000, seed=0):
    """The Markdown comparison of ``directories`` (first = reference)."""
    groups = load_groups(directories, names)
    rows = training.results.compare(groups, samples=samples, seed=seed)
    header = (
        f"Reference: {groups[0][0]}. Δ = difference of means; 95 % CI by bootstrap "
        f"({samples} resamples of each configuration's runs); p from Welch's t-test.\n\n"
    )
    return header + training.results.format_comparison(rows)


def main(argv):
    directories = argv[1:]
    if not directories:
        raise app.UsageError(
            "Give at least one run directory (a --model_dir of experiments.main)."
        )
    try:
        text = summarize(
            directories,
            names=FLAGS.names,
            samples=FLAGS.bootstrap_samples,
            seed=FLAGS.bootstrap_seed,
        )
    except ValueError as error:
        print(f"experiments.summarize: error: {error}", file=sys.stderr)
        return 1
    print(text)
    if FLAGS.output:
        rundir.atomic_write_text(FLAGS.output, text)
    return 0


cli = deploy_cli.console_script(main, FLAGS, positional=POSITIONAL)

if __name__ == "__main__":
    cli()
