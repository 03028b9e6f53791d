"""Run directories and image files for the deploy tests (inference, export, CLIs).

The tests make their own run directories (model.keras + config.json, the training
stream's layout; model.keras the pipeline training saves) instead of training, so they
depend only on `skinkeras.models` (and its pipeline model).
"""

import atexit
import csv
import functools
import json
import pathlib
import shutil
import tempfile

import cv2
import keras
import numpy as np

from skinkeras import layers, models
from skinkeras.config import TrainConfig
from skinkeras.models import heads, pipeline


def config_for(model_name, *, image_size, num_classes=2, preprocessing="none", **extra):
    """A config.json dict with the contract's keys (values of a short run).

    It must be a valid `TrainConfig`: inference reads it through `rundir.read_config`.
    """
    config = {
        "model": model_name,
        "arl": True,
        "se": True,
        "head": "fastai",
        "num_classes": num_classes,
        "label": "melanoma" if num_classes == 2 else "label",
        "preprocessing": preprocessing,
        "masks_dir": None,
        "mask_mode": "grayscale",
        "dataset": "synthetic_lesions",
        "data_dir": None,
        "image_size": image_size,
        "batch_size": 4,
        "head_epochs": 0,
        "head_lr": 3e-3,
        "epochs": 1,  # never trained here; 0 + 0 epochs is refused (issue 14)
        "lr": 3e-4,
        "oversample": False,
        "augment": False,
        "lighting": False,
        "flip": False,
        "warp": False,
        "weights": None,
        "seed": 0,
        "seeds": [0],
        "model_dir": None,
        "strategy": "auto",
        "tpu": None,
        "mixed_precision": False,
        "jit_compile": False,
        "deterministic": False,
        "train_bn": True,
        "weight_decay": 0.01,
        "beta_2": 0.99,
        "epsilon": 1e-8,
    }
    config.update(extra)
    return config


def write_run(directory, model, config, *, bare=False):
    """Writes `model.keras` and `config.json` into `directory` (a seed directory).

    `model.keras` is what training writes (`pipeline.run_model`: the pipeline around
    `model`), or with `bare` the network alone, as runs written before issue 15's
    self-contained model (and lesion-masked ones) hold it.
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not bare:
        model = pipeline.run_model(model, TrainConfig.from_dict(config))
    model.save(directory / "model.keras")
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    return directory


def calibrate_batchnorm(model, images):
    """Sets every BatchNorm's moving statistics to those of `images`.

    A freshly initialised EfficientNet (weights=None) with the default moving
    statistics shrinks activations ~1e6-fold, so all its probabilities are 0.5000;
    with calibrated statistics they differ per image, which the tests need.
    """
    norms = [x for x in model.layers if isinstance(x, keras.layers.BatchNormalization)]
    momenta = [x.momentum for x in norms]
    for norm in norms:
        norm.momentum = 0.0
    model(images, training=True)
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum


def scale_logits(model, images, *, spread=2.0):
    """Rescales `head_logits` so the logit difference has std `spread` on `images`.

    A calibrated random network's logits span ±50 (probabilities 1e-24..1), far from
    a trained classifier's; a spread of ~2 gives probabilities across (0, 1) like a
    trained model, which is what quantisation error should be judged on.
    """
    logits = np.asarray(model(images, training=False), np.float64)
    scale = spread / np.std(logits[:, 1] - logits[:, 0])
    head = model.get_layer("head_logits")
    head.set_weights([w * scale for w in head.get_weights()])


def random_images(count, size, *, seed=0):
    """Smooth random RGB images, uint8 (count, size, size, 3)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (count, 8, 8, 3)).astype(np.float32)
    return (
        np.stack(
            [
                cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)
                for image in coarse
            ]
        )
        .clip(0, 255)
        .astype(np.uint8)
    )


# The vocabulary of the metadata runs here (synthetic_lesions' site names, in part).
ENCODING = {
    "age_range": [0, 90],
    "sex": ["female", "male"],
    "site": ["anterior torso", "head/neck", "lower extremity"],
}


