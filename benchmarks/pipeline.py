r"""Throughput of the input pipeline vs a naive OpenCV route and vs model training.

For each preprocessing, images per second through `make_dataset` (decode → resize +
centre crop → preprocessing → cache → draw the epoch → batch → augment), on JPEGs encoded in
memory (ISIC "256" sized, 256×341), next to:
  (a) a naive per-image OpenCV pipeline (`tf.py_function`: cv2.imdecode, resize + crop,
      the same preprocessing in numpy/OpenCV, cv2.warpAffine rotation + zoom), and
  (b) how many images per second EfficientNet-B0 (keras.applications, weights=None,
      224×224, batch 16) trains on, on the same machine.
All ratios come from one run; each route is measured `--repeats` times and the best
kept (other processes on a shared machine only ever slow a run down), with Python's
garbage collector paused (see `images_per_second`). The pipeline's
first epoch decodes and preprocesses (cache fill); later epochs only gather, batch and
augment. The OpenCV route has no cache: every epoch costs what its first does.

    python -m benchmarks.pipeline                    # 2000 images: one ISIC 2017 train epoch
    python -m benchmarks.pipeline --num_images=256   # quicker; start-up weighs more
"""

import gc
import math
import os
import time

import cv2
import numpy as np
import tensorflow as tf
from absl import app, flags
from tqdm import tqdm

from skinkeras.data import PREPROCESSING_NAMES, make_dataset

FLAGS = flags.FLAGS


def define_flags():
    """The command-line flags (defined when run as a script, so that importing the
    module next to `experiments.main`, e.g. in tests, defines no clashing flags)."""
    flags.DEFINE_integer(
        "num_images", 2000, "Images per pipeline measurement (ISIC 2017 train: 2000)."
    )
    flags.DEFINE_integer("image_size", 224, "Output side of the pipeline.")
    flags.DEFINE_integer("batch_size", 16, "Batch size (pipeline and model).")
    flags.DEFINE_integer(
        "model_steps", 4, "Timed EfficientNet-B0 training steps (after 1 warm-up)."
    )
    flags.DEFINE_list(
        "preprocessing", list(PREPROCESSING_NAMES), "Preprocessings to time."
    )
    flags.DEFINE_integer("seed", 0, "Seed of the synthetic images.")
    flags.DEFINE_integer("repeats", 2, "Measurements per route; the best is reported.")


