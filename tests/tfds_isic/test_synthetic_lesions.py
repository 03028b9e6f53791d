"""synthetic_lesions: builder harness, determinism, class ratio, and the learnability
checks (a small CNN learns it; mean colour alone does not)."""

import hashlib
from unittest import mock

import cv2
import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf
import tensorflow_datasets as tfds
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import tfds_isic  # noqa: F401  (registers the builders)
from tfds_isic.synthetic_lesions import lesions
from tfds_isic.synthetic_lesions import synthetic_lesions_dataset_builder as builder_lib


class SyntheticLesionsTest(tfds.testing.DatasetBuilderTestCase):
    """The TFDS harness on smaller splits (the full sizes are checked below)."""

    DATASET_CLASS = builder_lib.Builder
    SPLITS = {"train": 40, "validation": 12, "test": 12}

    def setUp(self):
        super().setUp()
        self.enter_context(mock.patch.dict(builder_lib.SPLIT_SIZES, self.SPLITS))


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    """{split: dict of numpy arrays}, built once through `tfds.load`."""
    data_dir = tmp_path_factory.mktemp("tfds")
    out = {}
    for split in ("train", "validation", "test"):
        ds = tfds.load("synthetic_lesions", split=split, data_dir=str(data_dir))
        examples = list(tfds.as_numpy(ds))
        out[split] = {k: np.stack([e[k] for e in examples]) for k in examples[0]}
    return out


def test_class_ratio_like_isic2017(splits):
    for split, arrays in splits.items():
        n = len(arrays["label"])
        assert n == builder_lib.SPLIT_SIZES[split]
        counts = np.bincount(arrays["label"], minlength=3)
        assert counts[1] == round(n * 374 / 2000), split
        assert counts[2] == round(n * 254 / 2000), split
        np.testing.assert_array_equal(arrays["melanoma"], arrays["label"] == 1)


def test_ids_unique_across_splits(splits):
    ids = np.concatenate([a["image_id"] for a in splits.values()])
    assert len(set(ids.tolist())) == len(ids)


def test_examples_are_deterministic_and_match_the_drawing(splits):
    arrays = splits["validation"]
    order = np.argsort(arrays["image_id"])
    for index in (0, 7, 149):
        row = order[index]
        label = builder_lib.split_labels("validation", 150)[index]
        first = builder_lib.draw_example("validation", index, label)
        second = builder_lib.draw_example("validation", index, label)
        np.testing.assert_array_equal(first["image"], second["image"])
        assert arrays["image_id"][row].decode() == first["image_id"]
        assert arrays["label"][row] == label
        # The mask is stored losslessly (PNG); the image as JPEG.
        np.testing.assert_array_equal(arrays["mask"][row], first["mask"])
        error = np.abs(arrays["image"][row].astype(float) - first["image"]).mean()
        assert error < 4.0


# SHA-256 over the image, mask and label of the first 8 examples of each split
# (train, validation, test), computed with version 1.0.0's `draw_example`: 1.1.0
# added patient metadata from a generator of its own and must not move a pixel.
VERSION_1_0_0_DIGEST = (
    "738878ca046fe2d40ebaedcdb0698ffbfef8142906ce11e998a8b92f473dfda2"
)


def test_images_and_labels_are_those_of_version_1_0_0():
    digest = hashlib.sha256()
    for split, num_examples in builder_lib.SPLIT_SIZES.items():
        labels = builder_lib.split_labels(split, num_examples)
        for index in range(8):
            example = builder_lib.draw_example(split, index, labels[index])
            digest.update(example["image"].tobytes())
            digest.update(example["mask"].tobytes())
            digest.update(str(example["label"]).encode())
    assert digest.hexdigest() == VERSION_1_0_0_DIGEST


def test_metadata_depends_on_the_label(splits):
    arrays = splits["train"]
    melanoma = arrays["melanoma"] == 1
    age = arrays["age_approximate"]
    known = age >= 0
    assert 0.02 < 1 - known.mean() < 0.1  # MISSING_SHARE = 0.05
    assert set(age[known] % 5) == {0} and age[known].min() >= 5 and age.max() <= 85
    assert roc_auc_score(melanoma[known], age[known]) > 0.95
    male = builder_lib.SEXES.index("male")
    assert (arrays["sex"][melanoma] == male).mean() > (
        arrays["sex"][~melanoma] == male
    ).mean()
    info = tfds.builder("synthetic_lesions").info
    assert info.features["sex"].names == builder_lib.SEXES
    assert info.features["anatom_site_general"].names == builder_lib.SITES
    unknown = builder_lib.SITES.index("unknown")
    assert 0 < (arrays["anatom_site_general"] == unknown).mean() < 0.1


