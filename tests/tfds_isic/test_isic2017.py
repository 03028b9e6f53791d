"""isic2017: builder harness over dummy_data, labels and resizing against the source
files, manual_dir vs. download, MD5 check, bad-input errors and the integrity checks
(one image per id, one 0/1 label row per id)."""

import os
import zipfile
from unittest import mock

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds
from etils import epath

import tfds_isic  # noqa: F401  (registers the builders)
from tests.tfds_isic import fake_isic
from tests.tfds_isic.helpers import (
    SEXES,
    build,
    examples,
    integrity_error,
    offline,
    replace_rows,
    rewrite_csv,
    rewrite_zip,
)
from tfds_isic import settings
from tfds_isic.isic2017 import isic2017_dataset_builder as builder_lib

DUMMY_DATA = builder_lib.Builder.code_path.parent / "dummy_data"
BUCKET = "https://isic-challenge-data.s3.amazonaws.com/2017/"
FILE_NAMES = [
    f"ISIC-2017_{part}_{suffix}"
    for part in ("Training", "Validation", "Test_v2")
    for suffix in ("Data.zip", "Part3_GroundTruth.csv")
]


class Isic2017Test(tfds.testing.DatasetBuilderTestCase):
    """All three configs over dummy_data (official names and layout, 5/3/3 images)."""

    DATASET_CLASS = builder_lib.Builder
    SPLITS = {"train": 5, "validation": 3, "test": 3}

    def setUp(self):
        super().setUp()
        # dummy_data are not the official files: their MD5s differ.
        self.enter_context(mock.patch.dict(os.environ, {settings.SKIP_MD5_ENV: "1"}))


def test_file_list_is_the_official_one():
    assert [f.name for f in builder_lib.FILES] == FILE_NAMES
    assert [f.url for f in builder_lib.FILES] == [BUCKET + n for n in FILE_NAMES]
    assert all(len(f.md5) == 32 for f in builder_lib.FILES)


def test_labels_metadata_and_resize_match_the_source(tmp_path):
    written = fake_isic.write_isic2017(
        tmp_path / "manual", {"Training": 8, "Validation": 4, "Test_v2": 4}
    )
    builder = build("isic2017/256", tmp_path / "data", tmp_path / "manual")
    names = builder.info.features["label"].names
    assert names == ["nevus", "melanoma", "seborrheic_keratosis"]
    assert builder.info.supervised_keys == ("image", "melanoma")
    archive = zipfile.ZipFile(tmp_path / "manual" / "ISIC-2017_Training_Data.zip")
    for split, part in (("train", "Training"), ("test", "Test_v2")):
        got = examples(builder, split)
        assert set(got) == set(written[part])
        for image_id, label in written[part].items():
            assert names[got[image_id]["label"]] == label
            assert got[image_id]["melanoma"] == (label == "melanoma")
    got = examples(builder, "train")
    # fake_isic's metadata rows cycle (55, male), (unknown, female),
    # (30, unknown), (70.0, female).
    assert [int(got[f"ISIC_{i:07d}"]["age_approximate"]) for i in range(4)] == [
        55,
        -1,
        30,
        70,
    ]
    assert builder.info.features["sex"].names == SEXES
    assert [SEXES[got[f"ISIC_{i:07d}"]["sex"]] for i in range(3)] == [
        "male",
        "female",
        "unknown",
    ]
    # Shorter side 48 -> 256, aspect kept: 64 * 256 / 48 = 341.3 -> 341.
    original = cv2.imdecode(
        np.frombuffer(
            archive.read("ISIC-2017_Training_Data/ISIC_0000002.jpg"), np.uint8
        ),
        cv2.IMREAD_COLOR,
    )
    reference = cv2.cvtColor(
        cv2.resize(original, (341, 256), interpolation=cv2.INTER_CUBIC),
        cv2.COLOR_BGR2RGB,
    )
    image = got["ISIC_0000002"]["image"]
    assert image.shape == (256, 341, 3)
    assert np.abs(image.astype(float) - reference).mean() < 2.0


def test_full_config_keeps_the_original_bytes(tmp_path):
    builder = build("isic2017/full", tmp_path / "data", DUMMY_DATA)
    got = examples(
        builder, "validation", decoders={"image": tfds.decode.SkipDecoding()}
    )
    archive = zipfile.ZipFile(DUMMY_DATA / "ISIC-2017_Validation_Data.zip")
    for image_id, example in got.items():
        member = f"ISIC-2017_Validation_Data/{image_id}.jpg"
        assert example["image"] == archive.read(member)


def test_manual_dir_is_used_without_any_download(tmp_path):
    fake_isic.write_isic2017(tmp_path / "manual")
    builder = build("isic2017/256", tmp_path / "data", tmp_path / "manual")
    assert builder.info.splits["train"].num_examples == 5


