"""ham10000: HAM10000 as the ISIC 2018 Task 3 training set, splits grouped by lesion,
and the official Task 3 validation set (`challenge_validation`)."""

import numpy as np
import tensorflow_datasets as tfds

from tfds_isic import archives, classification, splits

_BASE_URL = "https://isic-challenge-data.s3.amazonaws.com/2018/"
_INPUT = "ISIC2018_Task3_Training_Input"
_TRUTH = "ISIC2018_Task3_Training_GroundTruth"
_GROUPINGS = "ISIC2018_Task3_Training_LesionGroupings.csv"
# The official validation set (issue 16), with its published ground truth; it has
# no lesion groupings.
_VALIDATION_INPUT = "ISIC2018_Task3_Validation_Input"
_VALIDATION_TRUTH = "ISIC2018_Task3_Validation_GroundTruth"
CHALLENGE_VALIDATION = "challenge_validation"
# The one-hot columns of the ground-truth CSV, in the official order.
DIAGNOSES = ["MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC"]
_IMAGE_PATTERN = r"(ISIC_\d+)\.jpg"  # LICENSE.txt and ATTRIBUTION.txt match nothing
# HAM10000's per-image metadata (issue 16): on Dataverse as `HAM10000_metadata`,
# served by file id only (no stable URL), so it is an optional manual file; copies
# elsewhere (Kaggle) name it `HAM10000_metadata.csv`. The first name found is read.
METADATA_NAMES = ("HAM10000_metadata.csv", "HAM10000_metadata")
_METADATA_COLUMNS = "lesion_id,image_id,dx,dx_type,age,sex,localization".split(",")

# No MD5 or size of the 2018 files is published: TFDS' own download checks apply.
FILES = [
    archives.RemoteFile(name, _BASE_URL + name)
    for name in (
        _INPUT + ".zip",
        _TRUTH + ".zip",
        _GROUPINGS,
        _VALIDATION_INPUT + ".zip",
        _VALIDATION_TRUTH + ".zip",
    )
]


class Builder(tfds.core.GeneratorBasedBuilder):
    """HAM10000 (ISIC 2018 Task 3 training): 7 diagnoses, lesion-grouped splits."""

    VERSION = tfds.core.Version("1.2.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release.",
        "1.1.0": "Split `challenge_validation`: the official ISIC 2018 Task 3 "
        "validation images with their published ground truth.",
        "1.2.0": "Features `age_approximate`, `sex`, `localization` from "
        "`HAM10000_metadata` when it is in --manual_dir (else unknown: -1 / "
        "'unknown'); `dx_type` falls back to it.",
    }
    BUILDER_CONFIGS = splits.size_configs()
    DEFAULT_CONFIG_NAME = "256"
    MANUAL_DOWNLOAD_INSTRUCTIONS = classification.manual_instructions(FILES, "2.8 GB")

    def _info(self):
        return self.dataset_info_from_configs(
            features=classification.features(
                DIAGNOSES,
                # histo / follow_up / consensus / confocal, or unknown.
                dx_type=tfds.features.Text(),
                lesion_id=tfds.features.Text(),
                # From HAM10000_metadata when present; -1 / "unknown" as isic2017.
                age_approximate=tfds.features.Scalar(dtype=np.int32),
                sex=tfds.features.Text(),
                localization=tfds.features.Text(),
            ),
            supervised_keys=("image", "diagnosis"),
            homepage="https://doi.org/10.7910/DVN/DBW86T",
        )

    def _split_generators(self, dl_manager):
        paths = classification.locate(self, dl_manager, FILES)
        labels = _read_truth(paths, _TRUTH)
        groupings = archives.rows_by_id(
            archives.read_csv(
                paths[_GROUPINGS].read_bytes(),
                name=_GROUPINGS,
                columns=["image", "lesion_id", "diagnosis_confirm_type"],
            ),
            name=_GROUPINGS,
            key="image",
        )
        archives.check_same_ids(
            labels, groupings, images_name=_truth_csv(_TRUTH), labels_name=_GROUPINGS
        )
        groups = {i: row["lesion_id"].strip() for i, row in groupings.items()}
        metadata = _read_metadata(
            archives.optional_manual_file(dl_manager, METADATA_NAMES), labels, groups
        )
        ids = classification.split_ids(self.builder_config, labels, groups)
        generators = {
            split: self._generate_examples(
                input_zip=paths[_INPUT + ".zip"],
                input_name=_INPUT,
                labels=labels,
                labels_name=_truth_csv(_TRUTH),
                groupings=groupings,
                metadata=metadata,
                ids=s_ids,
            )
            for split, s_ids in ids.items()
        }
        validation = _read_truth(paths, _VALIDATION_TRUTH)
        generators[CHALLENGE_VALIDATION] = self._generate_examples(
            input_zip=paths[_VALIDATION_INPUT + ".zip"],
            input_name=_VALIDATION_INPUT,
            labels=validation,
            labels_name=_truth_csv(_VALIDATION_TRUTH),
            groupings={},
            metadata={},
            ids=sorted(validation),
        )
        return generators

    def _generate_examples(
        self, input_zip, input_name, labels, labels_name, groupings, metadata, ids
    ):
        for image_id, data in classification.images(
            input_zip,
            name=input_name + ".zip",
            top_folder=input_name,
            pattern=_IMAGE_PATTERN,
            labels=labels,
            labels_name=labels_name,
            ids=ids,
            shorter_side=self.builder_config.shorter_side,
        ):
            # The validation set has no groupings and no metadata: unknowns.
            grouping = groupings.get(image_id, {})
            row = metadata.get(image_id, {})
            yield (
                image_id,
                {
                    "image": data,
                    "image_id": image_id,
                    "diagnosis": labels[image_id],
                    "melanoma": int(labels[image_id] == "MEL"),
                    "dx_type": classification.text_or_unknown(
                        (grouping.get("diagnosis_confirm_type") or "").strip()
                        or row.get("dx_type")
                    ),
                    "lesion_id": (grouping.get("lesion_id") or "").strip(),
                    "age_approximate": classification.age(row.get("age")),
                    "sex": classification.sex(row.get("sex")),
                    "localization": classification.text_or_unknown(
                        row.get("localization")
                    ),
                },
            )


