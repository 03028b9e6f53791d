"""make_dataset on `source=` tf.data datasets and on TFDS synthetic_lesions."""

import dataclasses

import cv2
import numpy as np
import pytest
import tensorflow as tf

from skinkeras.data import (
    DatasetNotPreparedError,
    apply_lesion_mask,
    ben_graham,
    dataset_info,
    make_dataset,
    make_training_stream,
    resize_and_center_crop,
)
from skinkeras.data.settings import InputSettings
from tests.data.images import random_image, structured_image

SIZE = 32


def source_of(images, labels, **extra):
    """A `source=` dataset of dicts; images may differ in size (generator)."""

    def generate():
        for i, (image, label) in enumerate(zip(images, labels, strict=True)):
            example = {"image": image, "melanoma": label, "image_id": f"ISIC_{i:07d}"}
            example.update({k: v[i] for k, v in extra.items()})
            yield example

    signature = {
        "image": tf.TensorSpec([None, None, 3], tf.uint8),
        "melanoma": tf.TensorSpec([], tf.int64),
        "image_id": tf.TensorSpec([], tf.string),
    }
    for key, values in extra.items():
        signature[key] = tf.TensorSpec(
            [None] * np.ndim(values[0]), tf.as_dtype(values[0].dtype)
        )
    return tf.data.Dataset.from_generator(generate, output_signature=signature)


def small_source(n=20, positives_every=4):
    images = [
        structured_image(40 + 3 * (i % 3), 48 - 2 * (i % 4), seed=i) for i in range(n)
    ]
    labels = [int(i % positives_every == 0) for i in range(n)]
    return images, labels


def collect(ds):
    pairs = [(x.numpy(), y.numpy()) for x, y in ds]
    return np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])


def test_evaluation_pipeline_order_values_and_shapes():
    images, labels = small_source(10)
    ds = make_dataset(
        "validation",
        source=source_of(images, labels),
        preprocessing="ben_graham",
        image_size=SIZE,
        batch_size=4,
    )
    image_spec, label_spec = ds.element_spec
    assert image_spec.shape.as_list() == [None, SIZE, SIZE, 3]
    assert image_spec.dtype == tf.float32 and label_spec.dtype == tf.int32
    x, y = collect(ds)
    np.testing.assert_array_equal(y, labels)  # no shuffle outside "train"
    # load → resize/crop → Ben Graham, cached as uint8 (≤ 0.5 rounding).
    expected = np.stack([ben_graham(resize_and_center_crop(im, SIZE)) for im in images])
    np.testing.assert_allclose(x, expected, atol=0.5 + 1e-3)
    assert x.min() >= 0 and x.max() <= 255


# The training tests' images (with labels) and settings; `make_dataset` and
# `make_training_stream` take the same keyword arguments.
TRAINING = {"image_size": SIZE, "batch_size": 8, "augment": True}


def training_settings(**settings):
    return {"source": source_of(*small_source(20)), **TRAINING, **settings}


def test_training_pipeline_is_seeded_shuffled_augmented_and_static():
    _, labels = small_source(20)

    def epoch(seed, epoch=0, stage=0):
        settings = training_settings(lighting=True, seed=seed, stage=stage, epoch=epoch)
        ds = make_dataset("train", **settings)
        assert ds.element_spec[0].shape.as_list() == [8, SIZE, SIZE, 3]
        return collect(ds)

    x0, y0 = epoch(seed=0)
    tf.random.set_seed(77)  # the process's global random state plays no part
    x0b, y0b = epoch(seed=0)
    x1, _ = epoch(seed=0, epoch=1)
    xs, _ = epoch(seed=0, stage=1)
    x2, _ = epoch(seed=1)
    np.testing.assert_array_equal(x0, x0b)  # same (seed, stage, epoch), same batches
    np.testing.assert_array_equal(y0, y0b)
    assert not np.array_equal(x0, x1)  # the next epoch is re-drawn and re-augmented
    assert not np.array_equal(x0, xs)  # another stage, other draws
    assert not np.array_equal(x0, x2)  # another seed, other augmentations
    assert len(y0) == 16 and x0.dtype == np.float32  # drop_remainder on train
    assert 0.0 <= x0.min() and x0.max() <= 255.0
    # Shuffled: a permutation of the split, not the source order.
    assert not np.array_equal(y0, np.asarray(labels[:16]))
    # repeat=True goes on with epochs 1, 2, ... exactly as datasets started there.
    ds = make_dataset("train", **training_settings(lighting=True, seed=0, repeat=True))
    x_repeat = np.concatenate([x.numpy() for x, _ in ds.take(6)])
    np.testing.assert_array_equal(x_repeat[:16], x0)
    np.testing.assert_array_equal(x_repeat[16:32], x1)


