"""Validation under two workers on 127.0.0.1 (issue 14): every logit keeps its label.

Two processes run `tf.distribute.MultiWorkerMirroredStrategy` and record one epoch
with `EpochRecorder` on 7 examples (an odd count: the last batch is partial) with
a model whose class-1 logit is the example's feature. The recorded metrics must be
those of the true (feature, label) pairs, computed here with NumPy and sklearn, on
a dataset sharded by DATA (the pipeline's, `skinkeras.data.loading.finish`) and on
one sharded by FILE (TensorFlow's default for TFRecord files), where each worker
reads other examples than the labels' order says.
"""

import json
import textwrap

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tests.experiments.test_multiworker import run_two_workers

FEATURES = np.array([0.3, -1.2, 2.0, 0.7, -0.4, 1.5, -2.2], np.float32)
LABELS = np.array([1, 0, 1, 0, 0, 1, 1], np.int32)

WORKER = textwrap.dedent(
    """
    import json
    import sys

    import keras
    import numpy as np
    import tensorflow as tf

    from skinkeras.data.loading import finish
    from skinkeras.training import callbacks, checkpoints

    out, *files = sys.argv[1:]
    strategy = tf.distribute.MultiWorkerMirroredStrategy()

    def parse(record):
        example = tf.io.parse_single_example(
            record,
            {
                "x": tf.io.FixedLenFeature([1], tf.float32),
                "y": tf.io.FixedLenFeature([], tf.int64),
            },
        )
        return example["x"], tf.cast(example["y"], tf.int32)

    records = tf.data.TFRecordDataset(files).map(parse)
    datasets = {
        "data": finish(records.batch(4)),  # batches of 4, 3
        "file": records.batch(2),  # AUTO: by file; 4 + 3 examples
    }
    found = {}
    with strategy.scope():
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(2)])
        model.set_weights([np.array([[0.0, 1.0]], "float32"), np.zeros(2, "float32")])
        model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
        callbacks.attach_beta_1(model.optimizer)
        for name, dataset in datasets.items():
            recorder = callbacks.EpochRecorder(
                checkpoints.RunState(), dataset, steps_per_epoch=1
            )
            logits, labels = recorder.predictions(model)
            record = recorder.record(model, 0, {})
            found[name] = {
                "logits": logits.tolist(),
                "labels": labels.tolist(),
                **{k: v for k, v in record.items() if k.startswith("val_")},
            }
    with open(out, "w") as f:
        json.dump(found, f)
    """
)


def _write_records(directory):
    import tensorflow as tf

    files = []
    for index, part in enumerate((slice(0, 4), slice(4, 7))):
        path = str(directory / f"validation-{index}.tfrecord")
        with tf.io.TFRecordWriter(path) as writer:
            for x, y in zip(FEATURES[part], LABELS[part], strict=True):
                feature = {
                    "x": tf.train.Feature(float_list=tf.train.FloatList(value=[x])),
                    "y": tf.train.Feature(int64_list=tf.train.Int64List(value=[y])),
                }
                example = tf.train.Example(features=tf.train.Features(feature=feature))
                writer.write(example.SerializeToString())
        files.append(path)
    return files


def _expected():
    """Cross-entropy, accuracy and AUROC of the logits (0, x) on the true labels."""
    logits = np.stack([np.zeros_like(FEATURES), FEATURES], axis=-1).astype(np.float64)
    log_p = logits - np.logaddexp(logits[:, :1], logits[:, 1:])
    return {
        "val_loss": -np.mean(log_p[np.arange(len(LABELS)), LABELS]),
        "val_accuracy": np.mean((FEATURES > 0) == LABELS),
        "val_auroc": roc_auc_score(LABELS, FEATURES),
    }


@pytest.mark.slow  # two TensorFlow processes: ~40 s of CPU, 90 s on a loaded machine
def test_two_workers_record_validation_of_true_pairs(tmp_path):
    files = _write_records(tmp_path)
    run_two_workers(
        lambda index: ["-c", WORKER, str(tmp_path / f"{index}.json"), *files]
    )

    expected = _expected()
    truth = dict(zip(FEATURES.tolist(), LABELS.tolist(), strict=True))
    for index in range(2):
        found = json.loads((tmp_path / f"{index}.json").read_text())
        for name in ("data", "file"):
            case = found[name]
            features = np.asarray(case["logits"], np.float32)[:, 1]
            # Every example once, each logit with its own label.
            np.testing.assert_array_equal(np.sort(features), np.sort(FEATURES))
            assert [truth[x] for x in features.tolist()] == case["labels"], name
            for key, value in expected.items():
                assert case[key] == pytest.approx(value, abs=1e-6), (name, key)
