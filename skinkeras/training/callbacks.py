"""Keras callbacks of the training loop.

One-cycle momentum, per-epoch random streams, NaN guard, per-epoch validation
metrics, TensorBoard summaries and the resume checkpoint. They share one `RunState`
so that every callback sees the same epoch record, in the order the loop lists them.
"""

import math
import os
import pathlib

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from skinkeras import metrics as metrics_lib
from skinkeras.training import results, schedules

CHECKPOINT_WEIGHTS = "ckpt.weights.h5"
CHECKPOINT_STATE = "state.json"


def base_optimizer(optimizer):
    """The optimizer that holds ``beta_1`` (unwraps Keras' LossScaleOptimizer)."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def current_learning_rate(optimizer):
    return float(keras.ops.convert_to_numpy(base_optimizer(optimizer).learning_rate))


class RunState:
    """What a run has done so far: stage/epoch counters, history and ARL alphas.

    ``history`` holds one dict per finished epoch (both stages, in order);
    ``alphas`` maps each ARL layer name to its alpha after every finished epoch.
    """

    def __init__(self, *, stage=0, stage_epoch=0, history=None, alphas=None):
        self.stage = stage
        self.stage_epoch = stage_epoch
        self.history = list(history or [])
        self.alphas = dict(alphas or {})
        self.record = None  # the record of the epoch being finished
        self.nan = None  # where the loss became NaN, if it did

    @property
    def epoch(self):
        """Number of finished epochs over both stages."""
        return len(self.history)

    def to_dict(self):
        return {
            "stage": self.stage,
            "stage_epoch": self.stage_epoch,
            "epoch": self.epoch,
            "history": self.history,
            "alphas": self.alphas,
        }

    @classmethod
    def from_dict(cls, data):
        return cls(
            stage=data["stage"],
            stage_epoch=data["stage_epoch"],
            history=data["history"],
            alphas=data["alphas"],
        )


class OneCycleMomentum(keras.callbacks.Callback):
    """Cycles Adam's ``beta_1`` 0.95 -> 0.85 -> 0.95 over ``total_steps`` (SPEC).

    Keras' Adam reads ``beta_1`` inside the compiled train step, where a Python float
    would be frozen at trace time; the loop therefore gives the optimizer a
    ``tf.Variable`` ``beta_1`` (see `attach_beta_1`) that this callback assigns
    before every batch. The step count continues from ``optimizer.iterations``, so a
    resumed stage picks up the cycle where it stopped.
    """

    def __init__(self, total_steps):
        super().__init__()
        self.total_steps = int(total_steps)
        self._step = 0

    def on_train_begin(self, logs=None):
        optimizer = base_optimizer(self.model.optimizer)
        attach_beta_1(optimizer)
        self._variable = optimizer.beta_1
        self._step = int(keras.ops.convert_to_numpy(optimizer.iterations))
        self._assign()

    def _assign(self):
        self._variable.assign(
            schedules.one_cycle_momentum(self._step, self.total_steps)
        )

    def on_train_batch_begin(self, batch, logs=None):
        self._assign()

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1


def attach_beta_1(optimizer, value=schedules.BETA_1_MAX):
    """Replaces a float ``beta_1`` with a non-trainable ``tf.Variable`` (idempotent).

    A plain ``tf.Variable`` (not a Keras Variable) so that the optimizer does not
    count it among its own variables: checkpoints keep the stock layout.
    """
    if not isinstance(optimizer.beta_1, tf.Variable):
        optimizer.beta_1 = tf.Variable(
            float(value), trainable=False, dtype="float32", name="beta_1"
        )
    return optimizer.beta_1


# Tags the dropout streams apart from the data streams derived from the same seed.
DROPOUT_STREAM = 0xD209_0D7


def seed_generators(model):
    """Every `keras.random.SeedGenerator` of the model's layers (dropout), in order."""
    return [
        generator
        for layer in model._flatten_layers(include_self=False)
        for generator in getattr(layer, "_seed_generators", ())
    ]


def epoch_seed_state(seed, stage, epoch, index):
    """The state a seed generator starts epoch ``epoch`` of ``stage`` with."""
    sequence = np.random.SeedSequence([seed, DROPOUT_STREAM, stage, epoch, index])
    return [int(sequence.generate_state(1, dtype=np.uint32)[0]), 0]


