"""Max-RGB and Shades of Gray colour constancy as a layer."""

import math

import keras
from keras import ops

METHODS = ("max_rgb", "shades_of_gray")


def _power(x, p):
    # As skinkeras.data's: repeated squaring for integer p (the same float32
    # products, so the layer equals the tf.data map to rounding).
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


@keras.saving.register_keras_serializable(package="skinkeras")
class ColorConstancy(keras.layers.Layer):
    """Colour correction with a Max-RGB or Shades of Gray illuminant.

    SPEC: `e_c = max_x I_c(x)` (Max-RGB) or `e_c = (mean_x I_c(x)^p)^(1/p)`
    (Shades of Gray), normalised to `||e|| = 1` (an all-black image gets the neutral
    (1, 1, 1) / sqrt(3)); then `I_c' = clip(I_c / (sqrt(3) e_c), 0, 255)`. Per image,
    as `skinkeras.data.color_constancy`.

    Input shape: `(B, H, W, 3)`, 0..255. Output shape: the same, float32.

    Args:
        method: "max_rgb" or "shades_of_gray".
        p: the Shades of Gray norm, a finite number > 0 (ignored by Max-RGB).
        **kwargs: base `keras.layers.Layer` arguments.
    """

    def __init__(self, method="shades_of_gray", p=6, **kwargs):
        super().__init__(**kwargs)
        if method not in METHODS:
            raise ValueError(
                f"`method` must be one of {METHODS}. Received: method={method!r}"
            )
        if (
            isinstance(p, bool)
            or not isinstance(p, (int, float))
            or not 0 < p < math.inf
        ):
            raise ValueError(f"`p` must be a finite number > 0. Received: p={p!r}")
        self.method = method
        self.p = p

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] != 3:
            raise ValueError(
                "ColorConstancy expects RGB batches (B, H, W, 3). "
                f"Received: input_shape={input_shape}"
            )
        self.built = True

    def _illuminant(self, images):
        if self.method == "max_rgb":
            return ops.max(images, axis=(1, 2))  # (B, 3)
        # Divided by the channel maximum before the power: no overflow of 255^p.
        peak = ops.max(images, axis=(1, 2), keepdims=True)
        scaled = ops.divide_no_nan(images, peak)
        e = ops.power(ops.mean(_power(scaled, self.p), axis=(1, 2)), 1.0 / self.p)
        return e * ops.squeeze(peak, axis=(1, 2))

    def call(self, images):
        images = ops.cast(images, "float32")
        e = self._illuminant(images)  # (B, 3)
        norm = ops.norm(e, axis=-1, keepdims=True)
        neutral = ops.full_like(e, 1.0 / math.sqrt(3.0))
        e = ops.where(norm > 0.0, e / ops.maximum(norm, 1e-12), neutral)
        e = e[:, None, None, :]  # (B, 1, 1, 3)
        corrected = ops.divide_no_nan(images, math.sqrt(3.0) * e)
        return ops.clip(corrected, 0.0, 255.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "method": self.method, "p": self.p}
