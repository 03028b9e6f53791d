"""ResNet-50 and EfficientNet-B0 rebuilt with ARL and SE, from ImageNet weights.

Every model takes RGB float pixels in 0..255 (the model-specific input
normalisation is inside the model) and outputs logits from `head_logits`.
"""

from skinkeras.models.efficientnet import efficientnet_b0
from skinkeras.models.parts import (
    arl_layers,
    backbone_layers,
    feature_layer_name,
    head_layers,
    set_backbone_trainable,
)
from skinkeras.models.resnet import resnet50
from skinkeras.models.unet import unet
from skinkeras.models.weights import TransferReport, transfer_weights

MODELS = ("resnet50", "effnet")
_DEFAULT_SE = {"resnet50": False, "effnet": True}


def build_model(
    name,
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
):
    """Builds the model `name` ("resnet50" or "effnet" = EfficientNet-B0).

    Args:
        name: "resnet50" or "effnet".
        se: Squeeze & Excitation; None means the model's own (EfficientNet-B0:
            True, ResNet-50: False; True is an error for ResNet-50).
        num_classes, arl, weights, input_shape, include_top, head, dropout,
        include_preprocessing: see `resnet50` / `efficientnet_b0`.

    Returns:
        A flat functional `keras.Model` whose `head_logits` layer outputs logits.
    """
    if name not in MODELS:
        raise ValueError(f"`name` must be one of {MODELS}. Received: name={name!r}")
    builder = {"resnet50": resnet50, "effnet": efficientnet_b0}[name]
    return builder(
        num_classes=num_classes,
        arl=arl,
        se=_DEFAULT_SE[name] if se is None else se,
        weights=weights,
        input_shape=input_shape,
        include_top=include_top,
        head=head,
        dropout=dropout,
        include_preprocessing=include_preprocessing,
    )


__all__ = [
    "MODELS",
    "TransferReport",
    "arl_layers",
    "backbone_layers",
    "build_model",
    "efficientnet_b0",
    "feature_layer_name",
    "head_layers",
    "resnet50",
    "set_backbone_trainable",
    "transfer_weights",
    "unet",
]
