"""Loading a split: the TFDS builder and the deterministic part of
`skinkeras.data.pipeline`'s documented order (decode → resize + centre crop →
deterministic preprocessing → uint8), shared by evaluation datasets
(`pipeline.make_dataset`) and training streams (`stream.make_training_stream`).
"""

import contextlib
import fcntl
import logging
import os
import re

import tensorflow as tf

from skinkeras.data import metadata as metadata_lib
from skinkeras.data import ops
from skinkeras.data import preprocessing as pp
from skinkeras.data.io import decode_image, ensure_rgb

__all__ = [
    "DatasetNotPreparedError",
    "dataset_info",
    "metadata_encoding",
    "prepared_builder",
    "round_pixels",
]

AUTOTUNE = tf.data.AUTOTUNE
LABELS = {"melanoma": 2, "label": 3}  # SPEC: binary task; the 3-class label is kept


class DatasetNotPreparedError(FileNotFoundError):
    """A TFDS dataset that needs `tfds build` (archives, manual download) first."""


def _is_synthetic(dataset):
    return dataset.split("/")[0].split(":")[0].startswith("synthetic")


@contextlib.contextmanager
def build_lock(data_dir_root, name):
    """Holds an exclusive lock on ``<data_dir_root>/.<name>.lock`` for the block.

    Concurrent first uses of a dataset (the workers of one cluster, parallel runs on
    one ``--data_dir``) would otherwise build it at once, and TFDS' final rename of
    one fails on the other's directory (issue 14). The lock is `fcntl.flock`'s: the
    kernel drops it when its holder exits, so a killed build never blocks the next.
    Remote data dirs (``gs://...``) are not locked.
    """
    root = os.fspath(data_dir_root)
    if "://" in root:
        yield
        return
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, f".{name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # waits while another process builds
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# TFDS (4.9, core/utils/file_utils.py) warns "Variant folder <dir> has no
# dataset_info.json" when it looks for a dataset that is not built yet, which is
# what every first use of a synthetic dataset does before building it (issue 23:
# a first run shows no log line). Only that message is dropped, and only while
# `prepared_builder` looks.
_UNBUILT_VARIANT = "Variant folder %s has no %s"


class _NotYetBuilt(logging.Filter):
    def filter(self, record):
        return record.msg != _UNBUILT_VARIANT


@contextlib.contextmanager
def _quiet_unbuilt_variants():
    absl_logger = logging.getLogger("absl")
    quiet = _NotYetBuilt()
    absl_logger.addFilter(quiet)
    try:
        yield
    finally:
        absl_logger.removeFilter(quiet)


def prepared_builder(dataset, *, data_dir=None):
    """The prepared TFDS builder of ``dataset`` (classification and segmentation).

    Synthetic datasets are built on first use, by one process at a time
    (`build_lock`); an unprepared ISIC dataset raises
    `DatasetNotPreparedError` naming the ``tfds build`` command.
    """
    with _quiet_unbuilt_variants():
        return _prepared_builder(dataset, data_dir=data_dir)


def _prepared_builder(dataset, *, data_dir):
    import tensorflow_datasets as tfds

    import tfds_isic  # noqa: F401  (registers isic2017, isic2018_task1, synthetic_lesions)

    builder = tfds.builder(dataset, data_dir=data_dir)
    if not builder.is_prepared():
        if _is_synthetic(dataset):
            with build_lock(builder.data_dir_root, builder.name):
                # Another process (a worker of the same cluster, a parallel run)
                # may have built it while we waited: a fresh builder reads its files.
                builder = tfds.builder(dataset, data_dir=data_dir)
                if not builder.is_prepared():
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
    """Split sizes and the classes of `label` of a TFDS dataset (building synthetic ones).

    ``label`` is any ClassLabel feature: ``melanoma`` and ``label`` (`LABELS`), or a
    dataset-defined one such as ``diagnosis`` (issue 16).

    Returns:
        {"num_examples": {split: int}, "num_classes": int, "class_names": [names],
        "features": [names]}.
    """
    import tensorflow_datasets as tfds

    if not isinstance(label, str) or not label:
        raise ValueError(f"`label` must be a feature name. Received: label={label!r}")
    builder = prepared_builder(dataset, data_dir=data_dir)
    info = builder.info
    feature = info.features[label] if label in info.features else None
    if not isinstance(feature, tfds.features.ClassLabel):
        raise ValueError(
            f"Dataset {dataset!r} has no ClassLabel feature {label!r} (features: "
            f"{sorted(info.features.keys())}). Received: label={label!r}"
        )
    return {
        "num_examples": {
            name: split.num_examples for name, split in info.splits.items()
        },
        "num_classes": int(feature.num_classes),
        "class_names": list(feature.names),
        "features": sorted(info.features.keys()),
    }


def metadata_encoding(dataset, data_dir=None):
    """The patient metadata encoding of a TFDS dataset (issue 26; building a
    synthetic one first): `skinkeras.data.metadata.encoding` of its features.

    Raises:
        ValueError: naming the metadata field the dataset lacks, or stores as text.
    """
    features = prepared_builder(dataset, data_dir=data_dir).info.features
    return metadata_lib.encoding(features, dataset=dataset)


def base_split(split):
    """ "train[:10%]" → "train" (masks_dir has one folder per split)."""
    return re.split(r"[\[+]", split)[0]


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


