"""isic2018_task1: builder harness over dummy_data, masks against the source PNGs,
manual_dir, bad-input errors and the one-mask-per-image check."""

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_isic  # noqa: F401  (registers the builders)
from tests.tfds_isic import fake_isic
from tests.tfds_isic.helpers import build, examples, integrity_error, rewrite_zip
from tfds_isic.isic2018_task1 import isic2018_task1_dataset_builder as builder_lib

BUCKET = "https://isic-challenge-data.s3.amazonaws.com/2018/"


class Isic2018Task1Test(tfds.testing.DatasetBuilderTestCase):
    """All three configs over dummy_data (official names and layout, 3/2/2 images)."""

    DATASET_CLASS = builder_lib.Builder
    SPLITS = {"train": 3, "validation": 2, "test": 2}


def test_file_list_is_the_official_one():
    names = [f.name for f in builder_lib.FILES]
    for part in ("Training", "Validation", "Test"):
        assert f"ISIC2018_Task1-2_{part}_Input.zip" in names
        assert f"ISIC2018_Task1_{part}_GroundTruth.zip" in names
    assert [f.url for f in builder_lib.FILES] == [BUCKET + n for n in names]
    assert len(names) == 6


@pytest.mark.parametrize(("config", "shape"), [("256", (256, 341)), ("full", (48, 64))])
def test_masks_are_0_1_and_nearest_resized(tmp_path, config, shape):
    written = fake_isic.write_isic2018(tmp_path / "manual")
    builder = build(f"isic2018_task1/{config}", tmp_path / "data", tmp_path / "manual")
    assert builder.info.supervised_keys == ("image", "mask")
    got = examples(builder, "train")
    assert set(got) == set(written["Training"])
    for image_id, source in written["Training"].items():
        mask = got[image_id]["mask"]
        assert got[image_id]["image"].shape == shape + (3,)
        assert mask.shape == shape + (1,)
        reference = cv2.resize(
            (source > 127).astype(np.uint8),
            shape[::-1],
            interpolation=cv2.INTER_NEAREST,
        )
        np.testing.assert_array_equal(mask[..., 0], reference)
        assert set(np.unique(mask).tolist()) == {0, 1}


def test_missing_mask_names_the_id(tmp_path):
    fake_isic.write_isic2018(tmp_path / "manual")
    rewrite_zip(
        tmp_path / "manual" / "ISIC2018_Task1_Validation_GroundTruth.zip",
        lambda n, d: None if n.endswith("ISIC_0100001_segmentation.png") else (n, d),
    )
    with pytest.raises(ValueError, match="ISIC_0100001"):
        build("isic2018_task1/256", tmp_path / "data", tmp_path / "manual")


def test_undecodable_mask_names_id_and_archive(tmp_path):
    fake_isic.write_isic2018(tmp_path / "manual")
    rewrite_zip(
        tmp_path / "manual" / "ISIC2018_Task1_Test_GroundTruth.zip",
        lambda n, d: (n, b"\x89PNG broken" if "ISIC_0200001" in n else d),
    )
    with pytest.raises(
        ValueError, match=r"ISIC_0200001 in ISIC2018_Task1_Test_GroundTruth\.zip"
    ):
        build("isic2018_task1/full", tmp_path / "data", tmp_path / "manual")


def test_wrong_top_folder_says_what_was_expected(tmp_path):
    fake_isic.write_isic2018(tmp_path / "manual")
    rewrite_zip(
        tmp_path / "manual" / "ISIC2018_Task1-2_Training_Input.zip",
        lambda n, d: (n.split("/", 1)[1], d),  # files at the zip's root
    )
    with pytest.raises(ValueError, match="'ISIC2018_Task1-2_Training_Input/'"):
        build("isic2018_task1/256", tmp_path / "data", tmp_path / "manual")


def test_missing_archive_is_listed_with_its_url(tmp_path):
    fake_isic.write_isic2018(tmp_path / "manual")
    (tmp_path / "manual" / "ISIC2018_Task1_Test_GroundTruth.zip").unlink()
    name = "ISIC2018_Task1_Test_GroundTruth.zip"
    with pytest.raises(FileNotFoundError, match=f"{name}  \\({BUCKET}{name}\\)"):
        build("isic2018_task1/256", tmp_path / "data", tmp_path / "manual")


def test_second_mask_for_one_image_names_archive_and_ids(tmp_path):
    fake_isic.write_isic2018(tmp_path / "manual")  # Validation: ISIC_0100000..1
    top = "ISIC2018_Task1_Validation_GroundTruth"
    mask = fake_isic.png(np.zeros((48, 64), np.uint8))
    second = {
        f"{top}/ISIC_0100000_segmentation.png": mask,  # zipfile would read this one
        f"{top}/masks/ISIC_0100001_segmentation.png": mask,
    }
    fake_isic.write_zip(tmp_path / "manual" / f"{top}.zip", second, mode="a")
    message = integrity_error(tmp_path, "isic2018_task1/256")
    assert f"{top}.zip" in message and "one mask per id" in message
    assert (
        f"Received: ISIC_0100000 ({top}/ISIC_0100000_segmentation.png and "
        f"{top}/ISIC_0100000_segmentation.png), ISIC_0100001 ("
    ) in message
    assert f"{top}/masks/ISIC_0100001_segmentation.png" in message
