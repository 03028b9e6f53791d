"""Every size of the field's backbones (issue 24) against keras.applications.

For each model: keras.applications' network with random weights (and random BatchNorm
statistics) is saved in the legacy HDF5 layout of the official files, our builder
loads that file through its own transfer (`weights=path`), and the features equal
keras.applications' at a small input; the parameter counts are keras.applications'
(and FACTS.md's); ARL adds one alpha per residual `Add` it replaces; `se=False`
removes exactly the SE parameters; Grad-CAM's feature map is keras.applications' last
layer. The largest models are `slow` (~20 s each here).
"""

import pathlib
import re

import keras
import pytest

from skinkeras import config as config_lib
from skinkeras.gradcam import default_layer_name
from skinkeras.models import ARCHITECTURES, MODELS, arl_layers, build_model
from skinkeras.models.weights import APPLICATIONS
from tests.models.helpers import (
    LARGE_MODELS,
    fresh_stem_names,
    infer,
    model_params,
    random_images,
    randomize_statistics,
    relative_error,
    save_legacy_h5,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHAPE = (32, 32, 3)
# keras.applications' no-top parameters (FACTS.md, Keras 3.15.1), for the docs' table.
PARAMS = {
    "resnet50": 23_587_712,
    "resnet101": 42_658_176,
    "resnet152": 58_370_944,
    "effnet_b0": 4_049_571,
    "effnet_b1": 6_575_239,
    "effnet_b2": 7_768_569,
    "effnet_b3": 10_783_535,
    "effnet_b4": 17_673_823,
    "effnet_b5": 28_513_527,
    "effnet_b6": 40_960_143,
    "effnet_b7": 64_097_687,
}


def _applications(name):
    constructor = getattr(keras.applications, APPLICATIONS[ARCHITECTURES[name].weights])
    model = constructor(weights=None, include_top=False, input_shape=SHAPE)
    return randomize_statistics(fresh_stem_names(model))


@pytest.mark.parametrize("name", model_params(PARAMS, slow=LARGE_MODELS))
def test_size_equals_keras_applications_through_a_legacy_file(name, tmp_path):
    architecture = ARCHITECTURES[name]
    reference = _applications(name)
    assert reference.count_params() == PARAMS[name]
    path = save_legacy_h5(reference, tmp_path / "weights.h5")

    model = build_model(
        name, weights=path, arl=True, include_top=False, input_shape=SHAPE
    )
    adds = [layer for layer in reference.layers if isinstance(layer, keras.layers.Add)]
    assert model.count_params() - reference.count_params() == len(adds)
    assert len(adds) == architecture.arl_blocks
    assert [layer.name for layer in arl_layers(model)] == [
        layer.name.replace("_add", "_arl") for layer in adds
    ]
    images = random_images(SHAPE[0])
    reference_input = images
    if name.startswith("resnet"):  # the caffe normalisation is inside our model
        reference_input = keras.applications.resnet.preprocess_input(images.copy())
    expected = infer(reference, reference_input)
    actual = infer(model, images)
    assert actual.shape == expected.shape == (2, 1, 1, reference.output_shape[-1])
    # ARL at alpha 0 is the plain sum: the same float32 graph, round-off at most.
    assert relative_error(actual, expected) < 1e-5
    # Grad-CAM's feature map: keras.applications' last layer without the top.
    assert default_layer_name(model) == reference.layers[-1].name

    if architecture.se:
        se_params = sum(
            layer.count_params() for layer in reference.layers if "_se_" in layer.name
        )
        no_se = build_model(
            name, weights=None, se=False, include_top=False, input_shape=SHAPE
        )
        assert 0 < se_params < reference.count_params()
        assert no_se.count_params() == reference.count_params() - se_params
        assert [layer.name for layer in no_se.layers[1:]] == [
            layer.name for layer in reference.layers[1:] if "_se_" not in layer.name
        ]


def test_every_model_is_a_choice_of_the_config_and_effnet_is_b0():
    assert config_lib.MODELS == MODELS
    assert set(PARAMS) | {"effnet", "resnet26"} == set(MODELS)
    assert ARCHITECTURES["effnet"] is ARCHITECTURES["effnet_b0"]
    assert set(config_lib.SE_MODELS) == {
        name for name, arch in ARCHITECTURES.items() if arch.se
    }
    assert set(config_lib.RANDOM_ONLY_MODELS) == {
        name for name, arch in ARCHITECTURES.items() if arch.weights is None
    }
    # Saved runs of the study keep their names; the new sizes get theirs.
    assert config_lib.TrainConfig(model="effnet").run_name == "effnet_se_none"
    assert config_lib.TrainConfig(model="effnet_b3", arl=True).run_name == (
        "effnet_b3_se_arl_none"
    )
    assert config_lib.TrainConfig(model="resnet101", arl=True).run_name == (
        "resnet101_arl_none"
    )


def _docs_rows():
    """{name: (ARL blocks, native size, params)} of docs/models.md's model table."""
    rows = {}
    text = (ROOT / "docs" / "models.md").read_text()
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 6 or not cells[0].startswith("`") or cells[1] == "network":
            continue
        names = re.findall(r"`(\w+)`", cells[0])
        for name in names:
            rows[name] = (cells[2], cells[4], cells[5].replace(",", ""))
    return rows


def test_the_docs_table_is_the_architectures():
    rows = _docs_rows()
    assert set(rows) == set(MODELS)
    for name, (arl_blocks, native_size, params) in rows.items():
        architecture = ARCHITECTURES[name]
        assert arl_blocks == str(architecture.arl_blocks), name
        if architecture.weights is not None:
            assert native_size == str(architecture.native_size), name
            assert params == str(PARAMS[name if name != "effnet" else "effnet_b0"])
