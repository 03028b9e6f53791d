"""Training-time augmentation as fastai v1's `get_transforms`, seeded and stateless.

SPEC (Preprocessing, Augmentation): random rotation in ±180°, zoom of up to 30 % on
varying regions, and (experiment 2 only) lighting, each transform applied with
probability 0.75, as fastai v1 (1.0.61) `get_transforms(max_rotate=180, max_zoom=1.3,
max_lighting=0.2, do_flip=False, max_warp=0)`. Flip and warp, `get_transforms`
defaults the thesis does not mention, are options. Per image, in fastai's order
(its transforms run sorted by `order`; each one with probability `p` is applied or
skipped by its own coin):

1. `symmetric_warp(magnitude=(-w, w), p=p_affine)` (coord): output grid point `p`
   (normalised to [-1, 1]) moves to `H(p)`, the homography `_find_coeffs` solves for
   (corners moved by 4 magnitudes ~ U(-w, w), see `_symmetric_warp`).
2. `rotate(degrees=(-max, max), p=p_affine)` then `rand_zoom(scale=(1, 1 + zoom),
   p=p_affine)` (affine): the matrices multiply in that order, `R @ Z`, so the input
   is sampled at `R (H(p) / s + c)`: the zoom's focus `c = (1 - 1/s) (2 pct - 1)`
   (pct ~ U(0, 1) per axis) turns with the image. `_affine_mult` scales the
   off-diagonal terms by h/w and w/h for non-square images.
3. One bilinear resampling of the warped and transformed grid, as
   `F.grid_sample(mode="bilinear", padding_mode="reflection", align_corners=True)`:
   ±1 are the centres of the border pixels, which are the mirror axes.
4. `brightness(change ~ U(0.5 (1 - L), 0.5 (1 + L)))` then `contrast(scale ~
   log-U(1 - L, 1 / (1 - L)))`, each with `p_lighting` (lighting): with
   px = clip(I / 255, 1e-7, 1 - 1e-7), `px' = sigmoid((logit(px) + logit(change))
   * scale)`.
5. `flip_lr(p=0.5)` (pixel): a left-right flip of the result (done by mirroring
   the output grid of step 3, which samples the same pixels).

`augment_parameters` draws every per-image parameter from `tf.random.stateless_*`
ops fed by one seed of shape (2,), so the same seed gives the same output in or out
of `tf.data`; `augment` applies them in one XLA computation per combination of steps.
"""

import functools
import itertools
import math
import numbers

import tensorflow as tf

__all__ = ["adjust_lighting", "augment", "augment_parameters", "resample"]

# fastai `get_transforms` defaults for the options given as True.
_MAX_LIGHTING = 0.2
_MAX_WARP = 0.2


def _invalid(name, value, requirement):
    return ValueError(f"`{name}` must be {requirement}. Received: {name}={value!r}")


def _number(value, name, *, low, high=None, high_inclusive=False, allow_bool=False):
    """`value` as a float in [low, high) (or [low, high]); True/False pass if allowed."""
    if isinstance(value, bool) and allow_bool:
        return value
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and value >= low
    if ok and high is not None:
        ok = value <= high if high_inclusive else value < high
    if not ok:
        bound = "" if high is None else f" and {'<=' if high_inclusive else '<'} {high}"
        kind = "True, False or a number" if allow_bool else "a number"
        raise _invalid(name, value, f"{kind} >= {low}{bound}")
    return float(value)


def _settings(rotation, zoom, lighting, flip, warp, p_affine, p_lighting):
    """Validated settings as fastai's `get_transforms` numbers."""
    rotation = _number(rotation, "rotation", low=0, allow_bool=True)
    lighting = _number(lighting, "lighting", low=0, high=1, allow_bool=True)
    # Magnitudes of 1 can move a corner onto the centre: the warp is then singular.
    warp = _number(warp, "warp", low=0, high=1, allow_bool=True)
    if not isinstance(flip, bool):
        raise _invalid("flip", flip, "True or False")
    return {
        "max_degrees": 180.0 if rotation is True else float(rotation),
        "zoom": _number(zoom, "zoom", low=0),
        "lighting": _MAX_LIGHTING if lighting is True else float(lighting),
        "flip": flip,
        "warp": _MAX_WARP if warp is True else float(warp),
        "p_affine": _number(p_affine, "p_affine", low=0, high=1, high_inclusive=True),
        "p_lighting": _number(
            p_lighting, "p_lighting", low=0, high=1, high_inclusive=True
        ),
    }


