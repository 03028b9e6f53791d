"""Preprocessing maps vs numpy / OpenCV references, directly and inside tf.data."""

import cv2
import numpy as np
import pytest
import tensorflow as tf

from skinkeras.data import preprocessing as pp
from tests.data.images import in_dataset_map, random_image, structured_image

IMAGES = {
    "random": random_image(48, 64, seed=1),
    "structured": structured_image(64, 48, seed=2),
}


def np_max_rgb(image):
    e = image.astype(np.float64).max(axis=(0, 1))
    return e / np.linalg.norm(e)


def np_shades_of_gray(image, p):
    e = np.mean(image.astype(np.float64) ** p, axis=(0, 1)) ** (1.0 / p)
    return e / np.linalg.norm(e)


def np_correct(image, e):
    return np.clip(image.astype(np.float64) / (np.sqrt(3.0) * e), 0.0, 255.0)


def cv2_ben_graham(image, sigma):
    blur = cv2.GaussianBlur(image, (0, 0), sigma)
    return cv2.addWeighted(image, 4, blur, -4, 128).astype(np.float64)


# ---- illuminants and colour correction -------------------------------------------


# (Loops rather than parametrisation: the suite-wide autouse fixture costs ~0.7 s a test.)


def test_max_rgb_matches_numpy():
    for image in IMAGES.values():
        expected = np_max_rgb(image)
        np.testing.assert_allclose(pp.max_rgb_illuminant(image), expected, atol=1e-4)
        np.testing.assert_allclose(
            pp.color_constancy(image, method="max_rgb"),
            np_correct(image, expected),
            rtol=1e-4,
            atol=1e-4,
        )


def test_shades_of_gray_matches_numpy():
    for image in IMAGES.values():
        for p in (1, 6, 12.5):
            expected = np_shades_of_gray(image, p)
            e = pp.shades_of_gray_illuminant(image, p=p)
            np.testing.assert_allclose(e, expected, atol=1e-4)
            np.testing.assert_allclose(
                pp.color_constancy(image, method="shades_of_gray", p=p),
                np_correct(image, expected),
                rtol=1e-4,
                atol=1e-4,
            )


def test_shades_of_gray_large_p_does_not_overflow():
    # 255**40 overflows float32; the result must still approach Max-RGB.
    image = IMAGES["structured"]
    e = pp.shades_of_gray_illuminant(image, p=40).numpy()
    assert np.all(np.isfinite(e))
    np.testing.assert_allclose(e, np_shades_of_gray(image, 40), atol=1e-4)


def test_neutral_image_is_unchanged():
    gray = structured_image(32, 32).mean(axis=-1, keepdims=True).round()
    neutral = np.repeat(gray, 3, axis=-1).astype(np.float32)
    for method in ("max_rgb", "shades_of_gray"):
        out = pp.color_constancy(neutral, method=method)
        np.testing.assert_allclose(out, neutral, rtol=1e-5, atol=1e-4)


def test_black_image_gives_no_nan():
    black = np.zeros((8, 8, 3), np.uint8)
    e = pp.max_rgb_illuminant(black).numpy()
    np.testing.assert_allclose(e, np.full(3, 1 / np.sqrt(3)), atol=1e-6)
    for method in ("max_rgb", "shades_of_gray"):
        out = pp.color_constancy(black, method=method).numpy()
        assert np.all(np.isfinite(out)) and np.all(out == 0)
        # One empty channel: no NaN either, the channel stays 0.
        image = IMAGES["random"].copy()
        image[..., 2] = 0
        out = pp.color_constancy(image, method=method).numpy()
        assert np.all(np.isfinite(out)) and np.all(out[..., 2] == 0)


def test_batch_equals_single_images():
    batch = np.stack([IMAGES["random"], random_image(48, 64, seed=7)])
    for fn in (
        pp.max_rgb_illuminant,
        pp.shades_of_gray_illuminant,
        pp.color_constancy,
        pp.ben_graham,
    ):
        together = fn(batch).numpy()
        alone = np.stack([fn(image).numpy() for image in batch])
        np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-3)


# ---- Ben Graham vs OpenCV --------------------------------------------------------


BEN_GRAHAM_IMAGES = {
    "random224": random_image(224, 224, seed=3),
    "structured224": structured_image(224, 224, seed=4),
    "structured150x200": structured_image(150, 200, seed=5),
    "random37x53": random_image(37, 53, seed=6),
}


