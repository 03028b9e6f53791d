"""run(config) on a tiny stand-in model: layout, TensorBoard, resume, NaN, seeds."""

import json
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from skinkeras import data, inference, rundir
from skinkeras.models import pipeline
from skinkeras.training import loop, results
from skinkeras.training import seeds as seeds_module
from tests import deploy_fixtures
from tests.training import helpers
from tests.training.test_schedules import reference_beta_1, reference_lr


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(loop, "model_from_config", helpers.tiny_model)


class Crash(keras.callbacks.Callback):
    """Simulates a killed process after the given global epoch was checkpointed."""

    def __init__(self, after_epoch):
        super().__init__()
        self.after_epoch = after_epoch

    def on_epoch_end(self, epoch, logs=None):
        stage_epochs = [r["epoch"] for r in _state(self.model).history]
        if stage_epochs and stage_epochs[-1] == self.after_epoch:
            raise KeyboardInterrupt("simulated crash")


def _state(model):
    return model._test_state


class Trace(keras.callbacks.Callback):
    """Records which (stage, epoch) pairs a process trains, and the weights per stage."""

    def __init__(self):
        super().__init__()
        self.epochs = []
        self.weights = []

    def on_train_begin(self, logs=None):
        self.weights.append([w.numpy().copy() for w in self.model.weights])

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)

    def on_train_end(self, logs=None):
        self.weights.append([w.numpy().copy() for w in self.model.weights])


def _events(log_dir):
    scalars, images = {}, {}
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                tensor = tf.make_ndarray(value.tensor)
                if value.metadata.plugin_data.plugin_name == "images":
                    images[value.tag] = tensor
                else:
                    scalars.setdefault(value.tag, {})[event.step] = float(tensor)
    return scalars, images


def test_run_writes_the_contract_layout_and_tensorboard(tiny, tmp_path):
    config = helpers.config(tmp_path, arl=True)
    summary = loop.run(config, sources=helpers.sources())
    run_dir = tmp_path / "run"
    for name in ("config.json", "summary.json", "model.keras"):
        assert (run_dir / name).exists(), name
    assert json.loads((run_dir / "config.json").read_text())["head_epochs"] == 1
    assert [r["stage"] for r in summary["history"]] == [1, 2, 2]
    assert [r["epoch"] for r in summary["history"]] == [1, 2, 3]
    # 8 training examples, 4 per class: fastai's oversampled epoch is 2 x 4 = 8
    # draws, 2 batches of 4.
    assert [r["steps"] for r in summary["history"]] == [2, 2, 2]
    aurocs = [r["val_auroc"] for r in summary["history"]]
    assert summary["max_auroc"] == max(aurocs)
    assert summary["best_epoch_auroc"] == 1 + int(np.argmax(aurocs))
    for key in ("max_accuracy", "best_epoch_accuracy", "final_accuracy", "final_auroc"):
        assert key in summary
    assert list(summary["alphas"]) == ["block1_arl"]
    assert len(summary["alphas"]["block1_arl"]) == 3
    # Stage 1 freezes the backbone, ARL alpha included; stage 2 trains it.
    assert summary["alphas"]["block1_arl"][0] == 0.0
    assert summary["alphas"]["block1_arl"][2] != 0.0
    assert rundir.read_json(run_dir / "summary.json") == summary

    scalars, images = _events(run_dir / "logs")
    for tag in (
        "train/loss",
        "validation/auroc",
        "validation/sensitivity",
        "optimizer/learning_rate",
        "optimizer/beta_1",
    ):
        assert sorted(scalars[tag]) == [1, 2, 3], tag
    np.testing.assert_allclose(
        [scalars["arl_alpha/block1_arl"][step] for step in (1, 2, 3)],
        summary["alphas"]["block1_arl"],
        rtol=1e-6,
    )
    np.testing.assert_allclose(scalars["validation/auroc"][3], aurocs[2], rtol=1e-6)
    width, height, *pngs = images["inputs/train"]
    assert (int(width), int(height)) == (16, 16) and 1 <= len(pngs) <= 4
    assert tf.io.decode_png(pngs[0]).shape == (16, 16, 3)

    with zipfile.ZipFile(run_dir / "model.keras") as archive:
        saved = json.loads(archive.read("config.json"))
    assert not saved.get("compile_config")  # loads without skinkeras.training
    loaded = keras.models.load_model(run_dir / "model.keras")
    network = loaded.get_layer(pipeline.NETWORK)
    assert network.get_layer("block1_arl").alpha.numpy() == pytest.approx(
        summary["alphas"]["block1_arl"][-1]
    )
    _check_self_contained(loaded, run_dir, tmp_path / "images")


