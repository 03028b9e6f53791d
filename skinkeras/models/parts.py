"""Finding the parts of a model built by skinkeras.models: backbone, head, ARL."""

import keras

from skinkeras.layers import AttentionResidual
from skinkeras.models.heads import HEAD_PREFIX

# The last backbone feature map of each architecture (Grad-CAM, U-Net,
# include_top=False), the first found: ResNet-50's conv5 has three blocks (its
# conv5_block2_out is inside), ResNet-26's two; EfficientNet's top.
FEATURE_LAYERS = ("conv5_block3_out", "conv5_block2_out", "top_activation")


def head_layers(model):
    """The head's layers (names starting with "head_"), in forward order."""
    return [layer for layer in model.layers if layer.name.startswith(HEAD_PREFIX)]


def backbone_layers(model):
    """Every layer that is neither the input nor part of the head, in forward order."""
    return [
        layer
        for layer in model.layers
        if not layer.name.startswith(HEAD_PREFIX)
        and not isinstance(layer, keras.layers.InputLayer)
    ]


def set_backbone_trainable(model, trainable, *, train_bn=True):
    """Freezes (`trainable=False`) or unfreezes the backbone; the head stays trainable.

    With `trainable=False` and `train_bn=True` (fastai's `freeze()`, SPEC:
    "while the body is frozen its BatchNorm layers keep training") the
    backbone's BatchNormalization layers stay trainable: their scale/offset
    train and their moving statistics keep updating. ARL alphas belong to the
    backbone and are frozen with it. Recompile the model after calling this.

    Args:
        model: a model from `skinkeras.models`.
        trainable: bool.
        train_bn: keep BatchNormalization layers trainable when freezing.
    """
    for layer in backbone_layers(model):
        is_bn = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = bool(trainable) or (is_bn and train_bn)
    for layer in head_layers(model):
        layer.trainable = True


def feature_layer_name(model):
    """Name of the last backbone feature map layer: "conv5_block3_out" (ResNet-50),
    "conv5_block2_out" (ResNet-26) or "top_activation" (EfficientNet-B0)."""
    names = {layer.name for layer in model.layers}
    for name in FEATURE_LAYERS:
        if name in names:
            return name
    raise ValueError(
        "The model has none of the feature layers "
        f"{FEATURE_LAYERS}. Received: model={model.name!r}"
    )


def arl_layers(model):
    """The model's `AttentionResidual` layers in forward order (16 for ResNet-50,
    8 for ResNet-26, 9 for EfficientNet-B0); read `layer.alpha` and `layer.name`."""
    return [layer for layer in model.layers if isinstance(layer, AttentionResidual)]