def test_ben_graham_matches_opencv():
    for name, image in BEN_GRAHAM_IMAGES.items():
        sigma = min(image.shape[:2]) / 10  # SPEC: sigma = size / 10
        expected = cv2_ben_graham(image, sigma)
        out = pp.ben_graham(image).numpy()
        assert out.dtype == np.float32 and out.shape == image.shape
        diff = np.abs(out - expected)
        assert diff.mean() < 1.5, (name, diff.mean())
        # Borders included: the outer ring (one kernel radius) alone is as close.
        r = (int(round(sigma * 6 + 1)) | 1) // 2  # OpenCV's kernel radius
        ring = np.ones(image.shape[:2], bool)
        ring[r:-r, r:-r] = False
        assert diff[ring].mean() < 1.5, (name, diff[ring].mean())


def test_ben_graham_explicit_sigma_and_constant_image():
    image = IMAGES["structured"]
    np.testing.assert_allclose(
        pp.ben_graham(image).numpy(), pp.ben_graham(image, sigma=4.8).numpy(), atol=1e-5
    )
    flat = np.full((20, 30, 3), 77, np.uint8)
    np.testing.assert_allclose(pp.ben_graham(flat), 128.0, atol=1e-3)
    black = np.zeros((20, 30, 3), np.uint8)
    np.testing.assert_allclose(pp.ben_graham(black), 128.0, atol=1e-6)


# ---- resize, lesion mask, preprocess() -------------------------------------------


def test_resize_and_center_crop_takes_the_centre():
    for height, width in ((64, 128), (128, 64), (90, 90)):
        check_centre_crop(height, width)


def check_centre_crop(height, width):
    # A linear ramp stays linear under (antialiased) bilinear resizing, so each
    # output pixel's value says which input position it came from.
    ramp_x = np.broadcast_to(np.arange(width, dtype=np.float32), (height, width))
    ramp_y = np.broadcast_to(
        np.arange(height, dtype=np.float32)[:, None], (height, width)
    )
    image = np.stack([ramp_x, ramp_y, np.full_like(ramp_x, 200.0)], axis=-1)
    size = 30
    out = pp.resize_and_center_crop(image, size).numpy()
    assert out.shape == (size, size, 3) and out.dtype == np.float32
    scale = min(height, width) / size  # input pixels per output pixel
    left = (width / scale - size) / 2
    top = (height / scale - size) / 2
    j = np.arange(size)
    expected_x = (j + left + 0.5) * scale - 0.5
    expected_y = (j + top + 0.5) * scale - 0.5
    inner = slice(2, -2)  # away from the clamped image edges
    np.testing.assert_allclose(out[5, inner, 0], expected_x[inner], atol=0.6)
    np.testing.assert_allclose(out[inner, 5, 1], expected_y[inner], atol=0.6)
    np.testing.assert_allclose(out[..., 2], 200.0, atol=1e-3)


