"""Attention Residual Learning (ARL): the residual sum plus a spatial attention."""

import functools
import numbers

import keras
from keras import ops

from skinkeras.layers._fusion import xla_fused

ACTIVATIONS = (None, "relu")

# The pieces of ARL's forward and backward pass. Each is one XLA computation on
# the TensorFlow backend (see `_fusion`): six calls, forward and backward,
# instead of about 16 ops (one pass each, unfused). XLA's CPU
# reductions are slow when an element-wise product is fused into them, so the
# spatial sums run on materialised maps (`e`, `g * x * e`). With `relu=True`
# the block's ReLU runs in the same loops (forward: on the sum; backward: the
# upstream gradient gated by `y > 0`, as TensorFlow's ReluGrad does).


@xla_fused
def _shifted_exp(residual):
    shift = ops.max(residual, axis=(1, 2), keepdims=True)  # (B, 1, 1, C)
    return ops.exp(residual - shift)  # (B, H, W, C)


@xla_fused
def _softmax_scale(e, alpha):
    inv_sum = 1.0 / ops.sum(e, axis=(1, 2), keepdims=True)  # (B, 1, 1, C)
    return inv_sum, alpha * inv_sum


@xla_fused
def _attention_gradient(weighted, inv_sum):
    sigma = ops.sum(weighted, axis=(1, 2), keepdims=True) * inv_sum  # (B, 1, 1, C)
    return sigma, ops.sum(sigma)


def _combine(shortcut, residual, e, scale, *, relu):
    # (x + F) first, so that alpha = 0 gives exactly the plain residual sum.
    y = shortcut + residual + shortcut * e * scale
    return ops.relu(y) if relu else y


def _gate(upstream, y, *, relu):
    return ops.where(y > 0, upstream, ops.zeros_like(upstream)) if relu else upstream


def _weighted_upstream(upstream, y, shortcut, e, *, relu):
    return _gate(upstream, y, relu=relu) * shortcut * e


def _input_gradients(upstream, y, shortcut, e, scale, sigma, *, relu):
    g = _gate(upstream, y, relu=relu)
    a = e * scale  # alpha * s
    d_shortcut = g * (1.0 + a)
    d_residual = g + a * (g * shortcut - sigma)
    return d_shortcut, d_residual


def _make_attention_residual(relu):
    """ARL (and, with `relu`, the ReLU after it) with its gradient written out.

    With s = softmax_spatial(F) = e / sum_ij(e), e = exp(F - max_ij F), and the
    per-(example, channel) scale c = alpha / sum_ij(e) (so alpha * s = c * e):
        y      = x + F + c * e * x                 (relu: y = max(that, 0))
        g      = dL/dy                             (relu: dL/dy where y > 0, else 0)
        dL/dx  = g * (1 + alpha * s)
        dL/dF  = g + alpha * s * (g * x - sigma),   sigma = sum_ij(s * g * x)
        dL/da  = sum_{b,c} sigma
    (the softmax Jacobian per channel is diag(s) - s s^T). Automatic
    differentiation of the plain formula needs about three times the passes.
    """
    combine = xla_fused(functools.partial(_combine, relu=relu))
    weighted_upstream = xla_fused(functools.partial(_weighted_upstream, relu=relu))
    input_gradients = xla_fused(functools.partial(_input_gradients, relu=relu))

    @ops.custom_gradient
    def attention_residual(shortcut, residual, alpha):
        e = _shifted_exp(residual)
        inv_sum, scale = _softmax_scale(e, alpha)  # (B, 1, 1, C): 1 / sum_ij(e), c
        y = combine(shortcut, residual, e, scale)

        def grad(*args, upstream=None):
            # TensorFlow/JAX pass the upstream gradient positionally, torch by keyword.
            g = args[0] if upstream is None else upstream
            weighted = weighted_upstream(g, y, shortcut, e)
            sigma, d_alpha = _attention_gradient(weighted, inv_sum)
            d_shortcut, d_residual = input_gradients(g, y, shortcut, e, scale, sigma)
            return d_shortcut, d_residual, d_alpha

        return y, grad

    return attention_residual


_ATTENTION_RESIDUAL = {
    activation: _make_attention_residual(activation == "relu")
    for activation in ACTIVATIONS
}


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
        y = _ATTENTION_RESIDUAL[self.activation](
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
