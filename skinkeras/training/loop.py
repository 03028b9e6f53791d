"""`run(config)`: the study's two-stage one-cycle training of one seed, resumable.

SPEC, training protocol (fastai v1.0.61's `cnn_learner` + `fit_one_cycle`). Stage 1
trains the new head for ``head_epochs`` (one-cycle, max lr ``head_lr``) with the
backbone frozen — its BatchNorm layers still training when ``train_bn``; stage 2 trains
the whole model for ``epochs`` (one-cycle, max lr ``lr``). Each stage gets a fresh
AdamW (decoupled weight decay 0.01 on every weight, beta_2 0.99, eps 1e-8 by default)
whose ``beta_1`` cycles 0.95 -> 0.85 -> 0.95. The loss is sparse categorical
cross-entropy of the logits (or, issue 16, a focal loss and/or class weights:
`skinkeras.training.losses`); validation metrics are computed every epoch.

Reproducibility (README, "Reproducibility"): `keras.utils.set_random_seed(seed)` runs
before anything is built (new layers' initial weights), and every per-epoch stream —
which examples, their order, augmentation, dropout — derives from (seed, stage,
epoch) alone, so the same configuration and seed give the same numbers, in any
process, resumed or not.

Everything a run writes lives in ``config.model_dir`` (README, "Run directory"):
``config.json``, ``summary.json``, ``model.keras``, ``checkpoints/`` and ``logs/``.
``model.keras`` is the self-contained pipeline around the trained network
(`skinkeras.models.pipeline.run_model`); the checkpoints hold the network's own
weights.
"""

import functools
import pathlib

import keras

from skinkeras import data, models, rundir
from skinkeras.config import DATASET_LABELS, RUNTIME_KEYS, SE_MODELS, TrainConfig
from skinkeras.models import pipeline as model_pipeline
from skinkeras.training import callbacks as callbacks_lib
from skinkeras.training import compiled as compiled_lib
from skinkeras.training import (
    distribute,
    losses,
    results,
    runner,
    tensorboard,
)
from skinkeras.training.optimizers import make_optimizer


class ConfigMismatchError(ValueError):
    """``model_dir`` already holds a run of a different configuration."""


def set_stage_trainable(model, config, *, stage):
    """Freezes the backbone for stage 1 (its BatchNorm layers still training when
    ``train_bn``), unfreezes it for stage 2; returns the stage's epochs and max lr."""
    if stage == 1:
        models.set_backbone_trainable(model, False, train_bn=config.train_bn)
        return config.head_epochs, config.head_lr
    models.set_backbone_trainable(model, True)
    return config.epochs, config.lr


def compile_stage(model, config, *, stage, steps_per_epoch, run_eagerly=False):
    """Sets which weights train in ``stage`` (1 or 2) and compiles a fresh optimizer.

    ``run_eagerly`` skips graph tracing (tests of big models on tiny inputs).
    Returns the stage's number of epochs and its total number of optimizer steps.
    """
    epochs, max_lr = set_stage_trainable(model, config, stage=stage)
    total_steps = max(1, epochs * steps_per_epoch)
    model.compile(
        optimizer=make_optimizer(config, max_lr=max_lr, total_steps=total_steps),
        loss=losses.make_loss(config),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=config.jit_compile and not run_eagerly,
        run_eagerly=run_eagerly,
    )
    return epochs, total_steps


def check_model_dir(config, model_dir):
    """Refuses to resume a directory that holds a run of another configuration."""
    path = model_dir / "config.json"
    trained = any(model_dir.glob("**/checkpoints/state.json")) or any(
        model_dir.glob("**/summary.json")
    )
    if not (path.exists() and trained):
        return  # nothing trained yet: a corrected command may start afresh
    saved = rundir.read_json(path)
    ours = config.to_dict()
    differing = sorted(
        key
        for key in ours
        if key not in RUNTIME_KEYS and key in saved and saved[key] != ours[key]
    )
    if differing:
        details = ", ".join(f"{key}={saved[key]!r}" for key in differing)
        raise ConfigMismatchError(
            f"{model_dir} already holds a run with a different configuration "
            f"({details}); use another --model_dir, or --restart to move the old "
            "run aside. "
            f"Received: model_dir={str(model_dir)!r}"
        )


def _check_class_names(config, sources):
    """A dataset-defined label's classes must be the ones the config names."""
    if sources or config.label not in DATASET_LABELS:
        return
    found = data.dataset_info(config.dataset, config.data_dir, label=config.label)
    if list(found["class_names"]) != list(config.class_names):
        raise ValueError(
            f"Dataset {config.dataset!r} names the classes of {config.label!r} "
            f"{found['class_names']}, not `class_names`. "
            f"Received: class_names={config.class_names}"
        )


