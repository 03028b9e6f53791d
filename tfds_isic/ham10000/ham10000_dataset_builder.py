"""ham10000: HAM10000 as the ISIC 2018 Task 3 training set, splits grouped by lesion,
and the official Task 3 validation and test sets (`challenge_validation`,
`challenge_test`)."""

import tensorflow_datasets as tfds

from tfds_isic import archives, classification, sources

_BASE_URL = "https://isic-challenge-data.s3.amazonaws.com/2018/"
_INPUT = "ISIC2018_Task3_Training_Input"
_TRUTH = "ISIC2018_Task3_Training_GroundTruth"
_GROUPINGS = "ISIC2018_Task3_Training_LesionGroupings.csv"
# The official validation and test sets (issue 16), each whole, with its published
# ground truth (the test's is linked from the challenge's data page since stade
# bc36a40, see README); neither has lesion groupings. {split: (input, truth)}.
CHALLENGE_VALIDATION = "challenge_validation"
CHALLENGE_TEST = "challenge_test"
CHALLENGE_SPLITS = {
    CHALLENGE_VALIDATION: (
        "ISIC2018_Task3_Validation_Input",
        "ISIC2018_Task3_Validation_GroundTruth",
    ),
    CHALLENGE_TEST: ("ISIC2018_Task3_Test_Input", "ISIC2018_Task3_Test_GroundTruth"),
}
# The one-hot columns of the ground-truth CSV, in the official order.
DIAGNOSES = ["MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC"]
# HAM10000's per-image metadata (issue 16): on Dataverse as `HAM10000_metadata`,
# served by file id only (no stable URL), so it is an optional manual file; copies
# elsewhere (Kaggle) name it `HAM10000_metadata.csv`. The first name found is read.
METADATA = sources.RemoteFile(
    "HAM10000_metadata.csv",
    "https://doi.org/10.7910/DVN/DBW86T",
    aliases=("HAM10000_metadata",),
)
_METADATA_COLUMNS = "lesion_id,image_id,dx,dx_type,age,sex,localization".split(",")

# No MD5 or size of the 2018 files is published: TFDS' own download checks apply.
FILES = [
    sources.RemoteFile(name, _BASE_URL + name)
    for name in (
        _INPUT + ".zip",
        _TRUTH + ".zip",
        _GROUPINGS,
        *(name + ".zip" for pair in CHALLENGE_SPLITS.values() for name in pair),
    )
]


class Builder(classification.GroupedBuilder):
    """HAM10000 (ISIC 2018 Task 3 training): 7 diagnoses, lesion-grouped splits."""

    VERSION = tfds.core.Version("1.3.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release.",
        "1.1.0": "Split `challenge_validation`: the official ISIC 2018 Task 3 "
        "validation images with their published ground truth.",
        "1.2.0": "Features `age_approximate`, `sex`, `localization` from "
        "`HAM10000_metadata` when it is in --manual_dir (else unknown: -1 / "
        "'unknown'); `dx_type` falls back to it.",
        "1.3.0": "Split `challenge_test`: the official ISIC 2018 Task 3 test "
        "images (1512) with their published ground truth; an image id in the "
        "training files and in an official split stops the build.",
    }
    MANUAL_DOWNLOAD_INSTRUCTIONS = sources.manual_instructions(
        FILES, download_size="the image zip is about 3.1 GB"
    )
    FILES = FILES

    def _info(self):
        return self.dataset_info_from_configs(
            features=classification.features(
                DIAGNOSES,
                # histo / follow_up / consensus / confocal, or unknown.
                dx_type=tfds.features.Text(),
                lesion_id=tfds.features.Text(),
                # Like age_approximate and sex, from HAM10000_metadata when
                # present; -1 / "unknown" as isic2017.
                localization=tfds.features.Text(),
            ),
            supervised_keys=("image", "diagnosis"),
            homepage="https://doi.org/10.7910/DVN/DBW86T",
        )

    def _read_training(self, paths, dl_manager):
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
            sources.in_manual_dir(dl_manager, [METADATA]).get(METADATA.name),
            labels,
            groups,
        )
        examples = {
            i: _features(label, groupings[i], metadata.get(i, {}))
            for i, label in labels.items()
        }
        part = classification.Part(
            _INPUT + ".zip", examples, examples_name=_truth_csv(_TRUTH)
        )
        return part, groups

    def _read_official(self, paths, training):
        official = {}
        for split, (input_name, truth) in CHALLENGE_SPLITS.items():
            labels = _read_truth(paths, truth)
            _check_apart(labels, _truth_csv(truth), training.examples)
            # The official sets have no groupings and no metadata: unknowns.
            examples = {i: _features(label, {}, {}) for i, label in labels.items()}
            official[split] = classification.Part(
                input_name + ".zip", examples, examples_name=_truth_csv(truth)
            )
        return official


def _features(label, grouping, row):
    """An example's features from its label, its row of the lesion groupings and
    its row of HAM10000_metadata ({} where there is none)."""
    return {
        "diagnosis": label,
        "melanoma": int(label == "MEL"),
        "dx_type": classification.text_or_unknown(
            (grouping.get("diagnosis_confirm_type") or "").strip() or row.get("dx_type")
        ),
        "lesion_id": (grouping.get("lesion_id") or "").strip(),
        "age_approximate": classification.age(row.get("age")),
        "sex": classification.sex(row.get("sex")),
        "localization": classification.text_or_unknown(row.get("localization")),
    }


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


def _check_apart(official, official_name, training):
    """Raises `archives.IntegrityError` naming the ids of the official validation
    or test ground truth `official` that are also training images: the made
    splits and the official ones must never share an image."""
    archives.check_none(
        set(official) & set(training),
        f"{official_name} and {_truth_csv(_TRUTH)} share images; an official "
        "validation or test image must not be a training image.",
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
    archives.check_none(
        disagree,
        f"{name} disagrees with {_truth_csv(_TRUTH)} (dx) or {_GROUPINGS} "
        "(lesion_id), shown in parentheses.",
    )
    return rows
