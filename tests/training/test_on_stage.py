"""`run_seeds(..., on_stage=)`: called before each stage that trains, and only then."""

import pytest

from skinkeras.training import loop
from skinkeras.training import seeds as seeds_module
from tests.training import helpers


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(loop, "model_from_config", helpers.tiny_model)


@pytest.mark.slow  # 20-40 s of training: the default suite stays well under 15 min
def test_on_stage_is_called_before_each_stage_that_trains(tiny, tmp_path):
    config = helpers.config(tmp_path, head_epochs=1, epochs=1, head_lr=2e-3, lr=5e-4)
    calls = []

    def on_stage(*args):
        calls.append(args)

    seeds_module.run_seeds(config, [3, 4], sources=helpers.sources(), on_stage=on_stage)
    assert calls == [
        (3, 1, 1, 2e-3),
        (3, 2, 1, 5e-4),
        (4, 1, 1, 2e-3),
        (4, 2, 1, 5e-4),
    ]
    # Finished seeds are skipped: nothing trains, nothing is announced.
    calls.clear()
    seeds_module.run_seeds(config, [3, 4], sources=helpers.sources(), on_stage=on_stage)
    assert calls == []


def test_a_skipped_stage_is_not_announced(tiny, tmp_path):
    config = helpers.config(tmp_path, head_epochs=0, epochs=1)
    calls = []
    loop.run(
        seeds_module.seed_config(config, 0),
        sources=helpers.sources(),
        on_stage=lambda *args: calls.append(args),
    )
    assert calls == [(0, 2, 1, config.lr)]
