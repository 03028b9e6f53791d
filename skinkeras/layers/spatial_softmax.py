"""Softmax over all spatial positions, separately for each channel."""

import keras
from keras import ops

from skinkeras.layers._checks import check_batch


def spatial_softmax(x):
    """Channels-last spatial softmax as a function (see `SpatialSoftmax`).

    Numerically stable: the per-(example, channel) maximum is subtracted before
    `exp`. Half-precision inputs are computed in float32 (the sum runs over up
    to H·W = 3136 terms) and cast back.
    """
    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype in ("float16", "bfloat16"):
        x = ops.cast(x, "float32")
    # Reducing over the two spatial axes in place avoids the transposes that a
    # softmax over a non-last axis of a (B, H·W, C) reshape costs in TensorFlow.
    shift = ops.stop_gradient(ops.max(x, axis=(1, 2), keepdims=True))  # (B, 1, 1, C)
    e = ops.exp(x - shift)  # (B, H, W, C)
    out = e / ops.sum(e, axis=(1, 2), keepdims=True)
    return ops.cast(out, dtype)


@keras.saving.register_keras_serializable(package="skinkeras")
class SpatialSoftmax(keras.layers.Layer):
    """Softmax over all spatial positions, separately per channel.

    Used by Attention Residual Learning (Zhang et al., "Attention Residual
    Learning for Skin Lesion Classification", IEEE TMI 2019):

        m[b, i, j, c] = exp(o[b, i, j, c]) / sum_{i', j'} exp(o[b, i', j', c])

    so every channel map of every example sums to 1 over its H·W positions.

    Input shape: `(batch, height, width, channels)` (channels-last).
    Output shape: the same.

    Args:
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = False

    def build(self, input_shape):
        check_batch(self, input_shape)
        self.built = True

    def call(self, inputs):
        return spatial_softmax(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return super().get_config()
