"""Training of the U-Net lesion segmenter with the study's protocol.

SPEC, Lesion segmentation: batch 8; stage 1 trains the decoder for 2 epochs (encoder
frozen, its BatchNorm layers still training as in fastai), stage 2 the whole network
for 10 epochs; each stage a one-cycle schedule with max lr 3e-4 for the decoder and
a tenth of it (3e-5) for the encoder (`LayerGroupAdamW`), AdamW as fastai v1
(weight decay 0.01, beta_2 0.99, eps 1e-8: fastai v1), Adam's beta_1 cycled 0.95 → 0.85 → 0.95.
The study reached a validation Dice of 0.89.

Trains through the classifiers' runner (`skinkeras.training.runner`, issue 13: one
training stack): the same stages, one-cycle momentum, NaN guard, per-epoch record,
TensorBoard summaries and crash-consistent checkpoints. What is the segmenter's own
comes in as arguments: the U-Net, its optimizer (`LayerGroupAdamW` through
`skinkeras.training.optimizers.make_optimizer`), loss and metrics, its data, the
epoch record (`SegmentationRecorder`) and the mask summaries (`MaskSummaries`).

Writes into ``config.model_dir``: ``config.json``, ``checkpoints/`` (the last two
finished epochs, as the classifiers'), ``summary.json`` (validation Dice and IoU
per epoch, the best and final ones), ``model.keras`` (uncompiled: loads with
`keras.models.load_model` after ``import skinkeras.models``;
`skinkeras.rundir.save_model`) and ``logs/`` (TensorBoard: loss,
Dice, IoU, learning rate; images of predicted masks beside the ground truth under
``masks/validation``). A killed run resumes after its last finished epoch; a
finished run (summary.json present) is returned as is.
"""

import json
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
from skinkeras.training import optimizers, runner, tensorboard

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


class SegmentationRecorder:
    """The epoch's record: training logs, learning rate, beta_1, validation metrics.

    The ``val_*`` values (``val_loss``, ``val_dice``, ``val_iou``: the compiled loss
    and metrics over the whole validation split) are added to the epoch's Keras logs
    too, for the callbacks after the runner's. Used by `callbacks.EpochEnd`.
    """

    def __init__(self, state, validation_data, *, steps_per_epoch):
        self.state = state
        self.validation_data = validation_data
        self.steps_per_epoch = int(steps_per_epoch)

    def record(self, model, epoch, logs):
        validation = model.evaluate(self.validation_data, verbose=0, return_dict=True)
        optimizer = train_callbacks.base_optimizer(model.optimizer)
        record = {
            "epoch": self.state.epoch + 1,
            "stage": self.state.stage,
            "stage_epoch": epoch + 1,
            "steps": self.steps_per_epoch,
            **{key: float(value) for key, value in logs.items()},
            "lr": train_callbacks.current_learning_rate(model.optimizer),
            "beta_1": float(tf.convert_to_tensor(optimizer.beta_1)),
            "alphas": {},  # no ARL layers
        }
        for name, value in validation.items():
            record[f"val_{name}"] = logs[f"val_{name}"] = float(value)
        return record


class MaskSummaries:
    """The segmenter's event files, one epoch's record at a time.

    Scalars ``train/loss``, ``validation/{loss,dice,iou}``,
    ``optimizer/learning_rate``; images ``masks/validation`` (image | ground truth |
    predicted mask, thresholded) for a fixed validation batch. Steps are epochs
    counted over both stages. `open` and `close` bracket one ``fit``.
    """

    def __init__(self, log_dir, model, *, images, masks, threshold=0.5):
        self.log_dir = str(log_dir)
        self.model = model
        self.images = images
        self.masks = masks
        self.threshold = threshold
        self.writer = None

    def open(self):
        self.writer = tf.summary.create_file_writer(self.log_dir)

    def write(self, record):
        step = record["epoch"]
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

    def close(self):
        if self.writer is not None:
            self.writer.close()


def _check_model_dir(config, model_dir):
    """Refuses to resume checkpoints of another configuration (paths aside)."""
    path = model_dir / rundir.CONFIG
    if not (path.exists() and (model_dir / rundir.CHECKPOINTS / "state.json").exists()):
        return
    saved, ours = rundir.read_json(path), json.loads(config.to_json())
    differing = sorted(
        key
        for key in ours
        if key not in ("data_dir", "model_dir") and saved.get(key) != ours[key]
    )
    if differing:
        details = ", ".join(f"{key}={saved.get(key)!r}" for key in differing)
        raise ValueError(
            f"{model_dir} holds checkpoints of a different configuration ({details}); "
            f"use another --model_dir. Received: model_dir={str(model_dir)!r}"
        )


