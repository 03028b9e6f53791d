"""Segmenter data and a tiny end-to-end training run (in-memory data)."""

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from skinkeras.segmentation import data as seg_data
from skinkeras.segmentation.training import SegmentConfig, mask_panels, train_segmenter
from tests.models.helpers import use_tiny_encoder


def disc_examples(count, *, height=48, width=64, seed=0):
    """Dark discs on light skin; the mask is the disc (0/1)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:height, :width]
    images, masks = [], []
    for _ in range(count):
        cy, cx = rng.uniform(0.3, 0.7) * height, rng.uniform(0.3, 0.7) * width
        radius = rng.uniform(0.15, 0.3) * height
        mask = ((rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2).astype(np.uint8)
        image = np.where(mask[..., None], [90, 50, 30], [220, 180, 160])
        image = image + rng.normal(0, 8, image.shape)
        images.append(np.clip(image, 0, 255).astype(np.uint8))
        masks.append(mask[..., None])
    return tf.data.Dataset.from_tensor_slices(
        {
            "image": np.stack(images),
            "mask": np.stack(masks),
            "image_id": [f"ID_{i}" for i in range(count)],
        }
    )


def test_resize_mask_against_numpy_nearest_for_integer_factor():
    mask = np.zeros((64, 64, 1), np.uint8)
    mask[8:40, 16:48] = 255
    resized = seg_data.resize_mask(mask, 32).numpy()
    np.testing.assert_array_equal(resized, (mask[::2, ::2] > 0).astype(np.float32))


def test_dataset_pairs_stay_aligned_under_augmentation():
    ds = seg_data.make_segmentation_dataset(
        "train", image_size=32, batch_size=4, training=True, source=disc_examples(8)
    )
    for images, masks in ds.take(3):
        assert images.shape == (4, 32, 32, 3) and masks.shape == (4, 32, 32, 1)
        # The disc is dark: masked pixels are the dark ones, whatever the symmetry.
        dark = tf.reduce_mean(images, axis=-1, keepdims=True) < 120
        agreement = tf.reduce_mean(tf.cast(dark == (masks > 0.5), tf.float32))
        assert float(agreement) > 0.95
    validation = seg_data.make_segmentation_dataset(
        "validation", image_size=32, batch_size=3, source=disc_examples(5)
    )
    assert [int(b[0].shape[0]) for b in validation] == [3, 2]


def test_mask_panels_layout():
    images = np.full((1, 4, 4, 3), 255.0, np.float32)
    masks = np.zeros((1, 4, 4, 1), np.float32)
    predicted = np.ones((1, 4, 4, 1), np.float32)
    panels = mask_panels(images, masks, predicted).numpy()
    assert panels.shape == (1, 4, 12, 3)
    np.testing.assert_array_equal(panels[0, :, :4], 1.0)
    np.testing.assert_array_equal(panels[0, :, 4:8], 0.0)
    np.testing.assert_array_equal(panels[0, :, 8:], 1.0)


def test_invalid_config():
    with pytest.raises(ValueError, match="Received: encoder='vgg'"):
        SegmentConfig(encoder="vgg")
    with pytest.raises(ValueError, match="Received: loss='l2'"):
        SegmentConfig(loss="l2")


@pytest.fixture
def tiny_encoder(monkeypatch):
    return use_tiny_encoder(monkeypatch, caffe_preprocess=False)


def _config(tmp_path, **overrides):
    """A small two-stage run on 32-px discs, into `tmp_path / "seg"`."""
    values = dict(
        weights="none",
        image_size=32,
        batch_size=4,
        head_epochs=1,
        model_dir=str(tmp_path / "seg"),
    )
    values.update(overrides)
    return SegmentConfig(**values)


def _sources():
    return {"train": disc_examples(8), "validation": disc_examples(4, seed=1)}


def check_finished_run(run, config, sources, summary):
    """The files of a finished run: config, model, summary, TensorBoard events.

    tests/experiments/test_segment.py checks its EfficientNet-B0 run with it too.
    """
    assert summary["epochs"] == config.head_epochs + config.epochs
    assert [record["epoch"] for record in summary["history"]] == list(
        range(1, summary["epochs"] + 1)
    )
    assert 0.0 <= summary["val_dice"] <= 1.0
    assert set(summary["history"][0]) >= {
        "loss",
        "val_loss",
        "val_dice",
        "val_iou",
        "lr",
    }
    assert json.loads((run / "config.json").read_text())["encoder"] == config.encoder
    model = keras.models.load_model(run / "model.keras", compile=False)
    assert model.output_shape == (None, 32, 32, 1)
    events = list((run / "logs").glob("events.out.tfevents.*"))
    assert events
    tags = set()
    for event in tf.compat.v1.train.summary_iterator(str(events[0])):
        tags.update(value.tag for value in event.summary.value)
    assert {"masks/validation", "validation/dice", "optimizer/learning_rate"} <= tags
    # A finished run is returned as it is.
    assert train_segmenter(config, sources=sources) == json.loads(
        (run / "summary.json").read_text()
    )


def test_unprepared_isic_dataset_names_the_build_command(tmp_path):
    from skinkeras.data import DatasetNotPreparedError

    with pytest.raises(DatasetNotPreparedError, match="tfds build isic2018_task1"):
        seg_data.load_split("isic2018_task1", "train", data_dir=str(tmp_path))


class _CrashAfter(keras.callbacks.Callback):
    """Simulates a killed process after the given epoch (over both stages) was saved.

    Extra callbacks run after the runner's: the epoch's checkpoint is on disk.
    """

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs
        self.seen = 0

    def on_epoch_end(self, epoch, logs=None):
        self.seen += 1
        if self.seen == self.epochs:
            raise KeyboardInterrupt("simulated crash")


class _Trace(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint(tmp_path, tiny_encoder):
    """Issue 13: the segmenter checkpoints and resumes through the shared runner."""
    # One head epoch: the crash comes in the middle of stage 2, after stage 1.
    config = _config(tmp_path, encoder=tiny_encoder, head_epochs=1, epochs=2)
    sources = _sources()
    with pytest.raises(KeyboardInterrupt):
        train_segmenter(config, sources=sources, verbose=0, callbacks=[_CrashAfter(2)])
    run = tmp_path / "seg"
    assert not (run / "summary.json").exists()
    manifest = json.loads((run / "checkpoints" / "state.json").read_text())
    assert (manifest["stage"], manifest["stage_epoch"], manifest["epoch"]) == (2, 1, 2)
    trace = _Trace()
    summary = train_segmenter(config, sources=sources, verbose=0, callbacks=[trace])
    assert trace.epochs == [1]  # only stage 2's second epoch was left
    assert [(r["stage"], r["stage_epoch"]) for r in summary["history"]] == [
        (1, 1),
        (2, 1),
        (2, 2),
    ]
    # The same numbers as an uninterrupted run: weights, optimizer moments and
    # step counter, and the position in the data stream all came back.
    whole = dataclasses.replace(config, model_dir=str(tmp_path / "whole"))
    uninterrupted = train_segmenter(whole, sources=sources, verbose=0, max_images=2)
    check_finished_run(tmp_path / "whole", whole, sources, uninterrupted)
    for got, want in zip(summary["history"], uninterrupted["history"], strict=True):
        assert got == pytest.approx(want, rel=1e-6)
    # Another configuration is not resumed from these checkpoints.
    (run / "summary.json").unlink()
    with pytest.raises(ValueError, match="different configuration.*lr=0.0003"):
        train_segmenter(dataclasses.replace(config, lr=1e-3), sources=sources)
