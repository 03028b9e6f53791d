"""Training-step and inference time of the rebuilt models vs keras.applications.

    python -m benchmarks.models [--image_size=224] [--batch_size=16] [--repeats=5]
        [--warmup=2] [--models=resnet50,effnet] [--jit_compile]

Builds, with random weights (the time does not depend on their values), for each
model of `--models` (names of `skinkeras.models.MODELS` with ImageNet weights, e.g.
`resnet101,effnet_b3`): keras.applications' network, ours, ours + ARL; for the
study's EfficientNet-B0 (`effnet`) also ours without attention and with ARL only. Every
backbone (`include_top=False`) gets the same small head (global average pooling →
Dense 2 logits) so that only the backbones differ, and is compiled with Adam and
sparse cross-entropy on logits. Our models include their input normalisation
layer (`caffe_preprocess` / stem `rescaling`+`normalization`); keras.applications'
ResNet50 gets caffe-style input made outside the model.

Timing: after `--warmup` untimed calls per model (tracing), `--repeats` rounds;
each round times one `train_on_batch` and one `predict_on_batch` of every model in
turn (every other round in reverse order), so that load from other processes and
the order spread over all models alike. The table gives the median and the minimum
over rounds and each model's ratio to keras.applications' network of the same model.
A second table gives ARL's cost: for each ARL model, the median over rounds of its
time divided by the time of the same model without ARL in the same round. All
figures come from this one run.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from skinkeras.models import ARCHITECTURES, build_model  # noqa: E402
from skinkeras.models.weights import APPLICATIONS  # noqa: E402

DEFAULT_MODELS = "resnet50,effnet"
# The models keras.applications has (the ratio's reference).
BENCHMARKED = tuple(name for name, arch in ARCHITECTURES.items() if arch.weights)


def variants(name):
    """`[(label, builder kwargs or None for keras.applications)]` of one model, and
    its `[(ARL label, the same model without ARL)]` pairs."""
    architecture = ARCHITECTURES[name]
    label = architecture.name + (" SE" if architecture.se else "")
    rows = [
        (f"{APPLICATIONS[architecture.weights]} (keras.applications)", None),
        (label, {"arl": False}),
        (f"{label} + ARL", {"arl": True}),
    ]
    pairs = [(f"{label} + ARL", label)]
    if name == "effnet":  # the study's four EfficientNet-B0 variants (SPEC, exp. 4)
        plain = f"{architecture.name} none"
        rows[2:2] = [(plain, {"se": False, "arl": False})]
        rows.append((f"{architecture.name} ARL", {"se": False, "arl": True}))
        pairs.insert(0, (f"{architecture.name} ARL", plain))
    return rows, pairs


def parse_models(text):
    """`"resnet50,effnet_b3"` → `("resnet50", "effnet_b3")`, each checked."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    for name in names:
        if name not in BENCHMARKED:
            raise argparse.ArgumentTypeError(
                f"--models takes names of {BENCHMARKED} (keras.applications has the "
                f"others' reference network). Received: --models={text}"
            )
    if not names or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"--models takes distinct comma-separated names. Received: --models={text}"
        )
    return names


def paired_ratio(times, baseline_times):
    """Median over rounds of `times[r] / baseline_times[r]` (same-round pairs)."""
    if len(times) != len(baseline_times) or not times:
        raise ValueError(
            "paired_ratio needs one time per round for both models. "
            f"Received: {len(times)} and {len(baseline_times)} times"
        )
    return statistics.median(t / b for t, b in zip(times, baseline_times, strict=True))


def build(name, kwargs, *, image_size, num_classes, jit_compile):
    shape = (image_size, image_size, 3)
    if kwargs is None:
        constructor = getattr(
            keras.applications, APPLICATIONS[ARCHITECTURES[name].weights]
        )
        backbone = constructor(weights=None, include_top=False, input_shape=shape)
    else:
        backbone = build_model(
            name, weights=None, include_top=False, input_shape=shape, **kwargs
        )
    x = keras.layers.GlobalAveragePooling2D(name="bench_pool")(backbone.output)
    logits = keras.layers.Dense(num_classes, name="bench_logits")(x)
    model = keras.Model(backbone.input, logits, name=backbone.name)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per model")
    parser.add_argument(
        "--models",
        type=parse_models,
        default=DEFAULT_MODELS,
        help=f"comma-separated models to time, of {', '.join(BENCHMARKED)}",
    )
    parser.add_argument("--jit_compile", action="store_true", help="XLA-compile steps")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    size = (args.batch_size, args.image_size, args.image_size, 3)
    images = rng.uniform(0, 255, size=size).astype("float32")
    caffe_images = keras.applications.resnet50.preprocess_input(images.copy())
    labels = rng.integers(0, 2, size=args.batch_size).astype("int32")

    table = [
        (label, name, kwargs)
        for name in args.models
        for label, kwargs in variants(name)[0]
    ]
    arl_pairs = [pair for name in args.models for pair in variants(name)[1]]
    models = {}
    for label, name, kwargs in table:
        keras.utils.set_random_seed(0)
        model = build(
            name,
            kwargs,
            image_size=args.image_size,
            num_classes=2,
            jit_compile=args.jit_compile,
        )
        # keras.applications' ResNets expect caffe-style input; ours normalise inside.
        x = caffe_images if name.startswith("resnet") and kwargs is None else images
        for _ in range(args.warmup):
            model.train_on_batch(x, labels)
            model.predict_on_batch(x)
        models[label] = (model, x)
        print(
            f"built and warmed up: {label} ({model.count_params():,} params)",
            flush=True,
        )

    times = {label: {"train": [], "infer": []} for label in models}
    load_start = os.getloadavg()[0]
    for r in range(args.repeats):
        order = list(models.items())
        for label, (model, x) in order if r % 2 == 0 else reversed(order):
            start = time.perf_counter()
            model.train_on_batch(x, labels)
            times[label]["train"].append(time.perf_counter() - start)
            start = time.perf_counter()
            model.predict_on_batch(x)
            times[label]["infer"].append(time.perf_counter() - start)
        print(f"round {r + 1}/{args.repeats} done", flush=True)
    load_end = os.getloadavg()[0]

    print()
    print(
        f"batch {args.batch_size}, {args.image_size}×{args.image_size}, "
        f"{args.repeats} rounds, jit_compile={args.jit_compile}, "
        f"{os.cpu_count()} CPUs, 1-min load average {load_start:.1f} → {load_end:.1f}"
    )
    print()
    print(
        "| model | params | train step median (min), s | ratio median (min) "
        "| inference median (min), s | ratio median (min) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    reference = {}
    for label, name, _ in table:
        t = times[label]
        stats = {k: (statistics.median(t[k]), min(t[k])) for k in ("train", "infer")}
        reference.setdefault(name, stats)
        ref = reference[name]
        cells = []
        for k in ("train", "infer"):
            med, low = stats[k]
            cells.append(f"{med:.3f} ({low:.3f})")
            cells.append(f"{med / ref[k][0]:.3f} ({low / ref[k][1]:.3f})")
        params = models[label][0].count_params()
        print(f"| {label} | {params:,} | " + " | ".join(cells) + " |")

    if arl_pairs:
        print()
        print("ARL's cost: median over rounds of the same-round time ratio")
        print()
        print("| ARL model | compared with | train step | inference |")
        print("|---|---|---:|---:|")
        for arl_label, plain_label in arl_pairs:
            cells = [
                f"{paired_ratio(times[arl_label][k], times[plain_label][k]) - 1:+.1%}"
                for k in ("train", "infer")
            ]
            print(f"| {arl_label} | {plain_label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
