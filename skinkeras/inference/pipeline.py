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

Lesion masking cannot be inside: it needs each image's lesion mask, i.e. the U-Net
segmenter, which is a separate model; such runs are refused.
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
        return layers.ColorConstancy(preprocessing, name=PREPROCESSING)
    if preprocessing == "ben_graham":
        return layers.BenGraham(name=PREPROCESSING)
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
    x = layers.ResizeAndCenterCrop(image_size, name=CROP)(images)
    if pp is not None:
        x = pp(x)
    x = layers.RoundPixels(name=ROUND)(x)
    probabilities = layers.TemperatureSoftmax(
        temperature, class_names=class_names, name=PROBABILITIES
    )(network(x))
    metadata = {
        "class_names": list(class_names),
        "image_size": image_size,
        "preprocessing": preprocessing,
        **(metadata or {}),
    }
    decision = layers.ThresholdDecision(
        threshold, index=melanoma, metadata=metadata, name=DECISION
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


def from_run(run):
    """The pipeline of a one-seed `Run`, with its `calibration.json` (if any).

    Raises:
        ValueError: an ensemble (choose a seed) or a lesion-masked run.
    """
    model = run.model  # raises for an ensemble
    preprocessing_layer(run.preprocessing)  # refuses lesion masking before loading
    calibration = read_calibration(seed_directory(run))
    return build_pipeline(
        model,
        image_size=run.image_size,
        preprocessing=run.preprocessing,
        class_names=run.class_names,
        temperature=calibration["temperature"],
        threshold=calibration["threshold"],
        metadata={"training_config": run.config.to_dict(), "calibration": calibration},
    )


def is_pipeline(model):
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
            `build_pipeline(...).save`), or a run directory (`model.keras` +
            `config.json` [+ `calibration.json`]).
        seed: with a multi-seed run directory, the seed to load.

    Returns:
        The pipeline Keras model (module doc).
    """
    from skinkeras.inference.runs import load_run

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
