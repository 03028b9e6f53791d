"""Lesion masks of experiment 1, predicted once and cached as PNG files.

Layout read by `skinkeras.data.make_dataset(preprocessing="lesion_mask",
masks_dir=...)`: ``MASKS_DIR/<split>/<image_id>.png``, one channel uint8, 0 outside
and 255 inside the lesion, at the stored image's size (the pipeline resizes and
centre-crops image and mask together, so they must cover the same field of view).

The segmenter sees the whole image squashed to its input size (as in its
training, `skinkeras.segmentation.data`); its probability map is resized back to
the image's height and width and thresholded. Existing files are skipped, and each
file is written under a temporary name and renamed, so an interrupted run resumes
where it stopped and never leaves a half-written mask.
"""

import os
import pathlib

import numpy as np
import tensorflow as tf

from skinkeras.segmentation.data import resize_image


def mask_path(masks_dir, split, image_id):
    """``masks_dir/<split>/<image_id>.png``."""
    return pathlib.Path(masks_dir) / split / f"{image_id}.png"


def predict_masks(model, images, *, threshold=0.5, input_size=None):
    """Binary lesion masks of a list of images of any sizes.

    Args:
        model: the U-Net (RGB 0..255 → (B, S, S, 1) probabilities).
        images: list of (H_i, W_i, 3) uint8/float images.
        threshold: probability above which a pixel is lesion.
        input_size: the side S the model takes; default its input shape (224 if
            the model takes any size).

    Returns:
        list of uint8 (H_i, W_i) masks with values 0 and 255.
    """
    if input_size is None:
        input_size = model.input_shape[1] or 224
    batch = tf.stack([resize_image(image, input_size) for image in images])
    probabilities = model(batch, training=False)
    masks = []
    for image, probability in zip(images, probabilities, strict=True):
        height, width = np.shape(image)[:2]
        probability = tf.image.resize(
            tf.cast(probability, tf.float32), (height, width), method="bilinear"
        )
        masks.append(
            np.where(probability.numpy()[..., 0] > threshold, 255, 0).astype(np.uint8)
        )
    return masks


def _write_png(path, mask):
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    tmp.write_bytes(tf.io.encode_png(mask[..., None]).numpy())
    tmp.replace(path)


def write_masks(
    model,
    examples,
    masks_dir,
    split,
    *,
    batch_size=8,
    threshold=0.5,
    progress=False,
    total=None,
):
    """Predicts and writes the mask of every example not already in ``masks_dir``.

    Args:
        model: the trained U-Net.
        examples: iterable of dicts with numpy ``image`` (H, W, 3) and ``image_id``
            (str or bytes), e.g. ``tfds.as_numpy(split_dataset)``.
        masks_dir: root folder; masks go to ``masks_dir/<split>/``.
        split: split name (the subfolder).
        progress: show a tqdm bar (``total`` examples if known).

    Returns:
        ``{"written": n, "skipped": m}``.
    """
    out_dir = pathlib.Path(masks_dir) / split
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {"written": 0, "skipped": 0}
    pending = []

    def flush():
        if not pending:
            return
        masks = predict_masks(
            model, [image for _, image in pending], threshold=threshold
        )
        for (path, _), mask in zip(pending, masks, strict=True):
            _write_png(path, mask)
        counts["written"] += len(pending)
        pending.clear()

    from tqdm import tqdm

    for example in tqdm(
        examples, desc=f"masks {split}", total=total, disable=not progress
    ):
        image_id = example["image_id"]
        if isinstance(image_id, bytes):
            image_id = image_id.decode()
        path = mask_path(masks_dir, split, image_id)
        if path.exists():
            counts["skipped"] += 1
            continue
        pending.append((path, example["image"]))
        if len(pending) == batch_size:
            flush()
    flush()
    return counts
