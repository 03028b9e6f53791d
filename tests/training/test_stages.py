"""Issue 5, item 3: what each stage trains, on a real ResNet-50 + ARL at 32 px.

Runs eagerly: tracing ResNet-50's train step costs more than the few steps here.
"""

import numpy as np

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
