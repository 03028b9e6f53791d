"""`TrainConfig`: everything one training run needs, as plain JSON-serialisable data.

Field names equal the flag names of ``experiments.main`` (README, "Flags"),
so a run directory's ``config.json`` reads like the command that made it.

A leaf of the package: it imports nothing of skinkeras outside `skinkeras.config`
(tests/test_architecture.py), so that the run directory (`skinkeras.rundir`), the data pipeline, training,
inference and segmentation all read it from below. It imports no TensorFlow, so that
``--help`` does not wait for it, and it is the one source of the command-line defaults, choices and checks
(`experiments.common_flags` reads them). The choice lists copy names that the
TensorFlow modules implement (`skinkeras.models.MODELS`, `skinkeras.models.heads.HEADS`,
`skinkeras.data.preprocessing`); tests/experiments/test_common_flags.py checks that the
copies are equal. Each rule is one ``check_*`` function, used by `TrainConfig.validate`,
by the flag validators, and (augmentation) by `skinkeras.data.make_dataset`.

Beside it: `skinkeras.config.patient`, the patient metadata's fields and encoding
record (issue 26; its names are re-exported here), and `skinkeras.config.runnable`,
the checks against this machine and the real models before training.
"""

import dataclasses
import json
import math

from skinkeras.config.patient import (  # noqa: F401 (re-exported)
    AGE_RANGE,
    METADATA_CSV_COLUMNS,
    METADATA_FEATURES,
    MISSING_VALUES,
    UNKNOWN,
    check_metadata,
    metadata_encoding,
)

# "effnet" is the study's EfficientNet-B0 (the same network as "effnet_b0"; runs
# saved under that name keep it); the larger ones are the field's (issue 24).
EFFICIENTNETS = tuple(f"effnet_b{k}" for k in range(8))
MODELS = ("resnet50", "effnet", "resnet26", "resnet101", "resnet152", *EFFICIENTNETS)
# Models keras.applications has no ImageNet weights for: they train from random
# weights (`weights="none"`), e.g. ResNet-26 in the offline demo.
RANDOM_ONLY_MODELS = ("resnet26",)
# The models with Squeeze & Excitation blocks (`se`).
SE_MODELS = ("effnet", *EFFICIENTNETS)
HEADS = ("fastai", "linear")
# Target → number of classes (SPEC: the binary melanoma task; the 3-class label kept).
NUM_CLASSES = {"melanoma": 2, "label": 3}
# Targets whose classes the dataset defines (issue 16: ISIC 2019 / HAM10000
# diagnoses): `num_classes` and `class_names` come from its ClassLabel feature.
DATASET_LABELS = ("diagnosis",)
LABELS = (*NUM_CLASSES, *DATASET_LABELS)
LOSSES = ("cross_entropy", "focal")
CLASS_WEIGHTS = ("none", "balanced")
PREPROCESSING = ("none", "max_rgb", "shades_of_gray", "ben_graham", "lesion_mask")
# The preprocessings that read each example's lesion mask (`skinkeras.data.ops`' ops
# whose `needs` hold "mask"), so the only ones that take `masks_dir`.
MASKED_PREPROCESSING = ("lesion_mask",)
MASK_MODES = ("grayscale", "gray128")
STRATEGIES = ("auto", "cpu", "gpu", "mirrored", "tpu", "multiworker")
# Keys that may differ between the first run and a resumed one (where and how it runs,
# not what it computes).
RUNTIME_KEYS = (
    "model_dir",
    "data_dir",
    "seeds",
    "strategy",
    "tpu",
    "jit_compile",
    "deterministic",
)

CHOICES = {
    "model": MODELS,
    "head": HEADS,
    "label": LABELS,
    "loss": LOSSES,
    "class_weight": CLASS_WEIGHTS,
    "preprocessing": PREPROCESSING,
    "mask_mode": MASK_MODES,
    "strategy": STRATEGIES,
}
# Single-field bounds (`check_field`); `experiments` flags are validated with them too.
AT_LEAST = {
    "image_size": 1,
    "batch_size": 1,
    "num_classes": 1,
    "head_epochs": 0,
    "epochs": 0,
    "weight_decay": 0,
    "focal_gamma": 0,
}
GREATER_THAN = {"head_lr": 0, "lr": 0, "epsilon": 0}
IN_RANGE = {"seed": (0, 2**31), "beta_2": (0, 1)}  # [low, high)


def _check_finite(name, value):
    # `inf > 0` and `nan < 0` are both False: a bound alone lets them through.
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number. Received: {name}={value}")


def check_at_least(name, value, bound):
    _check_finite(name, value)
    if value < bound:
        raise ValueError(f"`{name}` must be >= {bound}. Received: {name}={value}")


def check_greater_than(name, value, bound):
    _check_finite(name, value)
    if not value > bound:
        raise ValueError(f"`{name}` must be > {bound}. Received: {name}={value}")


