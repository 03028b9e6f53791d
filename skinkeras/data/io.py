"""Decoding image bytes into RGB tensors, in pure TensorFlow.

`decode_image` runs inside `tf.data` (and in graphs generally). A bad image cannot be
reported with a Python exception from inside a graph, so the check is a
`tf.debugging.Assert` whose message carries the image's name: iterating the dataset then
raises `tf.errors.InvalidArgumentError` with "empty or undecodable image" and the name
(e.g. the ISIC `image_id`) in its text. The check looks at the file signature (magic
bytes); a file with a valid signature but a corrupted body fails inside TensorFlow's own
decoder, whose message names the format but not the file.
"""

import tensorflow as tf

__all__ = ["decode_image", "ensure_rgb"]

# File signatures of the formats `tf.io.decode_image` reads.
_SIGNATURES = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",  # PNG
    b"GIF87a",
    b"GIF89a",
    b"BM",  # BMP
)


def _has_image_signature(data):
    checks = [
        tf.equal(tf.strings.substr(data, 0, len(signature)), signature)
        for signature in _SIGNATURES
    ]
    return tf.reduce_any(tf.stack(checks))


def ensure_rgb(image):
    """uint8 (H, W, 1|3|4) → (H, W, 3): gray is repeated, alpha dropped."""
    image = tf.convert_to_tensor(image)
    channels = image.shape[-1]
    if channels == 3:
        return image
    if channels == 1:
        return tf.image.grayscale_to_rgb(image)
    if channels == 4:
        return image[..., :3]
    if channels == 2:  # gray + alpha
        return tf.image.grayscale_to_rgb(image[..., :1])
    raise ValueError(
        f"Expected 1, 2, 3 or 4 channels. Received: image.shape={image.shape}"
    )


def decode_image(data, *, name=None):
    """Decodes JPEG / PNG / BMP / GIF bytes to a uint8 RGB image (H, W, 3).

    Grayscale images are repeated onto three channels, RGBA loses its alpha channel, an
    animated GIF gives its first frame.

    Args:
        data: scalar string tensor (or Python bytes) with the encoded file.
        name: what to call the image in the error message: a Python string or a
            scalar string tensor (e.g. the example's `image_id`).

    Returns:
        uint8 tensor (H, W, 3) with a static channel dimension.

    Raises:
        tf.errors.InvalidArgumentError: (when run) the bytes are empty or not one of
            the four formats; the message contains `name`.
    """
    data = tf.convert_to_tensor(data, dtype=tf.string)
    if name is None:
        name = "<unnamed>"
    valid = tf.logical_and(tf.strings.length(data) > 0, _has_image_signature(data))
    check = tf.debugging.Assert(
        valid, ["empty or undecodable image (not JPEG/PNG/BMP/GIF):", name]
    )
    with tf.control_dependencies([check]):
        data = tf.identity(data)
    # channels=3 converts gray → RGB and drops alpha for PNG/JPEG/GIF; BMP can stay
    # 1 or 4 channels when asked for 0, so ask for 3 explicitly everywhere.
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image = tf.ensure_shape(image, [None, None, 3])
    return image
