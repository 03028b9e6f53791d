"""Inference with a trained run: loading, predicting on image files, metrics, CSVs.

A *run directory* is what `skinkeras.training` writes: either one seed's directory
(`model.keras` + `config.json`) or a multi-seed `MODEL_DIR` whose `seed_<k>/`
subdirectories hold one model each. `load_run` accepts both; a multi-seed directory
becomes an **ensemble**: the class probabilities (softmax of `head_logits`) are
averaged over the seeds, unless one `seed` is chosen.

Images take exactly the training path, reusing `skinkeras.data`:
`decode_image` → `resize_and_center_crop(image_size)` → `preprocess(preprocessing)`,
with both settings read from the run's `config.json`. The models take RGB float
pixels in 0..255 and normalise inside, so nothing else happens before the model.

Test-time augmentation (`tta=N`) averages the probabilities over the first `N` of
the 8 symmetries of the square (`TTA_TRANSFORMS`), ordered so that N = 1, 2, 4 and 8
are subgroups: identity; + horizontal flip; + vertical flip and 180° rotation;
+ the 90° rotations and the two transposes.
"""

import csv
import dataclasses
import json
import logging
import pathlib
import re

import keras
import numpy as np
import tensorflow as tf

# Registers the custom layers (ARL, SE, ...) that `keras.models.load_model` needs.
import skinkeras.models  # noqa: F401
from skinkeras import data, metrics
from skinkeras.metrics import CLASS_NAMES, MELANOMA, classification_metrics  # noqa: F401

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
CSV_FORMATS = ("default", "isic", "isic2017")
MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"

# Dihedral group D4 as maps on a batch (B, H, W, C), in `tta` order (see module doc).
TTA_TRANSFORMS = (
    ("identity", lambda x: x),
    ("flip_left_right", lambda x: tf.reverse(x, axis=[2])),
    ("flip_up_down", lambda x: tf.reverse(x, axis=[1])),
    ("rot180", lambda x: tf.reverse(x, axis=[1, 2])),
    ("rot90", lambda x: tf.image.rot90(x, k=1)),
    ("rot270", lambda x: tf.image.rot90(x, k=3)),
    ("transpose", lambda x: tf.transpose(x, [0, 2, 1, 3])),
    ("antitranspose", lambda x: tf.reverse(tf.transpose(x, [0, 2, 1, 3]), [1, 2])),
)


class ModelNotFoundError(FileNotFoundError):
    """A run directory holds no trained `model.keras`."""


@dataclasses.dataclass(frozen=True)
class Run:
    """A trained run loaded for inference: one model, or one per seed (ensemble).

    Attributes:
        model_dir: the directory given to `load_run`.
        models: the Keras models (one per seed; all built from the same config).
        seeds: the seed of each model (from `seed_<k>` or `config.json`).
        config: the run's `config.json` (of the first seed), extra keys kept.
        image_size: side of the square model input.
        preprocessing: the `skinkeras.data.preprocess` name used in training.
        class_names: one name per output class; index 1 is melanoma.
    """

    model_dir: pathlib.Path
    models: tuple
    seeds: tuple
    config: dict
    image_size: int
    preprocessing: str
    class_names: tuple

    @property
    def num_classes(self):
        return len(self.class_names)

    @property
    def model(self):
        """The single model of a one-seed run (export needs exactly one)."""
        if len(self.models) != 1:
            raise ValueError(
                f"{self.model_dir} is an ensemble of seeds {list(self.seeds)}; choose "
                f"one with `seed`. Received: seed=None"
            )
        return self.models[0]


