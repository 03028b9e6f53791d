"""ResNet-50 and EfficientNet-B0 rebuilt with ARL and SE, from ImageNet weights;
ResNet-26 (no ImageNet weights) for training from random weights.

Every model takes RGB float pixels in 0..255 (the model-specific input
normalisation is inside the model) and outputs logits from `head_logits`.
"""

from skinkeras.models import common
from skinkeras.models.efficientnet import EFFICIENTNET_B0, efficientnet_b0
from skinkeras.models.parts import (
    arl_layers,
    backbone_layers,
    feature_layer_name,
    head_layers,
    set_backbone_trainable,
)
from skinkeras.models.resnet import RESNET26, RESNET50, resnet26, resnet50
from skinkeras.models.unet import unet
from skinkeras.models.weights import TransferReport, transfer_weights

# The study's names of the architectures (the `model` of a run's config).
ARCHITECTURES = {"resnet50": RESNET50, "effnet": EFFICIENTNET_B0, "resnet26": RESNET26}
MODELS = tuple(ARCHITECTURES)


def build_model(name, **options):
    """Builds the model `name` ("resnet50", "effnet" = EfficientNet-B0, "resnet26").

    Args:
        name: "resnet50", "effnet" or "resnet26" (random weights only).
        **options: the keyword arguments of `skinkeras.models.common.build`:
            `num_classes=2, arl=False, se=None, weights="imagenet",
            input_shape=(224, 224, 3), include_top=True, head="fastai",
            dropout=0.5, include_preprocessing=True`. `se=None` means the
            model's own (EfficientNet-B0: True, ResNet-50: False; True is an
            error for ResNet-50). See also `resnet50` / `efficientnet_b0`.

    Returns:
        A flat functional `keras.Model` whose `head_logits` layer outputs logits.
    """
    if name not in ARCHITECTURES:
        raise ValueError(f"`name` must be one of {MODELS}. Received: name={name!r}")
    return common.build(ARCHITECTURES[name], **options)


__all__ = [
    "ARCHITECTURES",
    "MODELS",
    "TransferReport",
    "arl_layers",
    "backbone_layers",
    "build_model",
    "efficientnet_b0",
    "feature_layer_name",
    "head_layers",
    "resnet26",
    "resnet50",
    "set_backbone_trainable",
    "transfer_weights",
    "unet",
]
