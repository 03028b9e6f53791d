"""The self-contained model (skinkeras.models.pipeline, loaded from a run by
skinkeras.inference.pipeline): uint8 pixels in, the Predictor route's probabilities out; it saves, loads in a fresh process after
`import skinkeras`, and carries its calibration and metadata."""

import json

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

import skinkeras
from skinkeras import data, inference
from skinkeras.inference import export, pipeline
from skinkeras.models import pipeline as model_pipeline
from tests import deploy_fixtures as fx
from tests.fresh_python import run_python
from tests.inference.helpers import softmax_of

TOLERANCE = 1e-5  # probabilities (issue 15, item 6)
SIZES = [(40, 60), (32, 32), (70, 35), (20, 25)]


def decoded(paths):
    return [data.decode_image(p.read_bytes()).numpy() for p in paths]


@pytest.mark.parametrize("preprocessing", ["none", "max_rgb", "ben_graham"])
def test_pipeline_equals_the_predictor_route(tmp_path, preprocessing):
    run = inference.load_run(fx.tiny_run(tmp_path / "run", preprocessing=preprocessing))
    paths = fx.write_image_files(tmp_path / "images", SIZES)
    # min_side=1: the 20 x 25 image checks the enlarging (bilinear) resize too.
    expected = inference.predict_files(run, paths, min_side=1).probabilities
    model = pipeline.from_run(run)
    transform = inference.image_transform(image_size=32, preprocessing=preprocessing)
    # The same decoded pixels, one size per call.
    for image, reference in zip(decoded(paths), expected, strict=True):
        # The network's input (also what the SavedModel/TFLite/ONNX exports compute).
        np.testing.assert_allclose(
            model_pipeline.network_input(model, image[np.newaxis])[0],
            transform(image),
            atol=TOLERANCE,
        )
        outputs = model(image[np.newaxis])
        np.testing.assert_allclose(
            outputs["probabilities"].numpy()[0], reference, atol=TOLERANCE
        )
        assert outputs["decision"].numpy()[0] == int(reference[1] >= 0.5)


@pytest.mark.slow  # a fresh Python importing TensorFlow: tens of seconds
def test_fresh_process_loads_it_after_import_skinkeras(tmp_path):
    run = inference.load_run(
        fx.tiny_run(tmp_path / "run", preprocessing="shades_of_gray")
    )
    paths = fx.write_image_files(tmp_path / "images", SIZES[:2])
    expected = inference.predict_files(run, paths).probabilities
    pipeline.from_run(run).save(tmp_path / "model.keras")
    for index, image in enumerate(decoded(paths)):
        np.save(tmp_path / f"image{index}.npy", image[np.newaxis])
    script = (
        "import sys, numpy as np, skinkeras, keras\n"
        "model = keras.models.load_model(sys.argv[1])\n"
        "out = [model.predict(np.load(f'{sys.argv[2]}/image{i}.npy'), verbose=0)"
        "['probabilities'][0] for i in range(2)]\n"
        "np.save(sys.argv[2] + '/out.npy', np.stack(out))\n"
    )
    run_python(script, tmp_path / "model.keras", tmp_path)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=TOLERANCE)


