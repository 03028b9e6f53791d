"""`InputSettings`: the settings `make_dataset` and `make_training_stream` share.

One set of keyword arguments with one set of checks: both functions take them as
``**settings`` and make an `InputSettings` of them (issue 23, item 2: one
implementation per idea).
"""

import dataclasses

# The rule is TrainConfig's (one check per rule); its module is plain Python.
from skinkeras.config import check_augmentation, check_metadata
from skinkeras.data import ops
from skinkeras.data import preprocessing as pp
from skinkeras.data.loading import raw_examples

__all__ = ["InputSettings"]


@dataclasses.dataclass(frozen=True)
class InputSettings:
    """What a split is loaded from and how its batches are made: the keyword arguments
    that `make_dataset` and `make_training_stream` share, checked once when made.

    Attributes:
        split: TFDS split ("train", "validation", "test", slices like "train[:10%]").
        dataset: TFDS name ("isic2017", "isic2017/256", "synthetic_lesions"...). Unused
            when `source` is given. Synthetic datasets are built on first use; others
            raise `DatasetNotPreparedError` with the `tfds build` command to run.
        data_dir: TFDS data directory (None: TFDS' default).
        preprocessing: a name of `skinkeras.data.ops` (the example ops): "none",
            "max_rgb", "shades_of_gray", "ben_graham" or "lesion_mask" (colour
            inside the lesion, `mask_mode` outside; it reads the example's mask).
        image_size: side S of the square images (shorter side scaled, centre crop).
        batch_size: examples per batch.
        augment: fastai v1 `get_transforms` with the thesis's ranges: rotation ±180°
            and zoom up to 30 %, each with p = 0.75 (SPEC: training only).
        lighting: also brightness and contrast (max_lighting 0.2, each p = 0.75;
            experiment 2); needs `augment`.
        flip: also a left-right flip with p = 0.5 (a fastai default the thesis does
            not mention); needs `augment`.
        warp: also a symmetric perspective warp (max_warp 0.2, p = 0.75; a fastai
            default the thesis does not mention); needs `augment`.
        oversample: fastai v1's `OverSamplingCallback`: each epoch draws
            ``num_classes × largest class count`` examples with replacement,
            balanced across classes.
        label: the label feature: "melanoma" (2 classes), "label" (3 classes) or a
            dataset-defined ClassLabel such as "diagnosis" (ISIC 2019, HAM10000).
        seed: seeds the epochs' draws and augmentation (with the stage and epoch).
        source: a `tf.data.Dataset` of dicts used instead of TFDS: `image` (uint8
            (H, W, 3|1|4) or encoded bytes), the `label` key, `image_id` (names bad
            images; needed with `masks_dir`) and optionally `mask`.
        masks_dir: for an op that reads the mask without a `mask` feature: PNG masks
            `masks_dir/<split>/<image_id>.png` (0/255 uint8, any size).
        mask_mode: "grayscale" or "gray128" (outside of the lesion).
        num_classes: the number of classes of `label`: checked against the TFDS
            ClassLabel; needed with a `source` whose label is not in `LABELS`
            (oversampling counts the classes).
        metadata: None (the study's: batches of images), or a run's
            `metadata_encoding` (issue 26): batches of ``{"image", "age", "sex",
            "site"}`` dicts (`skinkeras.data.metadata`), the dataset's vocabulary
            checked against the encoding's.
    """

    split: str
    dataset: str = "isic2017"
    data_dir: object = None
    preprocessing: str = "none"
    image_size: int = 224
    batch_size: int = 16
    augment: bool = False
    lighting: bool = False
    flip: bool = False
    warp: bool = False
    oversample: bool = False
    label: str = "melanoma"
    seed: int = 0
    source: object = None
    masks_dir: object = None
    mask_mode: str = "grayscale"
    num_classes: object = None
    metadata: object = None

    def __post_init__(self):
        if not isinstance(self.split, str) or not self.split:
            raise ValueError(
                f"`split` must be a split name. Received: split={self.split!r}"
            )
        if self.preprocessing not in ops.names():
            raise ValueError(
                f"`preprocessing` must be one of {ops.names()}. "
                f"Received: preprocessing={self.preprocessing!r}"
            )
        for name in ("image_size", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"`{name}` must be a positive int. Received: {name}={value!r}"
                )
        if not isinstance(self.label, str) or not self.label:
            raise ValueError(
                f"`label` must be a feature name. Received: label={self.label!r}"
            )
        if self.mask_mode not in pp.MASK_MODES:
            raise ValueError(
                f"`mask_mode` must be one of {pp.MASK_MODES}. "
                f"Received: mask_mode={self.mask_mode!r}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"`seed` must be an int. Received: seed={self.seed!r}")
        check_augmentation(
            augment=self.augment, lighting=self.lighting, flip=self.flip, warp=self.warp
        )
        if self.metadata is not None:
            check_metadata(metadata=True, metadata_encoding=self.metadata)

    def raw_examples(self):
        """The split's example dicts and the number of classes (`raw_examples`)."""
        return raw_examples(
            self.split,
            dataset=self.dataset,
            data_dir=self.data_dir,
            label=self.label,
            source=self.source,
            num_classes=self.num_classes,
        )
