"""Ben Graham's local average subtraction as a layer."""

import keras
from keras import ops


def _reflect101(index, length):
    # OpenCV BORDER_REFLECT_101, periodic with period 2 (length - 1).
    period = max(2 * (length - 1), 1)
    folded = index % period
    return period - folded if folded >= length else folded


def _kernel_size(sigma):
    # OpenCV's GaussianBlur(ksize=(0, 0)) rule for 8-bit images (smooth.dispatch.cpp).
    return int(round(sigma * 6 + 1)) | 1


@keras.saving.register_keras_serializable(package="skinkeras")
class BenGraham(keras.layers.Layer):
    """`clip(4 (I - G_sigma * I) + 128, 0, 255)`: Ben Graham's preprocessing.

    SPEC: sigma = image size / 10 (22.4 at 224 px). The Gaussian blur is separable,
    with OpenCV's kernel size (`round(6 sigma + 1) | 1` taps) and BORDER_REFLECT_101,
    each pass applied as one (reflect-folded) matrix product, as
    `skinkeras.data.ben_graham` does.

    Input shape: `(B, H, W, C)` with static H and W, 0..255. Output shape: the
    same, float32.

    Args:
        sigma: Gaussian sigma in pixels, a number > 0; None = min(H, W) / 10.
        **kwargs: base `keras.layers.Layer` arguments.
    """

    def __init__(self, sigma=None, **kwargs):
        super().__init__(**kwargs)
        if sigma is not None and (
            isinstance(sigma, bool)
            or not isinstance(sigma, (int, float))
            or not sigma > 0
        ):
            raise ValueError(
                f"`sigma` must be a number > 0 or None. Received: sigma={sigma!r}"
            )
        self.sigma = sigma

    def build(self, input_shape):
        if len(input_shape) != 4 or None in input_shape[1:3]:
            raise ValueError(
                "BenGraham needs batches (B, H, W, C) of a static size (the blur "
                f"matrices are built from it). Received: input_shape={input_shape}"
            )
        self.built = True

    def _sigma(self, height, width):
        return min(height, width) / 10.0 if self.sigma is None else self.sigma

    def _blur_matrix(self, length, sigma):
        """(length, length): row i holds the taps that output pixel i reads."""
        size = _kernel_size(sigma)
        x = ops.cast(ops.arange(size) - (size - 1) // 2, "float32")
        sigma = ops.convert_to_tensor(sigma, "float32")  # float32, as the data map
        kernel = ops.exp(-(x**2) / (2.0 * sigma**2))
        kernel = kernel / ops.sum(kernel)
        radius = size // 2
        # Static bookkeeping (Python ints): the reflected input of every tap.
        indices = [
            [row, _reflect101(row + tap - radius, length)]
            for row in range(length)
            for tap in range(size)
        ]
        taps = ops.tile(kernel, [length])
        # scatter adds duplicates: taps reflected onto one pixel accumulate.
        return ops.scatter(indices, taps, (length, length))

    def call(self, images):
        images = ops.cast(images, "float32")
        height, width = images.shape[1], images.shape[2]
        sigma = self._sigma(height, width)
        rows = self._blur_matrix(height, sigma)
        cols = self._blur_matrix(width, sigma)
        blurred = ops.einsum("ij,bjwc->biwc", rows, images)
        blurred = ops.einsum("kw,biwc->bikc", cols, blurred)
        return ops.clip(4.0 * (images - blurred) + 128.0, 0.0, 255.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "sigma": self.sigma}
