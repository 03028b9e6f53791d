"""Squeeze & Excitation: channel attention from globally pooled features."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="skinkeras")
class SqueezeExcite(keras.layers.Layer):
    """Squeeze & Excitation block (Hu, Shen, Sun, "Squeeze-and-Excitation
    Networks", CVPR 2018), as used in every MBConv block of EfficientNet:

        z_c = mean_{i,j} u[i, j, c]                       (squeeze)
        s   = sigmoid(W2 · act(W1 · z + b1) + b2)         (excite)
        out[i, j, c] = u[i, j, c] * s_c                   (scale)

    `W1` reduces C channels to `filters_reduced`, `W2` expands back to C. They
    are 1×1 convolutions named `reduce` and `expand`, with the kernel shapes of
    keras.applications' EfficientNet `block*_se_reduce` / `block*_se_expand`.
    (The rebuilt EfficientNet-B0 keeps keras.applications' five separate SE
    layers so that ImageNet weights transfer by name; this layer is the same
    computation as one reusable layer.)

    Input shape: `(batch, height, width, channels)` (channels-last).
    Output shape: the same.

    Args:
        filters_reduced: int >= 1, channels after the reduction.
        activation: activation after the reduction. Defaults to `"swish"`.
        kernel_initializer: initializer of both 1×1 kernels.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).
    """

    def __init__(
        self,
        filters_reduced,
        activation="swish",
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(filters_reduced, int) or filters_reduced < 1:
            raise ValueError(
                "`filters_reduced` must be an integer >= 1. "
                f"Received: filters_reduced={filters_reduced}"
            )
        self.filters_reduced = filters_reduced
        self.activation = activation
        self.kernel_initializer = kernel_initializer
        self.reduce = keras.layers.Conv2D(
            filters_reduced,
            1,
            activation=activation,
            kernel_initializer=kernel_initializer,
            name="reduce",
            dtype=self.dtype_policy,
        )
        self.expand = None  # needs the input's channel count: made in build()

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                "SqueezeExcite expects a 4D channels-last input with a known "
                f"channel count. Received: input_shape={input_shape}"
            )
        channels = input_shape[-1]
        self.expand = keras.layers.Conv2D(
            channels,
            1,
            activation="sigmoid",
            kernel_initializer=self.kernel_initializer,
            name="expand",
            dtype=self.dtype_policy,
        )
        pooled_shape = (input_shape[0], 1, 1, channels)
        self.reduce.build(pooled_shape)
        self.expand.build((input_shape[0], 1, 1, self.filters_reduced))
        self.built = True

    def call(self, inputs):
        z = ops.mean(inputs, axis=(1, 2), keepdims=True)  # (B, 1, 1, C)
        s = self.expand(self.reduce(z))  # (B, 1, 1, C), in (0, 1)
        return inputs * s  # (B, H, W, C)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters_reduced": self.filters_reduced,
                "activation": keras.activations.serialize(
                    keras.activations.get(self.activation)
                )
                if not isinstance(self.activation, str)
                else self.activation,
                "kernel_initializer": keras.initializers.serialize(
                    keras.initializers.get(self.kernel_initializer)
                ),
            }
        )
        return config
