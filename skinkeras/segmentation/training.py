"""Training of the U-Net lesion segmenter with the study's protocol.

SPEC, Lesion segmentation: batch 8; stage 1 trains the decoder for 2 epochs (encoder
frozen, its BatchNorm layers still training as in fastai), stage 2 the whole network
for 10 epochs; each stage a one-cycle schedule with max lr 3e-4 for the decoder and
a tenth of it (3e-5) for the encoder (`LayerGroupAdamW`), AdamW as fastai v1
(weight decay 0.01, beta_2 0.99, eps 1e-8: fastai v1), Adam's beta_1 cycled 0.95 → 0.85 → 0.95.
The study reached a validation Dice of 0.89.

Writes into ``config.model_dir``: ``config.json``, ``summary.json`` (validation Dice
and IoU per epoch, the best and final ones), ``model.keras`` (uncompiled: loads
with `keras.models.load_model` after ``import skinkeras.models``) and ``logs/``
(TensorBoard: loss, Dice, IoU, learning rate; images of predicted masks beside the
ground truth under ``masks/validation``). A finished run (summary.json present) is
returned as is.

The optimizer factory (`skinkeras.training.optimizers`), one-cycle momentum, the
event writers (`skinkeras.training.tensorboard`) and the model saving
(`skinkeras.training.checkpoints.save_model`) are the classifiers'.
"""

import pathlib

import keras
import numpy as np
import tensorflow as tf

# Names imported from the module itself: `skinkeras.models.unet` may also be the
# builder function once the models package re-exports it.
from skinkeras import rundir
from skinkeras.models.unet import (
    DECODER_PREFIX,
    set_encoder_trainable,
    unet,
)
from skinkeras.segmentation import data as seg_data
from skinkeras.segmentation import metrics
from skinkeras.segmentation.config import SegmentConfig  # noqa: F401 (re-export)
from skinkeras.segmentation.optimizers import LayerGroupAdamW
from skinkeras.training import callbacks as train_callbacks
from skinkeras.training import checkpoints, optimizers, tensorboard

LOSSES = {
    "bce": lambda: keras.losses.BinaryCrossentropy(name="bce"),
    "dice": metrics.DiceLoss,
    "bce_dice": metrics.BCEDiceLoss,
}
SUMMARY = rundir.SUMMARY
MODEL = rundir.MODEL


def make_optimizer(config, *, total_steps):
    """`LayerGroupAdamW`: one-cycle at ``lr`` for the decoder, scaled for the encoder."""
    return optimizers.make_optimizer(
        config,
        max_lr=config.lr,
        total_steps=total_steps,
        optimizer_class=LayerGroupAdamW,
        # Longest prefix wins: decoder_* layers 1.0, everything else (the encoder).
        lr_multipliers={"": config.encoder_lr_factor, DECODER_PREFIX: 1.0},
    )


def mask_panels(images, masks, predictions):
    """Image | ground truth | prediction side by side, (B, S, 3S, 3) in 0..1."""
    gray = lambda m: tf.repeat(tf.cast(m, tf.float32), 3, axis=-1)  # noqa: E731
    return tf.concat(
        [tf.cast(images, tf.float32) / 255.0, gray(masks), gray(predictions)], axis=2
    )


class SegmentationLogger(keras.callbacks.Callback):
    """Per epoch: TensorBoard scalars and mask images, and the run's history.

    Scalars ``train/loss``, ``validation/{loss,dice,iou}``,
    ``optimizer/learning_rate``; images ``masks/validation`` (image | ground truth |
    predicted mask, thresholded) for a fixed validation batch. Steps are epochs
    counted over both stages.
    """

    def __init__(self, log_dir, history, *, images, masks, threshold=0.5):
        super().__init__()
        self.log_dir = str(log_dir)
        self.history = history
        self.images = images
        self.masks = masks
        self.threshold = threshold

    def on_train_begin(self, logs=None):
        self.writer = tf.summary.create_file_writer(self.log_dir)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        step = len(self.history) + 1
        record = {"epoch": step, **{k: float(v) for k, v in logs.items()}}
        record["lr"] = train_callbacks.current_learning_rate(self.model.optimizer)
        self.history.append(record)
        probabilities = self.model(self.images, training=False)
        predicted = tf.cast(probabilities > self.threshold, tf.float32)
        with self.writer.as_default():
            for key, name in (
                ("loss", "train/loss"),
                ("val_loss", "validation/loss"),
                ("val_dice", "validation/dice"),
                ("val_iou", "validation/iou"),
                ("lr", "optimizer/learning_rate"),
            ):
                if key in record:
                    tensorboard.write_scalar(name, record[key], step=step)
            tensorboard.write_images(
                "masks/validation",
                mask_panels(self.images, self.masks, predicted),
                step=step,
                max_outputs=len(self.images),
            )
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.writer.close()


