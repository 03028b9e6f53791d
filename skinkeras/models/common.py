"""Argument checks and the assembly shared by the ResNet-50 and EfficientNet-B0 builders."""

import os

import keras

from skinkeras.models import heads
from skinkeras.models import weights as weights_lib

# keras.applications' smallest input: both backbones downsample by 32.
MIN_SIZE = 32


def validate_common(*, num_classes, weights, input_shape, include_top, head, dropout):
    """Checks the arguments both builders share, before any layer is made.

    Returns:
        `input_shape` as a tuple.
    """
    if include_top:
        if (
            isinstance(num_classes, bool)
            or not isinstance(num_classes, int)
            or num_classes < 1
        ):
            raise ValueError(
                "`num_classes` must be an integer >= 1. "
                f"Received: num_classes={num_classes!r}"
            )
        if head not in heads.HEADS:
            raise ValueError(
                f"`head` must be one of {heads.HEADS}. Received: head={head!r}"
            )
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, (int, float))
            or not 0 <= dropout < 1
        ):
            raise ValueError(
                f"`dropout` must be a number in [0, 1). Received: dropout={dropout!r}"
            )
    if weights is not None and weights != "imagenet":
        if not isinstance(weights, (str, os.PathLike)):
            raise ValueError(
                "`weights` must be None, 'imagenet' or the path to a weights file. "
                f"Received: weights={weights!r}"
            )
        if not os.path.exists(weights):
            raise ValueError(
                "`weights` is neither None nor 'imagenet', and no file exists at "
                f"that path. Received: weights={weights!r}"
            )
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = ()
    if len(shape) != 3 or not all(
        d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in shape
    ):
        raise ValueError(
            "`input_shape` must be (height, width, channels), channels last. "
            f"Received: input_shape={input_shape!r}"
        )
    height, width, channels = shape
    if any(d is not None and d < MIN_SIZE for d in (height, width)):
        raise ValueError(
            f"`input_shape` must be at least {MIN_SIZE}×{MIN_SIZE} pixels (both "
            f"backbones downsample by 32). Received: input_shape={input_shape!r}"
        )
    if channels is None or channels < 1:
        raise ValueError(
            "`input_shape` needs a known channel count. "
            f"Received: input_shape={input_shape!r}"
        )
    if weights is not None and channels != 3:
        raise ValueError(
            "ImageNet weights need RGB input with 3 channels; use weights=None for "
            f"other inputs. Received: input_shape={input_shape!r}"
        )
    return shape


def assemble(
    *,
    arch,
    name,
    input_shape,
    body,
    include_top,
    head,
    num_classes,
    dropout,
    weights,
    leave_out,
):
    """Input → `body` (backbone) → optional head → weights.

    Args:
        arch: "resnet50" or "efficientnet_b0" (which keras.applications model
            the weights come from).
        name: the model's name.
        input_shape: (height, width, channels).
        body: function `x -> feature map` that makes the backbone's layers.
        include_top, head, num_classes, dropout: see `build_model`.
        weights: None, "imagenet" or a path (already validated).
        leave_out: function `layer name -> reason or None` naming the
            keras.applications layers whose weights are left out on purpose.

    Returns:
        The functional `keras.Model`.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = body(inputs)
    if include_top:
        x = heads.add_head(x, head=head, num_classes=num_classes, dropout=dropout)
    model = keras.Model(inputs, x, name=name)
    if weights is not None:
        weights_lib.load_backbone_weights(
            model, arch=arch, weights=weights, leave_out=leave_out
        )
    return model
