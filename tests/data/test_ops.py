"""skinkeras.data.ops: preprocessing as example → example ops, registered by name."""

import numpy as np
import pytest
import tensorflow as tf

from skinkeras import model_card
from skinkeras.data import make_dataset, ops
from skinkeras.data import preprocessing as pp
from tests.data.images import random_image, structured_image


def np_masked(image, mask, mode):
    """numpy reference of lesion masking: m * I + (1 - m) * outside."""
    image = image.astype(np.float64)
    m = mask.astype(np.float64)[..., None]
    if mode == "grayscale":
        luma = image @ np.array([0.2989, 0.5870, 0.1140])
        outside = np.repeat(luma[..., None], 3, axis=-1)
    else:
        outside = np.full_like(image, 128.0)
    return m * image + (1.0 - m) * outside


def test_registry_names_and_attributes():
    assert ops.names() == (
        "none",
        "max_rgb",
        "shades_of_gray",
        "ben_graham",
        "lesion_mask",
    )
    for name in pp.PREPROCESSING_NAMES:  # the image maps: only the image, exportable
        assert ops.spec(name).needs == () and ops.spec(name).in_model, name
    # Tables keyed by preprocessing name elsewhere cover exactly the registry.
    assert tuple(model_card.PREPROCESSING) == ops.names()
    masked = ops.spec("lesion_mask")
    assert masked.needs == ("mask",) and not masked.in_model
    assert masked.settings == ("mask_mode",)


def test_unknown_and_duplicate_names_raise(monkeypatch):
    with pytest.raises(ValueError, match=r"one of \('none'.*Received: name='clahe'\Z"):
        ops.get("clahe")
    with pytest.raises(ValueError, match=r"Received: name='clahe'\Z"):
        ops.spec("clahe")
    monkeypatch.setattr(ops, "_OPS", dict(ops._OPS))
    with pytest.raises(ValueError, match=r"already registered.*Received: name='none'"):
        ops.register("none")(lambda: None)


def test_image_ops_replace_only_the_image():
    image = random_image(30, 40, seed=3)
    # Max-RGB by hand: each channel over sqrt(3) × its unit-norm maximum.
    peak = image.reshape(-1, 3).max(axis=0).astype(np.float64)
    max_rgb = np.clip(image / (np.sqrt(3.0) * peak / np.linalg.norm(peak)), 0, 255)
    example = {"image": tf.constant(image), "image_id": tf.constant("ISIC_0000001")}
    out = ops.get("max_rgb")(example)
    assert sorted(out) == ["image", "image_id"] and out["image_id"] == b"ISIC_0000001"
    assert out["image"].dtype == tf.float32
    np.testing.assert_allclose(out["image"], max_rgb, atol=1e-3)
    assert example["image"].dtype == tf.uint8  # a new dict: the input is untouched
    np.testing.assert_array_equal(ops.get("none")(example)["image"], image)
    for name, options in (("shades_of_gray", {"p": 2}), ("ben_graham", {})):
        np.testing.assert_array_equal(
            ops.get(name, **options)(example)["image"],
            pp.preprocess(name, **options)(image),
        )
    with pytest.raises(ValueError, match=r"Received: p=0"):
        ops.get("shades_of_gray", p=0)


def test_lesion_mask_op_matches_numpy():
    image = structured_image(36, 44, seed=5)
    hard = np.zeros((36, 44), np.uint8)
    hard[6:30, 10:35] = 1
    soft = np.random.default_rng(0).random((36, 44)).astype(np.float32)
    for mode in pp.MASK_MODES:
        op = ops.get("lesion_mask", mask_mode=mode)
        for mask in (hard, soft):
            out = op({"image": image, "mask": mask[..., None], "label": 1})
            assert out["label"] == 1
            np.testing.assert_allclose(
                out["image"], np_masked(image, mask, mode), atol=1e-3
            )
        # Inside tf.data, as the pipeline runs it.
        ds = tf.data.Dataset.from_tensors({"image": image, "mask": hard}).map(op)
        np.testing.assert_allclose(
            next(iter(ds))["image"], np_masked(image, hard, mode), atol=1e-3
        )
    # The default is grayscale outside.
    np.testing.assert_allclose(
        ops.get("lesion_mask")({"image": image, "mask": hard})["image"],
        np_masked(image, hard, "grayscale"),
        atol=1e-3,
    )


def test_lesion_mask_op_names_the_missing_mask():
    op = ops.get("lesion_mask")
    with pytest.raises(ValueError, match=r"`mask` key.*Received: keys=\['image'\]"):
        op({"image": random_image(8, 8)})
    with pytest.raises(ValueError, match=r"Received: mask_mode='black'"):
        ops.get("lesion_mask", mask_mode="black")
    # The image-only API refuses it, naming what it reads.
    with pytest.raises(ValueError, match=r"reads the example's mask too"):
        pp.preprocess("lesion_mask")


def test_pipeline_runs_any_registered_op_by_its_attributes(monkeypatch):
    """The pipeline provides what an op `needs`, whatever its name (no name checks)."""
    monkeypatch.setattr(ops, "_OPS", dict(ops._OPS))

    @ops.register("mask_as_image", needs=("mask",))
    def _mask_as_image():
        def op(example):
            image = tf.repeat(example["mask"] * 255.0, 3, axis=-1)
            return {**example, "image": image}

        return op

    image = structured_image(16, 16, seed=1)
    mask = np.zeros((16, 16, 1), np.uint8)
    mask[4:12, 2:9] = 1
    source = tf.data.Dataset.from_tensors(
        {"image": image, "mask": mask, "melanoma": np.int64(1)}
    )
    x, y = next(
        iter(
            make_dataset(
                "validation",
                source=source,
                preprocessing="mask_as_image",
                image_size=16,
                batch_size=1,
            )
        )
    )
    np.testing.assert_array_equal(x[0], np.repeat(mask * 255.0, 3, axis=-1))
    assert y.numpy().tolist() == [1]
    # Without a mask feature nor masks_dir it is refused before anything runs.
    with pytest.raises(ValueError, match=r"'mask_as_image'.*Received: masks_dir=None"):
        make_dataset(
            "validation",
            source=tf.data.Dataset.from_tensors({"image": image, "melanoma": 1}),
            preprocessing="mask_as_image",
            image_size=16,
        )
