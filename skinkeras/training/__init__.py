"""Training of the study: one-cycle schedule, callbacks, result tables, `run(config)`.

Library code only; `experiments/main.py` turns flags into a `TrainConfig`
(`skinkeras.config`, a leaf that the data, run directory, inference and segmentation
read too; re-exported here).
Submodules: `schedules` (OneCycle, one_cycle_momentum),
`optimizers` (fastai v1's AdamW), `callbacks`, `checkpoints` (run state,
checkpoints), `tensorboard` (event files),
`distribute` (strategies, global batch), `losses` (focal loss, class weights),
`runner` (staged, checkpointed, resumable fit), `loop` (`run`: one seed), `compiled`
(one model and trace per process for its seeds), `seeds`
(`run_seeds`: a configuration's seeds, by one process or several at once), `launch`
(`run_on_ray`: every configuration x seed as a Ray task), `results`
(tables, comparisons). File names, atomic writes and saving the model are
`skinkeras.rundir`'s. The segmenter
(`skinkeras.segmentation.training`) trains through the same runner, optimizer
factory and event writers.

Attributes are imported on first use, so that reading a config (e.g. for
`experiments.main --helpfull`) does not import TensorFlow.
"""

import importlib

_EXPORTS = {
    "OneCycle": "schedules",
    "one_cycle_momentum": "schedules",
    "global_batch_size": "distribute",
    "select_strategy": "distribute",
    "run": "loop",
    "run_seeds": "seeds",
    "seed_config": "seeds",
}
_SUBMODULES = (
    "callbacks",
    "checkpoints",
    "compiled",
    "distribute",
    "launch",
    "loop",
    "losses",
    "optimizers",
    "results",
    "runner",
    "schedules",
    "seeds",
    "tensorboard",
)

__all__ = sorted(["TrainConfig", *_EXPORTS, *_SUBMODULES])


def __getattr__(name):
    if name == "TrainConfig":
        return importlib.import_module("skinkeras.config").TrainConfig
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
