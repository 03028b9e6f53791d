"""skinkeras.data.metadata: fields, vocabulary and the pipeline's metadata inputs,
on synthetic_lesions 1.1.0, the ISIC builders' features and `source=` datasets."""

import csv

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import tfds_isic  # noqa: F401  (registers the builders)
from skinkeras import config as config_lib
from skinkeras.data import (
    make_dataset,
    make_training_stream,
    metadata,
    metadata_encoding,
)
from tests.tfds_isic import fake_grouped
from tests.tfds_isic.helpers import (
    HAM10000_LOCALIZATIONS,
    ISIC2019_SITES,
    ISIC2020_SITES,
    SEXES,
    build,
)
from tfds_isic.synthetic_lesions import synthetic_lesions_dataset_builder as builder_lib

SITES = builder_lib.SITES[:-1]  # without "unknown"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("tfds"))


@pytest.fixture(scope="module")
def encoding(data_dir):
    return metadata_encoding("synthetic_lesions", data_dir)  # builds it (seconds)


def test_encoding_is_the_datasets_vocabulary(encoding):
    assert encoding == {
        "age_range": [0, 90],
        "sex": ["female", "male"],
        "site": SITES,
    }


@pytest.mark.parametrize(
    ("dataset", "site"),
    [
        ("isic2019", ISIC2019_SITES),
        ("isic2020", ISIC2020_SITES),
        ("ham10000", HAM10000_LOCALIZATIONS),
    ],
)
def test_encoding_of_each_isic_builder_is_its_official_vocabulary(
    tmp_path, dataset, site
):
    # The builder's features, from its `_info`: no data is needed.
    features = tfds.builder(dataset, data_dir=str(tmp_path)).info.features
    assert metadata.encoding(features, dataset=dataset) == {
        "age_range": [0, 90],
        "sex": ["female", "male"],
        "site": [name for name in site if name != "unknown"],
    }


def test_isic2017_has_sex_as_class_label_but_no_site(tmp_path):
    features = tfds.builder("isic2017", data_dir=str(tmp_path)).info.features
    assert features["sex"].names == SEXES
    with pytest.raises(ValueError, match="Dataset 'isic2017' has no site "):
        metadata.encoding(features, dataset="isic2017")


@pytest.mark.parametrize(
    ("features", "field"),
    [
        (["image", "age_approximate", "sex"], "site"),  # isic2017: no site
        (["image", "sex", "localization"], "age"),
        (["image", "age_approximate", "anatom_site_general"], "sex"),
    ],
)
def test_a_missing_field_fails_naming_it_and_the_dataset(features, field):
    with pytest.raises(ValueError, match=f"Dataset 'isic2017' has no {field} "):
        metadata.feature_names(features, dataset="isic2017")


def test_ham10000_localization_is_its_site():
    names = metadata.feature_names(
        ["age_approximate", "sex", "localization"], dataset="ham10000"
    )
    assert names == {"age": "age_approximate", "sex": "sex", "site": "localization"}


def test_text_features_and_another_vocabulary_are_refused(encoding):
    features = tfds.features.FeaturesDict(
        {
            "age_approximate": tfds.features.Scalar(np.int32),
            "sex": tfds.features.Text(),
            "anatom_site_general": tfds.features.ClassLabel(names=["a", "unknown"]),
        }
    )
    with pytest.raises(ValueError, match="stores 'sex' as Text, not a ClassLabel"):
        metadata.inputs_fn(encoding, features=features, dataset="isic2019")
    features = tfds.features.FeaturesDict(
        {
            "age_approximate": tfds.features.Scalar(np.int32),
            "sex": tfds.features.ClassLabel(names=["female", "male", "unknown"]),
            "anatom_site_general": tfds.features.ClassLabel(names=["a", "unknown"]),
        }
    )
    with pytest.raises(ValueError, match=r"names the values of 'anatom_site_general'"):
        metadata.inputs_fn(encoding, features=features, dataset="other")


@pytest.mark.parametrize(
    "bad",
    [
        {"age_range": [0, 90], "sex": ["female", "unknown"], "site": SITES},
        {"age_range": [90, 0], "sex": ["female"], "site": SITES},
        {"sex": ["female"], "site": SITES},
    ],
)
def test_config_refuses_a_bad_encoding(bad):
    with pytest.raises(ValueError, match="Received: metadata_encoding="):
        config_lib.check_metadata(metadata=True, metadata_encoding=bad)


def test_config_needs_the_encoding_with_metadata_only():
    with pytest.raises(ValueError, match="metadata=True needs `metadata_encoding`"):
        config_lib.TrainConfig(metadata=True)
    encoding = config_lib.metadata_encoding(sex=["f"], site=["s"])
    with pytest.raises(ValueError, match="used only with metadata=True"):
        config_lib.TrainConfig(metadata_encoding=encoding)
    config = config_lib.TrainConfig(metadata=True, metadata_encoding=encoding)
    assert config_lib.TrainConfig.from_json(config.to_json()) == config
    assert config.run_name == "effnet_se_none_meta"


