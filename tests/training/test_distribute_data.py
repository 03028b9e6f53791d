"""Data for several workers (issue 14): one build of a dataset, sharding by data."""

import threading
import time

import pytest
import tensorflow as tf

from skinkeras.data import loading
from tfds_isic.synthetic_lesions import synthetic_lesions_dataset_builder as synthetic


def test_build_lock_admits_one_holder_at_a_time(tmp_path):
    # flock locks belong to open file descriptions, so two threads that each open
    # the lock file exclude each other exactly as two processes do.
    events = []
    first_holds = threading.Event()

    def first():
        with loading.build_lock(tmp_path / "tfds", "synthetic_lesions"):
            first_holds.set()
            time.sleep(0.5)
            events.append("first releases")

    def second():
        first_holds.wait()
        with loading.build_lock(tmp_path / "tfds", "synthetic_lesions"):
            events.append("second acquires")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert events == ["first releases", "second acquires"]
    assert (tmp_path / "tfds" / ".synthetic_lesions.lock").exists()


def test_concurrent_first_use_builds_the_dataset_once(tmp_path, monkeypatch):
    """Two users of one fresh data_dir: one builds, the other finds it built."""
    builds = []
    original = synthetic.Builder.download_and_prepare

    def counted(self, *args, **kwargs):
        builds.append(threading.get_ident())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(synthetic.Builder, "download_and_prepare", counted)
    data_dir = str(tmp_path / "tfds")
    results, errors = [], []
    start = threading.Barrier(2)

    def use():
        start.wait()
        try:
            builder = loading.prepared_builder("synthetic_lesions", data_dir=data_dir)
            results.append(builder.info.splits["train"].num_examples)
        except Exception as error:  # noqa: BLE001 - reported by the assertion
            errors.append(error)

    threads = [threading.Thread(target=use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not errors, errors
    assert len(builds) == 1
    # The one that waited reads the other's files (split sizes included).
    assert results == [synthetic.SPLIT_SIZES["train"]] * 2


def test_remote_data_dirs_are_not_locked():
    with loading.build_lock("gs://bucket/tfds", "synthetic_lesions"):
        pass  # no local file is created or locked for a remote directory


@pytest.mark.parametrize("kind", ["evaluation", "training"])
def test_pipelines_are_sharded_by_data_among_workers(kind):
    """Each worker runs the whole pipeline and keeps its part of each global batch
    (AUTO would shard the TFDS files: each worker would train on part of the split)."""
    from skinkeras.data import make_dataset, make_training_stream

    source = tf.data.Dataset.from_tensor_slices(
        {"image": tf.zeros([4, 8, 8, 3], tf.uint8), "melanoma": [0, 1, 0, 1]}
    )
    if kind == "evaluation":
        ds = make_dataset("validation", source=source, image_size=8, batch_size=2)
    else:
        stream = make_training_stream(
            "train", source=source, image_size=8, batch_size=2
        )
        ds = stream.epochs(stage=1, start=0, stop=1)
    policy = ds.options().experimental_distribute.auto_shard_policy
    assert policy == tf.data.experimental.AutoShardPolicy.DATA
