"""A self-contained model: uint8 RGB images in, probabilities and a decision out.

`build_pipeline` wraps a trained network in serialisable layers (issue 15, item 6)::

    images uint8 (B, H, W, 3)           any size, one size per batch
    → resize_and_center_crop            ResizeAndCenterCrop(S): training's file route
    → preprocessing                     ColorConstancy / BenGraham (absent for "none")
    → round_pixels                      RoundPixels: the values of training's uint8 cache
    → network                           the run's model (a nested Keras model), logits
    → probabilities                     TemperatureSoftmax(T): float32 (B, classes)
    → decision                          ThresholdDecision(t): int32 (B,), 1 = melanoma

The model's outputs are the dict `{"probabilities", "decision"}`. `T` and `t` come
from the run's `calibration.json` (`rundir.CALIBRATION`; temperature 1 and threshold
0.5 without one). The `decision` layer's config holds the metadata: class names,
image size, preprocessing, the training configuration and the calibration record
(`pipeline_metadata`). After `import skinkeras`, `keras.models.load_model` loads a
saved pipeline in any process.

A run's own `model.keras` is this pipeline (issue 15, item 6): training saves it
uncalibrated (`run_model`), and `experiments.evaluate --calibrate` re-saves it with
the calibration it writes (`recalibrate`). Readers that want the bare network take
`model.get_layer(NETWORK)` (`skinkeras.inference.load_run` does); runs written
before this hold the bare network, and `load_model` / `from_run` build the pipeline
around it from `config.json`.

Lesion masking cannot be inside: it needs each image's lesion mask, i.e. the U-Net
segmenter, which is a separate model; such runs keep the bare network in
`model.keras` and are refused here.
"""

import dataclasses
import logging
import pathlib

import keras
import numpy as np
import tensorflow as tf

from skinkeras import data, imagefiles, layers, metrics

NETWORK = "network"
# The layers between the image and the network, in order ("preprocessing" is
# absent for "none").
CROP, PREPROCESSING, ROUND = "resize_and_center_crop", "preprocessing", "round_pixels"
PROBABILITIES, DECISION = "probabilities", "decision"
DEFAULT_CALIBRATION = {"temperature": 1.0, "threshold": 0.5}
# The layers around the network compute in float32 whatever the global dtype policy:
# training saves the pipeline under its mixed-precision policy, and the resize and
# preprocessing must give training's float32 pixels.
_FLOAT32 = {"dtype": "float32"}


def read_calibration(run_dir):
    """The run's calibration record, or the defaults (temperature 1, threshold 0.5).

    Reads `calibration.json` of the seed directory, else of its parent (the
    ensemble's; `skinkeras.inference.calibration`, which also validates it).

    Raises:
        ValueError: the file holds a temperature that is not > 0 or a threshold
            outside [0, 1].
    """
    from skinkeras.inference import calibration

    run_dir = pathlib.Path(run_dir)
    record = calibration.read_calibration(run_dir) or calibration.read_calibration(
        run_dir.parent
    )
    return {**DEFAULT_CALIBRATION, **(record or {})}


def preprocessing_layer(preprocessing):
    """The layer of a deterministic preprocessing name; None for "none"."""
    if preprocessing in data.ops.names() and not data.ops.spec(preprocessing).in_model:
        raise ValueError(
            "A run trained on lesion-masked images cannot be made self-contained: its "
            "input needs each image's lesion mask, which comes from a separate model "
            "(the U-Net segmenter, `experiments.make_masks`). Export supports the "
            "preprocessings 'none', 'max_rgb', 'shades_of_gray' and 'ben_graham'. "
            f"Received: preprocessing={preprocessing!r}"
        )
    if preprocessing == "none":
        return None
    if preprocessing in ("max_rgb", "shades_of_gray"):
        return layers.ColorConstancy(preprocessing, name=PREPROCESSING, **_FLOAT32)
    if preprocessing == "ben_graham":
        return layers.BenGraham(name=PREPROCESSING, **_FLOAT32)
    raise ValueError(
        f"Unknown preprocessing; expected one of {data.PREPROCESSING_NAMES}. "
        f"Received: preprocessing={preprocessing!r}"
    )


