r"""Plots each ARL alpha over the epochs of a run (the study's figures 4.1 and 4.3).

    python -m experiments.plot_alphas RUN_DIR [--out=RUN_DIR/alphas.png]

RUN_DIR is one seed's directory (``summary.json``) or a multi-seed directory
(``seed_<k>/summary.json``, one line per seed). ``summary["alphas"]`` maps each ARL
layer to its alpha after every epoch of both stages; one subplot per layer, in the
network's order, with a dashed line where stage 2 (whole network) starts when the
run's ``config.json`` gives ``head_epochs``.
"""

import math
import pathlib
import re

from absl import flags

from experiments import deploy_cli

FLAGS = flags.FlagValues()
flags.DEFINE_string(
    "out", None, "Output PNG; default RUN_DIR/alphas.png.", flag_values=FLAGS
)
flags.DEFINE_integer(
    "columns", 4, "Subplots per row.", lower_bound=1, flag_values=FLAGS
)
POSITIONAL = [
    (
        "RUN_DIR",
        "A run of experiments.main: one seed's directory (summary.json) or a "
        "multi-seed directory (seed_<k>/summary.json, one line per seed).",
    )
]


def _block_order(name):
    # "conv3_block10_arl" sorts after "conv3_block9_arl"; "block6d_arl" after "6c".
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def load_alphas(run_dir):
    """``(alphas per seed, head_epochs or None)`` of a seed or multi-seed directory.

    Raises:
        FileNotFoundError: no summary.json; ValueError: the run has no ARL alphas.
    """
    run_dir = pathlib.Path(run_dir)
    paths = [run_dir / "summary.json"]
    if not paths[0].is_file():
        paths = sorted(
            run_dir.glob("seed_*/summary.json"),
            key=lambda path: int(path.parent.name.removeprefix("seed_")),
        )
    if not paths:
        raise FileNotFoundError(
            "No summary.json in the run directory or its seed_<k>/ subdirectories "
            f"(training unfinished?). Received: run_dir={run_dir}"
        )
    from skinkeras import rundir

    # rundir.read_json names a corrupt file (issue 14).
    seeds = {path.parent.name: rundir.read_json(path)["alphas"] for path in paths}
    if not any(seeds.values()):
        raise ValueError(
            "The run has no ARL alphas to plot (trained without --arl?). "
            f"Received: run_dir={run_dir}"
        )
    try:
        head_epochs = rundir.read_config(paths[0].parent).head_epochs
    except FileNotFoundError:
        head_epochs = None
    return seeds, head_epochs


def plot_alphas(seeds, out, *, head_epochs=None, columns=4, title=None):
    """Draws one subplot per ARL layer (alpha vs epoch, a line per seed) into ``out``.

    Args:
        seeds: ``{seed name: {layer name: [alpha after epoch 1, 2, ...]}}``.
        out: PNG path.
        head_epochs: epochs of stage 1; a dashed line marks where stage 2 starts.

    Returns:
        The number of subplots drawn.
    """
    plt = deploy_cli.pyplot()
    layers = sorted(
        {name for alphas in seeds.values() for name in alphas}, key=_block_order
    )
    columns = min(columns, len(layers))
    rows = math.ceil(len(layers) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(3.2 * columns, 2.4 * rows), squeeze=False, sharex=True
    )
    for ax, layer in zip(axes.flat, layers, strict=False):
        for seed, alphas in seeds.items():
            values = alphas.get(layer, [])
            ax.plot(range(1, len(values) + 1), values, marker=".", label=seed)
        if head_epochs:
            ax.axvline(head_epochs + 0.5, color="gray", linestyle="--", linewidth=0.8)
        ax.axhline(0.0, color="black", linewidth=0.5)
        ax.set_title(layer.removesuffix("_arl"), fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(layers) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("epoch", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("alpha", fontsize=8)
    if len(seeds) > 1:
        axes.flat[0].legend(fontsize=6)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return len(layers)


def main(argv):
    if len(argv) != 2:
        raise SystemExit("usage: python -m experiments.plot_alphas RUN_DIR [--out=PNG]")
    run_dir = pathlib.Path(argv[1])
    try:
        seeds, head_epochs = load_alphas(run_dir)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
    out = FLAGS.out or run_dir / "alphas.png"
    count = plot_alphas(
        seeds, out, head_epochs=head_epochs, columns=FLAGS.columns, title=run_dir.name
    )
    print(f"Wrote {out} ({count} ARL alphas, {len(seeds)} seed(s)).")
    return 0


cli = deploy_cli.console_script(main, FLAGS, positional=POSITIONAL)

if __name__ == "__main__":
    cli()
