"""Image/mask pairs for the lesion segmenter (ISIC 2018 Task 1, synthetic_lesions).

The segmenter sees the **whole** image squashed to a square (aspect ratio not kept),
in training, validation and when it writes the masks of experiment 1
(`skinkeras.segmentation.masks`): a mask must cover the whole image, since the
classification pipeline resizes and centre-crops image and mask together, and the
same geometry in training and prediction keeps the segmenter's inputs alike.
(The classifiers instead keep the aspect ratio and crop — SPEC, Datasets.)

Order: load → resize (image bilinear, mask bilinear then ≥ 0.5) → cache (uint8) →
shuffle → repeat (train) → random symmetry of the square (train) → batch → prefetch.
Images are float32 RGB 0..255 (the U-Net normalises inside), masks float32 0/1.
"""

import tensorflow as tf

from skinkeras.data.loading import prepared_builder

AUTOTUNE = tf.data.AUTOTUNE


def load_split(dataset, split, *, data_dir=None):
    """The TFDS split as a dataset of example dicts (``image``, ``mask``, ...)."""
    return prepared_builder(dataset, data_dir=data_dir).as_dataset(split=split)


def split_size(dataset, split, *, data_dir=None):
    """Number of examples of ``split`` (slices like "train[:10%]" allowed)."""
    builder = prepared_builder(dataset, data_dir=data_dir)
    return int(builder.info.splits[split].num_examples)


def count_examples(examples):
    """Number of elements of the dataset ``examples`` (a pass over it if unknown)."""
    cardinality = int(examples.cardinality())
    if cardinality >= 0:
        return cardinality
    return int(examples.reduce(0, lambda count, _: count + 1))


def resize_image(image, size):
    """Any (H, W, 3) image → float32 (size, size, 3), squashed, bilinear."""
    image = tf.image.resize(
        tf.cast(image, tf.float32), (size, size), method="bilinear", antialias=True
    )
    return tf.clip_by_value(image, 0.0, 255.0)


def resize_mask(mask, size):
    """Any 0/1 or 0/255 (H, W, 1) mask → float32 (size, size, 1) of 0/1."""
    mask = tf.cast(mask, tf.float32)
    mask = tf.where(tf.reduce_max(mask) > 1.0, mask / 255.0, mask)
    mask = tf.image.resize(mask, (size, size), method="bilinear", antialias=True)
    return tf.cast(mask >= 0.5, tf.float32)


def random_symmetry(image, mask, seed):
    """One of the 8 symmetries of the square, the same for image and mask."""
    both = tf.concat([image, mask], axis=-1)
    seeds = tf.random.experimental.stateless_split(seed, 3)
    both = tf.image.stateless_random_flip_left_right(both, seeds[0])
    both = tf.image.stateless_random_flip_up_down(both, seeds[1])
    transpose = tf.random.stateless_uniform([], seeds[2]) < 0.5
    both = tf.cond(transpose, lambda: tf.transpose(both, [1, 0, 2]), lambda: both)
    return both[..., :3], both[..., 3:]


def make_segmentation_dataset(
    split,
    *,
    dataset="isic2018_task1",
    data_dir=None,
    image_size=224,
    batch_size=8,
    training=False,
    augment=None,
    seed=0,
    source=None,
):
    """Batched ``(images (B, S, S, 3) 0..255, masks (B, S, S, 1) 0/1)``, float32.

    Args:
        split: TFDS split name ("train", "validation", "train[:90%]", ...).
        training: shuffle, repeat forever, drop the last partial batch.
        augment: random symmetries of the square (default: ``training``).
        source: optional dataset of dicts with ``image`` and ``mask`` used instead
            of TFDS (tests).
    """
    if (
        isinstance(image_size, bool)
        or not isinstance(image_size, int)
        or image_size < 32
    ):
        raise ValueError(
            f"`image_size` must be an int >= 32. Received: image_size={image_size!r}"
        )
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or batch_size < 1
    ):
        raise ValueError(
            f"`batch_size` must be a positive int. Received: batch_size={batch_size!r}"
        )
    examples = (
        source if source is not None else load_split(dataset, split, data_dir=data_dir)
    )

    def load(example):
        image = resize_image(example["image"], image_size)
        mask = resize_mask(example["mask"], image_size)
        return tf.cast(tf.round(image), tf.uint8), tf.cast(mask, tf.uint8)

    ds = examples.map(load, num_parallel_calls=AUTOTUNE).cache()
    augment = training if augment is None else augment
    if training:
        ds = ds.shuffle(2048, seed=seed, reshuffle_each_iteration=True).repeat()
    if augment:
        # Seeds from the position in the endless stream: a new symmetry each pass.
        ds = ds.enumerate().map(
            lambda index, pair: random_symmetry(
                tf.cast(pair[0], tf.float32),
                tf.cast(pair[1], tf.float32),
                tf.stack([tf.constant(seed, tf.int64), index]),
            ),
            num_parallel_calls=AUTOTUNE,
        )
    else:
        ds = ds.map(lambda i, m: (tf.cast(i, tf.float32), tf.cast(m, tf.float32)))
    return ds.batch(batch_size, drop_remainder=training).prefetch(AUTOTUNE)
