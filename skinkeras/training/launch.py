"""`run_on_ray`: every (configuration, seed) as a Ray task (issue 25).

A study is about 120 independent training runs. Here each (configuration, seed) is
one Ray task, on this machine (`ray.init()` with its CPUs and GPUs) or on a running
cluster (``address``). A task trains its seed with `seeds.train_seed` — under the
seed directory's lock, skipping a seed that is finished or that another process
trains — then rewrites the configuration's ``results.md`` / ``results.csv``
(`seeds.write_tables`). A task whose worker dies (killed, out of memory, a lost
node) is retried up to ``max_retries`` times, and `loop.run` resumes it from its
last checkpoint, so its ``summary.json`` is the one an uninterrupted run writes.

Ray is an optional extra (``pip install -e ".[ray]"``): this module imports it only
when called, and imports no TensorFlow itself (the CLIs' ``--help`` stays fast).
"""

import collections
import datetime
import pathlib
import time

INSTALL = 'pip install -e ".[ray]"'
# Each worker process keeps the compiled model of its last configurations
# (`compiled.Compiled`): a reused worker builds and traces once per configuration,
# and holds at most this many models in memory.
KEEP_COMPILED = 2


class RayNotInstalledError(ImportError):
    """Ray is asked for but not installed; the message gives the install command."""


class RunsFailedError(RuntimeError):
    """Some runs raised (or their workers died more than ``max_retries`` times)."""


def require_ray():
    """Returns the `ray` module, or raises `RayNotInstalledError` at once."""
    try:
        import ray
    except ImportError as error:
        raise RayNotInstalledError(
            "The Ray launcher needs Ray, an optional extra of skinkeras. Install it "
            f"in skinkeras' folder with: {INSTALL}  ({error})"
        ) from None
    return ray


# Per worker process: what its earlier tasks built (Ray reuses a CPU task's worker;
# a GPU task gets a fresh one, `_resources`).
_compiled = collections.OrderedDict()  # compiled.config_key -> Compiled
_strategies = {}  # (strategy name, tpu) -> tf.distribute.Strategy


def _worker_state(config):
    """This worker's strategy and `Compiled` for ``config``: a model compiled for
    another seed of it is reused (issue 25), under the strategy it was built in."""
    from skinkeras.training import compiled as compiled_lib
    from skinkeras.training import distribute

    where = (config.strategy, config.tpu)
    if where not in _strategies:
        _strategies[where] = distribute.select_strategy(config.strategy, tpu=config.tpu)
    key = compiled_lib.config_key(config)
    if key in _compiled:
        _compiled.move_to_end(key)
    else:
        _compiled[key] = compiled_lib.Compiled()
        while len(_compiled) > KEEP_COMPILED:
            _compiled.popitem(last=False)
    return _strategies[where], _compiled[key]


def train_run(config, seed, *, verbose=0, callbacks=()):
    """One Ray task: trains seed ``seed`` of ``config`` (`seeds.train_seed`), then
    rewrites the configuration's tables if it trained; returns its `SeedOutcome`."""
    from skinkeras.training import seeds

    strategy, compiled = _worker_state(config)
    outcome = seeds.train_seed(
        config,
        seed,
        strategy=strategy,
        compiled=compiled,
        verbose=verbose,
        callbacks=callbacks,
    )
    if outcome.status == seeds.TRAINED:
        seeds.write_tables(pathlib.Path(config.model_dir), title=config.run_name)
    return outcome


def _clock(seconds):
    return str(datetime.timedelta(seconds=round(seconds)))


def progress_line(name, seed, outcome, *, done, total, trained, elapsed):
    """``name seed k: <what>; runs done/total, elapsed, estimated time left``.

    ``outcome`` is the run's `SeedOutcome`, None if it failed.

    The estimate is the elapsed time per run trained by this launch (not those found
    finished) times the runs left; the tasks run in parallel, so it includes that.
    """
    from skinkeras.training import seeds

    if outcome is None:
        what = "failed"
    elif outcome.status == seeds.BUSY:
        what = f"skipped, another process is training it (pid {outcome.holder})"
    else:
        what = "trained" if outcome.status == seeds.TRAINED else "finished before"
        summary = outcome.summary
        what += (
            f", max accuracy {summary['max_accuracy']:.4f}, "
            f"max AUROC {summary['max_auroc']:.4f}"
        )
    if done == total:
        left = "0:00:00"
    elif trained:
        left = _clock(elapsed / trained * (total - done))
    else:
        left = "unknown"
    return (
        f"{name} seed {seed}: {what}; runs {done}/{total}, "
        f"elapsed {_clock(elapsed)}, estimated time left {left}"
    )


def _init(ray, address):
    """Starts or joins Ray; returns whether this call started it (to stop it)."""
    if ray.is_initialized():  # e.g. a test's `ray.init(num_cpus=2)`
        return False
    ray.init(address=address)
    return True


def _resources(ray, *, gpus_per_run, cpus_per_run):
    """A task's `ray.remote` options: ``gpus_per_run`` GPUs where the cluster has
    GPUs, each such task in a fresh worker (``max_calls=1``): TensorFlow keeps the
    GPUs it saw first and their memory, whatever a later task is given."""
    resources = {"num_cpus": cpus_per_run}
    if ray.cluster_resources().get("GPU", 0) > 0:
        resources.update(num_gpus=gpus_per_run, max_calls=1)
        if gpus_per_run < 1:  # runs sharing a GPU: each takes the memory it needs
            env = {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}
            resources["runtime_env"] = {"env_vars": env}
    return resources


