"""The image maths of `augment`, for given per-image parameters: fastai v1's
warp, rotate and zoom as one resampling of the sampling grid (steps 1–3 and 5 of
`skinkeras.data.augment`'s docstring), and its brightness and contrast (step 4).
"""

import tensorflow as tf

__all__ = ["adjust_lighting", "resample"]


def _reflect(coordinate, length):
    """Folds a pixel coordinate into [0, length - 1], mirrored about the end pixels.

    `F.grid_sample(padding_mode="reflection", align_corners=True)` (fastai v1):
    (d c b | a b c d | c b a), i.e. scipy.ndimage's "mirror".
    """
    period = tf.maximum(2.0 * (length - 1.0), 1.0)
    folded = tf.math.floormod(coordinate, period)
    folded = tf.where(folded > length - 1.0, period - folded, folded)
    return tf.clip_by_value(folded, 0.0, length - 1.0)


def _warp_homographies(warps):
    """(B, 4) `symmetric_warp` magnitudes → (B, 3, 3) normalised homographies.

    fastai's `_symmetric_warp` + `_find_coeffs(_orig_pts, targ_pts)`: the map sends
    the moved corners `targ` to the square's corners, so an output grid point at
    `targ` samples the input's corner.
    """
    m0, m1, m2, m3 = tf.unstack(warps, axis=1)
    tx = tf.stack([-1.0 - m3, -1.0 - m2, 1.0 + m3, 1.0 + m2], axis=1)  # (B, 4)
    ty = tf.stack([-1.0 - m1, 1.0 + m1, -1.0 - m0, 1.0 + m0], axis=1)
    ox = tf.constant([-1.0, -1.0, 1.0, 1.0])  # fastai's _orig_pts
    oy = tf.constant([-1.0, 1.0, -1.0, 1.0])
    one, zero = tf.ones_like(tx), tf.zeros_like(tx)
    rows_x = tf.stack([tx, ty, one, zero, zero, zero, -ox * tx, -ox * ty], axis=-1)
    rows_y = tf.stack([zero, zero, zero, tx, ty, one, -oy * tx, -oy * ty], axis=-1)
    matrix = tf.reshape(tf.stack([rows_x, rows_y], axis=2), [-1, 8, 8])
    rhs = tf.reshape(tf.stack([ox + zero, oy + zero], axis=2), [-1, 8, 1])
    coeffs = tf.linalg.solve(matrix, rhs)[..., 0]
    homographies = tf.reshape(tf.concat([coeffs, one[:, :1]], axis=1), [-1, 3, 3])
    # Zero magnitudes are the identity exactly (the solve is only close to it).
    unwarped = tf.reduce_all(warps == 0.0, axis=1)[:, tf.newaxis, tf.newaxis]
    return tf.where(unwarped, tf.eye(3), homographies)


def resample(images, *, angles, scales, offsets, warps=None, flips=None):
    """fastai's warp, rotate and zoom of the sampling grid, then one bilinear sample.

    In fastai's normalised coordinates (±1 the centres of the border pixels), output
    point `p` samples the input at `M H(p)`: `H` the `symmetric_warp` homography,
    `M = R(angle) @ Z(scale, offset)` the `rotate` and `zoom` matrices with
    `_affine_mult`'s aspect factors (h/w on M[0, 1], w/h on M[1, 0]). The maths runs
    in pixel units about the centre, so identity parameters return the input exactly.
    Borders are mirrored about the end pixels (`_reflect`). `flips` mirror the
    result left-right (fastai's `flip_lr`, applied after the resampling) by
    mirroring the output grid, which gives the same pixels at no extra cost.

    Args:
        images: float32 (B, H, W, C), H and W >= 2.
        angles: (B,) radians; positive turns the sampling grid from +x towards +y.
        scales: (B,) zoom factors (1 = none; 1.3 shows 1/1.3 of each side).
        offsets: (B, 2) the zoom's focus (x, y), normalised.
        warps: (B, 4) `symmetric_warp` magnitudes, or None for no warp.
        flips: (B,) bool, or None for no flip.

    Returns:
        float32 (B, H, W, C).
    """
    images = tf.convert_to_tensor(images, tf.float32)
    shape = tf.shape(images)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    h = tf.cast(height, tf.float32)
    w = tf.cast(width, tf.float32)
    a, b = (w - 1.0) / 2.0, (h - 1.0) / 2.0  # normalised 1 in pixels (align_corners)
    v, u = tf.meshgrid(
        tf.range(h, dtype=tf.float32) - b,
        tf.range(w, dtype=tf.float32) - a,
        indexing="ij",
    )
    u, v = u[tf.newaxis], v[tf.newaxis]  # (1, H, W) pixels from the centre

    def per_image(x):
        return x[:, tf.newaxis, tf.newaxis]

    if flips is not None:
        # Output column x shows what column W - 1 - x would: u -> -u, exactly.
        u = tf.where(per_image(tf.convert_to_tensor(flips, tf.bool)), -u, u)

    if warps is not None:
        # H conjugated by diag(a, b, 1): the same map in pixel units.
        hm = _warp_homographies(tf.convert_to_tensor(warps, tf.float32))
        hm = [[per_image(hm[:, i, j]) for j in range(3)] for i in range(3)]
        denominator = hm[2][0] / a * u + hm[2][1] / b * v + 1.0
        u, v = (
            (hm[0][0] * u + hm[0][1] * (a / b) * v + hm[0][2] * a) / denominator,
            (hm[1][0] * (b / a) * u + hm[1][1] * v + hm[1][2] * b) / denominator,
        )
    # M = R @ Z = [[cos/s, -sin/s, R c], [sin/s, cos/s, .]]: the focus c is rotated.
    angles, scales, offsets = (
        tf.convert_to_tensor(t, tf.float32) for t in (angles, scales, offsets)
    )
    cos, sin = tf.cos(angles), tf.sin(angles)
    cx, cy = offsets[:, 0], offsets[:, 1]
    m00, m01, m02 = cos / scales, -sin / scales * (h / w), cos * cx - sin * cy
    m10, m11, m12 = sin / scales * (w / h), cos / scales, sin * cx + cos * cy
    x = per_image(m00) * u + per_image(m01 * (a / b)) * v + per_image(m02 * a) + a
    y = per_image(m10 * (b / a)) * u + per_image(m11) * v + per_image(m12 * b) + b
    x, y = _reflect(x, w), _reflect(y, h)

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


def adjust_lighting(images, *, changes, contrasts):
    """fastai's `brightness` then `contrast`, on the logit of px = I / 255.

    `px' = sigmoid((logit(px) + logit(change)) * contrast)`, px clipped to
    [1e-7, 1 - 1e-7] (fastai's `logit_`). Images with change 0.5 and contrast 1
    (both coins skipped) are returned unchanged, as fastai never takes their logit.

    Args:
        images: float32 (B, H, W, C), 0..255.
        changes: (B,) brightness, 0.5 = none.
        contrasts: (B,) contrast scales, 1 = none.

    Returns:
        float32 (B, H, W, C) in 0..255.
    """
    px = tf.clip_by_value(images / 255.0, 1e-7, 1.0 - 1e-7)
    changes = tf.convert_to_tensor(changes, tf.float32)[:, None, None, None]
    contrasts = tf.convert_to_tensor(contrasts, tf.float32)[:, None, None, None]
    logit = tf.math.log(px) - tf.math.log1p(-px)
    shift = tf.math.log(changes) - tf.math.log1p(-changes)
    lit = tf.sigmoid((logit + shift) * contrasts) * 255.0
    return tf.where((changes == 0.5) & (contrasts == 1.0), images, lit)
