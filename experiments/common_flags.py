"""The flags that several `experiments` commands share, defined once.

A flag named after a config field takes its default from the config
(`skinkeras.config.TrainConfig`, `skinkeras.segmentation.config.SegmentConfig`),
its choices from the config's lists, and is validated by the config's own check
functions (`check_field`, and for `experiments.main` the rules between flags), so a
bad value fails before anything runs, with a message naming the flag, and no rule is
written twice. Neither config module imports TensorFlow, so `--help` stays fast.

Each command defines the flags in its own `FlagValues` (or absl's global `FLAGS`)
under its own module name, so that its `--help` lists them as its own.
"""

import dataclasses
import sys
import types
import typing

from absl import flags

from skinkeras import config as train_config
from skinkeras import imagefiles
from skinkeras.segmentation import config as segment_config

# Help texts of the training flags (`experiments.main`, `experiments.suite`): they
# document the study's protocol (SPEC, training protocol; README, "The study's
# protocol").
TRAIN_HELP = {
    # What to train.
    "model": "Backbone: resnet50 or effnet (= effnet_b0), the study's; the field's resnet101, resnet152 and effnet_b1 ... effnet_b7 (native sizes 240 ... 600 px: set --image_size; docs/models.md); or resnet26 (ResNet-50 with two blocks per stage; no ImageNet weights, --weights=none: the offline demo).",
    "arl": "Attention Residual Learning in the residual blocks (16 in ResNet-50, 9 in EfficientNet-B0).",
    "se": "Squeeze & Excitation (EfficientNet only). Default: on for every EfficientNet (keras.applications' network); --nose removes it. Passing --se with a ResNet is an error.",
    "head": "Classification head: `fastai` (avg+max pool, BN, dropout, Dense 512, BN, dropout, Dense) or `linear` (avg pool, Dense).",
    "label": "Target: `melanoma` (melanoma vs. rest, 2 classes, the study's task; every dataset), `label` (ISIC 2017: nevus / melanoma / seborrheic keratosis) or `diagnosis` (ISIC 2019, HAM10000: one class per name of the dataset's `diagnosis` ClassLabel).",
    "weights": "Initial backbone weights: `imagenet` (downloaded once to ~/.keras/models), `none` (random), or a path to a weights file (.h5 / .weights.h5).",
    "metadata": "Patient metadata beside the image (issue 26): the model also takes each example's age, sex and anatomic site (the dataset's age_approximate, sex and anatom_site_general or localization ClassLabels), encoded as docs/training.md 'Patient metadata' says, through an MLP (Gessert et al., MethodsX 2020) concatenated with the pooled image features; stage 1 trains it with the head. Off: the study's image-only runs.",
    # Data.
    "dataset": "TFDS dataset name, e.g. isic2017, isic2017/512, synthetic_lesions (built offline on first use). ISIC datasets need `tfds build` first; the error message gives the command.",
    "data_dir": "TFDS data directory (default: TFDS' own, ~/tensorflow_datasets).",
    "preprocessing": "Deterministic preprocessing: none, max_rgb / shades_of_gray (colour constancy), ben_graham, lesion_mask (colour inside the lesion only).",
    "masks_dir": "For --preprocessing=lesion_mask on datasets without masks: PNG masks written by `python -m experiments.make_masks` (MASKS_DIR/<split>/<image_id>.png).",
    "mask_mode": "lesion_mask: the outside of the lesion in grayscale or solid gray (128).",
    "image_size": "Side of the square input images in pixels (shorter side scaled, centre crop).",
    "batch_size": "Batch size per replica (global batch = batch_size x replicas); with --noscale_batch the global batch.",
    "scale_batch": "Scale the global batch with the number of replicas. --noscale_batch: --batch_size is the global batch and must be divisible by the number of replicas.",
    "oversample": "Balance the classes as fastai v1's OverSamplingCallback: each epoch draws num_classes x (largest class count) training images with replacement (ISIC 2017: 3252). --nooversample: a plain shuffle of the split.",
    "augment": "Augment training images as fastai v1's get_transforms with the thesis's ranges: rotation +-180 deg and zoom up to 30 %, each with p=0.75. --noaugment turns it off.",
    "lighting": "Also brightness and contrast changes (fastai max_lighting=0.2, each p=0.75; the thesis's experiment 2). Needs --augment.",
    "flip": "Also a random left-right flip (p=0.5): a fastai get_transforms default that the thesis does not mention, so off. Needs --augment.",
    "warp": "Also a symmetric perspective warp (fastai max_warp=0.2, p=0.75): a get_transforms default that the thesis does not mention, so off. Needs --augment.",
    # Training protocol.
    "head_epochs": "Stage 1: epochs training only the head, backbone frozen (0 skips the stage).",
    "head_lr": "Stage 1: maximum learning rate of the one-cycle schedule.",
    "epochs": "Stage 2: epochs training the whole model (0 skips the stage).",
    "lr": "Stage 2: maximum learning rate of the one-cycle schedule.",
    "train_bn": "Stage 1: the frozen backbone's BatchNorm layers keep training (fastai's freeze); --notrain_bn freezes them too.",
    "weight_decay": "AdamW decoupled weight decay, on every weight including BatchNorm and biases (fastai v1: wd=1e-2, bn_wd=True).",
    "beta_2": "AdamW beta_2 (beta_1 cycles 0.95 -> 0.85 -> 0.95 with one-cycle).",
    "epsilon": "AdamW epsilon (fastai v1's AdamW is torch Adam, whose eps is 1e-8).",
    "class_weight": "Class imbalance: `balanced` weights each training example's loss by n / (classes x its class's count) over the training split (sklearn's compute_class_weight('balanced')); `none` (the study's: it oversamples instead). With --oversample the two corrections add up.",
    "loss": "`cross_entropy` (the study's) or `focal`: Keras' CategoricalFocalCrossentropy with alpha=1, (1 - p_true)^gamma x cross-entropy.",
    "focal_gamma": "Focusing parameter gamma of --loss=focal (0 gives the cross-entropy; 2 is Lin et al.'s).",
    # Seeds.
    "seed": "First seed. A seed fixes everything random in its run: new layers' initial weights, each epoch's images and order, augmentation and dropout.",
    "seeds": "Explicit comma-separated seeds; overrides --seed/--num_seeds.",
    # Where it runs.
    "strategy": "Distribution: auto (TPU if named/attached, MirroredStrategy for several GPUs, else one device), cpu, gpu, mirrored, tpu, multiworker (MultiWorkerMirroredStrategy, cluster from TF_CONFIG).",
    "tpu": "TPU name or grpc:// address for --strategy=tpu/auto (default: the TPU_NAME environment variable or a local TPU).",
    "mixed_precision": "Mixed precision: mixed_float16 on GPU (with loss scaling), mixed_bfloat16 on TPU/CPU.",
    "jit_compile": "Compile the train step with XLA.",
    "deterministic": "tf.config.experimental.enable_op_determinism() for the run: bit-identical reruns on GPU/TPU, at a cost in speed (deterministic kernels; ops without one raise). CPU runs are deterministic without it.",
}

