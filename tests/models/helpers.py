"""Shared test helpers: random but realistic weights and a relative error."""

import keras
import numpy as np


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
