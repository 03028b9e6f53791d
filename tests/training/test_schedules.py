"""One-cycle learning rate and beta_1 against the SPEC formula, computed in numpy."""

import keras
import numpy as np
import pytest

from skinkeras.training import OneCycle, one_cycle_momentum
from skinkeras.training.callbacks import OneCycleMomentum, attach_beta_1


def reference_lr(step, total, max_lr):
    """SPEC: warm up from max/25 to max over the first 25 % (cosine, fastai v1),
    then cosine annealing to max / (25 * 1e4)."""
    warmup = max(1, round(0.25 * total))
    low, final = max_lr / 25.0, max_lr / 25.0 / 1e4
    step = np.minimum(step, total)
    pct_up = step / warmup
    pct_down = (step - warmup) / (total - warmup)
    up = max_lr + (low - max_lr) / 2 * (1 + np.cos(np.pi * pct_up))
    down = final + (max_lr - final) / 2 * (1 + np.cos(np.pi * pct_down))
    return np.where(step <= warmup, up, down)


def reference_beta_1(step, total):
    warmup = max(1, round(0.25 * total))
    pct_up = step / warmup
    pct_down = (step - warmup) / (total - warmup)
    up = 0.85 + (0.95 - 0.85) / 2 * (1 + np.cos(np.pi * pct_up))
    down = 0.95 + (0.85 - 0.95) / 2 * (1 + np.cos(np.pi * pct_down))
    return np.where(step <= warmup, up, down)


def test_learning_rate_matches_spec_formula():
    for total in (8, 100, 1250):
        schedule = OneCycle(3e-3, total)
        steps = np.arange(total + 1)
        got = np.asarray(schedule(steps), dtype=np.float64)  # float32 inside
        expected = reference_lr(steps, total, 3e-3)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=3e-3 * 1e-6)
        warmup = round(0.25 * total)
        assert got[0] == pytest.approx(3e-3 / 25, rel=1e-5)
        assert got[warmup] == pytest.approx(3e-3, rel=1e-5)
        assert got.argmax() == warmup
        assert got[-1] < 1e-6  # "anneals towards ~0"


def test_learning_rate_past_the_end_stays_final():
    schedule = OneCycle(1e-2, 10)
    assert float(schedule(50)) == pytest.approx(float(schedule(10)))


def test_beta_1_matches_spec_formula():
    for total in (8, 100):
        steps = np.arange(total + 1)
        got = np.array([one_cycle_momentum(step, total) for step in steps])
        np.testing.assert_allclose(got, reference_beta_1(steps, total), rtol=1e-12)
        assert got[0] == pytest.approx(0.95)
        assert got.min() == pytest.approx(0.85)
        assert got[-1] == pytest.approx(0.95)


def test_schedule_round_trips_config():
    schedule = OneCycle(3e-4, 77, pct_start=0.3)
    clone = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule)
    )
    assert clone.get_config() == schedule.get_config()


def test_schedule_rejects_bad_arguments():
    with pytest.raises(ValueError, match="max_lr=0"):
        OneCycle(0, 5)
    with pytest.raises(ValueError, match="total_steps=0"):
        OneCycle(1e-3, 0)


class _Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.beta_1, self.lr = [], []

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        self.beta_1.append(float(optimizer.beta_1.numpy()))
        self.lr.append(float(optimizer.learning_rate))


def test_callback_cycles_beta_1_inside_fit_and_adam_uses_it():
    total = 12
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    optimizer = keras.optimizers.AdamW(learning_rate=OneCycle(1e-2, total))
    attach_beta_1(optimizer)
    model.compile(optimizer=optimizer, loss="mse")
    recorder = _Recorder()
    x = np.random.default_rng(0).normal(size=(24, 3)).astype("float32")
    model.fit(
        x,
        np.zeros((24, 2), "float32"),
        batch_size=4,
        epochs=2,
        callbacks=[OneCycleMomentum(total), recorder],
        verbose=0,
    )
    steps = np.arange(total)
    np.testing.assert_allclose(
        recorder.beta_1, reference_beta_1(steps, total), rtol=1e-6
    )
    np.testing.assert_allclose(recorder.lr, reference_lr(steps, total, 1e-2), rtol=1e-4)
