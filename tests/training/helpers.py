"""A tiny stand-in model and in-memory datasets for fast tests of the loop."""

import json

import keras
import numpy as np
import tensorflow as tf

from skinkeras.layers import AttentionResidual
from skinkeras.training import TrainConfig


def tiny_model(config):
    """Backbone (conv, BN, ARL) + `head_` layers, like skinkeras.models' layout."""
    size = config.image_size
    inputs = keras.Input((size, size, 3), name="input")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv1")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    shortcut = keras.layers.ReLU(name="relu1")(x)
    residual = keras.layers.Conv2D(4, 3, padding="same", name="conv2")(shortcut)
    x = AttentionResidual(name="block1_arl")([shortcut, residual])
    x = keras.layers.GlobalAveragePooling2D(name="head_avg_pool")(x)
    x = keras.layers.Dropout(0.5, name="head_dropout")(x)  # a random stream per step
    outputs = keras.layers.Dense(config.num_classes, name="head_logits")(x)
    return keras.Model(inputs, outputs, name="tiny")


def source(num_examples, seed, size=16):
    """Dicts like the TFDS features: melanoma images are brighter (learnable)."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(num_examples) % 2).astype(np.int64)
    images = rng.integers(0, 128, size=(num_examples, size, size, 3))
    images = (images + 100 * labels[:, None, None, None]).astype(np.uint8)
    return tf.data.Dataset.from_tensor_slices(
        {
            "image": images,
            "melanoma": labels,
            "image_id": [f"TEST_{i:04d}" for i in range(num_examples)],
        }
    )


def sources():
    return {"train": source(8, 0), "validation": source(6, 1)}


def config(tmp_path, **overrides):
    values = dict(
        model="effnet",
        weights="none",
        image_size=16,
        batch_size=4,
        head_epochs=1,
        epochs=2,
        strategy="cpu",
        model_dir=str(tmp_path / "run"),
    )
    values.update(overrides)
    return TrainConfig(**values)


def floats_of(summary):
    """Every number of a summary's history and alphas, in order (for exact equality)."""
    data = {"history": summary["history"], "alphas": summary["alphas"]}
    return json.dumps(data, sort_keys=True)