def _datasets(config, global_batch, sources):
    """The training stream (seeded epochs) and the validation dataset."""
    _check_class_names(config, sources)
    common = dict(
        dataset=config.dataset,
        data_dir=config.data_dir,
        preprocessing=config.preprocessing,
        image_size=config.image_size,
        batch_size=global_batch,
        label=config.label,
        seed=config.seed,
        masks_dir=config.masks_dir,
        mask_mode=config.mask_mode,
        num_classes=config.num_classes,
        metadata=config.metadata_encoding if config.metadata else None,
    )
    sources = sources or {}
    # Raises (with the `tfds build` command) when the dataset is not prepared.
    train = data.make_training_stream(
        "train",
        augment=config.augment,
        lighting=config.lighting,
        flip=config.flip,
        warp=config.warp,
        oversample=config.oversample,
        source=sources.get("train"),
        drop_remainder=True,  # fastai v1's training loader: drop_last=True
        **common,
    )
    validation = data.make_dataset(
        "validation",
        shuffle=False,
        source=sources.get("validation"),
        drop_remainder=False,
        **common,
    )
    return train, validation


def model_from_config(config):
    """The untrained model of ``config`` (architecture, head, initial weights)."""
    se = config.se if config.model in SE_MODELS else None
    return models.build_model(
        config.model,
        num_classes=config.num_classes,
        arl=config.arl,
        se=se,
        weights=None if config.weights == "none" else config.weights,
        input_shape=(config.image_size, config.image_size, 3),
        head=config.head,
        metadata=config.metadata_encoding if config.metadata else None,
    )


def _nan_error(nan, checkpoint_dir, state, config):
    last = (
        f"stage {state.stage}, epoch {state.stage_epoch}"
        if state.epoch
        else "none (no epoch finished)"
    )
    # A changed lr on this directory is refused as another configuration
    # (`check_model_dir`), so the advice is `--restart` (experiments.main), which
    # moves the old run aside (issue 14).
    flag = "head_lr" if nan["stage"] == 1 else "lr"
    lower = getattr(config, flag) / 10
    return FloatingPointError(
        f"Training loss became NaN at stage {nan['stage']}, epoch {nan['stage_epoch']}, "
        f"batch {nan['batch']}. The last good checkpoint ({last}) is kept in "
        f"{checkpoint_dir}. To train again with a lower learning rate, run the same "
        f"command with --{flag}={lower:g} --restart (the old run is moved aside, not "
        "deleted); or check the input data and run the same command to resume."
    )


