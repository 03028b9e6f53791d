"""ResNet-50/101/152 and EfficientNet-B0 … B7 rebuilt with ARL and SE, from ImageNet
weights; ResNet-26 (no ImageNet weights) for training from random weights.

Every model takes RGB float pixels in 0..255 (the model-specific input
normalisation is inside the model) and outputs logits from `head_logits`.
"""

from skinkeras.models import common
from skinkeras.models.efficientnet import (
    EFFICIENTNET_B0,
    EFFICIENTNETS,
    efficientnet,
    efficientnet_b0,
)
from skinkeras.models.parts import (
    arl_layers,
    backbone_layers,
    feature_layer_name,
    head_layers,
    set_backbone_trainable,
)
from skinkeras.models.resnet import RESNETS, resnet, resnet26, resnet50
from skinkeras.models.unet import unet
from skinkeras.models.weights import TransferReport, transfer_weights

# The names of the architectures (the `model` of a run's config): the study's two
# first ("effnet" is its EfficientNet-B0, kept so that saved runs load and keep their
# names), then the field's larger ones (issue 24) and the demo's ResNet-26.
ARCHITECTURES = {
    "resnet50": RESNETS[50],
    "effnet": EFFICIENTNET_B0,
    "resnet26": RESNETS[26],
    "resnet101": RESNETS[101],
    "resnet152": RESNETS[152],
    **{f"effnet_{variant}": arch for variant, arch in EFFICIENTNETS.items()},
}
MODELS = tuple(ARCHITECTURES)


def build_model(name, **options):
    """Builds the model `name`, e.g. "resnet50", "effnet_b3", "resnet101".

    Args:
        name: one of `MODELS`: "resnet50", "resnet101", "resnet152",
            "effnet_b0" … "effnet_b7" ("effnet" = "effnet_b0", the study's name),
            "resnet26" (random weights only).
        **options: the keyword arguments of `skinkeras.models.common.build`:
            `num_classes=2, arl=False, se=None, weights="imagenet",
            input_shape=(224, 224, 3), include_top=True, head="fastai",
            dropout=0.5, include_preprocessing=True, metadata=None`
            (a `metadata_encoding`: inputs ``{"image", "age", "sex", "site"}``,
            issue 26). `se=None` means the
            model's own (EfficientNet: True, ResNet: False; True is an error for
            a ResNet). See also `resnet` / `efficientnet`.

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
    "efficientnet",
    "efficientnet_b0",
    "feature_layer_name",
    "head_layers",
    "resnet",
    "resnet26",
    "resnet50",
    "set_backbone_trainable",
    "transfer_weights",
    "unet",
]