def synthetic_jpegs(n, seed, height=256, width=341):
    """Dermoscopy-like JPEG bytes (smooth skin, a dark blob, noise), ISIC '256' size."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    encoded = []
    for _ in range(n):
        skin = rng.uniform(150, 230, 3).astype(np.float32)
        cy, cx = rng.uniform(0.3, 0.7) * height, rng.uniform(0.3, 0.7) * width
        r = rng.uniform(0.15, 0.35) * height
        blob = np.exp(-(((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r**2)))[..., None]
        image = skin * (1 - 0.6 * blob) + rng.normal(0, 6, (height, width, 3))
        image = np.clip(image, 0, 255).astype(np.uint8)
        encoded.append(
            cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
        )
    return encoded


def source_dataset(encoded):
    n = len(encoded)
    return tf.data.Dataset.from_tensor_slices(
        {
            "image": encoded,
            "melanoma": (np.arange(n) % 5 == 0).astype(np.int64),
            "image_id": [f"ISIC_{i:07d}" for i in range(n)],
        }
    )


def images_per_second(dataset, *, epochs=1):
    """Images per second over `epochs` full passes, iterator start-up included.

    Call once on a throw-away dataset first (`main` does): thread pools, the JPEG
    decoder and XLA compilation warm up there, not in a measurement. Start-up must
    stay in the timing: `shuffle` fills its buffer — the whole first epoch of
    decoding — before the first batch comes out.
    """
    # Python's garbage collector is paused while timing: a full collection walks
    # every object TensorFlow and Keras created (~0.2 s here) and would otherwise
    # land on whichever route allocates Python objects per image (the OpenCV
    # route: 391 instead of 660 images/s at 2000 images). Pausing it measures
    # each route at its best.
    gc.collect()
    gc.disable()
    try:
        count, start = 0, time.perf_counter()
        for _ in range(epochs):
            for images, _ in dataset:
                count += int(images.shape[0])
        return count / (time.perf_counter() - start)
    finally:
        gc.enable()


# ---- (a) the naive OpenCV route ----------------------------------------------------


def _cv_preprocess(image, name):
    image = image.astype(np.float32)
    if name in ("max_rgb", "shades_of_gray"):
        if name == "max_rgb":
            e = image.reshape(-1, 3).max(axis=0)
        else:
            e = np.mean(image.reshape(-1, 3) ** 6, axis=0) ** (1 / 6)
        e = e / max(np.linalg.norm(e), 1e-12)
        image = np.clip(image / (np.sqrt(3) * np.maximum(e, 1e-12)), 0, 255)
    elif name == "ben_graham":
        u8 = image.astype(np.uint8)
        sigma = min(u8.shape[:2]) / 10
        image = cv2.addWeighted(u8, 4, cv2.GaussianBlur(u8, (0, 0), sigma), -4, 128)
    return image.astype(np.float32)


def _cv_load(data, name, size, seed):
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    h, w = image.shape[:2]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    top, left = (nh - size) // 2, (nw - size) // 2
    image = np.ascontiguousarray(image[top : top + size, left : left + size])
    image = _cv_preprocess(image, name)
    rng = np.random.default_rng(seed)
    zoom = rng.uniform(1.0, 1.3)
    center = (size / 2 + rng.uniform(-1, 1) * size * (1 - 1 / zoom) / 2,) * 2
    matrix = cv2.getRotationMatrix2D(center, rng.uniform(-180, 180), zoom)
    return cv2.warpAffine(image, matrix, (size, size), borderMode=cv2.BORDER_REFLECT)


def opencv_dataset(encoded, name, size, batch_size):
    def run_opencv(data, index):
        return _cv_load(data.numpy(), name, size, int(index))

    def load(index, data):
        image = tf.py_function(run_opencv, [data, index], tf.float32)
        return tf.ensure_shape(image, [size, size, 3]), tf.constant(0, tf.int32)

    ds = tf.data.Dataset.from_tensor_slices(encoded).enumerate()
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


# ---- (b) the model ----------------------------------------------------------------


def model_images_per_second(size, batch_size, steps):
    import keras

    model = keras.applications.EfficientNetB0(
        weights=None, input_shape=(size, size, 3), classes=2, classifier_activation=None
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x = (
        np.random.default_rng(0)
        .uniform(0, 255, (batch_size, size, size, 3))
        .astype("float32")
    )
    y = np.zeros(batch_size, "int32")
    model.train_on_batch(x, y)  # build + trace
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch_size / (time.perf_counter() - start)


def main(argv):
    del argv
    n, size, batch = FLAGS.num_images, FLAGS.image_size, FLAGS.batch_size
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores (load average "
        f"{load:.1f} at start), {n} JPEGs 256×341 → {size}×{size}, batch {batch}"
    )
    encoded = synthetic_jpegs(n, FLAGS.seed)
    source = source_dataset(encoded)

    model_rate = model_images_per_second(size, batch, FLAGS.model_steps)

    def pipeline(name):
        return make_dataset(
            "train",
            source=source,
            preprocessing=name,
            image_size=size,
            batch_size=batch,
            augment=True,
            seed=0,
        )

    # Warm-up: thread pools, XLA compilation, JPEG decoder, py_function.
    images_per_second(pipeline("none"))
    images_per_second(opencv_dataset(encoded[: 2 * batch], "none", size, batch))
    rows = []
    for name in tqdm(FLAGS.preprocessing, desc="preprocessings"):
        # Best of `--repeats` (a fresh, uncached dataset each time): other processes
        # on a shared machine only ever slow a measurement down.
        first, cached, cv_rate = 0.0, 0.0, 0.0
        for _ in range(FLAGS.repeats):
            ds = pipeline(name)
            first = max(first, images_per_second(ds))  # decode → … → cache → batch
            cached = max(cached, images_per_second(ds, epochs=2))  # cache → … → batch
            opencv = opencv_dataset(encoded, name, size, batch)
            cv_rate = max(cv_rate, images_per_second(opencv))
        rows.append((name, first, cached, cv_rate))

    print(
        f"\nEfficientNet-B0 trains on {model_rate:.1f} images/s "
        f"({FLAGS.model_steps} steps of {batch}, weights=None, {size}×{size})\n"
    )
    print(
        "| preprocessing | pipeline 1st epoch | pipeline later epochs (cached) "
        "| OpenCV py_function (every epoch) | 1st epoch / model | 1st epoch / OpenCV "
        "| later epochs / OpenCV |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, first, cached, cv_rate in rows:
        print(
            f"| {name} | {first:.0f} | {cached:.0f} | {cv_rate:.0f} "
            f"| {first / model_rate:.1f}× | {first / cv_rate:.2f}× | {cached / cv_rate:.2f}× |"
        )
    print("(images per second)")
    slowest = min(min(r[1], r[2]) for r in rows)
    feeds = slowest >= 3 * model_rate
    beats = [name for name, first, cached, cv_rate in rows if first >= cv_rate]
    beats_later = [name for name, first, cached, cv_rate in rows if cached >= cv_rate]
    print(
        f"\nPipeline ≥ 3× model training rate: {'yes' if feeds else 'NO'} "
        f"(slowest pipeline rate / model = {slowest / model_rate:.1f}×)"
    )
    print(f"Pipeline ≥ OpenCV, 1st epoch, for: {beats or 'no preprocessing name'}")
    print(
        f"Pipeline ≥ OpenCV, later epochs, for: {beats_later or 'no preprocessing name'}"
    )
    if not math.isfinite(slowest):
        raise SystemExit(1)


if __name__ == "__main__":
    define_flags()
    app.run(main)