def _truth_csv(truth):
    """The ground-truth CSV's member name in its official zip."""
    return f"{truth}/{truth}.csv"


def _read_truth(paths, truth):
    """{image: diagnosis} of the one-hot CSV inside the zip `truth`.zip, checked."""
    labels_name = _truth_csv(truth)
    with archives.ZipArchive(paths[truth + ".zip"], name=truth + ".zip") as z:
        z.check_top_folder(truth)
        if labels_name not in z.members:
            raise ValueError(
                f"{z.name} ({z.path}) lacks {labels_name}, the ground-truth CSV "
                f"of the official archive. Received: members="
                f"{archives.listing(z.members)}"
            )
        return classification.read_one_hot(
            z.read(labels_name), name=labels_name, columns=DIAGNOSES
        )


def _read_metadata(path, labels, groups):
    """{image_id: row} of HAM10000_metadata at `path`, {} when None.

    Checked against the Task 3 files already read: the same images, the same
    diagnosis (`dx`, lower case there) and the same `lesion_id` as the ground truth
    `labels` and lesion groupings `groups`; `archives.IntegrityError` names the file
    and the ids otherwise.
    """
    if path is None:
        return {}
    name = path.name
    rows = archives.rows_by_id(
        archives.read_csv(path.read_bytes(), name=name, columns=_METADATA_COLUMNS),
        name=name,
        key="image_id",
    )
    archives.check_same_ids(
        labels, rows, images_name=_truth_csv(_TRUTH), labels_name=name
    )
    disagree = []
    for image_id in sorted(rows):
        row = rows[image_id]
        dx = row["dx"].strip().upper()
        lesion = row["lesion_id"].strip()
        if dx != labels[image_id]:
            disagree.append(f"{image_id} dx={row['dx']!r} ({labels[image_id]})")
        if lesion != groups[image_id]:
            disagree.append(
                f"{image_id} lesion_id={row['lesion_id']!r} ({groups[image_id]!r})"
            )
    if disagree:
        raise archives.IntegrityError(
            f"{name} disagrees with {_truth_csv(_TRUTH)} (dx) or {_GROUPINGS} "
            f"(lesion_id), shown in parentheses. Received: "
            f"{archives.listing(disagree)}"
        )
    return rows
