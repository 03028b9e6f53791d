"""One tiny run per new backbone family (issue 24): train, predict with TTA, export
to TFLite and ONNX; the same probabilities all the way."""

import numpy as np
import pytest

from skinkeras import inference, models
from skinkeras.inference import export
from skinkeras.training import loop
from tests import deploy_fixtures as fx
from tests.inference.test_export import (
    FLOAT_TOLERANCE,
    onnx_installed,
    resized_images,
)
from tests.training import helpers


@pytest.mark.slow
@pytest.mark.parametrize("model", ["effnet_b3", "resnet101"])
def test_train_predict_and_tflite_agree(tmp_path, model):
    config = helpers.config(
        tmp_path, model=model, arl=True, image_size=32, head_epochs=1, epochs=1
    )
    summary = loop.run(config, sources=helpers.sources())
    assert len(summary["history"]) == 2
    assert len(summary["alphas"]) == models.ARCHITECTURES[model].arl_blocks

    run = inference.load_run(config.model_dir)
    paths = fx.write_image_files(tmp_path / "images", [(40, 60), (32, 32), (70, 35)])
    predicted = inference.predict_files(run, paths)
    assert not predicted.failures
    with_tta = inference.predict_files(run, paths, tta=2)
    assert with_tta.probabilities.shape == predicted.probabilities.shape == (3, 2)
    np.testing.assert_allclose(predicted.probabilities.sum(-1), 1, atol=1e-6)

    resized = resized_images(paths, run.image_size)
    lite = export.TFLiteModel(export.export_tflite(run, tmp_path / "model.tflite"))
    probabilities = lite(resized)["probabilities"]
    np.testing.assert_allclose(
        probabilities, predicted.probabilities, atol=FLOAT_TOLERANCE
    )

    if onnx_installed():  # the `onnx` extra, which `.[test]` (CI) installs
        import onnxruntime

        onnx_path = export.export_onnx(run, tmp_path / "model.onnx")
        session = onnxruntime.InferenceSession(str(onnx_path))
        (probabilities,) = session.run(["probabilities"], {"images": resized})
        np.testing.assert_allclose(
            probabilities, predicted.probabilities, atol=FLOAT_TOLERANCE
        )
