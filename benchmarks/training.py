"""Training throughput (images/s) of every model variant, and one ISIC 2017 epoch.

    python -m benchmarks.training                      # 224 px, batch 16, 3 timed steps
    python -m benchmarks.training --variants=effnet_se --steps=5

Each variant is built with random weights, compiled as in stage 2 of the study (whole
model trainable, AdamW, one-cycle), and trained on random 0..255 images for
``--steps`` timed steps after one untimed warm-up step (graph tracing). The table gives
the median step time, images/s, and the implied time of one ISIC 2017 training epoch
(2000 images; the per-epoch validation pass is not included).
"""

import statistics
import time

from absl import app, flags

FLAGS = flags.FLAGS

VARIANTS = {
    "resnet50": {"model": "resnet50", "arl": False},
    "resnet50_arl": {"model": "resnet50", "arl": True},
    "effnet_se": {"model": "effnet", "se": True, "arl": False},
    "effnet_none": {"model": "effnet", "se": False, "arl": False},
    "effnet_arl": {"model": "effnet", "se": False, "arl": True},
    "effnet_se_arl": {"model": "effnet", "se": True, "arl": True},
}
ISIC2017_TRAIN = 2000  # SPEC: ISIC 2017 Part 3 training images

flags.DEFINE_list(
    "variants", list(VARIANTS), f"Variants to time, from {list(VARIANTS)}."
)
flags.DEFINE_integer("image_size", 224, "Input side in pixels.", lower_bound=32)
flags.DEFINE_integer("batch_size", 16, "Batch size.", lower_bound=1)
flags.DEFINE_integer(
    "steps",
    3,
    "Timed training steps per variant (after one warm-up step).",
    lower_bound=1,
)
flags.DEFINE_boolean("jit_compile", False, "Compile the train step with XLA.")
flags.DEFINE_boolean(
    "mixed_precision", False, "Mixed precision (mixed_bfloat16 on CPU)."
)
flags.DEFINE_boolean(
    "run_eagerly",
    False,
    "Skip graph tracing (minutes for ResNet-50 on a loaded 2-core machine); the step "
    "time then includes Python op dispatch, small next to a 224-px step.",
)


def time_variant(
    name, *, image_size, batch_size, steps, jit_compile, mixed_precision, run_eagerly
):
    """Median seconds per training step of one variant."""
    import keras
    import numpy as np
    import tensorflow as tf

    from skinkeras.training import TrainConfig, distribute
    from skinkeras.training.loop import compile_stage, model_from_config

    config = TrainConfig(
        weights="none",
        image_size=image_size,
        batch_size=batch_size,
        jit_compile=jit_compile,
        mixed_precision=mixed_precision,
        **VARIANTS[name],
    )
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    policy = "mixed_bfloat16" if mixed_precision else None
    with distribute.dtype_policy(policy):
        model = model_from_config(config)
        compile_stage(
            model, config, stage=2, steps_per_epoch=steps + 1, run_eagerly=run_eagerly
        )
        rng = np.random.default_rng(0)
        images = rng.uniform(0, 255, (batch_size, image_size, image_size, 3))
        labels = rng.integers(0, 2, batch_size)
        data = (
            tf.data.Dataset.from_tensors((images.astype("float32"), labels))
            .repeat()
            .prefetch(2)
        )

        class Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.times = []

            def on_train_batch_begin(self, batch, logs=None):
                self.start = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                self.times.append(time.perf_counter() - self.start)

        timer = Timer()
        model.fit(
            data,
            epochs=1,
            steps_per_epoch=steps + 1,
            callbacks=[timer],
            verbose=0,
            shuffle=False,
        )
    return statistics.median(timer.times[1:]), timer.times[0]


def main(argv):
    del argv
    unknown = [name for name in FLAGS.variants if name not in VARIANTS]
    if unknown:
        raise app.UsageError(
            f"Unknown variants {unknown}; choose from {list(VARIANTS)}."
        )
    import os

    print(
        f"Training throughput, {FLAGS.image_size} px, batch {FLAGS.batch_size}, "
        f"{FLAGS.steps} timed steps after 1 warm-up step, random weights, "
        f"{'eager' if FLAGS.run_eagerly else 'graph'} mode, "
        f"{os.cpu_count()} CPU cores visible (shared machine: timings are noisy).\n"
    )
    print(
        "| variant | s / step | images / s | ISIC 2017 train epoch (2000 images) | warm-up step (s) |"
    )
    print("|---|---|---|---|---|")
    for name in FLAGS.variants:
        step, warmup = time_variant(
            name,
            image_size=FLAGS.image_size,
            batch_size=FLAGS.batch_size,
            steps=FLAGS.steps,
            jit_compile=FLAGS.jit_compile,
            mixed_precision=FLAGS.mixed_precision,
            run_eagerly=FLAGS.run_eagerly,
        )
        throughput = FLAGS.batch_size / step
        epoch = ISIC2017_TRAIN / throughput
        print(
            f"| {name} | {step:.2f} | {throughput:.2f} | {epoch / 60:.1f} min | "
            f"{warmup:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    app.run(main)
