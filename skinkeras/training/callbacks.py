"""Keras callbacks of the training loop.

One-cycle momentum, per-epoch random streams, the NaN guard, and `EpochEnd`: the end
of each epoch as one stated sequence — validation record, TensorBoard summaries
(`skinkeras.training.tensorboard`), checkpoint (`skinkeras.training.checkpoints`).
The loop's callbacks are independent of their order in its list; the one order
that matters is written out in `EpochEnd`.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from skinkeras import metrics as metrics_lib
from skinkeras.training import distribute, schedules


def base_optimizer(optimizer):
    """The optimizer that holds ``beta_1`` (unwraps Keras' LossScaleOptimizer)."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def current_learning_rate(optimizer):
    return float(keras.ops.convert_to_numpy(base_optimizer(optimizer).learning_rate))


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

    Records where in ``state.nan``; `EpochEnd` then skips the epoch, so the last
    good checkpoint stays on disk and the loop raises a clear error.
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


class EpochRecorder:
    """Validation metrics, learning rate, beta_1 and ARL alphas of an epoch.

    Runs the model over the (unshuffled) validation dataset and returns the epoch's
    record: counters, ``steps`` (the number of batches the epoch trained), training
    ``loss`` and ``accuracy``, ``lr``, ``beta_1``, ``val_loss``, ``val_accuracy``,
    ``val_auroc``, ``val_sensitivity`` and ``val_specificity`` (see
    `skinkeras.metrics.validation_metrics`), and ``alphas``. The ``val_*`` values are added to
    the epoch's Keras logs too, for the callbacks after the loop's. With more than two
    classes the record also holds the multi-class metrics (issue 16) and
    ``val_confusion_matrix`` (record only: Keras' logs hold numbers).
    """

    def __init__(
        self,
        state,
        validation_data,
        *,
        steps_per_epoch,
        arl_layers=(),
        class_names=None,
    ):
        self.state = state
        self.class_names = class_names
        self.steps_per_epoch = int(steps_per_epoch)
        self.validation_data = validation_data
        self.arl_layers = list(arl_layers)
        self._labels = None
        self._paired = None

    def predictions(self, model):
        """The validation logits (float32) and their labels, one row per example.

        Several workers (issue 14): logits and labels of one distributed pass,
        gathered together (`distribute.PairedPredictions`). Otherwise Keras'
        ``predict`` in the dataset's order, with the labels read once from it.
        """
        strategy = model.distribute_strategy
        if distribute.multi_worker(strategy):
            if self._paired is None:
                self._paired = distribute.PairedPredictions(
                    strategy, self.validation_data
                )
            return self._paired(model)
        if self._labels is None:
            self._labels = np.concatenate(
                [np.asarray(y) for _, y in self.validation_data.as_numpy_iterator()]
            )
        images = self.validation_data.map(lambda image, label: image)
        logits = model.predict(images, verbose=0)
        return np.asarray(logits, dtype=np.float32), self._labels

    def record(self, model, epoch, logs):
        logits, labels = self.predictions(model)
        validation = metrics_lib.validation_metrics(
            labels, logits, class_names=self.class_names
        )
        optimizer = base_optimizer(model.optimizer)
        record = {
            "epoch": self.state.epoch + 1,
            "stage": self.state.stage,
            "stage_epoch": epoch + 1,
            "steps": self.steps_per_epoch,
            "loss": float(logs.get("loss", float("nan"))),
            "accuracy": float(logs.get("accuracy", float("nan"))),
            "lr": current_learning_rate(model.optimizer),
            # Not convert_to_numpy: a tf.Variable made in a multi-worker strategy's
            # scope is a MirroredVariable, whose __array__ fails there (issue 14).
            "beta_1": float(tf.convert_to_tensor(optimizer.beta_1)),
        }
        for name, value in validation.items():
            record[f"val_{name}"] = value
            logs[f"val_{name}"] = value
        num_classes = logits.shape[-1]
        if num_classes > 2:
            matrix = metrics_lib.confusion_matrix(
                labels, logits.argmax(-1), num_classes=num_classes
            )
            record["val_confusion_matrix"] = matrix.tolist()
        record["alphas"] = {
            layer.name: float(keras.ops.convert_to_numpy(layer.alpha))
            for layer in self.arl_layers
        }
        return record


class EpochEnd(keras.callbacks.Callback):
    """The end of every epoch, in this order (skipped after a NaN loss):

    1. ``recorder.record`` measures the epoch (`EpochRecorder`); its record is
       handed on explicitly, nothing reads it from shared state.
    2. ``summaries.write(record)``: TensorBoard (`tensorboard.EpochSummaries`).
    3. ``checkpoint.save(model, record)`` (`checkpoints.Checkpoint`), last: it
       counts the epoch as finished in the run state and writes it. A run that
       stops before that resumes at this epoch and writes all of it again, so
       the event files never miss an epoch that the state counts.

    An epoch whose loss became NaN (``state.nan``, set by `NanGuard`) is neither
    recorded nor saved, so the last good checkpoint stays on disk.
    """

    def __init__(self, state, *, recorder, summaries, checkpoint):
        super().__init__()
        self.state = state
        self.recorder = recorder
        self.summaries = summaries
        self.checkpoint = checkpoint

    def on_train_begin(self, logs=None):
        self.summaries.open()

    def on_epoch_end(self, epoch, logs=None):
        if self.state.nan is not None:
            return
        logs = logs if logs is not None else {}
        record = self.recorder.record(self.model, epoch, logs)
        self.summaries.write(record)
        self.checkpoint.save(self.model, record)

    def on_train_end(self, logs=None):
        self.summaries.close()