def find_models(model_dir, *, seed=None):
    """Returns `[(seed, directory)]` of the trained models under `model_dir`.

    `model_dir` is a seed directory holding `model.keras`, or a multi-seed directory
    with `seed_<k>/model.keras`; `seed` picks one of the latter.

    Raises:
        ModelNotFoundError: there is no `model.keras` where one was expected.
    """
    model_dir = pathlib.Path(model_dir)
    if not model_dir.is_dir():
        raise ModelNotFoundError(
            f"`model_dir` is not a directory. Received: model_dir={model_dir}"
        )
    if (model_dir / MODEL_FILE).is_file():
        return [(seed, model_dir)]
    seed_dirs = sorted(
        (int(path.name.removeprefix("seed_")), path)
        for path in model_dir.glob("seed_*")
        if path.is_dir() and path.name.removeprefix("seed_").isdigit()
    )
    if seed is not None:
        seed_dirs = [(k, path) for k, path in seed_dirs if k == seed]
        if not seed_dirs:
            raise ModelNotFoundError(
                f"{model_dir} has no seed_{seed}/ directory. Received: seed={seed}"
            )
    found = [(k, path) for k, path in seed_dirs if (path / MODEL_FILE).is_file()]
    if not found or (seed is not None and len(found) != len(seed_dirs)):
        unfinished = [str(path) for _, path in seed_dirs]
        hint = (
            f"; {', '.join(unfinished)} hold(s) no {MODEL_FILE} yet (training "
            "unfinished? `model.keras` is written at the end of a run)"
            if unfinished
            else ""
        )
        raise ModelNotFoundError(
            f"No trained model in {model_dir}: expected {MODEL_FILE} there or in "
            f"seed_<k>/ subdirectories{hint}. Received: model_dir={model_dir}"
        )
    if len(found) != len(seed_dirs):
        missing = [f"seed_{k}" for k, path in seed_dirs if (k, path) not in found]
        logging.warning(
            "Ensemble without unfinished runs %s (no %s).", missing, MODEL_FILE
        )
    return found


def read_config(run_dir):
    """The `config.json` of a seed directory, else of its parent (multi-seed dir)."""
    run_dir = pathlib.Path(run_dir)
    for path in (run_dir / CONFIG_FILE, run_dir.parent / CONFIG_FILE):
        if path.is_file():
            return json.loads(path.read_text())
    raise FileNotFoundError(
        f"No {CONFIG_FILE} in {run_dir} or its parent: the preprocessing used in "
        f"training is unknown. Received: model_dir={run_dir}"
    )


def load_run(model_dir, *, seed=None):
    """Loads the model(s) and `config.json` of a run directory for inference.

    Args:
        model_dir: a seed directory (`model.keras`, `config.json`) or a multi-seed
            directory (`seed_<k>/model.keras`; all of them are loaded as an ensemble
            unless `seed` is given).
        seed: optional seed `k` of the multi-seed directory to load alone.

    Returns:
        A `Run`.
    """
    found = find_models(model_dir, seed=seed)
    configs = [read_config(path) for _, path in found]
    config = configs[0]
    keys = ("model", "arl", "se", "num_classes", "label", "preprocessing", "image_size")
    for (k, _), other in zip(found[1:], configs[1:], strict=True):
        differing = [key for key in keys if other.get(key) != config.get(key)]
        if differing:
            raise ValueError(
                f"Seeds of {model_dir} differ in {differing}: cannot ensemble them; "
                f"choose one with `seed`. Received: seed={k}"
            )
    models = tuple(
        keras.models.load_model(path / MODEL_FILE, compile=False) for _, path in found
    )
    num_classes = int(models[0].output_shape[-1])
    if num_classes not in CLASS_NAMES:
        raise ValueError(
            f"Expected a model with 2 (melanoma vs other) or 3 (ISIC 2017) outputs. "
            f"Received: num_classes={num_classes}"
        )
    preprocessing = config.get("preprocessing", "none")
    input_size = models[0].input_shape[1]
    image_size = int(config.get("image_size") or input_size)
    if input_size is not None and input_size != image_size:
        raise ValueError(
            f"config.json says image_size={image_size} but the model takes "
            f"{input_size} px. Received: image_size={image_size}"
        )
    return Run(
        model_dir=pathlib.Path(model_dir),
        models=models,
        seeds=tuple(
            cfg.get("seed") if k is None else k
            for (k, _), cfg in zip(found, configs, strict=True)
        ),
        config=config,
        image_size=image_size,
        preprocessing=preprocessing,
        class_names=CLASS_NAMES[num_classes],
    )