def test_tfds_load_reads_the_default_manual_dir(tmp_path):
    """`tfds.load` builds from `<data_dir>/downloads/manual` without downloading."""
    written = fake_isic.write_isic2017(tmp_path / "data" / "downloads" / "manual")
    with offline():
        ds = tfds.load("isic2017/512", split="test", data_dir=str(tmp_path / "data"))
    ids = {ex["image_id"].decode() for ex in tfds.as_numpy(ds)}
    assert ids == set(written["Test_v2"])


def test_downloads_the_official_urls_without_manual_files(tmp_path):
    fake_isic.write_isic2017(tmp_path / "server")
    requested = []

    def fake_download(self, urls):
        requested.extend(urls.values())
        return {name: epath.Path(tmp_path / "server" / name) for name in urls}

    builder = build("isic2017/256", tmp_path / "data", download=fake_download)
    assert sorted(requested) == sorted(BUCKET + n for n in FILE_NAMES)
    assert builder.info.splits["validation"].num_examples == 3
    # Downloaded files get the same MD5 check as manual ones.
    with pytest.raises(ValueError, match="ISIC-2017_Training_Data.zip"):
        build("isic2017/512", tmp_path / "data", download=fake_download, skip_md5=False)


def test_missing_archives_are_listed_with_their_urls(tmp_path):
    fake_isic.write_isic2017(tmp_path / "manual")
    missing = [
        "ISIC-2017_Validation_Data.zip",
        "ISIC-2017_Test_v2_Part3_GroundTruth.csv",
    ]
    for name in missing:
        (tmp_path / "manual" / name).unlink()
    with pytest.raises(FileNotFoundError) as error:
        build("isic2017/256", tmp_path / "data", tmp_path / "manual")
    message = str(error.value)
    for name in missing:
        assert f"{name}  ({BUCKET}{name})" in message
    assert "ISIC-2017_Training_Data.zip" not in message
    assert "tfds build isic2017/256 --imports=tfds_isic" in message


def test_explicit_empty_manual_dir_lists_all_files(tmp_path):
    (tmp_path / "manual").mkdir()
    with pytest.raises(FileNotFoundError) as error:
        build("isic2017/256", tmp_path / "data", tmp_path / "manual")
    for name in FILE_NAMES:
        assert f"{name}  ({BUCKET}{name})" in str(error.value)


def test_md5_mismatch_names_the_file_unless_skipped(tmp_path):
    with pytest.raises(ValueError) as error:
        build("isic2017/256", tmp_path / "data", DUMMY_DATA, skip_md5=False)
    message = str(error.value)
    assert "ISIC-2017_Training_Data.zip" in message
    assert "a14a7e622c67a358797ae59abb8a0b0c" in message
    assert settings.SKIP_MD5_ENV + "=1" in message
    build("isic2017/256", tmp_path / "data", DUMMY_DATA, skip_md5=True)


def test_undecodable_image_names_id_and_archive(tmp_path):
    fake_isic.write_isic2017(tmp_path / "manual")
    broken = "ISIC-2017_Training_Data/ISIC_0000003.jpg"
    rewrite_zip(
        tmp_path / "manual" / "ISIC-2017_Training_Data.zip",
        lambda n, d: (n, b"not a jpeg" if n == broken else d),
    )
    with pytest.raises(
        ValueError, match=r"ISIC_0000003 in ISIC-2017_Training_Data\.zip"
    ):
        build("isic2017/full", tmp_path / "data", tmp_path / "manual")


def test_image_label_mismatch_names_the_ids(tmp_path):
    fake_isic.write_isic2017(tmp_path / "manual")
    csv_path = tmp_path / "manual" / "ISIC-2017_Validation_Part3_GroundTruth.csv"
    lines = csv_path.read_text().splitlines()
    # Drop the label of ISIC_0100001 and label an image that does not exist.
    lines = [line for line in lines if not line.startswith("ISIC_0100001")]
    lines.append("ISIC_0199999,1.0,0.0")
    csv_path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as error:
        build("isic2017/256", tmp_path / "data", tmp_path / "manual")
    message = str(error.value)
    assert "images without a label" in message and "ISIC_0100001" in message
    assert "labels without an image" in message and "ISIC_0199999" in message


def test_wrong_top_folder_says_what_was_expected(tmp_path):
    fake_isic.write_isic2017(tmp_path / "manual")
    rewrite_zip(
        tmp_path / "manual" / "ISIC-2017_Test_v2_Data.zip",
        lambda n, d: (n.replace("ISIC-2017_Test_v2_Data/", "images/"), d),
    )
    with pytest.raises(ValueError) as error:
        build("isic2017/256", tmp_path / "data", tmp_path / "manual")
    message = str(error.value)
    assert "ISIC-2017_Test_v2_Data.zip" in message
    assert "'ISIC-2017_Test_v2_Data/'" in message and "images/" in message


