"""Class probabilities of a run on image files or on a dataset, batched.

`Predictor` averages the softmax of `head_logits` over a run's seeds (ensemble) and
over test-time augmentation views (`transforms.tta_batch`); `predict_files` reads,
decodes and transforms image files the training way (`transforms.bytes_transform`),
skipping the ones that fail and, before decoding, the ones whose header gives a size
outside the limits (`skinkeras.imagefiles`, issue 14).
"""

import dataclasses
import logging
import pathlib
import re

import numpy as np
import tensorflow as tf

from skinkeras import imagefiles, metrics
from skinkeras.inference.runs import Run
from skinkeras.inference.transforms import bytes_transform, tta_batch

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


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

        For a run with patient metadata (`Run.metadata_encoding`), the dict
        ``{"image": those images, "age", "sex", "site"}`` (`make_dataset`'s with
        `metadata`); test-time augmentation transforms the image only.

        The softmax is taken in float64 (`skinkeras.metrics.softmax`): in float32
        confident predictions saturate to exactly 0 or 1 and their ranking (AUROC) is
        lost.
        """
        metadata = None
        if isinstance(images, dict):
            metadata = {key: value for key, value in images.items() if key != "image"}
            images = images["image"]
        check_metadata(self.run, metadata)
        images = tf.convert_to_tensor(images, tf.float32)
        total = 0.0
        for fn in self._fns:
            for view in tta_batch(images, self.tta):
                inputs = view if metadata is None else {"image": view, **metadata}
                total += metrics.softmax(fn(inputs).numpy())
        return total / (len(self._fns) * self.tta)


def check_metadata(run, metadata):
    """Raises ValueError unless `metadata` (None, or the images' patient metadata)
    is what `run` takes: some for a run trained with metadata, none otherwise."""
    if (metadata is None) == (run.metadata_encoding is None):
        return
    if metadata is None:
        raise ValueError(
            f"{run.model_dir} was trained with patient metadata (--metadata): it "
            "needs each image's age, sex and anatomic site beside the image "
            "({'image', 'age', 'sex', 'site'}; for files, a metadata CSV: "
            "`metadata` of predict_files, --metadata of experiments.predict and "
            "evaluate). Received: images only"
        )
    raise ValueError(
        f"{run.model_dir} was trained on images only: it takes no patient metadata. "
        f"Received: metadata={getattr(metadata, 'path', None) or sorted(metadata)}"
    )


@dataclasses.dataclass
class Predictions:
    """What `predict_files` returns.

    Attributes:
        image_ids: file name stem of each predicted image, in input order.
        paths: path of each predicted image.
        probabilities: float64 (N, classes), softmax averaged over seeds and TTA.
        failures: `[(path, message)]` of the files skipped: too large or too small
            (read from the header, never decoded), unreadable or undecodable.
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


def error_message(error):
    """The informative line of a TensorFlow error (not its graph traceback)."""
    text = getattr(error, "message", None) or str(error)
    for line in reversed(text.splitlines()):
        line = re.sub(r"\{\{function_node [^}]*\}\}|\[\[.*\]\]|\[Op:[^\]]*\]", "", line)
        line = line.strip()
        if line and not line.startswith(("File ", "Detected at", "Graph execution")):
            return line
    return repr(error)


def predict_files(
    run,
    paths,
    *,
    tta=1,
    batch_size=16,
    progress=False,
    on_batch=None,
    max_pixels=imagefiles.DEFAULT_MAX_PIXELS,
    min_side=imagefiles.DEFAULT_MIN_SIDE,
    metadata=None,
):
    """Predicts image files with a run, batched; files it cannot use are skipped.

    Args:
        run: a `Run`.
        paths: image file paths (see `list_images`).
        tta: test-time augmentation views (1..8).
        batch_size: images per model call.
        progress: show a tqdm progress bar over the files.
        on_batch: optional `fn(ids, resized, inputs, probabilities)` called per batch
            with numpy arrays (e.g. to write Grad-CAM overlays).
        max_pixels: files with more pixels (from their header) are skipped undecoded.
        min_side: files with a smaller height or width are skipped.
        metadata: for a run with patient metadata (`Run.metadata_encoding`), the
            images' metadata: a `skinkeras.inference.patient.PatientMetadata`
            (`read_csv`), looked up by image id; None for an image-only run.

    Returns:
        `Predictions`; files that failed are listed in `failures` with the reason
        (and logged by name) while the others are predicted.
    """
    if not isinstance(run, Run):
        # skinkeras.predict_files (a pipeline model) shares this function's name.
        raise TypeError(
            "skinkeras.inference.predict_files takes a `Run` "
            "(skinkeras.inference.load_run); for a pipeline model or its file use "
            f"skinkeras.predict_files(model, paths). Received: run of type "
            f"{type(run).__name__}"
        )
    if batch_size < 1:
        raise ValueError(
            f"`batch_size` must be >= 1. Received: batch_size={batch_size}"
        )
    for name, value in (("max_pixels", max_pixels), ("min_side", min_side)):
        if value < 1:
            raise ValueError(f"`{name}` must be >= 1. Received: {name}={value}")
    check_metadata(run, metadata)
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
        if metadata is None:
            probs = predictor(inputs)
        else:
            probs = predictor({"image": inputs, **metadata.inputs(batch_ids)})
        if on_batch is not None:
            on_batch(batch_ids, resized, inputs, probs)
        ids.extend(batch_ids)
        kept.extend(path for path, _, _ in batch)
        probabilities.append(probs)
        batch.clear()

    from tqdm import tqdm  # the CLIs' dependency; imported only when predicting

    def skip(path, message):
        logging.error("Skipping %s: %s", path, message)
        failures.append((str(path), message))

    for path in tqdm(paths, desc="predict", unit="img", disable=not progress):
        try:
            problem = imagefiles.size_problem(
                path, max_pixels=max_pixels, min_side=min_side
            )
            if problem:
                skip(path, problem)
                continue
            resized, inputs = transform(tf.io.read_file(str(path)), str(path))
        except (tf.errors.OpError, OSError) as error:
            skip(path, error_message(error))
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