def build_pipeline(
    network,
    *,
    image_size,
    preprocessing,
    class_names,
    temperature=1.0,
    threshold=0.5,
    metadata=None,
):
    """The self-contained model around `network` (module doc).

    Args:
        network: a Keras model, float32 (B, S, S, 3) RGB 0..255 → logits.
        image_size: S, the side the images are resized and cropped to.
        preprocessing: the run's preprocessing name (not "lesion_mask").
        class_names: one name per output class.
        temperature: softmax temperature (> 0).
        threshold: decision threshold on the melanoma probability, in [0, 1].
        metadata: JSON-serialisable dict kept in the `decision` layer's config.
    """
    # The decision is melanoma's, wherever the classes put it (ISIC 2019: first).
    melanoma = metrics.melanoma_index(class_names)
    if melanoma is None:
        raise ValueError(
            "The pipeline's decision is melanoma vs the rest, and these classes have "
            f"no melanoma. Received: class_names={list(class_names)}"
        )
    pp = preprocessing_layer(preprocessing)
    # A new functional view of the same layers, so the nested model has a fixed name
    # (readers find it by NETWORK) and the run's model object is left untouched.
    (inputs,), (outputs,) = network.inputs, network.outputs  # one in, one out
    network = keras.Model(inputs, outputs, name=NETWORK)
    images = keras.Input((None, None, 3), dtype="uint8", name="images")
    x = layers.ResizeAndCenterCrop(image_size, name=CROP, **_FLOAT32)(images)
    if pp is not None:
        x = pp(x)
    x = layers.RoundPixels(name=ROUND, **_FLOAT32)(x)
    probabilities = layers.TemperatureSoftmax(
        temperature, class_names=class_names, name=PROBABILITIES, **_FLOAT32
    )(network(x))
    metadata = {
        "class_names": list(class_names),
        "image_size": image_size,
        "preprocessing": preprocessing,
        **(metadata or {}),
    }
    decision = layers.ThresholdDecision(
        threshold, index=melanoma, metadata=metadata, name=DECISION, **_FLOAT32
    )(probabilities)
    return keras.Model(
        images,
        {PROBABILITIES: probabilities, DECISION: decision},
        name="skinkeras_pipeline",
    )


def seed_directory(run):
    """The directory of a one-seed `Run`'s model: ``seed_<k>/`` of a multi-seed
    directory, or the run directory itself."""
    from skinkeras.inference import runs

    ((_, directory),) = runs.find_models(run.model_dir, seed=run.seeds[0])
    return pathlib.Path(directory)


def _run_pipeline(network, config, class_names, calibration):
    # One definition of a run's pipeline, for training, `from_run` and `recalibrate`.
    return build_pipeline(
        network,
        image_size=config.image_size,
        preprocessing=config.preprocessing,
        class_names=class_names,
        temperature=calibration["temperature"],
        threshold=calibration["threshold"],
        metadata={"training_config": config.to_dict(), "calibration": calibration},
    )


def from_run(run):
    """The pipeline of a one-seed `Run`, with its `calibration.json` (if any).

    Raises:
        ValueError: an ensemble (choose a seed) or a lesion-masked run.
    """
    model = run.model  # raises for an ensemble
    preprocessing_layer(run.preprocessing)  # refuses lesion masking before loading
    calibration = read_calibration(seed_directory(run))
    return _run_pipeline(model, run.config, run.class_names, calibration)


