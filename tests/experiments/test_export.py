"""Tests of `python -m experiments.export` (Keras pipeline, SavedModel, TFLite)."""

import numpy as np
import tensorflow as tf

import skinkeras
from experiments import export as export_cli
from skinkeras import inference
from skinkeras.inference import export
from tests import deploy_fixtures as fx
from tests.experiments.test_predict import run_cli


def test_export_saved_model_and_tflite(tmp_path, capsys):
    run_dir = fx.tiny_run(tmp_path / "run" / "seed_0")
    assert run_cli(export_cli, f"--model_dir={run_dir}", "--format=saved_model") == 0
    saved_dir = run_dir / "export" / "saved_model"
    assert "Wrote" in capsys.readouterr().out
    saved = tf.saved_model.load(str(saved_dir))
    assert set(saved.signatures) == {"serving_default", "serve_images"}

    out = tmp_path / "lite" / "m.tflite"
    status = run_cli(
        export_cli,
        f"--model_dir={tmp_path / 'run'}",
        "--format=tflite",
        "--quantize=dynamic",
        f"--out={out}",
    )
    assert status == 0 and out.stat().st_size > 0
    image = fx.random_images(1, 32).astype(np.float32)
    expected = inference.Predictor(inference.load_run(run_dir))(image)
    lite = export.TFLiteModel(out)(image)
    np.testing.assert_allclose(lite["probabilities"], expected, atol=0.02)


def test_export_errors(tmp_path):
    assert "No trained model in" in run_cli(export_cli, f"--model_dir={tmp_path}")
    fx.tiny_run(tmp_path / "run" / "seed_0")
    fx.tiny_run(tmp_path / "run" / "seed_1", seed=1)
    status = run_cli(export_cli, f"--model_dir={tmp_path / 'run'}")
    assert "choose one with `seed`" in status
    status = run_cli(
        export_cli, f"--model_dir={tmp_path / 'run'}", "--seed=1", "--quantize=dynamic"
    )
    assert "--quantize applies to --format=tflite" in status
    assert run_cli(export_cli, f"--model_dir={tmp_path / 'run'}", "--format=pdf") == 2


def test_export_keras_pipeline(tmp_path, capsys):
    run_dir = fx.tiny_run(tmp_path / "run" / "seed_0", preprocessing="max_rgb")
    assert run_cli(export_cli, f"--model_dir={run_dir}", "--format=keras") == 0
    assert "Wrote" in capsys.readouterr().out
    # Issue 15, item 7: a model card beside every export, with the run's facts.
    card = (run_dir / "export" / "MODEL_CARD.md").read_text()
    assert "Max-RGB colour constancy" in card and "diagnostic device" in card
    assert "Temperature scaling" not in card  # the run has no calibration.json
    model = skinkeras.load_model(run_dir / "export" / "model.keras")
    image = fx.random_images(2, 32)
    expected = inference.Predictor(inference.load_run(run_dir))(
        inference.image_transform(image_size=32, preprocessing="max_rgb")(image)
    )
    np.testing.assert_allclose(model(image)["probabilities"], expected, atol=1e-5)
