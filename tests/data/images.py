"""Deterministic test images shared by the data tests (not a test module)."""

import numpy as np
import tensorflow as tf


def random_image(height=64, width=64, seed=0):
    """Uniform noise, uint8 (H, W, 3)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def structured_image(height=64, width=64, seed=0):
    """A dermoscopy-like picture: tinted skin, gradient, dark blob, edges, hairs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    yy /= max(height - 1, 1)
    xx /= max(width - 1, 1)
    skin = np.array([220.0, 170.0, 150.0]) * (0.8 + 0.3 * xx[..., None])
    r2 = ((yy - 0.55) / 0.25) ** 2 + ((xx - 0.45) / 0.3) ** 2
    lesion = np.array([90.0, 55.0, 40.0])
    image = np.where(r2[..., None] < 1.0, lesion, skin)
    image += 25.0 * np.sin(12 * xx + 5 * yy)[..., None]  # texture
    image[height // 5, :, :] = 20.0  # a "hair"
    image[:, width // 7, :] = 30.0
    image += rng.normal(0.0, 4.0, image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def in_dataset_map(fn, *inputs):
    """`fn(*inputs)` computed inside `tf.data.Dataset.map` (big_vision's tfrun habit)."""
    ds = tf.data.Dataset.from_tensors(tuple(inputs)).map(fn)
    return next(iter(ds)).numpy()
