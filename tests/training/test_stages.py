"""Issue 5, item 3: what each stage trains, on a real ResNet-50 + ARL at 32 px.

Runs eagerly: tracing ResNet-50's train step costs more than the few steps here.
"""

import numpy as np
import pytest

from skinkeras import models
from skinkeras.training import TrainConfig
from skinkeras.training.loop import compile_stage


def _snapshot(model):
    return {weight.path: np.array(weight.numpy()) for weight in model.weights}


def _changed(before, after):
    return {path for path in before if not np.array_equal(before[path], after[path])}


def _fit_stage(model, stage, train_bn):
    config = TrainConfig(model="resnet50", arl=True, weights="none", train_bn=train_bn)
    compile_stage(model, config, stage=stage, steps_per_epoch=2, run_eagerly=True)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, size=(8, 32, 32, 3)).astype("float32")
    y = np.array([0, 1] * 4)
    before = _snapshot(model)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    return _changed(before, _snapshot(model))


@pytest.mark.slow  # 20-40 s of training: the default suite stays well under 15 min
def test_stage_1_trains_the_head_and_optionally_backbone_batchnorm_stage_2_all():
    model = models.build_model(
        "resnet50", arl=True, weights=None, input_shape=(32, 32, 3)
    )
    backbone = models.backbone_layers(model)
    backbone_weights = {w.path for layer in backbone for w in layer.weights}
    bn_weights = {
        w.path
        for layer in backbone
        if layer.__class__.__name__ == "BatchNormalization"
        for w in layer.weights
    }
    head_trainable = {
        w.path for layer in models.head_layers(model) for w in layer.trainable_weights
    }
    kernels_and_alphas = {
        path for path in backbone_weights if path.endswith(("/kernel", "/alpha"))
    }
    assert bn_weights and kernels_and_alphas and head_trainable

    # --notrain_bn: stage 1 leaves every backbone weight unchanged.
    changed = _fit_stage(model, stage=1, train_bn=False)
    assert not changed & backbone_weights
    assert head_trainable <= changed

    # --train_bn (default): in the backbone only BatchNorm weights change, all of
    # them (scale/offset by the optimizer, moving statistics in training mode).
    changed = _fit_stage(model, stage=1, train_bn=True)
    assert changed & backbone_weights == bn_weights

    # Stage 2 trains the rest: every convolution kernel and ARL alpha moves.
    changed = _fit_stage(model, stage=2, train_bn=True)
    assert kernels_and_alphas <= changed


def _fastai_adamw(w, grads, *, lrs, moms, wd, beta_2, eps):
    """Steps of fastai v1's optimizer from a fresh state, written from its source.

    basic_train.Learner(true_wd=True, bn_wd=True) -> callback.OptimWrapper.step:
    ``p.data.mul_(1 - wd * lr)`` on every parameter group, then torch.optim.Adam
    (AdamW = partial(optim.Adam, betas=(0.9, 0.99)), eps 1e-8) with the scheduled
    momentum as beta_1: ``p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)``.
    """
    m = v = 0.0
    for step, (g, lr, beta_1) in enumerate(zip(grads, lrs, moms, strict=True), 1):
        w = w * (1 - wd * lr)
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        bc1, bc2 = 1 - beta_1**step, 1 - beta_2**step
        w = w - lr / bc1 * m / (np.sqrt(v) / np.sqrt(bc2) + eps)
    return w


def test_each_stage_trains_with_fastai_v1s_adamw_and_one_cycle():
    from skinkeras.training import OneCycle, one_cycle_momentum
    from tests.training import helpers

    config = TrainConfig(model="effnet", weights="none", image_size=16)
    for stage, max_lr, epochs in ((1, 3e-3, 4), (2, 3e-4, 20)):
        model = helpers.tiny_model(config)
        compile_stage(model, config, stage=stage, steps_per_epoch=7, run_eagerly=True)
        optimizer = model.optimizer
        assert type(optimizer).__name__ == "AdamW"
        assert (optimizer.weight_decay, optimizer.beta_2, optimizer.epsilon) == (
            0.01,
            0.99,
            1e-8,
        )
        schedule = optimizer._learning_rate
        assert isinstance(schedule, OneCycle)
        total = epochs * 7
        assert schedule.get_config() == {
            "max_lr": max_lr,
            "total_steps": total,
            "pct_start": 0.3,
            "div_factor": 25.0,
            "final_div_factor": 1e4,
        }

        # Two steps with a large decay (so that it shows at float32 precision):
        # every trainable weight, BatchNorm scale/offset and biases included
        # (fastai's bn_wd=True), is decayed decoupled from the Adam step.
        model = helpers.tiny_model(config)
        compile_stage(
            model,
            config.replace(weight_decay=0.5),
            stage=stage,
            steps_per_epoch=7,
            run_eagerly=True,
        )
        optimizer = model.optimizer
        variables = model.trainable_variables
        names = {v.path for v in variables}
        assert any("bn1/gamma" in name for name in names) and any(
            "head_logits/bias" in name for name in names
        ), names
        rng = np.random.default_rng(stage)
        before = [np.array(v.numpy(), np.float64) for v in variables]
        grads = [
            [rng.normal(size=v.shape).astype("float32") for v in variables]
            for _ in range(2)
        ]
        moms = [one_cycle_momentum(step, total) for step in (0, 1)]
        lrs = [float(schedule(step)) for step in (0, 1)]
        assert lrs[0] == pytest.approx(max_lr / 25, rel=1e-6)
        optimizer.build(variables)
        for step in (0, 1):
            optimizer.beta_1.assign(moms[step])  # what OneCycleMomentum does
            optimizer.apply(grads[step], variables)
        for index, variable in enumerate(variables):
            want = _fastai_adamw(
                before[index],
                [g[index] for g in grads],
                lrs=lrs,
                moms=moms,
                wd=0.5,
                beta_2=0.99,
                eps=1e-8,
            )
            np.testing.assert_allclose(
                variable.numpy(), want, rtol=1e-6, atol=1e-8, err_msg=variable.path
            )
