"""ham10000 from HAM10000 as published on Harvard Dataverse (issue 24): the same
examples as from the ISIC 2018 Task 3 files, and what a partial or contradictory
Dataverse layout is told."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_isic  # noqa: F401  (registers the builders)
from tests.tfds_isic import fake_grouped
from tests.tfds_isic.fake_isic import write_zip
from tests.tfds_isic.helpers import build, examples, integrity_error, rewrite_csv

SPLITS = ("train", "validation", "test", "challenge_validation", "challenge_test")
PART_1, PART_2 = fake_grouped.HAM10000_DATAVERSE_IMAGES


def _layouts(tmp_path):
    """The Task 3 files in tmp_path/task3, the same images and metadata as
    Dataverse publishes them in tmp_path/manual; returns the training rows."""
    rows = fake_grouped.write_ham10000(tmp_path / "task3")
    fake_grouped.write_ham10000_dataverse(tmp_path / "manual", tmp_path / "task3")
    return rows


def test_dataverse_layout_gives_the_task3_examples(tmp_path):
    rows = _layouts(tmp_path)
    built = {
        layout: build("ham10000/256", tmp_path / f"data_{layout}", tmp_path / layout)
        for layout in ("task3", "manual")
    }
    # The stored JPEG bytes, not decoded pixels: the same images, byte for byte.
    raw = {"image": tfds.decode.SkipDecoding()}
    for split in SPLITS:
        task3 = examples(built["task3"], split, decoders=raw)
        dataverse = examples(built["manual"], split, decoders=raw)
        assert sorted(dataverse) == sorted(task3), split
        for image_id, example in task3.items():
            assert sorted(dataverse[image_id]) == sorted(example)
            for key, value in example.items():
                np.testing.assert_array_equal(
                    dataverse[image_id][key], value, err_msg=f"{split} {image_id} {key}"
                )
    # Not vacuous: every training image, lesions and metadata read, not unknowns.
    made = {}
    for split in SPLITS[:3]:
        made.update(examples(built["manual"], split, decoders=raw))
    assert sorted(made) == sorted(i for i, _, _ in rows)
    assert {e["lesion_id"].decode() for e in made.values()} == {g for _, _, g in rows}
    assert {int(e["age_approximate"]) for e in made.values()} == {-1, 5, 45, 80}


@pytest.mark.parametrize(
    "missing",
    [PART_2, "HAM10000_metadata.csv", "ISIC2018_Task3_Test_GroundTruth.zip"],
)
def test_dataverse_layout_missing_file_is_named(tmp_path, missing):
    _layouts(tmp_path)
    (tmp_path / "manual" / missing).unlink()
    with pytest.raises(FileNotFoundError) as error:
        build("ham10000/256", tmp_path / "data", tmp_path / "manual")
    message = str(error.value)
    listed = [line.split()[0] for line in message.splitlines() if line[:2] == "  "]
    assert listed == [missing], message
    assert message.endswith(f"Received: manual_dir={tmp_path / 'manual'}"), message


def test_task3_layout_missing_files_name_the_dataverse_alternative(tmp_path):
    (tmp_path / "manual").mkdir()
    with pytest.raises(FileNotFoundError) as error:
        build("ham10000/256", tmp_path / "data", tmp_path / "manual")
    message = str(error.value)
    assert "  ISIC2018_Task3_Training_Input.zip  (https://" in message, message
    assert f"({PART_1}, {PART_2}, HAM10000_metadata.csv)" in message, message
    assert message.endswith(f"Received: manual_dir={tmp_path / 'manual'}"), message


def _image_in_both_parts(manual):
    write_zip(manual / PART_1, {"ISIC_0000012.jpg": b"not read"}, mode="a")


def _dx_no_diagnosis(manual):
    rewrite_csv(
        manual / "HAM10000_metadata.csv",
        lambda row: [[*row[:2], "scc", *row[3:]] if row[1] == "ISIC_0000004" else row],
    )


@pytest.mark.parametrize(
    "edit, received",
    [
        (
            _image_in_both_parts,
            f"Received: ISIC_0000012 ({PART_1} and {PART_2})",
        ),
        (_dx_no_diagnosis, "Received: ISIC_0000004 dx='scc'"),
    ],
    ids=["image_in_both_parts", "dx_no_diagnosis"],
)
def test_dataverse_files_that_disagree_are_named(tmp_path, edit, received):
    _layouts(tmp_path)
    edit(tmp_path / "manual")
    message = integrity_error(tmp_path, "ham10000/256")
    assert message.endswith(received), message
