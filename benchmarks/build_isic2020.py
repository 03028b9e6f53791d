r"""Peak memory and time of `tfds build isic2020/256` on an archive of ISIC 2020's size.

Writes the three official ISIC 2020 training files with `--n` small JPEGs (ISIC
2020: 33,126 images of 2,056 patients, 1.8 % melanoma; patients' image counts drawn
geometric with mean 16), runs the `tfds build` command on them in a subprocess and
prints its peak resident set size (issue 16: must stay under 2 GiB), its wall time,
and the class shares per split of the patient-grouped splits.

    python -m benchmarks.build_isic2020                  # 33,126 images
    python -m benchmarks.build_isic2020 --n=5000 --workdir=/tmp/b
"""

import collections
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

from absl import app, flags

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_integer("n", 33126, "Images in the generated archive.")
    flags.DEFINE_string("workdir", None, "Folder for archive and data (default: temp).")
    flags.DEFINE_string("config", "256", "isic2020 config to build.")
    flags.DEFINE_integer("seed", 0, "Seed of the patients, labels and images.")


def share_table(rows, config):
    """Markdown table of class counts and shares per split (grouped_split)."""
    from tfds_isic import splits

    labels = {i: y for i, _, y in rows}
    groups = {i: p for i, p, _ in rows}
    assignment = splits.grouped_split(
        labels, groups, config.fractions, salt=config.salt
    )
    counts = splits.split_counts(assignment, labels)
    classes = sorted(collections.Counter(labels.values()))
    patients = collections.defaultdict(set)
    for image_id, split in assignment.items():
        patients[split].add(groups[image_id])
    lines = [
        "| split | images | patients | " + " | ".join(classes) + " |",
        "|---|---|---|" + "---|" * len(classes),
    ]
    for split, _ in config.fractions:
        total = sum(counts[split].values())
        cells = [
            f"{counts[split].get(c, 0)} ({counts[split].get(c, 0) / total:.2%})"
            for c in classes
        ]
        lines.append(
            f"| {split} | {total} | {len(patients[split])} | "
            + " | ".join(cells)
            + " |"
        )
    overlap = set.intersection(*patients.values()) if len(patients) > 1 else set()
    lines.append(f"\npatients in more than one split: {len(overlap)}")
    return "\n".join(lines)


def main(argv):
    del argv
    from tests.tfds_isic import fake_grouped
    from tfds_isic.isic2020 import isic2020_dataset_builder as isic2020

    workdir = pathlib.Path(FLAGS.workdir or tempfile.mkdtemp(prefix="isic2020_"))
    manual = workdir / "manual"
    start = time.perf_counter()
    rows = fake_grouped.isic2020_rows(FLAGS.n, seed=FLAGS.seed)
    fake_grouped.write_isic2020(manual, rows, image_shape=(48, 64), seed=FLAGS.seed)
    print(
        f"wrote {len(rows)} images of {len({p for _, p, _ in rows})} patients "
        f"in {time.perf_counter() - start:.0f} s to {manual}"
    )
    repo = pathlib.Path(__file__).resolve().parents[1]
    env = dict(os.environ, TFDS_ISIC_SKIP_MD5="1")
    env["PYTHONPATH"] = os.pathsep.join([str(repo), env.get("PYTHONPATH", "")])
    command = [
        str(pathlib.Path(sys.executable).parent / "tfds"),
        "build",
        f"isic2020/{FLAGS.config}",
        "--imports=tfds_isic",
        f"--manual_dir={manual}",
        f"--data_dir={workdir / 'data'}",
    ]
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(result.stdout[-2000:] + result.stderr[-4000:])
    # ru_maxrss of waited-for children, in KiB on Linux: the `tfds build` process.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    print(f"`{' '.join(command[1:4])}`: peak RSS {peak:.2f} GiB, wall {wall:.0f} s")
    config = next(c for c in isic2020.Builder.BUILDER_CONFIGS if c.name == FLAGS.config)
    print(share_table(rows, config))


if __name__ == "__main__":
    define_flags()
    app.run(main)