def test_labels_csv_without_the_expected_columns(tmp_path):
    fake_isic.write_isic2017(tmp_path / "manual")
    csv_path = tmp_path / "manual" / "ISIC-2017_Training_Part3_GroundTruth.csv"
    csv_path.write_text("image_id,melanoma\nISIC_0000000,0.0\n")
    with pytest.raises(ValueError, match="lacks the column.s. seborrheic_keratosis"):
        build("isic2017/256", tmp_path / "data", tmp_path / "manual")


def test_second_file_for_one_image_id_names_archive_and_ids(tmp_path):
    fake_isic.write_isic2017(tmp_path / "manual")  # Training: ISIC_0000000..4
    top = "ISIC-2017_Training_Data"
    image = fake_isic.jpeg(np.zeros((48, 64, 3), np.uint8))
    second = [
        f"{top}/ISIC_0000001.jpg",  # the same name twice: zipfile reads the last
        f"{top}/copy/ISIC_0000002.jpg",  # another folder
        f"{top}/ISIC_0000003.png",  # another extension
    ]
    fake_isic.write_zip(
        tmp_path / "manual" / f"{top}.zip", dict.fromkeys(second, image), mode="a"
    )
    message = integrity_error(tmp_path, "isic2017/256")
    assert f"{top}.zip" in message
    assert f"ISIC_0000001 ({top}/ISIC_0000001.jpg and {top}/ISIC_0000001.jpg)" in (
        message
    )
    assert f"ISIC_0000002 ({top}/ISIC_0000002.jpg and {top}/copy/" in message
    assert f"ISIC_0000003 ({top}/ISIC_0000003.jpg and {top}/ISIC_0000003.png)" in (
        message
    )
    # The superpixel PNGs of each id are no second image.
    assert "ISIC_0000000" not in message and "superpixels" not in message


def test_second_label_row_for_one_image_id_names_csv_and_ids(tmp_path):
    fake_isic.write_isic2017(tmp_path / "manual")
    name = "ISIC-2017_Validation_Part3_GroundTruth.csv"
    # ISIC_0100001 (melanoma) repeated as it is, ISIC_0100002 (SK) as melanoma.
    replace_rows(
        tmp_path / "manual" / name,
        {
            "ISIC_0100001": lambda row: [row, row],
            "ISIC_0100002": lambda row: [row, [row[0], "1.0", "0.0"]],
        },
    )
    message = integrity_error(tmp_path, "isic2017/256")
    assert name in message
    assert "Received: ISIC_0100001 (2 rows), ISIC_0100002 (2 rows)" in message
    assert "ISIC_0100000" not in message


def test_labels_other_than_0_or_1_name_csv_and_ids(tmp_path):
    fake_isic.write_isic2017(tmp_path / "manual")
    name = "ISIC-2017_Training_Part3_GroundTruth.csv"
    # (melanoma, seborrheic_keratosis): 0.9 and 2.0 used to make a nevus.
    bad = {
        "ISIC_0000000": ["0.9", "0.0"],
        "ISIC_0000001": ["0.0", "2.0"],
        "ISIC_0000002": ["-1", "0.0"],
        "ISIC_0000003": ["", "0.0"],
        "ISIC_0000004": ["0.0", "abc"],
    }
    rewrite_csv(tmp_path / "manual" / name, lambda row: [[row[0], *bad[row[0]]]])
    message = integrity_error(tmp_path, "isic2017/256")
    assert name in message
    assert message.endswith(
        "Received: ISIC_0000000 melanoma='0.9', "
        "ISIC_0000001 seborrheic_keratosis='2.0', ISIC_0000002 melanoma='-1', "
        "ISIC_0000003 melanoma='', ISIC_0000004 seborrheic_keratosis='abc'"
    )


def test_melanoma_and_keratosis_together_name_csv_and_ids(tmp_path):
    fake_isic.write_isic2017(tmp_path / "manual")
    name = "ISIC-2017_Test_v2_Part3_GroundTruth.csv"
    both = {"ISIC_0200000", "ISIC_0200002"}
    rewrite_csv(
        tmp_path / "manual" / name,
        lambda row: [[row[0], "1.0", "1.0"] if row[0] in both else row],
    )
    message = integrity_error(tmp_path, "isic2017/256")
    assert name in message
    assert message.endswith(
        "Received: melanoma=1 and seborrheic_keratosis=1 for ISIC_0200000, ISIC_0200002"
    )
