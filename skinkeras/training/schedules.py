"""One-cycle learning rate and momentum (Smith 2018), as fastai v1's `fit_one_cycle`.

SPEC, training protocol; fastai 1.0.61 `train.fit_one_cycle` (``pct_start=0.3``,
``div_factor=25.``, ``moms=(0.95, 0.85)``) and `callbacks/one_cycle.OneCycleScheduler`
(``final_div = div_factor * 1e4``; ``a1 = int(n * pct_start)`` warm-up steps of the
``n`` batches, both phases `annealing_cos`): the learning rate warms up from
``max_lr / 25`` to ``max_lr`` over the first 30 % of the steps, then anneals to
``max_lr / (25 · 10⁴)``; Adam's ``beta_1`` moves the opposite way, 0.95 -> 0.85 ->
0.95. fastai v1's cosine interpolation is

    annealing_cos(start, end, pct) = end + (start - end) / 2 * (1 + cos(pi * pct))

and batch ``t`` (0-based) trains with the value at ``t`` (fastai sets the start value
before the first batch and steps the schedulers after each batch).
"""

import math

import keras
from keras import ops

# fastai v1 `fit_one_cycle` defaults: warm-up over the first 30 % of the steps, from
# max_lr / 25, down to max_lr / (25 * 1e4) (`OneCycleScheduler`: final_div = div * 1e4).
PCT_START = 0.3
DIV_FACTOR = 25.0
FINAL_DIV_FACTOR = 1e4
# SPEC: Adam beta_1 cycles 0.95 -> 0.85 -> 0.95.
BETA_1_MAX = 0.95
BETA_1_MIN = 0.85


def _warmup_steps(total_steps, pct_start):
    # fastai v1: a1 = int(n * pct_start) (rounded down). At least one warm-up and one
    # annealing step, so neither phase divides by zero (only runs of < 4 steps differ:
    # fastai's Scheduler clamps n_iter to 1 the same way).
    return min(max(1, int(total_steps * pct_start)), max(1, total_steps - 1))


def _check(total_steps, pct_start):
    if int(total_steps) != total_steps or total_steps < 1:
        raise ValueError(
            f"`total_steps` must be a positive integer. Received: total_steps={total_steps}"
        )
    if not 0.0 < pct_start < 1.0:
        raise ValueError(
            f"`pct_start` must be in (0, 1). Received: pct_start={pct_start}"
        )


def one_cycle_momentum(
    step, total_steps, *, pct_start=PCT_START, high=BETA_1_MAX, low=BETA_1_MIN
):
    """Adam ``beta_1`` of the one-cycle policy at ``step`` (a Python float).

    Cosine from ``high`` to ``low`` during the warm-up, back to ``high`` afterwards.
    Steps past the end stay at ``high``.
    """
    _check(total_steps, pct_start)
    warmup = _warmup_steps(total_steps, pct_start)
    step = min(max(float(step), 0.0), float(total_steps))
    if step <= warmup:
        start, end, pct = high, low, step / warmup
    else:
        start, end, pct = low, high, (step - warmup) / (total_steps - warmup)
    return end + (start - end) / 2.0 * (1.0 + math.cos(math.pi * pct))


@keras.saving.register_keras_serializable(package="skinkeras")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """One-cycle learning rate schedule (Smith 2018; fastai v1's ``fit_one_cycle``).

    Step ``t`` of ``T = total_steps``, ``W = int(pct_start * T)`` warm-up steps:

        t <= W: lr = cos_anneal(max_lr / div_factor, max_lr, t / W)
        t >  W: lr = cos_anneal(max_lr, max_lr / (div_factor * final_div_factor),
                                (t - W) / (T - W))

    Steps past ``T`` keep the final learning rate.

    Args:
        max_lr: peak learning rate (SPEC: 3e-3 for the head, 3e-4 for the whole model).
        total_steps: number of optimizer steps of the whole cycle.
        pct_start: fraction of the steps spent warming up (fastai v1: 0.3).
        div_factor: the cycle starts at ``max_lr / div_factor`` (SPEC: 25).
        final_div_factor: the cycle ends at ``max_lr / (div_factor * final_div_factor)``.
    """

    def __init__(
        self,
        max_lr,
        total_steps,
        *,
        pct_start=PCT_START,
        div_factor=DIV_FACTOR,
        final_div_factor=FINAL_DIV_FACTOR,
    ):
        if not max_lr > 0:
            raise ValueError(f"`max_lr` must be positive. Received: max_lr={max_lr}")
        _check(total_steps, pct_start)
        self.max_lr = float(max_lr)
        self.total_steps = int(total_steps)
        self.pct_start = float(pct_start)
        self.div_factor = float(div_factor)
        self.final_div_factor = float(final_div_factor)

    def __call__(self, step):
        warmup = float(_warmup_steps(self.total_steps, self.pct_start))
        total = float(self.total_steps)
        step = ops.clip(ops.cast(step, "float32"), 0.0, total)
        start = self.max_lr / self.div_factor
        end = start / self.final_div_factor
        in_warmup = step <= warmup
        pct = ops.where(in_warmup, step / warmup, (step - warmup) / (total - warmup))
        first = ops.where(in_warmup, start, self.max_lr)
        last = ops.where(in_warmup, self.max_lr, end)
        return last + (first - last) / 2.0 * (1.0 + ops.cos(math.pi * pct))

    def get_config(self):
        return {
            "max_lr": self.max_lr,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
        }
