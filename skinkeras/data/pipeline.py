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

import dataclasses
import re

import tensorflow as tf

from skinkeras.data import preprocessing as pp
from skinkeras.data import sampling
from skinkeras.data.augment import augment as augment_images
from skinkeras.data.io import decode_image, ensure_rgb

# The rule is TrainConfig's (one check per rule); its module is plain Python.
from skinkeras.training.config import check_augmentation

__all__ = [
    "DatasetNotPreparedError",
    "TrainingStream",
    "dataset_info",
    "make_dataset",
    "make_training_stream",
    "prepared_builder",
]

AUTOTUNE = tf.data.AUTOTUNE
PREPROCESSING_CHOICES = (*pp.PREPROCESSING_NAMES, "lesion_mask")
LABELS = {"melanoma": 2, "label": 3}  # SPEC: binary task; the 3-class label is kept


class DatasetNotPreparedError(FileNotFoundError):
    """A TFDS dataset that needs `tfds build` (archives, manual download) first."""


def _is_synthetic(dataset):
    return dataset.split("/")[0].split(":")[0].startswith("synthetic")


def prepared_builder(dataset, *, data_dir=None):
    """The prepared TFDS builder of ``dataset`` (classification and segmentation).

    Synthetic datasets are built on first use; an unprepared ISIC dataset raises
    `DatasetNotPreparedError` naming the ``tfds build`` command.
    """
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
    builder = prepared_builder(dataset, data_dir=data_dir)
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


def round_pixels(image):
    """Clip to 0..255 and round (float in, float out): the values of the uint8 cache.

    Training sees the cached values, so inference and export round the same way.
    """
    return tf.round(tf.clip_by_value(image, 0.0, 255.0))


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
        image = tf.cast(round_pixels(image), tf.uint8)
        return image, tf.cast(example[label], tf.int32)

    return load


def _to_float(image, label):
    return tf.cast(image, tf.float32), label


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """fastai v1 `get_transforms` settings of the training batches (docs/training.md).

    The study's (thesis §4.1.2–4.4.2): rotation ±180° and zoom up to 30 %, each with
    p = 0.75; ``lighting`` (experiment 2) brightness and contrast, max_lighting 0.2,
    each with p = 0.75. ``flip`` and ``warp`` are `get_transforms` defaults that the
    thesis does not mention: off unless asked for.
    """

    lighting: bool = False
    flip: bool = False
    warp: bool = False

    def __call__(self, images, key):
        return augment_images(
            images,
            key,
            lighting=self.lighting,
            flip=self.flip,
            warp=self.warp,
            dtype="float32",
        )


def _augmented(ds, key, augmentation):
    """uint8 batches → float32; batch ``b`` augmented with `fold_in(key, b)`."""
    if augmentation is None:
        return ds.map(_to_float, num_parallel_calls=AUTOTUNE)
    return ds.enumerate().map(
        lambda b, batch: (
            augmentation(batch[0], tf.random.experimental.stateless_fold_in(key, b)),
            batch[1],
        ),
        num_parallel_calls=AUTOTUNE,
    )


def _finish(ds):
    options = tf.data.Options()
    options.deterministic = True
    return ds.with_options(options).prefetch(AUTOTUNE)


