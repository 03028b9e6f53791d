"""Models with the metadata branch (issue 26): inputs, head/backbone split, the same
image features as without it, and a branch whose input changes the output."""

import keras
import numpy as np
import pytest

from skinkeras import config as config_lib
from skinkeras import models

ENCODING = config_lib.metadata_encoding(
    sex=["female", "male"], site=["head/neck", "torso", "lower extremity"]
)
SIZE = 64


def _batch(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "image": rng.uniform(0, 255, (n, SIZE, SIZE, 3)).astype("float32"),
        "age": np.array([25.0, 70.0, -1.0, 55.0][:n], "float32"),
        "sex": np.array([0, 1, -1, 1][:n], "int32"),
        "site": np.array([2, 0, 1, -1][:n], "int32"),
    }


def _build(name, **options):
    return models.build_model(
        name, weights=None, input_shape=(SIZE, SIZE, 3), **options
    )


def _features(model, batch, layer):
    """Output of `layer` for `batch` (the image alone or the whole dict)."""
    probe = keras.Model(model.input, model.get_layer(layer).output)
    inputs = batch if isinstance(model.input, dict) else batch["image"]
    return np.asarray(probe(inputs, training=False))


@pytest.mark.parametrize(
    "options",
    [
        dict(name="resnet26", arl=True),
        dict(name="effnet", arl=True, se=True, head="linear"),
    ],
    ids=["resnet26_arl", "effnet_se_arl_linear"],
)
def test_same_image_features_as_without_metadata(options):
    plain = _build(**options)
    keras.utils.set_random_seed(1)  # other initial weights: copied over below
    with_metadata = _build(**options, metadata=ENCODING)
    for layer in models.backbone_layers(plain):
        with_metadata.get_layer(layer.name).set_weights(layer.get_weights())
    batch = _batch()
    feature = models.feature_layer_name(plain)
    pooled = "head_concat" if options.get("head") != "linear" else "head_avg_pool"
    for name in (feature, pooled):
        np.testing.assert_array_equal(
            _features(with_metadata, batch, name), _features(plain, batch, name)
        )
    assert sorted(with_metadata.input) == ["age", "image", "sex", "site"]
    assert with_metadata(batch).shape == (4, 2)


def test_the_branch_is_part_of_the_head():
    model = _build("resnet26", metadata=ENCODING)
    plain = _build("resnet26")
    head = {layer.name for layer in models.head_layers(model)}
    names = lambda layers: [layer.name for layer in layers]  # noqa: E731
    added = set(names(model.layers)) - set(names(plain.layers))
    assert added - {"age", "sex", "site"} <= head
    assert {"head_meta_encoding", "head_meta_dense1", "head_meta_dense2"} <= head
    assert model.get_layer("head_meta_dense1").units == 256  # Gessert et al.
    assert names(models.backbone_layers(model)) == names(models.backbone_layers(plain))
    models.set_backbone_trainable(model, False)
    assert all(layer.trainable for layer in models.head_layers(model))


def test_shuffled_metadata_changes_the_probabilities():
    model = _build("resnet26", metadata=ENCODING)
    batch = _batch()
    shuffled = {**batch, **{k: batch[k][[1, 2, 3, 0]] for k in ("age", "sex", "site")}}
    probabilities = keras.ops.softmax(model(batch, training=False))
    moved = keras.ops.softmax(model(shuffled, training=False))
    difference = np.abs(np.asarray(probabilities) - np.asarray(moved)).max(axis=1)
    assert (difference > 1e-4).all()
    # The image alone decides nothing here: same metadata, same output.
    again = keras.ops.softmax(model({**batch}, training=False))
    np.testing.assert_array_equal(np.asarray(again), np.asarray(probabilities))


def test_metadata_needs_the_head_and_a_valid_encoding():
    with pytest.raises(ValueError, match="Received: include_top=False"):
        _build("resnet26", metadata=ENCODING, include_top=False)
    with pytest.raises(ValueError, match="Received: metadata_encoding="):
        _build("resnet26", metadata={"sex": ["a"]})


def test_saved_model_file_takes_the_dict(tmp_path):
    model = _build("resnet26", metadata=ENCODING)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    batch = _batch()
    np.testing.assert_allclose(
        np.asarray(loaded(batch, training=False)),
        np.asarray(model(batch, training=False)),
        atol=1e-5,
    )