def run_model(network, config):
    """What training saves as a run's `model.keras`: the uncalibrated pipeline.

    The pipeline around the trained `network` with temperature 1 and threshold 0.5
    (until `experiments.evaluate --calibrate`, `recalibrate`), the class names and
    `config` in its metadata: what `from_run` gives for the run before calibration.
    Where no pipeline can hold the run, the bare `network`: lesion-masked input
    (the mask needs the segmenter; `load_model` and export refuse such runs) or
    classes without melanoma (the decision is melanoma's).

    Args:
        network: the trained Keras model (logits).
        config: the run's `TrainConfig`.
    """
    class_names = tuple(
        config.class_names or metrics.default_class_names(config.num_classes)
    )
    if (
        config.preprocessing == "lesion_mask"
        or metrics.melanoma_index(class_names) is None
    ):
        return network
    return _run_pipeline(network, config, class_names, dict(DEFAULT_CALIBRATION))


def carries(model, calibration):
    """Whether a pipeline applies `calibration` (a `read_calibration` record)."""
    return pipeline_metadata(model).get("calibration") == calibration


def recalibrate(seed_dir):
    """Re-saves a seed directory's pipeline `model.keras` with its calibration.

    The calibration is `read_calibration(seed_dir)` (the seed's `calibration.json`,
    else its multi-seed parent's), so the file stays what `from_run` gives for the
    run. Written atomically (`skinkeras.rundir.save_model`), and only
    when it changes.

    Returns:
        The path written, or None: unchanged, or a bare network (a run saved before
        runs held pipelines, or a lesion-masked one), which is left as it is.
    """
    from skinkeras import rundir

    seed_dir = pathlib.Path(seed_dir)
    path = seed_dir / rundir.MODEL
    model = keras.models.load_model(path, compile=False)
    calibration = read_calibration(seed_dir)
    if not is_pipeline(model) or carries(model, calibration):
        return None
    rebuilt = _run_pipeline(
        model.get_layer(NETWORK),
        rundir.read_config(seed_dir),
        pipeline_metadata(model)["class_names"],
        calibration,
    )
    rundir.save_model(rebuilt, path)
    return path


def is_pipeline(model):
    """Whether a Keras model is a pipeline (module doc) rather than a bare network."""
    names = {layer.name for layer in model.layers}
    return {CROP, ROUND, NETWORK, PROBABILITIES, DECISION} <= names


def pipeline_metadata(model):
    """The metadata of a pipeline: class names, image size, preprocessing, training
    configuration, calibration record, temperature and threshold."""
    decision = model.get_layer(DECISION)
    return {
        **decision.metadata,
        "temperature": model.get_layer(PROBABILITIES).temperature,
        "threshold": decision.threshold,
    }


def network_input(model, images, *, resized=False):
    """The network's input from images, through the pipeline's own layers.

    Args:
        model: a pipeline.
        images: (B, H, W, 3) RGB 0..255; with `resized`, float (B, S, S, 3)
            already resized and centre-cropped (the TFLite/ONNX input), which skips
            `resize_and_center_crop`.
    """
    x = images if resized else model.get_layer(CROP)(images)
    names = {layer.name for layer in model.layers}
    if PREPROCESSING in names:
        x = model.get_layer(PREPROCESSING)(x)
    return model.get_layer(ROUND)(x)


def outputs_from_network_input(model, x):
    """`{"probabilities", "melanoma_probability", "decision"}` from network input."""
    probabilities = model.get_layer(PROBABILITIES)(
        model.get_layer(NETWORK)(x, training=False)
    )
    return {
        "melanoma_probability": probabilities[:, model.get_layer(DECISION).index],
        PROBABILITIES: probabilities,
        DECISION: model.get_layer(DECISION)(probabilities),
    }