def cv2_resize_and_center_crop(image, size):
    """OpenCV reference: the central square, INTER_AREA down / INTER_LINEAR up."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top : top + side, left : left + side].astype(np.float32)
    method = cv2.INTER_AREA if side >= size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=method)


def test_resize_matches_opencv_area_when_shrinking_and_linear_when_enlarging():
    # Uniform noise: every output pixel averages unrelated input pixels, so a
    # method without antialiasing (plain bilinear samples 2×2 pixels) is off by
    # tens of grey levels; integer and fractional scales, both orientations.
    cases = ((96, 128, 32), (100, 75, 30), (90, 90, 40), (61, 83, 17))
    cases += ((20, 30, 32), (25, 19, 50))  # enlarging
    for height, width, size in cases:
        image = random_image(height, width, seed=height)
        expected = cv2_resize_and_center_crop(image, size)
        out = pp.resize_and_center_crop(image, size).numpy()
        np.testing.assert_allclose(out, expected, atol=1e-3, err_msg=str(image.shape))
        # Unknown H and W inside tf.data: area or bilinear is chosen at run time.
        ds = tf.data.Dataset.from_generator(
            lambda image=image: iter([image]),
            output_signature=tf.TensorSpec([None, None, 3], tf.uint8),
        )
        out = next(
            iter(ds.map(lambda x, size=size: pp.resize_and_center_crop(x, size)))
        )
        assert out.shape == (size, size, 3)
        np.testing.assert_allclose(out, expected, atol=1e-3, err_msg=str(image.shape))


def test_resize_and_center_crop_batches_and_uint8():
    batch = np.stack([random_image(40, 60, seed=s) for s in range(3)])
    out = pp.resize_and_center_crop(batch, 24)
    assert out.shape == (3, 24, 24, 3) and out.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(out)) and float(tf.reduce_max(out)) <= 255.0


def np_gray(image):
    return image.astype(np.float64) @ np.array([0.2989, 0.5870, 0.1140])


def test_apply_lesion_mask_matches_numpy():
    image = IMAGES["structured"]
    gray = np.repeat(np_gray(image)[..., None], 3, axis=-1)
    for scale in (1, 255):  # 0/1 masks (TFDS) and 0/255 PNGs (make_masks)
        mask = np.zeros(image.shape[:2], np.uint8)
        mask[10:40, 5:30] = scale
        inside = mask.astype(bool)[..., None]
        out = pp.apply_lesion_mask(image, mask)
        np.testing.assert_allclose(out, np.where(inside, image, gray), atol=1e-3)
        out = pp.apply_lesion_mask(image, mask[..., None], mode="gray128")
        np.testing.assert_allclose(out, np.where(inside, image, 128.0), atol=1e-4)


def test_preprocess_returns_the_maps():
    image = IMAGES["random"]
    pairs = {
        "none": image.astype(np.float32),
        "max_rgb": pp.color_constancy(image, method="max_rgb"),
        "shades_of_gray": pp.color_constancy(image, method="shades_of_gray", p=6),
        "ben_graham": pp.ben_graham(image),
    }
    for name, expected in pairs.items():
        out = pp.preprocess(name)(image)
        assert out.dtype == tf.float32
        np.testing.assert_allclose(out, expected, atol=1e-5)
    np.testing.assert_allclose(
        pp.preprocess("shades_of_gray", p=2)(image),
        pp.color_constancy(image, p=2),
        atol=1e-5,
    )


# ---- same result directly and inside tf.data.Dataset.map -------------------------

MAPS = {
    "resize_and_center_crop": lambda x: pp.resize_and_center_crop(x, 32),
    "max_rgb_illuminant": pp.max_rgb_illuminant,
    "shades_of_gray_illuminant": pp.shades_of_gray_illuminant,
    "color_constancy_max_rgb": lambda x: pp.color_constancy(x, method="max_rgb"),
    "color_constancy_sog": pp.color_constancy,
    "ben_graham": pp.ben_graham,
    "ben_graham_batch": lambda x: pp.ben_graham(tf.stack([x, x[::-1]])),
    "lesion_mask": lambda x: pp.apply_lesion_mask(x, x[..., 0] > 128),
    "lesion_mask_gray128": lambda x: pp.apply_lesion_mask(
        x, x[..., :1] > 64, "gray128"
    ),
    **{f"preprocess_{name}": pp.preprocess(name) for name in pp.PREPROCESSING_NAMES},
}


def test_direct_call_equals_dataset_map():
    image = tf.constant(IMAGES["structured"])
    for name, fn in MAPS.items():
        direct = fn(image).numpy()
        mapped = in_dataset_map(fn, image)
        np.testing.assert_allclose(direct, mapped, rtol=1e-6, atol=1e-4, err_msg=name)


def test_ben_graham_dynamic_shape_in_dataset():
    # Images of varying size inside tf.data: sigma (and the kernel) follow each image.
    images = [random_image(30, 40, seed=1), random_image(50, 20, seed=2)]
    ds = tf.data.Dataset.from_generator(
        lambda: iter(images), output_signature=tf.TensorSpec([None, None, 3], tf.uint8)
    ).map(pp.ben_graham)
    for image, out in zip(images, ds, strict=True):
        np.testing.assert_allclose(out, pp.ben_graham(image), atol=1e-4)


# ---- bad input -------------------------------------------------------------------


def test_bad_p_raises():
    for p in (0, -1, 0.0, float("inf"), "6", None, True):
        with pytest.raises(ValueError, match=r"Received: p="):
            pp.shades_of_gray_illuminant(IMAGES["random"], p=p)
        with pytest.raises(ValueError, match=r"Received: p="):
            pp.color_constancy(IMAGES["random"], p=p)
        with pytest.raises(ValueError, match=r"Received: p="):
            pp.preprocess("shades_of_gray", p=p)


def test_bad_names_raise():
    with pytest.raises(ValueError, match=r"Received: method='gray_world'"):
        pp.color_constancy(IMAGES["random"], method="gray_world")
    with pytest.raises(ValueError, match=r"Received: name='clahe'"):
        pp.preprocess("clahe")
    with pytest.raises(ValueError, match=r"make_dataset.*Received: name='lesion_mask'"):
        pp.preprocess("lesion_mask")
    with pytest.raises(ValueError, match=r"Received: mode='black'"):
        pp.apply_lesion_mask(IMAGES["random"], np.ones((48, 64)), mode="black")
    with pytest.raises(ValueError, match=r"Received: sigma=0"):
        pp.ben_graham(IMAGES["random"], sigma=0)
    with pytest.raises(ValueError, match=r"Received: sigma=-2"):
        pp.preprocess("ben_graham", sigma=-2)
    with pytest.raises(ValueError, match=r"Received: size=0"):
        pp.resize_and_center_crop(IMAGES["random"], 0)
    with pytest.raises(ValueError, match=r"Received: image.shape="):
        pp.ben_graham(np.zeros((4, 4)))