def _check_self_contained(model, run_dir, image_dir):
    """A trained run's model.keras is the uncalibrated pipeline (issue 15, item 6):
    uint8 images of any size in, the `Predictor` route's probabilities out."""
    assert pipeline.is_pipeline(model)
    metadata = pipeline.pipeline_metadata(model)
    assert metadata["class_names"] == ["other", "melanoma"]
    assert metadata["training_config"] == json.loads(
        (run_dir / "config.json").read_text()
    )
    assert (metadata["temperature"], metadata["threshold"]) == (1.0, 0.5)
    paths = deploy_fixtures.write_image_files(image_dir, [(40, 60), (32, 32), (50, 37)])
    expected = inference.predict_files(inference.load_run(run_dir), paths)
    for path, reference in zip(paths, expected.probabilities, strict=True):
        image = data.decode_image(path.read_bytes()).numpy()
        outputs = model(image[np.newaxis])
        np.testing.assert_allclose(
            outputs["probabilities"].numpy()[0], reference, atol=1e-5
        )
        assert outputs["decision"].numpy()[0] == int(reference[1] >= 0.5)
    # The outputs differ between the images: the comparison means something.
    assert np.ptp(expected.probabilities[:, 1]) > 1e-3


@pytest.mark.slow  # 20-40 s of training: the default suite stays well under 15 min
def test_killed_run_resumes_from_the_last_finished_epoch(tiny, tmp_path, monkeypatch):
    config = helpers.config(tmp_path, head_epochs=2)
    # Expose the state to the crash callback through the model.
    real_epoch_end = loop.callbacks_lib.EpochEnd

    class EpochEnd(real_epoch_end):
        def set_model(self, model):
            super().set_model(model)
            model._test_state = self.state

    monkeypatch.setattr(loop.callbacks_lib, "EpochEnd", EpochEnd)
    # Crash in the middle of stage 1, then in the middle of stage 2.
    for after_epoch in (1, 3):
        with pytest.raises(KeyboardInterrupt):
            loop.run(config, sources=helpers.sources(), callbacks=[Crash(after_epoch)])
        assert not (tmp_path / "run" / "summary.json").exists()
        state = rundir.read_json(tmp_path / "run" / "checkpoints" / "state.json")
        assert state["epoch"] == after_epoch
    trace = Trace()
    summary = loop.run(config, sources=helpers.sources(), callbacks=[trace])
    assert trace.epochs == [1]  # only stage 2's second epoch was left
    assert [r["epoch"] for r in summary["history"]] == [1, 2, 3, 4]
    assert [(r["stage"], r["stage_epoch"]) for r in summary["history"]] == [
        (1, 1),
        (1, 2),
        (2, 1),
        (2, 2),
    ]
    # The optimizer's step counter came back with the checkpoint: the one-cycle
    # schedules are where an uninterrupted run has them (2 steps per epoch).
    for record in summary["history"]:
        max_lr = config.head_lr if record["stage"] == 1 else config.lr
        steps = 2 * record["stage_epoch"]
        assert record["lr"] == pytest.approx(reference_lr(steps, 4, max_lr), rel=1e-4)
        assert record["beta_1"] == pytest.approx(
            reference_beta_1(steps - 1, 4), rel=1e-6
        )
    # Running the finished command again trains nothing.
    trace = Trace()
    assert loop.run(config, sources=helpers.sources(), callbacks=[trace]) == summary
    assert trace.epochs == []
    # ...and the twice-interrupted run computed exactly what an uninterrupted one
    # does: data order, augmentation, dropout and optimizer state all continued.
    uninterrupted = loop.run(
        config.replace(model_dir=str(tmp_path / "uninterrupted")),
        sources=helpers.sources(),
    )
    for got, want in zip(summary["history"], uninterrupted["history"], strict=True):
        assert got == want
    assert summary["alphas"] == uninterrupted["alphas"]


