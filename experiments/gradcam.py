r"""Grad-CAM comparison grid of several trained runs (the study's figures 4.2, 4.4).

    python -m experiments.gradcam --model_dirs=runs/resnet50,runs/resnet50_arl \
        --images=val_images/ --out=grid.png [--seed=0] [--class_index=1]

One row per image, one column per run (after the image itself): the Grad-CAM
heatmap of the run's last convolutional feature map over the image. Each run
sees the image as in its training (its ``config.json``: image size, preprocessing),
and the heatmap is drawn over the natural-colour resized image. A multi-seed run
directory uses ``--seed`` (default: its first seed). Column titles give the
predicted melanoma probability.
"""

import pathlib

import numpy as np
from absl import flags

from experiments import common_flags, deploy_cli

FLAGS = flags.FlagValues()
flags.DEFINE_list(
    "model_dirs",
    None,
    "Run directories to compare (one column each).",
    flag_values=FLAGS,
)
flags.DEFINE_list(
    "images", None, "Image files or folders (one row per image).", flag_values=FLAGS
)
flags.DEFINE_string("out", "gradcam.png", "Output PNG.", flag_values=FLAGS)
flags.DEFINE_list(
    "labels",
    None,
    "Column titles (default: the run directory names).",
    flag_values=FLAGS,
)
flags.DEFINE_integer(
    "seed",
    None,
    "Seed of multi-seed run directories (default: the first).",
    flag_values=FLAGS,
)
flags.DEFINE_integer(
    "class_index",
    None,
    "Class explained (1 = melanoma); default: each image's predicted class.",
    flag_values=FLAGS,
)
flags.DEFINE_integer(
    "max_images",
    8,
    "At most this many images (rows).",
    lower_bound=1,
    flag_values=FLAGS,
)
flags.DEFINE_float("alpha", 0.4, "Heatmap opacity.", flag_values=FLAGS)
common_flags.define_image_limit_flags(FLAGS, module=__name__)
flags.mark_flags_as_required(["model_dirs", "images"], flag_values=FLAGS)


def load_model_run(model_dir, *, seed=None):
    """One seed of a run as a `skinkeras.inference.Run` (its first seed by default)."""
    from skinkeras import data, inference

    first_seed, _ = inference.find_models(model_dir, seed=seed)[0]
    run = inference.load_run(model_dir, seed=first_seed)
    if data.ops.spec(run.preprocessing).needs:  # lesion_mask: files have no mask
        raise ValueError(
            "Grad-CAM on image files cannot apply a lesion mask (no mask per file). "
            f"Received: model_dir={model_dir}"
        )
    if run.metadata_encoding is not None:  # issue 26: not drawn for metadata yet
        raise ValueError(
            "Grad-CAM here draws image-only runs; this run also reads patient "
            f"metadata (--metadata). Received: model_dir={model_dir}"
        )
    return run


def explain(run, paths, *, class_index=None, alpha=0.4):
    """Overlays, natural images and melanoma probabilities of ``paths`` for one run."""
    import tensorflow as tf

    from skinkeras import gradcam, inference, metrics

    transform = inference.bytes_transform(
        image_size=run.image_size, preprocessing=run.preprocessing
    )
    natural, inputs = zip(
        *(transform(tf.io.read_file(str(path)), str(path)) for path in paths),
        strict=True,
    )
    inputs = np.stack([x.numpy() for x in inputs])
    heatmaps = gradcam.gradcam(run.model, inputs, class_index=class_index)
    logits = run.model.predict(inputs, verbose=0)
    probabilities = metrics.melanoma_probability(logits)
    overlays = [
        gradcam.overlay(image.numpy(), heatmap, alpha=alpha)
        for image, heatmap in zip(natural, heatmaps, strict=True)
    ]
    return (
        overlays,
        [image.numpy().astype(np.uint8) for image in natural],
        probabilities,
    )


def draw_grid(images, columns, out, *, titles, row_names):
    """``images``: list of rows of natural images; ``columns``: per run, a list of
    ``(overlay, melanoma probability)`` per row. Writes the PNG; returns its shape."""
    plt = deploy_cli.pyplot()
    rows, cols = len(images), len(columns) + 1
    figure, axes = plt.subplots(
        rows, cols, figsize=(2.4 * cols, 2.4 * rows), squeeze=False
    )
    for r in range(rows):
        axes[r, 0].imshow(images[r])
        axes[r, 0].set_ylabel(row_names[r], fontsize=7)
        for c, column in enumerate(columns, start=1):
            overlay, probability = column[r]
            axes[r, c].imshow(overlay)
            axes[r, c].set_xlabel(f"p(melanoma) = {probability:.2f}", fontsize=7)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    for c, title in enumerate(["image", *titles]):
        axes[0, c].set_title(title, fontsize=8)
    figure.tight_layout()
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return rows, cols


def main(argv):
    from skinkeras import imagefiles, inference

    if len(argv) > 1:
        raise SystemExit(f"error: unexpected arguments {argv[1:]}.")
    titles = FLAGS.labels or [pathlib.Path(d).name for d in FLAGS.model_dirs]
    if len(titles) != len(FLAGS.model_dirs):
        raise SystemExit(
            f"error: --labels needs one title per model dir. Received: labels={titles}"
        )
    try:
        paths = inference.list_images(FLAGS.images)
        if not paths:
            raise FileNotFoundError(f"No images found. Received: images={FLAGS.images}")
        # Issue 14: sizes from the headers, before anything is decoded.
        paths = imagefiles.within_limits(
            paths, max_pixels=FLAGS.max_pixels, min_side=FLAGS.min_side
        )[: FLAGS.max_images]
        runs = [load_model_run(d, seed=FLAGS.seed) for d in FLAGS.model_dirs]
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
    columns, natural = [], None
    for run in runs:
        overlays, images, probabilities = explain(
            run, paths, class_index=FLAGS.class_index, alpha=FLAGS.alpha
        )
        natural = natural or images
        columns.append(list(zip(overlays, probabilities, strict=True)))
    rows, cols = draw_grid(
        natural, columns, FLAGS.out, titles=titles, row_names=[p.stem for p in paths]
    )
    print(f"Wrote {FLAGS.out}: {rows} images x {cols - 1} runs.")
    return 0


cli = deploy_cli.console_script(main, FLAGS)

if __name__ == "__main__":
    cli()
