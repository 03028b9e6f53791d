"""isic2019, isic2020, ham10000: builder harness over dummy_data, no lesion or
patient in two splits, labels and metadata against the source CSVs, duplicates
removed, official file names, and the label-integrity checks."""

import collections
import os
from unittest import mock

import pytest
import tensorflow_datasets as tfds

import tfds_isic  # noqa: F401  (registers the builders)
from tests.tfds_isic import fake_grouped
from tests.tfds_isic.helpers import (
    HAM10000_LOCALIZATIONS,
    ISIC2019_SITES,
    ISIC2020_SITES,
    SEXES,
    build,
    examples,
    integrity_error,
    replace_rows,
    rewrite_csv,
    rewrite_zip,
)
from tfds_isic import settings
from tfds_isic.ham10000 import ham10000_dataset_builder as ham10000
from tfds_isic.isic2019 import isic2019_dataset_builder as isic2019
from tfds_isic.isic2020 import isic2020_dataset_builder as isic2020

SPLITS = ("train", "validation", "test")


class _SkipMd5:
    def setUp(self):
        super().setUp()
        self.enter_context(mock.patch.dict(os.environ, {settings.SKIP_MD5_ENV: "1"}))


class Isic2019Test(_SkipMd5, tfds.testing.DatasetBuilderTestCase):
    """All three configs over dummy_data (24 images: 8 lesions of 2, 8 ungrouped)."""

    DATASET_CLASS = isic2019.Builder
    # 512 takes the 256 code path; `full` is built by the group test below.
    BUILDER_CONFIG_NAMES_TO_TEST = ["256"]
    SPLITS = {"train": 18, "validation": 2, "test": 4, "challenge_test": 4}


class Isic2020Test(_SkipMd5, tfds.testing.DatasetBuilderTestCase):
    """24 images of 12 patients, plus one published duplicate that is dropped."""

    DATASET_CLASS = isic2020.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["256"]  # `full`: the group test below
    SPLITS = {"train": 18, "validation": 4, "test": 2, "challenge_test": 3}


class Ham10000Test(_SkipMd5, tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = ham10000.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["256"]
    SPLITS = {
        "train": 18,
        "validation": 2,
        "test": 4,
        "challenge_validation": 2,
        "challenge_test": 3,
    }


@pytest.mark.parametrize(
    "builder, folder, names",
    [
        (
            isic2019,
            "2019",
            (
                "ISIC_2019_Training_Input.zip",
                "ISIC_2019_Training_GroundTruth.csv",
                "ISIC_2019_Training_Metadata.csv",
                "ISIC_2019_Test_Input.zip",
                "ISIC_2019_Test_GroundTruth.csv",
                "ISIC_2019_Test_Metadata.csv",
            ),
        ),
        (
            isic2020,
            "2020",
            (
                "ISIC_2020_Training_JPEG.zip",
                "ISIC_2020_Training_GroundTruth_v2.csv",
                "ISIC_2020_Training_Duplicates.csv",
                "ISIC_2020_Test_JPEG.zip",
                "ISIC_2020_Test_Metadata.csv",
            ),
        ),
        (
            ham10000,
            "2018",
            (
                "ISIC2018_Task3_Training_Input.zip",
                "ISIC2018_Task3_Training_GroundTruth.zip",
                "ISIC2018_Task3_Training_LesionGroupings.csv",
                "ISIC2018_Task3_Validation_Input.zip",
                "ISIC2018_Task3_Validation_GroundTruth.zip",
                "ISIC2018_Task3_Test_Input.zip",
                "ISIC2018_Task3_Test_GroundTruth.zip",
            ),
        ),
    ],
    ids=["isic2019", "isic2020", "ham10000"],
)
def test_file_lists_are_the_official_ones(builder, folder, names):
    assert [f.url for f in builder.FILES] == [
        f"https://isic-challenge-data.s3.amazonaws.com/{folder}/{name}"
        for name in names
    ]


def _all_examples(builder):
    return {split: examples(builder, split) for split in SPLITS}


def _splits_of_groups(per_split, key):
    splits_of = collections.defaultdict(set)
    for split, got in per_split.items():
        for example in got.values():
            if example[key]:
                splits_of[example[key].decode()].add(split)
    return splits_of


@pytest.mark.parametrize(
    "name, key",
    [("isic2019", "lesion_id"), ("isic2020", "patient_id"), ("ham10000", "lesion_id")],
)
def test_no_group_crosses_splits_on_the_dummy_data(tmp_path, name, key):
    builder = build(
        f"{name}/full",
        tmp_path / "data",
        tfds.builder_cls(name).code_path.parent / "dummy_data",
    )
    per_split = _all_examples(builder)
    splits_of = _splits_of_groups(per_split, key)
    assert len(splits_of) >= 8
    assert {g: s for g, s in splits_of.items() if len(s) > 1} == {}
    assert all(per_split[s] for s in SPLITS)


def test_isic2019_labels_and_metadata_match_the_source(tmp_path):
    rows = fake_grouped.write_isic2019(tmp_path / "manual")
    builder = build("isic2019/256", tmp_path / "data", tmp_path / "manual")
    names = builder.info.features["diagnosis"].names
    assert names == ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]
    got = {}
    for per_split in _all_examples(builder).values():
        got.update(per_split)
    assert set(got) == {i for i, _, _ in rows}
    assert "ISIC_0000001_downsampled" in got
    for image_id, label, lesion in rows:
        assert names[got[image_id]["diagnosis"]] == label
        assert got[image_id]["melanoma"] == (label == "MEL")
        assert got[image_id]["lesion_id"].decode() == lesion
    # fake_grouped's metadata rows cycle (55.0, anterior torso, male),
    # ("", "", female), (30.0, head/neck, ""), (85.0, lower extremity, female).
    first = [got[i] for i, _, _ in rows[:4]]
    assert [int(e["age_approximate"]) for e in first] == [55, -1, 30, 85]
    assert [SEXES[e["sex"]] for e in first] == ["male", "female", "unknown", "female"]
    assert [ISIC2019_SITES[e["anatom_site_general"]] for e in first] == [
        "anterior torso",
        "unknown",
        "head/neck",
        "lower extremity",
    ]


