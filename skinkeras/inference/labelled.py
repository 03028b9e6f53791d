"""A run's predictions on labelled images, for evaluation (`skinkeras.inference.evaluate`).

Two sources: a TFDS split through training's own pipeline
(`skinkeras.data.make_dataset`, without augmentation or oversampling), or the image
files of a folder with a challenge ground-truth CSV (`read_truth_csv`), read as
`predict_files` reads them. Each seed of a multi-seed run is predicted alone, so
that it can be evaluated alone as well as in the ensemble (the mean probability)::

    from skinkeras import inference
    from skinkeras.inference import labelled

    run = inference.load_run("runs/effnet_se_arl")
    predictions = labelled.predict_run(run, split="validation")
    predictions.labels, predictions.per_seed, predictions.probabilities
"""

import collections
import dataclasses
import typing

import numpy as np

from skinkeras import data
from skinkeras.config import METADATA_FEATURES
from skinkeras.inference import predict
from skinkeras.inference.submission import read_truth_csv


class RunPredictions(typing.NamedTuple):
    """A run's predictions on the evaluated images, in one order for every seed."""

    labels: np.ndarray  # (N,) class indices
    per_seed: list  # (N, classes) probabilities of each seed, in `run.seeds` order
    evaluated_on: str  # what the images are, in words: "isic2017 test"

    @property
    def probabilities(self):
        """The ensemble's: the mean over the seeds, as `Predictor` averages them."""
        return sum(self.per_seed) / len(self.per_seed)


def seed_runs(run):
    """One `Run` per seed of `run` (itself when it has one model)."""
    return [
        dataclasses.replace(run, models=(model,), seeds=(seed,))
        for model, seed in zip(run.models, run.seeds, strict=True)
    ]


def predict_split(
    run, *, split, dataset=None, data_dir=None, batch_size=16, tta=1, source=None
):
    """``(labels, probabilities)`` of `run` on a split, through training's pipeline.

    `dataset` and `data_dir` default to the run's. `source` (optional) is
    `make_dataset`'s: a `tf.data.Dataset` of example dicts used instead of TFDS.
    """
    config = run.config
    images = data.make_dataset(
        split,
        dataset=dataset or config.dataset,
        data_dir=data_dir or config.data_dir,
        preprocessing=run.preprocessing,
        image_size=run.image_size,
        batch_size=batch_size,
        augment=False,
        oversample=False,
        label=config.label,
        shuffle=False,
        masks_dir=config.masks_dir,
        mask_mode=config.mask_mode,
        drop_remainder=False,
        source=source,
        # A metadata run reads the split's own metadata (issue 26).
        metadata=run.metadata_encoding,
    )
    return predict.predict_dataset(predict.Predictor(run, tta=tta), images)


def predict_folder(run, *, images, truth, batch_size=16, tta=1, metadata=None):
    """``(labels, probabilities)`` of `run` on the image files of `images`.

    Every image needs a row in `truth` (`read_truth_csv`) and every row an image,
    and every image must decode: a metric over a silent subset would mislead.
    `metadata`: for a run with patient metadata, the images' metadata
    (`skinkeras.inference.patient.PatientMetadata`), as `predict_files` takes it.
    """
    labels = read_truth_csv(truth, run.num_classes)
    paths = predict.list_images([images])
    predict.check_unique_ids(paths)
    ids = {predict.image_id(path) for path in paths}
    for what, extra in (
        (f"images in {images} without a row in {truth}", sorted(ids - set(labels))),
        (f"rows of {truth} without an image in {images}", sorted(set(labels) - ids)),
    ):
        if extra:
            raise ValueError(
                f"{len(extra)} {what}. Received: image_ids={extra[:10]}"
                + (" ..." if len(extra) > 10 else "")
            )
    predictions = predict.predict_files(
        run, paths, tta=tta, batch_size=batch_size, metadata=metadata
    )
    if predictions.failures:
        raise ValueError(
            f"{len(predictions.failures)} image(s) could not be read. "
            f"Received: failures={predictions.failures[:10]}"
        )
    return (
        np.array([labels[key] for key in predictions.image_ids], np.int64),
        predictions.probabilities,
    )


