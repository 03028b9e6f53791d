"""Image work done once at build time, with OpenCV: the stored sizes, decoding
(large JPEGs at a DCT-reduced scale; images over `TFDS_ISIC_MAX_IMAGE_PIXELS`
refused from their header, before decoding), resizing and encoding.

Errors name the image id and the archive it came from.
"""

import dataclasses

import cv2
import numpy as np
import tensorflow_datasets as tfds

from tfds_isic import settings

JPEG_QUALITY = 95


@dataclasses.dataclass(eq=False)
class SizeConfig(tfds.core.BuilderConfig):
    """Stored image size: shorter side in pixels, or None for the original bytes."""

    shorter_side: int | None = None


SIZE_CONFIGS = [
    SizeConfig(
        name="256",
        shorter_side=256,
        description="Shorter side resized to 256 px (aspect kept), JPEG quality 95.",
    ),
    SizeConfig(
        name="512",
        shorter_side=512,
        description="Shorter side resized to 512 px (aspect kept), JPEG quality 95.",
    ),
    SizeConfig(
        name="full",
        shorter_side=None,
        description="Original image bytes, untouched.",
    ),
]


_REDUCED_COLOR = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}
# JPEG start-of-frame markers (SOF0..SOF15 without DHT, JPG and DAC).
_SOF_MARKERS = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def jpeg_size(data):
    """(height, width) from a JPEG's frame header, or None if `data` is no JPEG."""
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
        elif marker in _SOF_MARKERS:
            return (
                int.from_bytes(data[i + 5 : i + 7], "big"),
                int.from_bytes(data[i + 7 : i + 9], "big"),
            )
        else:
            i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


def png_size(data):
    """(height, width) from a PNG's IHDR chunk, or None if `data` is no PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[20:24], "big"), int.from_bytes(data[16:20], "big")


def _check_pixels(data, *, image_id, archive, reduction):
    """Raises `ValueError` naming id and archive when decoding `data` would make an
    image of more than `TFDS_ISIC_MAX_IMAGE_PIXELS` pixels (size from the header)."""
    size = jpeg_size(data)
    if size is None:  # OpenCV reduces other formats only after a full decode
        size, reduction = png_size(data), 1
    if size is None:
        return
    height, width = size
    pixels = -(-height // reduction) * -(-width // reduction)
    limit = settings.max_image_pixels()
    if pixels > limit:
        scale = f" at 1/{reduction} scale" if reduction > 1 else ""
        raise ValueError(
            f"Image {image_id} in {archive} is {width}x{height} pixels: decoding it"
            f"{scale} makes {pixels} pixels, more than the limit of {limit} (a real "
            f"ISIC image has at most ~30 million; if this one is genuine, raise "
            f"{settings.MAX_IMAGE_PIXELS_ENV}). Received: size={width}x{height}"
        )


def decode(data, *, image_id, archive, grayscale=False, reduction=1):
    """uint8 RGB (H, W, 3), or (H, W) when `grayscale`; errors name id and archive.

    `reduction` 2, 4 or 8 decodes a JPEG at that fraction of its size (libjpeg's
    DCT scaling: much faster and smaller than decoding, then shrinking). A JPEG or
    PNG whose header promises more than `TFDS_ISIC_MAX_IMAGE_PIXELS` decoded pixels
    is refused before decoding.
    """
    _check_pixels(
        data,
        image_id=image_id,
        archive=archive,
        reduction=1 if grayscale else reduction,
    )
    flags = cv2.IMREAD_GRAYSCALE if grayscale else _REDUCED_COLOR[reduction]
    # Pixels as stored, like tf.image.decode_jpeg (OpenCV would apply EXIF rotation).
    flags |= cv2.IMREAD_IGNORE_ORIENTATION
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
        raise ValueError(
            f"Cannot decode image {image_id} in {archive}: not a valid image."
        )
    if grayscale:
        return image
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def check_decodable(data, *, image_id, archive):
    """Raises `ValueError` naming id and archive unless `data` decodes (cheaply)."""
    decode(data, image_id=image_id, archive=archive, reduction=8)


def decode_resized(data, shorter_side, *, image_id, archive):
    """Decodes and resizes so the shorter side is `shorter_side` (aspect kept).

    Returns `(image, (height, width))`: the resized uint8 RGB image and the size of
    the stored original. A large JPEG is decoded at the largest DCT reduction that
    keeps its shorter side >= `shorter_side`, then area-resized to the exact size
    `shorter_side_shape` gives for the original.
    """
    size = jpeg_size(data)
    reduction = 1
    if size is not None:
        while reduction < 8 and min(size) >= shorter_side * reduction * 2:
            reduction *= 2
    image = decode(data, image_id=image_id, archive=archive, reduction=reduction)
    if size is None or reduction == 1:
        size = image.shape[:2]
    height, width = shorter_side_shape(*size, shorter_side)
    return resize_to(image, height, width), size


def stored_image(data, shorter_side, *, image_id, archive):
    """The bytes a `SizeConfig` stores of an image: for `shorter_side` None the
    original bytes, checked to decode; else a JPEG resized by `decode_resized`."""
    if shorter_side is None:
        check_decodable(data, image_id=image_id, archive=archive)
        return data
    image, _ = decode_resized(data, shorter_side, image_id=image_id, archive=archive)
    return encode_jpeg(image)


def shorter_side_shape(height, width, shorter_side):
    """(height, width) with the shorter side `shorter_side`, aspect ratio kept."""
    scale = shorter_side / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_to(image, height, width, *, nearest=False):
    """Resized to (height, width): area filter when shrinking, else bicubic."""
    if image.shape[:2] == (height, width):
        return image
    if nearest:
        interpolation = cv2.INTER_NEAREST
    elif height < image.shape[0]:
        interpolation = cv2.INTER_AREA
    else:
        interpolation = cv2.INTER_CUBIC
    return cv2.resize(image, (width, height), interpolation=interpolation)


def resize_shorter_side(image, shorter_side, *, nearest=False):
    """Resizes so the shorter side is `shorter_side` (area filter when shrinking)."""
    height, width = shorter_side_shape(*image.shape[:2], shorter_side)
    return resize_to(image, height, width, nearest=nearest)


def encode_jpeg(image):
    """JPEG bytes of a uint8 RGB image."""
    ok, data = cv2.imencode(
        ".jpg",
        cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
        [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY],
    )
    assert ok
    return data.tobytes()


def encode_png(image):
    """PNG bytes of a uint8 single-channel image."""
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()
