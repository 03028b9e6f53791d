"""Augmentation: geometry vs numpy/scipy, ranges, identity, seeds, tf.data parity."""

import numpy as np
import pytest
import scipy.ndimage
import tensorflow as tf

from skinkeras.data import augment
from skinkeras.data.augment import brightness_shift, rotate_and_zoom
from tests.data.images import in_dataset_map, random_image, structured_image

SEED = tf.constant([1, 2], tf.int64)


def transform(image, angle, scale, offset=(0.0, 0.0)):
    batch = tf.constant(image[None], tf.float32)
    out = rotate_and_zoom(
        batch, tf.constant([angle]), tf.constant([scale]), tf.constant([offset])
    )
    return out.numpy()[0]


def test_matches_tensorflow_projective_transform_op():
    # The gather implementation computes what the op under keras.layers.RandomRotation
    # does, reflected borders included.
    images = tf.constant(
        np.stack([random_image(30, 44, seed=s) for s in range(3)]), tf.float32
    )
    angles = tf.constant([0.4, -2.5, 3.1])
    scales = tf.constant([1.0, 1.3, 1.1])
    offsets = tf.constant([[0.0, 0.0], [3.0, -2.0], [-1.5, 4.0]])
    cos, sin = tf.cos(angles) / scales, tf.sin(angles) / scales
    cx, cy = (44 - 1) / 2, (30 - 1) / 2
    transforms = tf.stack(
        [
            cos,
            -sin,
            cx + offsets[:, 0] - cos * cx + sin * cy,
            sin,
            cos,
            cy + offsets[:, 1] - sin * cx - cos * cy,
            tf.zeros(3),
            tf.zeros(3),
        ],
        axis=1,
    )
    expected = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=[30, 44],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )
    np.testing.assert_allclose(
        rotate_and_zoom(images, angles, scales, offsets), expected, atol=0.05
    )


def test_zero_rotation_and_zoom_is_identity():
    image = structured_image(33, 40).astype(np.float32)
    np.testing.assert_array_equal(transform(image, 0.0, 1.0), image)
    for seed in ([0, 0], [5, 9]):
        np.testing.assert_array_equal(
            augment(image, seed, rotation=False, zoom=0), image
        )
        np.testing.assert_array_equal(augment(image, seed, rotation=0, zoom=0.0), image)


def test_geometry_matches_numpy_and_scipy():
    image = random_image(31, 31, seed=3).astype(np.float32)
    # A quarter turn is numpy's rot90 (counter-clockwise, k=1).
    np.testing.assert_allclose(
        transform(image, np.pi / 2, 1.0), np.rot90(image), atol=1e-2
    )
    np.testing.assert_allclose(
        transform(image, np.pi, 1.0), image[::-1, ::-1], atol=1e-2
    )
    # Any rotation + zoom + shift: bilinear sampling at c + t + R(p - c) / s, checked
    # with scipy where the sample lies inside the image (the border is reflected).
    angle, scale, offset = 0.7, 1.25, (2.0, -1.5)
    out = transform(image, angle, scale, offset)
    c = (31 - 1) / 2
    yy, xx = np.mgrid[0:31, 0:31].astype(np.float64)
    x_in = c + offset[0] + (np.cos(angle) * (xx - c) - np.sin(angle) * (yy - c)) / scale
    y_in = c + offset[1] + (np.sin(angle) * (xx - c) + np.cos(angle) * (yy - c)) / scale
    inside = (x_in >= 0) & (x_in <= 30) & (y_in >= 0) & (y_in <= 30)
    for ch in range(3):
        expected = scipy.ndimage.map_coordinates(image[..., ch], [y_in, x_in], order=1)
        np.testing.assert_allclose(out[..., ch][inside], expected[inside], atol=1e-2)
    assert inside.mean() > 0.9


def test_shape_dtype_and_range_are_kept():
    for image in (
        random_image(40, 32, seed=1),  # uint8
        structured_image(40, 32).astype(np.float32),
        np.stack([random_image(24, 24, seed=s) for s in range(4)]).astype(np.float32),
    ):
        out = augment(image, SEED, brightness=True)
        assert out.shape == image.shape and out.dtype == image.dtype
        values = out.numpy().astype(np.float64)
        assert values.min() >= 0.0 and values.max() <= 255.0
        assert not np.array_equal(values, image)


