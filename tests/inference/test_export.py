"""Tests of skinkeras.inference.export: the SavedModel (encoded bytes in, probability out) and
TFLite (float32, dynamic-range int8) agree with the Keras model."""

import importlib.util
import json
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from skinkeras import inference
from skinkeras.inference import export, pipeline
from tests import deploy_fixtures as fx
from tests.inference.helpers import softmax_of, training_path_images

FLOAT_TOLERANCE = 1e-4  # probabilities, float32 exports
# Dynamic-range int8 (int8 weights, activations quantised on the fly) vs Keras,
# measured on EfficientNet-B0 + ARL + SE at 64 px with seeded random weights,
# calibrated BatchNorm and logits scaled to a trained model's range
# (`deploy_fixtures.effnet_run_dir`), on the 16 images of `test_effnet_arl_se_exports`:
# max |Δ melanoma probability| 0.146, mean 0.026, same predicted class for 15 of 16
# (float32: max 1.1e-5). On 64 other random images: max 0.50, mean 0.045, 95 % same
# class. Other random initialisations gave max 0.10-0.30, mean 0.02-0.05 on the 16.
# A random network is far more sensitive than a trained one (1e-3 of pixel noise
# moves its probability by 2e-4): re-measure a trained run with
# `python -m benchmarks.export --model_dir=RUN --images=FOLDER`.
INT8_MAX_TOLERANCE = 0.25
INT8_MEAN_TOLERANCE = 0.05


def keras_reference(run, paths):
    images = training_path_images(
        paths, image_size=run.image_size, preprocessing=run.preprocessing
    )
    return images, softmax_of(run.model, images)


def resized_images(paths, size):
    """What the TFLite input is: decoded, resized + centre-cropped, not preprocessed."""
    transform = inference.bytes_transform(image_size=size, preprocessing="none")
    return np.stack([transform(tf.io.read_file(str(p)))[0].numpy() for p in paths])


def check_exports(run, paths, tmp_path, *, int8_max, int8_mean):
    _, expected = keras_reference(run, paths)
    saved = tf.saved_model.load(str(export.export_saved_model(run, tmp_path / "sm")))
    encoded = tf.constant([p.read_bytes() for p in paths])
    outputs = saved.signatures["serving_default"](images=encoded)
    np.testing.assert_allclose(
        outputs["probabilities"].numpy(), expected, atol=FLOAT_TOLERANCE
    )
    np.testing.assert_allclose(
        outputs["melanoma_probability"].numpy(), expected[:, 1], atol=FLOAT_TOLERANCE
    )

    resized = resized_images(paths, run.image_size)
    outputs = saved.signatures["serve_images"](images=tf.constant(resized))
    np.testing.assert_allclose(
        outputs["probabilities"].numpy(), expected, atol=FLOAT_TOLERANCE
    )

    float_path = export.export_tflite(run, tmp_path / "model.tflite")
    int8_path = export.export_tflite(run, tmp_path / "int8.tflite", quantize="dynamic")
    lite = export.TFLiteModel(float_path)(resized)
    np.testing.assert_allclose(lite["probabilities"], expected, atol=FLOAT_TOLERANCE)
    np.testing.assert_allclose(
        lite["melanoma_probability"], expected[:, 1], atol=FLOAT_TOLERANCE
    )
    lite8 = export.TFLiteModel(int8_path)(resized)
    int8_error = np.abs(lite8["melanoma_probability"] - expected[:, 1])
    assert int8_error.max() <= int8_max
    assert int8_error.mean() <= int8_mean
    return float_path.stat().st_size, int8_path.stat().st_size, int8_error


@pytest.mark.parametrize("preprocessing", ["none", "ben_graham"])
def test_exports_agree_with_keras(tmp_path, preprocessing):
    # A tiny model with the study's ARL and SE layers; preprocessing runs inside.
    run = inference.load_run(fx.tiny_run(tmp_path / "run", preprocessing=preprocessing))
    paths = fx.write_image_files(tmp_path / "images", [(40, 60), (32, 32), (70, 35)])
    float_size, int8_size, _ = check_exports(
        run, paths, tmp_path, int8_max=0.02, int8_mean=0.01
    )
    assert 0 < int8_size < 0.6 * float_size


def test_ensemble_and_bad_arguments(tmp_path):
    fx.tiny_run(tmp_path / "run" / "seed_0")
    fx.tiny_run(tmp_path / "run" / "seed_1", seed=1)
    with pytest.raises(ValueError, match="choose one with `seed`"):
        export.export_saved_model(inference.load_run(tmp_path / "run"), tmp_path / "sm")
    with pytest.raises(ValueError, match="Received: quantize=int4"):
        export.tflite_bytes(
            inference.load_run(tmp_path / "run", seed=0), quantize="int4"
        )


