"""The new builders feed training as `--dataset=isic2019 --label=diagnosis` does: the
dataset's ClassLabel names become the run's classes, every one mapping to an ISIC 2019
category, and `--label=melanoma` keeps the study's binary task (issue 16, item 3)."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_isic  # noqa: F401  (registers the builders)
from skinkeras import data, metrics
from tests.tfds_isic.helpers import build

ISIC2019 = ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]


@pytest.mark.parametrize("name", ["isic2019", "ham10000"])
def test_diagnosis_and_melanoma_labels_reach_make_dataset(tmp_path, name):
    build(
        f"{name}/256",
        tmp_path / "data",
        tfds.builder_cls(name).code_path.parent / "dummy_data",
    )
    info = data.dataset_info(f"{name}/256", str(tmp_path / "data"), label="diagnosis")
    names = info["class_names"]
    if name == "isic2019":
        assert names == ISIC2019
    # Every diagnosis maps to one ISIC 2019 category, melanoma among them, so the
    # isic2019 submission format and the melanoma-vs-rest metrics find their columns.
    categories = [metrics.isic2019_category(n) for n in names]
    assert None not in categories and len(set(categories)) == len(names)
    melanoma = metrics.melanoma_index(names)
    assert categories[melanoma] == "MEL"

    raw = tfds.load(f"{name}/256", split="train", data_dir=str(tmp_path / "data"))
    expected = sorted(int(e["diagnosis"]) for e in raw.as_numpy_iterator())
    for label, want in (
        ("diagnosis", expected),
        ("melanoma", sorted(int(d == melanoma) for d in expected)),
    ):
        batches = data.make_dataset(
            "train",
            dataset=f"{name}/256",
            data_dir=str(tmp_path / "data"),
            label=label,
            image_size=32,
            batch_size=4,
            shuffle=False,
        )
        labels = np.concatenate([y.numpy() for _, y in batches])
        assert sorted(labels.tolist()) == want, label


def test_unlabelled_challenge_test_is_refused_for_training_and_evaluation(tmp_path):
    """isic2020's official test split has labels -1 (none published): make_dataset
    refuses it, alone, sliced or added to a labelled split, for evaluation and for
    training streams; isic2019's `challenge_test` has published labels and loads."""
    for name in ("isic2020", "isic2019"):
        build(
            f"{name}/256",
            tmp_path / "data",
            tfds.builder_cls(name).code_path.parent / "dummy_data",
        )
    kwargs = dict(data_dir=str(tmp_path / "data"), image_size=32, batch_size=2)
    for split, shuffle in (
        ("challenge_test", False),
        ("challenge_test[:2]", False),
        ("train+challenge_test", True),
    ):
        with pytest.raises(ValueError, match="has no labels") as error:
            data.make_dataset(
                split,
                dataset="isic2020/256",
                label="melanoma",
                shuffle=shuffle,
                **kwargs,
            )
        assert "isic2020/256" in str(error.value)
        assert str(error.value).endswith(f"Received: split={split!r}")
    labels = np.concatenate(
        [
            y.numpy()
            for _, y in data.make_dataset(
                "challenge_test", dataset="isic2019/256", label="diagnosis", **kwargs
            )
        ]
    )
    # fake_grouped.ISIC2019_TEST: MEL, UNK, NV, SCC (TFDS stores them in key order).
    assert sorted(labels.tolist()) == sorted(
        ISIC2019.index(c) for c in ("MEL", "UNK", "NV", "SCC")
    )
