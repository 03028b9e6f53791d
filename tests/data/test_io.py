"""decode_image: formats, channel conversion, and errors that name the image."""

import io

import cv2
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from skinkeras.data import decode_image
from tests.data.images import random_image, structured_image


def encode(array, fmt):
    """Encodes with PIL (an independent encoder; RGB, L or RGBA by the array shape)."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def test_formats_and_channels_become_rgb():
    rgb = random_image(9, 13, seed=1)
    gray = rgb[..., 0]
    rgba = np.concatenate([rgb, np.full((9, 13, 1), 40, np.uint8)], axis=-1)
    exact = {
        "png rgb": (encode(rgb, "PNG"), rgb),
        "bmp rgb": (encode(rgb, "BMP"), rgb),
        "png gray": (encode(gray, "PNG"), np.repeat(gray[..., None], 3, -1)),
        "bmp gray": (encode(gray, "BMP"), np.repeat(gray[..., None], 3, -1)),
        "png rgba": (encode(rgba, "PNG"), rgb),
        "cv2 bmp rgba": (
            cv2.imencode(".bmp", rgba[..., [2, 1, 0, 3]])[1].tobytes(),
            rgb,
        ),
    }
    for name, (data, expected) in exact.items():
        out = decode_image(data, name=name)
        assert out.dtype == tf.uint8 and out.shape == (9, 13, 3), name
        np.testing.assert_array_equal(out, expected, err_msg=name)
    # Lossy / palette formats: compared with PIL's own decoding of the same bytes
    # (JPEG decoders differ by IDCT and chroma-upsampling rounding: ~1 level).
    smooth = structured_image(32, 48)
    for name, data in (
        ("jpeg", encode(smooth, "JPEG")),
        ("gray jpeg", encode(smooth[..., 0], "JPEG")),
        ("gif", encode(smooth, "GIF")),
    ):
        expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float64)
        out = decode_image(data, name=name)
        assert out.dtype == tf.uint8 and out.shape == (32, 48, 3), name
        assert np.abs(out.numpy() - expected).mean() < 2.0, name


def test_empty_or_undecodable_image_error_names_it():
    for data in (b"", b"not an image at all", b"\x00\x01\x02"):
        with pytest.raises(tf.errors.InvalidArgumentError, match="ISIC_0000042"):
            decode_image(data, name="ISIC_0000042")
    # Inside tf.data, with the name coming from the example itself.
    ds = tf.data.Dataset.from_tensor_slices(
        {
            "image": [encode(random_image(4, 4), "PNG"), b""],
            "image_id": ["ok", "ISIC_7"],
        }
    ).map(lambda ex: decode_image(ex["image"], name=ex["image_id"]))
    iterator = iter(ds)
    assert next(iterator).shape == (4, 4, 3)
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="undecodable image.*ISIC_7"
    ):
        next(iterator)


def test_direct_call_equals_dataset_map():
    data = encode(random_image(6, 5), "PNG")
    direct = decode_image(data).numpy()
    mapped = next(iter(tf.data.Dataset.from_tensors(data).map(decode_image))).numpy()
    np.testing.assert_array_equal(direct, mapped)
