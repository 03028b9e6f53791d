"""Issue 25: one model and one trace of each stage per process, the same numbers.

A process training several seeds of one configuration keeps the first seed's model
and each stage's compiled functions (`skinkeras.training.compiled`). The reference
is each seed trained alone in a fresh `Compiled`, as a ``--seeds=k`` process would.
"""

import keras
import numpy as np
import pytest

from skinkeras.training import loop
from skinkeras.training import seeds as seeds_module
from tests.training import helpers


@pytest.fixture
def traces(monkeypatch):
    """Counts the traces of the model's train and predict steps: their Python runs
    only while tf.function traces them."""
    counts = {"train": 0, "predict": 0}
    for name in counts:
        original = getattr(keras.Model, f"{name}_step")

        def counting(self, *args, _original=original, _name=name, **kwargs):
            counts[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(keras.Model, f"{name}_step", counting)
    monkeypatch.setattr(loop, "model_from_config", helpers.tiny_model)
    return counts


def test_three_seeds_trace_each_stage_once_and_match_seeds_alone(traces, tmp_path):
    config = helpers.config(tmp_path, head_epochs=1, epochs=2)
    together = seeds_module.run_seeds(config, [0, 1, 2], sources=helpers.sources())
    # Stage 1 and stage 2, once each, for three seeds; the first seed's numbers
    # equal what one seed alone traces.
    assert traces["train"] == 2
    predict_traces = traces["predict"]
    assert predict_traces <= 4  # per stage: full batches and the last, smaller one
    for seed, summary in zip([0, 1, 2], together, strict=True):
        keras.utils.set_random_seed(1000 + seed)  # whatever ran before
        alone = loop.run(
            helpers.config(tmp_path / f"alone_{seed}", head_epochs=1, epochs=2).replace(
                seed=seed
            ),
            sources=helpers.sources(),
        )
        assert helpers.floats_of(alone) == helpers.floats_of(summary), seed
    assert traces["train"] == 2 + 3 * 2  # each lone run traced its own stages
    # Seeds differ, and training moved the numbers.
    assert helpers.floats_of(together[0]) != helpers.floats_of(together[1])
    assert len({r["loss"] for r in together[2]["history"]}) == 3


def test_a_later_seed_starts_from_its_own_fresh_weights_and_optimizer(traces, tmp_path):
    config = helpers.config(tmp_path, head_epochs=1, epochs=1)
    seeds_module.run_seeds(config, [0, 1], sources=helpers.sources())
    keras.utils.set_random_seed(1)
    fresh = helpers.tiny_model(config)
    first_epoch = []

    class Capture(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            first_epoch.append(
                (
                    [w.copy() for w in self.model.get_weights()],
                    int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)),
                    [
                        float(np.abs(keras.ops.convert_to_numpy(v)).sum())
                        for v in self.model.optimizer.variables[1:]
                    ],
                )
            )

    seeds_module.run_seeds(
        config.replace(model_dir=str(tmp_path / "again")),
        [0, 1],
        sources=helpers.sources(),
        callbacks=[Capture()],
    )
    # Seed 1's stage 1 begins with seed 1's fresh weights, step 0, zero moments.
    weights, step, moments = first_epoch[2]
    for got, want in zip(weights, fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    assert step == 0 and not any(moments[1:])  # [0]: the learning rate, if a variable
