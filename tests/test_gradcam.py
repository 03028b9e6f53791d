"""Grad-CAM on a model whose answer is known, against numpy, and on every variant."""

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from skinkeras.gradcam import default_layer_name, gradcam, overlay

SIZE, POOL = 32, 4
CELLS = SIZE // POOL


def _region_masks():
    """Class 0 looks only at the top-left quadrant, class 1 at the bottom-right."""
    masks = np.zeros((CELLS, CELLS, 2), "float32")
    masks[: CELLS // 2, : CELLS // 2, 0] = 1.0
    masks[CELLS // 2 :, CELLS // 2 :, 1] = 1.0
    return masks


def _region_model():
    masks = keras.ops.convert_to_tensor(_region_masks())
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Lambda(lambda t: keras.ops.mean(t, axis=-1, keepdims=True))(inputs)
    x = keras.layers.AveragePooling2D(POOL)(x)
    features = keras.layers.Lambda(lambda t: t * masks, name="features")(x)
    x = keras.layers.GlobalAveragePooling2D()(features)
    logits = keras.layers.Dense(2, name="logits")(x)
    model = keras.Model(inputs, logits)
    model.get_layer("logits").set_weights(
        [np.array([[2.0, -0.5], [-0.5, 1.5]]), np.zeros(2)]
    )
    return model


def _numpy_gradcam(images, class_index):
    kernel = np.array([[2.0, -0.5], [-0.5, 1.5]])
    gray = images.mean(-1)
    pooled = gray.reshape(len(images), CELLS, POOL, CELLS, POOL).mean((2, 4))
    features = pooled[..., None] * _region_masks()
    # d logit_c / d A[i, j, k] = kernel[k, c] / (h * w) for GAP + Dense.
    weights = kernel[:, class_index] / CELLS**2
    cams = []
    for f in features:
        cam = np.maximum(f @ weights, 0).astype("float32")
        cam = cv2.resize(cam, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
        cams.append(cam / cam.max() if cam.max() > 0 else cam)
    return np.stack(cams)


def reference_gradcam(model, images, layer_name, class_index=None):
    """Independent Grad-CAM (`class_index` None: each image's top class): the class
    logits' gradient at the layer's output from a
    tape of our own (one batch: in inference mode each image's logit depends on its
    own features only); pooling, ReLU and normalisation in numpy, the resize by
    OpenCV (bilinear)."""
    probe = keras.Model(model.input, [model.get_layer(layer_name).output, model.output])
    x = tf.constant(images, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        features, logits = probe(x, training=False)
        if class_index is None:
            class_index = np.argmax(logits.numpy(), axis=-1)
        chosen = np.eye(logits.shape[-1], dtype="float32")[np.asarray(class_index)]
        score = tf.reduce_sum(logits * chosen)
    grads = tape.gradient(score, features).numpy().astype(np.float64)
    cams = []
    for f, g, image in zip(features.numpy(), grads, images, strict=True):
        cam = np.maximum(f.astype(np.float64) @ g.mean(axis=(0, 1)), 0)
        cam = cv2.resize(
            cam.astype("float32"), image.shape[1::-1], interpolation=cv2.INTER_LINEAR
        )
        cams.append(cam / cam.max() if cam.max() > 0 else cam)
    return np.stack(cams)


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    images = rng.uniform(50, 100, (2, SIZE, SIZE, 3)).astype("float32")
    images[1, SIZE // 2 :, SIZE // 2 :] += 120  # image 1: class 1 wins
    return images


@pytest.mark.parametrize("class_index, quadrant", [(0, (0, 0)), (1, (1, 1))])
def test_heatmap_peaks_in_the_region_the_class_looks_at(images, class_index, quadrant):
    heatmaps = gradcam(_region_model(), images, class_index=class_index)
    assert heatmaps.shape == (2, SIZE, SIZE)
    half = SIZE // 2
    for heatmap in heatmaps:
        peak = np.unravel_index(np.argmax(heatmap), heatmap.shape)
        assert (peak[0] // half, peak[1] // half) == quadrant
        assert heatmap.max() == pytest.approx(1.0)
        # Nothing outside the region (plus the bilinear fringe) lights up.
        fringe = POOL // 2
        rows = (
            slice(half + fringe, None)
            if quadrant[0] == 0
            else slice(None, half - fringe)
        )
        assert np.all(heatmap[rows] == 0)


def test_matches_numpy_reference_and_default_is_top_class(images):
    model = _region_model()
    assert default_layer_name(model) == "features"
    top = np.argmax(model.predict(images, verbose=0), axis=-1)
    assert list(top) == [0, 1]
    heatmaps = gradcam(model, images)
    want = np.stack(
        [_numpy_gradcam(images[i : i + 1], c)[0] for i, c in enumerate(top)]
    )
    np.testing.assert_allclose(heatmaps, want, atol=1e-5)
    per_image = gradcam(model, images, class_index=[1, 0])
    np.testing.assert_allclose(
        per_image[0], _numpy_gradcam(images[:1], 1)[0], atol=1e-5
    )


def test_layer_name_and_errors(images):
    model = _region_model()
    heatmaps = gradcam(model, images, layer_name="average_pooling2d", class_index=0)
    want = reference_gradcam(model, images, "average_pooling2d", [0, 0])
    assert want.max() == 1.0
    np.testing.assert_allclose(heatmaps, want, atol=1e-5)
    with pytest.raises(ValueError, match="Received: images with shape"):
        gradcam(model, images[0])
    flat = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="Received: model="):
        default_layer_name(flat)


@pytest.mark.parametrize(
    "name, arl, layer",
    [
        ("resnet50", False, "conv5_block3_out"),
        ("resnet50", True, "conv5_block3_out"),
        ("effnet", False, "top_activation"),
        ("effnet", True, "top_activation"),
        ("resnet26", True, "conv5_block2_out"),
    ],
)
def test_every_model_variant(name, arl, layer):
    from skinkeras.models import build_model

    model = build_model(name, arl=arl, weights=None, input_shape=(64, 64, 3))
    assert default_layer_name(model) == layer
    images = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    heatmaps = gradcam(model, images)
    want = reference_gradcam(model, images, layer)
    # Every image has a heatmap that varies: an all-zero or flat one fails here.
    np.testing.assert_array_equal(want.max(axis=(1, 2)), 1.0)
    assert np.all(want.std(axis=(1, 2)) > 0.1)
    np.testing.assert_allclose(heatmaps, want, atol=1e-5)


def test_overlay_blends_colormap():
    image = np.full((8, 8, 3), 100, np.uint8)
    heatmap = np.zeros((4, 4), "float32")
    out = overlay(image, heatmap, alpha=0.5, colormap="gray")
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, 50)  # black from "gray" at 0
    out = overlay(image, np.ones((8, 8)), alpha=0.25, colormap="gray")
    np.testing.assert_array_equal(out, round(0.75 * 100 + 0.25 * 255))
    with pytest.raises(ValueError, match="Received: alpha=2"):
        overlay(image, heatmap, alpha=2)
