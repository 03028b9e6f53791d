"""Mask cache: aligned with the image, 0/255 PNGs, resumable, read by the pipeline."""

import cv2
import keras
import numpy as np
import tensorflow as tf

from skinkeras import data
from skinkeras.segmentation import masks as masks_lib


def _darkness_model(size=32):
    """'Segments' dark pixels: p = sigmoid((128 - mean RGB) / 4)."""
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Lambda(lambda t: keras.ops.mean(t, axis=-1, keepdims=True))(inputs)
    outputs = keras.layers.Lambda(lambda t: keras.ops.sigmoid((128.0 - t) / 4.0))(x)
    return keras.Model(inputs, outputs)


def _examples():
    rng = np.random.default_rng(0)
    examples = []
    for i, (height, width) in enumerate([(48, 64), (40, 40), (60, 45)]):
        image = np.full((height, width, 3), 220, np.uint8)
        top, left = rng.integers(5, 15, size=2)
        image[top : top + 20, left : left + 16] = 30
        examples.append({"image": image, "image_id": f"ISIC_{i:07d}".encode()})
    return examples


def test_masks_have_image_size_and_follow_the_lesion(tmp_path):
    examples = _examples()
    counts = masks_lib.write_masks(
        _darkness_model(), examples, tmp_path, "train", batch_size=2
    )
    assert counts == {"written": 3, "skipped": 0}
    for example in examples:
        path = masks_lib.mask_path(tmp_path, "train", example["image_id"].decode())
        mask = tf.io.decode_png(path.read_bytes()).numpy()[..., 0]
        assert mask.shape == example["image"].shape[:2]
        assert set(np.unique(mask)) == {0, 255}
        want = example["image"].mean(-1) < 128
        # Borders move by at most a pixel through the squash-and-back resize.
        assert np.mean((mask == 255) == want) > 0.95


def test_resumes_without_rewriting(tmp_path):
    model = _darkness_model()
    examples = _examples()
    masks_lib.write_masks(model, examples[:1], tmp_path, "validation")
    first = masks_lib.mask_path(tmp_path, "validation", "ISIC_0000000")
    first.write_bytes(b"kept")  # a finished file is never redone
    counts = masks_lib.write_masks(model, examples, tmp_path, "validation")
    assert counts == {"written": 2, "skipped": 1}
    assert first.read_bytes() == b"kept"
    assert not list((tmp_path / "validation").glob(".tmp-*"))


def test_pipeline_reads_the_cached_masks(tmp_path):
    examples = _examples()
    masks_lib.write_masks(_darkness_model(), examples, tmp_path, "train")
    source = tf.data.Dataset.from_generator(
        lambda: (
            {"image": e["image"], "image_id": e["image_id"], "melanoma": np.int64(1)}
            for e in examples
        ),
        output_signature={
            "image": tf.TensorSpec((None, None, 3), tf.uint8),
            "image_id": tf.TensorSpec((), tf.string),
            "melanoma": tf.TensorSpec((), tf.int64),
        },
    )
    ds = data.make_dataset(
        "train",
        dataset="isic2017",
        preprocessing="lesion_mask",
        masks_dir=str(tmp_path),
        mask_mode="gray128",
        image_size=32,
        batch_size=3,
        shuffle=False,
        source=source,
    )
    images, _ = next(iter(ds))
    # OpenCV reference: the PNG as written, image and mask centre-cropped and shrunk
    # by area averaging, colour inside the lesion, gray 128 outside (soft borders
    # blend), rounded to the uint8 cache.
    for example, actual in zip(examples, images.numpy(), strict=True):
        path = masks_lib.mask_path(tmp_path, "train", example["image_id"].decode())
        mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
        image = _crop_and_shrink(example["image"].astype(np.float32), 32)
        weight = _crop_and_shrink(mask, 32)[..., None]
        expected = np.round(weight * image + (1 - weight) * 128.0)
        assert (weight == 0).mean() > 0.3 and (weight == 1).mean() > 0.1
        np.testing.assert_allclose(actual, expected, atol=1.0)


def _crop_and_shrink(image, size):
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top : top + side, left : left + side]
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