class EpochSeeds(keras.callbacks.Callback):
    """Starts every epoch's dropout masks from ``(seed, stage, epoch)``.

    Keras' dropout draws from a per-layer `SeedGenerator` whose state advances with
    every batch and is not saved with the weights, so a resumed run would restart it.
    Setting each generator's state at the start of every epoch makes the masks of
    epoch *e* a pure function of (seed, stage, e), like the data (README,
    "Reproducibility").
    """

    def __init__(self, seed, stage):
        super().__init__()
        self.seed = int(seed)
        self.stage = int(stage)

    def on_epoch_begin(self, epoch, logs=None):
        for index, generator in enumerate(seed_generators(self.model)):
            state = epoch_seed_state(self.seed, self.stage, epoch, index)
            generator.state.assign(
                np.asarray(
                    state, dtype=keras.backend.standardize_dtype(generator.state.dtype)
                )
            )


class NanGuard(keras.callbacks.Callback):
    """Stops training at the first batch whose loss is NaN or infinite.

    Records where in ``state.nan``; the checkpoint callback then skips the epoch, so
    the last good checkpoint stays on disk and the loop raises a clear error.
    """

    def __init__(self, state):
        super().__init__()
        self.state = state
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.state.nan = {
                "stage": self.state.stage,
                "stage_epoch": self._epoch + 1,
                "batch": int(batch) + 1,
            }
            self.model.stop_training = True


class EpochRecorder(keras.callbacks.Callback):
    """Validation metrics, learning rate, beta_1 and ARL alphas of each epoch.

    Runs the model over the (unshuffled) validation dataset once per epoch and adds
    ``val_loss``, ``val_accuracy``, ``val_auroc``, ``val_sensitivity`` and
    ``val_specificity`` (see `skinkeras.metrics.validation_metrics`) to the epoch's logs and
    to ``state.record``, with ``steps``, the number of batches the epoch trained.
    """

    def __init__(self, state, validation_data, *, steps_per_epoch, arl_layers=()):
        super().__init__()
        self.state = state
        self.steps_per_epoch = int(steps_per_epoch)
        self.images = validation_data.map(lambda image, label: image)
        self.labels = np.concatenate(
            [np.asarray(label) for _, label in validation_data.as_numpy_iterator()]
        )
        self.arl_layers = list(arl_layers)

    def on_epoch_end(self, epoch, logs=None):
        if self.state.nan is not None:
            return
        logs = logs if logs is not None else {}
        logits = self.model.predict(self.images, verbose=0)
        validation = metrics_lib.validation_metrics(
            self.labels, np.asarray(logits, dtype=np.float32)
        )
        optimizer = base_optimizer(self.model.optimizer)
        record = {
            "epoch": self.state.epoch + 1,
            "stage": self.state.stage,
            "stage_epoch": epoch + 1,
            "steps": self.steps_per_epoch,
            "loss": float(logs.get("loss", float("nan"))),
            "accuracy": float(logs.get("accuracy", float("nan"))),
            "lr": current_learning_rate(self.model.optimizer),
            "beta_1": float(keras.ops.convert_to_numpy(optimizer.beta_1)),
        }
        for name, value in validation.items():
            record[f"val_{name}"] = value
            logs[f"val_{name}"] = value
        record["alphas"] = {
            layer.name: float(keras.ops.convert_to_numpy(layer.alpha))
            for layer in self.arl_layers
        }
        self.state.record = record


def _metadata(plugin_name, data_class):
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin_name),
        data_class=data_class,
    )


def write_scalar(name, value, *, step):
    """`tf.summary.scalar` without the `tensorboard` package.

    TensorFlow only ships the low-level `tf.summary.write`; the high-level ops come
    from TensorBoard. This writes the same record TensorBoard's scalar summary does
    (plugin "scalars", a float32 scalar tensor), so training does not depend on
    TensorBoard — only viewing the logs does.
    """
    return tf.summary.write(
        name,
        tf.cast(value, tf.float32),
        step=step,
        metadata=_metadata("scalars", summary_pb2.DATA_CLASS_SCALAR),
    )