def load_model(path, *, seed=None):
    """A self-contained model: a saved pipeline `.keras` file, or built from a run.

    Args:
        path: a `.keras` file written by `experiments.export --format=keras` (or
            `build_pipeline(...).save`, or a run's `model.keras`), or a run
            directory (`model.keras` + `config.json` [+ `calibration.json`]).
        seed: with a multi-seed run directory, the seed to load.

    Returns:
        The pipeline Keras model (module doc). From a run directory: its own
        `model.keras` where that is a pipeline carrying the run's calibration;
        else (a bare network, from runs written before runs held pipelines, or a
        `calibration.json` newer than the file) built by `from_run`.
    """
    from skinkeras import rundir
    from skinkeras.inference.runs import find_models, load_run

    path = pathlib.Path(path)
    if path.is_file():
        model = keras.models.load_model(path, compile=False)
        if not is_pipeline(model):
            raise ValueError(
                f"{path} holds a network without its preprocessing: pass its run "
                "directory, or export it with `experiments.export --format=keras`. "
                f"Received: path={path}"
            )
        return model
    found = find_models(path, seed=seed)
    if len(found) == 1:  # an ensemble goes on to `from_run`'s error
        ((_, directory),) = found
        preprocessing_layer(rundir.read_config(directory).preprocessing)
        model = keras.models.load_model(directory / rundir.MODEL, compile=False)
        if is_pipeline(model) and carries(model, read_calibration(directory)):
            return model
    return from_run(load_run(path, seed=seed))


@dataclasses.dataclass
class PipelinePredictions:
    """What `predict_files` returns (row i is `paths[i]`).

    Attributes:
        image_ids: file name stems.
        paths: the predicted files.
        probabilities: float32 (N, classes), temperature-scaled.
        decisions: int32 (N,), 1 where the melanoma probability >= the threshold.
        failures: `[(path, message)]` of files that could not be read or decoded.
    """

    image_ids: list
    paths: list
    probabilities: np.ndarray
    decisions: np.ndarray
    failures: list


def predict_files(
    model,
    paths,
    *,
    max_pixels=imagefiles.DEFAULT_MAX_PIXELS,
    min_side=imagefiles.DEFAULT_MIN_SIDE,
):
    """Predicts image files (or folders of them) with a pipeline, one file per call.

    Files outside ``max_pixels`` / ``min_side`` (read from their headers, issue 14)
    and files that do not decode are skipped and listed in ``failures`` with the
    reason, as in `skinkeras.inference.predict_files`.

    Args:
        model: a pipeline, or a path for `load_model`.
        paths: image files and folders (`skinkeras.inference.list_images`).
        max_pixels: more pixels (height x width) than this are skipped.
        min_side: a height or width under this is skipped.
    """
    from skinkeras.inference.predict import _error_message, image_id, list_images
    from skinkeras.inference.runs import Run

    if isinstance(model, Run):
        # skinkeras.inference.predict_files (a Run, TTA, batches) shares the name.
        raise TypeError(
            "skinkeras.predict_files takes a pipeline model or a path for "
            "load_model; for a `Run` use skinkeras.inference.predict_files(run, "
            "paths), or skinkeras.predict_files(run.model_dir, paths). Received: "
            "model of type Run"
        )
    if not isinstance(model, keras.Model):
        model = load_model(model)
    num_classes = len(pipeline_metadata(model)["class_names"])
    call = tf.function(
        lambda images: model(images, training=False),
        input_signature=[tf.TensorSpec((None, None, None, 3), tf.uint8)],
    )
    kept, probabilities, decisions, failures = [], [], [], []
    for path in list_images(paths):
        problem = imagefiles.size_problem(
            path, max_pixels=max_pixels, min_side=min_side
        )
        if problem:
            logging.error("Skipping %s: %s", path, problem)
            failures.append((str(path), problem))
            continue
        try:
            image = data.decode_image(tf.io.read_file(str(path)), name=str(path))
            outputs = call(image[tf.newaxis])
        except (tf.errors.OpError, OSError) as error:
            message = _error_message(error)
            logging.error("Skipping %s: %s", path, message)
            failures.append((str(path), message))
            continue
        kept.append(path)
        probabilities.append(outputs[PROBABILITIES].numpy())
        decisions.append(outputs[DECISION].numpy())
    return PipelinePredictions(
        image_ids=[image_id(path) for path in kept],
        paths=[str(path) for path in kept],
        probabilities=(
            np.concatenate(probabilities)
            if kept
            else np.zeros((0, num_classes), np.float32)
        ),
        decisions=np.concatenate(decisions) if kept else np.zeros((0,), np.int32),
        failures=failures,
    )
