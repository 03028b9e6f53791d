"""The launcher flags of `experiments.main` and `experiments.suite`: where the seeds
train, one after another in this process or as Ray tasks (issue 25;
`skinkeras.training.launch`)."""

from absl import flags

from experiments.common_flags import module_key

LAUNCHERS = ("local", "ray")


def define_launcher_flags(flag_values, *, module):
    """`--launcher`, `--ray_address`, `--gpus_per_run`, `--cpus_per_run`: where the
    seeds train (`skinkeras.training.launch`, issue 25)."""
    args = dict(flag_values=flag_values, module_name=module_key(module))
    flags.DEFINE_enum(
        "launcher",
        "local",
        list(LAUNCHERS),
        "local: this process trains the seeds one after another. ray: each "
        "(configuration, seed) is a Ray task, all submitted at once, on this "
        "machine's CPUs and GPUs or on the cluster of --ray_address; a task whose "
        'worker dies is retried and resumes from its checkpoint. Needs pip install -e ".[ray]".',
        **args,
    )
    flags.DEFINE_string(
        "ray_address",
        None,
        "--launcher=ray: the Ray cluster to join, e.g. `auto` (the one `ray start` "
        "began on this machine), HOST:6379 or ray://HOST:10001. Default: the "
        "RAY_ADDRESS environment variable, else a Ray started here for this command. "
        "Every node must see --model_dir (a shared file system).",
        **args,
    )
    flags.DEFINE_float(
        "gpus_per_run",
        1.0,
        "--launcher=ray: GPUs each run reserves where the cluster has GPUs (0.5: two "
        "runs share a GPU; 2: a MirroredStrategy run on two). Ignored without GPUs.",
        lower_bound=0.0,
        **args,
    )
    flags.DEFINE_float(
        "cpus_per_run",
        1.0,
        "--launcher=ray: CPUs each run reserves; Ray starts at most (CPUs / this) runs "
        "at once on a node.",
        lower_bound=0.0,
        **args,
    )


def launcher_options(flag_values):
    """`launch.run_on_ray`'s options from the launcher flags (None: --launcher=local)."""
    if flag_values.launcher != "ray":
        return None
    return dict(
        address=flag_values.ray_address,
        gpus_per_run=flag_values.gpus_per_run,
        cpus_per_run=flag_values.cpus_per_run,
    )
