"""One-cycle learning rate and beta_1 against fastai v1.0.61's scheduler, in numpy."""

import keras
import numpy as np
import pytest

from skinkeras.training import OneCycle, one_cycle_momentum
from skinkeras.training.callbacks import OneCycleMomentum, attach_beta_1


def _annealing_cos(start, end, pct):
    return end + (start - end) / 2 * (np.cos(np.pi * pct) + 1)


def fastai_one_cycle(total, max_lr, *, moms=(0.95, 0.85), div=25.0, pct_start=0.3):
    """(lr, mom) of each batch, by stepping fastai v1.0.61's `OneCycleScheduler`.

    An independent transcription of fastai/callbacks/one_cycle.py and
    fastai/callback.py `Scheduler`: ``a1 = int(n * pct_start)``, two `annealing_cos`
    phases, start values set on_train_begin, each scheduler stepped
    (``n += 1; func(start, end, n / n_iter)``) on_batch_end.
    """
    a1 = int(total * pct_start)
    a2 = total - a1
    final_div = div * 1e4
    phases = [
        [(max_lr / div, max_lr), (moms[0], moms[1]), max(1, a1), 0],
        [(max_lr, max_lr / final_div), (moms[1], moms[0]), max(1, a2), 0],
    ]
    lrs, moms_out = [], []
    lr, mom, index = max_lr / div, moms[0], 0
    for _ in range(total):
        lrs.append(lr)
        moms_out.append(mom)
        phase = phases[index]
        phase[3] += 1
        lr = _annealing_cos(*phase[0], phase[3] / phase[2])
        mom = _annealing_cos(*phase[1], phase[3] / phase[2])
        if phase[3] >= phase[2]:
            index += 1
        if index >= len(phases):
            break
    return np.array(lrs), np.array(moms_out)


def reference_lr(step, total, max_lr):
    """The learning rate fastai v1 trains batch ``step`` with (last value past the end)."""
    lrs, _ = fastai_one_cycle(total, max_lr)
    lrs = np.append(lrs, max_lr / 25.0 / 1e4)
    return lrs[np.minimum(step, total)]


def reference_beta_1(step, total):
    _, moms = fastai_one_cycle(total, 1.0)
    moms = np.append(moms, 0.95)
    return moms[np.minimum(step, total)]


# Step counts whose warm-up 0.3 n has a fractional part >= 0.5 (12: 3.6; 812, the
# study's head stage, 4 epochs of 203 oversampled batches: 243.6), where int() and
# round() differ, next to ones where they agree.
TOTALS = (8, 12, 100, 812, 1250)


def test_learning_rate_matches_fastai_v1():
    for total in TOTALS:
        schedule = OneCycle(3e-3, total)
        steps = np.arange(total + 1)
        got = np.asarray(schedule(steps), dtype=np.float64)  # float32 inside
        expected = reference_lr(steps, total, 3e-3)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=3e-3 * 1e-6)
        warmup = int(0.3 * total)  # fastai v1: a1 = int(n * pct_start)
        assert got[0] == pytest.approx(3e-3 / 25, rel=1e-5)
        assert got[warmup] == pytest.approx(3e-3, rel=1e-5)
        assert got.argmax() == warmup
        assert got[-1] < 1e-6  # "anneals towards ~0"


def test_learning_rate_past_the_end_stays_final():
    schedule = OneCycle(1e-2, 10)
    assert float(schedule(50)) == pytest.approx(float(schedule(10)))


def test_beta_1_matches_fastai_v1():
    for total in TOTALS[:3]:
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
