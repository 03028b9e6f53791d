"""ResNet-50 (He et al., CVPR 2016) with optional Attention Residual Learning.

The graph is keras.applications' ResNet50 layer for layer, with the same layer
names (the names are the weight contract: ImageNet weights are copied by name).
With `arl=True` each of the 16 bottlenecks' residual `Add` (`conv{S}_block{B}_add`)
is replaced by an `AttentionResidual` named `conv{S}_block{B}_arl` that also applies
the block's ReLU (one fused pass instead of two); `conv{S}_block{B}_out` is then an
identity that keeps the block output's keras.applications name.
"""

import keras

from skinkeras.layers import AttentionResidual, CaffePreprocess
from skinkeras.models import common

# Architecture as data: (stage name, bottleneck filters, blocks, stride of block 1).
RESNET50_STAGES = (
    ("conv2", 64, 3, 1),
    ("conv3", 128, 4, 2),
    ("conv4", 256, 6, 2),
    ("conv5", 512, 3, 2),
)
FEATURE_LAYER = "conv5_block3_out"
_BN_EPSILON = 1.001e-5  # keras.applications' value, part of the ImageNet network


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
        shortcut = keras.layers.Conv2D(
            4 * filters, 1, strides=stride, name=f"{name}_0_conv"
        )(x)
        shortcut = keras.layers.BatchNormalization(
            epsilon=_BN_EPSILON, name=f"{name}_0_bn"
        )(shortcut)
    else:
        shortcut = x

    x = keras.layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_1_bn")(x)
    x = keras.layers.Activation("relu", name=f"{name}_1_relu")(x)

    x = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_2_bn")(x)
    x = keras.layers.Activation("relu", name=f"{name}_2_relu")(x)

    x = keras.layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_3_bn")(x)

    if arl:
        # SPEC, ARL: y = x + F(x) + alpha * softmax_spatial(F(x)) * x, before the
        # ReLU, which runs inside the layer's fused pass; `{name}_out` stays (an
        # identity) so the block's output keeps keras.applications' name.
        x = AttentionResidual(activation="relu", name=f"{name}_arl")([shortcut, x])
        return keras.layers.Activation("linear", name=f"{name}_out")(x)
    x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)


def resnet50_backbone(x, *, arl=False, stages=RESNET50_STAGES):
    """Stem and the four bottleneck stages; returns `conv5_block3_out`'s output."""
    x = keras.layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(x)
    x = keras.layers.Conv2D(64, 7, strides=2, name="conv1_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=_BN_EPSILON, name="conv1_bn")(x)
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
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


def resnet50(
    *,
    num_classes=2,
    arl=False,
    se=False,
    weights="imagenet",
    input_shape=(224, 224, 3),
    include_top=True,
    head="fastai",
    dropout=0.5,
    include_preprocessing=True,
):
    """ResNet-50, optionally with ARL in all 16 bottlenecks, and a new head.

    Input: RGB float pixels in 0..255 (`include_preprocessing=True`: the first
    layer, `caffe_preprocess`, does keras.applications' caffe-style
    normalisation, RGB→BGR minus the ImageNet mean).

    Args:
        num_classes: int >= 1, logits of the head.
        arl: Attention Residual Learning in all 16 bottlenecks (16 alphas, 0 at start).
        se: must be False (there are no ImageNet weights for an SE ResNet-50);
            accepted so that both builders take the same arguments.
        weights: None (random), "imagenet" (keras.applications' file, downloaded
            and cached on first use) or the path to a ResNet50 weights file
            (official legacy `.h5` or Keras 3 `.weights.h5`, with or without top).
        input_shape: (height, width, channels); at least 32×32, 3 channels when
            `weights` or `include_preprocessing` is set.
        include_top: False returns the backbone's last feature map
            (`conv5_block3_out`), like keras.applications with `include_top=False`.
        head: "fastai" (the study's head) or "linear"; see `skinkeras.models.heads`.
        dropout: head dropout rate (fastai head: last rate; the first is half).
        include_preprocessing: start with the `caffe_preprocess` layer. False
            gives exactly keras.applications' layers (input caffe-style already).

    Returns:
        A flat functional `keras.Model` named "resnet50" or "resnet50_arl",
        outputting logits `(batch, num_classes)` from `head_logits`.
    """
    if se:
        raise ValueError(
            "ResNet-50 has no Squeeze & Excitation variant with ImageNet weights; "
            f"use se=False (or build_model(se=None)). Received: se={se!r}"
        )
    shape = common.validate_common(
        num_classes=num_classes,
        weights=weights,
        input_shape=input_shape,
        include_top=include_top,
        head=head,
        dropout=dropout,
    )
    if include_preprocessing and shape[-1] != 3:
        raise ValueError(
            "The caffe_preprocess layer needs RGB input with 3 channels; pass "
            "include_preprocessing=False for other inputs. "
            f"Received: input_shape={input_shape!r}"
        )

    def body(x):
        if include_preprocessing:
            x = CaffePreprocess(name="caffe_preprocess")(x)
        return resnet50_backbone(x, arl=arl)

    return common.assemble(
        arch="resnet50",
        name="resnet50_arl" if arl else "resnet50",
        input_shape=shape,
        body=body,
        include_top=include_top,
        head=head,
        num_classes=num_classes,
        dropout=dropout,
        weights=weights,
        leave_out=None,
    )
