"""experiments.plot_alphas on a summary.json written here."""

import json

import matplotlib.image
import pytest

from experiments import deploy_cli, plot_alphas

LAYERS = [
    f"conv{s}_block{b}_arl"
    for s, n in ((2, 3), (3, 4), (4, 6), (5, 3))
    for b in range(1, n + 1)
]


def _write_run(run_dir, seeds=(0, 1), epochs=6):
    (run_dir).mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps({"head_epochs": 2, "extra": 1}))
    for seed in seeds:
        alphas = {
            name: [0.001 * (i + 1) * (e + seed) for e in range(epochs)]
            for i, name in enumerate(LAYERS)
        }
        seed_dir = run_dir / f"seed_{seed}"
        seed_dir.mkdir()
        (seed_dir / "summary.json").write_text(json.dumps({"alphas": alphas}))


def test_multi_seed_dir_gives_one_subplot_per_alpha(tmp_path):
    _write_run(tmp_path / "run")
    seeds, head_epochs = plot_alphas.load_alphas(tmp_path / "run")
    assert list(seeds) == ["seed_0", "seed_1"] and head_epochs == 2
    out = tmp_path / "alphas.png"
    assert plot_alphas.plot_alphas(seeds, out, head_epochs=head_epochs) == 16
    image = matplotlib.image.imread(out)
    assert image.shape[0] > 400 and image.shape[1] > 800  # a 4 x 4 grid


def test_block_order_is_the_network_order():
    shuffled = sorted(LAYERS)  # lexicographic puts conv3_block10 before conv3_block2
    assert sorted(shuffled, key=plot_alphas._block_order) == LAYERS


def test_cli_on_a_seed_dir(tmp_path, capsys):
    _write_run(tmp_path / "run", seeds=(3,))
    deploy_cli.parse(plot_alphas.FLAGS, ["plot_alphas"])
    assert plot_alphas.main(["plot_alphas", str(tmp_path / "run" / "seed_3")]) == 0
    assert (tmp_path / "run" / "seed_3" / "alphas.png").stat().st_size > 10_000
    assert "16 ARL alphas" in capsys.readouterr().out


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Received: run_dir="):
        plot_alphas.load_alphas(tmp_path)
    (tmp_path / "summary.json").write_text(json.dumps({"alphas": {}}))
    with pytest.raises(ValueError, match="no ARL alphas"):
        plot_alphas.load_alphas(tmp_path)
