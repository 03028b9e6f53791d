"""The layers of the self-contained model (resize + crop, colour constancy, Ben
Graham, rounding, temperature softmax, decision) against independent NumPy/OpenCV
references, and against the tf.data maps training uses (which call the same
`keras.ops` functions: the comparison guards the maps' wrapping, the references
the shared numbers)."""

import math

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from skinkeras import data, layers
from skinkeras.layers import ben_graham

TOLERANCE = 1e-5  # float32 pixels 0..255 (the maps run the same functions)


def images(shape, *, seed=0, dtype=np.uint8):
    return np.random.default_rng(seed).integers(0, 256, shape).astype(dtype)


def numpy_image(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.mark.parametrize(
    ("height", "width"), [(40, 60), (70, 35), (32, 32), (20, 30), (30, 16)]
)
def test_resize_and_center_crop_equals_training(height, width):
    batch = images((2, height, width, 3), seed=height)
    expected = np.stack([data.resize_and_center_crop(x, size=32) for x in batch])
    layer = layers.ResizeAndCenterCrop(32)
    np.testing.assert_allclose(numpy_image(layer(batch)), expected, atol=TOLERANCE)
    # Dynamic spatial shape, traced once: the area/bilinear choice is made at run time.
    traced = tf.function(
        layer, input_signature=[tf.TensorSpec((None, None, None, 3), tf.uint8)]
    )
    output = traced(batch)
    np.testing.assert_allclose(output.numpy(), expected, atol=TOLERANCE)
    assert output.shape[1:] == (32, 32, 3) and output.dtype == tf.float32


def test_resize_and_center_crop_against_numpy_and_opencv():
    # Shrinking by 3 with area averaging is the mean of 3x3 blocks of the centre
    # square (by 2, bilinear's half-pixel samples would average 2x2 blocks too).
    batch = images((1, 96, 120, 3)).astype(np.float32)
    square = batch[0, :, 12:108]
    blocks = square.reshape(32, 3, 32, 3, 3).mean(axis=(1, 3))
    out = numpy_image(layers.ResizeAndCenterCrop(32)(batch))[0]
    np.testing.assert_allclose(out, blocks, atol=1e-4)
    # Enlarging is bilinear with half-pixel centres, as OpenCV's INTER_LINEAR.
    small = images((1, 12, 16, 3), seed=1).astype(np.float32)
    square = small[0, :, 2:14]
    reference = cv2.resize(square, (32, 32), interpolation=cv2.INTER_LINEAR)
    out = numpy_image(layers.ResizeAndCenterCrop(32)(small))[0]
    # OpenCV clamps border samples as TF does; interior weights agree to float32.
    np.testing.assert_allclose(out, reference, atol=1e-3)


def numpy_color_constancy(x, method, p=6):
    x = x.astype(np.float64)
    if method == "max_rgb":
        e = x.max(axis=(1, 2))
    else:
        e = np.mean(x**p, axis=(1, 2)) ** (1 / p)
    e = e / np.linalg.norm(e, axis=-1, keepdims=True)
    return np.clip(x / (math.sqrt(3) * e[:, None, None, :]), 0, 255)


@pytest.mark.parametrize(
    ("method", "p"), [("max_rgb", 6), ("shades_of_gray", 6), ("shades_of_gray", 2.5)]
)
def test_color_constancy_equals_training_and_numpy(method, p):
    batch = images((2, 16, 24, 3)).astype(np.float32)
    batch[1, ..., 2] *= 0.5  # a colour cast
    layer = layers.ColorConstancy(method, p=p)
    out = numpy_image(layer(batch))
    expected = data.color_constancy(batch, method=method, p=p).numpy()
    np.testing.assert_allclose(out, expected, atol=TOLERANCE)
    np.testing.assert_allclose(out, numpy_color_constancy(batch, method, p), atol=1e-3)
    # An all-black image stays black (neutral illuminant, no NaN).
    assert np.all(numpy_image(layer(np.zeros((1, 4, 4, 3), np.float32))) == 0)


def numpy_ben_graham(x, sigma):
    """Float reference: separable Gaussian, OpenCV's kernel size, reflect-101."""
    size = int(round(sigma * 6 + 1)) | 1
    radius = size // 2
    taps = np.arange(size) - radius
    kernel = np.exp(-(taps**2) / (2 * sigma**2))
    kernel /= kernel.sum()
    x = x.astype(np.float64)
    # numpy's "reflect" is OpenCV's BORDER_REFLECT_101 (the edge is not repeated).
    padded = np.pad(x, ((0, 0), (radius, radius), (0, 0), (0, 0)), mode="reflect")
    blurred = sum(k * padded[:, i : i + x.shape[1]] for i, k in enumerate(kernel))
    padded = np.pad(blurred, ((0, 0), (0, 0), (radius, radius), (0, 0)), mode="reflect")
    blurred = sum(k * padded[:, :, i : i + x.shape[2]] for i, k in enumerate(kernel))
    return np.clip(4 * (x - blurred) + 128, 0, 255)


@pytest.mark.parametrize(
    ("sigma", "shape"), [(None, (2, 32, 32, 3)), (2.0, (1, 24, 40, 3))]
)
def test_ben_graham_equals_training_and_numpy(sigma, shape):
    batch = images(shape).astype(np.float32)
    batch = cv2.GaussianBlur(batch.reshape(-1, *shape[2:]), (5, 5), 1).reshape(shape)
    out = numpy_image(layers.BenGraham(sigma=sigma)(batch))
    expected = data.ben_graham(batch, sigma=sigma).numpy()
    np.testing.assert_allclose(out, expected, atol=TOLERANCE)
    effective = min(shape[1:3]) / 10 if sigma is None else sigma
    # numpy's reflect padding needs radius < side: 3.2 px and 2 px sigmas qualify.
    np.testing.assert_allclose(out, numpy_ben_graham(batch, effective), atol=1e-3)


def test_gaussian_blur_matches_opencv_float_kernel_and_border():
    # In float32 OpenCV does not round, so with the same kernel size the separable
    # blur and the reflect-101 border must agree almost exactly.
    image = images((40, 56, 3), seed=8).astype(np.float32)
    for sigma in (1.3, 4.0, 9.5):  # 9.5: radius 29 > 40 / 2, deep reflection
        k = ben_graham.gaussian_kernel_size(sigma)
        expected = cv2.GaussianBlur(
            image, (k, k), sigma, borderType=cv2.BORDER_REFLECT_101
        )
        out = numpy_image(ben_graham.gaussian_blur(image[None], sigma))[0]
        np.testing.assert_allclose(out, expected, atol=2e-3)


def test_kernel_size_follows_opencv_rule():
    # smooth.dispatch.cpp: ksize = cvRound(sigma * 3 * 2 + 1) | 1 for 8-bit images.
    expected = {0.5: 5, 1.0: 7, 2.2: 15, 6.4: 39, 22.4: 135}
    for sigma, size in expected.items():
        assert ben_graham.gaussian_kernel_size(sigma) == size
        tensor = keras.ops.convert_to_tensor(sigma)  # a sigma known at run time
        assert int(numpy_image(ben_graham.gaussian_kernel_size(tensor))) == size


def test_round_softmax_and_decision_against_numpy():
    x = np.array([[-3.0, 0.5, 1.5, 2.5, 254.5, 300.0]], np.float32)
    np.testing.assert_array_equal(
        numpy_image(layers.RoundPixels()(x)), np.round(np.clip(x, 0, 255))
    )
    logits = np.random.default_rng(0).normal(0, 3, (6, 2)).astype(np.float32)
    probabilities = numpy_image(layers.TemperatureSoftmax(2.5)(logits))
    scaled = logits.astype(np.float64) / 2.5
    expected = np.exp(scaled) / np.exp(scaled).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)
    decision = numpy_image(layers.ThresholdDecision(0.3)(probabilities))
    np.testing.assert_array_equal(decision, (probabilities[:, 1] >= 0.3).astype(int))
    # The rule is >= (skinkeras.evaluation): a probability equal to it is melanoma.
    tie = np.array([[0.7, 0.3]], np.float32)
    assert numpy_image(layers.ThresholdDecision(float(tie[0, 1]))(tie))[0] == 1


