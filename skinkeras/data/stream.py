"""`make_training_stream`: a split held in memory, served as seeded training epochs.

fastai v1's training loader (docs/training.md, "The study's protocol"): each epoch
draws a random permutation of the split, or with ``oversample`` fastai's
`OverSamplingCallback` draw, then batches are augmented as `get_transforms`. Epoch
*e* of stage *s* is a pure function of ``(seed, s, e)`` (`skinkeras.data.pipeline`'s
module docstring), so resuming at any epoch is exact.
"""

import dataclasses

import tensorflow as tf

# The rule is TrainConfig's (one check per rule); its module is plain Python.
from skinkeras.config import check_augmentation
from skinkeras.data import sampling
from skinkeras.data.augment import augment as augment_images
from skinkeras.data.loading import (
    AUTOTUNE,
    check_args,
    example_loader,
    finish,
    raw_examples,
    to_float,
)

__all__ = ["Augmentation", "TrainingStream", "make_training_stream"]


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
        return ds.map(to_float, num_parallel_calls=AUTOTUNE)
    return ds.enumerate().map(
        lambda b, batch: (
            augmentation(batch[0], tf.random.experimental.stateless_fold_in(key, b)),
            batch[1],
        ),
        num_parallel_calls=AUTOTUNE,
    )


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
        return finish(ds)


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
    num_classes=None,
):
    """A `TrainingStream` of one split: seeded epochs as fastai v1's training loader.

    The arguments are `make_dataset`'s. Reads the split's labels once (to size the
    epochs) and decodes + preprocesses every image once, on the first epoch.
    """
    check_args(split, preprocessing, image_size, batch_size, label, mask_mode, seed)
    check_augmentation(augment=augment, lighting=lighting, flip=flip, warp=warp)
    raw, num_classes = raw_examples(
        split,
        dataset=dataset,
        data_dir=data_dir,
        label=label,
        source=source,
        num_classes=num_classes,
    )
    if num_classes is None:
        raise ValueError(
            f"Training streams need the number of classes of label {label!r}: give "
            f"`num_classes` with a `source`. Received: label={label!r}"
        )
    labels = sampling.labels_of(raw, label_key_or_fn=label)
    if labels.size == 0:
        raise ValueError(f"Split {split!r} has no examples. Received: split={split!r}")
    counts = sampling.counts_of(labels, num_classes=num_classes)
    load = example_loader(
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
