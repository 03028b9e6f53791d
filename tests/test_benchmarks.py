"""The benchmarks: pipeline routes produce what they time, gc stays on; model-benchmark ratios."""

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


def test_paired_ratio_is_the_median_of_same_round_ratios():
    from benchmarks.models import paired_ratio

    arl = [1.1, 3.0, 2.4, 1.0, 5.0]
    plain = [1.0, 2.0, 2.0, 1.0, 4.0]
    expected = np.median(np.array(arl) / np.array(plain))
    assert paired_ratio(arl, plain) == pytest.approx(expected)
    assert paired_ratio(arl, plain) == pytest.approx(1.2)
    with pytest.raises(ValueError, match="one time per round"):
        paired_ratio([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="one time per round"):
        paired_ratio([], [])


def test_models_benchmark_variants_follow_the_model_names():
    import argparse

    from benchmarks.models import parse_models, variants

    rows, pairs = variants("effnet_b3")
    assert [label for label, _ in rows] == [
        "EfficientNetB3 (keras.applications)",
        "effnet_b3 SE",
        "effnet_b3 SE + ARL",
    ]
    assert pairs == [("effnet_b3 SE + ARL", "effnet_b3 SE")]
    rows, pairs = variants("effnet")  # the study's four variants
    assert {label for label, _ in rows} >= {"effnet_b0 none", "effnet_b0 ARL"}
    assert ("effnet_b0 ARL", "effnet_b0 none") in pairs
    assert variants("resnet152")[0][0][0] == "ResNet152 (keras.applications)"
    assert parse_models("resnet101, effnet_b7") == ("resnet101", "effnet_b7")
    for bad in ("resnet26", "vgg", "", "effnet,effnet"):
        with pytest.raises(argparse.ArgumentTypeError, match="Received: --models="):
            parse_models(bad)


@pytest.mark.slow
def test_models_benchmark_prints_both_tables(monkeypatch, capsys):
    from benchmarks import models as bench_models

    argv = [
        "models",
        "--models=resnet50",
        "--image_size=32",
        "--repeats=2",
        "--warmup=1",
    ]
    monkeypatch.setattr("sys.argv", argv)
    bench_models.main()
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    labels = [row.split(" | ")[0][2:] for row in rows]
    assert labels == [
        "model",
        "ResNet50 (keras.applications)",
        "resnet50",
        "resnet50 + ARL",
        "ARL model",
        "resnet50 + ARL",
    ]
    cost = rows[-1].split(" | ")
    assert cost[1] == "resnet50" and cost[2].endswith("%") and cost[3].endswith("% |")


def test_seeds_benchmark_times_one_process_against_one_per_seed(monkeypatch, capsys):
    from benchmarks import seeds as bench_seeds

    calls = []

    def fake_train(data_dir, model_dir, seeds, extra):
        calls.append((model_dir.name, seeds, tuple(extra)))
        wall = {"warmup": 1.0, "a0": 6.0, "a1": 6.0}.get(model_dir.name, 4.0)
        return wall, wall / 2 if model_dir.name.startswith("a") else wall

    monkeypatch.setattr(bench_seeds, "train", fake_train)
    assert bench_seeds.main(["--seeds=3", "--rounds=2", "--", "--image_size=48"]) == 0
    # The dataset first, then A B, then B A: the order alternates per round.
    assert [name for name, _, _ in calls] == ["warmup"] + ["a0"] + ["b0"] * 3 + [
        "b1"
    ] * 3 + ["a1"]
    assert [seeds for name, seeds, _ in calls if name.startswith("a")] == ["0,1,2"] * 2
    assert [seeds for name, seeds, _ in calls if name == "b0"] == ["0", "1", "2"]
    assert {extra for _, _, extra in calls} == {("--image_size=48",)}
    out = capsys.readouterr().out
    assert "ratio 0.500 wall, 0.250 CPU" in out  # 6 s / (3 x 4 s), 3 s / 12 s
    assert "one process per seed = 0.500 wall (median of 2 round(s))" in out
    assert "one process per seed = 0.250 CPU (median of 2 round(s))" in out
    with pytest.raises(SystemExit):
        bench_seeds.main(["--seeds=1"])
