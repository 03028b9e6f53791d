"""ImageNet transfer: weight files the tests write, and the "imagenet" path offline."""

import logging

import keras
import numpy as np
import pytest
from keras.src.utils import file_utils

from skinkeras.models import build_model, transfer_weights
from skinkeras.models.weights import is_new_layer
from tests.models.helpers import (
    fresh_stem_names,
    infer,
    random_images,
    randomize_statistics,
    relative_error,
    save_legacy_h5,
    weights_by_name,
)

SIZE = 64
SHAPE = (SIZE, SIZE, 3)
LOGGER = "skinkeras.models.weights"


@pytest.fixture(scope="module")
def resnet_source():
    """keras.applications' ResNet50 (no top) with random weights and statistics."""
    model = keras.applications.ResNet50(
        weights=None, include_top=False, input_shape=SHAPE
    )
    return randomize_statistics(model, seed=7)


@pytest.fixture(scope="module")
def effnet_source():
    model = keras.applications.EfficientNetB0(
        weights=None, include_top=False, input_shape=SHAPE
    )
    return randomize_statistics(fresh_stem_names(model), seed=8)


def _assert_backbone_equals(model, source):
    """Every weight of every backbone layer equals the source's, by name."""
    expected = weights_by_name(source)
    names = [
        layer.name
        for layer in model.layers
        if layer.weights and not is_new_layer(layer)
    ]
    assert names, "no backbone weights"
    for name in names:
        for actual, wanted in zip(
            model.get_layer(name).get_weights(), expected[name], strict=True
        ):
            np.testing.assert_array_equal(actual, wanted, err_msg=name)
    return names


@pytest.mark.parametrize("fmt", ["weights.h5", "legacy.h5"])
def test_resnet_weights_file_transfers_every_backbone_weight(
    tmp_path, fmt, caplog, resnet_source
):
    path = tmp_path / f"resnet50_notop.{fmt}"
    if fmt == "weights.h5":
        resnet_source.save_weights(path)
    else:
        save_legacy_h5(resnet_source, path)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        model = build_model("resnet50", weights=str(path), arl=True, input_shape=SHAPE)
    names = _assert_backbone_equals(model, resnet_source)
    assert (
        len(names) == sum(1 for layer in resnet_source.layers if layer.weights) == 106
    )
    assert "copied 106 layers" in caplog.text
    assert "left out on purpose: nothing" in caplog.text


def test_with_top_legacy_file_leaves_out_the_classifier(tmp_path, caplog):
    source = randomize_statistics(
        fresh_stem_names(
            keras.applications.EfficientNetB0(weights=None, include_top=True)
        ),
        seed=9,
    )
    path = save_legacy_h5(source, tmp_path / "efficientnetb0.h5")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        model = build_model("effnet", weights=path, input_shape=SHAPE)
    _assert_backbone_equals(model, source)
    assert "1 layers (ImageNet classifier, replaced by the new head)" in caplog.text


def test_effnet_legacy_file_with_se_false_reports_the_se_weights(
    tmp_path, caplog, effnet_source
):
    path = save_legacy_h5(effnet_source, tmp_path / "efficientnetb0_notop.h5")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        model = build_model(
            "effnet", weights=path, se=False, arl=True, input_shape=SHAPE
        )
    names = _assert_backbone_equals(model, effnet_source)
    with_weights = [layer.name for layer in effnet_source.layers if layer.weights]
    assert sorted(set(with_weights) - set(names)) == sorted(
        n for n in with_weights if n.endswith(("_se_reduce", "_se_expand"))
    )
    assert "left out on purpose: 32 layers (se=False)" in caplog.text
    # A path gives what keras.applications gives with a path: no extra stem Rescaling.
    assert "rescaling_1" not in [layer.name for layer in model.layers]


@pytest.fixture
def fake_download(tmp_path, monkeypatch):
    """keras.applications' download helper returns local files; records the names."""
    files, requested = {}, []

    def get_file(fname=None, origin=None, *args, **kwargs):
        requested.append(fname)
        if fname not in files:
            raise AssertionError(f"unexpected download of {fname} from {origin}")
        return str(files[fname])

    monkeypatch.setattr(file_utils, "get_file", get_file)

    def add(file_name, source):
        files[file_name] = tmp_path / f"{file_name}.weights.h5"
        source.save_weights(files[file_name])
        return files[file_name]

    return add, requested


def _stem(model, images):
    return infer(keras.Model(model.input, model.get_layer("stem_conv").output), images)


def test_imagenet_effnet_equals_keras_applications_imagenet_network(
    fake_download, effnet_source
):
    add, requested = fake_download
    path = add("efficientnetb0_notop.h5", effnet_source)
    images = random_images(SIZE)
    models = [
        build_model("effnet", include_top=False, input_shape=SHAPE) for _ in range(2)
    ]
    reference = keras.applications.EfficientNetB0(
        weights="imagenet", include_top=False, input_shape=SHAPE
    )
    assert requested == ["efficientnetb0_notop.h5"] * 3
    expected = infer(reference, images)
    for model in models:  # the second build must find the statistics by name too
        assert [layer.name for layer in model.layers[1:4]] == [
            "rescaling",
            "normalization",
            "rescaling_1",
        ]
        assert len(model.layers) == len(reference.layers)
        assert relative_error(_stem(model, images), _stem(reference, images)) < 1e-6
        assert relative_error(infer(model, images), expected) < 1e-5
    # keras.applications with the same file as a path lacks the stem fix
    # (tensorflow/tensorflow#49930), so its stem computes something else.
    path_model = keras.applications.EfficientNetB0(
        weights=path, include_top=False, input_shape=SHAPE
    )
    assert relative_error(_stem(path_model, images), _stem(reference, images)) > 0.1


def test_imagenet_resnet_equals_keras_applications_with_caffe_input(
    fake_download, resnet_source
):
    add, requested = fake_download
    add("resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", resnet_source)
    model = build_model("resnet50", include_top=False, arl=True, input_shape=SHAPE)
    reference = keras.applications.ResNet50(
        weights="imagenet", include_top=False, input_shape=SHAPE
    )
    assert requested == ["resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"] * 2
    images = random_images(SIZE)
    expected = infer(
        reference, keras.applications.resnet50.preprocess_input(images.copy())
    )
    assert relative_error(infer(model, images), expected) < 1e-4


def _tiny_model():
    inputs = keras.Input(SHAPE)
    return keras.Model(inputs, keras.layers.Conv2D(4, 3, name="stem_conv")(inputs))


def test_wrong_file_fails_loudly(tmp_path):
    path = tmp_path / "tiny.weights.h5"
    _tiny_model().save_weights(path)
    with pytest.raises(ValueError, match="Received: weights="):
        build_model("effnet", weights=str(path), input_shape=SHAPE)


def test_transfer_fails_on_missing_layer_and_on_shape_mismatch():
    model = build_model("effnet", weights=None, include_top=False, input_shape=SHAPE)
    with pytest.raises(ValueError, match="'normalization' .* no counterpart"):
        transfer_weights(model, _tiny_model())
    gray = keras.applications.EfficientNetB0(
        weights=None, include_top=False, input_shape=(SIZE, SIZE, 1)
    )
    fresh_stem_names(gray)
    with pytest.raises(ValueError, match="shape"):
        transfer_weights(model, gray)