def tiny_classifier(*, num_classes=2, image_size=32, seed=0, metadata=None):
    """A small model in the skinkeras convention, with an ARL and an SE layer.

    RGB 0..255 input normalised inside, logits from `head_logits`; a few ms per call.
    With `metadata` (an encoding such as `ENCODING`), it also takes age, sex and site
    through the study's metadata branch (`heads.metadata_branch`), as
    `models.build_model(metadata=...)`: inputs ``{"image", "age", "sex", "site"}``.
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="rescaling")(inputs)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(x)
    residual = keras.layers.Conv2D(32, 3, padding="same", name="conv2")(x)
    residual = layers.SqueezeExcite(8, name="conv2_se")(residual)
    x = layers.AttentionResidual(alpha_initializer=0.5, name="block1_arl")(
        [x, residual]
    )
    x = keras.layers.Activation("relu", name="top_activation")(x)
    x = keras.layers.GlobalAveragePooling2D(name="head_avg_pool")(x)
    if metadata is not None:
        patient = heads.metadata_inputs()
        embedding = heads.metadata_branch(patient, encoding=metadata)
        x = keras.layers.Concatenate(name="head_meta_concat")([x, embedding])
        inputs = {"image": inputs, **patient}
    outputs = keras.layers.Dense(num_classes, name="head_logits")(x)
    model = keras.Model(inputs, outputs, name="tiny")
    # Spread the logits so that probabilities differ clearly between images.
    kernel, bias = model.get_layer("head_logits").get_weights()
    model.get_layer("head_logits").set_weights([kernel * 8.0, bias])
    return model


def tiny_run(
    directory,
    *,
    num_classes=2,
    image_size=32,
    seed=0,
    preprocessing="none",
    bare=False,
    metadata=None,
):
    """A seed directory with a `tiny_classifier` (`write_run`; `bare`: old format;
    `metadata`: an encoding, for a run trained with patient metadata)."""
    model = tiny_classifier(
        num_classes=num_classes, image_size=image_size, seed=seed, metadata=metadata
    )
    # The config names a model of the study (TrainConfig validates it); the model
    # file holds the tiny stand-in, which is what inference loads.
    config = config_for(
        "effnet",
        image_size=image_size,
        num_classes=num_classes,
        seed=seed,
        preprocessing=preprocessing,
        **(
            {}
            if metadata is None
            else {"metadata": True, "metadata_encoding": metadata}
        ),
    )
    return write_run(directory, model, config, bare=bare)


def _temporary_directory():
    path = pathlib.Path(tempfile.mkdtemp(prefix="skinkeras_deploy_"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def random_effnet(image_size):
    """EfficientNet-B0 + ARL + SE with random weights (``weights=None``), no
    download: the deploy tests' and `benchmarks.export`'s model."""
    return models.build_model(
        "effnet",
        arl=True,
        se=True,
        weights=None,
        input_shape=(image_size, image_size, 3),
    )


@functools.cache
def effnet_run_dir(image_size=64):
    """A seed directory with EfficientNet-B0 + ARL + SE (weights=None), built once.

    The ARL alphas are set to 0.05 (trained models have non-zero ones), the
    BatchNorm statistics calibrated and the logits scaled to a trained model's
    range, so the outputs depend on the image as a trained model's do.
    """
    keras.utils.set_random_seed(0)  # the int8 tolerance was measured on these weights
    model = random_effnet(image_size)
    for arl in models.arl_layers(model):
        arl.alpha.assign(0.05)
    calibration = random_images(16, image_size, seed=1).astype(np.float32)
    calibrate_batchnorm(model, calibration)
    scale_logits(model, calibration)
    config = config_for("effnet", image_size=image_size)
    return write_run(_temporary_directory() / "seed_0", model, config)


def write_image_files(folder, sizes, *, seed=0, extensions=(".jpg", ".png")):
    """Writes random images of the given (height, width) sizes; returns their paths.

    Named `ISIC_<7 digits>`; extensions alternate through `extensions`.
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index, (height, width) in enumerate(sizes):
        coarse = rng.uniform(0, 255, (6, 6, 3)).astype(np.float32)
        image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
        image = image.clip(0, 255).astype(np.uint8)
        path = folder / f"ISIC_{index:07d}{extensions[index % len(extensions)]}"
        cv2.imwrite(str(path), image[..., ::-1])  # OpenCV writes BGR
        paths.append(path)
    return paths


# --- Evaluation: runs, labels and ground truth ------------------------------------


def logits_of(model, images):
    """The model's logits (float64) on images of `training_path_images`."""
    return np.asarray(model(images, training=False), np.float64)


def labels_for(probability, seed):
    """Melanoma labels that follow `probability` (so a fitted T is finite), 20 % flipped."""
    rng = np.random.default_rng(seed)
    labels = probability > np.median(probability)
    flip = rng.random(labels.size) < 0.2
    return (labels ^ flip).astype(int)


def write_truth(path, image_ids, melanoma):
    """A challenge ground-truth CSV (ISIC 2017 Part 3's columns) of 0/1 melanoma."""
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["image_id", "melanoma", "seborrheic_keratosis"])
        for key, label in zip(image_ids, melanoma, strict=True):
            writer.writerow([key, f"{float(label):.1f}", "0.0"])
    return path


def centred_run(directory, images, *, seed):
    """A `tiny_run` whose melanoma probability has median 0.5 on `images`.

    The tiny network's head bias leaves every probability on one side of 0.5, where
    the uncalibrated operating point would call nothing melanoma.
    """
    model = tiny_classifier(seed=seed)
    logits = logits_of(model, images)
    head = model.get_layer("head_logits")
    kernel, bias = head.get_weights()
    shift = np.median(logits[:, 1] - logits[:, 0]) / 2
    head.set_weights([kernel, bias + np.array([shift, -shift], np.float32)])
    return write_run(directory, model, config_for("effnet", image_size=32, seed=seed))
