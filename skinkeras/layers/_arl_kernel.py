"""ARL's forward and backward pass, fused: the kernel of `AttentionResidual`.

Private to `skinkeras.layers.arl`. Written with `keras.ops` only; `xla_fused`
(`_fusion`) compiles each piece with XLA on the TensorFlow backend.
"""

import functools

from keras import ops

from skinkeras.layers._fusion import xla_fused

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


# `AttentionResidual(activation=...)`: the function of each activation it accepts.
ATTENTION_RESIDUAL = {
    None: _make_attention_residual(False),
    "relu": _make_attention_residual(True),
}
ACTIVATIONS = tuple(ATTENTION_RESIDUAL)
