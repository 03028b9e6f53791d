"""Trains one configuration of the study (SPEC, training protocol), one or more seeds.

    python -m experiments.main --model=effnet --arl --se --preprocessing=ben_graham

Stage 1 trains the new head with the backbone frozen (``--head_epochs`` at
``--head_lr``), stage 2 the whole model (``--epochs`` at ``--lr``), both with
one-cycle AdamW. Each seed runs in ``--model_dir/seed_<k>``; running the same command
again resumes an interrupted seed and skips finished ones. ``results.md`` and
``results.csv`` in ``--model_dir`` hold the multi-seed table. Flags: ``--help``.

Offline demo (synthetic lesions, no downloads):

    python -m experiments.main --preset=demo --model_dir=runs/demo
"""

import sys

from absl import app, flags

from experiments import deploy_cli
from experiments.configs import PRESETS
from skinkeras.training.config import (
    HEADS,
    LABELS,
    MASK_MODES,
    MODELS,
    PREPROCESSING,
    STRATEGIES,
    TrainConfig,
)

FLAGS = flags.FLAGS

# What to train.
flags.DEFINE_enum(
    "preset",
    None,
    sorted(PRESETS),
    "Start from a named preset of experiments/configs.py (the study's experiments, `demo`); flags given explicitly override it.",
)
flags.DEFINE_enum(
    "model", "effnet", list(MODELS), "Backbone: ResNet-50 or EfficientNet-B0."
)
flags.DEFINE_boolean(
    "arl",
    False,
    "Attention Residual Learning in the residual blocks (16 in ResNet-50, 9 in EfficientNet-B0).",
)
flags.DEFINE_boolean(
    "se",
    None,
    "Squeeze & Excitation (EfficientNet-B0 only). Default: on for effnet (the stock EfficientNet-B0); --nose removes it. Passing --se with --model=resnet50 is an error.",
)
flags.DEFINE_enum(
    "head",
    "fastai",
    list(HEADS),
    "Classification head: `fastai` (avg+max pool, BN, dropout, Dense 512, BN, dropout, Dense) or `linear` (avg pool, Dense).",
)
flags.DEFINE_enum(
    "label",
    "melanoma",
    list(LABELS),
    "Target: `melanoma` (melanoma vs. rest, 2 classes, the study's task) or `label` (nevus / melanoma / seborrheic keratosis).",
)
flags.DEFINE_string(
    "weights",
    "imagenet",
    "Initial backbone weights: `imagenet` (downloaded once to ~/.keras/models), `none` (random), or a path to a weights file (.h5 / .weights.h5).",
)
# Data.
flags.DEFINE_string(
    "dataset",
    "isic2017",
    "TFDS dataset name, e.g. isic2017, isic2017/512, synthetic_lesions (built offline on first use). ISIC datasets need `tfds build` first; the error message gives the command.",
)
flags.DEFINE_string(
    "data_dir", None, "TFDS data directory (default: TFDS' own, ~/tensorflow_datasets)."
)
flags.DEFINE_enum(
    "preprocessing",
    "none",
    list(PREPROCESSING),
    "Deterministic preprocessing: none, max_rgb / shades_of_gray (colour constancy), ben_graham, lesion_mask (colour inside the lesion only).",
)
flags.DEFINE_string(
    "masks_dir",
    None,
    "For --preprocessing=lesion_mask on datasets without masks: PNG masks written by `python -m experiments.make_masks` (MASKS_DIR/<split>/<image_id>.png).",
)
flags.DEFINE_enum(
    "mask_mode",
    "grayscale",
    list(MASK_MODES),
    "lesion_mask: the outside of the lesion in grayscale or solid gray (128).",
)
flags.DEFINE_integer(
    "image_size",
    224,
    "Side of the square input images in pixels (shorter side scaled, centre crop).",
    lower_bound=1,
)
flags.DEFINE_integer(
    "batch_size",
    16,
    "Batch size per replica (global batch = batch_size x replicas); with --noscale_batch the global batch.",
    lower_bound=1,
)
flags.DEFINE_boolean(
    "scale_batch",
    True,
    "Scale the global batch with the number of replicas. --noscale_batch: --batch_size is the global batch and must be divisible by the number of replicas.",
)
flags.DEFINE_boolean(
    "oversample",
    True,
    "Balance the classes as fastai v1's OverSamplingCallback: each epoch draws num_classes x (largest class count) training images with replacement (ISIC 2017: 3252). --nooversample: a plain shuffle of the split.",
)
flags.DEFINE_boolean(
    "augment",
    True,
    "Augment training images as fastai v1's get_transforms with the thesis's ranges: rotation +-180 deg and zoom up to 30 %, each with p=0.75. --noaugment turns it off.",
)
flags.DEFINE_boolean(
    "lighting",
    False,
    "Also brightness and contrast changes (fastai max_lighting=0.2, each p=0.75; the thesis's experiment 2). Needs --augment.",
)
flags.DEFINE_boolean(
    "flip",
    False,
    "Also a random left-right flip (p=0.5): a fastai get_transforms default that the thesis does not mention, so off. Needs --augment.",
)
flags.DEFINE_boolean(
    "warp",
    False,
    "Also a symmetric perspective warp (fastai max_warp=0.2, p=0.75): a get_transforms default that the thesis does not mention, so off. Needs --augment.",
)
# Training protocol.
flags.DEFINE_integer(
    "head_epochs",
    4,
    "Stage 1: epochs training only the head, backbone frozen (0 skips the stage).",
    lower_bound=0,
)
flags.DEFINE_float(
    "head_lr",
    3e-3,
    "Stage 1: maximum learning rate of the one-cycle schedule.",
    lower_bound=0,
)
flags.DEFINE_integer(
    "epochs",
    20,
    "Stage 2: epochs training the whole model (0 skips the stage).",
    lower_bound=0,
)
flags.DEFINE_float(
    "lr",
    3e-4,
    "Stage 2: maximum learning rate of the one-cycle schedule.",
    lower_bound=0,
)
flags.DEFINE_boolean(
    "train_bn",
    True,
    "Stage 1: the frozen backbone's BatchNorm layers keep training (fastai's freeze); --notrain_bn freezes them too.",
)
flags.DEFINE_float(
    "weight_decay",
    0.01,
    "AdamW decoupled weight decay, on every weight including BatchNorm and biases (fastai v1: wd=1e-2, bn_wd=True).",
    lower_bound=0,
)
flags.DEFINE_float(
    "beta_2",
    0.99,
    "AdamW beta_2 (beta_1 cycles 0.95 -> 0.85 -> 0.95 with one-cycle).",
    lower_bound=0,
    upper_bound=1,
)
flags.DEFINE_float(
    "epsilon",
    1e-8,
    "AdamW epsilon (fastai v1's AdamW is torch Adam, whose eps is 1e-8).",
    lower_bound=0,
)
# Seeds and output.
flags.DEFINE_integer(
    "seed",
    0,
    "First seed. A seed fixes everything random in its run: new layers' initial weights, each epoch's images and order, augmentation and dropout.",
    lower_bound=0,
)
flags.DEFINE_integer(
    "num_seeds",
    1,
    "Number of seeds: --seed, --seed+1, ... (the study used 10).",
    lower_bound=1,
)
flags.DEFINE_list(
    "seeds", None, "Explicit comma-separated seeds; overrides --seed/--num_seeds."
)
flags.DEFINE_string(
    "model_dir",
    None,
    "Run directory (config.json, results.md/.csv, seed_<k>/...). Default: runs/<model>[_se][_arl]_<preprocessing>.",
)
flags.DEFINE_integer(
    "verbose",
    2,
    "Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch.",
    lower_bound=0,
    upper_bound=2,
)
# Where it runs.
flags.DEFINE_enum(
    "strategy",
    "auto",
    list(STRATEGIES),
    "Distribution: auto (TPU if named/attached, MirroredStrategy for several GPUs, else one device), cpu, gpu, mirrored, tpu, multiworker (MultiWorkerMirroredStrategy, cluster from TF_CONFIG).",
)
flags.DEFINE_string(
    "tpu",
    None,
    "TPU name or grpc:// address for --strategy=tpu/auto (default: the TPU_NAME environment variable or a local TPU).",
)
flags.DEFINE_boolean(
    "mixed_precision",
    False,
    "Mixed precision: mixed_float16 on GPU (with loss scaling), mixed_bfloat16 on TPU/CPU.",
)
flags.DEFINE_boolean("jit_compile", False, "Compile the train step with XLA.")
flags.DEFINE_boolean(
    "deterministic",
    False,
    "tf.config.experimental.enable_op_determinism() for the run: bit-identical reruns on GPU/TPU, at a cost in speed (deterministic kernels; ops without one raise). CPU runs are deterministic without it.",
)