def _checked(name, config, seeds):
    """``(name, config with its seeds, seeds)``, or ValueError before anything runs."""
    seeds = [int(seed) for seed in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(
            f"`seeds` must be a non-empty list of distinct integers. Received: "
            f"seeds={seeds} for {name}"
        )
    config = config.replace(seeds=seeds)
    config.validate()
    if config.strategy == "multiworker":
        raise ValueError(
            "A Ray task trains on its own devices; --strategy=multiworker needs one "
            "process per worker (docs/training.md). Received: strategy='multiworker'"
        )
    return name, config, seeds


def run_on_ray(
    runs,
    *,
    address=None,
    gpus_per_run=1.0,
    cpus_per_run=1.0,
    max_retries=3,
    verbose=0,
    callbacks=(),
    progress=print,
):
    """Trains every (configuration, seed) of ``runs`` as a Ray task, all at once.

    Each configuration's ``config.json`` is checked and written first
    (`seeds.write_config`: a directory holding another configuration fails before
    anything is submitted). Then one task per (configuration, seed) is submitted and,
    as each one ends, ``progress`` gets a line: the run, runs done / total, elapsed
    time and the estimated time left. At the end each configuration's tables are
    rewritten if they are missing (`seeds.write_tables`).

    Args:
        runs: ``[(name, TrainConfig, seeds)]``; ``name`` labels the progress lines.
        address: a running Ray cluster (``auto``, ``HOST:PORT`` or
            ``ray://HOST:10001``); default: `ray.init()`'s (``RAY_ADDRESS``, a
            cluster ``ray start`` began on this machine, else a new local one with
            this machine's CPUs and GPUs). A Ray that is already initialised is used
            as it is. Every node must see the ``model_dir``s (a shared file system).
        gpus_per_run: GPUs per task where the cluster has GPUs (fractions share one:
            ``0.5`` runs two per GPU).
        cpus_per_run: CPUs per task (Ray runs at most CPUs / this many at once).
        max_retries: how many times a task whose worker died is run again (it
            resumes from its last checkpoint). Errors a run raises are not retried.
        verbose: Keras ``fit`` verbosity in the tasks (their output goes to the
            driver, prefixed by Ray).
        callbacks: extra Keras callbacks for every run (`loop.run`; pickled).
        progress: called with each progress line (None: silent).

    Returns:
        ``{name: [SeedOutcome]}``, each in the order of its seeds; a failed run has
        none.

    Raises:
        RayNotInstalledError: Ray is not installed (before anything runs).
        ValueError: a configuration Ray cannot run (multi-worker), or one its
            ``model_dir`` refuses.
        RunsFailedError: after every run ended, if some failed; the message names
            them and their errors.
    """
    ray = require_ray()
    from skinkeras import rundir
    from skinkeras.training import seeds as seeds_lib

    runs = [_checked(name, config, seeds) for name, config, seeds in runs]
    names = [name for name, _, _ in runs]
    if len(set(names)) != len(names):
        raise ValueError(f"Each run needs a name of its own. Received: names={names}")
    for _, config, _ in runs:
        seeds_lib.write_config(config, pathlib.Path(config.model_dir))
    started = _init(ray, address)
    try:
        options = _resources(ray, gpus_per_run=gpus_per_run, cpus_per_run=cpus_per_run)
        task = ray.remote(max_retries=max_retries, **options)(train_run)
        pending = {}
        for name, config, seeds in runs:
            for seed in seeds:
                ref = task.options(name=f"{name} seed {seed}").remote(
                    config, seed, verbose=verbose, callbacks=callbacks
                )
                pending[ref] = (name, seed)
        outcomes = {name: {} for name, _, _ in runs}
        failures = []
        start, total, trained = time.monotonic(), len(pending), 0
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            name, seed = pending.pop(ref)
            try:
                outcome = ray.get(ref)
            except Exception as error:  # the run's own error, or its worker's death
                outcome = None
                failures.append((name, seed, error))
            else:
                outcomes[name][seed] = outcome
                trained += outcome.status == seeds_lib.TRAINED
            if progress:
                done = total - len(pending)
                elapsed = time.monotonic() - start
                progress(
                    progress_line(
                        name,
                        seed,
                        outcome,
                        done=done,
                        total=total,
                        trained=trained,
                        elapsed=elapsed,
                    )
                )
    finally:
        if started:
            ray.shutdown()
    for _, config, _ in runs:  # tables even when nothing trained now
        directory = pathlib.Path(config.model_dir)
        if not (directory / rundir.RESULTS_MD).is_file():
            seeds_lib.write_tables(directory, title=config.run_name)
    if failures:
        lines = [f"{len(failures)} of {total} runs failed:"]
        for name, seed, error in failures:
            last = str(error).strip().splitlines()[-1:] or [type(error).__name__]
            lines.append(f"  {name} seed {seed}: {last[0]}")
        raise RunsFailedError("\n".join(lines))
    return {
        name: [outcomes[name][seed] for seed in seeds if seed in outcomes[name]]
        for name, _, seeds in runs
    }
