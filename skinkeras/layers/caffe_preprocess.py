"""Caffe-style input normalisation of keras.applications' ResNet-50, as a layer."""

import keras
from keras import ops

# ImageNet per-channel means in BGR order, as keras.applications'
# `imagenet_utils.preprocess_input(mode="caffe")` subtracts them.
IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="skinkeras")
class CaffePreprocess(keras.layers.Layer):
    """RGB pixels in 0..255 → BGR with the ImageNet mean subtracted.

        out[..., c] = in[..., 2 - c] - mean_bgr[c],
        mean_bgr = (103.939, 116.779, 123.68)

    This is what `keras.applications.resnet50.preprocess_input` does outside
    the model; as the first layer of the rebuilt ResNet-50 it lets every model
    in skinkeras take RGB floats in 0..255. No weights.

    Input shape: `(..., 3)` (channels-last RGB). Output shape: the same.

    Args:
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).
    """

    def build(self, input_shape):
        if input_shape[-1] != 3:
            raise ValueError(
                "CaffePreprocess expects RGB input with 3 channels. "
                f"Received: input_shape={input_shape}"
            )
        self.built = True

    def call(self, inputs):
        bgr = ops.flip(inputs, axis=-1)
        mean = ops.convert_to_tensor(IMAGENET_MEAN_BGR, dtype=inputs.dtype)
        return bgr - mean

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return super().get_config()
