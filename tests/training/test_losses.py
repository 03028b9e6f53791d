"""skinkeras.training.losses against scikit-learn and a NumPy focal loss; a tiny
N-class run through `loop.run` with class weights and the focal loss."""

import keras
import numpy as np
import pytest
import scipy.special
import tensorflow as tf
from sklearn import metrics as skm
from sklearn.utils import class_weight as sk_class_weight

from skinkeras.training import TrainConfig, loop, losses
from tests.training import helpers
from tests.training.test_loop import _events


def test_balanced_class_weights_equal_sklearn():
    rng = np.random.default_rng(0)
    labels = rng.choice(5, size=300, p=[0.6, 0.2, 0.1, 0.07, 0.03])
    counts = np.bincount(labels, minlength=5)
    expected = sk_class_weight.compute_class_weight(
        "balanced", classes=np.arange(5), y=labels
    )
    got = losses.balanced_class_weights(counts)
    assert list(got) == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(list(got.values()), expected, rtol=1e-12)


def test_a_class_without_training_examples_gets_weight_zero():
    # ISIC 2019's UNK has no training image; sklearn raises for it.
    labels = np.array([0, 0, 0, 1, 3, 3])
    got = losses.balanced_class_weights(np.bincount(labels, minlength=4))
    present = sk_class_weight.compute_class_weight(
        "balanced", classes=np.array([0, 1, 3]), y=labels
    )
    np.testing.assert_allclose([got[0], got[1], got[3]], present, rtol=1e-12)
    assert got[2] == 0.0
    with pytest.raises(ValueError, match="Received: counts"):
        losses.balanced_class_weights([0, 0])


def _logits(seed, n=64, num_classes=4):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, n)
    logits = rng.normal(size=(n, num_classes)) * 2.0
    return labels, logits.astype(np.float32)


def _numpy_focal(labels, logits, gamma, alpha=1.0):
    """Lin et al.'s focal loss, -alpha (1 - p_t)^gamma log p_t, mean over examples."""
    log_p = scipy.special.log_softmax(logits.astype(np.float64), axis=-1)
    log_p_true = log_p[np.arange(len(labels)), labels]
    return np.mean(-alpha * (1.0 - np.exp(log_p_true)) ** gamma * log_p_true)


def test_focal_with_gamma_zero_is_the_cross_entropy_of_the_logits():
    labels, logits = _logits(0)
    focal = losses.SparseCategoricalFocalCrossentropy(gamma=0.0)
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    got = float(focal(labels, logits))
    assert got == pytest.approx(float(cross_entropy(labels, logits)), rel=1e-5)
    probabilities = scipy.special.softmax(logits.astype(np.float64), axis=-1)
    assert got == pytest.approx(skm.log_loss(labels, probabilities), rel=1e-5)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_focal_loss_matches_numpy_with_alpha_one(gamma):
    labels, logits = _logits(1)
    config = TrainConfig(loss="focal", focal_gamma=gamma)
    loss = losses.make_loss(config)
    assert (loss.gamma, loss.alpha) == (gamma, 1.0)  # documented: alpha = 1
    assert float(loss(labels, logits)) == pytest.approx(
        _numpy_focal(labels, logits, gamma), rel=1e-5
    )
    # Also inside a traced function, with int32 labels as the pipeline yields.
    traced = tf.function(loss)(tf.constant(labels, tf.int32), tf.constant(logits))
    assert float(traced) == pytest.approx(_numpy_focal(labels, logits, gamma), rel=1e-5)
    restored = losses.SparseCategoricalFocalCrossentropy.from_config(loss.get_config())
    assert (restored.gamma, restored.alpha) == (gamma, 1.0)


def test_the_study_loss_is_the_cross_entropy():
    assert isinstance(
        losses.make_loss(TrainConfig()), keras.losses.SparseCategoricalCrossentropy
    )


# --- N classes through the loop ------------------------------------------------------

NAMES = ["nv", "melanoma", "bcc"]


def three_class_source(num_examples, seed, size=16):
    """Dicts with a dataset-defined `diagnosis`: 3 classes, 2:1:1, by brightness."""
    rng = np.random.default_rng(seed)
    labels = np.array([0, 1, 0, 2] * (num_examples // 4), dtype=np.int64)
    images = rng.integers(0, 80, size=(num_examples, size, size, 3))
    images = (images + 80 * labels[:, None, None, None]).astype(np.uint8)
    return tf.data.Dataset.from_tensor_slices({"image": images, "diagnosis": labels})


class FitSpy:
    """Wraps a model's `fit` to record the `class_weight` it is given."""

    def __init__(self):
        self.class_weights = []

    def model_from_config(self, config):
        model = helpers.tiny_model(config)
        fit = model.fit

        def spied_fit(*args, **kwargs):
            self.class_weights.append(kwargs.get("class_weight"))
            return fit(*args, **kwargs)

        model.fit = spied_fit
        return model


def test_three_class_run_with_class_weights_and_focal_loss(tmp_path, monkeypatch):
    spy = FitSpy()
    monkeypatch.setattr(loop, "model_from_config", spy.model_from_config)
    config = helpers.config(
        tmp_path,
        label="diagnosis",
        num_classes=3,
        class_names=NAMES,
        class_weight="balanced",
        loss="focal",
        focal_gamma=2.0,
        head_epochs=0,
        epochs=1,
    )
    sources = {
        "train": three_class_source(8, 0),
        "validation": three_class_source(8, 1),
    }
    summary = loop.run(config, sources=sources)

    # Keras gets sklearn's weights of the training split (4 nv, 2 melanoma, 2 bcc).
    expected = sk_class_weight.compute_class_weight(
        "balanced", classes=np.arange(3), y=[0, 1, 0, 2, 0, 1, 0, 2]
    )
    assert len(spy.class_weights) == 1
    np.testing.assert_allclose(list(spy.class_weights[0].values()), expected)
    # Oversampling draws 3 classes x 4 (largest count) = 12: 3 batches of 4.
    record = summary["history"][-1]
    assert record["steps"] == 3
    for key in ("val_balanced_accuracy", "val_macro_auroc", "val_auroc_bcc"):
        assert key in record, key
    assert summary["max_balanced_accuracy"] == record["val_balanced_accuracy"]
    matrix = np.asarray(summary["final_confusion_matrix"])
    assert matrix.shape == (3, 3) and matrix.sum(axis=1).tolist() == [4, 2, 2]
    # The record's numbers are sklearn's on the saved model's predictions.
    images = np.stack([e["image"] for e in sources["validation"].as_numpy_iterator()])
    labels = np.array([0, 1, 0, 2] * 2)
    # model.keras is the pipeline (issue 15, item 6): it takes the uint8 images.
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    predicted = model.predict(images, verbose=0)["probabilities"].argmax(-1)
    np.testing.assert_array_equal(matrix, skm.confusion_matrix(labels, predicted))
    assert record["val_balanced_accuracy"] == pytest.approx(
        skm.balanced_accuracy_score(labels, predicted)
    )
    scalars, _ = _events(tmp_path / "run" / "logs")
    for name in ("balanced_accuracy", "macro_auroc", "auroc_nv", "auroc_melanoma"):
        value = scalars[f"validation/{name}"][1]
        assert value == pytest.approx(record[f"val_{name}"], rel=1e-6), name
