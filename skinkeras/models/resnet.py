"""ResNet-50/101/152 (He et al., CVPR 2016) with optional Attention Residual Learning.

Each graph is keras.applications' ResNet50 / ResNet101 / ResNet152 layer for layer,
with the same layer names (the names are the weight contract: ImageNet weights are
copied by name); the depths differ only in blocks per stage (`BLOCKS`).
With `arl=True` each bottleneck's residual `Add` (`conv{S}_block{B}_add`; 16, 33, 50)
is replaced by an `AttentionResidual` named `conv{S}_block{B}_arl` that also applies
the block's ReLU (one fused pass instead of two); `conv{S}_block{B}_out` is then an
identity that keeps the block output's keras.applications name.

ResNet-26 is the same network with two bottlenecks per stage (timm's `resnet26`;
keras.applications' generic `ResNet` with that `stack_fn`). No ImageNet weights exist
for it: it is for training from random weights, where ResNet-50's depth learns
slowly on a few hundred images (the offline demo, issue 23).
"""

import functools

import keras

from skinkeras.layers import AttentionResidual, CaffePreprocess
from skinkeras.models import common, heads

# Architecture as data: blocks per stage, the only difference between ResNet
# depths (keras.applications' stack_fn: ResNet-101 3-4-23-3, ResNet-152 3-8-36-3).
BLOCKS = {
    26: (2, 2, 2, 2),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}


def stages(blocks):
    """The stage table ((stage name, bottleneck filters, blocks, stride of block 1),
    ...) of a ResNet with these blocks per stage."""
    return tuple(
        (f"conv{index + 2}", 64 * 2**index, count, 1 if index == 0 else 2)
        for index, count in enumerate(blocks)
    )


RESNET50_STAGES = stages(BLOCKS[50])
_BN_EPSILON = 1.001e-5  # keras.applications' value, part of the ImageNet network
# How fast the moving statistics follow training: the study's ResNet-50 is fastai
# v1's `cnn_learner(data, models.resnet50)` body, torchvision's resnet50, whose
# `nn.BatchNorm2d` layers keep torch's default momentum (0.1 of the new batch;
# Keras' 0.9), not Keras' 0.99. Training only: inference and the ImageNet weights
# are the same either way. From random weights it decides whether the validation
# figures of an epoch describe that epoch's network (the offline demo, issue 23).
_BN_MOMENTUM = heads.TORCH_BN_MOMENTUM


def conv_bn(x, filters, kernel_size, *, strides=1, padding="valid", relu, name):
    """Conv2D → BatchNorm (→ ReLU): layers `{name}_conv`, `{name}_bn`, `{name}_relu`."""
    x = keras.layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, name=f"{name}_conv"
    )(x)
    x = keras.layers.BatchNormalization(
        momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, name=f"{name}_bn"
    )(x)
    if relu:
        x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
    return x


def bottleneck_block(x, *, filters, stride, conv_shortcut, arl, name):
    """ResNet v1 bottleneck: 1×1 → 3×3 → 1×1 (4·filters), plus the shortcut.

    Args:
        x: input feature map.
        filters: bottleneck width; the block outputs `4 * filters` channels.
        stride: stride of the first 1×1 convolution (and of the shortcut).
        conv_shortcut: projection shortcut (1×1 conv + BN) instead of identity.
        arl: join shortcut and residual with `AttentionResidual` (SPEC, ARL).
        name: block label, e.g. "conv3_block2".
    """
    if conv_shortcut:
        shortcut = conv_bn(
            x, 4 * filters, 1, strides=stride, relu=False, name=f"{name}_0"
        )
    else:
        shortcut = x
    x = conv_bn(x, filters, 1, strides=stride, relu=True, name=f"{name}_1")
    x = conv_bn(x, filters, 3, padding="same", relu=True, name=f"{name}_2")
    x = conv_bn(x, 4 * filters, 1, relu=False, name=f"{name}_3")

    if arl:
        # SPEC, ARL: y = x + F(x) + alpha * softmax_spatial(F(x)) * x, before the
        # ReLU, which runs inside the layer's fused pass; `{name}_out` stays (an
        # identity) so the block's output keeps keras.applications' name.
        x = AttentionResidual(activation="relu", name=f"{name}_arl")([shortcut, x])
        return keras.layers.Activation("linear", name=f"{name}_out")(x)
    x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)