def check_in_range(name, value, low, high):
    _check_finite(name, value)
    if not low <= value < high:
        raise ValueError(
            f"`{name}` must be in [{low}, {high}). Received: {name}={value}"
        )


def check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(
            f"`{name}` must be one of {list(allowed)}. Received: {name}={value!r}"
        )


def check_field(name, value):
    """Raises ValueError if field `name` cannot hold `value`, whatever the others are.

    The one place of each single-field rule: `TrainConfig.validate` and the flag
    validators of `experiments.common_flags` both call it.
    """
    if name in CHOICES:
        check_choice(name, value, CHOICES[name])
    elif name in AT_LEAST:
        check_at_least(name, value, AT_LEAST[name])
    elif name in GREATER_THAN:
        check_greater_than(name, value, GREATER_THAN[name])
    elif name in IN_RANGE:
        if name == "seed" and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"`seed` must be an int. Received: seed={value!r}")
        check_in_range(name, value, *IN_RANGE[name])
    elif name == "seeds" and value is not None:
        parse_seeds(value)


def parse_seeds(items):
    """The seeds of ``--seeds``: ints, or strings ``"k"`` and inclusive ranges
    ``"a-b"`` (issue 25: ``--seeds=0-9``), in the order given; a ValueError naming
    the value for anything else, a seed out of range or a repeated one."""
    low, high = IN_RANGE["seed"]
    seeds = []
    for item in items:
        first, dash, last = str(item).strip().partition("-")
        try:
            if isinstance(item, bool) or (dash and first and int(last) < int(first)):
                raise ValueError
            ends = (int(first), int(last)) if dash and first else (int(item),) * 2
        except ValueError:
            raise ValueError(
                "`seeds` must be integers or ranges a-b (a <= b), e.g. 0,1 or 0-9. "
                f"Received: seeds={items!r}"
            ) from None
        seeds.extend(range(ends[0], ends[1] + 1))
    if any(not low <= seed < high for seed in seeds):
        raise ValueError(
            f"`seeds` must be integers in [{low}, {high}). Received: seeds={items!r}"
        )
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"`seeds` must not repeat a seed. Received: seeds={items!r}")
    return seeds


def check_se(*, model, se):
    if model not in SE_MODELS and se:
        raise ValueError(
            f"--se applies only to EfficientNet (--model=effnet or effnet_b0 … "
            f"effnet_b7; {model} has no Squeeze & Excitation); remove --se or use "
            "one of those. Received: se=True"
        )


def check_weights(*, model, weights):
    if model in RANDOM_ONLY_MODELS and weights != "none":
        raise ValueError(
            f"--model={model} has no ImageNet weights (keras.applications has no "
            "such network): add --weights=none to train it from random weights. "
            f"Received: weights={weights!r}"
        )


def check_augmentation(*, augment, lighting, flip, warp):
    for name, value in (("lighting", lighting), ("flip", flip), ("warp", warp)):
        if value and not augment:
            raise ValueError(
                f"`{name}` is part of augmentation and needs augment=True (on the "
                "command line: remove --noaugment). "
                f"Received: {name}={value!r}, augment={augment!r}"
            )


def check_num_classes(*, label, num_classes):
    if label == "melanoma" and num_classes != 2:
        raise ValueError(
            "`num_classes` must be 2 for label='melanoma'. "
            f"Received: num_classes={num_classes}"
        )


def check_class_names(*, label, num_classes, class_names):
    if label in DATASET_LABELS and class_names is None:
        raise ValueError(
            f"label={label!r} takes its classes from the dataset: give `class_names` "
            "(its ClassLabel names, `skinkeras.data.dataset_info(...)"
            "['class_names']`; experiments.main reads them). "
            f"Received: class_names={class_names!r}"
        )
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(
            f"`class_names` must name the {num_classes} classes (`num_classes`). "
            f"Received: class_names={class_names!r}"
        )


def check_focal_gamma(*, loss, focal_gamma):
    if loss != "focal" and focal_gamma != TrainConfig.focal_gamma:
        raise ValueError(
            "`focal_gamma` is used only with loss='focal' (on the command line: "
            f"add --loss=focal). Received: focal_gamma={focal_gamma!r}"
        )


def check_masks_dir(*, preprocessing, masks_dir):
    if preprocessing not in MASKED_PREPROCESSING and masks_dir:
        raise ValueError(
            "`masks_dir` is used only with a preprocessing that reads lesion masks "
            f"({', '.join(MASKED_PREPROCESSING)}). "
            f"Received: masks_dir={masks_dir!r}"
        )


def check_epochs(*, head_epochs, epochs):
    # Zero epochs in both stages would write an untrained model.keras as a result.
    if head_epochs + epochs < 1:
        raise ValueError(
            "At least one epoch must train: `head_epochs` (stage 1) and `epochs` "
            "(stage 2) are both 0. "
            f"Received: head_epochs={head_epochs}, epochs={epochs}"
        )


