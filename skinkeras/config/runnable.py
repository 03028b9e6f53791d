"""The checks of a configuration against this machine and the real models, before
any training (`check_runnable`): `experiments.main` and `experiments.suite` call them.

Not part of `TrainConfig.validate`: the library trains stand-in models at any size
(tests), and reading a run's `config.json` must not need its masks.
"""

import os

from skinkeras.config import MASKED_PREPROCESSING, MODELS

# The smallest input side each backbone takes: all downsample by 32 (ResNet's conv5,
# EfficientNet's block7), and `skinkeras.models` refuses less, with or without ARL,
# whatever the head (tests/training/test_config.py builds them there).
MIN_IMAGE_SIZE = dict.fromkeys(MODELS, 32)


def check_image_size(*, model, image_size):
    if image_size < MIN_IMAGE_SIZE[model]:
        raise ValueError(
            f"`image_size` must be >= {MIN_IMAGE_SIZE[model]} for model={model!r} "
            "(the backbone downsamples by 32). "
            f"Received: image_size={image_size}"
        )


def check_masks_files(*, preprocessing, masks_dir, splits=("train", "validation")):
    """``masks_dir`` holds a folder of PNG masks per split (before training starts).

    Reads the file system, so it is not one of `RULES`: a `config.json` stays
    readable on a machine without the masks.
    """
    if preprocessing not in MASKED_PREPROCESSING or not masks_dir:
        return
    if not os.path.isdir(masks_dir):
        raise ValueError(
            f"`masks_dir` {masks_dir!r} is not a directory (write the masks with "
            "`python -m experiments.make_masks`). "
            f"Received: masks_dir={masks_dir!r}"
        )
    for split in splits:
        folder = os.path.join(masks_dir, split)
        if not os.path.isdir(folder) or not any(
            name.endswith(".png") for name in os.listdir(folder)
        ):
            raise ValueError(
                f"`masks_dir` has no PNG masks in {folder} (expected "
                f"MASKS_DIR/{split}/<image_id>.png from `python -m "
                f"experiments.make_masks`). Received: masks_dir={masks_dir!r}"
            )


def check_runnable(config):
    """The checks of ``config`` against this machine and the real models.

    `experiments.main` and `experiments.suite` call it before any training. Not part
    of `TrainConfig.validate`: the library trains stand-in models at any size (tests),
    and reading a run's `config.json` must not need its masks.
    """
    check_image_size(model=config.model, image_size=config.image_size)
    check_masks_files(preprocessing=config.preprocessing, masks_dir=config.masks_dir)
