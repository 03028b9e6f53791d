"""U-Net lesion segmenter on a keras.applications encoder (experiment 1).

The study (SPEC: Lesion segmentation; thesis section 3.2) segments the lesion with a
U-Net whose downsampling half is a pretrained ResNet — fastai v1's ``unet_learner``,
which builds the decoder dynamically from the skip connections of a torchvision
ResNet. keras.applications has no ResNet-34 (fastai's usual choice), so the default
encoder is **ResNet-50** with ImageNet weights: the same family the study used, the
same network the classifiers of experiments 1-3 use (one set of weights to fetch),
and strong enough that the segmenter is not the bottleneck of experiment 1 (the study
reports Dice 0.89). EfficientNet-B0 is offered as a lighter alternative.

Input convention (as every skinkeras model): RGB float pixels in 0..255; the
encoder's own normalisation is the model's first layer(s). The output is one sigmoid
channel, the lesion probability per pixel, at the input's height and width.

Layer names are the contract for per-group learning rates and freezing: the encoder
keeps keras.applications' names (``conv1_conv``, ``conv4_block6_out``, ...); every
decoder layer is named ``decoder_*``. :func:`encoder_layers` and
:func:`decoder_layers` split a built model along that line.
"""

import keras

from skinkeras.layers import CaffePreprocess

DECODER_PREFIX = "decoder_"

# Architecture as data: constructor, its normalisation, and the skip connections
# (feature maps at strides 2, 4, 8, 16) plus the bottom of the "U" (stride 32).
ENCODERS = {
    "resnet50": {
        "application": keras.applications.ResNet50,
        # ResNet-50's ImageNet weights expect caffe-style input (BGR, mean removed).
        "caffe_preprocess": True,
        "skips": (
            "conv1_relu",
            "conv2_block3_out",
            "conv3_block4_out",
            "conv4_block6_out",
        ),
        "bottom": "conv5_block3_out",
    },
    "efficientnet_b0": {
        "application": keras.applications.EfficientNetB0,
        # EfficientNet-B0 normalises 0..255 pixels inside its own stem.
        "caffe_preprocess": False,
        "skips": (
            "block2a_expand_activation",
            "block3a_expand_activation",
            "block4a_expand_activation",
            "block6a_expand_activation",
        ),
        "bottom": "top_activation",
    },
}

# Decoder width at strides 16, 8, 4, 2 and 1 (the last one sees the input image,
# like fastai's final cross connection).
DECODER_FILTERS = (256, 128, 64, 32, 16)
BOTTOM_FILTERS = 512


def _conv_block(x, filters, *, name):
    """Two 3×3 conv → BatchNorm → ReLU, as in the original U-Net."""
    for i in (1, 2):
        x = keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i}"
        )(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = keras.layers.Activation("relu", name=f"{name}_relu{i}")(x)
    return x


def _up_block(x, skip, filters, *, name):
    """×2 transposed convolution, concatenation with the skip, conv block."""
    x = keras.layers.Conv2DTranspose(filters, 2, strides=2, name=f"{name}_upconv")(x)
    # fastai normalises the encoder activations before the concatenation.
    skip = keras.layers.BatchNormalization(name=f"{name}_skip_bn")(skip)
    x = keras.layers.Concatenate(name=f"{name}_concat")([x, skip])
    return _conv_block(x, filters, name=name)


def unet(*, input_shape=(224, 224, 3), encoder="resnet50", weights="imagenet"):
    """Builds the U-Net lesion segmenter.

    Args:
        input_shape: (height, width, 3); height and width multiples of 32 (the
            encoder downsamples five times).
        encoder: "resnet50" (default, see the module docstring) or
            "efficientnet_b0".
        weights: "imagenet", None (random initialisation) or the path of the
            encoder's no-top weights file (as keras.applications accepts).

    Returns:
        A flat functional `keras.Model` named ``unet_<encoder>`` mapping RGB 0..255
        images (B, H, W, 3) to lesion probabilities (B, H, W, 1) in float32.
    """
    if encoder not in ENCODERS:
        raise ValueError(
            f"`encoder` must be one of {sorted(ENCODERS)}. Received: encoder={encoder!r}"
        )
    input_shape = tuple(input_shape)
    if (
        len(input_shape) != 3
        or input_shape[-1] != 3
        or any(d is None or d <= 0 or d % 32 for d in input_shape[:2])
    ):
        raise ValueError(
            "`input_shape` must be (height, width, 3) with height and width positive "
            f"multiples of 32. Received: input_shape={input_shape}"
        )
    spec = ENCODERS[encoder]

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if spec["caffe_preprocess"]:
        x = CaffePreprocess(name="caffe_preprocess")(x)
    # input_tensor keeps the encoder's layers in this graph, so the U-Net is one
    # flat model whose encoder layers keep keras.applications' names.
    backbone = spec["application"](
        include_top=False, weights=weights, input_tensor=x, input_shape=input_shape
    )
    skips = [backbone.get_layer(name).output for name in spec["skips"]]
    x = backbone.get_layer(spec["bottom"]).output

    x = _conv_block(x, BOTTOM_FILTERS, name=f"{DECODER_PREFIX}bottom")
    for i, (skip, filters) in enumerate(
        zip(reversed(skips), DECODER_FILTERS[:-1], strict=True)
    ):
        x = _up_block(x, skip, filters, name=f"{DECODER_PREFIX}up{i + 1}")
    # Last cross connection with the image itself (scaled to 0..1) at full size.
    image = keras.layers.Rescaling(1.0 / 255.0, name=f"{DECODER_PREFIX}image_scale")(
        inputs
    )
    x = keras.layers.Conv2DTranspose(
        DECODER_FILTERS[-1], 2, strides=2, name=f"{DECODER_PREFIX}up5_upconv"
    )(x)
    x = keras.layers.Concatenate(name=f"{DECODER_PREFIX}up5_concat")([x, image])
    x = _conv_block(x, DECODER_FILTERS[-1], name=f"{DECODER_PREFIX}up5")
    x = keras.layers.Conv2D(1, 1, name=f"{DECODER_PREFIX}logits")(x)
    # float32 output so that mixed precision keeps a well-behaved loss.
    outputs = keras.layers.Activation(
        "sigmoid", dtype="float32", name=f"{DECODER_PREFIX}mask"
    )(x)
    return keras.Model(inputs, outputs, name=f"unet_{encoder}")


def is_decoder_layer(layer):
    """True for the layers :func:`unet` adds on top of the encoder."""
    return layer.name.startswith(DECODER_PREFIX)


def encoder_layers(model):
    """The encoder's layers (keras.applications names), input layer excluded."""
    return [
        layer
        for layer in model.layers
        if not is_decoder_layer(layer)
        and not isinstance(layer, keras.layers.InputLayer)
    ]


def decoder_layers(model):
    """The decoder's layers (names starting with ``decoder_``)."""
    return [layer for layer in model.layers if is_decoder_layer(layer)]


def set_encoder_trainable(model, trainable, *, train_bn=True):
    """Freezes or unfreezes the encoder; the decoder stays trainable.

    With ``train_bn`` (fastai's default) the encoder's BatchNorm layers keep
    training while the rest of the encoder is frozen.
    """
    for layer in encoder_layers(model):
        is_bn = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = trainable or (train_bn and is_bn)