# Help texts of `experiments.segment`'s flags (SPEC, Lesion segmentation).
SEGMENT_HELP = {
    "model_dir": "Run directory.",
    "dataset": "TFDS dataset with `image` and `mask` features (isic2018_task1, synthetic_lesions).",
    "data_dir": "TFDS data directory.",
    "train_split": "Training split.",
    "validation_split": "Validation split.",
    "encoder": "U-Net encoder.",
    "weights": '"imagenet", "none" or a path to the encoder\'s no-top weights file.',
    "image_size": "Input side (multiple of 32).",
    "batch_size": "Batch size.",
    "head_epochs": "Stage 1 epochs (decoder only).",
    "epochs": "Stage 2 epochs (whole network).",
    "lr": "One-cycle max lr of the decoder.",
    "encoder_lr_factor": "Encoder lr = lr x this factor (study: 3e-5 / 3e-4).",
    "loss": "Training loss.",
    "augment": "Random flips / transposes in training.",
    "train_bn": "Encoder BatchNorm trains while the encoder is frozen.",
    "threshold": "Probability threshold for Dice/IoU.",
    "weight_decay": "Decoupled weight decay (AdamW).",
    "beta_2": "Adam beta_2.",
    "epsilon": "Adam epsilon.",
    "seed": "Random seed.",
}
SEGMENT_CHOICES = {
    "encoder": sorted(segment_config.ENCODER_NAMES),
    "loss": sorted(segment_config.LOSS_NAMES),
}

# The rules between training flags that `experiments.main` checks while parsing.
# `check_masks_dir` is left to the config: a --preset may set the preprocessing
# that the flags alone do not show.
TRAIN_FLAG_RULES = (
    train_config.check_se,
    train_config.check_augmentation,
    train_config.check_focal_gamma,
)

# The study trains every configuration with 10 seeds (SPEC, "The study's results").
STUDY_NUM_SEEDS = 10


def module_key(module_name):
    """The name absl files a module's flags under (`sys.argv[0]` for ``__main__``)."""
    return sys.argv[0] if module_name == "__main__" else module_name