def test_zoom_only_magnifies_a_region_inside_the_image():
    # Zoom without rotation never looks outside the image: a constant border-free
    # check is that a ramp's range shrinks, by at most the zoom factor.
    ramp = np.broadcast_to(np.arange(64, dtype=np.float32)[None, :, None], (64, 64, 3))
    for seed in range(5):
        out = augment(ramp, [seed, 0], rotation=False, zoom=0.3).numpy()
        span = out[32, :, 0].max() - out[32, :, 0].min()
        assert 63 / 1.3 - 0.5 <= span <= 63 + 1e-3
        assert out.min() >= 0 and out.max() <= 63 + 1e-3


def test_rotation_angles_cover_plus_minus_180():
    # The angle of a rotated impulse's position recovers the sampled rotation.
    image = np.zeros((300, 41, 41, 3), np.float32)
    image[:, 20, 35] = 255.0  # on the +x axis from the centre
    out = augment(image, [0, 7], zoom=0).numpy()[..., 0].reshape(300, -1)
    y, x = np.unravel_index(np.argmax(out, axis=1), (41, 41))
    angles = np.degrees(np.arctan2(y - 20, x - 20))
    assert angles.min() < -150 and angles.max() > 150
    assert abs(np.mean(angles > 0) - 0.5) < 0.12  # roughly uniform


def test_brightness_matches_fastai_formula():
    image = structured_image(16, 16).astype(np.float32)
    np.testing.assert_allclose(
        brightness_shift(tf.constant(image[None]), tf.constant([0.5])).numpy()[0],
        image,
        atol=2e-3,
    )
    change = 0.6
    x = np.clip(image / 255.0, 1e-6, 1 - 1e-6)
    logit = np.log(x / (1 - x)) + np.log(change / (1 - change))
    expected = 255.0 / (1.0 + np.exp(-logit))
    out = brightness_shift(tf.constant(image[None]), tf.constant([change])).numpy()[0]
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-3)


def test_seeds_determine_the_output():
    batch = np.stack([structured_image(32, 32)] * 3).astype(np.float32)
    a = augment(batch, [3, 4], brightness=True).numpy()
    b = augment(batch, [3, 4], brightness=True).numpy()
    c = augment(batch, [3, 5], brightness=True).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # Each image of a batch gets its own parameters.
    assert not np.allclose(a[0], a[1]) and not np.allclose(a[1], a[2])


def test_direct_call_equals_dataset_map():
    image = tf.constant(structured_image(32, 32).astype(np.float32))
    seed = tf.constant([11, 12], tf.int64)
    for kwargs in ({"brightness": True}, {"rotation": False, "zoom": 0.3}):

        def fn(x, s, kwargs=kwargs):
            return augment(x, s, **kwargs)

        np.testing.assert_allclose(
            fn(image, seed).numpy(), in_dataset_map(fn, image, seed), atol=1e-4
        )


def test_output_dtype_float_from_uint8_equals_augmenting_floats():
    """`make_dataset` augments its cached uint8 batches straight to float32."""
    batch = np.stack([random_image(20, 28, seed=s) for s in range(3)])
    for brightness in (False, True):
        direct = augment(batch, SEED, brightness=brightness, dtype="float32")
        assert direct.dtype == tf.float32
        expected = augment(batch.astype(np.float32), SEED, brightness=brightness)
        np.testing.assert_array_equal(direct.numpy(), expected.numpy())


def test_bad_arguments_raise():
    image = random_image(8, 8)
    with pytest.raises(ValueError, match=r"Received: zoom=-0.1"):
        augment(image, SEED, zoom=-0.1)
    with pytest.raises(ValueError, match=r"Received: rotation='yes'"):
        augment(image, SEED, rotation="yes")
    with pytest.raises(ValueError, match=r"Received: brightness=1.5"):
        augment(image, SEED, brightness=1.5)
    with pytest.raises(ValueError, match=r"Received: image.shape="):
        augment(image[..., 0], SEED)
    with pytest.raises(ValueError, match=r"Received: dtype='pixels'"):
        augment(image, SEED, dtype="pixels")
