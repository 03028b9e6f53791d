"""experiments.make_masks on in-memory splits with a small saved segmenter."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from experiments import deploy_cli, make_masks


@pytest.fixture
def segmenter(tmp_path):
    """Saved model: lesion where the image is dark (a fixed 1x1 convolution)."""
    inputs = keras.Input((32, 32, 3))
    conv = keras.layers.Conv2D(1, 1, activation="sigmoid")
    outputs = conv(inputs)
    model = keras.Model(inputs, outputs)
    conv.set_weights(
        [np.full((1, 1, 3, 1), -0.1, np.float32), np.array([38.4], np.float32)]
    )
    run_dir = tmp_path / "segmenter"
    run_dir.mkdir()
    model.save(run_dir / "model.keras")
    return run_dir


SPLIT_SIZE = 3  # fake examples per split


def fake_image_ids(split):
    """The ids a TFDS split spec ("validation[:2]", "train[50%:]+test") selects,
    read by TFDS' own parser, of SPLIT_SIZE fake examples per split."""
    infos = {
        name: tfds.core.SplitInfo(
            name=name, shard_lengths=[SPLIT_SIZE], num_bytes=0, filename_template=None
        )
        for name in ("train", "validation", "test")
    }
    return [
        f"ISIC_{part.splitname[:3]}{i}"
        for part in tfds.core.ReadInstruction.from_spec(split).to_absolute(infos)
        for i in range(SPLIT_SIZE)[part.from_ : part.to]
    ]


@pytest.fixture
def fake_splits(monkeypatch):
    def examples(split):
        ids = fake_image_ids(split)
        images = np.full((len(ids), 40, 56, 3), 230, np.uint8)
        images[:, 10:30, 20:40] = 20
        return tf.data.Dataset.from_tensor_slices({"image": images, "image_id": ids})

    from skinkeras.segmentation import data as seg_data

    monkeypatch.setattr(
        seg_data, "load_split", lambda dataset, split, data_dir=None: examples(split)
    )
    monkeypatch.setattr(
        seg_data,
        "split_size",
        lambda dataset, split, data_dir=None: len(fake_image_ids(split)),
    )


def test_fake_splits_honour_slices():
    assert fake_image_ids("validation[:2]") == ["ISIC_val0", "ISIC_val1"]
    assert fake_image_ids("train[-1:]+test[:34%]") == ["ISIC_tra2", "ISIC_tes0"]
    assert len(fake_image_ids("test")) == SPLIT_SIZE


def test_writes_each_split_and_resumes(tmp_path, segmenter, fake_splits, capsys):
    argv = [
        "make_masks",
        f"--segmenter={segmenter}",
        f"--masks_dir={tmp_path / 'masks'}",
        "--splits=train,validation[:2]",
    ]
    deploy_cli.parse(make_masks.FLAGS, argv)
    assert make_masks.main(["make_masks"]) == 0
    out = capsys.readouterr().out
    assert "train: 3 masks written" in out and "--preprocessing=lesion_mask" in out
    mask = tf.io.decode_png(
        (tmp_path / "masks/train/ISIC_tra0.png").read_bytes()
    ).numpy()
    assert mask.shape == (40, 56, 1)
    assert mask[20, 30, 0] == 255 and mask[2, 2, 0] == 0
    assert "validation[:2]: 2 masks written, 0 already there" in out
    assert sorted(p.name for p in (tmp_path / "masks/validation").glob("*.png")) == [
        "ISIC_val0.png",
        "ISIC_val1.png",
    ]
    assert make_masks.main(["make_masks"]) == 0
    out = capsys.readouterr().out
    assert "train: 0 masks written, 3 already there" in out
    assert "validation[:2]: 0 masks written, 2 already there" in out


def test_missing_segmenter(tmp_path, fake_splits):
    deploy_cli.parse(
        make_masks.FLAGS,
        ["make_masks", f"--segmenter={tmp_path}", f"--masks_dir={tmp_path}"],
    )
    with pytest.raises(SystemExit, match="experiments.segment"):
        make_masks.main(["make_masks"])


def test_split_folder():
    assert make_masks.split_folder("validation[:2]") == "validation"
    assert make_masks.split_folder("train") == "train"