@pytest.mark.slow
def test_effnet_arl_se_exports(tmp_path):
    run = inference.load_run(fx.effnet_run_dir())
    paths = fx.write_image_files(
        tmp_path / "images", [(64 + 7 * i, 96 - 5 * i) for i in range(16)], seed=3
    )
    float_size, int8_size, int8_error = check_exports(
        run, paths, tmp_path, int8_max=INT8_MAX_TOLERANCE, int8_mean=INT8_MEAN_TOLERANCE
    )
    # ~5.4 M float32 parameters: ~21 MB; int8 weights: ~4x smaller.
    assert 19e6 < float_size < 24e6
    assert int8_size < 0.3 * float_size
    print(
        f"float {float_size} B, int8 {int8_size} B, int8 |Δp| max "
        f"{int8_error.max():.4f} mean {int8_error.mean():.4f}"
    )


def test_exports_refuse_lesion_masked_runs(tmp_path):
    run_dir = fx.tiny_run(tmp_path / "run")
    config = json.loads((run_dir / "config.json").read_text())
    config.update(preprocessing="lesion_mask", masks_dir=str(tmp_path))
    (run_dir / "config.json").write_text(json.dumps(config))
    run = inference.load_run(run_dir)
    for write in (export.export_keras, export.export_saved_model, export.export_tflite):
        with pytest.raises(ValueError, match="lesion mask.*segmenter"):
            write(run, tmp_path / "out.keras")


def test_keras_export_is_the_pipeline(tmp_path):
    run = inference.load_run(fx.tiny_run(tmp_path / "run", preprocessing="ben_graham"))
    paths = fx.write_image_files(tmp_path / "images", [(40, 60)])
    _, expected = keras_reference(run, paths)
    model = keras.models.load_model(export.export_keras(run, tmp_path / "m.keras"))
    image = tf.io.decode_image(paths[0].read_bytes(), channels=3)[tf.newaxis]
    np.testing.assert_allclose(
        model(image)["probabilities"], expected, atol=FLOAT_TOLERANCE
    )
    with pytest.raises(ValueError, match="Received: path=.*m.h5"):
        export.export_keras(run, tmp_path / "m.h5")


def onnx_installed():
    return all(
        importlib.util.find_spec(name) for name in ("tf2onnx", "onnx", "onnxruntime")
    )


@pytest.mark.slow  # the conversion runs in a fresh process (module doc): ~1 min
@pytest.mark.skipif(not onnx_installed(), reason="the `onnx` extra is not installed")
def test_onnx_agrees_with_keras(tmp_path):
    import onnxruntime

    # An ARL layer (the fused kernel) and Shades of Gray inside.
    run = inference.load_run(
        fx.tiny_run(tmp_path / "run", preprocessing="shades_of_gray")
    )
    paths = fx.write_image_files(tmp_path / "images", [(40, 60), (32, 32), (70, 35)])
    _, expected = keras_reference(run, paths)
    path = export.export_onnx(run, tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(path))
    outputs = session.run(
        ["probabilities", "melanoma_probability", "decision"],
        {"images": resized_images(paths, run.image_size)},
    )
    np.testing.assert_allclose(outputs[0], expected, atol=1e-4)
    np.testing.assert_allclose(outputs[1], expected[:, 1], atol=1e-4)
    np.testing.assert_array_equal(outputs[2], expected[:, 1] >= 0.5)


@pytest.mark.skipif(not onnx_installed(), reason="the `onnx` extra is not installed")
def test_onnx_keeps_normalization_statistics_as_constants(tmp_path):
    import onnxruntime

    # EfficientNet's stem `normalization` caches its mean and variance as tensors,
    # which tf2onnx made inputs of the graph. No ARL: it converts in this process.
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Normalization(
        mean=[120.0, 110.0, 100.0], variance=[900.0, 1600.0, 2500.0], name="norm"
    )(inputs)
    x = keras.layers.Conv2D(4, 3, name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="head_avg_pool")(x)
    outputs = keras.layers.Dense(2, name="head_logits")(x)
    model = keras.Model(inputs, outputs)
    config = fx.config_for("effnet", image_size=32)
    run = inference.load_run(fx.write_run(tmp_path / "run", model, config))
    paths = fx.write_image_files(tmp_path / "images", [(40, 60), (32, 32)])
    _, expected = keras_reference(run, paths)
    path = tmp_path / "model.onnx"
    export._export_onnx_here(pipeline.from_run(run), path)
    session = onnxruntime.InferenceSession(str(path))
    assert [tensor.name for tensor in session.get_inputs()] == ["images"]
    (probabilities,) = session.run(
        ["probabilities"], {"images": resized_images(paths, run.image_size)}
    )
    np.testing.assert_allclose(probabilities, expected, atol=1e-4)