def _count(dataset):
    cardinality = int(dataset.cardinality())
    if cardinality >= 0:
        return cardinality
    return int(dataset.reduce(0, lambda count, _: count + 1))


def train_segmenter(config, *, sources=None, callbacks=(), verbose=1, max_images=4):
    """Trains the U-Net of ``config`` in ``config.model_dir``; returns the summary.

    Args:
        config: a `SegmentConfig`.
        sources: optional ``{"train": ds, "validation": ds}`` of example dicts with
            ``image`` and ``mask`` used instead of TFDS (tests, custom data).
        callbacks: extra Keras callbacks for both stages.
        max_images: validation images shown in TensorBoard.
    """
    model_dir = pathlib.Path(config.model_dir)
    if (model_dir / SUMMARY).exists():
        return rundir.read_json(model_dir / SUMMARY)
    sources = sources or {}
    common = dict(
        dataset=config.dataset,
        data_dir=config.data_dir,
        image_size=config.image_size,
        batch_size=config.batch_size,
        seed=config.seed,
    )
    train_source = sources.get("train")
    if train_source is None:
        train_source = seg_data.load_split(
            config.dataset, config.train_split, data_dir=config.data_dir
        )
    num_train = _count(train_source)
    train = seg_data.make_segmentation_dataset(
        config.train_split,
        training=True,
        augment=config.augment,
        source=train_source,
        **common,
    )
    validation = seg_data.make_segmentation_dataset(
        config.validation_split, source=sources.get("validation"), **common
    )
    steps_per_epoch = max(1, num_train // config.batch_size)
    sample_images, sample_masks = next(iter(validation.unbatch().batch(max_images)))

    model_dir.mkdir(parents=True, exist_ok=True)
    rundir.atomic_write_text(model_dir / rundir.CONFIG, config.to_json())
    keras.utils.set_random_seed(config.seed)
    model = unet(
        input_shape=(config.image_size, config.image_size, 3),
        encoder=config.encoder,
        weights=None if config.weights == "none" else config.weights,
    )
    history = []
    logger = SegmentationLogger(
        model_dir / rundir.LOGS,
        history,
        images=sample_images,
        masks=sample_masks,
        threshold=config.threshold,
    )
    done = 0
    for stage, epochs in ((1, config.head_epochs), (2, config.epochs)):
        if epochs == 0:
            continue
        # Stage 1: decoder only (encoder BatchNorm still trains with train_bn).
        set_encoder_trainable(model, stage == 2, train_bn=config.train_bn)
        total_steps = epochs * steps_per_epoch
        model.compile(
            optimizer=make_optimizer(config, total_steps=total_steps),
            loss=LOSSES[config.loss](),
            metrics=[
                metrics.Dice(threshold=config.threshold),
                metrics.IoU(threshold=config.threshold),
            ],
        )
        model.fit(
            train,
            epochs=done + epochs,
            initial_epoch=done,
            steps_per_epoch=steps_per_epoch,
            validation_data=validation,
            shuffle=False,  # the dataset shuffles itself
            callbacks=[
                train_callbacks.OneCycleMomentum(total_steps),
                logger,
                *callbacks,
            ],
            verbose=verbose,
        )
        done += epochs

    dice = np.array([record.get("val_dice", np.nan) for record in history])
    best = int(np.nanargmax(dice)) if history and not np.all(np.isnan(dice)) else None
    summary = {
        "val_dice": float(dice[-1]) if history else float("nan"),
        "val_iou": float(history[-1].get("val_iou", np.nan))
        if history
        else float("nan"),
        "max_val_dice": float(dice[best]) if best is not None else float("nan"),
        "best_epoch": history[best]["epoch"] if best is not None else None,
        "epochs": len(history),
        "history": history,
    }
    checkpoints.save_model(model, model_dir / MODEL)
    rundir.atomic_write_json(model_dir / SUMMARY, summary)
    return summary
