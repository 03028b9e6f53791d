"""Shared test helpers: random but realistic weights, a relative error, the
feature comparison with keras.applications, a tiny U-Net encoder and the models
as test parameters."""

import keras
import numpy as np
import pytest

from skinkeras.models import transfer_weights
from skinkeras.models.unet import ENCODERS

# The models whose build at 32 px alone takes seconds: their tests are `slow`.
LARGE_MODELS = ("resnet152", "effnet_b5", "effnet_b6", "effnet_b7")


def model_params(names, *, slow):
    """`names` as pytest parameters, those in `slow` marked `slow`."""
    return [
        pytest.param(name, marks=pytest.mark.slow) if name in slow else name
        for name in names
    ]


def randomize_statistics(model, seed=0):
    """Gives BatchNorm and Normalization layers non-trivial weights.

    Freshly initialised models have moving mean 0 / variance 1 and gamma 1 /
    beta 0 everywhere, so a transfer that mixed those up would go unnoticed.
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for w in layer.weights:
            name = w.path.rsplit("/", 1)[-1]
            shape = tuple(w.shape)
            if name in ("gamma", "moving_variance"):
                w.assign(rng.uniform(0.5, 1.5, size=shape).astype("float32"))
            elif name in ("beta", "moving_mean"):
                w.assign(rng.normal(0, 0.1, size=shape).astype("float32"))
            elif name == "mean" and len(shape) == 1:  # Normalization, on 0..1 pixels
                w.assign(np.array([0.485, 0.456, 0.406], "float32"))
            elif name == "variance" and len(shape) == 1:
                w.assign(np.array([0.229, 0.224, 0.225], "float32") ** 2)
        if isinstance(layer, keras.layers.Normalization):
            layer.finalize_state()  # it caches mean/variance; assign() does not refresh
    return model


def relative_error(actual, expected):
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


def random_images(size, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, size=(batch, size, size, 3)).astype("float32")


def weights_by_name(model):
    """{layer name: [arrays]} for every layer with weights."""
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


def infer(model, images):
    """Inference-mode outputs as numpy (a direct call: no tf.function tracing)."""
    return keras.ops.convert_to_numpy(model(images, training=False))


def save_legacy_h5(model, path):
    """Writes `model`'s weights in the legacy HDF5 layout of the official files."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


def fresh_stem_names(model):
    """Names keras.applications' unnamed EfficientNet stem layers as a fresh Keras
    session does ("rescaling", "normalization", "rescaling_1"); in a busy test
    session they would be "normalization_4" etc."""
    counts = {}
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Rescaling, keras.layers.Normalization)):
            base = (
                "rescaling"
                if isinstance(layer, keras.layers.Rescaling)
                else "normalization"
            )
            n = counts.get(base, 0)
            counts[base] = n + 1
            layer.name = base if n == 0 else f"{base}_{n}"
    return model


def assert_features_equal_after_transfer(
    model, applications, *, new_layers, shape, applications_input=None
):
    """`model`, given `applications`' weights by name, computes its features.

    With ARL at alpha 0 (a plain sum) the two graphs compute the same function;
    float32 sums in another order differ by round-off only (relative error < 1e-4).

    Args:
        new_layers: how many layers the transfer leaves as initialised (ARL).
        shape: the feature maps' shape, for two images.
        applications_input: what keras.applications expects instead of 0..255 RGB
            (ResNet-50: `keras.applications.resnet50.preprocess_input`).
    """
    report = transfer_weights(model, applications)
    assert len(report.new) == new_layers and not report.left_out
    images = random_images(model.input_shape[1])
    reference_images = (
        applications_input(images.copy()) if applications_input else images
    )
    expected = infer(applications, reference_images)
    actual = infer(model, images)
    assert actual.shape == expected.shape == shape
    assert relative_error(actual, expected) < 1e-4


def tiny_application(*, include_top, weights, input_tensor, input_shape):
    """A 5-conv stand-in encoder with keras.applications' call signature."""
    del include_top, weights, input_shape
    x = input_tensor
    for i, filters in enumerate((4, 8, 8, 16, 16), start=1):
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", name=f"s{i}")(x)
    return keras.Model(keras.utils.get_source_inputs(input_tensor), x)


def use_tiny_encoder(monkeypatch, *, caffe_preprocess):
    """Registers `tiny_application` as the U-Net encoder "tiny" (the caffe layer and
    the decoder stay the real ones); returns its name."""
    spec = {
        "application": tiny_application,
        "caffe_preprocess": caffe_preprocess,
        "skips": ("s1", "s2", "s3", "s4"),
        "bottom": "s5",
    }
    monkeypatch.setitem(ENCODERS, "tiny", spec)
    return "tiny"
