"""experiments.suite: configurations as data, the comparison table, a micro-suite."""

import functools
import json
import pathlib

import pytest

from experiments import deploy_cli, suite
from experiments.configs import PRESETS


def test_every_experiment_has_its_configurations_and_study_numbers(tmp_path):
    counts = {1: 2, 2: 4, 3: 2, 4: 4}
    for experiment, count in counts.items():
        configs = suite.suite_configs(experiment, tmp_path)
        assert len(configs) == count
        for name, config in configs:
            assert name in PRESETS and name in suite.STUDY
            # Every experiment of the thesis augments and oversamples (§4.1.2-4.4.2).
            assert config.augment and config.oversample, name
            assert config.lighting == (experiment == 2), name
            shared = "exp3_resnet50" if name == "exp1_resnet50" else name
            assert config.model_dir == str(tmp_path / shared)
    exp4 = dict(suite.suite_configs(4, tmp_path))
    assert [(c.se, c.arl) for c in exp4.values()] == [
        (True, False),
        (False, False),
        (False, True),
        (True, True),
    ]
    exp2 = dict(suite.suite_configs(2, tmp_path))
    assert all(c.augment and c.lighting and c.oversample for c in exp2.values())
    assert [c.preprocessing for c in exp2.values()] == [
        "none",
        "max_rgb",
        "shades_of_gray",
        "ben_graham",
    ]


def test_pass_through_and_mask_flags(tmp_path):
    deploy_cli.parse(
        suite.FLAGS,
        [
            "suite",
            "--experiment=1",
            f"--model_dir={tmp_path}",
            "--dataset=synthetic_lesions",
            "--image_size=64",
            "--epochs=1",
            "--weights=none",
            "--masks_dir=/m",
            "--mask_mode=gray128",
        ],
    )
    overrides, masks = suite.overrides_from_flags()
    assert overrides == {
        "dataset": "synthetic_lesions",
        "image_size": 64,
        "epochs": 1,
        "weights": "none",
    }
    baseline, masked = suite.suite_configs(
        1, tmp_path, overrides=overrides, mask_overrides=masks
    )
    assert baseline[1].masks_dir is None and baseline[1].image_size == 64
    assert masked[1].masks_dir == "/m" and masked[1].mask_mode == "gray128"
    assert baseline[1].head_epochs == 4  # the study's protocol where not overridden


def _write_summaries(run_dir, accuracies, auroc_shift):
    for seed, accuracy in enumerate(accuracies):
        seed_dir = run_dir / f"seed_{seed}"
        seed_dir.mkdir(parents=True)
        summary = {
            "seed": seed,
            "max_accuracy": accuracy,
            "max_auroc": accuracy - auroc_shift,
        }
        (seed_dir / "summary.json").write_text(json.dumps(summary))


def test_comparison_table_has_study_and_tests(tmp_path):
    _write_summaries(tmp_path / "a", (0.87, 0.88, 0.86), 0.05)
    _write_summaries(tmp_path / "b", (0.88, 0.89, 0.9), 0.1)
    text = suite.comparison_markdown(
        3, [tmp_path / "a", tmp_path / "b"], ["exp3_resnet50", "exp3_resnet50_arl"]
    )
    assert "| exp3_resnet50_arl | 3 | 0.8900 ± 0.0100 | 0.8800 |" in text
    assert "0.8767" in text and "Welch" in text


def test_main_runs_each_configuration(tmp_path, monkeypatch, capsys):
    import skinkeras.training

    calls = []

    def fake_run_seeds(config, seeds, *, sources=None, verbose=0):
        calls.append((config.model_dir, list(seeds), config.dataset))
        accuracies = [0.8 + 0.01 * s for s in seeds]
        _write_summaries(pathlib.Path(config.model_dir), accuracies, 0.02)

    monkeypatch.setattr(skinkeras.training, "run_seeds", fake_run_seeds)
    deploy_cli.parse(
        suite.FLAGS,
        [
            "suite",
            "--experiment=4",
            f"--model_dir={tmp_path}",
            "--num_seeds=2",
            "--seed=3",
            "--dataset=synthetic_lesions",
        ],
    )
    assert suite.main(["suite"]) == 0
    assert [c[1] for c in calls] == [[3, 4]] * 4
    assert {c[2] for c in calls} == {"synthetic_lesions"}
    assert "exp4_effnet_se_arl" in (tmp_path / "comparison_exp4.md").read_text()
    assert "comparison_exp4.md" in capsys.readouterr().out


def test_an_experiment_runs_on_another_backbone(tmp_path, monkeypatch):
    """Issue 24: --model passes through, e.g. experiment 4's attention variants on
    EfficientNet-B3; a backbone without SE is refused before anything trains."""
    import skinkeras.training

    models = []
    monkeypatch.setattr(
        skinkeras.training,
        "run_seeds",
        lambda config, seeds, **kwargs: models.append((config.model, config.se)),
    )
    flags_ = ["suite", "--experiment=4", f"--model_dir={tmp_path}", "--num_seeds=1"]
    deploy_cli.parse(suite.FLAGS, [*flags_, "--model=effnet_b3"])
    overrides, _ = suite.overrides_from_flags()
    assert overrides == {"model": "effnet_b3"}
    monkeypatch.setattr(suite, "comparison_markdown", lambda *args: "table")
    assert suite.main(["suite"]) == 0
    assert models == [
        ("effnet_b3", True),
        ("effnet_b3", False),
        ("effnet_b3", False),
        ("effnet_b3", True),
    ]
    models.clear()
    deploy_cli.parse(suite.FLAGS, [*flags_, "--model=resnet101"])
    with pytest.raises(SystemExit, match="--se applies only to EfficientNet"):
        suite.main(["suite"])
    assert models == []


