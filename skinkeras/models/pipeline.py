"""The deployable model: uint8 RGB images in, probabilities and a decision out.

`build_pipeline` wraps a trained network in serialisable layers (issue 15, item 6)::

    images uint8 (B, H, W, 3)           any size, one size per batch
    → resize_and_center_crop            ResizeAndCenterCrop(S): training's file route
    → preprocessing                     ColorConstancy / BenGraham (absent for "none")
    → round_pixels                      RoundPixels: the values of training's uint8 cache
    → network                           the run's model (a nested Keras model), logits
    → probabilities                     TemperatureSoftmax(T): float32 (B, classes)
    → decision                          ThresholdDecision(t): int32 (B,), 1 = melanoma

A network with patient metadata (issue 26: `models.build_model(metadata=...)`) gives a
pipeline with four inputs, the dict (names are the network's)::

    "image"  uint8 (B, H, W, 3)   as above
    "age"    float32 (B,)         years; negative or NaN: unknown
    "sex"    int32 (B,)           index into the recorded sex names; -1: unknown
    "site"   int32 (B,)           index into the recorded site names; -1: unknown

Any index outside the names is unknown too (`skinkeras.layers.MetadataEncoding`). The
names (the vocabulary the network was trained on) are recorded in the metadata as
`metadata_encoding` (``{"age_range", "sex", "site"}``; None for an image-only
pipeline); `experiments.predict --metadata=CSV` maps a metadata CSV's text to these
indices (`skinkeras.inference.patient`). Indices rather than strings keep the
SavedModel, TFLite and ONNX exports' inputs plain numbers.

The model's outputs are the dict `{"probabilities", "decision"}`. `T` and `t` come
from the run's `calibration.json` (temperature 1 and threshold 0.5 without one). The
`decision` layer's config holds the metadata: class names, image size,
preprocessing, the training configuration and the calibration record
(`pipeline_metadata`). After `import skinkeras`, `keras.models.load_model` loads a
saved pipeline in any process.

It lives beside the models, below both training (which saves a run's `model.keras`
as `run_model`) and inference (`skinkeras.inference.pipeline`: loading a run's
pipeline, recalibrating it, predicting files with it), so that neither climbs to the
other (tests/test_architecture.py). It reads the run's `TrainConfig` fields and
nothing of the run directory.

Lesion masking cannot be inside: it needs each image's lesion mask, i.e. the U-Net
segmenter, which is a separate model; such runs keep the bare network in
`model.keras` and are refused here.
"""

import keras

from skinkeras import config as config_lib
from skinkeras import layers, metrics
from skinkeras.models import heads

NETWORK = "network"
# The layers between the image and the network, in order ("preprocessing" is
# absent for "none").
CROP, PREPROCESSING, ROUND = "resize_and_center_crop", "preprocessing", "round_pixels"
PROBABILITIES, DECISION = "probabilities", "decision"
DEFAULT_CALIBRATION = {"temperature": 1.0, "threshold": 0.5}
# The metadata network's image input (`skinkeras.models.common.build`).
IMAGE = "image"
# Its encoding layer, whose vocabulary the pipeline records (`heads.metadata_branch`).
METADATA_ENCODING = "head_meta_encoding"
# The layers around the network compute in float32 whatever the global dtype policy:
# training saves the pipeline under its mixed-precision policy, and the resize and
# preprocessing must give training's float32 pixels.
_FLOAT32 = {"dtype": "float32"}


def preprocessing_layer(preprocessing):
    """The layer of a deterministic preprocessing name; None for "none"."""
    if preprocessing in config_lib.MASKED_PREPROCESSING:
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
        f"Unknown preprocessing; expected one of {config_lib.PREPROCESSING}. "
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
        network: a Keras model, float32 (B, S, S, 3) RGB 0..255 → logits; or
            one with patient metadata, ``{"image", "age", "sex", "site"}`` →
            logits, whose pipeline takes those four inputs (module doc).
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
    network = keras.Model(network.input, network.output, name=NETWORK)
    encoding = _network_encoding(network)
    # Image-only: one input, "images"; with metadata, the network's own names.
    images = keras.Input(
        (None, None, 3), dtype="uint8", name="images" if encoding is None else IMAGE
    )
    x = layers.ResizeAndCenterCrop(image_size, name=CROP, **_FLOAT32)(images)
    if pp is not None:
        x = pp(x)
    x = layers.RoundPixels(name=ROUND, **_FLOAT32)(x)
    inputs, network_inputs = images, x
    if encoding is not None:
        patient = heads.metadata_inputs()
        inputs, network_inputs = {IMAGE: images, **patient}, {IMAGE: x, **patient}
    probabilities = layers.TemperatureSoftmax(
        temperature, class_names=class_names, name=PROBABILITIES, **_FLOAT32
    )(network(network_inputs))
    metadata = {
        "class_names": list(class_names),
        "image_size": image_size,
        "preprocessing": preprocessing,
        "metadata_encoding": encoding,
        **(metadata or {}),
    }
    decision = layers.ThresholdDecision(
        threshold, index=melanoma, metadata=metadata, name=DECISION, **_FLOAT32
    )(probabilities)
    return keras.Model(
        inputs,
        {PROBABILITIES: probabilities, DECISION: decision},
        name="skinkeras_pipeline",
    )


