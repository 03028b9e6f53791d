"""skinkeras.inference.transforms: the training path for image files, and TTA
(through `Predictor`) against NumPy's symmetries of the square."""

import numpy as np
import pytest
import tensorflow as tf

from skinkeras import inference
from tests import deploy_fixtures as fx
from tests.inference.helpers import (
    numpy_tta,
    numpy_tta_views,
    softmax_of,
    training_path_images,
)


@pytest.mark.parametrize("preprocessing", ["none", "shades_of_gray", "ben_graham"])
def test_bytes_transform_is_the_training_path(tmp_path, preprocessing):
    # Mixed sizes and formats: the same resize + centre crop as training handles them.
    paths = fx.write_image_files(tmp_path, [(40, 60), (90, 45), (32, 32), (77, 100)])
    transform = inference.bytes_transform(image_size=32, preprocessing=preprocessing)
    ours = np.stack([transform(tf.io.read_file(str(p)))[1].numpy() for p in paths])
    expected = training_path_images(paths, image_size=32, preprocessing=preprocessing)
    # Both round to integers (make_dataset's uint8 cache); float differences between
    # eager and tf.data execution may move a value at x.5 to the other integer.
    assert np.abs(ours - expected).max() <= 1.0
    assert np.mean(ours != expected) < 1e-3


def test_tta_averages_the_documented_views(tmp_path):
    run = inference.load_run(fx.tiny_run(tmp_path / "seed_0"))
    images = fx.random_images(3, 32, seed=5).astype(np.float32)
    # The 8 views are the 8 distinct symmetries of the square, i.e. the whole group,
    # and the model tells each of them apart (else a wrong subgroup would pass).
    views = numpy_tta_views(images, 8)
    group = [
        np.rot90(images[:, :, ::f], k, axes=(1, 2)) for f in (1, -1) for k in range(4)
    ]
    for view in group:
        assert sum(np.array_equal(view, v) for v in views) == 1
    per_view = [softmax_of(run.models[0], v)[:, 1] for v in views]
    for i in range(8):
        for j in range(i):
            assert np.abs(per_view[i] - per_view[j]).max() > 1e-3, (i, j)
    for tta in (1, 2, 4, 8):
        np.testing.assert_allclose(
            inference.Predictor(run, tta=tta)(images),
            numpy_tta(run.models, images, tta),
            atol=1e-6,
            err_msg=f"tta={tta}",
        )
    with pytest.raises(ValueError, match="Received: tta=9"):
        inference.Predictor(run, tta=9)
