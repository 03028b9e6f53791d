"""skinkeras.inference.runs: loading a seed directory, an ensemble, and the errors."""

import keras
import numpy as np
import pytest

from skinkeras import inference
from skinkeras.models import pipeline
from tests import deploy_fixtures as fx
from tests.inference.helpers import softmax_of


def test_load_run_seed_dir_and_ensemble(tmp_path):
    # seed_0 as runs were written before issue 15 (the bare network), seed_3 as
    # training writes them now (the pipeline): `load_run` takes the network of both.
    fx.tiny_run(tmp_path / "runs" / "seed_0", seed=0, bare=True)
    fx.tiny_run(tmp_path / "runs" / "seed_3", seed=3)
    assert pipeline.is_pipeline(
        keras.models.load_model(tmp_path / "runs" / "seed_3" / "model.keras")
    )
    images = fx.random_images(5, 32).astype(np.float32)
    model_0, model_3 = fx.tiny_classifier(seed=0), fx.tiny_classifier(seed=3)
    p0, p3 = softmax_of(model_0, images), softmax_of(model_3, images)
    assert np.abs(p0 - p3).max() > 0.01  # two genuinely different seeds

    single = inference.load_run(tmp_path / "runs" / "seed_3")
    assert (single.image_size, single.preprocessing, single.num_classes) == (
        32,
        "none",
        2,
    )
    assert single.class_names == ("other", "melanoma")
    np.testing.assert_allclose(inference.Predictor(single)(images), p3, atol=1e-6)

    ensemble = inference.load_run(tmp_path / "runs")
    assert ensemble.seeds == (0, 3)
    np.testing.assert_allclose(
        inference.Predictor(ensemble)(images), (p0 + p3) / 2, atol=1e-6
    )
    with pytest.raises(ValueError, match="choose one with `seed`"):
        ensemble.model  # noqa: B018

    chosen = inference.load_run(tmp_path / "runs", seed=0)
    assert chosen.seeds == (0,)
    np.testing.assert_allclose(inference.Predictor(chosen)(images), p0, atol=1e-6)


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(inference.ModelNotFoundError, match="not a directory"):
        inference.load_run(tmp_path / "nowhere")
    with pytest.raises(inference.ModelNotFoundError, match="No trained model in"):
        inference.load_run(tmp_path)
    (tmp_path / "seed_0" / "checkpoints").mkdir(parents=True)
    with pytest.raises(inference.ModelNotFoundError, match="training unfinished"):
        inference.load_run(tmp_path)
    fx.tiny_run(tmp_path / "seed_1")
    with pytest.raises(inference.ModelNotFoundError, match="no seed_7/"):
        inference.load_run(tmp_path, seed=7)
    with pytest.raises(inference.ModelNotFoundError, match="training unfinished"):
        inference.load_run(tmp_path, seed=0)
    assert inference.load_run(tmp_path).seeds == (1,)  # unfinished seed_0 left out
    masked = inference.load_run(
        fx.tiny_run(tmp_path / "masked", preprocessing="lesion_mask")
    )
    with pytest.raises(ValueError, match="lesion mask"):
        inference.predict_files(masked, [])
    (tmp_path / "seed_1" / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="No config.json"):
        inference.load_run(tmp_path / "seed_1")
