"""isic2020: SIIM-ISIC 2020 challenge data, splits grouped by patient, and the
official test images as the unlabelled split `challenge_test`."""

import tensorflow_datasets as tfds

from tfds_isic import archives, classification, sources

_BASE_URL = "https://isic-challenge-data.s3.amazonaws.com/2020/"
_INPUT = "ISIC_2020_Training_JPEG.zip"
_GROUND_TRUTH = "ISIC_2020_Training_GroundTruth_v2.csv"
_DUPLICATES = "ISIC_2020_Training_Duplicates.csv"
_COLUMNS = [
    "image_name",
    "patient_id",
    "lesion_id",
    "sex",
    "age_approx",
    "anatom_site_general_challenge",
    "diagnosis",
    "benign_malignant",
    "target",
]
# The `diagnosis` values of the training CSV, most frequent first (the challenge
# publishes no order of its own).
DIAGNOSES = [
    "unknown",
    "nevus",
    "melanoma",
    "seborrheic keratosis",
    "lentigo NOS",
    "lichenoid keratosis",
    "solar lentigo",
    "cafe-au-lait macule",
    "atypical melanocytic proliferation",
]
# The official test set (issue 16): 10,982 images whose ground truth is not
# published ("not available" on the challenge's data page), so its split has no
# labels: diagnosis and melanoma -1, TFDS' "no label".
_TEST_INPUT = "ISIC_2020_Test_JPEG.zip"
_TEST_METADATA = "ISIC_2020_Test_Metadata.csv"
CHALLENGE_TEST = "challenge_test"
NO_LABEL = -1
# A public copy of the test metadata has `image,patient,age_approx,
# anatom_site_general,sex` (README.md, Sources); the training file's names are
# accepted too, and an absent column gives unknown.
_TEST_PATIENT = ("patient_id", "patient")
_TEST_SITE = ("anatom_site_general_challenge", "anatom_site_general")
# The values of the sites (`anatom_site_general_challenge`, and the test metadata's
# site column), alphabetical: ISIC 2020 has one torso, ISIC 2019 three parts of it.
SITES = [
    "head/neck",
    "lower extremity",
    "oral/genital",
    "palms/soles",
    "torso",
    "upper extremity",
    classification.UNKNOWN,
]

# No MD5 or size of the 2020 files is published: TFDS' own download checks apply.
FILES = [
    sources.RemoteFile(name, _BASE_URL + name)
    for name in (_INPUT, _GROUND_TRUTH, _DUPLICATES, _TEST_INPUT, _TEST_METADATA)
]


class Builder(classification.GroupedBuilder):
    """SIIM-ISIC 2020: dermoscopic images, melanoma or not, patient-grouped splits."""

    VERSION = tfds.core.Version("1.2.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release.",
        "1.1.0": "Split `challenge_test`: the official test images, unlabelled "
        "(diagnosis and melanoma -1).",
        "1.2.0": "`sex` and `anatom_site_general` are ClassLabels (the official "
        "values, then unknown), for --metadata (issue 26); a value outside them "
        "is stored as unknown and logged.",
    }
    # Splits without labels: `skinkeras.data` refuses them for training and
    # evaluation (their labels are -1).
    UNLABELLED_SPLITS = (CHALLENGE_TEST,)
    MANUAL_DOWNLOAD_INSTRUCTIONS = sources.manual_instructions(
        FILES, download_size="the image zip is about 23 GB, the test zip 6.7 GB"
    )
    FILES = FILES
    # The official zips hold train/ISIC_<id>.jpg and ISIC_2020_Test_Input/...
    TOP_FOLDERS = {_INPUT: "train", _TEST_INPUT: "ISIC_2020_Test_Input"}

    def _info(self):
        return self.dataset_info_from_configs(
            features=classification.features(
                DIAGNOSES,
                anatom_site_general=tfds.features.ClassLabel(names=SITES),
                patient_id=tfds.features.Text(),
                lesion_id=tfds.features.Text(),
            ),
            supervised_keys=("image", "melanoma"),
            homepage="https://challenge.isic-archive.com/landing/2020/",
        )

    def _read_training(self, paths, dl_manager, values):
        del dl_manager  # every file is an official download
        rows = read_ground_truth(paths[_GROUND_TRUTH].read_bytes(), name=_GROUND_TRUTH)
        duplicates = read_duplicates(paths[_DUPLICATES].read_bytes(), name=_DUPLICATES)
        # The second image of each published pair goes; subsets may lack either.
        rows = {i: row for i, row in rows.items() if i not in duplicates}
        examples = {i: _training_features(row, values) for i, row in rows.items()}
        part = classification.Part(
            _INPUT, examples, examples_name=_GROUND_TRUTH, skip=duplicates
        )
        return part, {i: row["patient_id"].strip() for i, row in rows.items()}

    def _read_official(self, paths, training, values):
        del training  # unused
        rows = read_test_metadata(
            paths[_TEST_METADATA].read_bytes(), name=_TEST_METADATA
        )
        examples = {i: _test_features(row, values) for i, row in rows.items()}
        part = classification.Part(_TEST_INPUT, examples, examples_name=_TEST_METADATA)
        return {CHALLENGE_TEST: part}


