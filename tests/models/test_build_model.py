"""build_model: argument checks, defaults, the helpers, and .keras round trips."""

import keras
import numpy as np
import pytest

import skinkeras.models as skm
from skinkeras.layers import AttentionResidual
from tests.models.helpers import infer, random_images, randomize_statistics

SMALL = (32, 32, 3)


@pytest.mark.parametrize(
    "kwargs, received",
    [
        ({"name": "vgg16"}, "Received: name='vgg16'"),
        ({"name": "resnet50", "se": True}, "Received: se=True"),
        ({"name": "effnet", "num_classes": 0}, "Received: num_classes=0"),
        ({"name": "resnet50", "num_classes": 2.0}, "Received: num_classes=2.0"),
        (
            {"name": "effnet", "input_shape": (64, 64, 1)},
            "Received: input_shape=(64, 64, 1)",
        ),
        (
            {"name": "resnet50", "input_shape": (16, 16, 3)},
            "Received: input_shape=(16, 16, 3)",
        ),
        ({"name": "effnet", "input_shape": (64, 64)}, "Received: input_shape=(64, 64)"),
        (
            {"name": "effnet", "weights": "/no/such/file.h5"},
            "Received: weights='/no/such/file.h5'",
        ),
        ({"name": "effnet", "weights": 3}, "Received: weights=3"),
        ({"name": "resnet50", "head": "mlp"}, "Received: head='mlp'"),
        ({"name": "effnet", "dropout": 1.0}, "Received: dropout=1.0"),
        (
            {"name": "resnet50", "weights": None, "input_shape": (64, 64, 1)},
            "Received: input_shape=(64, 64, 1)",  # caffe_preprocess needs RGB
        ),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(kwargs, received):
    # Raised before any layer or download: the network guard would fail otherwise.
    kwargs = dict(kwargs)
    with pytest.raises(ValueError) as info:
        skm.build_model(kwargs.pop("name"), **kwargs)
    assert str(info.value).endswith(received)


def test_se_defaults_to_each_models_own():
    effnet = skm.build_model("effnet", weights=None, input_shape=SMALL)
    assert effnet.name == "effnet_b0_se"
    assert any(layer.name == "block1a_se_reduce" for layer in effnet.layers)
    resnet = skm.build_model(
        "resnet50", weights=None, arl=True, include_top=False, input_shape=SMALL
    )
    assert resnet.name == "resnet50_arl"
    # Non-RGB input is fine without weights when the model does no caffe step.
    gray = skm.build_model(
        "effnet", weights=None, se=False, include_top=False, input_shape=(32, 32, 1)
    )
    assert gray.name == "effnet_b0" and gray.output_shape == (None, 1, 1, 1280)


def test_helpers_split_backbone_and_head():
    model = skm.build_model("effnet", arl=True, weights=None, input_shape=SMALL)
    head = skm.head_layers(model)
    backbone = skm.backbone_layers(model)
    assert [layer.name for layer in head][-1] == "head_logits"
    assert len(head) + len(backbone) + 1 == len(model.layers)  # + the input layer
    assert skm.feature_layer_name(model) == "top_activation"
    assert backbone[-1].name == "top_activation"
    assert [layer.name for layer in skm.arl_layers(model)][:2] == [
        "block2b_arl",
        "block3b_arl",
    ]

    skm.set_backbone_trainable(model, False, train_bn=True)
    trainable = {
        layer.name for layer in model.layers if layer.trainable and layer.weights
    }
    bns = {
        layer.name
        for layer in backbone
        if isinstance(layer, keras.layers.BatchNormalization)
    }
    head_with_weights = {layer.name for layer in head if layer.weights}
    assert trainable == bns | head_with_weights
    assert not any(layer.trainable for layer in skm.arl_layers(model))

    skm.set_backbone_trainable(model, False, train_bn=False)
    trainable_vars = {v.path.split("/")[0] for v in model.trainable_weights}
    assert trainable_vars == head_with_weights

    skm.set_backbone_trainable(model, True)
    assert len(model.trainable_weights) == len(
        [w for layer in model.layers for w in layer.trainable_weights]
    )
    assert all(layer.trainable for layer in model.layers)


def test_feature_layer_name_of_resnet():
    model = skm.build_model(
        "resnet50", weights=None, include_top=False, input_shape=SMALL
    )
    assert skm.feature_layer_name(model) == "conv5_block3_out"
    assert model.layers[-1].name == "conv5_block3_out"
    with pytest.raises(ValueError, match="Received: model="):
        skm.feature_layer_name(
            keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        )


def test_keras_file_round_trip_with_arl_and_se(tmp_path):
    model = skm.build_model(
        "effnet",
        arl=True,
        se=True,
        weights=None,
        num_classes=3,
        input_shape=SMALL,
    )
    randomize_statistics(model)
    for i, layer in enumerate(skm.arl_layers(model)):
        layer.alpha.assign(0.01 * (i + 1))  # trained-looking alphas
    images = random_images(32)
    expected = infer(model, images)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.name == "effnet_b0_se_arl"
    assert [layer.name for layer in loaded.layers] == [
        layer.name for layer in model.layers
    ]
    assert isinstance(loaded.get_layer("block6d_arl"), AttentionResidual)
    np.testing.assert_allclose(
        float(keras.ops.convert_to_numpy(loaded.get_layer("block6d_arl").alpha)), 0.09
    )
    np.testing.assert_array_equal(infer(loaded, images), expected)
    assert expected.shape == (2, 3)


@pytest.mark.parametrize(
    "head, names",
    [
        (
            "fastai",
            [
                "head_max_pool",
                "head_avg_pool",
                "head_concat",
                "head_bn1",
                "head_dropout1",
                "head_dense1",
                "head_bn2",
                "head_dropout2",
                "head_logits",
            ],
        ),
        ("linear", ["head_avg_pool", "head_dropout", "head_logits"]),
    ],
)
def test_heads_output_logits(head, names):
    model = skm.build_model(
        "effnet", weights=None, se=False, head=head, num_classes=3, input_shape=SMALL
    )
    assert [layer.name for layer in skm.head_layers(model)] == names
    assert model.output_shape == (None, 3)
    assert model.get_layer("head_logits").get_config()["activation"] == "linear"
    if head == "fastai":  # fastai: Dropout(ps / 2) before Dense 512, Dropout(ps) after
        assert model.get_layer("head_dropout1").rate == 0.25
        assert model.get_layer("head_dropout2").rate == 0.5
        assert model.get_layer("head_dense1").units == 512
    logits = infer(model, random_images(32))
    assert logits.shape == (2, 3)
    assert not np.allclose(logits.sum(axis=1), 1.0)  # logits, not probabilities
