"""EfficientNet-B0 (Tan & Le, ICML 2019) with optional SE and ARL.

The graph is keras.applications' EfficientNetB0 layer for layer, with the same
layer names (the weight contract). Two changes are options:

- `se=False` removes the Squeeze & Excitation module of all 16 MBConv blocks
  (no layer at all, so every other name still matches).
- `arl=True` replaces the residual `Add` (`block{ID}_add`) of the 9 MBConv
  blocks with an identity skip (2b, 3b, 4b, 4c, 5b, 5c, 6b, 6c, 6d) by an
  `AttentionResidual` named `block{ID}_arl`.
"""

import math
from typing import NamedTuple

import keras

from skinkeras.layers import AttentionResidual
from skinkeras.models import common

SE_RATIO = 0.25


class MBConvStage(NamedTuple):
    """One stage of MBConv blocks (keras.applications' ``DEFAULT_BLOCKS_ARGS`` entry).

    The first block maps ``filters_in`` to ``filters_out`` with ``strides``; the
    other ``repeats - 1`` keep ``filters_out`` at stride 1 (identity skip).
    """

    kernel_size: int
    repeats: int
    filters_in: int
    filters_out: int
    expand_ratio: int
    strides: int
    se_ratio: float = SE_RATIO


# Architecture as data: EfficientNet-B0's seven MBConv stages (width and depth
# coefficients 1.0, so keras.applications' filter/repeat rounding is the identity).
B0_STAGES = (
    MBConvStage(
        kernel_size=3,
        repeats=1,
        filters_in=32,
        filters_out=16,
        expand_ratio=1,
        strides=1,
    ),
    MBConvStage(
        kernel_size=3,
        repeats=2,
        filters_in=16,
        filters_out=24,
        expand_ratio=6,
        strides=2,
    ),
    MBConvStage(
        kernel_size=5,
        repeats=2,
        filters_in=24,
        filters_out=40,
        expand_ratio=6,
        strides=2,
    ),
    MBConvStage(
        kernel_size=3,
        repeats=3,
        filters_in=40,
        filters_out=80,
        expand_ratio=6,
        strides=2,
    ),
    MBConvStage(
        kernel_size=5,
        repeats=3,
        filters_in=80,
        filters_out=112,
        expand_ratio=6,
        strides=1,
    ),
    MBConvStage(
        kernel_size=5,
        repeats=4,
        filters_in=112,
        filters_out=192,
        expand_ratio=6,
        strides=2,
    ),
    MBConvStage(
        kernel_size=3,
        repeats=1,
        filters_in=192,
        filters_out=320,
        expand_ratio=6,
        strides=1,
    ),
)
B0_STEM_FILTERS = 32
B0_TOP_FILTERS = 1280
DROP_CONNECT_RATE = 0.2
ACTIVATION = "swish"
FEATURE_LAYER = "top_activation"
# keras.applications' EfficientNet input statistics (RGB, on 0..1 pixels).
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)


def _conv_init():
    # keras.applications' conv initialiser (matters with weights=None); a fresh
    # object per layer, as keras.applications' config dict gives.
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="truncated_normal"
    )


