"""Training-step and inference time of the rebuilt models vs keras.applications.

    python -m benchmarks.models [--image_size=224] [--batch_size=16] [--repeats=5]
        [--warmup=2] [--models=all] [--jit_compile]

Builds, with random weights (the time does not depend on their values):
ResNet-50 from keras.applications, ours, ours + ARL; EfficientNet-B0 from
keras.applications, ours with SE / without attention / ARL / SE + ARL. Every
backbone (`include_top=False`) gets the same small head (global average pooling →
Dense 2 logits) so that only the backbones differ, and is compiled with Adam and
sparse cross-entropy on logits. Our models include their input normalisation
layer (`caffe_preprocess` / stem `rescaling`+`normalization`); keras.applications'
ResNet50 gets caffe-style input made outside the model.

Timing: after `--warmup` untimed calls per model (tracing), `--repeats` rounds;
each round times one `train_on_batch` and one `predict_on_batch` of every model in
turn (every other round in reverse order), so that load from other processes and
the order spread over all models alike. The table gives the median and the minimum
over rounds and each model's ratio to the keras.applications model of its family.
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

from skinkeras.models import build_model  # noqa: E402

# (label, family, builder kwargs or None for keras.applications)
VARIANTS = (
    ("ResNet50 (keras.applications)", "resnet50", None),
    ("resnet50", "resnet50", {"arl": False}),
    ("resnet50 + ARL", "resnet50", {"arl": True}),
    ("EfficientNetB0 (keras.applications)", "effnet", None),
    ("effnet_b0 SE", "effnet", {"se": True, "arl": False}),
    ("effnet_b0 none", "effnet", {"se": False, "arl": False}),
    ("effnet_b0 ARL", "effnet", {"se": False, "arl": True}),
    ("effnet_b0 SE + ARL", "effnet", {"se": True, "arl": True}),
)

# (ARL model, the same model without ARL)
ARL_PAIRS = (
    ("resnet50 + ARL", "resnet50"),
    ("effnet_b0 ARL", "effnet_b0 none"),
    ("effnet_b0 SE + ARL", "effnet_b0 SE"),
)


def paired_ratio(times, baseline_times):
    """Median over rounds of `times[r] / baseline_times[r]` (same-round pairs)."""
    if len(times) != len(baseline_times) or not times:
        raise ValueError(
            "paired_ratio needs one time per round for both models. "
            f"Received: {len(times)} and {len(baseline_times)} times"
        )
    return statistics.median(t / b for t, b in zip(times, baseline_times, strict=True))


def build(family, kwargs, *, image_size, num_classes, jit_compile):
    shape = (image_size, image_size, 3)
    if kwargs is None:
        constructor = {
            "resnet50": keras.applications.ResNet50,
            "effnet": keras.applications.EfficientNetB0,
        }[family]
        backbone = constructor(weights=None, include_top=False, input_shape=shape)
    else:
        backbone = build_model(
            family, weights=None, include_top=False, input_shape=shape, **kwargs
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
        choices=("all", "resnet50", "effnet"),
        default="all",
        help="which family to time",
    )
    parser.add_argument("--jit_compile", action="store_true", help="XLA-compile steps")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    size = (args.batch_size, args.image_size, args.image_size, 3)
    images = rng.uniform(0, 255, size=size).astype("float32")
    caffe_images = keras.applications.resnet50.preprocess_input(images.copy())
    labels = rng.integers(0, 2, size=args.batch_size).astype("int32")

    variants = [v for v in VARIANTS if args.models in ("all", v[1])]
    models = {}
    for label, family, kwargs in variants:
        keras.utils.set_random_seed(0)
        model = build(
            family,
            kwargs,
            image_size=args.image_size,
            num_classes=2,
            jit_compile=args.jit_compile,
        )
        x = caffe_images if family == "resnet50" and kwargs is None else images
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
    for label, family, _ in variants:
        t = times[label]
        stats = {k: (statistics.median(t[k]), min(t[k])) for k in ("train", "infer")}
        reference.setdefault(family, stats)
        ref = reference[family]
        cells = []
        for k in ("train", "infer"):
            med, low = stats[k]
            cells.append(f"{med:.3f} ({low:.3f})")
            cells.append(f"{med / ref[k][0]:.3f} ({low / ref[k][1]:.3f})")
        params = models[label][0].count_params()
        print(f"| {label} | {params:,} | " + " | ".join(cells) + " |")

    pairs = [(a, b) for a, b in ARL_PAIRS if a in times and b in times]
    if pairs:
        print()
        print("ARL's cost: median over rounds of the same-round time ratio")
        print()
        print("| ARL model | compared with | train step | inference |")
        print("|---|---|---:|---:|")
        for arl_label, plain_label in pairs:
            cells = [
                f"{paired_ratio(times[arl_label][k], times[plain_label][k]) - 1:+.1%}"
                for k in ("train", "infer")
            ]
            print(f"| {arl_label} | {plain_label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