# The rules between fields: {check: the fields it reads (its keyword arguments)}.
RULES = {
    check_epochs: ("head_epochs", "epochs"),
    check_se: ("model", "se"),
    check_weights: ("model", "weights"),
    check_augmentation: ("augment", "lighting", "flip", "warp"),
    check_num_classes: ("label", "num_classes"),
    check_class_names: ("label", "num_classes", "class_names"),
    check_focal_gamma: ("loss", "focal_gamma"),
    check_masks_dir: ("preprocessing", "masks_dir"),
    check_metadata: ("metadata", "metadata_encoding"),
}


@dataclasses.dataclass
class TrainConfig:
    """One configuration of the study's two-stage training (SPEC, training protocol).

    The defaults are the study's protocol; where the thesis is silent they are fastai
    v1.0.61's, the framework its protocol matches (README, "The study's protocol",
    maps each default to its thesis section or fastai function).

    Stage 1 trains the new head for ``head_epochs`` with one-cycle at ``head_lr`` and the
    backbone frozen (its BatchNorm layers still training when ``train_bn``); stage 2
    trains everything for ``epochs`` with one-cycle at ``lr``. AdamW with
    ``weight_decay``, ``beta_2`` and ``epsilon``. Training epochs are drawn as
    fastai's loader does (``oversample``) and augmented as its `get_transforms`
    (``augment``, ``lighting``, ``flip``, ``warp``). ``batch_size`` is per replica when
    ``scale_batch`` (global = batch_size x replicas), else it is the global batch and
    must divide by the number of replicas. ``deterministic`` turns on TensorFlow's op
    determinism (GPU/TPU; CPU runs are deterministic without it).
    """

    model: str = "effnet"
    arl: bool = False
    se: bool | None = None  # None: the model's own default (EfficientNet-B0 has SE)
    head: str = "fastai"
    num_classes: int = 2
    label: str = "melanoma"
    # The label's class names; None: the fixed labels' (`skinkeras.metrics`).
    class_names: list[str] | None = None
    preprocessing: str = "none"
    masks_dir: str | None = None
    mask_mode: str = "grayscale"
    dataset: str = "isic2017"
    data_dir: str | None = None
    image_size: int = 224
    batch_size: int = 16
    scale_batch: bool = True
    head_epochs: int = 4
    head_lr: float = 3e-3
    epochs: int = 20
    lr: float = 3e-4
    # Thesis §4.1.2–4.4.2: every experiment oversamples and augments (rotation, zoom).
    oversample: bool = True
    augment: bool = True
    lighting: bool = False  # thesis §4.2.2 (experiment 2 only): "luminosidad"
    flip: bool = False  # fastai get_transforms' do_flip; the thesis does not mention it
    warp: bool = False  # fastai get_transforms' max_warp=0.2; not in the thesis
    weights: str = "imagenet"  # "imagenet", "none" or a path to a weights file
    # Patient metadata beside the image (issue 26), off: the study's runs. With it,
    # the encoding of age, sex and site (`metadata_encoding()`), read back by the run.
    metadata: bool = False
    metadata_encoding: dict | None = None
    seed: int = 0
    seeds: list[int] | None = None
    model_dir: str = "runs/default"
    strategy: str = "auto"
    tpu: str | None = None
    mixed_precision: bool = False
    jit_compile: bool = False
    deterministic: bool = False
    # fastai v1: cnn_learner's train_bn=True; Learner's wd=1e-2, true_wd, bn_wd=True;
    # AdamW = partial(torch.optim.Adam, betas=(0.9, 0.99)), whose eps is 1e-8.
    train_bn: bool = True
    weight_decay: float = 0.01
    beta_2: float = 0.99
    epsilon: float = 1e-8
    # Class imbalance (issue 16), off by default: the study balances by oversampling.
    # "balanced": sklearn's compute_class_weight over the training split's classes.
    class_weight: str = "none"
    # "focal": Keras' CategoricalFocalCrossentropy with alpha=1 (no constant factor),
    # so that focal_gamma=0 is the cross-entropy.
    loss: str = "cross_entropy"
    focal_gamma: float = 2.0

    def __post_init__(self):
        self.validate()

    def validate(self):
        """Raises ValueError naming the first invalid field."""
        for field in dataclasses.fields(self):
            check_field(field.name, getattr(self, field.name))
        for check, names in RULES.items():
            check(**{name: getattr(self, name) for name in names})

    @property
    def run_name(self):
        """Short name of the configuration, e.g. ``effnet_se_arl_ben_graham``."""
        parts = [self.model]
        if self.model in SE_MODELS and self.se is not False:
            parts.append("se")
        if self.arl:
            parts.append("arl")
        parts.append(self.preprocessing)
        if self.metadata:
            parts.append("meta")
        return "_".join(parts)

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data):
        """Builds a config from a dict, ignoring unknown keys (newer writers)."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})

    @classmethod
    def from_json(cls, text):
        return cls.from_dict(json.loads(text))

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)