def _correct_pad(x, kernel_size):
    """keras.applications' `correct_pad`: asymmetric padding of a stride-2 conv."""
    size = x.shape[1:3]
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    correct = (kernel_size // 2, kernel_size // 2)
    return ((correct[0] - adjust[0], correct[0]), (correct[1] - adjust[1], correct[1]))


def mbconv_block(
    x,
    *,
    filters_in,
    filters_out,
    kernel_size,
    strides,
    expand_ratio,
    se,
    arl,
    drop_rate,
    name,
    se_ratio=SE_RATIO,
):
    """Inverted residual (MBConv) block, as keras.applications' `block`.

    expand 1×1 (if expand_ratio > 1) → depthwise k×k → SE (if `se`) →
    project 1×1 → identity skip when stride 1 and filters_in == filters_out
    (with drop-connect `drop_rate`), joined by `Add` or, with `arl`,
    `AttentionResidual` (SPEC, ARL; only blocks with an identity skip).

    Args:
        x: input feature map with `filters_in` channels.
        name: block label, e.g. "block2b"; layers are named "block2b_<part>".
    """
    inputs = x
    filters = filters_in * expand_ratio
    if expand_ratio != 1:
        x = keras.layers.Conv2D(
            filters,
            1,
            padding="same",
            use_bias=False,
            kernel_initializer=_conv_init(),
            name=f"{name}_expand_conv",
        )(x)
        x = keras.layers.BatchNormalization(name=f"{name}_expand_bn")(x)
        x = keras.layers.Activation(ACTIVATION, name=f"{name}_expand_activation")(x)

    if strides == 2:
        x = keras.layers.ZeroPadding2D(
            padding=_correct_pad(x, kernel_size), name=f"{name}_dwconv_pad"
        )(x)
        conv_pad = "valid"
    else:
        conv_pad = "same"
    x = keras.layers.DepthwiseConv2D(
        kernel_size,
        strides=strides,
        padding=conv_pad,
        use_bias=False,
        depthwise_initializer=_conv_init(),
        name=f"{name}_dwconv",
    )(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    x = keras.layers.Activation(ACTIVATION, name=f"{name}_activation")(x)

    if se:
        # keras.applications' five SE layers (names = weight contract); the same
        # computation as skinkeras.layers.SqueezeExcite.
        filters_se = max(1, int(filters_in * se_ratio))
        s = keras.layers.GlobalAveragePooling2D(name=f"{name}_se_squeeze")(x)
        s = keras.layers.Reshape((1, 1, filters), name=f"{name}_se_reshape")(s)
        s = keras.layers.Conv2D(
            filters_se,
            1,
            padding="same",
            activation=ACTIVATION,
            kernel_initializer=_conv_init(),
            name=f"{name}_se_reduce",
        )(s)
        s = keras.layers.Conv2D(
            filters,
            1,
            padding="same",
            activation="sigmoid",
            kernel_initializer=_conv_init(),
            name=f"{name}_se_expand",
        )(s)
        x = keras.layers.Multiply(name=f"{name}_se_excite")([x, s])

    x = keras.layers.Conv2D(
        filters_out,
        1,
        padding="same",
        use_bias=False,
        kernel_initializer=_conv_init(),
        name=f"{name}_project_conv",
    )(x)
    x = keras.layers.BatchNormalization(name=f"{name}_project_bn")(x)

    if strides == 1 and filters_in == filters_out:
        if drop_rate > 0:
            x = keras.layers.Dropout(
                drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}_drop"
            )(x)
        if arl:
            # SPEC, ARL: y = x + F(x) + alpha * softmax_spatial(F(x)) * x
            x = AttentionResidual(name=f"{name}_arl")([inputs, x])
        else:
            x = keras.layers.Add(name=f"{name}_add")([x, inputs])
    return x


def efficientnet_b0_backbone(
    x, *, se=True, arl=False, imagenet_stem_fix=False, include_preprocessing=True
):
    """Stem, the 16 MBConv blocks and the top conv; returns `top_activation`'s output.

    Args:
        imagenet_stem_fix: add keras.applications' extra stem `Rescaling`
            (1/sqrt(stddev)) that it adds only with `weights="imagenet"`
            (tensorflow/tensorflow#49930: the stored statistics divide by the
            variance, not the standard deviation).
        include_preprocessing: the stem `rescaling`/`normalization` layers.
    """
    if include_preprocessing:
        # Named as a fresh Keras session names keras.applications' unnamed
        # stem layers, so that names (and the ImageNet statistics) always match.
        x = keras.layers.Rescaling(1.0 / 255.0, name="rescaling")(x)
        x = keras.layers.Normalization(axis=-1, name="normalization")(x)
        if imagenet_stem_fix:
            x = keras.layers.Rescaling(
                [1.0 / math.sqrt(s) for s in IMAGENET_STDDEV_RGB], name="rescaling_1"
            )(x)
    x = keras.layers.ZeroPadding2D(padding=_correct_pad(x, 3), name="stem_conv_pad")(x)
    x = keras.layers.Conv2D(
        B0_STEM_FILTERS,
        3,
        strides=2,
        padding="valid",
        use_bias=False,
        kernel_initializer=_conv_init(),
        name="stem_conv",
    )(x)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.Activation(ACTIVATION, name="stem_activation")(x)

    total_blocks = sum(stage.repeats for stage in B0_STAGES)
    b = 0
    for i, stage in enumerate(B0_STAGES):
        for j in range(stage.repeats):
            x = mbconv_block(
                x,
                filters_in=stage.filters_in if j == 0 else stage.filters_out,
                filters_out=stage.filters_out,
                kernel_size=stage.kernel_size,
                strides=stage.strides if j == 0 else 1,
                expand_ratio=stage.expand_ratio,
                se=se,
                se_ratio=stage.se_ratio,
                arl=arl,
                # keras.applications: drop-connect rate grows linearly with depth.
                drop_rate=DROP_CONNECT_RATE * b / total_blocks,
                name=f"block{i + 1}{chr(ord('a') + j)}",
            )
            b += 1

    x = keras.layers.Conv2D(
        B0_TOP_FILTERS,
        1,
        padding="same",
        use_bias=False,
        kernel_initializer=_conv_init(),
        name="top_conv",
    )(x)
    x = keras.layers.BatchNormalization(name="top_bn")(x)
    return keras.layers.Activation(ACTIVATION, name="top_activation")(x)


def efficientnet_b0(
    *,
    num_classes=2,
    arl=False,
    se=True,
    weights="imagenet",
    input_shape=(224, 224, 3),
    include_top=True,
    head="fastai",
    dropout=0.5,
    include_preprocessing=True,
):
    """EfficientNet-B0 with or without SE, optionally with ARL, and a new head.

    Input: RGB float pixels in 0..255; the stem's `rescaling` and
    `normalization` layers normalise them (as keras.applications).

    Args:
        num_classes: int >= 1, logits of the head.
        arl: Attention Residual Learning in the 9 identity-skip MBConv blocks.
        se: keep the Squeeze & Excitation module of each of the 16 blocks.
        weights: None (random), "imagenet" (keras.applications' file,
            downloaded and cached on first use; the model then equals
            keras.applications' ImageNet network including its extra stem
            `Rescaling`) or the path to an EfficientNetB0 weights file
            (loaded like keras.applications does with a path: no extra
            `Rescaling`).
        input_shape: (height, width, channels); at least 32×32, 3 channels
            when `weights` is set.
        include_top: False returns the backbone's last feature map
            (`top_activation`), like keras.applications with `include_top=False`.
        head: "fastai" (the study's head) or "linear".
        dropout: head dropout rate (fastai head: last rate; the first is half).
        include_preprocessing: keep the stem `rescaling`/`normalization`
            layers. False expects already normalised input; the ImageNet
            normalisation statistics are then left out of the transfer.

    Returns:
        A flat functional `keras.Model` named "effnet_b0" plus "_se" and/or
        "_arl", outputting logits `(batch, num_classes)` from `head_logits`.
    """
    shape = common.validate_common(
        num_classes=num_classes,
        weights=weights,
        input_shape=input_shape,
        include_top=include_top,
        head=head,
        dropout=dropout,
    )
    name = "effnet_b0" + ("_se" if se else "") + ("_arl" if arl else "")

    def left_out(layer_name):
        if not se and "_se_" in layer_name:
            return "se=False"
        if not include_preprocessing and layer_name == "normalization":
            return "include_preprocessing=False"
        return None

    def body(x):
        return efficientnet_b0_backbone(
            x,
            se=se,
            arl=arl,
            imagenet_stem_fix=weights == "imagenet",
            include_preprocessing=include_preprocessing,
        )

    return common.assemble(
        arch="efficientnet_b0",
        name=name,
        input_shape=shape,
        body=body,
        include_top=include_top,
        head=head,
        num_classes=num_classes,
        dropout=dropout,
        weights=weights,
        leave_out=left_out,
    )
