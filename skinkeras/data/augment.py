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

import dataclasses
import functools
import itertools
import math
import numbers

import tensorflow as tf

from skinkeras.data.image_ops import adjust_lighting, resample

__all__ = ["Transforms", "augment", "augment_parameters"]

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


def _probability(value, name):
    return _number(value, name, low=0, high=1, high_inclusive=True)


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


@dataclasses.dataclass(frozen=True)
class Transforms:
    """fastai v1's `get_transforms` as the study uses it: the settings of `augment`
    and `augment_parameters` (their keyword arguments), checked when made.

    The study's (thesis §4.1.2–4.4.2) are the defaults, plus ``lighting`` in
    experiment 2. ``flip`` and ``warp`` are `get_transforms` defaults that the thesis
    does not mention: off unless asked for.

    Attributes:
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
    """

    rotation: bool | float = True
    zoom: float = 0.3
    lighting: bool | float = False
    flip: bool = False
    warp: bool | float = False
    p_affine: float = 0.75
    p_lighting: float = 0.75

    def __post_init__(self):
        self.numbers()  # raises now for a bad setting

    def numbers(self):
        """The validated settings as fastai's `get_transforms` numbers."""
        rotation = _number(self.rotation, "rotation", low=0, allow_bool=True)
        lighting = _number(self.lighting, "lighting", low=0, high=1, allow_bool=True)
        # Magnitudes of 1 can move a corner onto the centre: the warp is then singular.
        warp = _number(self.warp, "warp", low=0, high=1, allow_bool=True)
        if not isinstance(self.flip, bool):
            raise _invalid("flip", self.flip, "True or False")
        return {
            "max_degrees": 180.0 if rotation is True else float(rotation),
            "zoom": _number(self.zoom, "zoom", low=0),
            "lighting": _MAX_LIGHTING if lighting is True else float(lighting),
            "flip": self.flip,
            "warp": _MAX_WARP if warp is True else float(warp),
            "p_affine": _probability(self.p_affine, "p_affine"),
            "p_lighting": _probability(self.p_lighting, "p_lighting"),
        }

    def parameters(self, batch_size, seed):
        """The per-image parameters of these transforms: see `augment_parameters`."""
        s = self.numbers()
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

    def __call__(self, image, seed, *, dtype=None):
        """These transforms on one image or a batch: see `augment`."""
        s = self.numbers()
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
        parameters = self.parameters(tf.shape(images)[0], seed)
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


def augment_parameters(batch_size, seed, **transforms):
    """Draws the per-image parameters of `augment` (same settings, same seed).

    Each transform has its own coin per image (fastai's `rand_bool(p)`); a skipped
    or disabled transform gets its identity value. Every parameter has its own
    sub-seed, so switching one option on leaves the others' draws unchanged.

    Args:
        batch_size: number of images (int or scalar int tensor).
        seed: int tensor of shape (2,).
        **transforms: the settings, `Transforms`' fields (rotation, zoom, lighting,
            flip, warp, p_affine, p_lighting).

    Returns:
        A dict of float32 tensors: `angles` (B,) radians (0 = none); `scales` (B,)
        zoom factors in [1, 1 + zoom] (1 = none); `offsets` (B, 2) the zoom's focus
        (x, y) in normalised [-1, 1] coordinates, `(1 - 1/scale) (2 pct - 1)`;
        `warps` (B, 4) `symmetric_warp` magnitudes (0 = none); `changes` (B,)
        brightness (0.5 = none); `contrasts` (B,) contrast scales (1 = none); and
        `flips` (B,) bool.
    """
    return Transforms(**transforms).parameters(batch_size, seed)


def augment(image, seed, *, dtype=None, **transforms):
    """fastai v1's `get_transforms` as the study uses it, on one image or a batch.

    On a batch every image gets its own parameters and coins (from one seed), drawn
    by `augment_parameters`; see the module docstring for the maths.

    Args:
        image: (H, W, 3) or (B, H, W, 3), values 0..255, any real dtype; H, W >= 2.
        seed: int tensor of shape (2,), e.g. from `tf.random.split` or
            `tf.data.Dataset.random`.
        dtype: dtype of the result; None keeps `image`'s. An integer dtype rounds.
            (`make_dataset` passes its cached uint8 batches with `dtype="float32"`.)
        **transforms: the settings, `Transforms`' fields (rotation, zoom, lighting,
            flip, warp, p_affine, p_lighting; the study's by default).

    Returns:
        Same shape as `image`, values within 0..255.
    """
    return Transforms(**transforms)(image, seed, dtype=dtype)
