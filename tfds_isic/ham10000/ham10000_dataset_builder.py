"""ham10000: HAM10000 as the ISIC 2018 Task 3 training set or as its authors publish
it on Harvard Dataverse, splits grouped by lesion, and the official Task 3
validation and test sets (`challenge_validation`, `challenge_test`)."""

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
# No MD5 or size of the 2018 files is published: TFDS' own download checks apply.
TRAINING_FILES = [
    sources.RemoteFile(name, _BASE_URL + name)
    for name in (_INPUT + ".zip", _TRUTH + ".zip", _GROUPINGS)
]
OFFICIAL_FILES = [
    sources.RemoteFile(name + ".zip", _BASE_URL + name + ".zip")
    for pair in CHALLENGE_SPLITS.values()
    for name in pair
]
FILES = [*TRAINING_FILES, *OFFICIAL_FILES]
# HAM10000 as its authors publish it (issue 24), what most users already have: the
# same 10,015 images in two zips, labels (`dx`) and lesions (`lesion_id`) in its
# metadata. Dataverse serves its files by file id only (no stable URL), so they are
# read from --manual_dir, never downloaded. The metadata alone is also read beside
# the Task 3 files (issue 16); copies (Kaggle) name it `HAM10000_metadata.csv`,
# descriptions of the Dataverse `HAM10000_metadata`: the first found is read.
DATAVERSE_URL = "https://doi.org/10.7910/DVN/DBW86T"
DATAVERSE_IMAGES = ("HAM10000_images_part_1.zip", "HAM10000_images_part_2.zip")
METADATA = sources.RemoteFile(
    "HAM10000_metadata.csv", DATAVERSE_URL, aliases=("HAM10000_metadata",)
)
DATAVERSE_FILES = [
    *(sources.RemoteFile(name, DATAVERSE_URL) for name in DATAVERSE_IMAGES),
    METADATA,
]
_METADATA_COLUMNS = "lesion_id,image_id,dx,dx_type,age,sex,localization".split(",")
# The values of HAM10000_metadata's `localization`, alphabetical; its own "unknown"
# is the ClassLabel's.
LOCALIZATIONS = [
    "abdomen",
    "acral",
    "back",
    "chest",
    "ear",
    "face",
    "foot",
    "genital",
    "hand",
    "lower extremity",
    "neck",
    "scalp",
    "trunk",
    "upper extremity",
    classification.UNKNOWN,
]
_DATAVERSE = (
    "HAM10000 as published on Harvard Dataverse ("
    + ", ".join(f.name for f in DATAVERSE_FILES)
    + ") also builds, in place of the three ISIC2018_Task3_Training files."
)


class Builder(classification.GroupedBuilder):
    """HAM10000 (ISIC 2018 Task 3 training): 7 diagnoses, lesion-grouped splits."""

    VERSION = tfds.core.Version("1.5.0")
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
        "1.4.0": "Also builds from HAM10000 as published on Harvard Dataverse "
        "(two image zips and HAM10000_metadata.csv in --manual_dir) in place of "
        "the Task 3 training files: the same examples.",
        "1.5.0": "`sex` and `localization` are ClassLabels (HAM10000_metadata's "
        "values, with its unknown), for --metadata (issue 26); a value outside "
        "them is stored as unknown and logged.",
    }
    MANUAL_DOWNLOAD_INSTRUCTIONS = sources.manual_instructions(
        FILES,
        download_size="the image zip is about 3.1 GB",
        alternative=(f"{_DATAVERSE} From {DATAVERSE_URL}:", DATAVERSE_FILES),
    )
    FILES = FILES
    # Copies of the Dataverse zips hold the images at the root or in a folder.
    TOP_FOLDERS = dict.fromkeys(DATAVERSE_IMAGES)

    def _info(self):
        return self.dataset_info_from_configs(
            features=classification.features(
                DIAGNOSES,
                # histo / follow_up / consensus / confocal, or unknown.
                dx_type=tfds.features.Text(),
                lesion_id=tfds.features.Text(),
                # Like age_approximate and sex, from HAM10000_metadata when
                # present; -1 / "unknown" as isic2017.
                localization=tfds.features.ClassLabel(names=LOCALIZATIONS),
            ),
            supervised_keys=("image", "diagnosis"),
            homepage=DATAVERSE_URL,
        )

    def _locate(self, dl_manager):
        """The Dataverse files and `OFFICIAL_FILES` where one of its image zips is
        in the manual dir and no Task 3 training file is, else `FILES`."""
        task3 = sources.in_manual_dir(dl_manager, TRAINING_FILES)
        if task3 or not sources.in_manual_dir(dl_manager, DATAVERSE_FILES[:2]):
            return sources.locate(self, dl_manager, FILES, alternative=_DATAVERSE)
        return sources.require_manual(
            dl_manager,
            [*DATAVERSE_FILES, *OFFICIAL_FILES],
            advice="HAM10000 from Harvard Dataverse needs both image zips, its "
            "metadata as CSV (not Dataverse's .tab conversion) and, for the "
            "official splits, the four ISIC2018_Task3 Validation and Test files "
            "(~450 MB); nothing is downloaded while --manual_dir holds its zips.",
        )

    def _read_training(self, paths, dl_manager, values):
        if DATAVERSE_IMAGES[0] in paths:
            # The metadata holds the labels and lesions (and its own dx_type).
            path = paths[METADATA.name]
            rows, labels, groups = _read_metadata(path)
            confirm_types, zips, name = {}, DATAVERSE_IMAGES, path.name
        else:
            labels, groups, confirm_types = _read_task3(paths)
            path = sources.in_manual_dir(dl_manager, [METADATA]).get(METADATA.name)
            rows = {} if path is None else _check_metadata(path, labels, groups)
            zips, name = _INPUT + ".zip", _truth_csv(_TRUTH)
        examples = {
            i: _features(
                label,
                rows.get(i, {}),
                groups[i],
                values,
                dx_type=confirm_types.get(i),
            )
            for i, label in labels.items()
        }
        return classification.Part(zips, examples, examples_name=name), groups

    def _read_official(self, paths, training, values):
        official = {}
        for split, (input_name, truth) in CHALLENGE_SPLITS.items():
            labels = _read_truth(paths, truth)
            _check_apart(labels, _truth_csv(truth), training)
            # The official sets have no groupings and no metadata: unknowns.
            examples = {
                i: _features(label, {}, "", values) for i, label in labels.items()
            }
            official[split] = classification.Part(
                input_name + ".zip", examples, examples_name=_truth_csv(truth)
            )
        return official