def run(
    config,
    *,
    strategy=None,
    sources=None,
    callbacks=(),
    verbose=0,
    on_stage=None,
    compiled=None,
):
    """Trains one seed of ``config`` in ``config.model_dir``; returns its summary.

    Resumable: every finished epoch is checkpointed (weights, optimizer state,
    stage/epoch counters) and running again continues from the last one; a finished
    run (``summary.json`` present) is returned without training.

    Args:
        config: a `TrainConfig`.
        strategy: a `tf.distribute.Strategy`; default: `config.strategy` selected by
            `skinkeras.training.distribute.select_strategy`.
        sources: optional ``{"train": ds, "validation": ds}`` of example dicts passed
            to `skinkeras.data.make_dataset` instead of the TFDS dataset (tests,
            custom data).
        callbacks: extra Keras callbacks, called after the loop's own in both stages.
        verbose: Keras ``fit`` verbosity.
        on_stage: optional callable, called as ``on_stage(seed, stage, epochs,
            max_lr)`` before each stage trains (e.g. to print a header; the library
            prints nothing itself).
        compiled: a `skinkeras.training.compiled.Compiled` kept across the seeds
            of one configuration, so that the model is built and each stage traced
            once per process (`run_seeds`); default: a new one.

    Raises:
        ValueError: invalid configuration, batch size not divisible by the replicas,
            or a ``model_dir`` holding another configuration — before any training.
        skinkeras.rundir.RunDirBusyError: another process is training this seed
            (``model_dir``'s lock; its pid is the error's ``holder``).
        FloatingPointError: the loss became NaN (the last good checkpoint is kept).
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"`config` must be a TrainConfig. Received: config={config!r}")
    config.validate()
    model_dir = pathlib.Path(config.model_dir)
    if strategy is None:
        strategy = distribute.select_strategy(config.strategy, tpu=config.tpu)
    worker = distribute.worker_subdir(strategy)
    if worker is not None:
        model_dir = model_dir / worker
    summary_path = model_dir / rundir.SUMMARY
    check_model_dir(config, model_dir)
    if summary_path.exists():
        return rundir.read_json(summary_path)
    # Before the lock creates model_dir: a batch the replicas cannot share is refused
    # with nothing written.
    global_batch = distribute.global_batch_size(
        config.batch_size, strategy.num_replicas_in_sync, scale_batch=config.scale_batch
    )
    # One writer per seed (issues 14, 25): held until the run ends; another process
    # training this seed makes this one fail at once (`rundir.RunDirBusyError`).
    with rundir.lock(model_dir):
        if summary_path.exists():  # finished while we waited to look
            return rundir.read_json(summary_path)
        return _train(
            config,
            model_dir,
            global_batch=global_batch,
            strategy=strategy,
            sources=sources,
            callbacks=callbacks,
            verbose=verbose,
            on_stage=on_stage,
            compiled=compiled_lib.Compiled() if compiled is None else compiled,
        )


def _train(
    config,
    model_dir,
    *,
    global_batch,
    strategy,
    sources,
    callbacks,
    verbose,
    on_stage,
    compiled,
):
    """`run`'s training of one seed into ``model_dir``, which it holds locked."""
    summary_path = model_dir / rundir.SUMMARY
    # Before anything is built: the new layers' initial weights (and any Python /
    # NumPy draw) come from the seed, whatever ran before in this process.
    keras.utils.set_random_seed(config.seed)
    # Loaded once per process for a configuration's seeds (`compiled`, issue 25); the
    # training stream's epochs are drawn from this seed.
    train_stream, validation_ds = compiled.reuse(
        "datasets",
        compiled_lib.config_key(config, global_batch, id(sources)),
        lambda: _datasets(config, global_batch, sources),
    )
    train_stream = train_stream.with_seed(config.seed)
    steps_per_epoch = train_stream.steps_per_epoch

    model_dir.mkdir(parents=True, exist_ok=True)
    rundir.atomic_write_text(model_dir / rundir.CONFIG, config.to_json())
    checkpoint_dir = model_dir / "checkpoints"

    policy = (
        distribute.mixed_precision_policy(strategy) if config.mixed_precision else None
    )
    first_stage = 1 if config.head_epochs > 0 else 2

    def first_batch():
        # The run's first training batch, for TensorBoard (after epoch 1: cached).
        dataset = train_stream.epochs(stage=first_stage, start=0, stop=1)
        inputs = next(iter(dataset))[0]
        return inputs["image"] if isinstance(inputs, dict) else inputs

    with (
        distribute.op_determinism(config.deterministic),
        distribute.dtype_policy(policy),
        distribute.keras_multiworker_support(strategy),
        strategy.scope(),
    ):
        # Again, right before the weights are drawn: preparing the data may have
        # drawn from the global generators (e.g. TFDS building synthetic_lesions on
        # first use), and a seed's initial weights must not depend on whether it did.
        keras.utils.set_random_seed(config.seed)
        # A fresh build under the seed; in the model this process compiled for an
        # earlier seed of the configuration, if any (`compiled`, issue 25).
        model = compiled.model_for(
            compiled_lib.config_key(config, steps_per_epoch, strategy.__class__),
            lambda: model_from_config(config),
        )
        arl_layers = models.arl_layers(model)

        def compile_for(stage):
            compiled.compile(
                stage,
                lambda: compile_stage(
                    model, config, stage=stage, steps_per_epoch=steps_per_epoch
                ),
                lambda: set_stage_trainable(model, config, stage=stage),
            )

        def epoch_end(state, stage):
            recorder = callbacks_lib.EpochRecorder(
                state,
                validation_ds,
                steps_per_epoch=steps_per_epoch,
                arl_layers=arl_layers,
                class_names=config.class_names,
            )
            summaries = tensorboard.EpochSummaries(
                model_dir / "logs", images=first_batch
            )
            return recorder, summaries

        state = runner.restore(model, checkpoint_dir, compile_for)
        # Epochs start .. stop - 1 of a stage, each a pure function of (seed, stage,
        # epoch): a resumed stage sees what it would have seen.
        runner.run_stages(
            model,
            state,
            stages=(
                runner.Stage(1, config.head_epochs, config.head_lr),
                runner.Stage(2, config.epochs, config.lr),
            ),
            compile_stage=compile_for,
            train_epochs=lambda stage, start, stop: train_stream.epochs(
                stage=stage, start=start, stop=stop
            ),
            steps_per_epoch=steps_per_epoch,
            seed=config.seed,
            epoch_end=epoch_end,
            checkpoint_dir=checkpoint_dir,
            nan_error=lambda state: _nan_error(
                state.nan, checkpoint_dir, state, config
            ),
            strategy=strategy,
            class_weight=losses.class_weights(config, train_stream.counts),
            callbacks=callbacks,
            verbose=verbose,
            on_stage=None
            if on_stage is None
            else functools.partial(on_stage, config.seed),
        )

        summary = results.make_summary(config, state, model_name=model.name)
        # The self-contained model (issue 15, item 6): image in, decision out. The
        # checkpoints stay the bare network's weights (resume).
        rundir.save_model(
            model_pipeline.run_model(model, config), model_dir / rundir.MODEL
        )
    rundir.atomic_write_json(summary_path, summary)
    return summary
