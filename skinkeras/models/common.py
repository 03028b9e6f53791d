"""The generic classifier builder: one argument list, its checks, head and weights.

Each backbone variant is an `Architecture` (data: its names, whether it has SE
blocks, and the functions that make its layers); `build` turns one into a model.
The public builders (`resnet50`, `efficientnet_b0`, `build_model`) are thin
calls of `build`, as keras.applications' `ResNet50` calls its generic `ResNet`.
"""

import dataclasses
import os
from collections.abc import Callable

import keras

from skinkeras import config as config_lib
from skinkeras.models import heads
from skinkeras.models import weights as weights_lib

# keras.applications' smallest input: every backbone downsamples by 32.
MIN_SIZE = 32


@dataclasses.dataclass(frozen=True)
class Architecture:
    """One backbone variant, as `build` needs it.

    Attributes:
        name: the model's name; "_se" (SE blocks kept) and "_arl" are appended.
        weights: the keras.applications model the ImageNet weights come from
            (a key of `skinkeras.models.weights.ARCHS`); None where there is
            none (the network trains from random weights only).
        se: keras.applications' network has Squeeze & Excitation blocks. Then
            `se=None` keeps them and `se=False` removes them; without them
            `se=True` is an error (there are no ImageNet weights for them).
        preprocessing: `(x, *, weights) -> x`, the first layers, which turn RGB
            0..255 pixels into the backbone's input (`weights` as `build`'s).
        preprocessing_needs_rgb: `preprocessing` works on 3 channels only.
        backbone: `(x, *, se, arl) -> feature map`, keras.applications' layers
            from the input (already preprocessed) to the last feature map.
        title: the name people know it by, e.g. "EfficientNet-B3" (model cards).
        arl_blocks: how many residual sums `arl=True` replaces (one alpha each).
        native_size: the input side the network was designed and trained at
            (keras.applications' default input shape); any side >= `MIN_SIZE` works.
    """

    name: str
    weights: str | None
    se: bool
    preprocessing: Callable
    preprocessing_needs_rgb: bool
    backbone: Callable
    title: str
    arl_blocks: int
    native_size: int = 224


def build(
    architecture,
    *,
    num_classes=2,
    arl=False,
    se=None,
    weights="imagenet",
    input_shape=(224, 224, 3),
    include_top=True,
    head="fastai",
    dropout=0.5,
    include_preprocessing=True,
    metadata=None,
):
    """Builds `architecture` with a new head and ImageNet (or other) weights.

    Every argument is checked before a layer is made (and before a download).

    Args:
        architecture: an `Architecture`, e.g. `skinkeras.models.resnet.RESNET50`.
        num_classes: int >= 1, logits of the head.
        arl: Attention Residual Learning in every block with a residual sum (one
            alpha each, 0 at start).
        se: Squeeze & Excitation; None means the architecture's own (True where
            keras.applications' network has SE blocks); False removes them; True
            is an error for an architecture without them.
        weights: None (random), "imagenet" (keras.applications' file, downloaded
            and cached on first use) or the path to a weights file of the
            keras.applications model (official legacy `.h5` or Keras 3
            `.weights.h5`, with or without top).
        input_shape: (height, width, channels); at least 32×32, 3 channels when
            `weights` is set or the preprocessing needs RGB.
        include_top: False returns the backbone's last feature map, like
            keras.applications with `include_top=False`.
        head: "fastai" (the study's head) or "linear"; see `skinkeras.models.heads`.
        dropout: head dropout rate (fastai head: last rate; the first is half).
        include_preprocessing: start with the architecture's input normalisation.
            False gives exactly keras.applications' backbone layers, which then
            expect already normalised input (any normalisation statistics are
            then left out of the weight transfer).
        metadata: None, or a `metadata_encoding` (`skinkeras.config`; issue 26):
            the model then takes ``{"image", "age", "sex", "site"}``
            (`heads.metadata_inputs`) and its head concatenates Gessert et al.'s
            metadata embedding (`heads.metadata_branch`) with the pooled image
            features. Needs `include_top`.

    Returns:
        A flat functional `keras.Model` named after the architecture (plus "_se"
        and/or "_arl"), outputting logits `(batch, num_classes)` from
        `head_logits` (or, without top, the last feature map).
    """
    se = architecture.se if se is None else se
    if weights is not None and architecture.weights is None:
        raise ValueError(
            f"{architecture.name} has no ImageNet weights (keras.applications has "
            "no such network): train it from random weights, weights=None. "
            f"Received: weights={weights!r}"
        )
    if se and not architecture.se:
        raise ValueError(
            f"{architecture.name} has no Squeeze & Excitation variant with ImageNet "
            f"weights; use se=False or se=None. Received: se={se!r}"
        )
    shape = _check_arguments(
        num_classes=num_classes,
        weights=weights,
        input_shape=input_shape,
        include_top=include_top,
        head=head,
        dropout=dropout,
    )
    if (
        include_preprocessing
        and architecture.preprocessing_needs_rgb
        and shape[-1] != 3
    ):
        raise ValueError(
            f"{architecture.name}'s input preprocessing needs RGB input with 3 "
            "channels; pass include_preprocessing=False for other inputs. "
            f"Received: input_shape={input_shape!r}"
        )

    if metadata is not None:
        if not include_top:
            raise ValueError(
                "`metadata` joins the image features in the head: it needs "
                f"include_top=True. Received: include_top={include_top!r}"
            )
        config_lib.check_metadata(metadata=True, metadata_encoding=metadata)

    inputs = image = keras.Input(shape=shape, name="image")
    x = image
    if include_preprocessing:
        x = architecture.preprocessing(x, weights=weights)
    x = architecture.backbone(x, se=se, arl=arl)
    embedding = None
    if metadata is not None:
        metadata_inputs = heads.metadata_inputs()
        inputs = {"image": image, **metadata_inputs}
        embedding = heads.metadata_branch(metadata_inputs, encoding=metadata)
    if include_top:
        x = heads.add_head(
            x, head=head, num_classes=num_classes, dropout=dropout, metadata=embedding
        )
    name = architecture.name + ("_se" if se else "") + ("_arl" if arl else "")
    model = keras.Model(inputs, x, name=name)

    def left_out(layer_name):
        # keras.applications' layers with weights that the options removed.
        if not se and "_se_" in layer_name:
            return "se=False"
        if not include_preprocessing and layer_name == "normalization":
            return "include_preprocessing=False"
        return None

    if weights is not None:
        weights_lib.load_backbone_weights(
            model, arch=architecture.weights, weights=weights, leave_out=left_out
        )
    return model


def _check_arguments(*, num_classes, weights, input_shape, include_top, head, dropout):
    """Checks the arguments every architecture shares; returns `input_shape` as a tuple."""
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
