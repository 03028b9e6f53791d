"""What the classification builders share, and the common part of the grouped ones.

For every classification builder (`isic2017`, `synthetic_lesions`, `isic2019`,
`isic2020`, `ham10000`):
- `features`: image, image_id, the class label, melanoma, age and sex;
- `read_flags`, `read_one_hot`: ground-truth CSVs of 0/1 columns (ISIC 2017 Part 3,
  ISIC 2019, ISIC 2018 Task 3) with the label-integrity checks (values 0 or 1 only,
  one row per image; one-hot: exactly one 1 per row);
- `age`, `text_or_unknown`: metadata with explicit unknowns (-1 / "unknown");
  `MetadataValues`: metadata CSV values as names of a ClassLabel (`SEXES`,
  `ISIC2019_SITES`, the builders' own sites), values outside them "unknown" and
  logged once per build.

For the grouped ones (`isic2019`, `isic2020`, `ham10000`), whose official data has
no labelled validation / test split: `GroupedBuilder` makes `train` / `validation`
/ `test` from the training images with `splits.grouped_split`, adds each official
test set as a whole split, and reads every split's images from its official zip
or zips (a `Part`), checked and resized once at build time; `read_weights` reads the
official scorer's per-image weights.
"""

import abc
import collections
import contextlib
import dataclasses

import numpy as np
import tensorflow_datasets as tfds
from absl import logging

from tfds_isic import archives, imaging, sources, splits

# The name a metadata ClassLabel stores where the CSV has no value, or one outside
# its names (`MetadataValues`); `skinkeras.data.metadata` leaves it out of the
# vocabulary that --metadata one-hot encodes over (issue 26).
UNKNOWN = "unknown"
# `sex` of every classification builder, a ClassLabel since isic2017 1.1.0, isic2019
# and isic2020 1.2.0, ham10000 1.5.0 and synthetic_lesions 1.1.0.
SEXES = ["female", "male", UNKNOWN]
# The values of ISIC 2019's `anatom_site_general` (its metadata CSVs), alphabetical;
# also synthetic_lesions' sites.
ISIC2019_SITES = [
    "anterior torso",
    "head/neck",
    "lateral torso",
    "lower extremity",
    "oral/genital",
    "palms/soles",
    "posterior torso",
    "upper extremity",
    UNKNOWN,
]


def features(labels, *, label="diagnosis", image_shape=(None, None, 3), **metadata):
    """FeaturesDict: image, image_id, `label` (a ClassLabel of `labels`), melanoma,
    age_approximate (-1 unknown), sex (a ClassLabel of `SEXES`) and `metadata`
    (features of the dataset's own, which may also replace these)."""
    return tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=image_shape, encoding_format="jpeg"),
            "image_id": tfds.features.Text(),
            label: tfds.features.ClassLabel(names=labels),
            "melanoma": tfds.features.ClassLabel(names=["other", "melanoma"]),
            "age_approximate": tfds.features.Scalar(dtype=np.int32),
            "sex": tfds.features.ClassLabel(names=SEXES),
            **metadata,
        }
    )


def read_flags(data, *, name, columns, key):
    """{row[key]: {column: bool}} of a CSV whose `columns` hold 0 or 1.

    Raises `archives.IntegrityError` naming the ids of repeated rows and of values
    other than 0 or 1 (a 0.9 or a 2.0 is no label).
    """
    rows = archives.rows_by_id(
        archives.read_csv(data, name=name, columns=[key, *columns]),
        name=name,
        key=key,
    )
    flags = {i: {c: flag(row[c]) for c in columns} for i, row in rows.items()}
    not_flags = [
        f"{image_id} {c}={rows[image_id][c]!r}"
        for image_id, values in flags.items()
        for c, value in values.items()
        if value is None
    ]
    archives.check_none(
        not_flags, f"{name}: labels must be 0 or 1 (0.0/1.0 in the official file)."
    )
    return flags


