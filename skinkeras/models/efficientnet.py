"""EfficientNet-B0 … B7 (Tan & Le, ICML 2019) with optional SE and ARL.

Each graph is keras.applications' EfficientNetB{K} layer for layer, with the same
layer names (the weight contract). Two changes are options:

- `se=False` removes the Squeeze & Excitation module of every MBConv block
  (no layer at all, so every other name still matches).
- `arl=True` replaces the residual `Add` (`block{ID}_add`) of every MBConv block
  with an identity skip by an `AttentionResidual` named `block{ID}_arl` (B0: the
  9 blocks 2b, 3b, 4b, 4c, 5b, 5c, 6b, 6c, 6d; B7: 48).

As in keras.applications, B1-B7 are B0's stage table (`STAGES`) scaled by a width
and a depth coefficient (`round_filters`, `round_repeats`; `SCALING`): one table and
one rule, not eight networks.
"""

import functools
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


# Architecture as data: the seven MBConv stages of EfficientNet-B0, which B1-B7
# scale. Columns: kernel size, repeats, filters in, filters out, expand ratio, stride.
STAGES = (
    MBConvStage(3, 1, 32, 16, 1, 1),
    MBConvStage(3, 2, 16, 24, 6, 2),
    MBConvStage(5, 2, 24, 40, 6, 2),
    MBConvStage(3, 3, 40, 80, 6, 2),
    MBConvStage(5, 3, 80, 112, 6, 1),
    MBConvStage(5, 4, 112, 192, 6, 2),
    MBConvStage(3, 1, 192, 320, 6, 1),
)
STEM_FILTERS = 32
TOP_FILTERS = 1280
DEPTH_DIVISOR = 8
DROP_CONNECT_RATE = 0.2
ACTIVATION = "swish"
FEATURE_LAYER = "top_activation"
# keras.applications' EfficientNet input statistics (RGB, on 0..1 pixels).
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)


class Scaling(NamedTuple):
    """One variant's coefficients (keras.applications' `EfficientNetB{K}` call).

    keras.applications' top dropout (0.2 for B0-B1 up to 0.5 for B6-B7) belongs to
    its ImageNet classifier, which the study's head replaces (with its own dropout,
    SPEC "Head"), so it is not part of the backbone; drop-connect is
    `DROP_CONNECT_RATE` for every variant.
    """

    width_coefficient: float
    depth_coefficient: float
    native_size: int  # the resolution the variant was designed and trained at


# keras.applications.efficientnet's EfficientNetB0 ... B7 (Tan & Le, Table 1 and
# their released checkpoints): width, depth, resolution.
SCALING = {
    "b0": Scaling(1.0, 1.0, 224),
    "b1": Scaling(1.0, 1.1, 240),
    "b2": Scaling(1.1, 1.2, 260),
    "b3": Scaling(1.2, 1.4, 300),
    "b4": Scaling(1.4, 1.8, 380),
    "b5": Scaling(1.6, 2.2, 456),
    "b6": Scaling(1.8, 2.6, 528),
    "b7": Scaling(2.0, 3.1, 600),
}


def round_filters(filters, *, width_coefficient, divisor=DEPTH_DIVISOR):
    """keras.applications' `round_filters`: width-scaled, to a multiple of `divisor`."""
    filters *= width_coefficient
    new_filters = max(divisor, int(filters + divisor / 2) // divisor * divisor)
    if new_filters < 0.9 * filters:  # never round down by more than 10 %
        new_filters += divisor
    return int(new_filters)


def round_repeats(repeats, *, depth_coefficient):
    """keras.applications' `round_repeats`: depth-scaled, rounded up."""
    return int(math.ceil(depth_coefficient * repeats))


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


def _conv(
    filters,
    kernel_size=1,
    *,
    strides=1,
    padding="same",
    use_bias=False,
    activation=None,
    name,
):
    """keras.applications' EfficientNet `Conv2D`, with its initialiser."""
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        activation=activation,
        kernel_initializer=_conv_init(),
        name=name,
    )


def conv_bn(
    x, filters, kernel_size=1, *, strides=1, padding="same", activation=True, name
):
    """Conv2D → BatchNorm (→ swish): `{name}_conv`, `{name}_bn`, `{name}_activation`."""
    conv = _conv(
        filters, kernel_size, strides=strides, padding=padding, name=f"{name}_conv"
    )
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(conv(x))
    if activation:
        x = keras.layers.Activation(ACTIVATION, name=f"{name}_activation")(x)
    return x


def squeeze_excite(x, *, filters, filters_se, name):
    """keras.applications' five SE layers (names = weight contract); the same
    computation as skinkeras.layers.SqueezeExcite."""
    s = keras.layers.GlobalAveragePooling2D(name=f"{name}_se_squeeze")(x)
    s = keras.layers.Reshape((1, 1, filters), name=f"{name}_se_reshape")(s)
    s = _conv(
        filters_se, activation=ACTIVATION, use_bias=True, name=f"{name}_se_reduce"
    )(s)
    s = _conv(filters, activation="sigmoid", use_bias=True, name=f"{name}_se_expand")(s)
    return keras.layers.Multiply(name=f"{name}_se_excite")([x, s])


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
        x = conv_bn(x, filters, name=f"{name}_expand")

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
        filters_se = max(1, int(filters_in * se_ratio))
        x = squeeze_excite(x, filters=filters, filters_se=filters_se, name=name)

    x = conv_bn(x, filters_out, activation=False, name=f"{name}_project")

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