def test_isic2019_challenge_test_has_the_published_labels_and_weights(tmp_path):
    fake_grouped.write_isic2019(tmp_path / "manual")
    builder = build("isic2019/256", tmp_path / "data", tmp_path / "manual")
    names = builder.info.features["diagnosis"].names
    got = examples(builder, "challenge_test")
    assert sorted(got) == [i for i, _, _ in fake_grouped.ISIC2019_TEST]
    for image_id, label, weight in fake_grouped.ISIC2019_TEST:
        assert names[got[image_id]["diagnosis"]] == label
        assert got[image_id]["melanoma"] == (label == "MEL")
        assert got[image_id]["score_weight"] == float(weight)
        assert got[image_id]["lesion_id"] == b""
    # fake_grouped's test metadata alternates (40.0, palms/soles, male) and empty.
    first, second = got["ISIC_0100000"], got["ISIC_0100001"]
    assert (int(first["age_approximate"]), SEXES[first["sex"]]) == (40, "male")
    assert ISIC2019_SITES[first["anatom_site_general"]] == "palms/soles"
    assert (int(second["age_approximate"]), SEXES[second["sex"]]) == (-1, "unknown")
    assert ISIC2019_SITES[second["anatom_site_general"]] == "unknown"
    # The official test images are in none of the splits made from training data.
    made = set().union(*(examples(builder, s) for s in SPLITS))
    assert not made & set(got)
    assert {int(e["score_weight"]) for e in examples(builder, "train").values()} == {1}


