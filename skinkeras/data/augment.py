"""Training-time augmentation: seeded, stateless random rotation, zoom and brightness.

SPEC: Augmentation (training only) — random rotation in [-180°, +180°], random zoom of
up to 30 % on varying regions of the image, and (experiment 2 only) brightness changes.

Rotation and zoom are one affine resampling per image (what
`tf.raw_ops.ImageProjectiveTransformV3`, the op under `keras.layers.RandomRotation` /
`RandomZoom`, computes; here as XLA-compiled gathers, ~3× faster on CPU), so the image
is resampled once, bilinearly, with reflected borders (the study's fastai default
`padding_mode="reflection"`). All randomness comes from
`tf.random.stateless_*` ops fed by an explicit seed of shape (2,): the same seed gives
the same output, on any device, in or out of `tf.data`.
"""

import functools
import math

import tensorflow as tf

__all__ = ["augment", "brightness_shift", "rotate_and_zoom"]


def _check_nonnegative(value, name, *, allow_bool=False):
    ok = isinstance(value, (int, float)) and value >= 0
    if isinstance(value, bool) and not allow_bool:
        ok = False
    if not ok:
        raise ValueError(f"`{name}` must be a number >= 0. Received: {name}={value!r}")


def _reflect(coordinate, length):
    """Folds a pixel coordinate into [0, length - 1] by half-sample reflection.

    The border rule of `tf.raw_ops.ImageProjectiveTransformV3(fill_mode="REFLECT")`
    and `keras.layers.RandomRotation`: (d c b a | a b c d | d c b a).
    """
    period = 2.0 * length
    folded = tf.math.floormod(coordinate + 0.5, period) - 0.5
    folded = tf.where(folded > length - 0.5, period - 1.0 - folded, folded)
    return tf.clip_by_value(folded, 0.0, length - 1.0)