def test_experiment_1_and_3_share_one_baseline_run(tmp_path, monkeypatch):
    """Thesis tables 4.1 and 4.4 have the same baseline row: one set of runs."""
    import skinkeras.training

    trained = []

    def fake_run_seeds(config, seeds, *, sources=None, verbose=0):
        run_dir = pathlib.Path(config.model_dir)
        if (run_dir / "seed_0" / "summary.json").exists():
            return  # finished seeds are skipped, as run_seeds does
        trained.append(run_dir.name)
        _write_summaries(run_dir, [0.8 + 0.01 * s for s in seeds], 0.02)

    monkeypatch.setattr(skinkeras.training, "run_seeds", fake_run_seeds)
    for experiment in (1, 3):
        suite.run_suite(experiment, tmp_path, seeds=[0, 1], progress=None)
    assert trained == [
        "exp3_resnet50",
        "exp1_resnet50_lesion_mask",
        "exp3_resnet50_arl",
    ]
    (exp1_baseline, _), (exp3_baseline, _) = (
        suite.suite_configs(1, tmp_path)[0],
        suite.suite_configs(3, tmp_path)[0],
    )
    assert PRESETS[exp1_baseline] == PRESETS[exp3_baseline]


@pytest.mark.slow
def test_micro_suite_of_experiment_4_on_a_stand_in_network(tmp_path, monkeypatch):
    from skinkeras.training import loop
    from skinkeras.training import seeds as seeds_module
    from tests.training import helpers

    # The suite's orchestration is under test (every configuration x seed trained
    # into its directory, the table, finished runs skipped), not the networks:
    # tests/models builds every variant, and tests/training/test_stages.py, the
    # demo and the reproducibility test train real ones end to end. The tiny
    # stand-in records the TrainConfig each run builds its model from.
    built = []

    def stand_in(config):
        built.append(config)
        return helpers.tiny_model(config)

    monkeypatch.setattr(loop, "model_from_config", stand_in)
    # Eager steps skip tracing 8 runs' train and predict functions.
    monkeypatch.setattr(
        loop, "compile_stage", functools.partial(loop.compile_stage, run_eagerly=True)
    )
    sources = {
        "train": helpers.source(4, 0, size=32),
        "validation": helpers.source(4, 1, size=32),
    }
    # One step of one stage per run; each preset's own settings (augmentation,
    # oversampling, SE, ARL) stay as the suite trains them.
    overrides = {
        "weights": "none",
        "image_size": 32,
        "batch_size": 4,
        "head_epochs": 0,
        "epochs": 1,
    }
    text = suite.run_suite(
        4,
        tmp_path / "exp4",
        seeds=[0, 1],
        overrides=overrides,
        sources=sources,
        progress=None,
    )
    for name in suite.EXPERIMENTS[4]:
        assert (tmp_path / "exp4" / name / "seed_1" / "summary.json").is_file()
        assert f"| {name} | 2 |" in text
    assert (tmp_path / "exp4" / "comparison_exp4.md").is_file()
    # Each run's model comes from its own configuration: the preset's variant
    # (thesis §4.4: EfficientNet-B0 with SE / none / ARL / SE+ARL), the
    # pass-through settings, its seed and its directory.
    assert [(c.model, c.se, c.arl, c.seed) for c in built] == [
        ("effnet", se, arl, seed)
        for se, arl in ((True, False), (False, False), (False, True), (True, True))
        for seed in (0, 1)
    ]
    assert built == [
        seeds_module.seed_config(config.replace(seeds=[0, 1]), seed)
        for _, config in suite.suite_configs(4, tmp_path / "exp4", overrides=overrides)
        for seed in (0, 1)
    ]
    # Finished runs are skipped: a second call trains nothing and gives the same table.
    built.clear()
    assert (
        suite.run_suite(
            4,
            tmp_path / "exp4",
            seeds=[0, 1],
            overrides=overrides,
            sources=sources,
            progress=None,
        )
        == text
    )
    assert built == []


def test_a_suite_shares_its_directories_with_other_processes(tmp_path, monkeypatch):
    """Issue 25: no lock of the suite's or a configuration's directory is held while
    the seeds train (each seed's own lock is `run_seeds`'), so the same suite
    started twice shares the work."""
    import skinkeras.training
    from skinkeras import rundir

    trained = []

    def fake_run_seeds(config, seeds, **kwargs):
        # Both free while the seeds "train".
        with rundir.lock(tmp_path), rundir.lock(config.model_dir):
            trained.append(pathlib.Path(config.model_dir).name)
        _write_summaries(pathlib.Path(config.model_dir), [0.8, 0.81], 0.02)

    monkeypatch.setattr(skinkeras.training, "run_seeds", fake_run_seeds)
    deploy_cli.parse(
        suite.FLAGS, ["suite", "--experiment=3", f"--model_dir={tmp_path}"]
    )
    assert suite.main(["suite"]) == 0
    assert trained == ["exp3_resnet50", "exp3_resnet50_arl"]
