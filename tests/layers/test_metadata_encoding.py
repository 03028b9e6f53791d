"""MetadataEncoding against a hand-written numpy encoding, config and saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from skinkeras.layers import MetadataEncoding

SEXES = ["female", "male"]
SITES = ["head/neck", "torso", "lower extremity"]
AGE_RANGE = (0, 90)


def numpy_encoding(age, sex, site, *, sexes=SEXES, sites=SITES, age_range=AGE_RANGE):
    """The encoding as docs/training.md states it, one example at a time."""
    low, high = age_range
    rows = []
    for a, s, t in zip(age, sex, site, strict=True):
        age_code = (
            [min(max((a - low) / (high - low), 0.0), 1.0), 0.0]
            if a >= 0
            else [0.0, 1.0]
        )
        sex_code = np.zeros(len(sexes) + 1)
        sex_code[s if 0 <= s < len(sexes) else len(sexes)] = 1
        site_code = np.zeros(len(sites) + 1)
        site_code[t if 0 <= t < len(sites) else len(sites)] = 1
        rows.append(np.concatenate([age_code, sex_code, site_code]))
    return np.array(rows, np.float32)


# Known values, unknowns (-1), out-of-range indices and ages outside the range.
AGE = np.array([45.0, -1.0, 0.0, 90.0, 100.0, 17.5], np.float32)
SEX = np.array([0, 1, -1, 2, 1, 0], np.int32)
SITE = np.array([2, -1, 0, 1, 7, 3], np.int32)


def _layer():
    return MetadataEncoding(AGE_RANGE, SEXES, SITES)


def test_matches_the_numpy_encoding():
    got = _layer()({"age": AGE, "sex": SEX, "site": SITE})
    want = numpy_encoding(AGE, SEX, SITE)
    assert got.shape == (6, 2 + 3 + 4) == (6, _layer().units)
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-6)


def test_nan_age_is_unknown():
    # Deployment reads ages from CSVs, where a missing one may come as NaN
    # (skinkeras.models.pipeline): NaN must give the unknown code, not NaNs.
    age = np.array([np.nan, 30.0, -np.inf], np.float32)
    sex, site = np.zeros(3, np.int32), np.zeros(3, np.int32)
    got = np.asarray(_layer()({"age": age, "sex": sex, "site": site}))
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, numpy_encoding(age, sex, site), atol=1e-6)
    np.testing.assert_allclose(got[:, :2], [[0, 1], [30 / 90, 0], [0, 1]], atol=1e-6)


def test_column_inputs_and_inside_tf_data():
    layer = _layer()
    columns = {"age": AGE[:, None], "sex": SEX[:, None], "site": SITE[:, None]}
    np.testing.assert_allclose(
        np.asarray(layer(columns)), numpy_encoding(AGE, SEX, SITE), atol=1e-6
    )
    ds = tf.data.Dataset.from_tensor_slices({"age": AGE, "sex": SEX, "site": SITE})
    batch = next(iter(ds.batch(6).map(layer)))
    np.testing.assert_allclose(batch.numpy(), numpy_encoding(AGE, SEX, SITE), atol=1e-6)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (((50, 10), SEXES, SITES), r"Received: age_range=\(50, 10\)"),
        ((AGE_RANGE, [], SITES), r"Received: sex_names=\[\]"),
        ((AGE_RANGE, SEXES, ["a", "a"]), r"Received: site_names=\['a', 'a'\]"),
    ],
)
def test_rejects_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        MetadataEncoding(*args)


def test_config_round_trip_and_keras_file(tmp_path):
    layer = _layer()
    clone = MetadataEncoding.from_config(layer.get_config())
    assert (clone.age_range, clone.sex_names, clone.site_names) == (
        (0.0, 90.0),
        SEXES,
        SITES,
    )
    inputs = {
        "age": keras.Input((), name="age"),
        "sex": keras.Input((), dtype="int32", name="sex"),
        "site": keras.Input((), dtype="int32", name="site"),
    }
    model = keras.Model(inputs, _layer()(inputs))
    path = tmp_path / "encoding.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    got = loaded({"age": AGE, "sex": SEX, "site": SITE})
    np.testing.assert_allclose(
        np.asarray(got), numpy_encoding(AGE, SEX, SITE), atol=1e-6
    )
