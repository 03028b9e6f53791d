r"""Writes the segmenter's lesion masks of an ISIC 2017 split once (experiment 1).

    python -m experiments.make_masks --segmenter=runs/segmenter --masks_dir=masks \
        [--dataset=isic2017] [--splits=train,validation,test]

Writes ``MASKS_DIR/<split>/<image_id>.png`` (0/255, at the stored image's size);
masks already there are skipped, so an interrupted run resumes. Then train on
colour-inside / grayscale-outside images (or gray-128 outside) with

    python -m experiments.main --model=resnet50 --preprocessing=lesion_mask \
        --masks_dir=masks [--mask_mode=gray128]
"""

import pathlib
import re

from absl import flags

from experiments import deploy_cli

FLAGS = flags.FlagValues()
flags.DEFINE_string(
    "segmenter",
    None,
    "Segmenter run directory (model.keras inside) or a .keras file.",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "masks_dir",
    None,
    "Output folder: MASKS_DIR/<split>/<image_id>.png.",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "dataset", "isic2017", "TFDS dataset to segment.", flag_values=FLAGS
)
flags.DEFINE_string("data_dir", None, "TFDS data directory.", flag_values=FLAGS)
flags.DEFINE_list(
    "splits", ["train", "validation", "test"], "Splits to segment.", flag_values=FLAGS
)
flags.DEFINE_integer(
    "batch_size", 8, "Images per model call.", lower_bound=1, flag_values=FLAGS
)
flags.DEFINE_float("threshold", 0.5, "Lesion probability threshold.", flag_values=FLAGS)
flags.mark_flags_as_required(["segmenter", "masks_dir"], flag_values=FLAGS)


def load_segmenter(path):
    """The U-Net of a run directory (``model.keras``) or a ``.keras`` file."""
    import keras

    import skinkeras.models  # noqa: F401  (registers the layers)

    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "model.keras"
    if not path.is_file():
        raise FileNotFoundError(
            "No segmenter model (train one with `python -m experiments.segment`). "
            f"Received: segmenter={path}"
        )
    return keras.models.load_model(path, compile=False)


def split_folder(split):
    """ "train[:10%]" → "train": the pipeline looks masks up by the base split."""
    return re.split(r"[\[+]", split)[0]


def main(argv):
    import tensorflow_datasets as tfds

    from skinkeras.segmentation import data as seg_data
    from skinkeras.segmentation.masks import write_masks

    if len(argv) > 1:
        raise SystemExit(f"error: unexpected arguments {argv[1:]}.")
    try:
        model = load_segmenter(FLAGS.segmenter)
        sizes = {
            split: seg_data.split_size(FLAGS.dataset, split, data_dir=FLAGS.data_dir)
            for split in FLAGS.splits
        }
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
    for split in FLAGS.splits:
        examples = seg_data.load_split(FLAGS.dataset, split, data_dir=FLAGS.data_dir)
        counts = write_masks(
            model,
            tfds.as_numpy(examples),
            FLAGS.masks_dir,
            split_folder(split),
            batch_size=FLAGS.batch_size,
            threshold=FLAGS.threshold,
            progress=True,
            total=sizes[split],
        )
        print(
            f"{split}: {counts['written']} masks written, {counts['skipped']} already "
            f"there, in {pathlib.Path(FLAGS.masks_dir) / split_folder(split)}"
        )
    print(
        "Train on them with: python -m experiments.main --preprocessing=lesion_mask "
        f"--masks_dir={FLAGS.masks_dir} [--mask_mode=gray128]"
    )
    return 0


cli = deploy_cli.console_script(main, FLAGS)

if __name__ == "__main__":
    cli()