def _features(label, row, lesion_id, values, *, dx_type=None):
    """An example's features from its label, its row of HAM10000_metadata ({}
    where there is none), its lesion and how its diagnosis was confirmed (the
    groupings' `diagnosis_confirm_type`; empty or None: the row's `dx_type`); sex
    and localization read by `values` (`classification.MetadataValues`)."""
    return {
        "diagnosis": label,
        "melanoma": int(label == "MEL"),
        "dx_type": classification.text_or_unknown(
            (dx_type or "").strip() or row.get("dx_type")
        ),
        "lesion_id": lesion_id,
        "age_approximate": classification.age(row.get("age")),
        "sex": values.sex(row.get("sex")),
        "localization": values.name(
            row.get("localization"), LOCALIZATIONS, column="localization"
        ),
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


def _read_task3(paths):
    """`(labels, groups, confirm_types)`, each {image: value}, of the Task 3
    ground truth and lesion groupings, checked: the same images in both."""
    labels = _read_truth(paths, _TRUTH)
    groupings = archives.read_rows(
        paths[_GROUPINGS].read_bytes(),
        name=_GROUPINGS,
        columns=["image", "lesion_id", "diagnosis_confirm_type"],
        key="image",
    )
    archives.check_same_ids(
        labels, groupings, images_name=_truth_csv(_TRUTH), labels_name=_GROUPINGS
    )
    groups = {i: row["lesion_id"].strip() for i, row in groupings.items()}
    types = {i: row["diagnosis_confirm_type"] for i, row in groupings.items()}
    return labels, groups, types


def _check_apart(official, official_name, training):
    """Raises `archives.IntegrityError` naming the ids of the official validation
    or test ground truth `official` that are also images of the training `Part`:
    the made splits and the official ones must never share an image."""
    archives.check_none(
        set(official) & set(training.examples),
        f"{official_name} and {training.examples_name} share images; an official "
        "validation or test image must not be a training image.",
    )


def _read_metadata(path):
    """`(rows, labels, groups)` of HAM10000_metadata at `path`: {image_id: row},
    {image_id: diagnosis} (`dx`, lower case there) and {image_id: lesion_id}.

    Raises `archives.IntegrityError` naming the ids of repeated rows and of a `dx`
    that is no diagnosis.
    """
    rows = archives.read_rows(
        path.read_bytes(), name=path.name, columns=_METADATA_COLUMNS, key="image_id"
    )
    labels = {i: row["dx"].strip().upper() for i, row in rows.items()}
    archives.check_none(
        [f"{i} dx={rows[i]['dx']!r}" for i, y in labels.items() if y not in DIAGNOSES],
        f"{path.name}: dx must be one of {', '.join(map(str.lower, DIAGNOSES))}.",
    )
    return rows, labels, {i: row["lesion_id"].strip() for i, row in rows.items()}


def _check_metadata(path, labels, groups):
    """The rows of HAM10000_metadata at `path` ({image_id: row}), checked against
    the Task 3 files: the same images, diagnoses (`labels`) and lesions (`groups`);
    `archives.IntegrityError` names the file and the ids otherwise."""
    rows, dx, lesions = _read_metadata(path)
    archives.check_same_ids(
        labels, rows, images_name=_truth_csv(_TRUTH), labels_name=path.name
    )
    archives.check_none(
        [f"{i} dx={rows[i]['dx']!r} ({labels[i]})" for i in rows if dx[i] != labels[i]]
        + [
            f"{i} lesion_id={rows[i]['lesion_id']!r} ({groups[i]!r})"
            for i in rows
            if lesions[i] != groups[i]
        ],
        f"{path.name} disagrees with {_truth_csv(_TRUTH)} (dx) or {_GROUPINGS} "
        "(lesion_id), shown in parentheses.",
    )
    return rows
