"""Classification heads put on a backbone's last feature map.

Every head layer is named with the prefix `head_` (that is how
`skinkeras.models.head_layers` finds them) and the last one, `head_logits`,
outputs logits (no softmax) of shape `(batch, num_classes)`.
"""

import keras

HEADS = ("fastai", "linear")
HEAD_PREFIX = "head_"

# PyTorch's BatchNorm default momentum, 0.1 of the new batch: `running = 0.9 *
# running + 0.1 * batch`. Keras counts momentum the other way round (the weight of
# the old value), so torch's 0.1 is Keras' 0.9. fastai v1's layers are torch's.
TORCH_BN_MOMENTUM = 0.9
# fastai v1's `create_head` uses torch's BatchNorm1d defaults (that momentum, eps 1e-5).
_BN_MOMENTUM = TORCH_BN_MOMENTUM
_BN_EPSILON = 1e-5


def fastai_head(x, *, num_classes, dropout=0.5):
    """fastai v1's `create_head`: the head the study trains (SPEC, training).

    concat(global max pool, global avg pool) → BatchNorm → Dropout(dropout / 2)
    → Dense 512 + ReLU → BatchNorm → Dropout(dropout) → Dense `num_classes`.
    With the default `dropout=0.5` the two rates are fastai's 0.25 and 0.5.

    Args:
        x: feature map `(batch, height, width, channels)`.
        num_classes: int >= 1, number of logits.
        dropout: rate of the last dropout; the first uses half of it.

    Returns:
        Logits `(batch, num_classes)`, from the layer named `head_logits`.
    """
    # fastai's AdaptiveConcatPool2d concatenates [max, avg] in that order.
    max_pool = keras.layers.GlobalMaxPooling2D(name="head_max_pool")(x)
    avg_pool = keras.layers.GlobalAveragePooling2D(name="head_avg_pool")(x)
    x = keras.layers.Concatenate(name="head_concat")([max_pool, avg_pool])
    x = keras.layers.BatchNormalization(
        momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, name="head_bn1"
    )(x)
    x = keras.layers.Dropout(dropout / 2, name="head_dropout1")(x)
    x = keras.layers.Dense(512, activation="relu", name="head_dense1")(x)
    x = keras.layers.BatchNormalization(
        momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, name="head_bn2"
    )(x)
    x = keras.layers.Dropout(dropout, name="head_dropout2")(x)
    return _logits(x, num_classes=num_classes)


def linear_head(x, *, num_classes, dropout=0.5):
    """Global average pooling → Dropout(dropout) → Dense `num_classes`.

    Args:
        x: feature map `(batch, height, width, channels)`.
        num_classes: int >= 1, number of logits.
        dropout: dropout rate before the dense layer.

    Returns:
        Logits `(batch, num_classes)`, from the layer named `head_logits`.
    """
    x = keras.layers.GlobalAveragePooling2D(name="head_avg_pool")(x)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    return _logits(x, num_classes=num_classes)


def _logits(x, *, num_classes):
    # float32 logits keep the loss and the softmax stable under mixed precision.
    return keras.layers.Dense(num_classes, dtype="float32", name="head_logits")(x)


def add_head(x, *, head, num_classes, dropout):
    """Puts the head named `head` ("fastai" or "linear") on feature map `x`."""
    builders = {"fastai": fastai_head, "linear": linear_head}
    return builders[head](x, num_classes=num_classes, dropout=dropout)