def round_like_training(image):
    """Clip to 0..255 and round, as `make_dataset` does before caching as uint8."""
    # make_dataset caches the preprocessed image as uint8 (clip, round): the model
    # was trained on these values, so inference rounds the same way.
    return tf.round(tf.clip_by_value(image, 0.0, 255.0))


def _file_preprocess(preprocessing):
    if preprocessing == "lesion_mask":
        raise ValueError(
            "A run trained on lesion-masked images needs each image's lesion mask, "
            "which image files do not come with: predict/export support the other "
            "preprocessings (evaluate works, with the run's `masks_dir`). "
            f"Received: preprocessing={preprocessing!r}"
        )
    return data.preprocess(preprocessing)


def image_transform(*, image_size, preprocessing):
    """The training path from a decoded image: pure TF, for `tf.data` or a SavedModel.

    Returns:
        `fn(image)`: uint8/float (H, W, 3), any size → float32 (S, S, 3) in 0..255,
        resized and centre-cropped like training, then preprocessed.
    """
    preprocess = _file_preprocess(preprocessing)

    def transform(image):
        return round_like_training(
            preprocess(data.resize_and_center_crop(image, size=image_size))
        )

    return transform


def bytes_transform(*, image_size, preprocessing):
    """`fn(encoded)`: JPEG/PNG/BMP/GIF bytes (scalar string) → `(resized, input)`.

    `resized` is the decoded image after `resize_and_center_crop` (natural colours,
    for overlays); `input` is `resized` after the run's preprocessing — the model
    input. Pure TF.
    """
    preprocess = _file_preprocess(preprocessing)

    def transform(encoded, name="<image>"):
        resized = data.resize_and_center_crop(
            data.decode_image(encoded, name=name), size=image_size
        )
        return resized, round_like_training(preprocess(resized))

    return transform


def tta_batch(images, tta):
    """The first `tta` symmetries of the square applied to `images` (B, H, W, C).

    Returns:
        A list of `tta` tensors shaped like `images` (square images keep their shape).
    """
    if not 1 <= tta <= len(TTA_TRANSFORMS):
        raise ValueError(
            f"`tta` must be in 1..{len(TTA_TRANSFORMS)}. Received: tta={tta}"
        )
    return [transform(images) for _, transform in TTA_TRANSFORMS[:tta]]


def _logits_fn(model):
    # One traced function per model: eager Keras calls are several times slower.
    @tf.function(reduce_retracing=True)
    def logits(images):
        return model(images, training=False)

    return logits


class Predictor:
    """Class probabilities of a `Run` on model inputs, averaged over seeds and TTA.

    Args:
        run: a `Run` from `load_run`.
        tta: number of symmetries of the square to average over (1 = none).
    """

    def __init__(self, run, *, tta=1):
        tta_batch(tf.zeros((1, 1, 1, 3)), tta)  # validates tta
        self.run = run
        self.tta = tta
        self._fns = [_logits_fn(model) for model in run.models]

    def __call__(self, images):
        """`images`: preprocessed float (B, S, S, 3) in 0..255 → numpy (B, classes).

        The softmax is taken in float64, like `skinkeras.training.metrics`: in float32
        confident predictions saturate to exactly 0 or 1 and their ranking (AUROC) is
        lost.
        """
        images = tf.convert_to_tensor(images, tf.float32)
        total = 0.0
        for fn in self._fns:
            for view in tta_batch(images, self.tta):
                total += metrics.softmax(fn(view).numpy())
        return total / (len(self._fns) * self.tta)


@dataclasses.dataclass
class Predictions:
    """What `predict_files` returns.

    Attributes:
        image_ids: file name stem of each predicted image, in input order.
        paths: path of each predicted image.
        probabilities: float64 (N, classes), softmax averaged over seeds and TTA.
        failures: `[(path, message)]` of the files that could not be read or decoded.
    """

    image_ids: list
    paths: list
    probabilities: np.ndarray
    failures: list