def test_calibration_and_metadata(tmp_path):
    run_dir = fx.tiny_run(tmp_path / "run" / "seed_0", preprocessing="max_rgb")
    calibration = {
        "temperature": 2.5,
        "threshold": 0.3,
        "rule": "target_sensitivity",
        "target_sensitivity": 0.9,
    }
    (run_dir / "calibration.json").write_text(json.dumps(calibration))
    run = inference.load_run(run_dir)
    model = skinkeras.load_model(run_dir)
    image = fx.random_images(3, 32, seed=4)
    network_input = np.stack(
        [
            inference.image_transform(image_size=32, preprocessing="max_rgb")(x)
            for x in image
        ]
    )
    logits = np.log(softmax_of(run.model, network_input))  # up to a constant
    scaled = np.exp(logits / 2.5)
    expected = scaled / scaled.sum(axis=1, keepdims=True)
    outputs = model(image)
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=TOLERANCE)
    np.testing.assert_array_equal(outputs["decision"], expected[:, 1] >= 0.3)
    meta = model_pipeline.pipeline_metadata(model)
    assert meta["class_names"] == ["other", "melanoma"]
    assert meta["training_config"]["preprocessing"] == "max_rgb"
    assert meta["calibration"]["rule"] == "target_sensitivity"
    assert (meta["temperature"], meta["threshold"], meta["image_size"]) == (
        2.5,
        0.3,
        32,
    )
    # A calibration file in the multi-seed parent counts for each seed.
    (run_dir / "calibration.json").rename(run_dir.parent / "calibration.json")
    assert pipeline.read_calibration(run_dir)["temperature"] == 2.5
    (run_dir.parent / "calibration.json").write_text(
        '{"temperature": -1, "threshold": 0.5}'
    )
    with pytest.raises(ValueError, match="Received: temperature=-1"):
        pipeline.read_calibration(run_dir)
    (run_dir.parent / "calibration.json").write_text(
        '{"temperature": 1, "threshold": 1.5}'
    )
    with pytest.raises(ValueError, match="Received: threshold=1.5"):
        pipeline.read_calibration(run_dir)
    (run_dir.parent / "calibration.json").unlink()
    assert pipeline.read_calibration(run_dir) == {"temperature": 1.0, "threshold": 0.5}


def test_two_lines_predict_files(tmp_path):
    run_dir = fx.tiny_run(tmp_path / "run")
    paths = fx.write_image_files(tmp_path / "images", SIZES[:3])
    (tmp_path / "images" / "ISIC_0000009.jpg").write_bytes(b"not an image")
    cv2.imwrite(str(tmp_path / "images" / "ISIC_0000010.png"), np.zeros((2, 80, 3)))
    expected = inference.predict_files(inference.load_run(run_dir), paths)
    path = export.export_keras(inference.load_run(run_dir), tmp_path / "m.keras")

    model = skinkeras.load_model(path)
    predictions = skinkeras.predict_files(model, [tmp_path / "images"])

    assert predictions.image_ids == expected.image_ids
    np.testing.assert_allclose(
        predictions.probabilities, expected.probabilities, atol=TOLERANCE
    )
    np.testing.assert_array_equal(
        predictions.decisions, expected.probabilities[:, 1] >= 0.5
    )
    assert predictions.failures[1] == (
        str(tmp_path / "images" / "ISIC_0000010.png"),
        "80x2 pixels, a side under min_side=32",  # issue 14: before decoding
    )
    assert [p for p, _ in predictions.failures] == [
        str(tmp_path / "images" / "ISIC_0000009.jpg"),
        str(tmp_path / "images" / "ISIC_0000010.png"),
    ]
    # The two predict_files share a name: each names the other when given its input.
    with pytest.raises(TypeError, match=r"inference.predict_files\(run, paths\)"):
        skinkeras.predict_files(inference.load_run(run_dir), paths)
    with pytest.raises(TypeError, match="Received: run of type Functional"):
        inference.predict_files(model, paths)


def test_refusals(tmp_path):
    # A lesion-masked run keeps the bare network in model.keras (as training saves).
    run_dir = fx.tiny_run(tmp_path / "run", preprocessing="lesion_mask")
    assert not model_pipeline.is_pipeline(
        keras.models.load_model(run_dir / "model.keras")
    )
    with pytest.raises(
        ValueError, match="segmenter.*Received: preprocessing='lesion_mask'"
    ):
        skinkeras.load_model(run_dir)
    with pytest.raises(ValueError, match="without its preprocessing"):
        skinkeras.load_model(run_dir / "model.keras")
    assert pipeline.recalibrate(run_dir) is None  # left as it is
    # A pipeline under a config.json that says lesion_mask is refused too.
    run_dir = fx.tiny_run(tmp_path / "edited", preprocessing="none")
    config = json.loads((run_dir / "config.json").read_text())
    config.update(preprocessing="lesion_mask", masks_dir=str(tmp_path))
    (run_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="segmenter"):
        skinkeras.load_model(run_dir)


