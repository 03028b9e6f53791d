"""`make_dataset`: the training / evaluation input pipeline.

One documented order (STYLE: Data):

    load (TFDS or `source=`) → decode → resize + centre crop → deterministic
    preprocessing (colour constancy / Ben Graham / lesion mask) → cache → shuffle
    (or class-balanced oversampling) → batch → augment (train only) → prefetch

Augmentation comes after batching only as an implementation detail: it is vectorised
over the batch, each image still gets its own random rotation / zoom / brightness
(from one stateless seed per batch), so the result is the per-image augment → batch
of the study, at a fraction of the per-image op overhead.

Input normalisation convention: the pipeline yields RGB float32 pixels in 0..255 and
never normalises. Each model applies its own input normalisation as its first layers
(ResNet-50: caffe-style BGR mean subtraction; EfficientNet-B0: its stem rescaling /
normalization), so the model is the one place where pixels are normalised, and the
same dataset feeds both models.

The deterministic part runs once per example: its result is cached in memory as uint8
(a quarter of float32's memory — ISIC 2017 train at 224 px is 0.3 GB instead of
1.2 GB; rounding moves a pixel by at most 0.5 of 255), so later epochs only shuffle,
batch and augment.
"""

import re

import tensorflow as tf

from skinkeras.data import preprocessing as pp
from skinkeras.data.augment import augment as augment_images
from skinkeras.data.io import decode_image, ensure_rgb
from skinkeras.data.sampling import class_counts
from skinkeras.data.sampling import oversample as oversample_dataset

__all__ = ["DatasetNotPreparedError", "dataset_info", "make_dataset"]

AUTOTUNE = tf.data.AUTOTUNE
PREPROCESSING_CHOICES = (*pp.PREPROCESSING_NAMES, "lesion_mask")
LABELS = {"melanoma": 2, "label": 3}  # SPEC: binary task; the 3-class label is kept
_MAX_SHUFFLE_BUFFER = 10_000


class DatasetNotPreparedError(FileNotFoundError):
    """A TFDS dataset that needs `tfds build` (archives, manual download) first."""


def _is_synthetic(dataset):
    return dataset.split("/")[0].split(":")[0].startswith("synthetic")


def _builder(dataset, data_dir):
    """The prepared TFDS builder; synthetic datasets are built on first use."""
    import tensorflow_datasets as tfds

    import tfds_isic  # noqa: F401  (registers isic2017, isic2018_task1, synthetic_lesions)

    builder = tfds.builder(dataset, data_dir=data_dir)
    if not builder.is_prepared():
        if _is_synthetic(dataset):
            builder.download_and_prepare()
        else:
            command = f"tfds build {dataset} --imports=tfds_isic --manual_dir=DIR"
            if data_dir is not None:
                command += f" --data_dir={data_dir}"
            raise DatasetNotPreparedError(
                f"TFDS dataset {dataset!r} is not prepared in "
                f"{data_dir or '~/tensorflow_datasets'}. Put the ISIC archives in DIR "
                f"(see tfds_isic/{dataset.split('/')[0]}/README.md) and run:\n"
                f"    {command}\n"
                f"Received: dataset={dataset!r}, data_dir={data_dir!r}"
            )
    return builder


def dataset_info(dataset, data_dir=None, *, label="melanoma"):
    """Split sizes and number of classes of a TFDS dataset (building synthetic ones).

    Returns:
        {"num_examples": {split: int}, "num_classes": int, "features": [names]}.
    """
    if label not in LABELS:
        raise ValueError(
            f"`label` must be one of {tuple(LABELS)}. Received: label={label!r}"
        )
    builder = _builder(dataset, data_dir)
    info = builder.info
    return {
        "num_examples": {
            name: split.num_examples for name, split in info.splits.items()
        },
        "num_classes": int(info.features[label].num_classes),
        "features": sorted(info.features.keys()),
    }


def _base_split(split):
    """ "train[:10%]" → "train" (masks_dir has one folder per split)."""
    return re.split(r"[\[+]", split)[0]