def test_a_crash_while_writing_summaries_leaves_the_epoch_unfinished(
    tiny, tmp_path, monkeypatch
):
    """`EpochEnd`'s order: the checkpoint counts an epoch only after its summaries.

    Saved before them, the checkpoint would count epoch 2 and the resumed run would
    never write its TensorBoard scalars.
    """
    config = helpers.config(tmp_path)
    real_summaries = loop.tensorboard.EpochSummaries

    class FailingOnEpoch2(real_summaries):
        def write(self, record):
            if record["epoch"] == 2:
                raise KeyboardInterrupt("simulated crash while writing summaries")
            super().write(record)

    monkeypatch.setattr(loop.tensorboard, "EpochSummaries", FailingOnEpoch2)
    with pytest.raises(KeyboardInterrupt):
        loop.run(config, sources=helpers.sources())
    state = rundir.read_json(tmp_path / "run" / "checkpoints" / "state.json")
    assert state["epoch"] == 1
    monkeypatch.setattr(loop.tensorboard, "EpochSummaries", real_summaries)
    summary = loop.run(config, sources=helpers.sources())
    assert [r["epoch"] for r in summary["history"]] == [1, 2, 3]
    scalars, _ = _events(tmp_path / "run" / "logs")
    for tag in ("train/loss", "validation/auroc", "optimizer/learning_rate"):
        assert sorted(scalars[tag]) == [1, 2, 3], tag


class PoisonAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        kernel = self.model.get_layer("head_logits").kernel
        kernel.assign(np.full(kernel.shape, np.nan, "float32"))


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_checkpoint(tiny, tmp_path):
    config = helpers.config(tmp_path, head_epochs=3, epochs=0)
    with pytest.raises(FloatingPointError, match="NaN at stage 1, epoch 2") as error:
        loop.run(config, sources=helpers.sources(), callbacks=[PoisonAfterFirstEpoch()])
    assert "last good checkpoint (stage 1, epoch 1)" in str(error.value)
    state = rundir.read_json(tmp_path / "run" / "checkpoints" / "state.json")
    assert state["epoch"] == 1
    assert not (tmp_path / "run" / "summary.json").exists()
    # The kept checkpoint has finite weights and the run resumes from it.
    summary = loop.run(config, sources=helpers.sources())
    assert [r["epoch"] for r in summary["history"]] == [1, 2, 3]
    assert np.isfinite(summary["final_train_loss"])


def test_seeds_write_tables_and_finished_seeds_are_skipped(tiny, tmp_path):
    config = helpers.config(tmp_path, head_epochs=0, epochs=1)
    summaries = seeds_module.run_seeds(config, [3, 4], sources=helpers.sources())
    run_dir = tmp_path / "run"
    assert json.loads((run_dir / "config.json").read_text())["seeds"] == [3, 4]
    assert json.loads((run_dir / "seed_4" / "config.json").read_text())["seed"] == 4
    assert "| max_auroc | 2 |" in (run_dir / "results.md").read_text()
    assert (run_dir / "results.csv").read_text().startswith("score,n,mean,std")
    trace = Trace()
    again = seeds_module.run_seeds(
        config, [3, 4], sources=helpers.sources(), callbacks=[trace]
    )
    assert again == summaries and trace.epochs == []
    assert results.load_summaries(run_dir) == summaries


@pytest.mark.slow  # 20-40 s of training: the default suite stays well under 15 min
def test_a_seed_gives_the_same_numbers_whatever_ran_before(tiny, tmp_path):
    """`--seeds=1` and `--seeds=0,1` in one process: seed 1's numbers are equal."""
    config = helpers.config(tmp_path, arl=True)
    alone = seeds_module.run_seeds(
        config.replace(model_dir=str(tmp_path / "alone")),
        [1],
        sources=helpers.sources(),
    )
    # Disturb every global random state between the runs, too.
    keras.utils.set_random_seed(12345)
    np.random.default_rng().random()
    after = seeds_module.run_seeds(
        config.replace(model_dir=str(tmp_path / "after")),
        [0, 1],
        sources=helpers.sources(),
    )
    assert helpers.floats_of(alone[0]) == helpers.floats_of(after[1])
    assert helpers.floats_of(after[0]) != helpers.floats_of(after[1])
    # The loss moved with the training, so equality is not trivially "all NaN".
    losses = [record["loss"] for record in alone[0]["history"]]
    assert np.isfinite(losses).all() and len(set(losses)) == len(losses)


