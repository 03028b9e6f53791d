r"""Trains the U-Net lesion segmenter (experiment 1) and reports validation Dice.

    python -m experiments.segment --model_dir=runs/segmenter \
        [--dataset=isic2018_task1] [--encoder=resnet50] [--weights=imagenet]

The study's protocol (SPEC, Lesion segmentation) is the default: batch 8, 2 epochs
decoder only, then 10 epochs whole network, one-cycle with lr 3e-4 for the decoder
and 3e-5 (``--encoder_lr_factor=0.1``) for the encoder. ``--dataset=synthetic_lesions``
trains offline on the synthetic images, which also have masks. The run directory
gets ``config.json``, ``summary.json``, ``model.keras``, ``checkpoints/`` (running a
killed command again resumes) and TensorBoard ``logs/`` (predicted masks beside the
ground truth under "masks/validation"); then

    python -m experiments.make_masks --segmenter=runs/segmenter --masks_dir=masks
"""

import dataclasses

from absl import flags

from experiments import common_flags, deploy_cli
from skinkeras import rundir
from skinkeras.segmentation.config import SegmentConfig

FLAGS = flags.FlagValues()
# One flag per SegmentConfig field: its default, help and checks (common_flags).
common_flags.define_segment_flags(FLAGS, module=__name__)


def config_from_flags(flag_values=FLAGS):
    """The `SegmentConfig` of the parsed flags (field names equal flag names)."""
    names = [field.name for field in dataclasses.fields(SegmentConfig)]
    return SegmentConfig(**{name: flag_values[name].value for name in names})


def main(argv):
    if len(argv) > 1:
        raise SystemExit(f"error: unexpected arguments {argv[1:]}.")
    try:
        config = config_from_flags()
        # One writer per run directory (issue 14), taken before TensorFlow loads.
        with rundir.lock(config.model_dir):
            from skinkeras.segmentation.training import train_segmenter

            summary = train_segmenter(config, verbose=1)
    except (ValueError, FileNotFoundError, rundir.RunDirBusyError) as error:
        raise SystemExit(f"error: {error}") from None
    print(
        f"{config.model_dir}: validation Dice {summary['val_dice']:.4f} "
        f"(IoU {summary['val_iou']:.4f}; best Dice {summary['max_val_dice']:.4f} "
        f"at epoch {summary['best_epoch']}; study: 0.89)."
    )
    return 0


cli = deploy_cli.console_script(main, FLAGS)

if __name__ == "__main__":
    cli()
