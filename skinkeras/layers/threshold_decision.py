"""The operating point: one class's probability against a threshold, as a layer."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="skinkeras")
class ThresholdDecision(keras.layers.Layer):
    """`decision = probabilities[:, index] >= threshold`, int32 0/1.

    The decision rule of `skinkeras.evaluation` (a lesion is called melanoma when its
    score is `>= threshold`); the threshold is chosen on the validation split
    (issue 15, item 3). `metadata` is free JSON carried in the layer's config: a
    deployed model keeps there what it was trained and calibrated with.

    Input shape: `(B, classes)` probabilities. Output shape: `(B,)`, int32.

    Args:
        threshold: a number in [0, 1].
        index: the class whose probability is compared (1: melanoma).
        metadata: optional JSON-serialisable dict.
        **kwargs: base `keras.layers.Layer` arguments.
    """

    def __init__(self, threshold=0.5, index=1, metadata=None, **kwargs):
        super().__init__(**kwargs)
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float))
            or not 0.0 <= threshold <= 1.0
        ):
            raise ValueError(
                f"`threshold` must be a number in [0, 1]. Received: threshold={threshold!r}"
            )
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"`index` must be an int >= 0. Received: index={index!r}")
        self.threshold = float(threshold)
        self.index = index
        self.metadata = {} if metadata is None else dict(metadata)

    def build(self, input_shape):
        if input_shape[-1] is not None and self.index >= input_shape[-1]:
            raise ValueError(
                f"Class index {self.index} of {input_shape[-1]} classes. "
                f"Received: index={self.index}"
            )
        self.built = True

    def call(self, probabilities):
        return ops.cast(probabilities[:, self.index] >= self.threshold, "int32")

    def compute_output_shape(self, input_shape):
        return input_shape[:1]

    def compute_output_spec(self, probabilities):
        return keras.KerasTensor(probabilities.shape[:1], dtype="int32")

    def get_config(self):
        return {
            **super().get_config(),
            "threshold": self.threshold,
            "index": self.index,
            "metadata": self.metadata,
        }
