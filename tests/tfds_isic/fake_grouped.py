"""Small archives laid out like the official ISIC 2019, ISIC 2020 and HAM10000
(ISIC 2018 Task 3, and as published on Harvard Dataverse) downloads, with lesion /
patient groups.

Used by the tests, by `benchmarks/build_isic2020.py` (an archive of ISIC 2020's
size) and to (re)write the builders' `dummy_data/`:

    python -m tests.tfds_isic.fake_grouped   # from the repository root
"""

import csv
import pathlib
import shutil
import zipfile

import numpy as np

from tests.tfds_isic.fake_isic import _csv, _lesion, folder_and_rng, jpeg, write_zip

ISIC2019_DIAGNOSES = ("MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK")
HAM10000_DIAGNOSES = ("MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC")


def _one_hot(label, names):
    return [f"{float(label == n)}" for n in names]


def grouped_labels(n, diagnoses, group_size=2):
    """[(image_id, diagnosis, group or "")]: groups of `group_size` images of one
    diagnosis (cycling through `diagnoses`), every 4th group without an id."""
    rows = []
    for k in range(n):
        group = k // group_size
        label = diagnoses[group % len(diagnoses)]
        group_id = "" if group % 4 == 3 else f"G_{group:07d}"
        rows.append((f"ISIC_{k:07d}", label, group_id))
    return rows


def _images(top, ids, rng, image_shape, extra=None):
    members = {f"{top}/{i}.jpg": jpeg(_lesion(rng, image_shape)[0]) for i in ids}
    return {**members, **(extra or {})}


ISIC2019_TEST = [  # (image, diagnosis, score_weight): UNK and a weight of 0 occur
    ("ISIC_0100000", "MEL", "1.0"),
    ("ISIC_0100001", "UNK", "1.0"),
    ("ISIC_0100002", "NV", "0.0"),
    ("ISIC_0100003", "SCC", "1.0"),
]


def write_isic2019_test(directory, *, image_shape=(48, 64), seed=1):
    """The three ISIC 2019 test files (`ISIC2019_TEST`)."""
    directory = pathlib.Path(directory)
    rng = np.random.default_rng(seed)
    top = "ISIC_2019_Test_Input"
    write_zip(
        directory / f"{top}.zip",
        _images(top, [i for i, _, _ in ISIC2019_TEST], rng, image_shape),
    )
    (directory / "ISIC_2019_Test_GroundTruth.csv").write_bytes(
        _csv(
            ["image", *ISIC2019_DIAGNOSES, "score_weight", "validation_weight"],
            [[i, *_one_hot(y, ISIC2019_DIAGNOSES), w, w] for i, y, w in ISIC2019_TEST],
        )
    )
    (directory / "ISIC_2019_Test_Metadata.csv").write_bytes(
        _csv(
            ["image", "age_approx", "anatom_site_general", "sex"],
            [
                [
                    i,
                    ("40.0", "")[k % 2],
                    ("palms/soles", "")[k % 2],
                    ("male", "")[k % 2],
                ]
                for k, (i, _, _) in enumerate(ISIC2019_TEST)
            ],
        )
    )


def write_isic2019(directory, n=24, *, image_shape=(48, 64), seed=0):
    """The three ISIC 2019 training files and the three test files
    (`write_isic2019_test`); returns the training [(id, diagnosis, lesion_id)]."""
    directory, rng = folder_and_rng(directory, seed)
    rows = grouped_labels(n, ISIC2019_DIAGNOSES[:3])
    # The MSK images' official names end in _downsampled.
    rows[1] = (rows[1][0] + "_downsampled", *rows[1][1:])
    top = "ISIC_2019_Training_Input"
    notes = {f"{top}/LICENSE.txt": b"CC-BY-NC\n", f"{top}/ATTRIBUTION.txt": b"ISIC\n"}
    write_zip(
        directory / f"{top}.zip",
        _images(top, [r[0] for r in rows], rng, image_shape, notes),
    )
    (directory / "ISIC_2019_Training_GroundTruth.csv").write_bytes(
        _csv(
            ["image", *ISIC2019_DIAGNOSES],
            [[i, *_one_hot(y, ISIC2019_DIAGNOSES)] for i, y, _ in rows],
        )
    )
    ages = ["55.0", "", "30.0", "85.0"]
    sites = ["anterior torso", "", "head/neck", "lower extremity"]
    sexes = ["male", "female", "", "female"]
    (directory / "ISIC_2019_Training_Metadata.csv").write_bytes(
        _csv(
            ["image", "age_approx", "anatom_site_general", "lesion_id", "sex"],
            [
                [i, ages[k % 4], sites[k % 4], g, sexes[k % 4]]
                for k, (i, _, g) in enumerate(rows)
            ],
        )
    )
    write_isic2019_test(directory, image_shape=image_shape)
    return rows


ISIC2020_DIAGNOSES = ("nevus", "unknown", "melanoma", "seborrheic keratosis")