def test_training_epochs_resume_exactly_and_decode_once():
    stream = make_training_stream("train", **training_settings(oversample=True, seed=5))
    assert (stream.epoch_size, stream.steps_per_epoch) == (2 * 15, 3)
    whole = [collect(stream.epochs(stage=2, start=e, stop=e + 1)) for e in range(3)]
    # Each epoch is drawn and augmented anew: a run resumed at epoch 1 must not
    # replay epoch 0 (nor one epoch the whole run).
    for a, b in ((0, 1), (1, 2), (0, 2)):
        assert not np.array_equal(whole[a][0], whole[b][0]), (a, b)
    ds = stream.epochs(stage=2, start=0, stop=3)
    assert int(ds.cardinality()) == 9
    resumed = stream.epochs(stage=2, start=1, stop=3)
    x, y = collect(resumed)
    np.testing.assert_array_equal(x, np.concatenate([w[0] for w in whole[1:]]))
    np.testing.assert_array_equal(y, np.concatenate([w[1] for w in whole[1:]]))


def test_a_stream_under_another_seed_serves_that_seeds_epochs():
    """Issue 25: a process's later seeds reuse the decoded split (`with_seed`)."""
    stream = make_training_stream("train", **training_settings(oversample=True, seed=5))
    collect(stream.epochs(stage=1, start=0, stop=1))  # decodes and caches the split
    other = stream.with_seed(6)
    fresh = make_training_stream("train", **training_settings(oversample=True, seed=6))
    for stage, epoch in ((1, 0), (2, 1)):
        got = collect(other.epochs(stage=stage, start=epoch, stop=epoch + 1))
        want = collect(fresh.epochs(stage=stage, start=epoch, stop=epoch + 1))
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
    assert stream.seed == 5 and other.seed == 6  # the original keeps its seed
    x5, _ = collect(stream.epochs(stage=1, start=0, stop=1))
    x6, _ = collect(other.epochs(stage=1, start=0, stop=1))
    assert not np.array_equal(x5, x6)


def test_oversampling_balances_the_training_stream():
    images, labels = small_source(40, positives_every=8)  # 5 positives of 40
    ys = []
    for epoch in range(5):
        ds = make_dataset(
            "train",
            source=source_of(images, labels),
            image_size=16,
            batch_size=10,
            oversample=True,
            epoch=epoch,
        )
        ys.append(collect(ds)[1])
    # fastai v1's OverSamplingCallback: 2 classes x 35 negatives = 70 per epoch.
    assert [len(y) for y in ys] == [70] * 5
    y = np.concatenate(ys)
    assert abs(y.mean() - 0.5) < 0.1


def test_lesion_mask_from_feature_and_from_masks_dir(tmp_path):
    images = [structured_image(40, 40, seed=s) for s in range(3)]
    masks = []
    for s in range(3):
        mask = np.zeros((40, 40), np.uint8)
        mask[8 + s : 30, 6 : 28 + s] = 1
        masks.append(mask)
    expected = np.stack(
        [
            apply_lesion_mask(im.astype(np.float32), m.astype(np.float32), "gray128")
            for im, m in zip(images, masks, strict=True)
        ]
    )
    # 1) the examples' own `mask` feature (values 0/1, as synthetic_lesions).
    source = source_of(images, [0, 1, 0], mask=[m[..., None] for m in masks])
    x, _ = collect(
        make_dataset(
            "test",
            source=source,
            preprocessing="lesion_mask",
            mask_mode="gray128",
            image_size=40,
            batch_size=3,
        )
    )
    np.testing.assert_allclose(x, expected, atol=0.5 + 1e-3)
    # 2) PNG files masks_dir/<split>/<image_id>.png (0/255, other size), by image_id.
    (tmp_path / "test").mkdir()
    for i, m in enumerate(masks):
        big = cv2.resize(m * 255, (80, 80), interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(tmp_path / "test" / f"ISIC_{i:07d}.png"), big)
    x2, _ = collect(
        make_dataset(
            "test",
            source=source_of(images, [0, 1, 0]),
            preprocessing="lesion_mask",
            mask_mode="gray128",
            masks_dir=tmp_path,
            image_size=40,
            batch_size=3,
        )
    )
    # Away from the (resampled) boundary the two agree exactly.
    interior = np.stack(
        [cv2.erode(m, np.ones((3, 3))) == cv2.dilate(m, np.ones((3, 3))) for m in masks]
    )
    np.testing.assert_allclose(x2[interior], expected[interior], atol=0.5 + 1e-3)


