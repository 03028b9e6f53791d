"""References shared by the inference, export and CLI tests: independent of
skinkeras.inference (a NumPy softmax, training's own `make_dataset`, NumPy views)."""

import csv
import pathlib

import numpy as np
import tensorflow as tf

from skinkeras import data

REPO = pathlib.Path(__file__).resolve().parents[2]


def softmax_of(model, images):
    """Independent reference: the model's logits through a NumPy softmax.

    `images`: float (B, S, S, 3), or a metadata model's ``{"image", "age", "sex",
    "site"}``.
    """
    if isinstance(images, dict):
        images = {key: np.asarray(value) for key, value in images.items()}
        images["image"] = images["image"].astype(np.float32)
    else:
        images = np.asarray(images, np.float32)
    logits = np.asarray(model(images, training=False), np.float64)
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.reader(file))


def training_path_images(paths, *, image_size, preprocessing):
    """The images `make_dataset` feeds training, from the same encoded files."""
    source = tf.data.Dataset.from_tensor_slices(
        {
            "image": [pathlib.Path(p).read_bytes() for p in paths],
            "image_id": [pathlib.Path(p).stem for p in paths],
            "melanoma": [0] * len(paths),
        }
    )
    dataset = data.make_dataset(
        "test",
        source=source,
        preprocessing=preprocessing,
        image_size=image_size,
        batch_size=len(paths),
        shuffle=False,
    )
    return next(iter(dataset))[0].numpy()


def numpy_tta_views(images, tta):
    """Independent reference for `tta` (README, "Predict"): the first N views of
    1 none, 2 + horizontal flip, 4 + vertical flip and 180°, 8 all of them (the
    90° rotations and both transposes: the dihedral group D4 on the (H, W) axes)."""
    images = np.asarray(images)
    views = [
        images,
        images[:, :, ::-1],  # horizontal flip: the width axis reversed
        images[:, ::-1],  # vertical flip
        images[:, ::-1, ::-1],  # 180°
    ]
    views += [np.rot90(images, k, axes=(1, 2)) for k in (1, 3)]
    views += [np.swapaxes(images, 1, 2), np.swapaxes(images[:, ::-1, ::-1], 1, 2)]
    return {1: views[:1], 2: views[:2], 4: views[:4], 8: views}[tta]


def numpy_tta(models, images, tta):
    """Softmax averaged over the models and the numpy views."""
    return np.mean(
        [softmax_of(m, v) for m in models for v in numpy_tta_views(images, tta)],
        axis=0,
    )
