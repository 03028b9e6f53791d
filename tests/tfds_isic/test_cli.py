"""The `tfds build` command line, in a subprocess, as docs/datasets.md states it."""

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest
import tensorflow_datasets as tfds

import tfds_isic  # noqa: F401  (registers the builders)
from tests.tfds_isic import fake_isic

REPO = pathlib.Path(__file__).resolve().parents[2]
TFDS = pathlib.Path(sys.executable).parent / "tfds"

# Loaded by the subprocess through PYTHONPATH: any non-loopback connection fails
# loudly, as tests/conftest.py does in-process (offline, TFDS would retry for minutes).
_SITECUSTOMIZE = textwrap.dedent(
    """
    import socket

    _connect = socket.socket.connect

    def _guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in (
            "127.0.0.1", "::1", "localhost"
        ):
            raise RuntimeError(f"tfds build tried to reach the network: {address!r}")
        return _connect(self, address)

    socket.socket.connect = _guarded
    """
)


def run_tfds(args, *, cwd, tmp_path):
    guard = tmp_path / "guard"
    guard.mkdir(exist_ok=True)
    (guard / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(guard), str(REPO)])
    env["TFDS_ISIC_SKIP_MD5"] = "1"  # fake archives with the official names
    result = subprocess.run(
        [str(TFDS), "build", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result


@pytest.mark.slow  # 20-40 s of training: the default suite stays well under 15 min
def test_build_with_imports_from_any_directory(tmp_path):
    """`tfds build NAME --imports=tfds_isic --manual_dir=DIR`, run outside the repo."""
    fake_isic.write_isic2017(tmp_path / "manual")
    (tmp_path / "elsewhere").mkdir()
    data_dir = tmp_path / "data"
    run_tfds(
        [
            "synthetic_lesions",
            "isic2017/256",
            "--imports=tfds_isic",
            f"--manual_dir={tmp_path / 'manual'}",
            f"--data_dir={data_dir}",
        ],
        cwd=tmp_path / "elsewhere",
        tmp_path=tmp_path,
    )
    isic = tfds.load("isic2017/256", data_dir=str(data_dir), split="validation")
    assert len(list(isic)) == 3
    builder = tfds.builder("synthetic_lesions", data_dir=str(data_dir))
    assert builder.is_prepared()
    assert builder.info.splits["train"].num_examples == 600


@pytest.mark.slow
def test_build_by_path_from_the_repository_root(tmp_path):
    """`tfds build tfds_isic/isic2017 --config=256`, run in the repository root."""
    fake_isic.write_isic2017(tmp_path / "manual")
    data_dir = tmp_path / "data"
    run_tfds(
        [
            "tfds_isic/isic2017",
            "--config=256",
            f"--manual_dir={tmp_path / 'manual'}",
            f"--data_dir={data_dir}",
        ],
        cwd=REPO,
        tmp_path=tmp_path,
    )
    train = tfds.load("isic2017/256", data_dir=str(data_dir), split="train")
    assert len(list(train)) == 5