@flags.multi_flags_validator(
    ["model", "se"],
    message="--se applies only to --model=effnet (ResNet-50 has no Squeeze & Excitation); remove --se or use --model=effnet.",
)
def _check_se(values):
    return not (values["model"] == "resnet50" and values["se"])


@flags.multi_flags_validator(
    ["lighting", "flip", "warp", "augment"],
    message="--lighting, --flip and --warp are part of augmentation; remove --noaugment.",
)
def _check_augmentation(values):
    return values["augment"] or not (
        values["lighting"] or values["flip"] or values["warp"]
    )


def _value(name):
    """The flag's value, or the preset's when the flag was not given explicitly."""
    if FLAGS.preset and not FLAGS[name].present and name in PRESETS[FLAGS.preset]:
        return PRESETS[FLAGS.preset][name]
    return FLAGS[name].value


def seeds_from_flags():
    if FLAGS.seeds:
        try:
            return [int(seed) for seed in FLAGS.seeds]
        except ValueError:
            raise app.UsageError(
                f"--seeds must be comma-separated integers. Received: seeds={FLAGS.seeds}"
            ) from None
    return list(range(FLAGS.seed, FLAGS.seed + FLAGS.num_seeds))


def config_from_flags():
    """The plain `TrainConfig` of the parsed flags (the library never reads flags)."""
    names = [
        "model", "arl", "se", "head", "label", "preprocessing", "masks_dir", "mask_mode",
        "dataset", "data_dir", "image_size", "batch_size", "scale_batch", "head_epochs",
        "head_lr", "epochs", "lr", "oversample", "augment", "lighting", "flip",
        "warp", "weights", "seed", "strategy", "tpu", "mixed_precision", "jit_compile",
        "deterministic", "train_bn", "weight_decay", "beta_2", "epsilon",
    ]  # fmt: skip
    values = {name: _value(name) for name in names}
    values["num_classes"] = 2 if values["label"] == "melanoma" else 3
    if values["model"] == "resnet50" and values["se"]:
        raise ValueError(
            "--se applies only to --model=effnet (ResNet-50 has no Squeeze & "
            "Excitation). Received: se=True"
        )
    values["seeds"] = seeds_from_flags()
    config = TrainConfig(model_dir="runs/unnamed", **values)
    model_dir = FLAGS.model_dir or f"runs/{config.run_name}"
    return config.replace(model_dir=model_dir)