def _training_features(row, values):
    return {
        "diagnosis": row["diagnosis"],
        "melanoma": int(row["target"]),
        "age_approximate": classification.age(row["age_approx"]),
        "sex": values.sex(row["sex"]),
        "anatom_site_general": values.name(
            row["anatom_site_general_challenge"],
            SITES,
            column="anatom_site_general_challenge",
        ),
        "patient_id": row["patient_id"].strip(),
        "lesion_id": row["lesion_id"].strip(),
    }


def _test_features(row, values):
    """No label (-1) and the metadata under whichever known column name it has."""
    site = _column(row, _TEST_SITE)
    return {
        "diagnosis": NO_LABEL,
        "melanoma": NO_LABEL,
        "age_approximate": classification.age(row.get("age_approx")),
        "sex": values.sex(row.get("sex")),
        "anatom_site_general": values.name(row.get(site), SITES, column=site),
        "patient_id": (row.get(_column(row, _TEST_PATIENT)) or "").strip(),
        "lesion_id": "",
    }


def _column(row, names):
    """The first of `names` that is a column of `row`, else the first of them (an
    absent column: its values are None)."""
    return next((n for n in names if n in row), names[0])


def read_test_metadata(data, *, name):
    """{image: row} of the test metadata CSV; one row per image (checked)."""
    return archives.rows_by_id(
        archives.read_csv(data, name=name, columns=["image"]), name=name, key="image"
    )


def read_ground_truth(data, *, name):
    """{image_name: row} of the v2 training CSV, checked.

    Raises `archives.IntegrityError` naming the ids of repeated rows, of a
    `diagnosis` outside `DIAGNOSES`, of a `target` other than 0 or 1, and of rows
    where `target`, `benign_malignant` and `diagnosis` disagree (in the official
    file target = 1 exactly for the malignant images, which are the melanomas).
    """
    rows = archives.rows_by_id(
        archives.read_csv(data, name=name, columns=_COLUMNS),
        name=name,
        key="image_name",
    )
    problems = []
    for image_id, row in rows.items():
        target = (row["target"] or "").strip()
        diagnosis, malignancy = row["diagnosis"], row["benign_malignant"]
        if diagnosis not in DIAGNOSES:
            problems.append(f"{image_id} diagnosis={diagnosis!r}")
        elif target not in ("0", "1"):
            problems.append(f"{image_id} target={row['target']!r}")
        elif (malignancy, diagnosis == "melanoma") != (
            ("malignant", True) if target == "1" else ("benign", False)
        ):
            problems.append(
                f"{image_id} target={target} benign_malignant={malignancy!r} "
                f"diagnosis={diagnosis!r}"
            )
    archives.check_none(
        problems,
        f"{name}: diagnosis must be one of {', '.join(DIAGNOSES)}; target 0 or 1, "
        "1 exactly for benign_malignant=malignant and diagnosis=melanoma.",
    )
    return rows


def read_duplicates(data, *, name):
    """The set of `image_name_2` of the published duplicate pairs."""
    rows = archives.read_csv(data, name=name, columns=["image_name_1", "image_name_2"])
    return {row["image_name_2"].strip() for row in rows}
