"""Test-wide settings: quiet TensorFlow, the TensorFlow backend, no network."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def pytest_addoption(parser):
    parser.addoption(
        "--slow_shard",
        default=None,
        help="K/N: run only shard K of N of the selected tests (tests/schedule.py).",
    )


def pytest_collection_modifyitems(config, items):
    text = config.getoption("slow_shard")
    if text is None:
        return
    from tests import schedule

    deselected = []
    items[:] = schedule.select_shard(items, schedule.parse_shard(text), deselected)
    config.hook.pytest_deselected(items=deselected)
