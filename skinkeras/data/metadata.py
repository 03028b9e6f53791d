"""Patient metadata for the model's metadata inputs (issue 26): which features of a
dataset hold age, sex and anatomic site, their vocabulary, and the tf.data map that
turns an example's features into the model's `"age"`, `"sex"` and `"site"` inputs.

The encoding itself (scaling, one-hot, unknown slots) is the model's first layer,
`skinkeras.layers.MetadataEncoding`, so that a saved model takes raw values:

- `"age"`: float32 years, -1 unknown (the builders' `age_approximate`);
- `"sex"`, `"site"`: int32 index into the recorded vocabulary
  (`TrainConfig.metadata_encoding`), -1 unknown.

The vocabulary is the dataset's own: the names of its `sex` and site ClassLabels
without "unknown" (`skinkeras.config.UNKNOWN`), in the builder's order.
"""

import tensorflow as tf

from skinkeras.config import METADATA_FEATURES, UNKNOWN, metadata_encoding

__all__ = ["encoding", "feature_names", "inputs_fn"]


def feature_names(features, *, dataset):
    """``{"age": feature, "sex": feature, "site": feature}`` of a dataset.

    Args:
        features: the dataset's feature names (or its `FeaturesDict`).
        dataset: its name, for the message.

    Raises:
        ValueError: naming the first metadata field the dataset lacks.
    """
    found = {}
    for field, candidates in METADATA_FEATURES.items():
        names = [name for name in candidates if name in features]
        if not names:
            raise ValueError(
                f"Dataset {dataset!r} has no {field} (a feature "
                f"{' or '.join(repr(c) for c in candidates)}), which --metadata "
                f"needs. Received: dataset={dataset!r}"
            )
        found[field] = names[0]
    return found


def _class_names(features, name, *, dataset):
    import tensorflow_datasets as tfds

    feature = features[name]
    if not isinstance(feature, tfds.features.ClassLabel):
        raise ValueError(
            f"Dataset {dataset!r} stores {name!r} as {type(feature).__name__}, not "
            "a ClassLabel: --metadata one-hot encodes over the builder's ClassLabel "
            f"names. Received: dataset={dataset!r}"
        )
    return list(feature.names)


def _vocabulary(names):
    return [name for name in names if name != UNKNOWN]


def encoding(features, *, dataset):
    """The metadata encoding of a dataset (`skinkeras.config.metadata_encoding`):
    its sex and site ClassLabel names without "unknown", and the fixed age range.
    `skinkeras.data.metadata_encoding(dataset)` reads the features of a TFDS one.

    Args:
        features: the dataset's `FeaturesDict`.
        dataset: its name, for messages.

    Raises:
        ValueError: the dataset lacks a field, or stores sex or site as text.
    """
    names = feature_names(features, dataset=dataset)
    return metadata_encoding(
        sex=_vocabulary(_class_names(features, names["sex"], dataset=dataset)),
        site=_vocabulary(_class_names(features, names["site"], dataset=dataset)),
    )


def _index_table(names, vocabulary):
    """ClassLabel index → index into `vocabulary` (-1 for "unknown")."""
    return tf.constant(
        [vocabulary.index(n) if n in vocabulary else -1 for n in names], tf.int32
    )


def inputs_fn(encoding, *, features=None, dataset=None):
    """example dict → ``{"age", "sex", "site"}``, the model's metadata inputs.

    Args:
        encoding: the run's `metadata_encoding` (its vocabulary).
        features: the TFDS `FeaturesDict` of the examples; None for a `source`
            whose examples already hold `"age"`, `"sex"` and `"site"` as the model
            takes them (indices into the encoding's names).
        dataset: the dataset's name, for messages.

    Raises:
        ValueError: a field is missing, or the dataset's vocabulary is not the
            encoding's (a run reads its own vocabulary back: the data must agree).
    """
    if features is None:

        def from_source(example):
            return {
                "age": tf.cast(example["age"], tf.float32),
                "sex": tf.cast(example["sex"], tf.int32),
                "site": tf.cast(example["site"], tf.int32),
            }

        return from_source

    names = feature_names(features, dataset=dataset)
    tables = {}
    for field in ("sex", "site"):
        classes = _class_names(features, names[field], dataset=dataset)
        if _vocabulary(classes) != list(encoding[field]):
            raise ValueError(
                f"Dataset {dataset!r} names the values of {names[field]!r} "
                f"{_vocabulary(classes)}, not the run's `metadata_encoding`. "
                f"Received: metadata_encoding[{field!r}]={encoding[field]!r}"
            )
        tables[field] = _index_table(classes, encoding[field])

    def from_features(example):
        return {
            "age": tf.cast(example[names["age"]], tf.float32),
            "sex": tf.gather(tables["sex"], tf.cast(example[names["sex"]], tf.int32)),
            "site": tf.gather(
                tables["site"], tf.cast(example[names["site"]], tf.int32)
            ),
        }

    return from_features