def _network_encoding(network):
    """The metadata encoding of a network's `MetadataEncoding` layer
    (`skinkeras.config.metadata_encoding`'s record), or None without metadata."""
    if not isinstance(network.input, dict):
        return None
    layer = network.get_layer(METADATA_ENCODING)
    return {
        "age_range": list(layer.age_range),
        "sex": list(layer.sex_names),
        "site": list(layer.site_names),
    }


def run_pipeline(network, config, class_names, calibration):
    """The pipeline of a run: `config` (its `TrainConfig`) and a calibration record.

    One definition for training (`run_model`) and inference (`from_run`,
    `recalibrate`).
    """
    return build_pipeline(
        network,
        image_size=config.image_size,
        preprocessing=config.preprocessing,
        class_names=class_names,
        temperature=calibration["temperature"],
        threshold=calibration["threshold"],
        metadata={"training_config": config.to_dict(), "calibration": calibration},
    )


def run_model(network, config):
    """What training saves as a run's `model.keras`: the uncalibrated pipeline.

    The pipeline around the trained `network` with temperature 1 and threshold 0.5
    (until `experiments.evaluate --calibrate` re-saves it:
    `skinkeras.inference.pipeline.recalibrate`), the class names and `config` in its
    metadata: what `skinkeras.inference.pipeline.from_run` gives for the run before
    calibration; a metadata run's takes ``{"image", "age", "sex", "site"}`` (module
    doc). Where no pipeline can hold the run, the bare `network`: lesion-masked input
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
        config.preprocessing in config_lib.MASKED_PREPROCESSING
        or metrics.melanoma_index(class_names) is None
    ):
        return network
    return run_pipeline(network, config, class_names, dict(DEFAULT_CALIBRATION))


def carries(model, calibration):
    """Whether a pipeline applies `calibration` (a calibration record: temperature,
    threshold and what `skinkeras.inference.calibration` stores beside them)."""
    return pipeline_metadata(model).get("calibration") == calibration


def is_pipeline(model):
    """Whether a Keras model is a pipeline (module doc) rather than a bare network."""
    names = {layer.name for layer in model.layers}
    return {CROP, ROUND, NETWORK, PROBABILITIES, DECISION} <= names


def pipeline_metadata(model):
    """The metadata of a pipeline: class names, image size, preprocessing, metadata
    encoding (None: image only), training configuration, calibration record,
    temperature and threshold."""
    decision = model.get_layer(DECISION)
    return {
        # Pipelines saved before issue 26 have no "metadata_encoding": image only.
        "metadata_encoding": None,
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


def outputs_from_network_input(model, x, metadata=None):
    """`{"probabilities", "melanoma_probability", "decision"}` from network input.

    Args:
        model: a pipeline.
        x: the network's image input (`network_input`).
        metadata: a metadata pipeline's ``{"age", "sex", "site"}`` (module doc);
            None for an image-only one.
    """
    if (metadata is None) != (pipeline_metadata(model)["metadata_encoding"] is None):
        raise ValueError(
            "A pipeline with patient metadata needs `metadata` ({'age', 'sex', "
            "'site'}), an image-only one none. "
            f"Received: metadata={None if metadata is None else sorted(metadata)}"
        )
    if metadata is not None:
        x = {IMAGE: x, **metadata}
    probabilities = model.get_layer(PROBABILITIES)(
        model.get_layer(NETWORK)(x, training=False)
    )
    return {
        "melanoma_probability": probabilities[:, model.get_layer(DECISION).index],
        PROBABILITIES: probabilities,
        DECISION: model.get_layer(DECISION)(probabilities),
    }