def write_images(name, images, *, step, max_outputs=4):
    """`tf.summary.image` without the `tensorboard` package (plugin "images").

    ``images``: (B, H, W, 3) floats in 0..1. The tensor is TensorBoard's layout:
    ``[width, height, png_1, ..., png_k]`` as strings.
    """
    images = tf.image.convert_image_dtype(images[:max_outputs], tf.uint8, saturate=True)
    shape = tf.shape(images)
    dimensions = tf.stack([tf.as_string(shape[2]), tf.as_string(shape[1])])
    encoded = tf.map_fn(tf.image.encode_png, images, fn_output_signature=tf.string)
    return tf.summary.write(
        name,
        tf.concat([dimensions, encoded], axis=0),
        step=step,
        metadata=_metadata("images", summary_pb2.DATA_CLASS_BLOB_SEQUENCE),
    )


class SummaryWriter(keras.callbacks.Callback):
    """TensorBoard event files: scalars per epoch, ARL alphas, a few input images.

    Scalars (step = epoch over both stages): ``train/loss``, ``train/accuracy``,
    ``validation/{loss,accuracy,auroc,sensitivity,specificity}``,
    ``optimizer/learning_rate``, ``optimizer/beta_1``, ``arl_alpha/<layer name>``.
    Images: ``inputs/train`` at step 0, the run's first training batch (0..255 pixels
    shown as 0..1), written after the first epoch: ``images`` is a function that
    returns it, called then, when the data pipeline has cached the split.
    """

    def __init__(self, state, log_dir, *, images=None, max_images=4):
        super().__init__()
        self.state = state
        self.log_dir = str(log_dir)
        self.images = images
        self.max_images = max_images
        self.writer = None

    def on_train_begin(self, logs=None):
        self.writer = tf.summary.create_file_writer(self.log_dir)

    def _write_images(self):
        images = self.images()
        with self.writer.as_default():
            write_images(
                "inputs/train",
                tf.clip_by_value(tf.cast(images, tf.float32) / 255.0, 0, 1),
                step=0,
                max_outputs=self.max_images,
            )

    def on_epoch_end(self, epoch, logs=None):
        record = self.state.record
        if self.state.nan is not None or record is None:
            return
        step = record["epoch"]
        if self.images is not None and step == 1:
            self._write_images()
        scalars = {
            "train/loss": record["loss"],
            "train/accuracy": record["accuracy"],
            "optimizer/learning_rate": record["lr"],
            "optimizer/beta_1": record["beta_1"],
        }
        for name in ("loss", "accuracy", "auroc", "sensitivity", "specificity"):
            scalars[f"validation/{name}"] = record[f"val_{name}"]
        for name, alpha in record["alphas"].items():
            scalars[f"arl_alpha/{name}"] = alpha
        with self.writer.as_default():
            for name, value in scalars.items():
                write_scalar(name, value, step=step)
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()


class Checkpoint(keras.callbacks.Callback):
    """After every finished epoch: weights + optimizer state, then the run state.

    Model and optimizer variables (moments and ``iterations``, hence the position in
    the one-cycle schedules) go to ``ckpt.weights.h5``; stage/epoch counters,
    history and alphas to ``state.json``. Both are written to a temporary file
    first and renamed, weights before state, so the state on disk never points
    past the weights. An epoch whose loss became NaN is not saved.
    """

    def __init__(self, state, directory):
        super().__init__()
        self.state = state
        self.directory = pathlib.Path(directory)

    def on_epoch_end(self, epoch, logs=None):
        record = self.state.record
        if self.state.nan is not None or record is None:
            return
        self.state.record = None
        self.state.stage_epoch = epoch + 1
        self.state.history.append({k: v for k, v in record.items() if k != "alphas"})
        for name, alpha in record["alphas"].items():
            self.state.alphas.setdefault(name, []).append(alpha)
        save_checkpoint(self.model, self.state, self.directory)


def save_checkpoint(model, state, directory):
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # Keras picks the format from the suffix, so the temporary name keeps it.
    tmp = directory / f".tmp-{os.getpid()}-{CHECKPOINT_WEIGHTS}"
    model.save_weights(tmp)
    os.replace(tmp, directory / CHECKPOINT_WEIGHTS)
    results.atomic_write_json(directory / CHECKPOINT_STATE, state.to_dict())


def load_state(directory):
    """The saved `RunState`, or None when no epoch has finished yet."""
    directory = pathlib.Path(directory)
    state_path = directory / CHECKPOINT_STATE
    if not (state_path.exists() and (directory / CHECKPOINT_WEIGHTS).exists()):
        return None
    return RunState.from_dict(results.read_json(state_path))
