"""`make_dataset`: the training / evaluation input pipeline.

One documented order (STYLE: Data):

    load (TFDS or `source=`) → decode → resize + centre crop → deterministic
    preprocessing (colour constancy / Ben Graham / lesion mask) → cache →
    per epoch: draw the examples (permutation or class-balanced oversampling) →
    batch → augment (train only) → prefetch

Training epochs follow fastai v1's training loader (docs/training.md, "The study's protocol"):
each epoch draws a random permutation of the split, or with ``oversample`` fastai's
`OverSamplingCallback` draw of ``num_classes × largest class count`` examples with
replacement (`skinkeras.data.sampling`), and drops the last partial batch. Which
examples epoch *e* of stage *s* visits, in which order, and how each batch is
augmented are a pure function of ``(seed, s, e)``: stateless random ops keyed by
`sampling.epoch_key`, no global random state. A dataset therefore gives the same
batches every time it is iterated, and `TrainingStream.epochs(start=e)` gives exactly
the epochs an uninterrupted run would have reached at *e*: resuming is exact.

The deterministic part runs once per example. For training, its results are held in
memory as one uint8 tensor (ISIC 2017 train at 224 px: 0.3 GB instead of 1.2 GB of
float32; rounding moves a pixel by at most 0.5 of 255) from which each batch is
gathered by index, so no shuffle buffer is needed; evaluation streams through a
uint8 cache in the split's order.

Augmentation comes after batching only as an implementation detail: it is vectorised
over the batch, each image still gets its own random parameters (from one stateless
key per batch), so the result is the per-image augment → batch of fastai.

Input normalisation convention: the pipeline yields RGB float32 pixels in 0..255 and
never normalises. Each model applies its own input normalisation as its first layers
(ResNet-50: caffe-style BGR mean subtraction; EfficientNet-B0: its stem rescaling /
normalization), so the model is the one place where pixels are normalised, and the
same dataset feeds both models.
"""

# The rule is TrainConfig's (one check per rule); its module is plain Python.
from skinkeras.config import check_augmentation
from skinkeras.data.loading import (
    AUTOTUNE,
    LABELS,
    DatasetNotPreparedError,
    base_split,
    check_args,
    dataset_info,
    example_loader,
    finish,
    prepared_builder,
    raw_examples,
    round_pixels,
    to_float,
)
from skinkeras.data.stream import TrainingStream, make_training_stream

__all__ = [
    "LABELS",
    "DatasetNotPreparedError",
    "TrainingStream",
    "dataset_info",
    "make_dataset",
    "make_training_stream",
    "prepared_builder",
    "round_pixels",
]


def make_dataset(
    split,
    *,
    dataset="isic2017",
    data_dir=None,
    preprocessing="none",
    image_size=224,
    batch_size=16,
    augment=False,
    lighting=False,
    flip=False,
    warp=False,
    oversample=False,
    label="melanoma",
    seed=0,
    shuffle=None,
    source=None,
    masks_dir=None,
    mask_mode="grayscale",
    drop_remainder=None,
    stage=0,
    epoch=0,
    repeat=False,
    num_classes=None,
):
    """Batched `(image, label)` pairs for one split, in the module's documented order.

    A training dataset (``shuffle``, ``oversample`` or ``augment``) is epoch
    ``epoch`` of ``stage`` (and the following ones with ``repeat``), a pure function
    of ``(seed, stage, epoch)``: iterating it twice gives the same batches.

    Args:
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
        seed: seeds the epochs' draws and augmentation (with `stage`, `epoch`).
        shuffle: a random permutation each epoch; None = only for the "train" split.
        source: a `tf.data.Dataset` of dicts used instead of TFDS: `image` (uint8
            (H, W, 3|1|4) or encoded bytes), the `label` key, `image_id` (names bad
            images; needed with `masks_dir`) and optionally `mask`.
        masks_dir: for an op that reads the mask without a `mask` feature: PNG masks
            `masks_dir/<split>/<image_id>.png` (0/255 uint8, any size).
        mask_mode: "grayscale" or "gray128" (outside of the lesion).
        drop_remainder: drop a last partial batch; None = only when shuffling, so the
            training batch dimension is static and evaluation sees every example.
        stage: training stage (1 or 2 in `skinkeras.training`; any int >= 0).
        epoch: the (0-based) epoch of `stage` the dataset starts at.
        repeat: continue with the following epochs forever.
        num_classes: the number of classes of `label`: checked against the TFDS
            ClassLabel; needed with a `source` whose label is not in `LABELS`
            (oversampling counts the classes).

    Returns:
        `tf.data.Dataset` of (float32 (B, S, S, 3) in 0..255, int32 (B,)).
    """
    check_args(split, preprocessing, image_size, batch_size, label, mask_mode, seed)
    check_augmentation(augment=augment, lighting=lighting, flip=flip, warp=warp)
    shuffle = (base_split(split) == "train") if shuffle is None else bool(shuffle)
    drop_remainder = shuffle if drop_remainder is None else bool(drop_remainder)
    if shuffle or oversample or augment:
        stream = make_training_stream(
            split,
            dataset=dataset,
            data_dir=data_dir,
            preprocessing=preprocessing,
            image_size=image_size,
            batch_size=batch_size,
            augment=augment,
            lighting=lighting,
            flip=flip,
            warp=warp,
            oversample=oversample,
            shuffle=shuffle,
            label=label,
            seed=seed,
            source=source,
            masks_dir=masks_dir,
            mask_mode=mask_mode,
            drop_remainder=drop_remainder,
            num_classes=num_classes,
        )
        return stream.epochs(
            stage=stage, start=epoch, stop=None if repeat else epoch + 1
        )

    raw, _ = raw_examples(
        split,
        dataset=dataset,
        data_dir=data_dir,
        label=label,
        source=source,
        num_classes=num_classes,
    )
    load = example_loader(
        raw,
        split=split,
        image_size=image_size,
        preprocessing=preprocessing,
        label=label,
        masks_dir=masks_dir,
        mask_mode=mask_mode,
    )
    ds = raw.map(load, num_parallel_calls=AUTOTUNE).cache()
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return finish(ds.map(to_float, num_parallel_calls=AUTOTUNE))
