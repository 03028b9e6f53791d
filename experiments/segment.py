r"""Trains the U-Net lesion segmenter (experiment 1) and reports validation Dice.

    python -m experiments.segment --model_dir=runs/segmenter \
        [--dataset=isic2018_task1] [--encoder=resnet50] [--weights=imagenet]

The study's protocol (SPEC, Lesion segmentation) is the default: batch 8, 2 epochs
decoder only, then 10 epochs whole network, one-cycle with lr 3e-4 for the decoder
and 3e-5 (``--encoder_lr_factor=0.1``) for the encoder. ``--dataset=synthetic_lesions``
trains offline on the synthetic images, which also have masks. The run directory
gets ``config.json``, ``summary.json``, ``model.keras`` and TensorBoard ``logs/``
(predicted masks beside the ground truth under "masks/validation"); then

    python -m experiments.make_masks --segmenter=runs/segmenter --masks_dir=masks
"""

import dataclasses
import types

from absl import flags

from experiments import deploy_cli
from skinkeras.segmentation.config import ENCODER_NAMES, LOSS_NAMES, SegmentConfig

FLAGS = flags.FlagValues()


def _define_flags():
    # The defaults, without creating a config (its validation imports TensorFlow).
    d = types.SimpleNamespace(
        **{field.name: field.default for field in dataclasses.fields(SegmentConfig)}
    )
    f = FLAGS
    flags.DEFINE_string("model_dir", d.model_dir, "Run directory.", flag_values=f)
    flags.DEFINE_string(
        "dataset",
        d.dataset,
        "TFDS dataset with `image` and `mask` features (isic2018_task1, "
        "synthetic_lesions).",
        flag_values=f,
    )
    flags.DEFINE_string("data_dir", None, "TFDS data directory.", flag_values=f)
    flags.DEFINE_string("train_split", d.train_split, "Training split.", flag_values=f)
    flags.DEFINE_string(
        "validation_split", d.validation_split, "Validation split.", flag_values=f
    )
    flags.DEFINE_enum(
        "encoder", d.encoder, sorted(ENCODER_NAMES), "U-Net encoder.", flag_values=f
    )
    flags.DEFINE_string(
        "weights",
        d.weights,
        '"imagenet", "none" or a path to the encoder\'s no-top weights file.',
        flag_values=f,
    )
    flags.DEFINE_integer(
        "image_size", d.image_size, "Input side (multiple of 32).", flag_values=f
    )
    flags.DEFINE_integer("batch_size", d.batch_size, "Batch size.", flag_values=f)
    flags.DEFINE_integer(
        "head_epochs", d.head_epochs, "Stage 1 epochs (decoder only).", flag_values=f
    )
    flags.DEFINE_integer(
        "epochs", d.epochs, "Stage 2 epochs (whole network).", flag_values=f
    )
    flags.DEFINE_float("lr", d.lr, "One-cycle max lr of the decoder.", flag_values=f)
    flags.DEFINE_float(
        "encoder_lr_factor",
        d.encoder_lr_factor,
        "Encoder lr = lr x this factor (study: 3e-5 / 3e-4).",
        flag_values=f,
    )
    flags.DEFINE_enum(
        "loss", d.loss, sorted(LOSS_NAMES), "Training loss.", flag_values=f
    )
    flags.DEFINE_bool(
        "augment", d.augment, "Random flips / transposes in training.", flag_values=f
    )
    flags.DEFINE_bool(
        "train_bn",
        d.train_bn,
        "Encoder BatchNorm trains while the encoder is frozen.",
        flag_values=f,
    )
    flags.DEFINE_float(
        "threshold", d.threshold, "Probability threshold for Dice/IoU.", flag_values=f
    )
    flags.DEFINE_float(
        "weight_decay", d.weight_decay, "Decoupled weight decay (AdamW).", flag_values=f
    )
    flags.DEFINE_float("beta_2", d.beta_2, "Adam beta_2.", flag_values=f)
    flags.DEFINE_float("epsilon", d.epsilon, "Adam epsilon.", flag_values=f)
    flags.DEFINE_integer("seed", d.seed, "Random seed.", flag_values=f)


_define_flags()


def config_from_flags(flag_values=FLAGS):
    """The `SegmentConfig` of the parsed flags (field names equal flag names)."""
    names = [field.name for field in dataclasses.fields(SegmentConfig)]
    return SegmentConfig(**{name: flag_values[name].value for name in names})


def main(argv):
    from skinkeras.segmentation.training import train_segmenter

    if len(argv) > 1:
        raise SystemExit(f"error: unexpected arguments {argv[1:]}.")
    try:
        config = config_from_flags()
        summary = train_segmenter(config, verbose=1)
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"error: {error}") from None
    print(
        f"{config.model_dir}: validation Dice {summary['val_dice']:.4f} "
        f"(IoU {summary['val_iou']:.4f}; best Dice {summary['max_val_dice']:.4f} "
        f"at epoch {summary['best_epoch']}; study: 0.89)."
    )
    return 0


def cli():
    """Console script entry point."""
    deploy_cli.run(main, FLAGS)


if __name__ == "__main__":
    cli()