def test_isic2019_challenge_test_reads_a_truth_without_weights(tmp_path):
    # The public copy of the test ground truth cited in the README has no weight
    # columns and 0/1 integers; the labels must survive, every weight 1.0.
    fake_grouped.write_isic2019(tmp_path / "manual")
    path = tmp_path / "manual" / "ISIC_2019_Test_GroundTruth.csv"
    header, *rows = [line.split(",") for line in path.read_text().splitlines()]
    assert header[-2:] == ["score_weight", "validation_weight"]
    lines = [",".join(header[:-2])]
    lines += [",".join([r[0], *(str(int(float(v))) for v in r[1:-2])]) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    builder = build("isic2019/256", tmp_path / "data", tmp_path / "manual")
    names = builder.info.features["diagnosis"].names
    got = examples(builder, "challenge_test")
    assert {i: names[e["diagnosis"]] for i, e in got.items()} == {
        i: y for i, y, _ in fake_grouped.ISIC2019_TEST
    }
    assert {float(e["score_weight"]) for e in got.values()} == {1.0}


def test_isic2019_bad_score_weight_is_named(tmp_path):
    fake_grouped.write_isic2019(tmp_path / "manual")
    name = "ISIC_2019_Test_GroundTruth.csv"
    rewrite_csv(
        tmp_path / "manual" / name,
        lambda row: [[*row[:-2], "-1", row[-1]] if row[0] == "ISIC_0100001" else row],
    )
    message = integrity_error(tmp_path, "isic2019/256")
    assert name in message
    assert message.endswith("Received: ISIC_0100001 score_weight='-1'")


def test_isic2020_challenge_test_is_unlabelled(tmp_path):
    fake_grouped.write_isic2020(tmp_path / "manual")
    builder = build("isic2020/256", tmp_path / "data", tmp_path / "manual")
    got = examples(builder, "challenge_test")
    assert sorted(got) == fake_grouped.ISIC2020_TEST
    assert {int(e["diagnosis"]) for e in got.values()} == {-1}
    assert {int(e["melanoma"]) for e in got.values()} == {-1}
    # fake_grouped's test metadata: patient IP_9000000 + k, alternating empties.
    first, second = got["ISIC_0200000"], got["ISIC_0200001"]
    assert first["patient_id"].decode() == "IP_9000000"
    assert (int(first["age_approximate"]), SEXES[first["sex"]]) == (60, "female")
    assert ISIC2020_SITES[first["anatom_site_general"]] == "torso"
    assert (int(second["age_approximate"]), SEXES[second["sex"]]) == (-1, "unknown")
    assert ISIC2020_SITES[second["anatom_site_general"]] == "unknown"
    assert builder.UNLABELLED_SPLITS == ("challenge_test",)
    # Labelled splits keep their labels (no -1 leaks into them).
    train = examples(builder, "train")
    assert min(int(e["melanoma"]) for e in train.values()) == 0


def _drop_member(image_id):
    return lambda path: rewrite_zip(
        path, lambda n, d: None if image_id in n else (n, d)
    )


def _drop_row(image_id):
    return lambda path: rewrite_csv(
        path, lambda row: [] if row[0] == image_id else [row]
    )


@pytest.mark.parametrize(
    "name, file, edit, named",
    [
        # A test ground-truth row whose image is not in the test zip.
        (
            "isic2019",
            "ISIC_2019_Test_Input.zip",
            _drop_member("ISIC_0100003"),
            ["ISIC_2019_Test_GroundTruth.csv", "ISIC_0100003"],
        ),
        # An official validation label whose image is not in the validation zip.
        (
            "ham10000",
            "ISIC2018_Task3_Validation_Input.zip",
            _drop_member("ISIC_0300001"),
            ["ISIC2018_Task3_Validation_GroundTruth.csv", "ISIC_0300001"],
        ),
        # An official test label whose image is not in the test zip.
        (
            "ham10000",
            "ISIC2018_Task3_Test_Input.zip",
            _drop_member("ISIC_0310002"),
            ["ISIC2018_Task3_Test_GroundTruth.csv", "ISIC_0310002"],
        ),
        # A test image without a metadata row (the only file listing its ids).
        (
            "isic2020",
            "ISIC_2020_Test_Metadata.csv",
            _drop_row("ISIC_0200002"),
            ["ISIC_2020_Test_JPEG.zip", "ISIC_0200002"],
        ),
    ],
)
def test_official_test_files_that_disagree_are_named(tmp_path, name, file, edit, named):
    getattr(fake_grouped, f"write_{name}")(tmp_path / "manual")
    edit(tmp_path / "manual" / file)
    message = integrity_error(tmp_path, f"{name}/256")
    assert all(n in message for n in [file, *named]), message


def test_ham10000_official_image_that_is_also_a_training_image_is_named(tmp_path):
    # The made splits and the official ones must never share an image.
    fake_grouped.write_ham10000(tmp_path / "manual")

    def as_training_image(name, data):
        old, new = "ISIC_0310000", "ISIC_0000000"
        return name.replace(old, new), data.replace(old.encode(), new.encode())

    for name in (
        "ISIC2018_Task3_Test_Input.zip",
        "ISIC2018_Task3_Test_GroundTruth.zip",
    ):
        rewrite_zip(tmp_path / "manual" / name, as_training_image)
    message = integrity_error(tmp_path, "ham10000/256")
    assert "ISIC2018_Task3_Test_GroundTruth.csv" in message, message
    assert message.endswith("Received: ISIC_0000000"), message


def test_isic2020_drops_published_duplicates_and_keeps_patients(tmp_path):
    rows = fake_grouped.write_isic2020(tmp_path / "manual")
    builder = build("isic2020/256", tmp_path / "data", tmp_path / "manual")
    got = {}
    for per_split in _all_examples(builder).values():
        got.update(per_split)
    assert "ISIC_9999999" not in got
    assert set(got) == {i for i, _, _ in rows}
    names = builder.info.features["diagnosis"].names
    for image_id, patient, diagnosis in rows:
        assert got[image_id]["patient_id"].decode() == patient
        assert names[got[image_id]["diagnosis"]] == diagnosis
        assert got[image_id]["melanoma"] == (diagnosis == "melanoma")
    assert builder.info.supervised_keys == ("image", "melanoma")


def test_ham10000_reads_the_zipped_ground_truth_and_groupings(tmp_path):
    rows = fake_grouped.write_ham10000(tmp_path / "manual")
    builder = build("ham10000/256", tmp_path / "data", tmp_path / "manual")
    names = builder.info.features["diagnosis"].names
    assert names == ["MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC"]
    got = {}
    for per_split in _all_examples(builder).values():
        got.update(per_split)
    for k, (image_id, label, lesion) in enumerate(rows):
        assert names[got[image_id]["diagnosis"]] == label
        assert got[image_id]["lesion_id"].decode() == lesion
        expected = ["histo", "follow_up", "consensus", "unknown"][k % 4]
        assert got[image_id]["dx_type"].decode() == expected
        # From HAM10000_metadata.csv (in dummy_data too), unknowns as isic2017.
        age, sex, site = fake_grouped.HAM10000_METADATA[k % 4][1]
        assert got[image_id]["age_approximate"] == age
        assert SEXES[got[image_id]["sex"]] == sex
        assert HAM10000_LOCALIZATIONS[got[image_id]["localization"]] == site
    # The official validation and test sets: their own labels, no groupings, in
    # no made split.
    for split, truth in [
        ("challenge_validation", fake_grouped.HAM10000_VALIDATION),
        ("challenge_test", fake_grouped.HAM10000_TEST),
    ]:
        official = examples(builder, split)
        assert sorted(official) == [i for i, _ in truth], split
        assert not set(official) & set(got)
        for image_id, label in truth:
            assert names[official[image_id]["diagnosis"]] == label
            assert official[image_id]["melanoma"] == (label == "MEL")
            assert official[image_id]["dx_type"] == b"unknown"
            assert official[image_id]["lesion_id"] == b""
            assert official[image_id]["age_approximate"] == -1
            assert SEXES[official[image_id]["sex"]] == "unknown"
            assert HAM10000_LOCALIZATIONS[official[image_id]["localization"]] == (
                "unknown"
            )


def test_ham10000_without_metadata_stores_unknowns(tmp_path):
    # HAM10000_metadata is optional (Dataverse serves it by file id only).
    rows = fake_grouped.write_ham10000(tmp_path / "manual", metadata=None)
    builder = build("ham10000/256", tmp_path / "data", tmp_path / "manual")
    got = {}
    for per_split in _all_examples(builder).values():
        got.update(per_split)
    assert sorted(got) == sorted(i for i, _, _ in rows)
    for k, (image_id, _, _) in enumerate(rows):
        assert got[image_id]["age_approximate"] == -1
        assert SEXES[got[image_id]["sex"]] == "unknown"
        assert HAM10000_LOCALIZATIONS[got[image_id]["localization"]] == "unknown"
        expected = ["histo", "follow_up", "consensus", "unknown"][k % 4]
        assert got[image_id]["dx_type"].decode() == expected


@pytest.mark.parametrize(
    "edit, received",
    [
        (  # ISIC_0000002 is NV with lesion HAM_0000001 in the Task 3 files.
            lambda row: [
                [row[0], row[1], "mel", *row[3:]]
                if row[1] == "ISIC_0000002"
                else ["HAM_0000009", *row[1:]]
                if row[1] == "ISIC_0000005"
                else row
            ],
            "Received: ISIC_0000002 dx='mel' (NV), "
            "ISIC_0000005 lesion_id='HAM_0000009' ('HAM_0000002')",
        ),
        (
            lambda row: [] if row[1] == "ISIC_0000003" else [row],
            "images without a label in HAM10000_metadata: ISIC_0000003",
        ),
    ],
    ids=["dx_and_lesion_id", "missing_row"],
)
def test_ham10000_metadata_disagreeing_with_the_task3_files_is_named(
    tmp_path, edit, received
):
    # The Dataverse name, without extension, is read as well.
    fake_grouped.write_ham10000(tmp_path / "manual", metadata="HAM10000_metadata")
    rewrite_csv(tmp_path / "manual" / "HAM10000_metadata", edit)
    message = integrity_error(tmp_path, "ham10000/256")
    assert "HAM10000_metadata" in message and received in message


def test_one_hot_rows_with_two_ones_or_no_flag_name_csv_and_ids(tmp_path):
    fake_grouped.write_isic2019(tmp_path / "manual")
    name = "ISIC_2019_Training_GroundTruth.csv"
    replace_rows(
        tmp_path / "manual" / name,
        {
            "ISIC_0000000": lambda row: [[row[0], "1.0", "1.0", *row[3:]]],  # MEL, NV
            "ISIC_0000002": lambda row: [[row[0], "0.0", "0.0", *row[3:]]],  # none
        },
    )
    message = integrity_error(tmp_path, "isic2019/256")
    assert name in message
    assert message.endswith("Received: ISIC_0000000 (MEL+NV), ISIC_0000002 (none)")
    rewrite_csv(
        tmp_path / "manual" / name,
        lambda row: [[row[0], "0.9", *row[2:]] if row[0] == "ISIC_0000004" else row],
    )
    assert integrity_error(tmp_path, "isic2019/256").endswith(
        "Received: ISIC_0000004 MEL='0.9'"
    )


def test_isic2019_metadata_without_an_image_row_is_named(tmp_path):
    fake_grouped.write_isic2019(tmp_path / "manual")
    rewrite_csv(
        tmp_path / "manual" / "ISIC_2019_Training_Metadata.csv",
        lambda row: [] if row[0] == "ISIC_0000003" else [row],
    )
    message = integrity_error(tmp_path, "isic2019/256")
    assert "ISIC_2019_Training_Metadata.csv" in message and "ISIC_0000003" in message


def test_isic2020_target_contradicting_the_diagnosis_is_named(tmp_path):
    fake_grouped.write_isic2020(tmp_path / "manual")
    name = "ISIC_2020_Training_GroundTruth_v2.csv"
    # ISIC_0000004 is a melanoma: target 0 contradicts it.
    rewrite_csv(
        tmp_path / "manual" / name,
        lambda row: [[*row[:-1], "0"] if row[0] == "ISIC_0000004" else row],
    )
    message = integrity_error(tmp_path, "isic2020/256")
    assert name in message
    assert message.endswith(
        "Received: ISIC_0000004 target=0 benign_malignant='malignant' "
        "diagnosis='melanoma'"
    )


def test_ham10000_second_image_for_one_id_is_named(tmp_path):
    fake_grouped.write_ham10000(tmp_path / "manual")
    top = "ISIC2018_Task3_Training_Input"
    rewrite_zip(
        tmp_path / "manual" / f"{top}.zip",
        lambda n, d: (n.replace("ISIC_0000005.jpg", "ISIC_0000004.png"), d),
    )
    message = integrity_error(tmp_path, "ham10000/256")
    assert f"ISIC_0000004 ({top}/ISIC_0000004.jpg and {top}/ISIC_0000004.png)" in (
        message
    )