def _metadata_posterior(example):
    """P(melanoma | age, sex, site) under the builder's tables, by Bayes' rule with
    the labels' shares; an unknown field contributes nothing."""
    age = example["age_approximate"]
    sizes = {
        0: 0.0,
        1: builder_lib.MELANOMA_SHARE,
        2: builder_lib.SEBORRHEIC_KERATOSIS_SHARE,
    }
    sizes[0] = 1 - sizes[1] - sizes[2]
    likelihood = {}
    for label, prior in sizes.items():
        p = prior
        if (
            age >= 0
        ):  # rounded to 5 years: the normal's mass over [age - 2.5, age + 2.5)
            mean, sd = builder_lib.AGE[label]
            p *= scipy.stats.norm.cdf((age + 2.5 - mean) / sd) - scipy.stats.norm.cdf(
                (age - 2.5 - mean) / sd
            )
        if example["sex"] != "unknown":
            male = builder_lib.MALE_SHARE[label]
            p *= male if example["sex"] == "male" else 1 - male
        if example["anatom_site_general"] != "unknown":
            weights = np.array(builder_lib.SITE_WEIGHTS[label])
            p *= weights[builder_lib.SITES.index(example["anatom_site_general"])]
            p /= weights.sum()
        likelihood[label] = p
    return likelihood[1] / sum(likelihood.values())


def test_metadata_alone_ranks_the_validation_melanomas_perfectly():
    """README's claim, so that the demo's metadata run can beat the image-only one by
    0.05 AUROC (issue 26): the Bayes posterior from the metadata alone gives AUROC
    1.0 on validation and about 0.99995 / 0.998 on train / test."""
    aurocs = {}
    for split, size in builder_lib.SPLIT_SIZES.items():
        labels = builder_lib.split_labels(split, size)
        posterior = [
            _metadata_posterior(builder_lib.draw_metadata(split, i, label))
            for i, label in enumerate(labels)
        ]
        aurocs[split] = roc_auc_score(labels == 1, posterior)
    assert aurocs["validation"] == 1.0
    assert aurocs["train"] == pytest.approx(0.99995, abs=5e-5)
    assert aurocs["test"] == pytest.approx(0.998, abs=5e-4)


def test_metadata_is_deterministic_and_its_own_stream():
    first = builder_lib.draw_metadata("validation", 3, 1)
    assert first == builder_lib.draw_metadata("validation", 3, 1)
    assert first != builder_lib.draw_metadata("test", 3, 1)


def test_mask_is_binary_and_marks_the_darker_lesion(splits):
    masks = splits["train"]["mask"][..., 0]
    images = splits["train"]["image"].astype(np.float32).mean(-1)
    assert set(np.unique(masks).tolist()) == {0, 1}
    # Pigmented lesions: darker inside the mask than in a 6 px ring around it.
    kernel = np.ones((3, 3), np.uint8)
    for image, mask in zip(images, masks, strict=True):
        ring = cv2.dilate(mask, kernel, iterations=6) - mask
        assert image[mask == 1].mean() < image[ring == 1].mean()


def test_draw_lesion_rejects_unknown_kind():
    with pytest.raises(ValueError, match="Received: kind=3"):
        lesions.draw_lesion(np.random.default_rng(0), 3)


def _eval_split(splits):
    images = np.concatenate([splits["validation"]["image"], splits["test"]["image"]])
    labels = np.concatenate(
        [splits["validation"]["melanoma"], splits["test"]["melanoma"]]
    )
    return images, labels


def _mean_rgb_auroc(splits):
    mean_rgb = lambda images: images.reshape(len(images), -1, 3).mean(1)  # noqa: E731
    model = LogisticRegression(max_iter=1000)
    model.fit(mean_rgb(splits["train"]["image"]), splits["train"]["melanoma"])
    images, labels = _eval_split(splits)
    return roc_auc_score(labels, model.predict_proba(mean_rgb(images))[:, 1])


def test_mean_colour_alone_does_not_separate_melanoma(splits):
    assert _mean_rgb_auroc(splits) < 0.7


@pytest.mark.slow  # 20-40 s of training: the default suite stays well under 15 min
def test_small_cnn_learns_melanoma(splits):
    # A few epochs of a tiny CNN at 64 px on CPU (about 5-10 s).
    resize = lambda x: tf.image.resize(x, (64, 64), antialias=True).numpy()  # noqa: E731
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((64, 64, 3)),
            layers.Rescaling(1 / 127.5, offset=-1),
            layers.Conv2D(16, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"),
            layers.GlobalMaxPooling2D(),
            layers.Dense(1),
        ]
    )
    model.compile(
        keras.optimizers.Adam(1e-3), keras.losses.BinaryCrossentropy(from_logits=True)
    )
    model.fit(
        resize(splits["train"]["image"]),
        splits["train"]["melanoma"].astype("float32"),
        batch_size=16,
        epochs=7,
        class_weight={0: 1.0, 1: 2.7},
        verbose=0,
    )
    images, labels = _eval_split(splits)
    auroc = roc_auc_score(labels, model.predict(resize(images), verbose=0)[:, 0])
    assert auroc > 0.8
    assert auroc > _mean_rgb_auroc(splits) + 0.15
