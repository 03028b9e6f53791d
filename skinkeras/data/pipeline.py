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

from skinkeras.data.loading import (
    AUTOTUNE,
    LABELS,
    DatasetNotPreparedError,
    base_split,
    dataset_info,
    example_loader,
    finish,
    metadata_encoding,
    prepared_builder,
    round_pixels,
    to_float,
)
from skinkeras.data.settings import InputSettings
from skinkeras.data.stream import TrainingStream, make_training_stream

__all__ = [
    "LABELS",
    "DatasetNotPreparedError",
    "InputSettings",
    "TrainingStream",
    "dataset_info",
    "make_dataset",
    "make_training_stream",
    "metadata_encoding",
    "prepared_builder",
    "round_pixels",
]


def make_dataset(
    split,
    *,
    shuffle=None,
    drop_remainder=None,
    stage=0,
    epoch=0,
    repeat=False,
    **settings,
):
    """Batched `(image, label)` pairs for one split, in the module's documented order.

    A training dataset (``shuffle``, ``oversample`` or ``augment``) is epoch
    ``epoch`` of ``stage`` (and the following ones with ``repeat``), a pure function
    of ``(seed, stage, epoch)``: iterating it twice gives the same batches.

    Args:
        split: TFDS split ("train", "validation", "test", slices like "train[:10%]").
        shuffle: a random permutation each epoch; None = only for the "train" split.
        drop_remainder: drop a last partial batch; None = only when shuffling, so the
            training batch dimension is static and evaluation sees every example.
        stage: training stage (1 or 2 in `skinkeras.training`; any int >= 0).
        epoch: the (0-based) epoch of `stage` the dataset starts at.
        repeat: continue with the following epochs forever.
        **settings: what `make_training_stream` takes too, the fields of
            `skinkeras.data.settings.InputSettings` (each documented there):
            dataset="isic2017", data_dir=None, preprocessing="none",
            image_size=224, batch_size=16, augment=False, lighting=False,
            flip=False, warp=False, oversample=False, label="melanoma", seed=0,
            source=None, masks_dir=None, mask_mode="grayscale", num_classes=None,
            metadata=None.

    Returns:
        `tf.data.Dataset` of (float32 (B, S, S, 3) in 0..255, int32 (B,)); with
        ``metadata``, of ({"image": those images, "age": float32 (B,), "sex": int32
        (B,), "site": int32 (B,)}, labels).
    """
    inputs = InputSettings(split, **settings)
    shuffle = (base_split(split) == "train") if shuffle is None else bool(shuffle)
    drop_remainder = shuffle if drop_remainder is None else bool(drop_remainder)
    if shuffle or inputs.oversample or inputs.augment:
        stream = TrainingStream(inputs, shuffle=shuffle, drop_remainder=drop_remainder)
        return stream.epochs(
            stage=stage, start=epoch, stop=None if repeat else epoch + 1
        )

    raw, _ = inputs.raw_examples()
    ds = raw.map(example_loader(raw, inputs), num_parallel_calls=AUTOTUNE).cache()
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(inputs.batch_size, drop_remainder=drop_remainder)
    return finish(ds.map(to_float, num_parallel_calls=AUTOTUNE))
