"""File size and CPU latency of the exports of EfficientNet-B0 + ARL + SE.

    python -m benchmarks.export [--image_size=224] [--runs=20] [--threads=2]
        [--model_dir=RUN_DIR [--images=FOLDER]]

Exports one model (default: EfficientNet-B0 with ARL and SE, weights=None — latency
and size do not depend on the weight values; `--model_dir` takes a trained run
instead) as SavedModel, TFLite float32 and TFLite dynamic-range int8, then times one
image (batch 1) through each, median of `--runs` calls after warm-up (round-robin
over the formats, so a shared machine's load affects them alike), and prints a
Markdown table with ratios to the Keras model:

- Keras: `model(x)` in a `tf.function` (what `experiments.predict` runs).
- SavedModel (tensor): the `serve_images` signature, resized image in.
- SavedModel (JPEG): `serving_default`, encoded JPEG in (decode + resize inside).
- TFLite float32 / int8: `tf.lite` interpreter (XNNPACK), `--threads` threads.

With a trained `--model_dir` and `--images`, it also prints how far each export's
melanoma probability is from the Keras model's on those images (max and mean
|Δp|, share of images with the same predicted class) — the int8 accuracy check to
run on real weights.
"""

import argparse
import os
import pathlib
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def median_seconds(fns, runs, warmup=3):
    """Median seconds per call of each function, timed round-robin.

    Interleaving the formats (one call of each per round) spreads the load of a
    shared machine evenly over them, so their ratios stay fair when it changes.
    """
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(runs):
        for fn, spent in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def size_of(path):
    path = pathlib.Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def build_run(directory, image_size):
    """`directory`/seed_0 with `random_effnet` saved bare (the network alone)."""
    from tests import deploy_fixtures

    config = {
        "model": "effnet",
        "arl": True,
        "se": True,
        "num_classes": 2,
        "label": "melanoma",
        "preprocessing": "none",
        "image_size": image_size,
    }
    return deploy_fixtures.write_run(
        pathlib.Path(directory) / "seed_0",
        deploy_fixtures.random_effnet(image_size),
        config,
        bare=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--model_dir", default=None, help="a trained run (one seed)")
    parser.add_argument("--images", default=None, help="images for the agreement table")
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    from skinkeras import inference
    from skinkeras.inference import export

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench_export_"))
    run_dir = args.model_dir or build_run(tmp / "run", args.image_size)
    run = inference.load_run(run_dir)
    size = run.image_size
    saved_path = export.export_saved_model(run, tmp / "saved_model")
    float_path = export.export_tflite(run, tmp / "model.tflite")
    int8_path = export.export_tflite(run, tmp / "model_int8.tflite", quantize="dynamic")

    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (1, size, size, 3)).astype(np.float32)
    jpeg = tf.io.encode_jpeg(tf.cast(image[0], tf.uint8)).numpy()

    predictor = inference.Predictor(run)
    saved = tf.saved_model.load(str(saved_path))
    serve_images = saved.signatures["serve_images"]
    serve_bytes = saved.signatures["serving_default"]
    tensor, encoded = tf.constant(image), tf.constant([jpeg])
    lite_float = export.TFLiteModel(float_path, num_threads=args.threads)
    lite_int8 = export.TFLiteModel(int8_path, num_threads=args.threads)

    rows = [
        (
            "Keras (.keras, tf.function)",
            pathlib.Path(run_dir) / "model.keras",
            lambda: predictor(image),
        ),
        ("SavedModel, tensor input", saved_path, lambda: serve_images(images=tensor)),
        ("SavedModel, JPEG input", saved_path, lambda: serve_bytes(images=encoded)),
        ("TFLite float32", float_path, lambda: lite_float(image)),
        ("TFLite dynamic-range int8", int8_path, lambda: lite_int8(image)),
    ]
    seconds = median_seconds([fn for _, _, fn in rows], args.runs)
    timed = [
        (name, size_of(path), spent)
        for (name, path, _), spent in zip(rows, seconds, strict=True)
    ]
    keras_size, keras_time = timed[0][1], timed[0][2]
    print(
        f"\nEfficientNet-B0 + ARL + SE, {size}x{size}, batch 1, median of {args.runs}, "
        f"{os.cpu_count()} CPU cores, TFLite threads {args.threads}\n"
    )
    print("| format | size (MB) | size ratio | latency (ms) | latency ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, nbytes, seconds in timed:
        print(
            f"| {name} | {nbytes / 1e6:.1f} | {nbytes / keras_size:.2f} | "
            f"{seconds * 1e3:.1f} | {seconds / keras_time:.2f} |"
        )

    if args.images:
        print_agreement(
            run, args.images, predictor, serve_images, lite_float, lite_int8
        )


def print_agreement(run, folder, predictor, serve_images, lite_float, lite_int8):
    """Agreement of the exports with the Keras model on real images."""
    import numpy as np
    import tensorflow as tf

    from skinkeras import inference

    transform = inference.bytes_transform(
        image_size=run.image_size, preprocessing=run.preprocessing
    )
    pairs = [
        transform(tf.io.read_file(str(p))) for p in inference.list_images([folder])
    ]
    resized = np.stack([r.numpy() for r, _ in pairs])
    expected = predictor(np.stack([x.numpy() for _, x in pairs]))
    outputs = {
        "SavedModel": serve_images(images=tf.constant(resized))[
            "probabilities"
        ].numpy(),
        "TFLite float32": lite_float(resized)["probabilities"],
        "TFLite dynamic-range int8": lite_int8(resized)["probabilities"],
    }
    print(f"\nAgreement with Keras on {len(resized)} images of {folder}\n")
    print("| format | max abs Δp | mean abs Δp | same class |")
    print("|---|---:|---:|---:|")
    for name, probabilities in outputs.items():
        error = np.abs(probabilities[:, 1] - expected[:, 1])
        same = np.mean(probabilities.argmax(-1) == expected.argmax(-1))
        print(f"| {name} | {error.max():.2e} | {error.mean():.2e} | {same:.1%} |")


if __name__ == "__main__":
    main()