def augment_parameters(
    batch_size,
    seed,
    *,
    rotation=True,
    zoom=0.3,
    lighting=False,
    flip=False,
    warp=False,
    p_affine=0.75,
    p_lighting=0.75,
):
    """Draws the per-image parameters of `augment` (same arguments, same seed).

    Each transform has its own coin per image (fastai's `rand_bool(p)`); a skipped
    or disabled transform gets its identity value. Every parameter has its own
    sub-seed, so switching one option on leaves the others' draws unchanged.

    Args:
        batch_size: number of images (int or scalar int tensor).
        seed: int tensor of shape (2,).
        rotation, zoom, lighting, flip, warp, p_affine, p_lighting: as in `augment`.

    Returns:
        A dict of float32 tensors: `angles` (B,) radians (0 = none); `scales` (B,)
        zoom factors in [1, 1 + zoom] (1 = none); `offsets` (B, 2) the zoom's focus
        (x, y) in normalised [-1, 1] coordinates, `(1 - 1/scale) (2 pct - 1)`;
        `warps` (B, 4) `symmetric_warp` magnitudes (0 = none); `changes` (B,)
        brightness (0.5 = none); `contrasts` (B,) contrast scales (1 = none); and
        `flips` (B,) bool.
    """
    s = _settings(rotation, zoom, lighting, flip, warp, p_affine, p_lighting)
    python_int = (
        isinstance(batch_size, numbers.Integral)
        and not isinstance(batch_size, bool)
        and batch_size >= 0
    )
    if isinstance(batch_size, (bool, numbers.Number, str)) and not python_int:
        raise _invalid("batch_size", batch_size, "an integer >= 0")
    seeds = iter(tf.unstack(tf.random.experimental.stateless_split(seed, 12)))

    def uniform(shape, low, high):
        return tf.random.stateless_uniform(shape, next(seeds), low, high)

    def coin(p):
        return uniform([batch_size], 0.0, 1.0) < p

    def where(applied, value, identity):
        applied = tf.reshape(applied, [-1] + [1] * (value.shape.rank - 1))
        return tf.where(applied, value, identity)

    limit = math.radians(s["max_degrees"])
    angles = where(coin(s["p_affine"]), uniform([batch_size], -limit, limit), 0.0)
    zoomed = coin(s["p_affine"])
    scales = uniform([batch_size], 1.0, 1.0 + s["zoom"])
    pct = uniform([batch_size, 2], 0.0, 1.0)  # rand_pos: col_pct, row_pct
    offsets = (1.0 - 1.0 / scales)[:, tf.newaxis] * (2.0 * pct - 1.0)
    warped = coin(s["p_affine"])
    warps = uniform([batch_size, 4], -s["warp"], s["warp"])
    light = s["lighting"]
    changes = where(
        coin(s["p_lighting"]),
        uniform([batch_size], 0.5 * (1.0 - light), 0.5 * (1.0 + light)),
        0.5,
    )
    log_contrast = -math.log1p(-light)
    contrasts = where(
        coin(s["p_lighting"]),
        tf.exp(uniform([batch_size], -log_contrast, log_contrast)),
        1.0,
    )
    return {
        "angles": angles,
        "scales": where(zoomed, scales, 1.0),
        "offsets": where(zoomed, offsets, 0.0),
        "warps": where(warped, warps, 0.0),
        "changes": changes,
        "contrasts": contrasts,
        "flips": tf.logical_and(coin(0.5), s["flip"]),
    }


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