def isic2020_rows(n, *, patients=None, seed=0):
    """[(image_name, patient_id, diagnosis)]: patients with geometric group sizes
    (mean about 16 images, as ISIC 2020's 33,126 images of 2,056 patients), 1.8 %
    melanoma, the rest mostly unknown."""
    rng = np.random.default_rng(seed)
    rows = []
    patient = 0
    while len(rows) < n:
        size = int(rng.geometric(1 / 16)) if patients is None else patients
        for _ in range(min(size, n - len(rows))):
            u = rng.random()
            diagnosis = (
                "melanoma"
                if u < 0.018
                else "nevus"
                if u < 0.17
                else "seborrheic keratosis"
                if u < 0.175
                else "unknown"
            )
            rows.append((f"ISIC_{len(rows):07d}", f"IP_{patient:07d}", diagnosis))
        patient += 1
    return rows


# The header line of the official ISIC_2020_Training_GroundTruth_v2.csv, verbatim:
# building from the fake checks the builder's column list against it, so it is
# written out here, not taken from the builder.
ISIC2020_TRUTH_HEADER = "image_name,patient_id,lesion_id,sex,age_approx,anatom_site_general_challenge,diagnosis,benign_malignant,target"


def isic2020_csvs(rows, duplicates=()):
    """(ground-truth v2 CSV, duplicates CSV) bytes of `rows`."""
    truth = _csv(
        ISIC2020_TRUTH_HEADER.split(","),
        [
            [
                i,
                p,
                f"IL_{k:07d}",
                ("male", "female", "")[k % 3],
                ("45.0", "", "70.0")[k % 3],
                ("torso", "", "head/neck")[k % 3],
                y,
                "malignant" if y == "melanoma" else "benign",
                int(y == "melanoma"),
            ]
            for k, (i, p, y) in enumerate(rows)
        ],
    )
    pairs = _csv(["image_name_1", "image_name_2"], [list(p) for p in duplicates])
    return truth, pairs


ISIC2020_TEST = ["ISIC_0200000", "ISIC_0200001", "ISIC_0200002"]


def write_isic2020_test(directory, ids=ISIC2020_TEST, *, image_shape=(48, 64)):
    """The two ISIC 2020 test files: JPEGs and metadata, no labels."""
    rng = np.random.default_rng(2)
    write_zip(
        pathlib.Path(directory) / "ISIC_2020_Test_JPEG.zip",
        _images("ISIC_2020_Test_Input", ids, rng, image_shape),
    )
    (pathlib.Path(directory) / "ISIC_2020_Test_Metadata.csv").write_bytes(
        _csv(
            ["image", "patient", "sex", "age_approx", "anatom_site_general"],
            [
                [
                    i,
                    f"IP_{9000000 + k}",
                    ("female", "")[k % 2],
                    ("60.0", "")[k % 2],
                    ("torso", "")[k % 2],
                ]
                for k, i in enumerate(ids)
            ],
        )
    )


