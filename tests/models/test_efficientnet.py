"""Rebuilt EfficientNet-B0 against keras.applications.EfficientNetB0."""

import keras
import pytest

from skinkeras.models import arl_layers, efficientnet_b0, transfer_weights
from skinkeras.models.efficientnet import (
    efficientnet_backbone,
    efficientnet_preprocessing,
)
from tests.models.helpers import (
    assert_features_equal_after_transfer,
    fresh_stem_names,
    randomize_statistics,
)

SIZE = 64
ARL_BLOCKS = ("2b", "3b", "4b", "4c", "5b", "5c", "6b", "6c", "6d")
SE_PARAMS = 636_540  # of 4,049,571 in the no-top model (FACTS.md; recounted below)


def _names(model):
    return [layer.name for layer in model.layers[1:]]  # without the input layer


@pytest.fixture(scope="module")
def applications():
    model = keras.applications.EfficientNetB0(
        weights=None, include_top=False, input_shape=(SIZE, SIZE, 3)
    )
    return randomize_statistics(fresh_stem_names(model))


def test_stock_names_and_parameters_equal_keras_applications(applications):
    model = efficientnet_b0(
        weights=None, include_top=False, input_shape=(SIZE, SIZE, 3)
    )
    assert model.name == "effnet_b0_se"
    assert _names(model) == _names(applications)
    assert model.count_params() == applications.count_params() == 4_049_571


def test_se_false_removes_exactly_the_se_parameters(applications):
    se_params = sum(
        layer.count_params() for layer in applications.layers if "_se_" in layer.name
    )
    assert se_params == SE_PARAMS
    model = efficientnet_b0(
        weights=None, include_top=False, se=False, input_shape=(SIZE, SIZE, 3)
    )
    assert model.name == "effnet_b0"
    assert model.count_params() == applications.count_params() - SE_PARAMS
    assert not [name for name in _names(model) if "_se_" in name]
    assert _names(model) == [n for n in _names(applications) if "_se_" not in n]


@pytest.mark.parametrize("se", [True, False])
def test_arl_adds_9_alphas_in_the_identity_skip_blocks(applications, se):
    base = efficientnet_b0(
        weights=None, include_top=False, se=se, input_shape=(SIZE, SIZE, 3)
    )
    model = efficientnet_b0(
        weights=None, include_top=False, se=se, arl=True, input_shape=(SIZE, SIZE, 3)
    )
    assert model.name == ("effnet_b0_se_arl" if se else "effnet_b0_arl")
    assert model.count_params() - base.count_params() == 9
    assert [layer.name for layer in arl_layers(model)] == [
        f"block{b}_arl" for b in ARL_BLOCKS
    ]
    assert sorted(n for n in _names(applications) if n.endswith("_add")) == sorted(
        f"block{b}_add" for b in ARL_BLOCKS
    )
    assert not [n for n in _names(model) if n.endswith("_add")]


def test_feature_maps_equal_keras_applications(applications):
    """Same random weights, SE on, ARL at alpha 0: the same features (< 1e-4)."""
    model = efficientnet_b0(
        weights=None, include_top=False, arl=True, input_shape=(SIZE, SIZE, 3)
    )
    assert_features_equal_after_transfer(
        model, applications, new_layers=9, shape=(2, 2, 2, 1280)
    )


def test_se_false_transfer_reports_the_se_weights_left_out(applications):
    model = efficientnet_b0(
        weights=None, include_top=False, se=False, input_shape=(SIZE, SIZE, 3)
    )
    with pytest.raises(ValueError, match="se_reduce"):
        transfer_weights(model, applications)  # nobody said SE may be left out
    report = transfer_weights(
        model, applications, leave_out=lambda n: "se=False" if "_se_" in n else None
    )
    assert sorted(report.left_out) == sorted(
        f"{layer.name}"
        for layer in applications.layers
        if layer.name.endswith(("_se_reduce", "_se_expand"))
    )
    assert len(report.left_out) == 32


def test_scaled_stage_table_equals_keras_applications():
    """B1-B7 are B0's table scaled: B3's coefficients (width 1.2, depth 1.4) give
    keras.applications' EfficientNetB3 (its 16-filter stage rounds up by 8)."""
    reference = fresh_stem_names(
        keras.applications.EfficientNetB3(
            weights=None, include_top=False, input_shape=(SIZE, SIZE, 3)
        )
    )
    inputs = keras.Input((SIZE, SIZE, 3))
    features = efficientnet_backbone(
        efficientnet_preprocessing(inputs, weights=None),
        width_coefficient=1.2,
        depth_coefficient=1.4,
    )
    model = keras.Model(inputs, features)
    assert _names(model) == _names(reference)
    assert model.count_params() == reference.count_params() == 10_783_535
