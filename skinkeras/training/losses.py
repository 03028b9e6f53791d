"""The classifier's loss and class weights (issue 16: class imbalance).

The study trains with the cross-entropy of the logits and balances the classes by
oversampling (SPEC, training protocol); both stay the defaults. For imbalanced data
(ISIC 2020: 1.8 % melanoma) two more corrections are available:

- ``class_weight="balanced"``: each example's loss is weighted by
  ``n / (classes × count of its class)`` over the training split, scikit-learn's
  ``compute_class_weight("balanced")`` (Keras' ``fit(class_weight=...)``: the
  weighted losses are averaged over the batch);
- ``loss="focal"``: Keras' `CategoricalFocalCrossentropy` (Lin et al. 2017),
  ``-alpha (1 - p_true)^gamma log p_true``, with ``alpha = 1`` so that it adds no
  constant factor (Keras' default 0.25 would scale every loss, and the learning
  rate with it) and ``gamma = 0`` is the cross-entropy (up to Keras' clipping of
  probabilities to [1e-7, 1 - 1e-7]). Class balancing is left to the two options
  above.
"""

import keras
import numpy as np

FOCAL_ALPHA = 1.0


@keras.saving.register_keras_serializable(package="skinkeras")
class SparseCategoricalFocalCrossentropy(keras.losses.Loss):
    """Keras' `CategoricalFocalCrossentropy` of integer labels and logits.

    Args:
        gamma: focusing parameter (0: the cross-entropy).
        alpha: constant weight of every example (1: none).
    """

    def __init__(self, gamma=2.0, alpha=FOCAL_ALPHA, **kwargs):
        super().__init__(**kwargs)
        self.gamma = float(gamma)
        self.alpha = float(alpha)

    def call(self, y_true, y_pred):
        num_classes = keras.ops.shape(y_pred)[-1]
        one_hot = keras.ops.one_hot(
            keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,)), num_classes
        )
        return keras.losses.categorical_focal_crossentropy(
            one_hot, y_pred, alpha=self.alpha, gamma=self.gamma, from_logits=True
        )

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, "alpha": self.alpha}


def make_loss(config):
    """The training loss of a `TrainConfig` (``loss``, ``focal_gamma``)."""
    if config.loss == "focal":
        return SparseCategoricalFocalCrossentropy(gamma=config.focal_gamma)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def balanced_class_weights(counts):
    """``{class: n / (present classes × count)}``: sklearn's "balanced" weights.

    ``counts`` are the training examples per class. A class without examples never
    occurs in training; it gets weight 0 (scikit-learn raises for it) and is not
    counted among the classes.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or counts.sum() <= 0:
        raise ValueError(
            f"`counts` must list examples per class. Received: counts={counts}"
        )
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return {index: float(weight) for index, weight in enumerate(weights)}


def class_weights(config, counts):
    """Keras' ``class_weight`` for ``fit`` (None: unweighted)."""
    if config.class_weight == "balanced":
        return balanced_class_weights(counts)
    return None
