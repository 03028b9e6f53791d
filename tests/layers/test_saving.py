"""A model with every skinkeras layer survives `.keras` save and load."""

import keras
import numpy as np

import skinkeras.layers as skl


def test_keras_file_round_trip(tmp_path):
    inputs = keras.Input(shape=(8, 8, 3))
    x = skl.CaffePreprocess(name="caffe")(inputs)
    f = keras.layers.Conv2D(3, 3, padding="same", name="conv")(x)
    f = skl.SqueezeExcite(2, name="se")(f)
    x = skl.AttentionResidual(alpha_initializer=0.3, name="arl")([x, f])
    x = skl.SpatialSoftmax(name="softmax")(x)
    model = keras.Model(inputs, x)
    images = (
        np.random.default_rng(0).uniform(0, 255, size=(2, 8, 8, 3)).astype("float32")
    )
    path = tmp_path / "layers.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.get_layer("arl"), skl.AttentionResidual)
    assert float(
        keras.ops.convert_to_numpy(loaded.get_layer("arl").alpha)
    ) == np.float32(0.3)
    np.testing.assert_array_equal(
        loaded.predict(images, verbose=0), model.predict(images, verbose=0)
    )
