"""The pipeline benchmark's routes produce what they time, and timing leaves gc on."""

import gc

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import pipeline as bench


def test_images_per_second_counts_images_and_restores_gc():
    ds = tf.data.Dataset.from_tensor_slices(
        (np.zeros((10, 4, 4, 3), np.float32), np.zeros(10, np.int32))
    ).batch(4)
    assert gc.isenabled()
    assert bench.images_per_second(ds, epochs=2) > 0
    assert gc.isenabled()

    def failing():
        yield np.zeros((1, 4, 4, 3), np.float32), 0
        raise RuntimeError("bad batch")

    broken = tf.data.Dataset.from_generator(
        failing,
        output_signature=(
            tf.TensorSpec((1, 4, 4, 3), tf.float32),
            tf.TensorSpec((), tf.int32),
        ),
    )
    with pytest.raises(Exception, match="bad batch"):
        bench.images_per_second(broken)
    assert gc.isenabled()


@pytest.mark.parametrize("name", ["none", "max_rgb", "shades_of_gray", "ben_graham"])
def test_opencv_route_yields_augmented_224_batches(name):
    encoded = bench.synthetic_jpegs(4, seed=0)
    batches = list(bench.opencv_dataset(encoded, name, 224, 2))
    assert len(batches) == 2
    images = batches[0][0].numpy()
    assert images.shape == (2, 224, 224, 3) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 255
