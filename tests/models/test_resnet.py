"""Rebuilt ResNet-50 against keras.applications.ResNet50; ResNet-26 against its
generic ResNet with two blocks per stage."""

import keras
import pytest

from skinkeras.layers import AttentionResidual, CaffePreprocess
from skinkeras.models import (
    arl_layers,
    build_model,
    feature_layer_name,
    resnet26,
    resnet50,
)
from tests.models.helpers import (
    assert_features_equal_after_transfer,
    randomize_statistics,
)

SIZE = 64


def _names(model):
    return [layer.name for layer in model.layers[1:]]  # without the input layer


@pytest.fixture(scope="module")
def applications():
    return randomize_statistics(
        keras.applications.ResNet50(
            weights=None, include_top=False, input_shape=(SIZE, SIZE, 3)
        )
    )


def test_stock_names_and_parameters_equal_keras_applications(applications):
    model = resnet50(
        weights=None,
        include_top=False,
        include_preprocessing=False,
        input_shape=(SIZE, SIZE, 3),
    )
    assert _names(model) == _names(applications)
    assert model.count_params() == applications.count_params() == 23_587_712
    with_preprocessing = resnet50(
        weights=None, include_top=False, input_shape=(SIZE, SIZE, 3)
    )
    assert _names(with_preprocessing) == ["caffe_preprocess"] + _names(applications)
    assert isinstance(with_preprocessing.layers[1], CaffePreprocess)


def test_arl_adds_16_alphas_in_place_of_the_adds(applications):
    model = resnet50(
        weights=None, include_top=False, arl=True, input_shape=(SIZE, SIZE, 3)
    )
    assert model.name == "resnet50_arl"
    assert model.count_params() - applications.count_params() == 16
    expected = [
        f"conv{stage}_block{block}_arl"
        for stage, blocks in ((2, 3), (3, 4), (4, 6), (5, 3))
        for block in range(1, blocks + 1)
    ]
    assert [layer.name for layer in arl_layers(model)] == expected
    assert all(isinstance(model.get_layer(n), AttentionResidual) for n in expected)
    adds = {name.replace("_arl", "_add") for name in expected}
    assert sorted(set(_names(model)) - {"caffe_preprocess"} - set(expected)) == sorted(
        set(_names(applications)) - adds
    )
    # The block's ReLU follows ARL's sum (SPEC), fused into the ARL layer; the
    # block output keeps its name as an identity after it.
    out = model.get_layer("conv3_block2_out")
    assert out._inbound_nodes[0].parent_nodes[0].operation.name == "conv3_block2_arl"
    assert out.activation is keras.activations.linear
    assert all(layer.activation == "relu" for layer in arl_layers(model))


def test_feature_maps_equal_keras_applications(applications):
    """Same random weights, ARL at alpha 0: the same features (rel. error < 1e-4)."""
    model = resnet50(
        weights=None, include_top=False, arl=True, input_shape=(SIZE, SIZE, 3)
    )
    assert_features_equal_after_transfer(
        model,
        applications,
        new_layers=16,
        shape=(2, 2, 2, 2048),
        applications_input=keras.applications.resnet50.preprocess_input,
    )


def test_batchnorm_follows_training_as_torchvisions_resnet50():
    """fastai v1's body is torchvision's resnet50: nn.BatchNorm2d's default momentum
    0.1 of the new batch (torch.nn.BatchNorm2d docs), Keras' 0.9; the fastai head's
    BatchNorm1d the same. keras.applications' 0.99 would lag ten times longer."""
    model = resnet50(weights=None, input_shape=(32, 32, 3))
    momenta = {
        layer.name: layer.momentum
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    }
    assert len(momenta) == 53 + 2  # 53 in the body, 2 in the head
    assert set(momenta.values()) == {0.9}


def _keras_resnet26():
    """keras.applications' generic ResNet with two bottlenecks per stage (the
    `stack_fn` its ResNet50 uses with 3-4-6-3): the independent reference."""
    from keras.src.applications import resnet as applications_resnet

    def stack_fn(x):
        x = applications_resnet.stack_residual_blocks_v1(
            x, 64, 2, stride1=1, name="conv2"
        )
        for stage, filters in ((3, 128), (4, 256), (5, 512)):
            x = applications_resnet.stack_residual_blocks_v1(
                x, filters, 2, name=f"conv{stage}"
            )
        return x

    return randomize_statistics(
        applications_resnet.ResNet(
            stack_fn,
            preact=False,
            use_bias=True,
            include_top=False,
            weights=None,
            input_shape=(SIZE, SIZE, 3),
            name="resnet26",
        )
    )


def test_resnet26_is_kerass_generic_resnet_with_two_blocks_per_stage():
    reference = _keras_resnet26()
    stock = resnet26(
        weights=None,
        include_top=False,
        include_preprocessing=False,
        input_shape=(SIZE, SIZE, 3),
    )
    assert _names(stock) == _names(reference)
    assert stock.count_params() == reference.count_params()
    model = resnet26(
        weights=None, include_top=False, arl=True, input_shape=(SIZE, SIZE, 3)
    )
    assert model.count_params() - reference.count_params() == 8
    assert feature_layer_name(model) == "conv5_block2_out"
    assert_features_equal_after_transfer(
        model,
        reference,
        new_layers=8,
        shape=(2, 2, 2, 2048),
        applications_input=keras.applications.resnet50.preprocess_input,
    )


def test_resnet26_has_no_imagenet_weights():
    with pytest.raises(ValueError, match="resnet26 has no ImageNet weights.*"):
        resnet26(weights="imagenet", input_shape=(SIZE, SIZE, 3))
    model = build_model("resnet26", weights=None, arl=True, input_shape=(32, 32, 3))
    assert model.name == "resnet26_arl" and model.output_shape == (None, 2)
    assert len(arl_layers(model)) == 8
