"""Classification heads put on a backbone's last feature map.

Every head layer is named with the prefix `head_` (that is how
`skinkeras.models.head_layers` finds them) and the last one, `head_logits`,
outputs logits (no softmax) of shape `(batch, num_classes)`. The metadata branch
(issue 26: `head_meta_*`) is part of the head: stage 1 trains it with the head.
"""

import keras

from skinkeras.layers import METADATA_INPUTS, MetadataEncoding

HEADS = ("fastai", "linear")
HEAD_PREFIX = "head_"
# The metadata branch (issue 26), as Gessert et al., "Skin lesion classification
# using ensembles of multi-resolution EfficientNets with meta data", MethodsX 7
# (2020), and their ISIC 2019 code (github.com/ngessert/isic2019: the configs
# cfgs/2019/*_meta.py set fc_layers_before = [256, 256], dropout_meta = 0.4, and
# models.py `modify_meta` builds Linear → BatchNorm1d → ReLU → Dropout per entry):
# two blocks of Dense 256 → BatchNorm → ReLU → Dropout 0.4 on the encoded metadata,
# concatenated with the pooled image features. Their fc_layers_after (Dense 1024 on
# the concatenation) is the head's own layer here (fastai head: Dense 512; linear
# head: none). Their drop_augment (each feature set missing with p = 0.1 in
# training) is left out: the study augments images only.
METADATA_UNITS = (256, 256)
METADATA_DROPOUT = 0.4

# PyTorch's BatchNorm default momentum, 0.1 of the new batch: `running = 0.9 *
# running + 0.1 * batch`. Keras counts momentum the other way round (the weight of
# the old value), so torch's 0.1 is Keras' 0.9. fastai v1's layers are torch's.
TORCH_BN_MOMENTUM = 0.9
# fastai v1's `create_head` uses torch's BatchNorm1d defaults (that momentum, eps 1e-5).
_BN_MOMENTUM = TORCH_BN_MOMENTUM
_BN_EPSILON = 1e-5


def metadata_inputs():
    """The model's metadata inputs: ``{"age": float32 (B,), "sex": int32 (B,),
    "site": int32 (B,)}`` (`skinkeras.layers.MetadataEncoding` documents them)."""
    dtypes = {"age": "float32", "sex": "int32", "site": "int32"}
    return {
        name: keras.Input((), dtype=dtypes[name], name=name) for name in METADATA_INPUTS
    }


def metadata_branch(inputs, *, encoding):
    """Gessert et al.'s metadata MLP (`METADATA_UNITS`) on `MetadataEncoding`.

    Args:
        inputs: `metadata_inputs()`.
        encoding: the run's `metadata_encoding` (`skinkeras.config`).

    Returns:
        The embedding `(batch, METADATA_UNITS[-1])`.
    """
    x = MetadataEncoding(
        encoding["age_range"],
        encoding["sex"],
        encoding["site"],
        name="head_meta_encoding",
    )(inputs)
    for k, units in enumerate(METADATA_UNITS, start=1):
        x = keras.layers.Dense(units, name=f"head_meta_dense{k}")(x)
        x = keras.layers.BatchNormalization(
            momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, name=f"head_meta_bn{k}"
        )(x)
        x = keras.layers.ReLU(name=f"head_meta_relu{k}")(x)
        x = keras.layers.Dropout(METADATA_DROPOUT, name=f"head_meta_dropout{k}")(x)
    return x


def _with_metadata(x, metadata):
    """The pooled image features, then the metadata embedding, if any."""
    if metadata is None:
        return x
    return keras.layers.Concatenate(name="head_meta_concat")([x, metadata])


def fastai_head(x, *, num_classes, dropout=0.5, metadata=None):
    """fastai v1's `create_head`: the head the study trains (SPEC, training).

    concat(global max pool, global avg pool) → BatchNorm → Dropout(dropout / 2)
    → Dense 512 + ReLU → BatchNorm → Dropout(dropout) → Dense `num_classes`.
    With the default `dropout=0.5` the two rates are fastai's 0.25 and 0.5.

    Args:
        x: feature map `(batch, height, width, channels)`.
        num_classes: int >= 1, number of logits.
        dropout: rate of the last dropout; the first uses half of it.
        metadata: None, or the metadata embedding (`metadata_branch`),
            concatenated with the pooled features before the first BatchNorm.

    Returns:
        Logits `(batch, num_classes)`, from the layer named `head_logits`.
    """
    # fastai's AdaptiveConcatPool2d concatenates [max, avg] in that order.
    max_pool = keras.layers.GlobalMaxPooling2D(name="head_max_pool")(x)
    avg_pool = keras.layers.GlobalAveragePooling2D(name="head_avg_pool")(x)
    x = keras.layers.Concatenate(name="head_concat")([max_pool, avg_pool])
    x = _with_metadata(x, metadata)
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


def linear_head(x, *, num_classes, dropout=0.5, metadata=None):
    """Global average pooling → Dropout(dropout) → Dense `num_classes`.

    Args:
        x: feature map `(batch, height, width, channels)`.
        num_classes: int >= 1, number of logits.
        dropout: dropout rate before the dense layer.
        metadata: None, or the metadata embedding (`metadata_branch`),
            concatenated with the pooled features before the dropout.

    Returns:
        Logits `(batch, num_classes)`, from the layer named `head_logits`.
    """
    x = keras.layers.GlobalAveragePooling2D(name="head_avg_pool")(x)
    x = _with_metadata(x, metadata)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    return _logits(x, num_classes=num_classes)


def _logits(x, *, num_classes):
    # float32 logits keep the loss and the softmax stable under mixed precision.
    return keras.layers.Dense(num_classes, dtype="float32", name="head_logits")(x)


def add_head(x, *, head, num_classes, dropout, metadata=None):
    """Puts the head named `head` ("fastai" or "linear") on feature map `x`, with
    the metadata embedding `metadata` (or None) beside the pooled features."""
    builders = {"fastai": fastai_head, "linear": linear_head}
    return builders[head](
        x, num_classes=num_classes, dropout=dropout, metadata=metadata
    )
