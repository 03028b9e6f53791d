"""Resize (shorter side to S) and centre crop, as training's file route does."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="skinkeras")
class ResizeAndCenterCrop(keras.layers.Layer):
    """Crops the central square, then resizes it to `size` × `size`.

    SPEC: "Images are brought to 224×224 by scaling the shorter side to 224 (aspect
    ratio kept), then a center crop". Same geometry and numbers as
    `skinkeras.data.resize_and_center_crop` (training's file route): the central
    square of side `min(H, W)` (offsets `(H - side) // 2`, `(W - side) // 2`) is
    shrunk by area averaging (TensorFlow's `ResizeArea`, antialiased) or enlarged
    bilinearly (no antialiasing), without rounding.

    Input shape: `(B, H, W, C)`, any numeric dtype (uint8 from a decoder), H and W
    may be dynamic. Output shape: `(B, size, size, C)`, float32, values in the
    input's range.

    Args:
        size: side of the square output, an int > 0.
        **kwargs: base `keras.layers.Layer` arguments (`name`, ...).
    """

    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(f"`size` must be a positive int. Received: size={size!r}")
        self.size = size

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "ResizeAndCenterCrop expects a batch (B, H, W, C). "
                f"Received: input_shape={input_shape}"
            )
        self.built = True

    def _resize(self, square, interpolation):
        square = ops.cast(square, "float32")
        return ops.image.resize(
            square, (self.size, self.size), interpolation=interpolation
        )

    def call(self, images):
        shape = ops.shape(images)
        height, width = shape[1], shape[2]
        static = isinstance(height, int) and isinstance(width, int)
        side = min(height, width) if static else ops.minimum(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        # Crop in the input dtype (a quarter of the bytes for uint8), then filter.
        # (Basic slicing keeps the static channel count, which a sized slice
        # loses: convolutions after it then need no shape-generic kernels.)
        square = images[:, top : top + side, left : left + side, :]
        if static:  # no branch in the graph (TFLite, ONNX)
            return self._resize(square, "area" if side >= self.size else "bilinear")
        return ops.cond(
            side >= self.size,
            lambda: self._resize(square, "area"),
            lambda: self._resize(square, "bilinear"),
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, input_shape[-1])

    def compute_output_spec(self, images):
        return keras.KerasTensor(
            self.compute_output_shape(images.shape), dtype="float32"
        )

    def get_config(self):
        return {**super().get_config(), "size": self.size}