def write_isic2020(
    directory, rows=None, *, image_shape=(48, 64), seed=0, test_ids=ISIC2020_TEST
):
    """The three ISIC 2020 training files: `rows` plus one published duplicate
    (ISIC_9999999, a copy of the first image), and the test files of `test_ids`
    (`write_isic2020_test`). Returns `rows`."""
    directory, rng = folder_and_rng(directory, seed)
    if rows is None:
        rows = [
            (f"ISIC_{k:07d}", f"IP_{k // 2:07d}", ISIC2020_DIAGNOSES[(k // 2) % 3])
            for k in range(24)
        ]
    duplicate = ("ISIC_9999999", rows[0][1], rows[0][2])
    members = _images("train", [r[0] for r in rows], rng, image_shape)
    members["train/ISIC_9999999.jpg"] = members[f"train/{rows[0][0]}.jpg"]
    write_zip(directory / "ISIC_2020_Training_JPEG.zip", members)
    truth, pairs = isic2020_csvs([*rows, duplicate], [(rows[0][0], duplicate[0])])
    (directory / "ISIC_2020_Training_GroundTruth_v2.csv").write_bytes(truth)
    (directory / "ISIC_2020_Training_Duplicates.csv").write_bytes(pairs)
    write_isic2020_test(directory, test_ids, image_shape=image_shape)
    return rows


HAM10000_VALIDATION = [("ISIC_0300000", "MEL"), ("ISIC_0300001", "DF")]
HAM10000_TEST = [
    ("ISIC_0310000", "NV"),
    ("ISIC_0310001", "BKL"),
    ("ISIC_0310002", "VASC"),
]


def _write_ham10000_part(directory, part, rows, rng, image_shape):
    """ISIC2018_Task3_<part>_Input.zip and _GroundTruth.zip of [(id, diagnosis)]."""
    top = f"ISIC2018_Task3_{part}_Input"
    notes = {f"{top}/LICENSE.txt": b"CC-BY-NC\n", f"{top}/ATTRIBUTION.txt": b"ISIC\n"}
    write_zip(
        directory / f"{top}.zip",
        _images(top, [i for i, _ in rows], rng, image_shape, notes),
    )
    truth = f"ISIC2018_Task3_{part}_GroundTruth"
    write_zip(
        directory / f"{truth}.zip",
        {
            f"{truth}/{truth}.csv": _csv(
                ["image", *HAM10000_DIAGNOSES],
                [[i, *_one_hot(y, HAM10000_DIAGNOSES)] for i, y in rows],
            ),
            f"{truth}/LICENSE.txt": b"CC-BY-NC\n",
        },
    )


# HAM10000_metadata values per image k (k % 4), with what the builder stores:
# an empty age and an "unknown" sex / localization occur in the Dataverse file.
HAM10000_METADATA = [  # (age, sex, localization) as written -> as stored
    (("45.0", "male", "back"), (45, "male", "back")),
    (("80.0", "female", "lower extremity"), (80, "female", "lower extremity")),
    (("", "unknown", "unknown"), (-1, "unknown", "unknown")),
    (("5.0", "male", "face"), (5, "male", "face")),
]


def write_ham10000_metadata(path, rows):
    """HAM10000_metadata (Dataverse header) for the training rows of
    `write_ham10000`: the same ids, diagnoses, lesion ids and dx_types."""
    types = ["histo", "follow_up", "consensus", ""]
    pathlib.Path(path).write_bytes(
        _csv(
            ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"],
            [
                [g, i, y.lower(), types[k % 4], *HAM10000_METADATA[k % 4][0]]
                for k, (i, y, g) in enumerate(rows)
            ],
        )
    )


def write_ham10000(
    directory, n=24, *, image_shape=(48, 64), seed=0, metadata="HAM10000_metadata.csv"
):
    """The three ISIC 2018 Task 3 training files (HAM10000), the two validation
    files (`HAM10000_VALIDATION`), the two test files (`HAM10000_TEST`) and,
    unless `metadata` is None, HAM10000's metadata under that name; returns the
    training rows."""
    directory, rng = folder_and_rng(directory, seed)
    rows = grouped_labels(n, HAM10000_DIAGNOSES[:3])
    rows = [(i, y, g.replace("G_", "HAM_")) for i, y, g in rows]
    _write_ham10000_part(
        directory, "Training", [(i, y) for i, y, _ in rows], rng, image_shape
    )
    types = ["histo", "follow_up", "consensus", ""]
    (directory / "ISIC2018_Task3_Training_LesionGroupings.csv").write_bytes(
        _csv(
            ["image", "lesion_id", "diagnosis_confirm_type"],
            [[i, g, types[k % 4]] for k, (i, _, g) in enumerate(rows)],
        )
    )
    _write_ham10000_part(directory, "Validation", HAM10000_VALIDATION, rng, image_shape)
    _write_ham10000_part(directory, "Test", HAM10000_TEST, rng, image_shape)
    if metadata is not None:
        write_ham10000_metadata(directory / metadata, rows)
    return rows


HAM10000_DATAVERSE_IMAGES = (
    "HAM10000_images_part_1.zip",
    "HAM10000_images_part_2.zip",
)


def write_ham10000_dataverse(directory, task3, *, metadata="HAM10000_metadata.csv"):
    """HAM10000 as published on Harvard Dataverse, made from the files that
    `write_ham10000` wrote (with its metadata) into `task3`: the same training
    images split over the two image zips (part 1 at the zip's root, part 2 in a
    folder: copies differ), the metadata under the name `metadata` with the
    Dataverse file's 8th column `dataset` (the source cohort), and the four
    official validation and test files, copied."""
    directory, task3 = pathlib.Path(directory), pathlib.Path(task3)
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(task3 / "ISIC2018_Task3_Training_Input.zip") as archive:
        images = {
            name.rsplit("/", 1)[-1]: archive.read(name)
            for name in sorted(archive.namelist())
            if name.endswith(".jpg")
        }
    names = sorted(images)
    first, second = names[: len(names) // 2], names[len(names) // 2 :]
    write_zip(directory / HAM10000_DATAVERSE_IMAGES[0], {n: images[n] for n in first})
    write_zip(
        directory / HAM10000_DATAVERSE_IMAGES[1],
        {f"HAM10000_images_part_2/{n}": images[n] for n in second},
    )
    with open(task3 / "HAM10000_metadata.csv", newline="") as f:
        header, *rows = list(csv.reader(f))
    (directory / metadata).write_bytes(
        _csv([*header, "dataset"], [[*row, "vidir_modern"] for row in rows])
    )
    for part in ("Validation", "Test"):
        for kind in ("Input", "GroundTruth"):
            name = f"ISIC2018_Task3_{part}_{kind}.zip"
            shutil.copyfile(task3 / name, directory / name)


if __name__ == "__main__":
    root = pathlib.Path(__file__).resolve().parents[2] / "tfds_isic"
    write_isic2019(root / "isic2019" / "dummy_data")
    write_isic2020(root / "isic2020" / "dummy_data")
    write_ham10000(root / "ham10000" / "dummy_data")
