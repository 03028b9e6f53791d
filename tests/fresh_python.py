"""Runs a Python snippet in a fresh interpreter (another Keras backend, other env,
what a fresh process imports)."""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_python(script, *args, timeout=300, **env):
    """`python -c script *args` from the repo root with `env` added; asserts success.

    Returns:
        The snippet's standard output.
    """
    full_env = dict(os.environ, **env)
    # The repository first: an installed skinkeras (editable or not) must not win.
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
