"""U-Net segmenter: shapes, names, groups, input normalisation, save/load."""

import keras
import numpy as np
import pytest

from skinkeras.models.unet import (
    DECODER_FILTERS,
    ENCODERS,
    decoder_layers,
    encoder_layers,
    set_encoder_trainable,
    unet,
)
from tests.models.helpers import use_tiny_encoder


@pytest.fixture(scope="module")
def resnet_unet():
    keras.utils.set_random_seed(0)
    return unet(input_shape=(64, 64, 3), weights=None)


def test_output_is_a_probability_map_at_input_size(resnet_unet):
    images = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    masks = keras.ops.convert_to_numpy(resnet_unet(images, training=False))
    assert masks.shape == (2, 64, 64, 1)
    assert masks.dtype == np.float32
    assert np.all((masks >= 0) & (masks <= 1))


def test_rectangular_input():
    model = unet(input_shape=(64, 96, 3), encoder="efficientnet_b0", weights=None)
    assert model.output_shape == (None, 64, 96, 1)


def test_encoder_keeps_keras_applications_names(resnet_unet):
    reference = keras.applications.ResNet50(
        include_top=False, weights=None, input_shape=(64, 64, 3)
    )
    ours = {layer.name for layer in encoder_layers(resnet_unet)}
    theirs = {layer.name for layer in reference.layers[1:]}
    # The only encoder layer keras.applications lacks is the input normalisation.
    assert ours - theirs == {"caffe_preprocess"}
    assert theirs <= ours
    encoder_params = sum(layer.count_params() for layer in encoder_layers(resnet_unet))
    assert encoder_params == reference.count_params()


def test_groups_partition_the_model(resnet_unet):
    encoder = encoder_layers(resnet_unet)
    decoder = decoder_layers(resnet_unet)
    assert decoder and all(layer.name.startswith("decoder_") for layer in decoder)
    assert len(encoder) + len(decoder) + 1 == len(resnet_unet.layers)  # + input
    assert resnet_unet.layers[-1].name == "decoder_mask"


def test_caffe_normalisation_inside_the_model(resnet_unet):
    image = np.random.default_rng(1).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    layer = resnet_unet.get_layer("caffe_preprocess")
    ours = keras.ops.convert_to_numpy(layer(image))
    theirs = keras.applications.resnet50.preprocess_input(image.copy())
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_set_encoder_trainable_keeps_bn_training(resnet_unet):
    set_encoder_trainable(resnet_unet, False)
    try:
        for layer in encoder_layers(resnet_unet):
            is_bn = isinstance(layer, keras.layers.BatchNormalization)
            assert layer.trainable == is_bn, layer.name
        assert all(layer.trainable for layer in decoder_layers(resnet_unet))
        set_encoder_trainable(resnet_unet, False, train_bn=False)
        assert not any(layer.trainable for layer in encoder_layers(resnet_unet))
    finally:
        set_encoder_trainable(resnet_unet, True)
    assert all(layer.trainable for layer in resnet_unet.layers)


def test_weights_path_loads_encoder(tmp_path):
    reference = keras.applications.EfficientNetB0(
        include_top=False, weights=None, input_shape=(64, 64, 3)
    )
    path = str(tmp_path / "encoder.weights.h5")
    reference.save_weights(path)
    model = unet(input_shape=(64, 64, 3), encoder="efficientnet_b0", weights=path)
    np.testing.assert_array_equal(
        model.get_layer("block7a_project_conv").get_weights()[0],
        reference.get_layer("block7a_project_conv").get_weights()[0],
    )


def test_save_and_load_roundtrip(tmp_path, monkeypatch):
    # A tiny encoder keeps this fast; the caffe layer and the decoder are the real ones.
    encoder = use_tiny_encoder(monkeypatch, caffe_preprocess=True)
    model = unet(input_shape=(64, 64, 3), encoder=encoder, weights=None)
    assert model.layers[1].name == "caffe_preprocess"
    images = np.random.default_rng(2).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    path = tmp_path / "unet.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"encoder": "vgg16"}, "encoder"),
        ({"input_shape": (60, 64, 3)}, "input_shape"),
        ({"input_shape": (64, 64, 1)}, "input_shape"),
        ({"input_shape": (64, 64)}, "input_shape"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"Received: {match}="):
        unet(weights=None, **kwargs)


def test_encoders_are_data():
    for spec in ENCODERS.values():
        assert len(spec["skips"]) == len(DECODER_FILTERS) - 1