def list_images(inputs):
    """Expands files and folders into a sorted list of image files.

    Files named explicitly are kept whatever their extension (a non-image then fails
    to decode and is reported); folders are searched recursively for
    `IMAGE_EXTENSIONS` (case-insensitive), skipping the ISIC archives'
    `*_superpixels.png` and hidden files.

    Raises:
        FileNotFoundError: an input does not exist.
    """
    paths = []
    for item in inputs:
        item = pathlib.Path(item)
        if item.is_dir():
            paths.extend(
                path
                for path in sorted(item.rglob("*"))
                if path.is_file()
                and path.suffix.lower() in IMAGE_EXTENSIONS
                and not path.name.startswith(".")
                and not path.stem.endswith("_superpixels")
            )
        elif item.exists():
            paths.append(item)
        else:
            raise FileNotFoundError(f"No such file or folder. Received: input={item}")
    return paths


def image_id(path):
    """ISIC-style image id: the file name without its extension."""
    return pathlib.Path(path).stem


def check_unique_ids(paths):
    """Raises ValueError if two files would get the same image id (CSV row key)."""
    seen = {}
    for path in paths:
        seen.setdefault(image_id(path), []).append(str(path))
    duplicates = {key: value for key, value in seen.items() if len(value) > 1}
    if duplicates:
        raise ValueError(
            "Image ids (file names without extension) must be unique in the output CSV. "
            f"Received: duplicates={duplicates}"
        )


def _error_message(error):
    """The informative line of a TensorFlow error (not its graph traceback)."""
    text = getattr(error, "message", None) or str(error)
    for line in reversed(text.splitlines()):
        line = re.sub(r"\{\{function_node [^}]*\}\}|\[\[.*\]\]|\[Op:[^\]]*\]", "", line)
        line = line.strip()
        if line and not line.startswith(("File ", "Detected at", "Graph execution")):
            return line
    return repr(error)


def predict_files(run, paths, *, tta=1, batch_size=16, progress=False, on_batch=None):
    """Predicts image files with a run, batched; unreadable files are skipped.

    Args:
        run: a `Run`.
        paths: image file paths (see `list_images`).
        tta: test-time augmentation views (1..8).
        batch_size: images per model call.
        progress: show a tqdm progress bar over the files.
        on_batch: optional `fn(ids, resized, inputs, probabilities)` called per batch
            with numpy arrays (e.g. to write Grad-CAM overlays).

    Returns:
        `Predictions`; files that failed are listed in `failures` with the reason
        (and logged by name) while the others are predicted.
    """
    if batch_size < 1:
        raise ValueError(
            f"`batch_size` must be >= 1. Received: batch_size={batch_size}"
        )
    predictor = Predictor(run, tta=tta)
    transform = tf.function(
        bytes_transform(image_size=run.image_size, preprocessing=run.preprocessing),
        input_signature=[tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.string)],
    )
    ids, kept, probabilities, failures = [], [], [], []
    batch = []

    def flush():
        if not batch:
            return
        batch_ids = [image_id(path) for path, _, _ in batch]
        resized = np.stack([r for _, r, _ in batch])
        inputs = np.stack([x for _, _, x in batch])
        probs = predictor(inputs)
        if on_batch is not None:
            on_batch(batch_ids, resized, inputs, probs)
        ids.extend(batch_ids)
        kept.extend(path for path, _, _ in batch)
        probabilities.append(probs)
        batch.clear()

    from tqdm import tqdm  # the CLIs' dependency; imported only when predicting

    for path in tqdm(paths, desc="predict", unit="img", disable=not progress):
        try:
            resized, inputs = transform(tf.io.read_file(str(path)), str(path))
        except (tf.errors.OpError, OSError) as error:
            message = _error_message(error)
            logging.error("Skipping %s: %s", path, message)
            failures.append((str(path), message))
            continue
        batch.append((path, resized.numpy(), inputs.numpy()))
        if len(batch) == batch_size:
            flush()
    flush()
    probabilities = (
        np.concatenate(probabilities)
        if probabilities
        else np.zeros((0, run.num_classes), np.float64)
    )
    return Predictions(ids, [str(path) for path in kept], probabilities, failures)


