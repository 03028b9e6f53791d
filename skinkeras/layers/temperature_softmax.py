"""Softmax of temperature-scaled logits (calibration) as a layer."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="skinkeras")
class TemperatureSoftmax(keras.layers.Layer):
    """Class probabilities `softmax(logits / T)`.

    Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks",
    ICML 2017): one scalar `T > 0`, fitted on the validation split, that leaves the
    ranking (AUROC) unchanged and calibrates the probabilities. `T = 1` is the plain
    softmax. A setting, not a weight: training never changes it.

    Input shape: `(B, classes)` logits. Output shape: the same, float32.

    Args:
        temperature: a finite number > 0.
        class_names: optional names of the classes (metadata of a deployed model).
        **kwargs: base `keras.layers.Layer` arguments.
    """

    def __init__(self, temperature=1.0, class_names=None, **kwargs):
        super().__init__(**kwargs)
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float))
            or not 0 < temperature < float("inf")
        ):
            raise ValueError(
                "`temperature` must be a finite number > 0. "
                f"Received: temperature={temperature!r}"
            )
        self.temperature = float(temperature)
        self.class_names = None if class_names is None else list(class_names)

    def build(self, input_shape):
        if self.class_names is not None and input_shape[-1] != len(self.class_names):
            raise ValueError(
                f"{len(self.class_names)} class names for {input_shape[-1]} logits. "
                f"Received: class_names={self.class_names}"
            )
        self.built = True

    def call(self, logits):
        return ops.softmax(ops.cast(logits, "float32") / self.temperature, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "temperature": self.temperature,
            "class_names": self.class_names,
        }