def test_encoded_images_and_a_bad_one_named():
    good = cv2.imencode(".png", random_image(20, 30)[..., ::-1])[1].tobytes()
    gray = cv2.imencode(".png", random_image(20, 30)[..., 0])[1].tobytes()
    source = tf.data.Dataset.from_tensor_slices(
        {
            "image": [good, gray, b""],
            "melanoma": [0, 1, 0],
            "image_id": ["ISIC_0000001", "ISIC_0000002", "ISIC_0000003"],
        }
    )
    ds = make_dataset("test", source=source.take(2), image_size=SIZE, batch_size=2)
    x, y = collect(ds)
    assert x.shape == (2, SIZE, SIZE, 3) and list(y) == [0, 1]
    ds = make_dataset("test", source=source, image_size=SIZE, batch_size=3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="ISIC_0000003"):
        collect(ds)


def test_bad_arguments_raise():
    images, labels = small_source(4)
    source = source_of(images, labels)
    cases = {
        r"Received: preprocessing='clahe'": {"preprocessing": "clahe"},
        r"Received: image_size=0": {"image_size": 0},
        r"Received: batch_size=-1": {"batch_size": -1},
        r"Received: mask_mode='black'": {"mask_mode": "black"},
        r"Received: masks_dir=None": {"preprocessing": "lesion_mask"},
        r"Received: lighting=True, augment=False": {"lighting": True},
        r"Received: warp=True, augment=False": {"warp": True},
        r"Received: source=": {"source": [1, 2]},
        r"Received: source.element_spec=": {"label": "diagnosis"},
    }
    for message, kwargs in cases.items():
        kwargs.setdefault("source", source)
        with pytest.raises(ValueError, match=message):
            make_dataset("train", **kwargs)


def test_both_functions_take_the_documented_settings():
    # One keyword set (InputSettings): make_dataset's docstring lists each field
    # with its default, and a keyword outside it is refused by both functions.
    fields = [f for f in dataclasses.fields(InputSettings) if f.name != "split"]
    for field in fields:
        default = repr(field.default).replace("'", '"')
        assert f"{field.name}={default}" in make_dataset.__doc__, field.name
    for make in (make_dataset, make_training_stream):
        with pytest.raises(TypeError, match="image_sizes"):
            make("train", **training_settings(image_sizes=32))


# ---- TFDS --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("tfds"))


def test_synthetic_lesions_is_built_on_first_use(synthetic_dir):
    info = dataset_info("synthetic_lesions", synthetic_dir)  # builds (a few seconds)
    assert info["num_classes"] == 2 and set(info["num_examples"]) >= {
        "train",
        "validation",
    }
    assert (
        dataset_info("synthetic_lesions", synthetic_dir, label="label")["num_classes"]
        == 3
    )
    ds = make_dataset(
        "train[:64]",
        dataset="synthetic_lesions",
        data_dir=synthetic_dir,
        preprocessing="lesion_mask",  # uses the dataset's own `mask` feature
        image_size=SIZE,
        batch_size=8,
        augment=True,
        oversample=True,
    )
    x, y = next(iter(ds))
    assert (
        x.shape == (8, SIZE, SIZE, 3) and x.dtype == tf.float32 and y.dtype == tf.int32
    )
    ds = make_dataset(
        "validation",
        dataset="synthetic_lesions",
        data_dir=synthetic_dir,
        preprocessing="shades_of_gray",
        image_size=SIZE,
        batch_size=64,
        label="label",
    )
    _, y = collect(ds)
    assert len(y) == info["num_examples"]["validation"] and set(y) <= {0, 1, 2}


def test_unprepared_isic_dataset_names_the_tfds_build_command(tmp_path):
    with pytest.raises(DatasetNotPreparedError) as error:
        make_dataset("train", dataset="isic2017/256", data_dir=str(tmp_path))
    expected = f"tfds build isic2017/256 --imports=tfds_isic --manual_dir=DIR --data_dir={tmp_path}"
    assert expected in str(error.value)