def _load_mask(example, *, image_size, masks_dir, split, has_mask):
    """The example's lesion mask, float 0..1 (S, S, 1), cropped like its image.

    From its `mask` feature (decoded if encoded), else from
    ``masks_dir/<split>/<image_id>.png``.
    """
    if has_mask:
        mask = example["mask"]
        if mask.dtype == tf.string:
            mask = tf.io.decode_png(mask, channels=1)
    else:
        path = tf.strings.join(
            [masks_dir, "/", base_split(split), "/", example["image_id"], ".png"]
        )
        mask = tf.io.decode_png(tf.io.read_file(path), channels=1)
    return pp.resize_and_center_crop(_unit_mask(mask), image_size)


def _example_fn(
    *,
    image_size,
    preprocessing,
    label,
    masks_dir,
    split,
    mask_mode,
    has_mask,
    metadata=None,
):
    """dict example → (uint8 image (S, S, 3), int32 label): the deterministic part.

    With ``metadata`` (`skinkeras.data.metadata.inputs_fn`'s map), the first element
    is ``{"image": uint8 image, "age", "sex", "site"}`` instead (issue 26).
    """
    spec = ops.spec(preprocessing)
    settings = {"mask_mode": mask_mode}  # what an op may take (its `settings`)
    op = ops.get(preprocessing, **{key: settings[key] for key in spec.settings})

    def load(example):
        image = example["image"]
        name = example.get("image_id", "<no image_id>")
        if image.dtype == tf.string:
            image = decode_image(image, name=name)
        else:
            image = ensure_rgb(image)
        example = {**example, "image": pp.resize_and_center_crop(image, image_size)}
        if "mask" in spec.needs:
            example["mask"] = _load_mask(
                example,
                image_size=image_size,
                masks_dir=masks_dir,
                split=split,
                has_mask=has_mask,
            )
        image = op(example)["image"]
        # Cached as uint8 (see module docstring).
        image = tf.cast(round_pixels(image), tf.uint8)
        if metadata is not None:
            image = {"image": image, **metadata(example)}
        return image, tf.cast(example[label], tf.int32)

    return load


def to_float(image, label):
    """uint8 images (or a metadata run's dict of them) → float32, label unchanged."""
    if isinstance(image, dict):
        return {**image, "image": tf.cast(image["image"], tf.float32)}, label
    return tf.cast(image, tf.float32), label


def finish(ds):
    options = tf.data.Options()
    options.deterministic = True
    # Several workers (MultiWorkerMirroredStrategy) each run the whole pipeline and
    # keep their part of every global batch. The default (AUTO) would shard the
    # TFDS files instead: each worker would cache and draw its epochs from part of
    # the split, and predictions would come back in another order than the labels.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return ds.with_options(options).prefetch(AUTOTUNE)


def check_labelled(builder, split, *, dataset):
    """Raises `ValueError` if `split` reads one of the builder's `UNLABELLED_SPLITS`.

    Their labels are -1 (ISIC 2020's official test set, `challenge_test`: no ground
    truth published, issue 16); training or scoring on them would be meaningless.
    """
    unlabelled = set(getattr(builder, "UNLABELLED_SPLITS", ())) & {
        base_split(part) for part in split.split("+")
    }
    if unlabelled:
        raise ValueError(
            f"Split {', '.join(sorted(unlabelled))} of dataset {dataset!r} has no "
            "labels (-1: its ground truth is not published); it cannot be trained or "
            f"evaluated on. Received: split={split!r}"
        )


def raw_examples(split, *, dataset, data_dir, label, source, num_classes=None):
    """The split's example dicts and the number of classes of `label`.

    With `source`, the number of classes is `LABELS`' for the fixed labels, else
    ``num_classes`` (None if not given); from TFDS it is the ClassLabel's, which must
    equal ``num_classes`` when that is given.
    """
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
        check_labelled(builder, split, dataset=dataset)
        raw = builder.as_dataset(split=split, decoders=decoders, shuffle_files=False)
        found = int(features[label].num_classes)
        if num_classes is not None and num_classes != found:
            raise ValueError(
                f"Dataset {dataset!r} has {found} classes of {label!r}, not "
                f"`num_classes`. Received: num_classes={num_classes}"
            )
        return raw, found
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
    return source, LABELS.get(label, num_classes)


def example_loader(raw, inputs):
    """The deterministic part for `raw`'s examples, as `inputs` say
    (`skinkeras.data.settings.InputSettings`)."""
    has_mask = "mask" in raw.element_spec
    if "mask" in ops.spec(inputs.preprocessing).needs and not has_mask:
        if inputs.masks_dir is None:
            raise ValueError(
                f"`preprocessing={inputs.preprocessing!r}` needs a `mask` feature or "
                "`masks_dir` (PNG masks written by `python -m "
                "experiments.make_masks`). "
                f"Received: masks_dir={inputs.masks_dir!r}"
            )
        if "image_id" not in raw.element_spec:
            raise ValueError(
                "`masks_dir` masks are found by `image_id`, which the examples lack. "
                f"Received: features={sorted(raw.element_spec)}"
            )
    metadata = None
    if inputs.metadata is not None:
        features = None
        if inputs.source is None:
            builder = prepared_builder(inputs.dataset, data_dir=inputs.data_dir)
            features = builder.info.features
        elif not {"age", "sex", "site"} <= set(raw.element_spec):
            raise ValueError(
                "With `metadata`, a `source` must yield 'age', 'sex' and 'site' (the "
                "model's metadata inputs). "
                f"Received: features={sorted(raw.element_spec)}"
            )
        metadata = metadata_lib.inputs_fn(
            inputs.metadata, features=features, dataset=inputs.dataset
        )
    return _example_fn(
        metadata=metadata,
        image_size=inputs.image_size,
        preprocessing=inputs.preprocessing,
        label=inputs.label,
        masks_dir=None if inputs.masks_dir is None else str(inputs.masks_dir),
        split=inputs.split,
        mask_mode=inputs.mask_mode,
        has_mask=has_mask,
    )