class TrainingStream:
    """A split held in memory and served as seeded training epochs (fastai v1's loader).

    Build it with `make_training_stream`. ``epochs(stage=s, start=a, stop=b)`` yields
    the batches of epochs ``a .. b-1`` of stage ``s``, each epoch exactly
    `steps_per_epoch` batches (drop_remainder) or the epoch's examples in batches;
    epoch ``e`` is a pure function of ``(seed, s, e)`` (module docstring).

    Attributes:
        num_examples: examples in the split.
        counts: examples per class.
        epoch_size: examples one epoch draws (`sampling.epoch_size`).
        steps_per_epoch: batches per epoch.
    """

    def __init__(
        self,
        examples,
        counts,
        *,
        batch_size,
        seed,
        oversample,
        shuffle,
        augmentation,
        drop_remainder,
    ):
        self._examples = examples  # one element: (uint8 (n, S, S, 3), int32 (n,))
        self.counts = counts
        self.num_examples = int(counts.sum())
        self.batch_size = batch_size
        self.seed = seed
        self.oversample = oversample
        self.shuffle = shuffle
        self.augmentation = augmentation
        self.drop_remainder = drop_remainder
        self.epoch_size = sampling.epoch_size(counts, oversample=oversample)
        if drop_remainder:
            self.steps_per_epoch = self.epoch_size // batch_size
            if self.steps_per_epoch == 0:
                raise ValueError(
                    f"An epoch draws {self.epoch_size} examples, fewer than one batch "
                    f"(the last partial batch is dropped, as in fastai). Lower "
                    f"`batch_size`. Received: batch_size={batch_size}"
                )
        else:
            self.steps_per_epoch = -(-self.epoch_size // batch_size)

    def _epoch(self, stage, epoch):
        key = sampling.epoch_key(self.seed, stage, epoch)
        sample_key, augment_key = tf.unstack(
            tf.random.experimental.stateless_split(key, 2)
        )
        batch = self.batch_size

        def batches(images, labels):
            indices = sampling.epoch_indices(
                labels,
                sample_key,
                num_classes=self.counts.size,
                oversample=self.oversample,
                shuffle=self.shuffle,
            )
            if self.drop_remainder:
                steps = self.steps_per_epoch
                indices = tf.reshape(indices[: steps * batch], [steps, batch])
                ds = tf.data.Dataset.from_tensor_slices(indices)
            else:
                ds = tf.data.Dataset.from_tensor_slices(indices).batch(batch)
            return ds.map(
                lambda index: (tf.gather(images, index), tf.gather(labels, index)),
                num_parallel_calls=AUTOTUNE,
            )

        ds = self._examples.flat_map(batches)
        return _augmented(ds, augment_key, self.augmentation)

    def epochs(self, *, stage=0, start=0, stop=None):
        """Batches of epochs ``start .. stop - 1`` of ``stage`` (``stop=None``: forever)."""
        for name, value in (("stage", stage), ("start", start)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"`{name}` must be an int >= 0. Received: {name}={value!r}"
                )
        if stop is not None and (not isinstance(stop, int) or stop < start):
            raise ValueError(
                f"`stop` must be None or an int >= start ({start}). Received: stop={stop!r}"
            )
        epochs = tf.data.Dataset.range(start, stop if stop is not None else 2**62)
        ds = epochs.flat_map(lambda epoch: self._epoch(stage, epoch))
        if stop is not None and self.drop_remainder:
            ds = ds.apply(
                tf.data.experimental.assert_cardinality(
                    (stop - start) * self.steps_per_epoch
                )
            )
        return _finish(ds)


def _raw_examples(split, *, dataset, data_dir, label, source):
    """The split's example dicts, their number of classes and (if known) size."""
    if source is None:
        import tensorflow_datasets as tfds

        builder = prepared_builder(dataset, data_dir=data_dir)
        features = builder.info.features
        if label not in features:
            raise ValueError(
                f"Dataset {dataset!r} has no feature {label!r} (features: "
                f"{sorted(features.keys())}). Received: label={label!r}"
            )
        # Images stay encoded until `load` (decode_image names a bad file); that also
        # keeps the label pass of training streams cheap.
        decoders = {
            key: tfds.decode.SkipDecoding()
            for key, feature in features.items()
            if isinstance(feature, tfds.features.Image)
        }
        raw = builder.as_dataset(split=split, decoders=decoders, shuffle_files=False)
        return raw, int(features[label].num_classes)
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
    return source, LABELS.get(label)


def _loader(raw, *, split, image_size, preprocessing, label, masks_dir, mask_mode):
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
    return _example_fn(
        image_size=image_size,
        preprocessing=preprocessing,
        label=label,
        masks_dir=None if masks_dir is None else str(masks_dir),
        split=split,
        mask_mode=mask_mode,
        has_mask=has_mask,
    )


def make_training_stream(
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
    shuffle=True,
    label="melanoma",
    seed=0,
    source=None,
    masks_dir=None,
    mask_mode="grayscale",
    drop_remainder=True,
):
    """A `TrainingStream` of one split: seeded epochs as fastai v1's training loader.

    The arguments are `make_dataset`'s. Reads the split's labels once (to size the
    epochs) and decodes + preprocesses every image once, on the first epoch.
    """
    _check_args(split, preprocessing, image_size, batch_size, label, mask_mode, seed)
    check_augmentation(augment=augment, lighting=lighting, flip=flip, warp=warp)
    raw, num_classes = _raw_examples(
        split, dataset=dataset, data_dir=data_dir, label=label, source=source
    )
    if num_classes is None:
        raise ValueError(
            f"Training streams need the number of classes of label {label!r}; use "
            f"label='melanoma' or 'label'. Received: label={label!r}"
        )
    labels = sampling.labels_of(raw, label_key_or_fn=label)
    if labels.size == 0:
        raise ValueError(f"Split {split!r} has no examples. Received: split={split!r}")
    counts = sampling.counts_of(labels, num_classes=num_classes)
    load = _loader(
        raw,
        split=split,
        image_size=image_size,
        preprocessing=preprocessing,
        label=label,
        masks_dir=masks_dir,
        mask_mode=mask_mode,
    )
    # The whole split as one cached element, gathered from by index every epoch.
    examples = raw.map(load, num_parallel_calls=AUTOTUNE).batch(labels.size).cache()
    return TrainingStream(
        examples,
        counts,
        batch_size=batch_size,
        seed=seed,
        oversample=oversample,
        shuffle=shuffle,
        augmentation=Augmentation(lighting, flip, warp) if augment else None,
        drop_remainder=drop_remainder,
    )


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
        preprocessing: "none", "max_rgb", "shades_of_gray", "ben_graham" or
            "lesion_mask" (colour inside the lesion, `mask_mode` outside).
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
        label: the label feature, "melanoma" (2 classes) or "label" (3 classes).
        seed: seeds the epochs' draws and augmentation (with `stage`, `epoch`).
        shuffle: a random permutation each epoch; None = only for the "train" split.
        source: a `tf.data.Dataset` of dicts used instead of TFDS: `image` (uint8
            (H, W, 3|1|4) or encoded bytes), the `label` key, `image_id` (names bad
            images; needed with `masks_dir`) and optionally `mask`.
        masks_dir: for "lesion_mask" without a `mask` feature: PNG masks
            `masks_dir/<split>/<image_id>.png` (0/255 uint8, any size).
        mask_mode: "grayscale" or "gray128" (outside of the lesion).
        drop_remainder: drop a last partial batch; None = only when shuffling, so the
            training batch dimension is static and evaluation sees every example.
        stage: training stage (1 or 2 in `skinkeras.training`; any int >= 0).
        epoch: the (0-based) epoch of `stage` the dataset starts at.
        repeat: continue with the following epochs forever.

    Returns:
        `tf.data.Dataset` of (float32 (B, S, S, 3) in 0..255, int32 (B,)).
    """
    _check_args(split, preprocessing, image_size, batch_size, label, mask_mode, seed)
    check_augmentation(augment=augment, lighting=lighting, flip=flip, warp=warp)
    shuffle = (_base_split(split) == "train") if shuffle is None else bool(shuffle)
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
        )
        return stream.epochs(
            stage=stage, start=epoch, stop=None if repeat else epoch + 1
        )

    raw, _ = _raw_examples(
        split, dataset=dataset, data_dir=data_dir, label=label, source=source
    )
    load = _loader(
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
    return _finish(ds.map(_to_float, num_parallel_calls=AUTOTUNE))
