"""`run_stages`: the staged, resumable, checkpointed ``fit`` that every trainer shares.

The classifiers (`skinkeras.training.loop`) and the U-Net segmenter
(`skinkeras.segmentation.training`) train the same way (SPEC, training protocol;
issue 13: one training stack): stages, each a fresh one-cycle optimizer compiled by
the caller, fastai's one-cycle momentum, per-epoch dropout seeds, a NaN guard, and
`callbacks.EpochEnd` — record, TensorBoard summaries, then the crash-consistent
checkpoint (`skinkeras.training.checkpoints`) — after every epoch. A run resumes
after its last finished epoch: the checkpointed stage's optimizer is rebuilt so that
its moments and step counter (the position in the one-cycle schedules) load too.

What differs between trainers comes in as arguments: the model, how a stage is
compiled, the training batches of a stage's epochs, and the recorder and summaries
of an epoch. The caller builds the model (in its strategy's scope) and writes the
summary and the final model afterwards.
"""

import dataclasses

from skinkeras.training import callbacks as callbacks_lib
from skinkeras.training import checkpoints, distribute


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage: its number (1 or 2), epochs and one-cycle peak learning rate."""

    number: int
    epochs: int
    max_lr: float


def restore(model, checkpoint_dir, compile_stage):
    """The `RunState` to continue from, with its checkpoint loaded into ``model``.

    Returns a fresh `checkpoints.RunState` before the first checkpoint. Otherwise
    compiles the checkpointed stage (``compile_stage(stage_number)``), builds its
    optimizer and loads weights and optimizer variables.
    """
    state = checkpoints.load_state(checkpoint_dir)
    if state is None:
        return checkpoints.RunState()
    compile_stage(state.stage)
    model.optimizer.build(model.trainable_variables)
    model.load_weights(state.weights_path)
    return state


def run_stages(
    model,
    state,
    *,
    stages,
    compile_stage,
    train_epochs,
    steps_per_epoch,
    seed,
    epoch_end,
    checkpoint_dir,
    nan_error,
    strategy=None,
    class_weight=None,
    callbacks=(),
    verbose=0,
    on_stage=None,
):
    """Trains the stages of ``stages`` that ``state`` has not finished; returns it.

    Args:
        model: the model, built (and, when resuming, restored: `restore`).
        state: the `checkpoints.RunState` to continue (`restore`).
        stages: `Stage`s in order; one with 0 epochs is skipped.
        compile_stage: ``compile_stage(stage_number)`` sets which weights train and
            compiles a fresh optimizer whose one-cycle spans the stage.
        train_epochs: ``train_epochs(stage_number, start, stop)``, the training
            batches of epochs ``start .. stop - 1`` of the stage, ``steps_per_epoch``
            each; a resumed stage sees what an uninterrupted one would have.
        steps_per_epoch: optimizer steps per epoch.
        seed: the run's seed (dropout streams: `callbacks.EpochSeeds`).
        epoch_end: ``epoch_end(state, stage_number)`` returns ``(recorder,
            summaries)`` for `callbacks.EpochEnd`; the record must hold
            ``stage_epoch`` and ``alphas`` (`checkpoints.RunState.add_epoch`).
        checkpoint_dir: where the checkpoints go.
        nan_error: ``nan_error(state)`` returns the exception raised when the loss
            became NaN (``state.nan`` says where); the last good checkpoint is kept.
        strategy: the `tf.distribute.Strategy` the model was built in (BatchNorm
            statistics are averaged over its replicas), or None for one replica.
        class_weight, verbose: Keras ``fit``'s.
        callbacks: extra Keras callbacks, called after the runner's own.
        on_stage: optional ``on_stage(stage_number, epochs, max_lr)``, called before
            each stage that trains.
    """
    # A restored state's stage is compiled already (`restore`).
    compiled_stage = state.stage if state.weights_path is not None else None
    for stage in stages:
        initial_epoch = 0
        if state.stage > stage.number:
            continue
        if state.stage == stage.number:
            initial_epoch = state.stage_epoch
        if initial_epoch >= stage.epochs:
            continue
        if compiled_stage != stage.number:
            compile_stage(stage.number)
            compiled_stage = stage.number
        total_steps = max(1, stage.epochs * steps_per_epoch)
        state.stage, state.stage_epoch = stage.number, initial_epoch
        train_ds = train_epochs(stage.number, initial_epoch, stage.epochs)
        recorder, summaries = epoch_end(state, stage.number)
        # Independent of their order here: the one order that matters (record,
        # summaries, checkpoint) is written out in `EpochEnd`.
        stage_callbacks = [
            callbacks_lib.OneCycleMomentum(total_steps),
            callbacks_lib.EpochSeeds(seed, stage.number),
            callbacks_lib.NanGuard(state),
            callbacks_lib.EpochEnd(
                state,
                recorder=recorder,
                summaries=summaries,
                checkpoint=checkpoints.Checkpoint(state, checkpoint_dir),
            ),
        ]
        if strategy is not None:
            # First: the replicas' BatchNorm statistics agree before EpochEnd.
            stage_callbacks.insert(0, distribute.SyncMovingStatistics(strategy))
        if on_stage is not None:
            on_stage(stage.number, stage.epochs, stage.max_lr)
        model.fit(
            train_ds,
            epochs=stage.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            callbacks=stage_callbacks + list(callbacks),
            class_weight=class_weight,
            verbose=verbose,
            shuffle=False,  # the training batches come in their drawn order
        )
        if state.nan is not None:
            raise nan_error(state)
    return state
