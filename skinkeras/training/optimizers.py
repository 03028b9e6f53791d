"""fastai v1's optimizer, shared by the classifiers and the segmenter.

SPEC, training protocol: AdamW (decoupled weight decay 0.01, beta_2 0.99, eps 1e-8),
a one-cycle learning rate, and ``beta_1`` cycled 0.95 -> 0.85 -> 0.95 by
`callbacks.OneCycleMomentum`.
"""

import keras

from skinkeras.training.callbacks import attach_beta_1
from skinkeras.training.schedules import BETA_1_MAX, OneCycle


def make_optimizer(config, *, max_lr, total_steps, optimizer_class=None, **kwargs):
    """fastai v1's optimizer: AdamW, one-cycle learning rate, cyclable ``beta_1``.

    fastai v1 (basic_train.Learner): ``opt_func=AdamW`` = torch Adam with
    ``betas=(0.9, 0.99)`` and its default eps 1e-8; ``true_wd=True``: the weights are
    multiplied by ``1 - wd * lr`` before each step (Keras' AdamW does the same);
    ``bn_wd=True``: BatchNorm and bias weights are decayed too (Keras' AdamW decays
    every trainable weight unless told otherwise).

    Args:
        config: a `TrainConfig` or `SegmentConfig` (``weight_decay``, ``beta_2``,
            ``epsilon``).
        max_lr: the one-cycle schedule's peak learning rate.
        total_steps: optimizer steps of the cycle (the stage).
        optimizer_class: an AdamW-like class taking those arguments (default
            `keras.optimizers.AdamW`; the segmenter's `LayerGroupAdamW`).
        **kwargs: further arguments of ``optimizer_class`` (``lr_multipliers``).
    """
    if optimizer_class is None:
        optimizer_class = keras.optimizers.AdamW
    optimizer = optimizer_class(
        learning_rate=OneCycle(max_lr, total_steps),
        weight_decay=config.weight_decay,
        beta_1=BETA_1_MAX,
        beta_2=config.beta_2,
        epsilon=config.epsilon,
        **kwargs,
    )
    attach_beta_1(optimizer)
    return optimizer