def _transform(images, parameters, *, geometry, warp, lighting, flip):
    """uint8/float batch → float32: resampling, lighting, flip, clip to 0..255."""
    p = parameters
    images = tf.cast(images, tf.float32)
    if geometry:
        images = resample(
            images,
            angles=p["angles"],
            scales=p["scales"],
            offsets=p["offsets"],
            warps=p["warps"] if warp else None,
            flips=p["flips"] if flip else None,
        )
    elif flip:
        flips = p["flips"][:, tf.newaxis, tf.newaxis, tf.newaxis]
        images = tf.where(flips, tf.reverse(images, axis=[2]), images)
    # Lighting is per pixel, so it commutes with fastai's later flip_lr.
    if lighting:
        images = adjust_lighting(images, changes=p["changes"], contrasts=p["contrasts"])
    return tf.clip_by_value(images, 0.0, 255.0)


# One XLA computation per combination of steps: the cast from the cached uint8, the
# resampling, lighting, flip and clipping fuse around the gathers (~30 % faster in
# tf.data than separate ops), and XLA compiles once per image shape.
_TRANSFORMS = {
    steps: tf.function(
        functools.partial(
            _transform,
            **dict(zip(("geometry", "warp", "lighting", "flip"), steps, strict=True)),
        ),
        jit_compile=True,
    )
    for steps in itertools.product((False, True), repeat=4)
}


def augment(
    image,
    seed,
    *,
    rotation=True,
    zoom=0.3,
    lighting=False,
    flip=False,
    warp=False,
    p_affine=0.75,
    p_lighting=0.75,
    dtype=None,
):
    """fastai v1's `get_transforms` as the study uses it, on one image or a batch.

    On a batch every image gets its own parameters and coins (from one seed), drawn
    by `augment_parameters`; see the module docstring for the maths.

    Args:
        image: (H, W, 3) or (B, H, W, 3), values 0..255, any real dtype; H, W >= 2.
        seed: int tensor of shape (2,), e.g. from `tf.random.split` or
            `tf.data.Dataset.random`.
        rotation: True for a uniform angle in ±180° (the thesis), False for none, or
            the maximum angle in degrees (fastai `max_rotate`).
        zoom: maximum zoom-in as a fraction: scale ~ U(1, 1 + zoom) on a random
            focus (fastai `max_zoom = 1 + zoom`); 0 disables zoom.
        lighting: False, True (fastai's `max_lighting=0.2`) or a number in [0, 1):
            random brightness and contrast (experiment 2).
        flip: a left-right flip with probability 0.5 (fastai `do_flip`).
        warp: False, True (fastai's `max_warp=0.2`) or a number in [0, 1): a random
            perspective warp (`symmetric_warp`).
        p_affine: probability of each of warp, rotation and zoom, in [0, 1].
        p_lighting: probability of each of brightness and contrast, in [0, 1].
        dtype: dtype of the result; None keeps `image`'s. An integer dtype rounds.
            (`make_dataset` passes its cached uint8 batches with `dtype="float32"`.)

    Returns:
        Same shape as `image`, values within 0..255.
    """
    options = {
        "rotation": rotation,
        "zoom": zoom,
        "lighting": lighting,
        "flip": flip,
        "warp": warp,
        "p_affine": p_affine,
        "p_lighting": p_lighting,
    }
    s = _settings(**options)
    image = tf.convert_to_tensor(image)
    try:
        dtype = image.dtype if dtype is None else tf.as_dtype(dtype)
    except TypeError as error:
        raise _invalid("dtype", dtype, "a dtype") from error
    if image.shape.rank not in (3, 4):
        raise ValueError(
            "Expected an image (H, W, C) or a batch (B, H, W, C). "
            f"Received: image.shape={image.shape}"
        )
    images = image[tf.newaxis] if image.shape.rank == 3 else image
    parameters = augment_parameters(tf.shape(images)[0], seed, **options)
    affine = s["p_affine"] > 0
    transform = _TRANSFORMS[
        (
            affine and (s["max_degrees"] > 0 or s["zoom"] > 0 or s["warp"] > 0),
            affine and s["warp"] > 0,
            s["p_lighting"] > 0 and s["lighting"] > 0,
            s["flip"],
        )
    ]
    images = transform(images, parameters)

    if image.shape.rank == 3:
        images = images[0]
    images = tf.ensure_shape(images, image.shape)
    if dtype.is_integer:
        return tf.cast(tf.round(images), dtype)
    return tf.cast(images, dtype)
