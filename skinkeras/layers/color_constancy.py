"""Max-RGB and Shades of Gray colour constancy: the one implementation, and its layer.

The functions are written with `keras.ops` only, on images `(..., H, W, 3)` in
0..255: the `ColorConstancy` layer calls them in `call()` (any backend), and
`skinkeras.data`'s tf.data maps call them on TensorFlow tensors (the TensorFlow
backend), so training and the exported model compute the same numbers.
"""

import math

import keras
from keras import ops

from skinkeras.layers._checks import check_batch

METHODS = ("max_rgb", "shades_of_gray")


def check_method(method):
    if method not in METHODS:
        raise ValueError(
            f"`method` must be one of {METHODS}. Received: method={method!r}"
        )


def check_p(p):
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p < math.inf:
        raise ValueError(
            f"`p` must be a finite number > 0 (p → ∞ is Max-RGB). Received: p={p!r}"
        )


def _unit_norm(e):
    """`e / ||e||`; an all-black image gets the neutral illuminant (no NaN)."""
    norm = ops.norm(e, axis=-1, keepdims=True)
    neutral = ops.full_like(e, 1.0 / math.sqrt(3.0))
    return ops.where(norm > 0.0, e / ops.maximum(norm, 1e-12), neutral)


def _power(x, p):
    """x ** p; integer p by repeated squaring (a pow's exp/log costs ~5× more)."""
    if float(p).is_integer() and p <= 64:
        result, base, n = None, x, int(p)
        while n:
            if n & 1:
                result = base if result is None else result * base
            n >>= 1
            if n:
                base = base * base
        return result
    return ops.power(x, p)


def max_rgb_illuminant(images):
    """SPEC, Max-RGB: `e_c = max_x I_c(x)`, normalised to `||e|| = 1`.

    Args:
        images: float32 `(..., H, W, 3)`, 0..255.

    Returns:
        float32 `(..., 3)`; an all-black image gives (1, 1, 1) / sqrt(3).
    """
    return _unit_norm(ops.max(images, axis=(-3, -2)))


def shades_of_gray_illuminant(images, p=6):
    """SPEC, Shades of Gray: `e_c = (mean_x I_c(x)^p)^(1/p)`, normalised to `||e|| = 1`.

    Each channel is divided by its maximum before the power (and multiplied back
    after the root), so large `p` neither overflows float32 (255^p) nor underflows.

    Args:
        images: float32 `(..., H, W, 3)`, 0..255.
        p: the Minkowski norm, a finite number > 0 (6 is the customary default;
            p=1 is Gray World, p → ∞ tends to Max-RGB).

    Returns:
        float32 `(..., 3)`.
    """
    peak = ops.max(images, axis=(-3, -2), keepdims=True)
    scaled = ops.divide_no_nan(images, peak)
    e = ops.power(ops.mean(_power(scaled, p), axis=(-3, -2)), 1.0 / p)
    return _unit_norm(e * ops.squeeze(peak, axis=(-3, -2)))


def color_constancy(images, method="shades_of_gray", p=6):
    """SPEC, colour correction: `I_c' = clip(I_c / (sqrt(3) e_c), 0, 255)`, per image.

    A neutral illuminant (1, 1, 1) / sqrt(3) leaves the image unchanged; an
    all-black image stays black, and an empty channel stays 0 (no NaN).

    Args:
        images: `(..., H, W, 3)`, 0..255, any real dtype (computed in float32).
        method: "max_rgb" or "shades_of_gray".
        p: the Shades of Gray norm (ignored by Max-RGB), a finite number > 0.

    Returns:
        float32, the shape of `images`.
    """
    check_method(method)
    check_p(p)
    images = ops.cast(images, "float32")
    if method == "max_rgb":
        e = max_rgb_illuminant(images)
    else:
        e = shades_of_gray_illuminant(images, p=p)
    e = e[..., None, None, :]  # (..., 1, 1, 3) broadcasts over H, W
    corrected = ops.divide_no_nan(images, math.sqrt(3.0) * e)
    return ops.clip(corrected, 0.0, 255.0)


@keras.saving.register_keras_serializable(package="skinkeras")
class ColorConstancy(keras.layers.Layer):
    """Colour correction with a Max-RGB or Shades of Gray illuminant.

    SPEC: `e_c = max_x I_c(x)` (Max-RGB) or `e_c = (mean_x I_c(x)^p)^(1/p)`
    (Shades of Gray), normalised to `||e|| = 1` (an all-black image gets the neutral
    (1, 1, 1) / sqrt(3)); then `I_c' = clip(I_c / (sqrt(3) e_c), 0, 255)`. Per image,
    by `color_constancy` (the code of `skinkeras.data.color_constancy` too).

    Input shape: `(B, H, W, 3)`, 0..255. Output shape: the same, float32.

    Args:
        method: "max_rgb" or "shades_of_gray".
        p: the Shades of Gray norm, a finite number > 0 (ignored by Max-RGB).
        **kwargs: base `keras.layers.Layer` arguments.
    """

    def __init__(self, method="shades_of_gray", p=6, **kwargs):
        super().__init__(**kwargs)
        check_method(method)
        check_p(p)
        self.method = method
        self.p = p

    def build(self, input_shape):
        check_batch(self, input_shape, channels=3)
        self.built = True

    def call(self, images):
        return color_constancy(images, method=self.method, p=self.p)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "method": self.method, "p": self.p}