def test_a_trained_dir_refuses_another_configuration(tiny, tmp_path):
    loop.run(
        helpers.config(tmp_path, head_epochs=0, epochs=1), sources=helpers.sources()
    )
    with pytest.raises(loop.ConfigMismatchError, match="lr=0.0003"):
        loop.run(
            helpers.config(tmp_path, head_epochs=0, epochs=1, lr=1e-2),
            sources=helpers.sources(),
        )


class _TwoReplicas:
    num_replicas_in_sync = 2


def test_batch_not_divisible_by_replicas_fails_before_training(tmp_path, monkeypatch):
    def no_model(config):
        raise AssertionError("a model was built")

    monkeypatch.setattr(loop, "model_from_config", no_model)
    monkeypatch.setattr(
        loop.distribute, "select_strategy", lambda name, tpu=None: _TwoReplicas()
    )
    config = helpers.config(tmp_path, batch_size=3, scale_batch=False)
    with pytest.raises(ValueError, match="divisible by the number of replicas"):
        loop.run(config, sources=helpers.sources())
    assert not (tmp_path / "run").exists()


def test_unprepared_isic_dataset_names_the_tfds_build_command(tmp_path, monkeypatch):
    monkeypatch.setattr(loop, "model_from_config", lambda config: 1 / 0)
    config = helpers.config(
        tmp_path, dataset="isic2017", data_dir=str(tmp_path / "tfds")
    )
    with pytest.raises(FileNotFoundError, match="tfds build isic2017"):
        loop.run(config)


def test_mixed_precision_and_jit_compile_run(tiny, tmp_path):
    config = helpers.config(
        tmp_path, head_epochs=0, epochs=1, mixed_precision=True, jit_compile=True
    )
    summary = loop.run(config, sources=helpers.sources())
    assert np.isfinite(summary["final_loss"])
    assert keras.config.dtype_policy().name == "float32"  # restored afterwards


class _DeterminismProbe(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_begin(self, batch, logs=None):
        from tensorflow.python.framework import config as tf_config

        self.seen.append(tf_config.is_op_determinism_enabled())


def test_deterministic_turns_on_op_determinism_for_the_run_only(tiny, tmp_path):
    from tensorflow.python.framework import config as tf_config

    probe = _DeterminismProbe()
    config = helpers.config(tmp_path, head_epochs=0, epochs=1, deterministic=True)
    loop.run(config, sources=helpers.sources(), callbacks=[probe])
    assert probe.seen and all(probe.seen)
    assert not tf_config.is_op_determinism_enabled()  # restored afterwards
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["deterministic"] is True
    # A runtime setting: the run may be resumed without it.
    assert loop.run(config.replace(deterministic=False), sources=helpers.sources())


def test_global_draws_while_the_data_is_prepared_change_nothing(
    tiny, tmp_path, monkeypatch
):
    """Building a TFDS dataset on first use draws from the global generators: the
    seed's initial weights must not depend on whether that happened."""
    import random

    config = helpers.config(tmp_path, head_epochs=0, epochs=1)
    plain = loop.run(
        config.replace(model_dir=str(tmp_path / "plain")), sources=helpers.sources()
    )
    real_datasets = loop._datasets

    def datasets_that_draw(*args, **kwargs):
        result = real_datasets(*args, **kwargs)
        random.random()
        np.random.random()
        tf.random.uniform(())
        keras.random.uniform(())
        return result

    monkeypatch.setattr(loop, "_datasets", datasets_that_draw)
    disturbed = loop.run(
        config.replace(model_dir=str(tmp_path / "disturbed")),
        sources=helpers.sources(),
    )
    assert helpers.floats_of(plain) == helpers.floats_of(disturbed)
