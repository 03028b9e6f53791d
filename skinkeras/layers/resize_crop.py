"""Resize (shorter side to S) and centre crop: the one implementation, and its layer.

`resize_and_center_crop` is written with `keras.ops` only: the
`ResizeAndCenterCrop` layer calls it in `call()`, and training's file route
(`skinkeras.data.resize_and_center_crop`, inside tf.data) calls it on TensorFlow
tensors, so the exported model crops exactly as training did.
"""

import keras
from keras import ops

from skinkeras.layers._checks import check_batch


def check_size(size):
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ValueError(f"`size` must be a positive int. Received: size={size!r}")


def _resize(square, size, shrinking):
    # Shrinking averages areas (OpenCV's INTER_AREA: antialiased, as ISIC photos
    # shrink up to 20×, and 3× faster in TensorFlow than antialiased bilinear);
    # enlarging is bilinear. Cast after the crop: a quarter of the bytes for uint8.
    interpolation = "area" if shrinking else "bilinear"
    square = ops.cast(square, "float32")
    return ops.image.resize(square, (size, size), interpolation=interpolation)


def resize_and_center_crop(images, size):
    """Scales the shorter side to `size` (aspect kept), then crops the centre.

    SPEC: "Images are brought to 224×224 by scaling the shorter side to 224 (aspect
    ratio kept), then a center crop". Cropping the central square of side
    `min(H, W)` (offsets `(H - side) // 2`, `(W - side) // 2`) first and scaling it
    to size × size is the same geometry, with fewer output pixels to filter. Values
    stay in the input's range (no rounding).

    Args:
        images: `(H, W, C)` or `(B, H, W, C)`, any numeric dtype, any C (masks too);
            H and W may be dynamic (TensorFlow graphs): the area / bilinear choice
            is then made at run time.
        size: side of the square output, an int > 0.

    Returns:
        float32 `(..., size, size, C)`.
    """
    check_size(size)
    shape = ops.shape(images)
    height, width = shape[-3], shape[-2]
    static = isinstance(height, int) and isinstance(width, int)
    side = min(height, width) if static else ops.minimum(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    # Basic slicing keeps the static channel count, which a sized slice loses:
    # convolutions after it then need no shape-generic kernels.
    square = images[..., top : top + side, left : left + side, :]
    if static:  # no branch in the graph (TFLite, ONNX)
        return _resize(square, size, side >= size)
    return ops.cond(
        side >= size,
        lambda: _resize(square, size, True),
        lambda: _resize(square, size, False),
    )


@keras.saving.register_keras_serializable(package="skinkeras")
class ResizeAndCenterCrop(keras.layers.Layer):
    """Crops the central square, then resizes it to `size` × `size`.

    SPEC: "Images are brought to 224×224 by scaling the shorter side to 224 (aspect
    ratio kept), then a center crop": `resize_and_center_crop`, the code of training's
    file route (`skinkeras.data.resize_and_center_crop`) too. The central square is
    shrunk by area averaging (TensorFlow's `ResizeArea`, antialiased; the other Keras
    backends have no "area" resize, so there this layer only enlarges) or enlarged
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
        check_size(size)
        self.size = size

    def build(self, input_shape):
        check_batch(self, input_shape)
        self.built = True

    def call(self, images):
        return resize_and_center_crop(images, self.size)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, input_shape[-1])

    def compute_output_spec(self, images):
        return keras.KerasTensor(
            self.compute_output_shape(images.shape), dtype="float32"
        )

    def get_config(self):
        return {**super().get_config(), "size": self.size}
