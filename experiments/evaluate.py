r"""Evaluates a trained run on a dataset split: AUROC, accuracy, balanced accuracy,
sensitivity and specificity.

    python -m experiments.evaluate --model_dir=runs/effnet_se_arl [--seed=0] \
        --split=test [--dataset=isic2017] [--tta=8] [--output=metrics.json]

The dataset, its `data_dir`, the label, image size and preprocessing default to the
run's `config.json`, so the images go through training's own pipeline
(`skinkeras.data.make_dataset`, without augmentation or oversampling). A multi-seed
`--model_dir` is evaluated as the ensemble of its seeds (mean probability) unless
`--seed` picks one. Melanoma is predicted when it is the most probable class.
"""

import json
import pathlib

from absl import flags

from experiments import common_flags, deploy_cli

FLAGS = flags.FlagValues()
common_flags.define_run_flags(
    FLAGS,
    module=__name__,
    seed_help="With a multi-seed --model_dir: use seed_<k> only.",
)
flags.DEFINE_string("split", "test", "Dataset split to evaluate.", flag_values=FLAGS)
flags.DEFINE_string(
    "dataset", None, "TFDS dataset name; default: the run's.", flag_values=FLAGS
)
flags.DEFINE_string(
    "data_dir", None, "TFDS data directory; default: the run's.", flag_values=FLAGS
)
flags.DEFINE_integer(
    "batch_size", 16, "Images per model call.", lower_bound=1, flag_values=FLAGS
)
flags.DEFINE_integer(
    "tta",
    1,
    "Test-time augmentation views (flips/90° rotations), 1..8.",
    lower_bound=1,
    upper_bound=8,
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "output", None, "Optional JSON file for the metrics.", flag_values=FLAGS
)
flags.mark_flags_as_required(["model_dir"], flag_values=FLAGS)

METRICS = ("auroc", "accuracy", "balanced_accuracy", "sensitivity", "specificity")


def evaluate(
    run, *, split, dataset=None, data_dir=None, batch_size=16, tta=1, source=None
):
    """Metrics of `run` on `split` through training's pipeline (see module doc).

    `source` (optional) is `make_dataset`'s: a `tf.data.Dataset` of example dicts
    used instead of TFDS.
    """
    from skinkeras import data, inference, metrics

    config = run.config
    images = data.make_dataset(
        split,
        dataset=dataset or config.dataset,
        data_dir=data_dir or config.data_dir,
        preprocessing=run.preprocessing,
        image_size=run.image_size,
        batch_size=batch_size,
        augment=False,
        oversample=False,
        label=config.label,
        shuffle=False,
        masks_dir=config.masks_dir,
        mask_mode=config.mask_mode,
        drop_remainder=False,
        source=source,
    )
    labels, probabilities = inference.predict_dataset(
        inference.Predictor(run, tta=tta), images
    )
    return metrics.classification_metrics(
        labels, probabilities, class_names=run.class_names
    )


def format_metrics(metrics):
    lines = [f"{name:<18} {metrics[name]:.4f}" for name in METRICS]
    lines.append(
        f"{'examples':<18} {metrics['num_examples']} "
        f"({metrics['num_melanoma']} melanoma)"
    )
    return "\n".join(lines)


def main(argv):
    from skinkeras import inference

    if len(argv) > 1:
        raise SystemExit(f"error: unexpected arguments {argv[1:]}.")
    try:
        run = inference.load_run(FLAGS.model_dir, seed=FLAGS.seed)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
    metrics = evaluate(
        run,
        split=FLAGS.split,
        dataset=FLAGS.dataset,
        data_dir=FLAGS.data_dir,
        batch_size=FLAGS.batch_size,
        tta=FLAGS.tta,
    )
    print(f"{run.model_dir} (seeds {list(run.seeds)}), split {FLAGS.split}:")
    print(format_metrics(metrics))
    if FLAGS.output:
        path = pathlib.Path(FLAGS.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(metrics, indent=2) + "\n")
    return 0


def cli():
    """Console script entry point."""
    deploy_cli.run(main, FLAGS)


if __name__ == "__main__":
    cli()
