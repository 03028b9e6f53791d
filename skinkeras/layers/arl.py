"""Attention Residual Learning (ARL): the residual sum plus a spatial attention."""

import numbers

import keras
from keras import ops

# The fused forward/backward pass, one per activation (`_arl_kernel`).
from skinkeras.layers._arl_kernel import ACTIVATIONS, ATTENTION_RESIDUAL


@keras.saving.register_keras_serializable(package="skinkeras")
class AttentionResidual(keras.layers.Layer):
    """Residual sum with Attention Residual Learning (ARL).

    Zhang, Xie, Xia, Shen, "Attention Residual Learning for Skin Lesion
    Classification", IEEE Transactions on Medical Imaging 38(9), 2019. For a
    residual block with shortcut `x` and residual branch output `F(x)`:

        y = x + F(x) + alpha * SpatialSoftmax(F(x)) * x

    `*` is element-wise, `SpatialSoftmax` is a softmax over the H·W positions of
    each channel (see `SpatialSoftmax`; computed stably, per-channel maximum
    subtracted), and `alpha` is one trainable scalar, the only weight the layer
    adds. With `alpha = 0` (the default start) the layer is exactly the plain
    residual `Add`, so a pretrained network is unchanged. The block's
    activation (ReLU in ResNet-50) comes after this layer, or inside it with
    `activation="relu"`: `y = relu(x + F(x) + ...)` computed in the same fused
    pass (how the rebuilt ResNet-50 uses it, saving a pass over the feature map
    forward and backward).

    Input: a list `[shortcut, residual]`, two tensors of the same shape
    `(batch, height, width, channels)` (channels-last).
    Output: one tensor of that shape.

    Args:
        alpha_initializer: initial value of `alpha` (a number), or any Keras
            initializer identifier. Defaults to `0.0`.
        activation: `None` (default) or `"relu"`, applied to the sum.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).
    """

    def __init__(self, alpha_initializer=0.0, activation=None, **kwargs):
        super().__init__(**kwargs)
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"`activation` must be one of {ACTIVATIONS}. "
                f"Received: activation={activation!r}"
            )
        self.alpha_initializer = alpha_initializer
        self.activation = activation

    def _initializer(self):
        if isinstance(self.alpha_initializer, numbers.Number):
            return keras.initializers.Constant(float(self.alpha_initializer))
        return keras.initializers.get(self.alpha_initializer)

    def build(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) != 2
            or not isinstance(input_shape[0], (list, tuple))
        ):
            raise ValueError(
                "AttentionResidual expects a list [shortcut, residual]. "
                f"Received: input_shape={input_shape}"
            )
        shortcut_shape, residual_shape = (tuple(s) for s in input_shape)
        if len(residual_shape) != 4 or len(shortcut_shape) != 4:
            raise ValueError(
                "AttentionResidual expects two 4D channels-last tensors. "
                f"Received: input_shape={input_shape}"
            )
        for a, b in zip(shortcut_shape[1:], residual_shape[1:], strict=True):
            if a is not None and b is not None and a != b:
                raise ValueError(
                    "AttentionResidual needs shortcut and residual of the same "
                    f"shape. Received: input_shape={input_shape}"
                )
        self.alpha = self.add_weight(
            name="alpha", shape=(), initializer=self._initializer(), trainable=True
        )
        self.built = True

    def call(self, inputs):
        shortcut, residual = inputs  # (B, H, W, C) each
        dtype = keras.backend.standardize_dtype(shortcut.dtype)
        # Half precision: the softmax sums up to H·W terms, so compute in float32.
        compute = "float32" if dtype in ("float16", "bfloat16") else dtype
        y = ATTENTION_RESIDUAL[self.activation](
            ops.cast(shortcut, compute),
            ops.cast(residual, compute),
            ops.cast(self.alpha, compute),
        )
        return ops.cast(y, dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        initializer = self.alpha_initializer
        if not isinstance(initializer, numbers.Number):
            initializer = keras.initializers.serialize(
                keras.initializers.get(initializer)
            )
        config["alpha_initializer"] = initializer
        config["activation"] = self.activation
        return config