def format_lr(value):
    """``3e-3`` rather than Python's ``0.003``: learning rates as the flags write them."""
    mantissa, exponent = f"{value:e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def stage_header(seed, stage, epochs, max_lr, *, with_seed=False):
    """One line announcing a training stage, e.g. ``stage 1/2: head only ...``."""
    what = "head only (backbone frozen)" if stage == 1 else "whole model"
    count = f"{epochs} epoch" + ("" if epochs == 1 else "s")
    line = f"stage {stage}/2: {what}, {count}, one-cycle max lr {format_lr(max_lr)}"
    return f"seed {seed}, {line}" if with_seed else line


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    # Imported here so that `--help` does not wait for TensorFlow.
    from skinkeras.training import loop

    try:
        config = config_from_flags()
        print(f"Run directory: {config.model_dir}  seeds: {config.seeds}", flush=True)

        def report(seed, summary):
            print(
                f"seed {seed}: max accuracy {summary['max_accuracy']:.4f} "
                f"(epoch {summary['best_epoch_accuracy']}), max AUROC "
                f"{summary['max_auroc']:.4f} (epoch {summary['best_epoch_auroc']})",
                flush=True,
            )

        def announce(seed, stage, epochs, max_lr):
            with_seed = len(config.seeds) > 1
            header = stage_header(seed, stage, epochs, max_lr, with_seed=with_seed)
            print(header, flush=True)

        loop.run_seeds(
            config,
            config.seeds,
            verbose=FLAGS.verbose,
            progress=report,
            on_stage=announce,
        )
    except (ValueError, FileNotFoundError, FloatingPointError) as error:
        # Configuration and data errors (e.g. the `tfds build` command for an
        # unprepared ISIC dataset) are messages for the user, not tracebacks.
        print(f"experiments.main: error: {error}", file=sys.stderr)
        return 1
    print(f"Results: {config.model_dir}/results.md")
    return 0


def cli():
    """Console script entry point."""
    deploy_cli.run(main)


if __name__ == "__main__":
    cli()