def _check_args(split, preprocessing, image_size, batch_size, label, mask_mode, seed):
    if not isinstance(split, str) or not split:
        raise ValueError(f"`split` must be a split name. Received: split={split!r}")
    if preprocessing not in PREPROCESSING_CHOICES:
        raise ValueError(
            f"`preprocessing` must be one of {PREPROCESSING_CHOICES}. "
            f"Received: preprocessing={preprocessing!r}"
        )
    for name, value in (("image_size", image_size), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(
                f"`{name}` must be a positive int. Received: {name}={value!r}"
            )
    if not isinstance(label, str) or not label:
        raise ValueError(f"`label` must be a feature name. Received: label={label!r}")
    if mask_mode not in pp.MASK_MODES:
        raise ValueError(
            f"`mask_mode` must be one of {pp.MASK_MODES}. Received: mask_mode={mask_mode!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"`seed` must be an int. Received: seed={seed!r}")


def _unit_mask(mask):
    """Integer mask 0/1 or 0/255 → float 0..1 (one channel)."""
    mask = tf.cast(mask, tf.float32)
    if mask.shape.rank == 2:
        mask = mask[..., tf.newaxis]
    mask = mask[..., :1]
    return tf.where(tf.reduce_max(mask) > 1.0, mask / 255.0, mask)


def _example_fn(
    *, image_size, preprocessing, label, masks_dir, split, mask_mode, has_mask
):
    """dict example → (uint8 image (S, S, 3), int32 label): the deterministic part."""
    deterministic = (
        None if preprocessing == "lesion_mask" else pp.preprocess(preprocessing)
    )

    def load(example):
        image = example["image"]
        name = example.get("image_id", "<no image_id>")
        if image.dtype == tf.string:
            image = decode_image(image, name=name)
        else:
            image = ensure_rgb(image)
        image = pp.resize_and_center_crop(image, image_size)
        if preprocessing == "lesion_mask":
            if has_mask:
                mask = example["mask"]
                if mask.dtype == tf.string:
                    mask = tf.io.decode_png(mask, channels=1)
            else:
                path = tf.strings.join(
                    [
                        masks_dir,
                        "/",
                        _base_split(split),
                        "/",
                        example["image_id"],
                        ".png",
                    ]
                )
                mask = tf.io.decode_png(tf.io.read_file(path), channels=1)
            mask = pp.resize_and_center_crop(_unit_mask(mask), image_size)
            image = pp.apply_lesion_mask(image, mask, mode=mask_mode)
        else:
            image = deterministic(image)
        # Cached as uint8 (see module docstring).
        image = tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)
        return image, tf.cast(example[label], tf.int32)

    return load


def _to_float(image, label):
    return tf.cast(image, tf.float32), label


def make_dataset(
    split,
    *,
    dataset="isic2017",
    data_dir=None,
    preprocessing="none",
    image_size=224,
    batch_size=16,
    augment=False,
    brightness=False,
    oversample=False,
    label="melanoma",
    seed=0,
    shuffle=None,
    source=None,
    masks_dir=None,
    mask_mode="grayscale",
    drop_remainder=None,
    repeat=False,
):
    """Batched `(image, label)` pairs for one split, in the module's documented order.

    Args:
        split: TFDS split ("train", "validation", "test", slices like "train[:10%]").
        dataset: TFDS name ("isic2017", "isic2017/256", "synthetic_lesions"...). Unused
            when `source` is given. Synthetic datasets are built on first use; others
            raise `DatasetNotPreparedError` with the `tfds build` command to run.
        data_dir: TFDS data directory (None: TFDS' default).
        preprocessing: "none", "max_rgb", "shades_of_gray", "ben_graham" or
            "lesion_mask" (colour inside the lesion, `mask_mode` outside).
        image_size: side S of the square images (shorter side scaled, centre crop).
        batch_size: examples per batch.
        augment: random rotation ±180° and zoom-in up to 30 % (SPEC: training only).
        brightness: also random brightness (experiment 2); needs `augment`.
        oversample: balance the classes by sampling (epoch length unchanged).
        label: the label feature, "melanoma" (2 classes) or "label" (3 classes).
        seed: seeds shuffling, oversampling and augmentation; same seed, same batches.
        shuffle: shuffle the examples; None = only for the "train" split.
        source: a `tf.data.Dataset` of dicts used instead of TFDS: `image` (uint8
            (H, W, 3|1|4) or encoded bytes), the `label` key, `image_id` (names bad
            images; needed with `masks_dir`) and optionally `mask`.
        masks_dir: for "lesion_mask" without a `mask` feature: PNG masks
            `masks_dir/<split>/<image_id>.png` (0/255 uint8, any size).
        mask_mode: "grayscale" or "gray128" (outside of the lesion).
        drop_remainder: drop a last partial batch; None = only when shuffling, so the
            training batch dimension is static and evaluation sees every example.
        repeat: repeat forever (each pass reshuffled and re-augmented).

    Returns:
        `tf.data.Dataset` of (float32 (B, S, S, 3) in 0..255, int32 (B,)).
    """
    _check_args(split, preprocessing, image_size, batch_size, label, mask_mode, seed)
    if brightness and not augment:
        raise ValueError(
            "`brightness` is part of augmentation; pass augment=True. "
            f"Received: brightness={brightness!r}, augment={augment!r}"
        )
    shuffle = (_base_split(split) == "train") if shuffle is None else bool(shuffle)
    drop_remainder = shuffle if drop_remainder is None else bool(drop_remainder)

    num_examples = None
    if source is None:
        import tensorflow_datasets as tfds

        builder = _builder(dataset, data_dir)
        features = builder.info.features
        if label not in features:
            raise ValueError(
                f"Dataset {dataset!r} has no feature {label!r} (features: "
                f"{sorted(features.keys())}). Received: label={label!r}"
            )
        num_classes = int(features[label].num_classes)
        # Images stay encoded until `load` (decode_image names a bad file); that also
        # keeps the label-counting pass of oversampling cheap.
        decoders = {
            key: tfds.decode.SkipDecoding()
            for key, feature in features.items()
            if isinstance(feature, tfds.features.Image)
        }
        raw = builder.as_dataset(split=split, decoders=decoders, shuffle_files=False)
        num_examples = int(builder.info.splits[split].num_examples)
    else:
        if not isinstance(source, tf.data.Dataset):
            raise ValueError(
                f"`source` must be a tf.data.Dataset. Received: source={type(source)}"
            )
        spec = source.element_spec
        if not isinstance(spec, dict) or "image" not in spec or label not in spec:
            raise ValueError(
                f"`source` must yield dicts with 'image' and {label!r}. "
                f"Received: source.element_spec={spec}"
            )
        raw = source
        num_classes = LABELS.get(label)
        cardinality = int(raw.cardinality())
        if cardinality >= 0:
            num_examples = cardinality

    has_mask = "mask" in raw.element_spec
    if preprocessing == "lesion_mask" and not has_mask:
        if masks_dir is None:
            raise ValueError(
                "`preprocessing='lesion_mask'` needs a `mask` feature or `masks_dir` "
                "(PNG masks written by `python -m experiments.make_masks`). "
                f"Received: masks_dir={masks_dir!r}"
            )
        if "image_id" not in raw.element_spec:
            raise ValueError(
                "`masks_dir` masks are found by `image_id`, which the examples lack. "
                f"Received: features={sorted(raw.element_spec)}"
            )
    load = _example_fn(
        image_size=image_size,
        preprocessing=preprocessing,
        label=label,
        masks_dir=None if masks_dir is None else str(masks_dir),
        split=split,
        mask_mode=mask_mode,
        has_mask=has_mask,
    )

    def deterministic_part(ds):
        return ds.map(load, num_parallel_calls=AUTOTUNE).cache()

    if oversample:
        if num_classes is None:
            raise ValueError(
                f"`oversample` needs the number of classes of label {label!r}; use "
                f"label='melanoma' or 'label'. Received: label={label!r}"
            )
        counts = class_counts(raw, num_classes=num_classes, label_key_or_fn=label)
        num_examples = int(counts.sum())
        # Filter the raw examples per class, then decode + cache each class once.
        ds = oversample_dataset(
            raw,
            num_classes=num_classes,
            label_key_or_fn=label,
            seed=seed,
            num_samples=num_examples,
            counts=counts,
            shuffle_buffer=_MAX_SHUFFLE_BUFFER,
            class_stream_fn=deterministic_part,
        )
    else:
        ds = deterministic_part(raw)
        if shuffle:
            buffer = min(num_examples or _MAX_SHUFFLE_BUFFER, _MAX_SHUFFLE_BUFFER)
            ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    ds = ds.batch(
        batch_size, drop_remainder=drop_remainder, num_parallel_calls=AUTOTUNE
    )
    if augment:
        # One fresh stateless seed per batch, re-randomised on every iteration (epoch)
        # yet reproducible from `seed`. Augmentation reads the uint8 batch and
        # returns float32 (the cast is fused into its XLA computation).
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        seeds = seeds.batch(2, drop_remainder=True)
        ds = tf.data.Dataset.zip(ds, seeds)
        ds = ds.map(
            lambda batch, seed_pair: (
                augment_images(
                    batch[0], seed_pair, brightness=brightness, dtype="float32"
                ),
                batch[1],
            ),
            num_parallel_calls=AUTOTUNE,
        )
    else:
        ds = ds.map(_to_float, num_parallel_calls=AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = True
    ds = ds.with_options(options)
    return ds.prefetch(AUTOTUNE)
