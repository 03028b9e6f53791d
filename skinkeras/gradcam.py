"""Grad-CAM heatmaps (Selvaraju et al., 2017) for every skinkeras classifier.

For the logit ``y_c`` of class ``c`` and a convolutional feature map ``A`` (B, h, w, K):

    alpha_k = mean_{i,j} d y_c / d A[i, j, k]           (pooled gradients)
    L_c     = ReLU(sum_k alpha_k * A[..., k])           (h, w)

``L_c`` is resized (bilinear) to the image's height and width and divided by its
maximum, so each heatmap lies in [0, 1] (all zeros where nothing contributes
positively). The study compares such heatmaps between models (figures 4.2, 4.4).
Uses `tf.GradientTape`, so it needs the TensorFlow backend.
"""

import keras
import matplotlib
import numpy as np
import tensorflow as tf

from skinkeras.models import feature_layer_name


def default_layer_name(model):
    """The last convolutional feature map: `feature_layer_name` for skinkeras models
    ("conv5_block3_out" / "top_activation"), else the last layer with a 4-D output."""
    try:
        return feature_layer_name(model)
    except ValueError:
        pass
    for layer in reversed(model.layers):
        output = getattr(layer, "output", None)
        if output is not None and not isinstance(output, (list, tuple)):
            if len(output.shape) == 4:
                return layer.name
    raise ValueError(
        "The model has no layer with a 4-D (B, H, W, C) output to take Grad-CAM "
        f"from. Received: model={model.name!r}"
    )


def gradcam(model, images, *, class_index=None, layer_name=None):
    """Grad-CAM heatmaps of ``model`` for a batch of images.

    Args:
        model: a functional Keras model with one output of class scores (B, C);
            skinkeras classifiers output logits, which is what Grad-CAM wants.
        images: (B, H, W, 3) in the model's input convention (RGB 0..255 for
            skinkeras models).
        class_index: None for each image's top class, an int for one class for
            all, or a sequence of B ints.
        layer_name: the feature map layer; default `default_layer_name(model)`.

    Returns:
        float32 numpy array (B, H, W) in [0, 1].

    Raises:
        RuntimeError: the Keras backend is not TensorFlow.
    """
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "Grad-CAM takes its gradients with tf.GradientTape and needs the "
            "TensorFlow backend (KERAS_BACKEND=tensorflow, the default). "
            f"Received: keras.backend.backend()={keras.backend.backend()!r}"
        )
    images = tf.convert_to_tensor(images, dtype=tf.float32)
    if images.shape.rank != 4:
        raise ValueError(
            "`images` must be a batch (B, H, W, C). "
            f"Received: images with shape={tuple(images.shape)}"
        )
    layer_name = layer_name or default_layer_name(model)
    features_model = keras.Model(
        model.inputs, [model.get_layer(layer_name).output, model.outputs[0]]
    )
    with tf.GradientTape() as tape:
        # Without this, layers before the first weight (input normalisation, or a
        # weight-free feature map) would leave `features` off the tape.
        tape.watch(images)
        features, scores = features_model(images, training=False)
        scores = tf.cast(scores, tf.float32)
        if class_index is None:
            index = tf.argmax(scores, axis=-1, output_type=tf.int32)
        else:
            index = tf.broadcast_to(
                tf.convert_to_tensor(class_index, tf.int32), tf.shape(scores)[:1]
            )
        # Each image's score depends only on its own features (inference mode),
        # so one gradient of the sum gives every image's gradients at once.
        score = tf.reduce_sum(tf.gather(scores, index, axis=1, batch_dims=1))
    grads = tf.cast(tape.gradient(score, features), tf.float32)
    features = tf.cast(features, tf.float32)
    weights = tf.reduce_mean(grads, axis=(1, 2))  # (B, K)
    cam = tf.nn.relu(tf.einsum("bhwk,bk->bhw", features, weights))
    cam = tf.image.resize(cam[..., None], tf.shape(images)[1:3], method="bilinear")
    cam = cam[..., 0]
    peak = tf.reduce_max(cam, axis=(1, 2), keepdims=True)
    cam = tf.math.divide_no_nan(cam, peak)
    return tf.clip_by_value(cam, 0.0, 1.0).numpy()


def overlay(image, heatmap, *, alpha=0.4, colormap="jet"):
    """Blends a heatmap (colour-mapped) over an image.

    Args:
        image: (H, W, 3) RGB, 0..255.
        heatmap: (h, w) in [0, 1]; resized (bilinear) to the image if needed.
        alpha: weight of the heatmap, in [0, 1].
        colormap: a matplotlib colormap name.

    Returns:
        uint8 (H, W, 3): ``(1 - alpha) * image + alpha * colormap(heatmap)``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"`alpha` must be in [0, 1]. Received: alpha={alpha}")
    image = np.asarray(image, dtype=np.float32)
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if heatmap.shape != image.shape[:2]:
        heatmap = tf.image.resize(heatmap[..., None], image.shape[:2]).numpy()[..., 0]
    colors = matplotlib.colormaps[colormap](np.clip(heatmap, 0.0, 1.0))[..., :3]
    blended = (1.0 - alpha) * image + alpha * 255.0 * colors
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)
