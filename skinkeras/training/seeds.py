"""`run_seeds`: the seeds of one configuration, by one process or several at once.

Every seed of a configuration runs in ``model_dir/seed_<k>`` (`skinkeras.rundir`).
The process training seed *k* holds that directory's lock for the whole run
(`loop.run`); the configuration's own directory is locked only briefly, to compare
and write its ``config.json`` and to rewrite its ``results.md`` / ``results.csv``
(issue 25). So any number of processes may run the same command on one
``--model_dir`` — a Slurm array, a second GPU, a Ray task per seed: each skips the
seeds another live process holds and those already finished, and the file system
is their only queue. Whoever finishes a seed rewrites the tables from every finished
seed's ``summary.json``.
"""

import dataclasses
import pathlib

from skinkeras import rundir
from skinkeras.config import TrainConfig
from skinkeras.training import compiled as compiled_lib
from skinkeras.training import distribute, loop, results

TRAINED, FINISHED, BUSY = "trained", "finished", "busy"


@dataclasses.dataclass(frozen=True)
class SeedOutcome:
    """What became of one seed in this process.

    ``status``: `TRAINED` (here, now), `FINISHED` (found finished: skipped) or
    `BUSY` (another process trains it: skipped; ``holder`` is its pid and
    ``lock_path`` the lock file it holds). ``summary`` is the seed's ``summary.json``
    unless busy.
    """

    seed: int
    status: str
    summary: dict | None = None
    holder: str | None = None
    lock_path: str | None = None


def seed_config(config, seed):
    """The config of one seed's run: ``seed`` set, ``model_dir/seed_<seed>``."""
    return config.replace(
        seed=int(seed), model_dir=str(rundir.seed_dir(config.model_dir, seed))
    )


def table_dir(config, strategy):
    """Where a configuration's ``config.json`` and tables go: ``model_dir``, or a
    non-chief multi-worker task's own ``model_dir/workers/<task>``."""
    worker = distribute.worker_subdir(strategy)
    model_dir = pathlib.Path(config.model_dir)
    return model_dir if worker is None else model_dir / worker


def write_config(config, directory):
    """Checks and writes the configuration's ``config.json`` under a brief lock.

    Refuses another configuration (`loop.ConfigMismatchError`); the recorded
    ``seeds`` are every seed asked for so far, by whichever process.
    """
    with rundir.lock(directory, wait=rundir.BRIEF_WAIT):
        loop.check_model_dir(config, directory)
        path = directory / rundir.CONFIG
        seeds = list(config.seeds or [])
        if path.is_file():
            saved = rundir.read_json(path).get("seeds") or []
            seeds = sorted(set(saved) | set(seeds))
        rundir.atomic_write_text(path, config.replace(seeds=seeds).to_json())


def write_tables(directory, *, title):
    """Rewrites ``results.md`` / ``.csv`` from every finished seed's ``summary.json``
    under a brief lock; returns those summaries (none: no tables)."""
    with rundir.lock(directory, wait=rundir.BRIEF_WAIT):
        summaries = results.load_summaries(directory)
        if summaries:
            results.write_results(directory, summaries, title=title)
    return summaries


def train_seed(config, seed, *, strategy=None, **run_kwargs):
    """Trains seed ``seed`` of ``config`` unless it is finished or another process
    trains it; returns a `SeedOutcome`. ``run_kwargs`` go to `loop.run`."""
    seed_run = seed_config(config, seed)
    summary_path = pathlib.Path(seed_run.model_dir) / rundir.SUMMARY
    if strategy is None:
        strategy = distribute.select_strategy(config.strategy, tpu=config.tpu)
    worker = distribute.worker_subdir(strategy)
    if worker is not None:
        summary_path = summary_path.parent / worker / rundir.SUMMARY
    if summary_path.is_file():
        return SeedOutcome(seed, FINISHED, rundir.read_json(summary_path))
    try:
        summary = loop.run(seed_run, strategy=strategy, **run_kwargs)
    except rundir.RunDirBusyError as busy:
        return SeedOutcome(seed, BUSY, holder=busy.holder, lock_path=str(busy.path))
    return SeedOutcome(seed, TRAINED, summary)


def run_seeds(
    config,
    seeds,
    *,
    sources=None,
    callbacks=(),
    verbose=0,
    progress=None,
    on_stage=None,
):
    """Runs every seed of ``seeds`` that no one has finished or is training.

    Each seed runs in ``config.model_dir/seed_<k>`` (`loop.run`, under the seed's
    lock); finished seeds are read back, seeds another live process holds are
    skipped at once. After every seed trained here, ``results.md`` and
    ``results.csv`` are rewritten from all finished seeds (this process's and any
    other's). Returns the summaries of the seeds finished (here or before), in the
    order of ``seeds``; a skipped busy seed has none.

    Args:
        progress: optional ``progress(outcome)``, called with each seed's
            `SeedOutcome` as soon as it is known.
        sources, callbacks, verbose, on_stage: passed to `loop.run`.
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"`config` must be a TrainConfig. Received: config={config!r}")
    seeds = [int(seed) for seed in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(
            f"`seeds` must be a non-empty list of distinct integers. Received: seeds={seeds}"
        )
    config = config.replace(seeds=seeds)
    config.validate()
    # One strategy for all seeds: a multi-worker strategy can exist once per process.
    strategy = distribute.select_strategy(config.strategy, tpu=config.tpu)
    directory = table_dir(config, strategy)
    write_config(config, directory)
    # One model and one trace per stage for all these seeds (issue 25).
    compiled = compiled_lib.Compiled()
    summaries = []
    for seed in seeds:
        outcome = train_seed(
            config,
            seed,
            strategy=strategy,
            compiled=compiled,
            sources=sources,
            callbacks=callbacks,
            verbose=verbose,
            on_stage=on_stage,
        )
        if outcome.summary is not None:
            summaries.append(outcome.summary)
        if outcome.status == TRAINED:
            write_tables(directory, title=config.run_name)
        if progress is not None:
            progress(outcome)
    if summaries and not (directory / rundir.RESULTS_MD).is_file():
        write_tables(directory, title=config.run_name)  # e.g. a crash after a seed
    return summaries
