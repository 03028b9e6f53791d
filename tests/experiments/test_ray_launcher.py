"""`--launcher=ray` of experiments.main and experiments.suite (issue 25).

The launcher itself (a local Ray, a killed worker) is tested in
tests/training/test_launch.py; here, what the commands hand it.
"""

import json
import pathlib
import sys

import pytest
from absl import flags

from experiments import common_flags, deploy_cli, suite
from experiments import main as main_module
from skinkeras.training import launch

LAUNCHER_FLAGS = ("launcher", "ray_address", "gpus_per_run", "cpus_per_run")


@pytest.fixture
def parsed():
    """Parses experiments.main's flags (absl's global FLAGS); defaults afterwards."""
    yield lambda *args: deploy_cli.parse(flags.FLAGS, ["experiments.main", *args])
    flags.FLAGS.unparse_flags()


@pytest.mark.parametrize("module", [main_module, suite])
def test_both_commands_document_the_launcher_flags(module):
    text = module.FLAGS.module_help(common_flags.module_key(module.__name__))
    for name in LAUNCHER_FLAGS:
        assert f"\n  --{name}: " in text, name
    assert module.FLAGS["launcher"].default == "local"
    assert module.FLAGS["launcher"].parser.enum_values == ["local", "ray"]
    assert launch.INSTALL in module.FLAGS["launcher"].help


def test_main_without_ray_fails_at_once_with_the_install_command(
    parsed, monkeypatch, tmp_path, capsys
):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    parsed("--launcher=ray", f"--model_dir={tmp_path / 'run'}", "--restart")
    assert main_module.main(["experiments.main"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("experiments.main: error: ")
    assert 'pip install -e ".[ray]"' in error
    assert not (tmp_path / "run").exists()


def test_suite_without_ray_fails_at_once_with_the_install_command(
    monkeypatch, tmp_path
):
    monkeypatch.setitem(sys.modules, "ray", None)
    deploy_cli.parse(
        suite.FLAGS,
        ["suite", "--experiment=3", f"--model_dir={tmp_path}", "--launcher=ray"],
    )
    with pytest.raises(SystemExit, match=r'pip install -e "\.\[ray\]"'):
        suite.main(["suite"])
    assert list(tmp_path.iterdir()) == []


def test_main_hands_its_seeds_and_ray_flags_to_the_launcher(
    parsed, monkeypatch, tmp_path, capsys
):
    calls = []

    def fake_run_on_ray(runs, **options):
        calls.append((runs, options))
        options["progress"]("a progress line")

    monkeypatch.setattr(launch, "run_on_ray", fake_run_on_ray)
    parsed(
        "--launcher=ray",
        "--ray_address=ray://head:10001",
        "--gpus_per_run=0.5",
        "--seeds=0-2",
        f"--model_dir={tmp_path / 'run'}",
    )
    assert main_module.main(["experiments.main"]) == 0
    [(runs, options)] = calls
    [(name, config, seeds)] = runs
    assert (name, seeds, config.seeds) == ("run", [0, 1, 2], [0, 1, 2])
    assert config == main_module.config_from_flags()
    del options["progress"]
    assert options == {
        "address": "ray://head:10001",
        "gpus_per_run": 0.5,
        "cpus_per_run": 1.0,
        "verbose": 2,
    }
    assert "a progress line\n" in capsys.readouterr().out


def test_main_with_the_local_launcher_does_not_use_ray(parsed, monkeypatch, tmp_path):
    from skinkeras.training import seeds

    trained = []
    monkeypatch.setattr(launch, "run_on_ray", None)  # would fail if called
    monkeypatch.setattr(seeds, "run_seeds", lambda config, s, **_: trained.append(s))
    parsed("--seeds=0,1", f"--model_dir={tmp_path / 'run'}")
    assert main_module.main(["experiments.main"]) == 0
    assert trained == [[0, 1]]


def test_suite_submits_every_configuration_and_seed_at_once(monkeypatch, tmp_path):
    calls = []

    def fake_run_on_ray(runs, **options):
        calls.append((runs, options))
        for index, (_, config, seeds) in enumerate(runs):  # what the tasks leave
            for seed in seeds:
                seed_dir = pathlib.Path(config.model_dir) / f"seed_{seed}"
                seed_dir.mkdir(parents=True)
                accuracy = 0.8 + index / 50 + seed / 100
                summary = {
                    "seed": seed,
                    "max_accuracy": accuracy,
                    "max_auroc": accuracy - 0.1,
                }
                (seed_dir / "summary.json").write_text(json.dumps(summary))

    monkeypatch.setattr(launch, "run_on_ray", fake_run_on_ray)
    deploy_cli.parse(
        suite.FLAGS,
        [
            "suite",
            "--experiment=4",
            f"--model_dir={tmp_path}",
            "--num_seeds=2",
            "--launcher=ray",
            "--cpus_per_run=2",
            "--dataset=synthetic_lesions",
        ],
    )
    assert suite.main(["suite"]) == 0
    [(runs, options)] = calls  # one submission: 4 configurations x 2 seeds
    assert [(name, seeds) for name, _, seeds in runs] == [
        (name, [0, 1]) for name in suite.EXPERIMENTS[4]
    ]
    assert [config for _, config, _ in runs] == [
        config
        for _, config in suite.suite_configs(
            4, tmp_path, overrides={"dataset": "synthetic_lesions"}
        )
    ]
    assert options["address"] is None and options["cpus_per_run"] == 2.0
    text = (tmp_path / "comparison_exp4.md").read_text()  # written at the end
    assert "| exp4_effnet_se_arl | 2 |" in text


def test_suite_refuses_in_memory_sources_on_ray(tmp_path):
    with pytest.raises(ValueError, match="Received: sources and ray"):
        suite.run_suite(3, tmp_path, seeds=[0], sources={}, ray={}, progress=None)