def rotate_and_zoom(images, angles, scales, offsets):
    """Rotates each image about its centre and zooms in on a shifted region.

    Output pixel `p` samples the input bilinearly at `c + offset + R(angle) (p - c) /
    scale` (`c` the image centre), reflecting at the borders: scale 1.25 shows a region
    1/1.25 of the image's side. This is what `ImageProjectiveTransformV3` (under
    `keras.layers.RandomRotation` / `RandomZoom`) computes, written as four gathers so
    that XLA compiles it (`augment` does): ~3× faster on CPU than that op's kernel.

    Args:
        images: float32 (B, H, W, C).
        angles: (B,) radians, counter-clockwise in image coordinates.
        scales: (B,) zoom factors ≥ 1 (1 = no zoom).
        offsets: (B, 2) shift (x, y) of the region's centre, in pixels.

    Returns:
        float32 (B, H, W, C). Angle 0, scale 1 and offset 0 give the input exactly.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    shape = tf.shape(images)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    h = tf.cast(height, tf.float32)
    w = tf.cast(width, tf.float32)
    cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
    yy, xx = tf.meshgrid(
        tf.range(h, dtype=tf.float32) - cy,
        tf.range(w, dtype=tf.float32) - cx,
        indexing="ij",
    )
    cos = (tf.cos(angles) / scales)[:, tf.newaxis, tf.newaxis]
    sin = (tf.sin(angles) / scales)[:, tf.newaxis, tf.newaxis]
    x = _reflect(cos * xx - sin * yy + cx + offsets[:, 0, tf.newaxis, tf.newaxis], w)
    y = _reflect(sin * xx + cos * yy + cy + offsets[:, 1, tf.newaxis, tf.newaxis], h)
    x0, y0 = tf.floor(x), tf.floor(y)
    wx = tf.reshape(x - x0, [batch, -1, 1])
    wy = tf.reshape(y - y0, [batch, -1, 1])
    x0 = tf.cast(x0, tf.int32)
    y0 = tf.cast(y0, tf.int32)
    x1 = tf.minimum(x0 + 1, width - 1)
    y1 = tf.minimum(y0 + 1, height - 1)
    flat = tf.reshape(images, [batch, -1, channels])

    def pixels(row, col):
        return tf.gather(flat, tf.reshape(row * width + col, [batch, -1]), batch_dims=1)

    top = pixels(y0, x0) * (1.0 - wx) + pixels(y0, x1) * wx
    bottom = pixels(y1, x0) * (1.0 - wx) + pixels(y1, x1) * wx
    return tf.reshape(top * (1.0 - wy) + bottom * wy, shape)


def brightness_shift(images, changes):
    """fastai's `brightness`: `sigmoid(logit(x) + logit(change))` on x = I / 255.

    `change` 0.5 is the identity; 0.4..0.6 (fastai's `max_lighting=0.2`) moves
    mid-gray by about ±25 levels and compresses towards the ends instead of clipping.
    """
    x = tf.clip_by_value(images / 255.0, 1e-6, 1.0 - 1e-6)
    changes = changes[:, tf.newaxis, tf.newaxis, tf.newaxis]
    logit = tf.math.log(x) - tf.math.log1p(-x)
    shift = tf.math.log(changes) - tf.math.log1p(-changes)
    return tf.sigmoid(logit + shift) * 255.0


def _transform(images, angles, scales, offsets, changes, *, resample, lighting):
    """uint8/float batch → float32: resampling, brightness, clip to 0..255."""
    images = tf.cast(images, tf.float32)
    if resample:
        images = rotate_and_zoom(images, angles, scales, offsets)
    if lighting:
        images = brightness_shift(images, changes)
    return tf.clip_by_value(images, 0.0, 255.0)


# One XLA computation per combination of steps: the cast from the cached uint8, the
# resampling, brightness and clipping fuse around the gathers (~30 % faster in
# tf.data than separate ops), and XLA compiles once per image shape.
_TRANSFORMS = {
    (resample, lighting): tf.function(
        functools.partial(_transform, resample=resample, lighting=lighting),
        jit_compile=True,
    )
    for resample in (False, True)
    for lighting in (False, True)
}


def augment(image, seed, *, rotation=True, zoom=0.3, brightness=False, dtype=None):
    """Random rotation, zoom-in on a random region, and optional brightness jitter.

    On a batch every image gets its own random parameters (from one seed).

    Args:
        image: (H, W, 3) or (B, H, W, 3), values 0..255, any real dtype (kept).
        seed: int tensor of shape (2,), e.g. from `tf.random.split` or
            `tf.data.Dataset.random`.
        rotation: True for a uniform angle in ±180°, False for none, or a number:
            the maximum angle in degrees.
        zoom: maximum zoom-in as a fraction (0.3: the view covers 1/1.0 to 1/1.3 of the
            image's side), its centre uniformly placed so the view stays inside the
            image. 0 disables zoom.
        brightness: False, True (fastai's `max_lighting=0.2`) or the lighting range.
        dtype: dtype of the result; None keeps `image`'s. An integer dtype rounds.
            (`make_dataset` passes its cached uint8 batches with `dtype="float32"`.)

    Returns:
        Same shape as `image`, values within 0..255.
    """
    _check_nonnegative(rotation, "rotation", allow_bool=True)
    _check_nonnegative(zoom, "zoom")
    _check_nonnegative(brightness, "brightness", allow_bool=True)
    max_degrees = 180.0 if rotation is True else float(rotation)
    lighting = 0.2 if brightness is True else float(brightness)
    if lighting >= 1.0:
        raise ValueError(
            f"`brightness` must be < 1. Received: brightness={brightness!r}"
        )

    image = tf.convert_to_tensor(image)
    try:
        dtype = image.dtype if dtype is None else tf.as_dtype(dtype)
    except TypeError as error:
        raise ValueError(
            f"`dtype` must be a dtype. Received: dtype={dtype!r}"
        ) from error
    if image.shape.rank not in (3, 4):
        raise ValueError(
            "Expected an image (H, W, C) or a batch (B, H, W, C). "
            f"Received: image.shape={image.shape}"
        )
    images = image[tf.newaxis] if image.shape.rank == 3 else image
    batch = tf.shape(images)[0]
    angle_seed, zoom_seed, offset_seed, light_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 4)
    )

    limit = math.radians(max_degrees)
    angles = tf.random.stateless_uniform([batch], angle_seed, -limit, limit)
    scales = tf.random.stateless_uniform([batch], zoom_seed, 1.0, 1.0 + zoom)
    # The view (side 1/scale) may sit anywhere inside the image.
    size = tf.cast(tf.stack([tf.shape(images)[2], tf.shape(images)[1]]), tf.float32)
    room = (1.0 - 1.0 / scales)[:, tf.newaxis] * size / 2.0
    offsets = room * tf.random.stateless_uniform([batch, 2], offset_seed, -1.0, 1.0)
    changes = tf.random.stateless_uniform(
        [batch], light_seed, 0.5 - lighting / 2.0, 0.5 + lighting / 2.0
    )
    transform = _TRANSFORMS[(max_degrees > 0 or zoom > 0, lighting > 0)]
    images = transform(images, angles, scales, offsets, changes)

    if image.shape.rank == 3:
        images = images[0]
    images = tf.ensure_shape(images, image.shape)
    if dtype.is_integer:
        return tf.cast(tf.round(images), dtype)
    return tf.cast(images, dtype)
