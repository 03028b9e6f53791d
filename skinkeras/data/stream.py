"""`make_training_stream`: a split held in memory, served as seeded training epochs.

fastai v1's training loader (docs/training.md, "The study's protocol"): each epoch
draws a random permutation of the split, or with ``oversample`` fastai's
`OverSamplingCallback` draw, then batches are augmented as `get_transforms`. Epoch
*e* of stage *s* is a pure function of ``(seed, s, e)`` (`skinkeras.data.pipeline`'s
module docstring), so resuming at any epoch is exact.
"""

import copy

import tensorflow as tf

from skinkeras.data import sampling
from skinkeras.data.augment import Transforms
from skinkeras.data.loading import (
    AUTOTUNE,
    example_loader,
    finish,
    to_float,
)
from skinkeras.data.settings import InputSettings

__all__ = ["TrainingStream", "make_training_stream"]


def _augmented(ds, key, transforms):
    """uint8 batches → float32; batch ``b`` augmented with `fold_in(key, b)`."""
    if transforms is None:
        return ds.map(to_float, num_parallel_calls=AUTOTUNE)

    def augment(b, batch):
        inputs, labels = batch
        images = inputs["image"] if isinstance(inputs, dict) else inputs
        images = transforms(
            images, tf.random.experimental.stateless_fold_in(key, b), dtype="float32"
        )
        # A metadata run's dict (issue 26): only its image is augmented.
        return (
            {**inputs, "image": images} if isinstance(inputs, dict) else images
        ), labels

    return ds.enumerate().map(augment, num_parallel_calls=AUTOTUNE)


class TrainingStream:
    """A split held in memory and served as seeded training epochs (fastai v1's loader).

    ``epochs(stage=s, start=a, stop=b)`` yields the batches of epochs ``a .. b-1`` of
    stage ``s``, each epoch exactly `steps_per_epoch` batches (drop_remainder) or the
    epoch's examples in batches; epoch ``e`` is a pure function of ``(seed, s, e)``
    (module docstring). Reads the split's labels once (to size the epochs) and
    decodes + preprocesses every image once, on the first epoch.

    Args:
        inputs: `InputSettings`: the split, how its examples load and are batched.
        shuffle: a random permutation each epoch (else the split's order).
        drop_remainder: each epoch exactly `steps_per_epoch` full batches.

    Attributes:
        num_examples: examples in the split.
        counts: examples per class.
        epoch_size: examples one epoch draws (`sampling.epoch_size`).
        steps_per_epoch: batches per epoch.
    """

    def __init__(self, inputs, *, shuffle, drop_remainder):
        raw, num_classes = inputs.raw_examples()
        if num_classes is None:
            raise ValueError(
                f"Training streams need the number of classes of label "
                f"{inputs.label!r}: give `num_classes` with a `source`. "
                f"Received: label={inputs.label!r}"
            )
        labels = sampling.labels_of(raw, label_key_or_fn=inputs.label)
        if labels.size == 0:
            raise ValueError(
                f"Split {inputs.split!r} has no examples. Received: split={inputs.split!r}"
            )
        load = example_loader(raw, inputs)
        # The whole split as one cached element, gathered from by index every epoch:
        # (uint8 (n, S, S, 3), int32 (n,)); with metadata the images are a dict.
        self._examples = (
            raw.map(load, num_parallel_calls=AUTOTUNE).batch(labels.size).cache()
        )
        self.counts = sampling.counts_of(labels, num_classes=num_classes)
        self.num_examples = int(self.counts.sum())
        self.batch_size = batch_size = inputs.batch_size
        self.seed = inputs.seed
        self.oversample = inputs.oversample
        self.shuffle = shuffle
        self.transforms = (
            Transforms(lighting=inputs.lighting, flip=inputs.flip, warp=inputs.warp)
            if inputs.augment
            else None
        )
        self.drop_remainder = drop_remainder
        self.epoch_size = sampling.epoch_size(self.counts, oversample=self.oversample)
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
                lambda index: (
                    tf.nest.map_structure(lambda x: tf.gather(x, index), images),
                    tf.gather(labels, index),
                ),
                num_parallel_calls=AUTOTUNE,
            )

        ds = self._examples.flat_map(batches)
        return _augmented(ds, augment_key, self.transforms)

    def with_seed(self, seed):
        """This stream under another seed: the same examples, decoded once and held
        in memory, served as the epochs of ``seed`` (issue 25: a process that trains
        several seeds loads the split once)."""
        stream = copy.copy(self)
        stream.seed = int(seed)
        return stream

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


def make_training_stream(split, *, shuffle=True, drop_remainder=True, **settings):
    """A `TrainingStream` of one split: seeded epochs as fastai v1's training loader.

    Args:
        split: the split (`InputSettings.split`).
        shuffle: a random permutation each epoch (else the split's order).
        drop_remainder: each epoch exactly `steps_per_epoch` full batches.
        **settings: the other fields of `skinkeras.data.settings.InputSettings`,
            as `make_dataset` takes them.
    """
    return TrainingStream(
        InputSettings(split, **settings), shuffle=shuffle, drop_remainder=drop_remainder
    )
