"""Clip to 0..255 and round: the values of training's uint8 image cache."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="skinkeras")
class RoundPixels(keras.layers.Layer):
    """`round(clip(x, 0, 255))`, half to even, float in and out.

    Training caches the preprocessed images as uint8, so the network only ever saw
    whole pixel values: `skinkeras.data.round_pixels` as a layer, for a model that
    carries its own preprocessing.

    Input/output shape: any, float.
    """

    def call(self, images):
        return ops.round(ops.clip(images, 0.0, 255.0))

    def compute_output_shape(self, input_shape):
        return input_shape
