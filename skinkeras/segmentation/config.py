"""`SegmentConfig`: one training run of the U-Net lesion segmenter, as plain data.

Field names equal the flags of ``experiments.segment``. This module imports no
TensorFlow, so that the command's ``--help`` does not wait for it: the encoder and
loss names it offers are listed here (a test checks them against
`skinkeras.models.unet.ENCODERS` and `skinkeras.segmentation.metrics.LOSSES`),
and a config is validated against those tables when it is created.
"""

import dataclasses
import json

from skinkeras.config import (
    check_at_least,
    check_choice,
    check_greater_than,
)

ENCODER_NAMES = ("resnet50", "efficientnet_b0")
LOSS_NAMES = ("bce", "dice", "bce_dice")
# The bounds this config shares with `TrainConfig` are the same rules, checked by the
# same functions (skinkeras.config).
AT_LEAST = {"head_epochs": 0, "epochs": 0, "encoder_lr_factor": 0}
GREATER_THAN = {"lr": 0}


def check_field(name, value):
    """Raises ValueError if field `name` cannot hold `value` (TensorFlow-free checks).

    Used by `SegmentConfig` and by `experiments.segment`'s flag validators.
    """
    if name in AT_LEAST:
        check_at_least(name, value, AT_LEAST[name])
    elif name in GREATER_THAN:
        check_greater_than(name, value, GREATER_THAN[name])


@dataclasses.dataclass
class SegmentConfig:
    """One training run of the segmenter; field names equal `experiments.segment`'s flags."""

    dataset: str = "isic2018_task1"
    data_dir: str | None = None
    train_split: str = "train"
    validation_split: str = "validation"
    encoder: str = "resnet50"
    weights: str = "imagenet"  # "imagenet", "none" or a path to encoder weights
    image_size: int = 224
    batch_size: int = 8
    head_epochs: int = 2
    epochs: int = 10
    lr: float = 3e-4
    encoder_lr_factor: float = 0.1
    loss: str = "bce"
    augment: bool = True
    train_bn: bool = True
    weight_decay: float = 0.01
    beta_2: float = 0.99
    epsilon: float = 1e-8
    threshold: float = 0.5
    seed: int = 0
    model_dir: str = "runs/segmenter"

    def __post_init__(self):
        # The tables themselves, so that an encoder added there (tests add a tiny
        # one) is valid; imported here, not at the top (they import TensorFlow).
        from skinkeras.models.unet import ENCODERS
        from skinkeras.segmentation.metrics import LOSSES

        check_choice("encoder", self.encoder, sorted(ENCODERS))
        check_choice("loss", self.loss, sorted(LOSSES))
        for field in dataclasses.fields(self):
            check_field(field.name, getattr(self, field.name))

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, values):
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in names})