def efficientnet_backbone(
    x, *, width_coefficient, depth_coefficient, stages=STAGES, se=True, arl=False
):
    """Stem, the MBConv blocks and the top conv; returns `top_activation`'s output.

    Args:
        width_coefficient, depth_coefficient: the variant's scaling of `stages`
            (keras.applications' `EfficientNet` arguments; B0: 1.0 and 1.0).
        stages: the stage table before scaling.
        se: keep the Squeeze & Excitation module of every block.
        arl: ARL in every block with an identity skip.
    """
    width = functools.partial(round_filters, width_coefficient=width_coefficient)
    depth = functools.partial(round_repeats, depth_coefficient=depth_coefficient)
    x = keras.layers.ZeroPadding2D(padding=_correct_pad(x, 3), name="stem_conv_pad")(x)
    x = conv_bn(x, width(STEM_FILTERS), 3, strides=2, padding="valid", name="stem")

    total_blocks = sum(depth(stage.repeats) for stage in stages)
    b = 0
    for i, stage in enumerate(stages):
        filters_in, filters_out = width(stage.filters_in), width(stage.filters_out)
        for j in range(depth(stage.repeats)):
            x = mbconv_block(
                x,
                filters_in=filters_in if j == 0 else filters_out,
                filters_out=filters_out,
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
    return conv_bn(x, width(TOP_FILTERS), name="top")


def efficientnet_preprocessing(x, *, weights):
    """The stem's normalisation of RGB 0..255 pixels, as keras.applications'.

    `rescaling` (to 0..1) and `normalization` (ImageNet statistics), plus the
    extra `rescaling_1` (1/sqrt(stddev)) that keras.applications adds only with
    `weights="imagenet"` (tensorflow/tensorflow#49930: the stored statistics
    divide by the variance, not the standard deviation).
    """
    # Named as a fresh Keras session names keras.applications' unnamed stem
    # layers, so that names (and the ImageNet statistics) always match.
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescaling")(x)
    x = keras.layers.Normalization(axis=-1, name="normalization")(x)
    if weights == "imagenet":
        x = keras.layers.Rescaling(
            [1.0 / math.sqrt(s) for s in IMAGENET_STDDEV_RGB], name="rescaling_1"
        )(x)
    return x


def identity_skip_blocks(*, width_coefficient, depth_coefficient, stages=STAGES):
    """How many blocks of the scaled network have an identity skip (and so an `Add`
    for ARL to replace): `efficientnet_backbone`'s rule, without building it."""
    width = functools.partial(round_filters, width_coefficient=width_coefficient)
    count = 0
    for stage in stages:
        repeats = round_repeats(stage.repeats, depth_coefficient=depth_coefficient)
        first = stage.strides == 1 and width(stage.filters_in) == width(
            stage.filters_out
        )
        count += repeats - 1 + first
    return count


def _efficientnet(variant):
    """EfficientNet-`variant` ("b0", ...): `STAGES` scaled by `SCALING[variant]`."""
    scaling = SCALING[variant]
    coefficients = {
        "width_coefficient": scaling.width_coefficient,
        "depth_coefficient": scaling.depth_coefficient,
    }
    return common.Architecture(
        name=f"effnet_{variant}",
        weights=f"efficientnet_{variant}",
        se=True,
        preprocessing=efficientnet_preprocessing,
        preprocessing_needs_rgb=False,
        backbone=functools.partial(efficientnet_backbone, **coefficients),
        title=f"EfficientNet-{variant.upper()}",
        arl_blocks=identity_skip_blocks(**coefficients),
        native_size=scaling.native_size,
    )


EFFICIENTNETS = {variant: _efficientnet(variant) for variant in SCALING}
EFFICIENTNET_B0 = EFFICIENTNETS["b0"]


def efficientnet(variant="b0", **options):
    """EfficientNet-`variant` with or without SE, optionally with ARL, and a new head.

    Input: RGB float pixels in 0..255; the stem's `rescaling` and
    `normalization` layers normalise them (as keras.applications).
    `include_preprocessing=False` leaves them out (input normalised already;
    the ImageNet normalisation statistics are then left out of the transfer).

    Args:
        variant: "b0" … "b7" (`SCALING`).
        **options: the keyword arguments of `skinkeras.models.common.build`
            (`num_classes`, `arl`, `se`, `weights`, `input_shape`, `include_top`,
            `head`, `dropout`, `include_preprocessing`). `arl=True` adds one alpha
            per block with an identity skip (B0: 9; docs/models.md lists each);
            `se` (None: the model's own, True) keeps the SE module of every block;
            `weights="imagenet"` gives keras.applications' ImageNet network
            including its extra stem `Rescaling`, a path to an EfficientNetB{K}
            file loads like keras.applications does with a path (no extra
            `Rescaling`); `include_top=False` ends at `top_activation`.

    Returns:
        A flat functional `keras.Model` named "effnet_b{K}" plus "_se" and/or
        "_arl", outputting logits `(batch, num_classes)` from `head_logits`.
    """
    if variant not in EFFICIENTNETS:
        raise ValueError(
            f"`variant` must be one of {tuple(EFFICIENTNETS)}. "
            f"Received: variant={variant!r}"
        )
    return common.build(EFFICIENTNETS[variant], **options)


def efficientnet_b0(**options):
    """EfficientNet-B0, the study's: `efficientnet("b0", **options)` (16 blocks with
    SE, 9 ARL blocks)."""
    return efficientnet("b0", **options)
