"""The self-contained model of a run with patient metadata (issue 26, part 2): it
takes {"image", "age", "sex", "site"}, equals the network on training's pixels
through a NumPy softmax, keeps its unknown conventions, records its vocabulary, and
loads back with the same probabilities; the file-predicting routes agree with it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import skinkeras
from skinkeras import config as config_lib
from skinkeras import data, inference, rundir
from skinkeras.inference import labelled, patient, pipeline
from skinkeras.models import pipeline as model_pipeline
from tests import deploy_fixtures as fx
from tests.inference.helpers import softmax_of, training_path_images

SIZES = [(40, 60), (32, 32), (70, 35)]
METADATA = {
    "age": np.array([30.0, -1.0, 80.0], np.float32),
    "sex": np.array([0, 1, -1], np.int32),
    "site": np.array([2, -1, 0], np.int32),
}


def rows(metadata, i):
    return {key: value[i : i + 1] for key, value in metadata.items()}


def decoded(path):
    return data.decode_image(path.read_bytes()).numpy()[np.newaxis]


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("metadata")
    run_dir = fx.tiny_run(tmp_path / "run", metadata=fx.ENCODING)
    paths = fx.write_image_files(tmp_path / "images", SIZES)
    run = inference.load_run(run_dir)
    images = training_path_images(paths, image_size=32, preprocessing="none")
    expected = softmax_of(run.model, {"image": images, **METADATA})
    return {"run_dir": run_dir, "run": run, "paths": paths, "expected": expected}


def test_training_saves_the_pipeline_with_its_inputs_and_vocabulary(case, tmp_path):
    model = keras.models.load_model(case["run_dir"] / rundir.MODEL)
    assert model_pipeline.is_pipeline(model)
    dtypes = {name: tensor.dtype for name, tensor in model.input.items()}
    assert dtypes == {
        "image": "uint8",
        "age": "float32",
        "sex": "int32",
        "site": "int32",
    }
    found = model_pipeline.pipeline_metadata(model)
    assert found["metadata_encoding"] == {
        "age_range": [0.0, 90.0],
        "sex": fx.ENCODING["sex"],
        "site": fx.ENCODING["site"],
    }
    assert found["training_config"]["metadata_encoding"] == fx.ENCODING
    assert case["run"].metadata_encoding == fx.ENCODING
    # What training writes (`run_model` through `rundir.save_model`), loaded back:
    # the same probabilities as the model in memory.
    network = model.get_layer(model_pipeline.NETWORK)
    config = config_lib.TrainConfig.from_dict(found["training_config"])
    in_memory = model_pipeline.run_model(network, config)
    rundir.save_model(in_memory, tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    for i, path in enumerate(case["paths"]):
        inputs = {"image": decoded(path), **rows(METADATA, i)}
        np.testing.assert_allclose(
            loaded(inputs)["probabilities"],
            in_memory(inputs)["probabilities"],
            atol=1e-6,
        )


def test_pipeline_equals_the_network_on_training_pixels(case):
    model = pipeline.load_model(case["run_dir"])
    for i, path in enumerate(case["paths"]):
        outputs = model({"image": decoded(path), **rows(METADATA, i)})
        np.testing.assert_allclose(
            outputs["probabilities"][0], case["expected"][i], atol=1e-5
        )
        assert outputs["decision"][0] == int(case["expected"][i, 1] >= 0.5)


def test_unknown_conventions(case):
    # Age: -1, any negative and NaN are unknown; sex / site: -1 and any index
    # outside the names are. The metadata does move the output.
    model = pipeline.load_model(case["run_dir"])
    image = decoded(case["paths"][0])

    def melanoma(age, sex, site):
        inputs = {
            "image": image,
            "age": np.array([age], np.float32),
            "sex": np.array([sex], np.int32),
            "site": np.array([site], np.int32),
        }
        return float(model(inputs)["probabilities"][0, 1])

    unknown = melanoma(-1.0, -1, -1)
    for age, sex, site in [(np.nan, -1, -1), (-7.0, 2, 3), (-1.0, 99, -5)]:
        assert melanoma(age, sex, site) == pytest.approx(unknown, abs=1e-7)
    assert abs(melanoma(80.0, 1, 0) - unknown) > 1e-3


def test_both_file_routes_take_the_csv(case, tmp_path):
    # The CSV's rows give METADATA (row 2: no row at all, sex and site unknown).
    path = tmp_path / "meta.csv"
    ids = [p.stem for p in case["paths"]]
    path.write_text(
        "image,age_approx,sex,anatom_site_general\n"
        f"{ids[0]},30,female,lower extremity\n"
        f"{ids[1]},,male,\n"
        f"{ids[2]},80,,anterior torso\n"
    )
    table = patient.read_csv(path, case["run"].metadata_encoding)
    found = inference.predict_files(case["run"], case["paths"], metadata=table)
    np.testing.assert_allclose(found.probabilities, case["expected"], atol=1e-5)
    found = skinkeras.predict_files(
        pipeline.load_model(case["run_dir"]), case["paths"], metadata=table
    )
    np.testing.assert_allclose(found.probabilities, case["expected"], atol=1e-5)
    with pytest.raises(ValueError, match="trained with patient metadata"):
        inference.predict_files(case["run"], case["paths"])
    with pytest.raises(ValueError, match="needs `metadata`"):
        skinkeras.predict_files(pipeline.load_model(case["run_dir"]), case["paths"])
    plain = inference.load_run(fx.tiny_run(tmp_path / "plain"))
    with pytest.raises(ValueError, match="trained on images only"):
        inference.predict_files(plain, case["paths"], metadata=table)


def test_predictor_tta_transforms_the_image_only(case):
    # TTA of a metadata run: each view with the same metadata, averaged.
    run = case["run"]
    images = training_path_images(case["paths"], image_size=32, preprocessing="none")
    views = [images, images[:, :, ::-1]]  # none, horizontal flip
    expected = np.mean(
        [softmax_of(run.model, {"image": v, **METADATA}) for v in views], axis=0
    )
    found = inference.Predictor(run, tta=2)({"image": images, **METADATA})
    np.testing.assert_allclose(found, expected, atol=1e-6)
    with pytest.raises(ValueError, match="trained with patient metadata"):
        inference.Predictor(run)(tf.constant(images))


def test_a_split_is_predicted_with_its_own_metadata(case):
    # evaluate --split: make_dataset feeds each example's age, sex and site.
    source = tf.data.Dataset.from_tensor_slices(
        {
            "image": [p.read_bytes() for p in case["paths"]],
            "image_id": [p.stem for p in case["paths"]],
            "melanoma": [0, 1, 0],
            **METADATA,
        }
    )
    labels, probabilities = labelled.predict_split(
        case["run"], split="test", source=source, batch_size=2
    )
    np.testing.assert_array_equal(labels, [0, 1, 0])
    np.testing.assert_allclose(probabilities, case["expected"], atol=1e-5)


def test_recalibration_keeps_the_metadata_inputs(case, tmp_path):
    # evaluate --calibrate re-saves model.keras: still the four inputs, now with the
    # temperature and threshold (softmax(log p / T) of the uncalibrated model).
    run_dir = fx.tiny_run(tmp_path / "run", metadata=fx.ENCODING)
    (run_dir / "calibration.json").write_text('{"temperature": 2.0, "threshold": 0.2}')
    assert pipeline.recalibrate(run_dir) == run_dir / rundir.MODEL
    saved = keras.models.load_model(run_dir / rundir.MODEL)
    assert sorted(saved.input) == ["age", "image", "sex", "site"]
    found = model_pipeline.pipeline_metadata(saved)
    assert (found["temperature"], found["threshold"]) == (2.0, 0.2)
    assert found["metadata_encoding"]["sex"] == fx.ENCODING["sex"]
    scaled = np.exp(np.log(case["expected"]) / 2.0)
    reference = scaled / scaled.sum(axis=1, keepdims=True)
    for i, path in enumerate(case["paths"]):
        outputs = saved({"image": decoded(path), **rows(METADATA, i)})
        np.testing.assert_allclose(outputs["probabilities"][0], reference[i], atol=1e-5)
        assert outputs["decision"][0] == int(reference[i, 1] >= 0.2)