def _base_type(annotation):
    """``int`` of ``int | None``, ``list`` of ``list[int]``: the flag's type."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    return typing.get_origin(annotation) or annotation


def _as_validation_error(check):
    """absl's validator of a config check: its ValueError becomes the flag's error."""

    def validator(*args):
        try:
            check(*args)
        except ValueError as error:
            raise flags.ValidationError(str(error)) from None
        return True

    return validator


def _bounds(config_module, name):
    """The values the config accepts for `name`, in words (None: any)."""
    if name in getattr(config_module, "AT_LEAST", {}):
        return f">= {config_module.AT_LEAST[name]}"
    if name in getattr(config_module, "GREATER_THAN", {}):
        return f"> {config_module.GREATER_THAN[name]}"
    if name in getattr(config_module, "IN_RANGE", {}):
        low, high = config_module.IN_RANGE[name]
        return f"in [{low}, {high})"
    return None


def _number_flag(kind, name, default, help, bounds, **args):
    """DEFINE_integer / DEFINE_float whose `--help` states the config's bounds.

    The config's check (a validator) enforces them, not the parser; keyword
    arguments give a parser of its own (absl shares positional-argument ones).
    """
    parser_class = flags.IntegerParser if kind is int else flags.FloatParser
    parser = parser_class(lower_bound=None, upper_bound=None)
    if bounds:
        noun = "an integer" if kind is int else "a number"
        parser.syntactic_help = f"{noun} {bounds}"
    flags.DEFINE(
        parser, name, default, help, serializer=flags.ArgumentSerializer(), **args
    )


def _define_fields(
    config_module, config_class, names, helps, choices, flag_values, module
):
    """Defines a flag per config field in `names`: the field's default and type."""
    fields = {field.name: field for field in dataclasses.fields(config_class)}
    for name in names:
        field = fields[name]
        kind = _base_type(field.type)
        args = dict(flag_values=flag_values, module_name=module_key(module))
        if name in choices:
            flags.DEFINE_enum(
                name, field.default, list(choices[name]), helps[name], **args
            )
        elif kind is bool:
            flags.DEFINE_boolean(name, field.default, helps[name], **args)
        elif kind in (int, float):
            bounds = _bounds(config_module, name)
            _number_flag(kind, name, field.default, helps[name], bounds, **args)
        elif kind is list:
            flags.DEFINE_list(name, field.default, helps[name], **args)
        else:
            flags.DEFINE_string(name, field.default, helps[name], **args)

        def check(value, name=name):
            if value is not None:  # an optional field left unset
                config_module.check_field(name, value)

        flags.register_validator(
            name, _as_validation_error(check), flag_values=flag_values
        )


def define_train_flags(names, flag_values, *, module):
    """Defines the `TrainConfig` fields `names` as flags of the command `module`.

    Args:
        names: field names of `TrainConfig` (the flag names).
        flag_values: the command's `FlagValues` (or absl's `FLAGS`).
        module: the command's ``__name__`` (its `--help` lists them).
    """
    _define_fields(
        train_config,
        train_config.TrainConfig,
        names,
        TRAIN_HELP,
        train_config.CHOICES,
        flag_values,
        module,
    )
    for rule in TRAIN_FLAG_RULES:
        fields = train_config.RULES[rule]
        if all(name in names for name in fields):

            def check(values, rule=rule):
                rule(**values)

            flags.register_multi_flags_validator(
                list(fields), _as_validation_error(check), flag_values=flag_values
            )


def define_seed_flags(flag_values, *, module, num_seeds=1):
    """`--num_seeds` (`--seed` is a `TrainConfig` field) and Keras' `--verbose`."""
    key = module_key(module)
    flags.DEFINE_integer(
        "num_seeds",
        num_seeds,
        f"Number of seeds: --seed, --seed+1, ... (the study used {STUDY_NUM_SEEDS}).",
        lower_bound=1,
        flag_values=flag_values,
        module_name=key,
    )
    flags.DEFINE_integer(
        "verbose",
        2,
        "Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch.",
        lower_bound=0,
        upper_bound=2,
        flag_values=flag_values,
        module_name=key,
    )


def define_segment_flags(flag_values, *, module):
    """Defines every `SegmentConfig` field as a flag of the command `module`."""
    _define_fields(
        segment_config,
        segment_config.SegmentConfig,
        [field.name for field in dataclasses.fields(segment_config.SegmentConfig)],
        SEGMENT_HELP,
        SEGMENT_CHOICES,
        flag_values,
        module,
    )


def define_run_flags(flag_values, *, module, seed_help):
    """`--model_dir` (a run: one seed dir or a multi-seed dir) and `--seed`."""
    key = module_key(module)
    flags.DEFINE_string(
        "model_dir",
        None,
        "Run directory: a seed dir or a multi-seed dir.",
        flag_values=flag_values,
        module_name=key,
    )
    flags.DEFINE_integer(
        "seed", None, seed_help, flag_values=flag_values, module_name=key
    )


def define_image_limit_flags(flag_values, *, module):
    """`--max_pixels` and `--min_side`: image files outside them are skipped, with
    the reason, before they are decoded (`skinkeras.imagefiles`, issue 14)."""
    key = module_key(module)
    flags.DEFINE_integer(
        "max_pixels",
        imagefiles.DEFAULT_MAX_PIXELS,
        "Skip image files with more pixels than this (width x height, read from the "
        "file's header, so a huge image is never decoded). The largest ISIC images "
        "have ~30 million.",
        lower_bound=1,
        flag_values=flag_values,
        module_name=key,
    )
    flags.DEFINE_integer(
        "min_side",
        imagefiles.DEFAULT_MIN_SIDE,
        "Skip image files whose width or height is under this many pixels (the "
        "backbones reduce their input 32 times).",
        lower_bound=1,
        flag_values=flag_values,
        module_name=key,
    )