def read_one_hot(data, *, name, columns, key="image"):
    """{image id: column name} of a CSV with one 0/1 column per class.

    Raises `archives.IntegrityError` naming the ids of repeated rows, of values
    other than 0 or 1 and of rows without exactly one 1.
    """
    flags = read_flags(data, name=name, columns=columns, key=key)
    labels, not_one = {}, []
    for image_id, values in flags.items():
        ones = [c for c, value in values.items() if value]
        if len(ones) == 1:
            labels[image_id] = ones[0]
        else:
            not_one.append(f"{image_id} ({'+'.join(ones) or 'none'})")
    archives.check_none(
        not_one, f"{name}: each image has exactly one diagnosis (one 1 per row)."
    )
    return labels


def read_weights(data, *, name, column, key="image"):
    """{image id: float} of `column` of a CSV; {} when the header lacks it.

    The official scorer (isic-challenge-scoring, `parse_truth_csv`) reads its
    `score_weight` the same way: absent in older truth files, then every image
    weighs 1. Raises `archives.IntegrityError` naming the ids whose value is not a
    number >= 0.
    """
    rows = archives.read_csv(data, name=name, columns=[key])
    if not rows or column not in rows[0]:
        return {}
    weights, bad = {}, []
    for row in rows:
        try:
            weights[row[key]] = float(row[column])
        except (TypeError, ValueError):
            weights[row[key]] = -1.0
        if not weights[row[key]] >= 0:  # also NaN
            bad.append(f"{row[key]} {column}={row[column]!r}")
    archives.check_none(bad, f"{name}: {column} must be a number >= 0.")
    return weights


def flag(value):
    """True for 1, False for 0 ("1.0", "0", ...), None for any other value."""
    try:
        number = float(value)
    except (TypeError, ValueError):  # None: a short row
        return None
    return {0.0: False, 1.0: True}.get(number)


def age(value):
    """int age, or -1 when empty / "unknown" / not a number."""
    try:
        return int(float((value or "").strip()))
    except ValueError:
        return -1


class MetadataValues:
    """Reads one build's metadata CSV values as names of their ClassLabel.

    A value matches a name after stripping, in any case; an empty one is "unknown",
    as is one that matches no name, which is also counted per column for `warn`.
    A build must not die hours into its images over one odd value (a site a later
    release of a CSV adds), nor hide it.
    """

    def __init__(self):
        self.unexpected = collections.defaultdict(collections.Counter)

    def name(self, value, names, *, column):
        """The name of `names` (which hold `UNKNOWN`) that `value` is."""
        value = (value or "").strip()
        found = {n.lower(): n for n in names}.get(value.lower())
        if found is None:
            if value:
                self.unexpected[column][value] += 1
            return UNKNOWN
        return found

    def sex(self, value):
        """`value` of a `sex` column as one of `SEXES`."""
        return self.name(value, SEXES, column="sex")

    def warn(self, dataset):
        """Logs one warning naming each column's unexpected values with their
        counts, if any were read."""
        if not self.unexpected:
            return
        found = "; ".join(
            f"{column}: "
            + ", ".join(f"{value!r} ({n})" for value, n in counts.most_common())
            for column, counts in sorted(self.unexpected.items())
        )
        logging.warning(
            "%s: metadata values outside their feature's names, stored as %r: %s",
            dataset,
            UNKNOWN,
            found,
        )


def text_or_unknown(value):
    return (value or "").strip() or "unknown"


def split_ids(config, labels, groups):
    """{split: sorted ids}: `splits.grouped_split` with the config's settings."""
    assignment = splits.grouped_split(
        labels, groups, config.fractions, salt=config.salt
    )
    return {
        name: sorted(i for i, s in assignment.items() if s == name)
        for name, _ in config.fractions
    }