def test_onnx_names_what_blocks_it(tmp_path, monkeypatch):
    # Without the extra: the message says what to install, no ImportError traceback.
    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    run = inference.load_run(fx.tiny_run(tmp_path / "run"))
    with pytest.raises(export.OnnxExportError, match=r"skinkeras\[onnx\]"):
        export.export_onnx(run, tmp_path / "model.onnx")


@pytest.mark.skipif(not onnx_installed(), reason="the `onnx` extra is not installed")
def test_onnx_check_names_the_fused_arl_kernel(tmp_path):
    # In this process the ARL kernel is XLA-fused (the default): tf2onnx leaves its
    # jit-compiled functions as PartitionedCall nodes, and the check says why.
    model = pipeline.from_run(inference.load_run(fx.tiny_run(tmp_path / "run")))
    with pytest.raises(export.OnnxExportError, match="fused ARL kernel"):
        export._export_onnx_here(model, tmp_path / "model.onnx")


# Issue 26, part 2: a run with patient metadata; known, unknown (-1, NaN) and
# out-of-vocabulary values.
METADATA = {
    "age": np.array([30.0, -1.0, np.nan], np.float32),
    "sex": np.array([0, 1, -1], np.int32),
    "site": np.array([2, 7, -1], np.int32),
}


def metadata_case(tmp_path, preprocessing="none"):
    run = inference.load_run(
        fx.tiny_run(tmp_path / "run", metadata=fx.ENCODING, preprocessing=preprocessing)
    )
    paths = fx.write_image_files(tmp_path / "images", [(40, 60), (32, 32), (70, 35)])
    images = training_path_images(
        paths, image_size=run.image_size, preprocessing=run.preprocessing
    )
    # NaN as -1 in the reference: the network's own unknown.
    reference = {**METADATA, "age": np.nan_to_num(METADATA["age"], nan=-1.0)}
    expected = softmax_of(run.model, {"image": images, **reference})
    return run, paths, expected


def test_metadata_exports_agree_with_keras(tmp_path):
    run, paths, expected = metadata_case(tmp_path, preprocessing="ben_graham")
    saved = tf.saved_model.load(str(export.export_saved_model(run, tmp_path / "sm")))
    signature = saved.signatures["serving_default"]
    assert set(signature.structured_input_signature[1]) == {
        "images",
        "age",
        "sex",
        "site",
    }
    encoded = tf.constant([p.read_bytes() for p in paths])
    outputs = signature(images=encoded, **METADATA)
    np.testing.assert_allclose(
        outputs["probabilities"].numpy(), expected, atol=FLOAT_TOLERANCE
    )
    resized = resized_images(paths, run.image_size)
    outputs = saved.signatures["serve_images"](images=tf.constant(resized), **METADATA)
    np.testing.assert_allclose(
        outputs["probabilities"].numpy(), expected, atol=FLOAT_TOLERANCE
    )
    np.testing.assert_array_equal(outputs["decision"], expected[:, 1] >= 0.5)
    lite = export.TFLiteModel(export.export_tflite(run, tmp_path / "m.tflite"))
    found = lite(resized, **METADATA)
    np.testing.assert_allclose(found["probabilities"], expected, atol=FLOAT_TOLERANCE)
    np.testing.assert_allclose(
        found["melanoma_probability"], expected[:, 1], atol=FLOAT_TOLERANCE
    )


@pytest.mark.slow  # the conversion runs in a fresh process (module doc): ~1 min
@pytest.mark.skipif(not onnx_installed(), reason="the `onnx` extra is not installed")
def test_metadata_onnx_agrees_with_keras(tmp_path):
    import onnxruntime

    run, paths, expected = metadata_case(tmp_path)
    path = export.export_onnx(run, tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(path))
    assert [(t.name, t.type) for t in session.get_inputs()] == [
        ("images", "tensor(float)"),
        ("age", "tensor(float)"),
        ("sex", "tensor(int32)"),
        ("site", "tensor(int32)"),
    ]
    probabilities, decision = session.run(
        ["probabilities", "decision"],
        {"images": resized_images(paths, run.image_size), **METADATA},
    )
    np.testing.assert_allclose(probabilities, expected, atol=1e-4)
    np.testing.assert_array_equal(decision, expected[:, 1] >= 0.5)
