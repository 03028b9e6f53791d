"""tfds_isic.imaging: JPEG header parsing, reduced decoding + resizing against an
OpenCV full-decode reference."""

import cv2
import numpy as np
import pytest

from tfds_isic import imaging


def _photo(height, width, seed=0):
    """A smooth, photo-like uint8 RGB image (JPEG-friendly, not noise)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (max(2, height // 64), max(2, width // 64), 3))
    image = cv2.resize(coarse.astype(np.float32), (width, height), cv2.INTER_CUBIC)
    return np.clip(image, 0, 255).astype(np.uint8)


def _jpeg(image, *flags):
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95, *flags])[1]


@pytest.mark.parametrize("progressive", [0, 1])
@pytest.mark.parametrize("shape", [(767, 1022), (1022, 767), (33, 17)])
def test_jpeg_size_reads_the_frame_header(shape, progressive):
    data = _jpeg(_photo(*shape), cv2.IMWRITE_JPEG_PROGRESSIVE, progressive).tobytes()
    assert imaging.jpeg_size(data) == shape


def test_jpeg_size_of_other_bytes_is_none():
    assert imaging.jpeg_size(cv2.imencode(".png", _photo(8, 8))[1].tobytes()) is None
    assert imaging.jpeg_size(b"not an image") is None


def test_shorter_side_shape_keeps_the_aspect_ratio():
    assert imaging.shorter_side_shape(767, 1022, 256) == (256, 341)
    assert imaging.shorter_side_shape(1022, 767, 512) == (682, 512)
    image = np.zeros((1022, 767, 3), np.uint8)
    assert imaging.resize_shorter_side(image, 256).shape == (341, 256, 3)


@pytest.mark.parametrize(
    ("shape", "shorter_side"),
    [((767, 1022), 256), ((2000, 3008), 256), ((2000, 3008), 512), ((200, 300), 256)],
)
def test_decode_resized_matches_full_decode_then_resize(shape, shorter_side):
    original = _photo(*shape)
    data = _jpeg(original).tobytes()
    image, size = imaging.decode_resized(
        data, shorter_side, image_id="ISIC_0000000", archive="a.zip"
    )
    assert size == shape
    height, width = imaging.shorter_side_shape(*shape, shorter_side)
    assert image.shape == (height, width, 3)
    full = cv2.cvtColor(
        cv2.imdecode(np.frombuffer(data, np.uint8), 1), cv2.COLOR_BGR2RGB
    )
    shrink = height < shape[0]
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    reference = cv2.resize(full, (width, height), interpolation=interpolation)
    assert np.abs(image.astype(float) - reference).mean() < 1.5


def test_undecodable_bytes_name_id_and_archive():
    with pytest.raises(ValueError, match="ISIC_0000007 in x.zip"):
        imaging.check_decodable(
            b"\xff\xd8garbage", image_id="ISIC_0000007", archive="x.zip"
        )