def predict_dataset(predictor, dataset):
    """Runs `predictor` over a dataset of `(images, labels)` batches (preprocessed).

    Returns:
        `(labels, probabilities)`: int64 (N,) and float64 (N, classes).
    """
    labels, probabilities = [], []
    for images, batch_labels in dataset:
        probabilities.append(predictor(images))
        labels.append(np.asarray(batch_labels).reshape(-1))
    if not labels:
        raise ValueError("The dataset is empty: nothing to evaluate.")
    return np.concatenate(labels).astype(np.int64), np.concatenate(probabilities)


def _format_probability(value):
    # Always a decimal point: the ISIC scorer rejects columns that pandas reads as int.
    return f"{float(value):.8f}"


def write_predictions_csv(
    path, image_ids, probabilities, class_names, *, format="default"
):
    """Writes predictions as CSV.

    Formats:
        default:  `image_id,melanoma_probability,predicted_class` (the class name
                  with the highest probability).
        isic:     what `isic-challenge-scoring classification` reads: `image` and one
                  probability column per class — `melanoma,other` for the binary
                  task, `melanoma,nevus,seborrheic_keratosis` for ISIC 2017's 3 classes.
        isic2017: ISIC 2017 Part 3 submission, `image_id,melanoma,seborrheic_keratosis`.
                  A binary model has no seborrheic keratosis output: that column is
                  then a constant 0.0 (its AUC scores 0.5) and a warning is logged.
    """
    probabilities = np.asarray(probabilities, np.float64)
    if format not in CSV_FORMATS:
        raise ValueError(
            f"`format` must be one of {CSV_FORMATS}. Received: format={format}"
        )
    if probabilities.shape != (len(image_ids), len(class_names)):
        raise ValueError(
            f"Expected probabilities of shape {(len(image_ids), len(class_names))}. "
            f"Received: probabilities.shape={probabilities.shape}"
        )
    if format == "default":
        header = ["image_id", "melanoma_probability", "predicted_class"]
        rows = [
            [key, _format_probability(p[MELANOMA]), class_names[int(np.argmax(p))]]
            for key, p in zip(image_ids, probabilities, strict=True)
        ]
    elif format == "isic":
        order = ["melanoma"] + sorted(set(class_names) - {"melanoma"})
        columns = [class_names.index(name) for name in order]
        header = ["image", *order]
        rows = [
            [key, *(_format_probability(p[c]) for c in columns)]
            for key, p in zip(image_ids, probabilities, strict=True)
        ]
    else:
        if "seborrheic_keratosis" in class_names:
            keratosis = class_names.index("seborrheic_keratosis")
        else:
            keratosis = None
            logging.warning(
                "Binary model: the isic2017 column seborrheic_keratosis is a constant 0.0."
            )
        header = ["image_id", "melanoma", "seborrheic_keratosis"]
        rows = [
            [
                key,
                _format_probability(p[MELANOMA]),
                _format_probability(0.0 if keratosis is None else p[keratosis]),
            ]
            for key, p in zip(image_ids, probabilities, strict=True)
        ]
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)


def write_isic_truth_csv(path, image_ids, labels, class_names):
    """Ground truth for `isic-challenge-scoring`: `image` + one-hot class columns.

    `labels` are class indices of `class_names` (use the 3 ISIC 2017 names for
    `label`, `("other", "melanoma")` for the binary `melanoma` label).
    """
    labels = np.asarray(labels).reshape(-1)
    header = ["image", *class_names]
    with pathlib.Path(path).open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for key, label in zip(image_ids, labels, strict=True):
            writer.writerow(
                [
                    key,
                    *("1.0" if c == label else "0.0" for c in range(len(class_names))),
                ]
            )