def test_validation_batches_carry_the_examples_metadata(data_dir, encoding):
    ds = make_dataset(
        "validation",
        dataset="synthetic_lesions",
        data_dir=data_dir,
        image_size=32,
        batch_size=50,
        metadata=encoding,
    )
    inputs, labels = next(iter(ds))
    assert sorted(inputs) == ["age", "image", "sex", "site"]
    assert inputs["image"].shape == (50, 32, 32, 3) and labels.shape == (50,)
    raw = tfds.as_numpy(
        tfds.load("synthetic_lesions", split="validation[:50]", data_dir=data_dir)
    )
    raw = list(raw)
    np.testing.assert_array_equal(
        inputs["age"].numpy(), [e["age_approximate"] for e in raw]
    )
    sexes = ["female", "male", "unknown"]
    sites = [*SITES, "unknown"]
    # ClassLabel "unknown" → -1, every other name → its index in the vocabulary.
    want_sex = [-1 if sexes[e["sex"]] == "unknown" else e["sex"] for e in raw]
    want_site = [
        -1 if sites[e["anatom_site_general"]] == "unknown" else e["anatom_site_general"]
        for e in raw
    ]
    np.testing.assert_array_equal(inputs["sex"].numpy(), want_sex)
    np.testing.assert_array_equal(inputs["site"].numpy(), want_site)
    # The images are the image-only pipeline's.
    images, same_labels = next(
        iter(
            make_dataset(
                "validation",
                dataset="synthetic_lesions",
                data_dir=data_dir,
                image_size=32,
                batch_size=50,
            )
        )
    )
    np.testing.assert_array_equal(inputs["image"].numpy(), images.numpy())
    np.testing.assert_array_equal(labels.numpy(), same_labels.numpy())


def _source(num_examples):
    rng = np.random.default_rng(0)
    return tf.data.Dataset.from_tensor_slices(
        {
            "image": rng.integers(0, 255, (num_examples, 16, 16, 3)).astype(np.uint8),
            "melanoma": np.arange(num_examples) % 2,
            "age": np.arange(num_examples) * 10.0,
            "sex": np.arange(num_examples) % 3 - 1,
            "site": np.arange(num_examples) % 2,
        }
    )


def test_training_batches_keep_metadata_with_its_image():
    encoding = config_lib.metadata_encoding(sex=["f", "m"], site=["a", "b"])
    settings = dict(image_size=16, batch_size=4, seed=3, oversample=True)
    plain = make_training_stream("train", source=_source(8), **settings)
    with_metadata = make_training_stream(
        "train", source=_source(8), metadata=encoding, **settings
    )
    for (images, labels), (inputs, same_labels) in zip(
        plain.epochs(stage=1, start=0, stop=2),
        with_metadata.epochs(stage=1, start=0, stop=2),
        strict=True,
    ):
        np.testing.assert_array_equal(inputs["image"].numpy(), images.numpy())
        np.testing.assert_array_equal(labels.numpy(), same_labels.numpy())
        # The source's example k has age 10 k and label k % 2: each row's metadata
        # is its own image's.
        ages = inputs["age"].numpy()
        np.testing.assert_array_equal(ages / 10 % 2, labels.numpy())
        np.testing.assert_array_equal(inputs["site"].numpy(), labels.numpy())


def test_a_source_without_metadata_is_refused():
    encoding = config_lib.metadata_encoding(sex=["f"], site=["a"])
    source = _source(4).map(lambda e: {"image": e["image"], "melanoma": e["melanoma"]})
    with pytest.raises(ValueError, match="must yield 'age', 'sex' and 'site'"):
        make_dataset("validation", source=source, image_size=16, metadata=encoding)


def test_isic2019_built_from_its_csvs_feeds_the_metadata_inputs(tmp_path):
    # A real builder end to end (issue 26): its CSV values reach the model's inputs
    # as indices into the recorded vocabulary, -1 for unknown.
    fake_grouped.write_isic2019(tmp_path / "manual")
    data_dir = str(tmp_path / "data")
    build("isic2019/256", data_dir, tmp_path / "manual")
    encoding = metadata_encoding("isic2019", data_dir)
    inputs, _ = next(
        iter(
            make_dataset(
                "train",
                shuffle=False,
                dataset="isic2019",
                data_dir=data_dir,
                image_size=32,
                batch_size=64,
                metadata=encoding,
            )
        )
    )
    ids = [
        e["image_id"].decode()
        for e in tfds.as_numpy(tfds.load("isic2019", split="train", data_dir=data_dir))
    ]
    with open(tmp_path / "manual" / "ISIC_2019_Training_Metadata.csv") as f:
        rows = {row["image"]: row for row in csv.DictReader(f)}
    sexes, sites = ["female", "male"], ISIC2019_SITES[:-1]
    want = [
        (
            float(rows[i]["age_approx"] or -1),
            sexes.index(rows[i]["sex"]) if rows[i]["sex"] else -1,
            sites.index(rows[i]["anatom_site_general"])
            if rows[i]["anatom_site_general"]
            else -1,
        )
        for i in ids
    ]
    got = zip(
        *(inputs[k].numpy().tolist() for k in ("age", "sex", "site")), strict=True
    )
    assert list(got) == want