def outputs_of(model, images):
    return {key: value.numpy() for key, value in model(images).items()}


def test_a_run_loads_its_own_model_and_old_runs_still_load(tmp_path, monkeypatch):
    image = fx.random_images(3, 40, seed=5)
    new = fx.tiny_run(tmp_path / "new", preprocessing="max_rgb")
    old = fx.tiny_run(tmp_path / "old", preprocessing="max_rgb", bare=True)
    assert not model_pipeline.is_pipeline(keras.models.load_model(old / "model.keras"))
    # Same network, same pipeline: the old run's is built by `from_run`.
    expected = outputs_of(skinkeras.load_model(old), image)
    for source in (new, new / "model.keras"):
        model = skinkeras.load_model(source)
        np.testing.assert_allclose(
            outputs_of(model, image)["probabilities"],
            expected["probabilities"],
            atol=TOLERANCE,
        )
    # The run directory gives its own file (no rebuild) while it carries the run's
    # calibration.
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "from_run", None)  # calling it would fail
        skinkeras.load_model(new)

    # Calibrating re-saves the pipeline (the old run's bare network stays).
    calibration = {"temperature": 2.0, "threshold": 0.25, "rule": "youden"}
    for run_dir in (new, old):
        (run_dir / "calibration.json").write_text(json.dumps(calibration))
    before = (old / "model.keras").read_bytes()
    assert pipeline.recalibrate(new) == new / "model.keras"
    assert pipeline.recalibrate(new) is None  # already carries it
    assert pipeline.recalibrate(old) is None
    assert (old / "model.keras").read_bytes() == before
    saved = keras.models.load_model(new / "model.keras")
    meta = model_pipeline.pipeline_metadata(saved)
    assert (meta["temperature"], meta["threshold"]) == (2.0, 0.25)
    assert meta["calibration"] == calibration
    assert meta["training_config"]["preprocessing"] == "max_rgb"
    log_p = np.log(expected["probabilities"])
    reference = np.exp(log_p / 2.0) / np.exp(log_p / 2.0).sum(axis=1, keepdims=True)
    got = outputs_of(saved, image)
    np.testing.assert_allclose(got["probabilities"], reference, atol=TOLERANCE)
    np.testing.assert_array_equal(got["decision"], reference[:, 1] >= 0.25)
    np.testing.assert_allclose(
        outputs_of(skinkeras.load_model(old), image)["probabilities"],
        reference,
        atol=TOLERANCE,
    )

    # Exporting a run whose model.keras is a pipeline does not wrap it twice.
    exported = keras.models.load_model(
        export.export_keras(inference.load_run(new), tmp_path / "m.keras")
    )
    network = exported.get_layer(model_pipeline.NETWORK)
    assert not model_pipeline.is_pipeline(network)
    assert not {model_pipeline.CROP, model_pipeline.NETWORK} & {
        x.name for x in network.layers
    }
    np.testing.assert_allclose(
        outputs_of(exported, image)["probabilities"], reference, atol=TOLERANCE
    )


def test_network_stays_reachable(tmp_path):
    run = inference.load_run(fx.tiny_run(tmp_path / "run", bare=True))
    model = pipeline.from_run(run)
    network = model.get_layer(model_pipeline.NETWORK)
    x = tf.random.uniform((2, 32, 32, 3), 0, 255)
    np.testing.assert_allclose(network(x), run.model(x), atol=1e-6)
    assert run.model.name == "tiny"  # the run's model is left as it was
    assert isinstance(network, keras.Model)