def _nan_error(state, checkpoint_dir):
    nan = state.nan
    return FloatingPointError(
        f"Training loss became NaN at stage {nan['stage']}, epoch "
        f"{nan['stage_epoch']}, batch {nan['batch']}. The last good checkpoint "
        f"({state.epoch} epochs) is kept in {checkpoint_dir}: run the same command to "
        "resume, or train with a lower --lr in another --model_dir."
    )


def train_segmenter(config, *, sources=None, callbacks=(), verbose=1, max_images=4):
    """Trains the U-Net of ``config`` in ``config.model_dir``; returns the summary.

    Resumable: every finished epoch is checkpointed (weights, optimizer state,
    stage/epoch counters, history) and running again continues from the last one.

    Args:
        config: a `SegmentConfig`.
        sources: optional ``{"train": ds, "validation": ds}`` of example dicts with
            ``image`` and ``mask`` used instead of TFDS (tests, custom data).
        callbacks: extra Keras callbacks for both stages.
        max_images: validation images shown in TensorBoard.

    Raises:
        ValueError: ``model_dir`` holds checkpoints of another configuration.
        FloatingPointError: the loss became NaN (the last good checkpoint is kept).
    """
    model_dir = pathlib.Path(config.model_dir)
    if (model_dir / SUMMARY).exists():
        return rundir.read_json(model_dir / SUMMARY)
    _check_model_dir(config, model_dir)
    # Before the data is built too: the training stream's shuffle order derives
    # from the global seed, which must not depend on what ran before in this
    # process (a resumed run must draw the batches an uninterrupted one drew).
    keras.utils.set_random_seed(config.seed)
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
    num_train = seg_data.count_examples(train_source)
    validation = seg_data.make_segmentation_dataset(
        config.validation_split, source=sources.get("validation"), **common
    )
    steps_per_epoch = max(1, num_train // config.batch_size)
    sample_images, sample_masks = next(iter(validation.unbatch().batch(max_images)))

    model_dir.mkdir(parents=True, exist_ok=True)
    rundir.atomic_write_text(model_dir / rundir.CONFIG, config.to_json())
    checkpoint_dir = model_dir / rundir.CHECKPOINTS
    keras.utils.set_random_seed(config.seed)
    model = unet(
        input_shape=(config.image_size, config.image_size, 3),
        encoder=config.encoder,
        weights=None if config.weights == "none" else config.weights,
    )
    stages = (
        runner.Stage(1, config.head_epochs, config.lr),
        runner.Stage(2, config.epochs, config.lr),
    )

    def compile_stage(stage):
        # Stage 1: decoder only (encoder BatchNorm still trains with train_bn).
        set_encoder_trainable(model, stage == 2, train_bn=config.train_bn)
        epochs = stages[stage - 1].epochs
        model.compile(
            optimizer=make_optimizer(config, total_steps=epochs * steps_per_epoch),
            loss=metrics.LOSSES[config.loss](),
            metrics=[
                metrics.Dice(threshold=config.threshold),
                metrics.IoU(threshold=config.threshold),
            ],
        )

    def train_epochs(stage, start, stop):
        # A new stream per stage, its shuffle and symmetries seeded by (seed, stage):
        # a reshuffling dataset draws new seeds for every iterator made from it, so
        # reusing one across stages would make a stage's order depend on how many
        # stages this process ran. A stage resumed at epoch `start` skips the
        # batches its first epochs drew. (Each stage decodes the split again.)
        del stop
        stage_seed = np.random.SeedSequence([config.seed, stage]).generate_state(1)
        train = seg_data.make_segmentation_dataset(
            config.train_split,
            training=True,
            augment=config.augment,
            source=train_source,
            **{**common, "seed": int(stage_seed[0])},
        )
        return train.skip(start * steps_per_epoch)

    def epoch_end(state, stage):
        recorder = SegmentationRecorder(
            state, validation, steps_per_epoch=steps_per_epoch
        )
        summaries = MaskSummaries(
            model_dir / rundir.LOGS,
            model,
            images=sample_images,
            masks=sample_masks,
            threshold=config.threshold,
        )
        return recorder, summaries

    state = runner.restore(model, checkpoint_dir, compile_stage)
    runner.run_stages(
        model,
        state,
        stages=stages,
        compile_stage=compile_stage,
        train_epochs=train_epochs,
        steps_per_epoch=steps_per_epoch,
        seed=config.seed,
        epoch_end=epoch_end,
        checkpoint_dir=checkpoint_dir,
        nan_error=lambda state: _nan_error(state, checkpoint_dir),
        callbacks=callbacks,
        verbose=verbose,
    )

    history = state.history
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
    rundir.save_model(model, model_dir / MODEL)
    rundir.atomic_write_json(model_dir / SUMMARY, summary)
    return summary