LAYERS = [
    layers.ResizeAndCenterCrop(8, name="crop"),
    layers.ColorConstancy("max_rgb", name="cc"),
    layers.BenGraham(sigma=1.5, name="bg"),
    layers.RoundPixels(name="round"),
]


def test_configs_and_keras_round_trip(tmp_path):
    for layer in LAYERS:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    inputs = keras.Input((None, None, 3), dtype="uint8")
    x = inputs
    for layer in LAYERS:
        x = layer(x)
    probabilities = layers.TemperatureSoftmax(
        1.7, class_names=["other", "melanoma"], name="probabilities"
    )(keras.layers.Dense(2, name="logits")(keras.layers.Flatten()(x)))
    decision = layers.ThresholdDecision(0.4, metadata={"a": [1]}, name="decision")(
        probabilities
    )
    model = keras.Model(inputs, {"p": probabilities, "d": decision})
    batch = images((2, 12, 10, 3))
    expected = model(batch)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded(batch)["p"], expected["p"], atol=1e-7)
    assert loaded.get_layer("decision").metadata == {"a": [1]}
    assert loaded.get_layer("probabilities").class_names == ["other", "melanoma"]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: layers.ResizeAndCenterCrop(0), "Received: size=0"),
        (lambda: layers.ColorConstancy("gray_world"), "Received: method='gray_world'"),
        (lambda: layers.ColorConstancy(p=math.inf), "Received: p=inf"),
        (lambda: layers.BenGraham(sigma=0), "Received: sigma=0"),
        (lambda: layers.TemperatureSoftmax(0.0), "Received: temperature=0.0"),
        (lambda: layers.ThresholdDecision(1.5), "Received: threshold=1.5"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_ben_graham_needs_a_static_size():
    with pytest.raises(ValueError, match="static size"):
        layers.BenGraham()(keras.Input((None, None, 3)))