@dataclasses.dataclass(frozen=True)
class Part:
    """The images of one official zip (or several), and the rest of each of their
    examples.

    Attributes:
        zip_name: the zip's official file name, or a tuple of names where the
            images are spread over several zips (HAM10000's two on Dataverse),
            each id in one of them.
        examples: {image id: the example's features besides image and image_id};
            the zip must hold exactly these ids, once `skip` is left out.
        examples_name: the file these ids and features come from.
        skip: ids whose images the zip holds but that are no examples (ISIC
            2020's published duplicates).
    """

    zip_name: str | tuple
    examples: dict
    examples_name: str
    skip: frozenset = frozenset()

    @property
    def zip_names(self):
        """`zip_name` as a tuple."""
        name = self.zip_name
        return (name,) if isinstance(name, str) else tuple(name)


class GroupedBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A classification builder whose own `train` / `validation` / `test` are made
    from the official training images by `splits.grouped_split` (no lesion or
    patient in two splits), and whose official test sets are each a whole split.

    A dataset's `Builder` sets `FILES` (its official files, `sources.RemoteFile`s),
    `IMAGE_PATTERN` and `TOP_FOLDERS` where its zips differ, `_locate` where its
    files come in more than one layout, and reads its files in `_read_training`
    and `_read_official`. Every example's `diagnosis` is the class its split is
    stratified by.
    """

    BUILDER_CONFIGS = splits.size_configs()
    DEFAULT_CONFIG_NAME = "256"
    FILES = ()
    # Images are `ISIC_<id>.jpg`; LICENSE.txt and ATTRIBUTION.txt match nothing.
    IMAGE_PATTERN = r"(ISIC_\d+)\.jpg"
    # {zip name: the folder all its files lie in}, where that is not the zip's name
    # without `.zip` (as it is in the ISIC 2019 and 2018 zips); None: not checked.
    TOP_FOLDERS = {}

    @abc.abstractmethod
    def _read_training(self, paths, dl_manager, values):
        """`(Part, groups)` of the official training data, checked; `groups`:
        {image id: lesion or patient id, "" for none}. `values`: the build's
        `MetadataValues`."""

    @abc.abstractmethod
    def _read_official(self, paths, training, values):
        """{split name: Part} of the official test sets, checked (also against the
        training `Part` where they could share images)."""

    def _locate(self, dl_manager):
        """{name: path} of the files to read: `FILES`, by `sources.locate`."""
        return sources.locate(self, dl_manager, self.FILES)

    def _split_generators(self, dl_manager):
        paths = self._locate(dl_manager)
        values = MetadataValues()
        training, groups = self._read_training(paths, dl_manager, values)
        labels = {i: example["diagnosis"] for i, example in training.examples.items()}
        generators = {
            split: self._generate_examples(paths, training, ids)
            for split, ids in split_ids(self.builder_config, labels, groups).items()
        }
        for split, part in self._read_official(paths, training, values).items():
            ids = sorted(part.examples)
            generators[split] = self._generate_examples(paths, part, ids)
        # Every CSV is read by now, before the first image.
        values.warn(self.name)
        return generators

    def _generate_examples(self, paths, part, ids):
        """Examples of `ids`, each image from the zips of `part` (in `paths`):
        resized to the config's shorter side or, for None, the original bytes after
        a check that they decode."""
        with contextlib.ExitStack() as stack:
            zips = [
                (
                    stack.enter_context(archives.ZipArchive(paths[name], name=name)),
                    self.TOP_FOLDERS.get(name, name.removesuffix(".zip")),
                )
                for name in part.zip_names
            ]
            members = archives.find_images(
                zips,
                pattern=self.IMAGE_PATTERN,
                labels=part.examples,
                labels_name=part.examples_name,
                skip=part.skip,
            )
            for image_id in ids:
                archive, member = members[image_id]
                data = imaging.stored_image(
                    archive.read(member),
                    self.builder_config.shorter_side,
                    image_id=image_id,
                    archive=archive.name,
                )
                yield (
                    image_id,
                    {"image": data, "image_id": image_id, **part.examples[image_id]},
                )
