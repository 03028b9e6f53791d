"""A metadata run end to end (issue 26), tiny: ResNet-26 at 32 px on in-memory
examples (--metadata through experiments.main and suite: tests/experiments/test_main.py)."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import skinkeras  # noqa: F401  (registers the layers for load_model)
from skinkeras import config as config_lib
from skinkeras import models, rundir
from skinkeras.models import pipeline
from skinkeras.training import loop
from tests.training import helpers

ENCODING = config_lib.metadata_encoding(sex=["female", "male"], site=["a", "b", "c"])


def _source(num_examples, seed):
    """`helpers.source` plus metadata that follows the label."""
    labels = (np.arange(num_examples) % 2).astype(np.int64)
    return tf.data.Dataset.zip(
        helpers.source(num_examples, seed, size=32),
        tf.data.Dataset.from_tensor_slices(
            {
                "age": (30.0 + 40.0 * labels).astype(np.float32),
                "sex": labels.astype(np.int32),
                "site": (2 * labels - 1).astype(np.int32),  # -1: unknown
            }
        ),
    ).map(lambda example, metadata: {**example, **metadata})


def _config(tmp_path, **overrides):
    return helpers.config(
        tmp_path,
        model="resnet26",
        image_size=32,
        metadata=True,
        metadata_encoding=ENCODING,
        **overrides,
    )


@pytest.mark.slow  # a real ResNet-26 traced for two stages: 34-86 s on 2 cores
def test_tiny_metadata_run_trains_the_branch_with_the_head(tmp_path):
    config = _config(tmp_path, epochs=1)
    first = {}

    class Weights(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            first.setdefault(
                "stage1",
                {w.path: w.numpy().copy() for w in self.model.weights},
            )

        def on_train_end(self, logs=None):
            first.setdefault(
                "after1",
                {w.path: w.numpy().copy() for w in self.model.weights},
            )

    summary = loop.run(
        config,
        sources={"train": _source(8, 0), "validation": _source(6, 1)},
        callbacks=[Weights()],
    )
    assert len(summary["history"]) == 2
    saved = json.loads((tmp_path / "run" / rundir.CONFIG).read_text())
    assert saved["metadata"] is True and saved["metadata_encoding"] == ENCODING
    assert config_lib.TrainConfig.from_dict(saved) == config

    # Stage 1: the metadata branch trains with the head; the backbone's
    # convolutions stay frozen (its BatchNorm layers train: fastai's freeze).
    before, after = first["stage1"], first["after1"]
    changed = {p for p in before if not np.array_equal(before[p], after[p])}
    assert any(p.startswith("head_meta_dense1/") for p in changed)
    assert not any(p.startswith("conv2_block1_1_conv/") for p in changed)

    # The run's model file is the self-contained pipeline with the metadata inputs
    # (issue 26, part 2), the same probabilities as the trained network in memory.
    model = keras.models.load_model(tmp_path / "run" / rundir.MODEL)
    assert pipeline.is_pipeline(model)
    assert sorted(model.input) == ["age", "image", "sex", "site"]
    assert pipeline.pipeline_metadata(model)["metadata_encoding"]["site"] == [
        "a",
        "b",
        "c",
    ]
    batch = {
        "image": np.full((2, 32, 32, 3), 100, "uint8"),
        "age": np.array([30.0, 70.0], "float32"),
        "sex": np.array([0, 1], "int32"),
        "site": np.array([-1, 1], "int32"),
    }
    network = model.get_layer(pipeline.NETWORK)
    logits = np.asarray(
        network({**batch, "image": batch["image"].astype("float32")}), np.float64
    )
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model(batch)["probabilities"], softmax, atol=1e-6)
    assert "head_meta_concat" in {layer.name for layer in network.layers}


def test_model_from_config_adds_the_branch_only_with_metadata(tmp_path):
    plain = loop.model_from_config(
        helpers.config(tmp_path, model="resnet26", image_size=32)
    )
    with_metadata = loop.model_from_config(_config(tmp_path))
    assert not isinstance(plain.input, dict)
    assert sorted(with_metadata.input) == ["age", "image", "sex", "site"]
    assert len(models.backbone_layers(plain)) == len(
        models.backbone_layers(with_metadata)
    )