def resnet_backbone(x, *, stages, se=False, arl=False):
    """Stem and the bottleneck stages; returns the last block's `_out` feature map.

    Args:
        stages: the stage table, e.g. `RESNET50_STAGES`.
        se: must be False (ResNet has no SE blocks); part of every backbone's
            signature (`common.Architecture.backbone`).
        arl: ARL in every bottleneck.
    """
    if se:
        raise ValueError(
            f"ResNet has no Squeeze & Excitation blocks. Received: se={se!r}"
        )
    x = keras.layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(x)
    x = conv_bn(x, 64, 7, strides=2, relu=True, name="conv1")
    x = keras.layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, filters, blocks, stride in stages:
        for b in range(1, blocks + 1):
            x = bottleneck_block(
                x,
                filters=filters,
                stride=stride if b == 1 else 1,
                conv_shortcut=b == 1,
                arl=arl,
                name=f"{stage}_block{b}",
            )
    return x


def caffe_preprocessing(x, *, weights):
    """keras.applications' caffe-style input (RGB→BGR minus the ImageNet mean),
    whatever the weights."""
    del weights  # the same normalisation with and without ImageNet weights
    return CaffePreprocess(name="caffe_preprocess")(x)


def _resnet(depth, *, imagenet=True):
    """ResNet-`depth`: keras.applications' ResNet{depth} (its ImageNet weights where
    `imagenet`), stages from `BLOCKS`."""
    return common.Architecture(
        name=f"resnet{depth}",
        weights=f"resnet{depth}" if imagenet else None,
        se=False,
        preprocessing=caffe_preprocessing,
        preprocessing_needs_rgb=True,
        backbone=functools.partial(resnet_backbone, stages=stages(BLOCKS[depth])),
        title=f"ResNet-{depth}",
        arl_blocks=sum(BLOCKS[depth]),  # every bottleneck has a residual sum
    )


RESNET50 = _resnet(50)
RESNET101 = _resnet(101)
RESNET152 = _resnet(152)
RESNET26 = _resnet(26, imagenet=False)
RESNETS = {50: RESNET50, 101: RESNET101, 152: RESNET152, 26: RESNET26}


def resnet(depth, **options):
    """ResNet-`depth` (26, 50, 101 or 152), optionally with ARL in every bottleneck
    (8, 16, 33, 50 alphas), and a new head; see `resnet50` for the input and options.

    Returns:
        A flat functional `keras.Model` named "resnet{depth}" or "resnet{depth}_arl".
    """
    if depth not in RESNETS:
        raise ValueError(
            f"`depth` must be one of {tuple(RESNETS)}. Received: depth={depth!r}"
        )
    return common.build(RESNETS[depth], **options)


def resnet50(**options):
    """ResNet-50, optionally with ARL in all 16 bottlenecks, and a new head.

    Input: RGB float pixels in 0..255 (`include_preprocessing=True`: the first
    layer, `caffe_preprocess`, does keras.applications' caffe-style
    normalisation, RGB→BGR minus the ImageNet mean). `include_preprocessing=False`
    gives exactly keras.applications' layers (input caffe-style already).

    Args:
        **options: the keyword arguments of `skinkeras.models.common.build`
            (`num_classes`, `arl`, `se`, `weights`, `input_shape`, `include_top`,
            `head`, `dropout`, `include_preprocessing`). `arl=True` adds 16
            alphas; `se` must be False or None (there are no ImageNet weights
            for an SE ResNet-50); `weights` is a ResNet50 file or "imagenet";
            `include_top=False` ends at `conv5_block3_out`.

    Returns:
        A flat functional `keras.Model` named "resnet50" or "resnet50_arl",
        outputting logits `(batch, num_classes)` from `head_logits`.
    """
    return resnet(50, **options)


def resnet26(**options):
    """ResNet-26: ResNet-50's layers with two bottlenecks per stage, random weights.

    The same input convention, layer names (`conv{S}_block{1,2}_*`), ARL placement
    (8 blocks with `arl=True`) and head as `resnet50`; `include_top=False` ends at
    `conv5_block2_out`. There are no ImageNet weights: `weights` must be None.

    Args:
        **options: the keyword arguments of `skinkeras.models.common.build`.

    Returns:
        A flat functional `keras.Model` named "resnet26" or "resnet26_arl".
    """
    return resnet(26, **options)
