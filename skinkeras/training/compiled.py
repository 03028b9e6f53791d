"""`Compiled`: one model, and one trace of each stage's functions, per process.

Issue 25: a process that trains several seeds of one configuration (`run_seeds`, a
reused Ray worker) would otherwise build the model and trace each stage's train,
test and predict functions again for every seed; on the 2-core machine that start-up
was about two thirds of a demo-scale seed. Here the first seed's model is kept with
each stage's compiled state (optimizer, loss, metrics, traced functions), and every
later seed

- builds its model under its own seed as a fresh process would
  (`keras.utils.set_random_seed` then the builder, in `loop.run`) and copies those
  weights into the kept model, so it starts from exactly a fresh process's weights;
- gets each stage's optimizer back with the values it had when built (zero moments,
  step 0: a fresh optimizer), and that stage's trainable flags;
- draws its epochs from the same training stream, whose split was decoded once
  (`skinkeras.data.stream.TrainingStream.with_seed`; epoch *e* is a function of
  (seed, stage, *e*) alone), and is validated on the same validation dataset.

The traced functions read the same variables, so a seed's ``summary.json`` is
bit-identical to a ``--seeds=k`` process's (tests/experiments/test_reproducibility.py,
test_shared_seeds.py). Keras keeps a model's compiled state in its attributes
(`keras.Model.compile`); `COMPILE_STATE` names those this swaps per stage.
"""

import json

import keras

# What `keras.Model.compile` sets (Keras 3.x, trainers/trainer.py), and the functions
# `fit`, `evaluate` and `predict` trace from it.
COMPILE_STATE = (
    "optimizer",
    "loss",
    "_compile_loss",
    "_compile_metrics",
    "_compile_config",
    "_compiled_trainable_state",
    "_loss_tracker",
    "jit_compile",
    "run_eagerly",
    "steps_per_execution",
    "compiled",
    "stop_training",
    "train_function",
    "test_function",
    "predict_function",
)
# Fields that do not change the model or its training: the seed's own.
_PER_SEED = ("seed", "seeds", "model_dir")


def config_key(config, *extra):
    """What must be equal for two seeds to share a compiled model."""
    fields = {k: v for k, v in config.to_dict().items() if k not in _PER_SEED}
    return json.dumps([fields, *extra], sort_keys=True, default=str)


class Compiled:
    """The model and per-stage compiled state shared by a process's seeds."""

    def __init__(self):
        self.key = None
        self.model = None
        self._stages = {}  # stage -> [attributes of COMPILE_STATE, optimizer values]
        self._current = None
        self._kept = {}  # name -> (key, value): `reuse`

    def reuse(self, name, key, make):
        """``make()``'s value, made once per ``key`` and kept under ``name`` (e.g. the
        datasets, which do not depend on the seed)."""
        kept = self._kept.get(name)
        if kept is None or kept[0] != key:
            kept = self._kept[name] = (key, make())
        return kept[1]

    def model_for(self, key, build):
        """The model of a new seed: ``build()``'s weights, in the kept model when
        ``key`` is the kept model's (else ``build()``'s model, kept from now on).

        Call it where a fresh process builds its model: under the seed, in the
        strategy's scope and dtype policy.
        """
        fresh = build()
        if key == self.key and self.model is not None:
            self._save_current()
            self.model.set_weights(fresh.get_weights())
            self._current = None
            return self.model
        self.key, self.model, self._stages, self._current = key, fresh, {}, None
        return fresh

    def compile(self, stage, compile_stage, set_trainable):
        """Compiles ``stage`` once (``compile_stage()``); later, puts that compiled
        state back (``set_trainable()`` restores the stage's trainable flags) with
        the stage's optimizer as it was when built."""
        model = self.model
        self._save_current()
        self._current = stage
        if stage in self._stages:
            set_trainable()
            state, values = self._stages[stage]
            for name, value in state.items():
                # As `compile` sets them (under Keras' no_automatic_dependency_tracking):
                # a tracked assignment would list the metrics again in `model.metrics`,
                # whose last "loss" would then be another stage's tracker.
                object.__setattr__(model, name, value)
            for variable, value in zip(model.optimizer.variables, values, strict=True):
                variable.assign(value)
            return
        compile_stage()
        # Built now, not in the first step, to keep its initial values.
        model.optimizer.build(model.trainable_variables)
        values = [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]
        self._stages[stage] = [None, values]
        self._save_current()

    def _save_current(self):
        """Keeps the current stage's compiled state, with what fit traced since."""
        if self._current is not None:
            state = {
                name: getattr(self.model, name)
                for name in COMPILE_STATE
                if hasattr(self.model, name)
            }
            self._stages[self._current][0] = state