def predict_run(
    run,
    *,
    split="test",
    dataset=None,
    data_dir=None,
    images=None,
    truth=None,
    batch_size=16,
    tta=1,
    metadata=None,
):
    """`RunPredictions` of each seed of `run` on a split (`predict_split`) or, with
    `images` and `truth` (and, for a run with patient metadata, `metadata`), on a
    folder (`predict_folder`).

    `dataset` and `data_dir` default to the run's. One pass per seed costs the same
    model calls as one pass of the ensemble.
    """
    calls = dict(batch_size=batch_size, tta=tta)  # how the models are called
    labels, per_seed = None, []
    for single in seed_runs(run):
        if images:
            found, probabilities = predict_folder(
                single, images=images, truth=truth, metadata=metadata, **calls
            )
        else:
            found, probabilities = predict_split(
                single, split=split, dataset=dataset, data_dir=data_dir, **calls
            )
        if labels is not None and not np.array_equal(found, labels):
            raise ValueError(
                f"Seed {single.seeds[0]} saw other labels than seed {run.seeds[0]}: "
                f"the data are not read in one order. Received: seed={single.seeds[0]}"
            )
        labels = found
        per_seed.append(probabilities)
    evaluated_on = (
        f"{images} (truth {truth})"
        if images
        else f"{dataset or run.config.dataset} {split}"
    )
    return RunPredictions(labels, per_seed, evaluated_on)


# The model card's metadata fields (`model_card.METADATA_FIELDS`) and the dataset
# features that may hold each, the first found.
_CARD_FIELDS = {
    "sex": METADATA_FEATURES["sex"],
    "anatomical_site": METADATA_FEATURES["site"],
    "age_approximate": METADATA_FEATURES["age"],
}


def _value_names(feature, *, field):
    """A stored value of `feature` → the name the card counts it under."""
    if field == "age_approximate":

        def decade(age):
            age = int(age)
            return f"{age // 10 * 10}-{age // 10 * 10 + 9}" if age >= 0 else "unknown"

        return decade
    class_names = getattr(feature, "names", None)  # a ClassLabel's
    if class_names is None:
        return lambda value: value.decode()
    return lambda index: class_names[int(index)]


def split_metadata(split, *, dataset, data_dir, label):
    """``{field: {value: count}}`` of a TFDS split's sex, anatomic site and age.

    For the model card's limits (issue 15: the data's coverage, from its metadata),
    keyed as `model_card.METADATA_FIELDS`: ``"sex"``, ``"anatomical_site"`` (the
    dataset's site feature, `skinkeras.config.METADATA_FEATURES`) and
    ``"age_approximate"``. ClassLabel values by their names (the ISIC builders'
    since issue 26), text as it is stored; ages by decade, -1 (unknown) as
    ``"unknown"``. None if the split has none of them.
    """
    from skinkeras.data import loading

    raw, _ = loading.raw_examples(
        split, dataset=dataset, data_dir=data_dir, label=label, source=None
    )
    found = {
        field: next((n for n in names if n in raw.element_spec), None)
        for field, names in _CARD_FIELDS.items()
    }
    found = {field: name for field, name in found.items() if name is not None}
    if not found:
        return None
    features = loading.prepared_builder(dataset, data_dir=data_dir).info.features
    names = {
        field: _value_names(features[name], field=field)
        for field, name in found.items()
    }
    counts = {field: collections.Counter() for field in found}
    for example in raw.map(lambda e: {f: e[name] for f, name in found.items()}):
        for field, value in example.items():
            counts[field][names[field](value.numpy())] += 1

    def order(item):  # names alphabetically, decades in order, "unknown" last
        start = item[0].split("-")[0]
        return (item[0] == "unknown", int(start) if start.isdigit() else -1, item[0])

    return {
        field: dict(sorted(counted.items(), key=order))
        for field, counted in counts.items()
    }
