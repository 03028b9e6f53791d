"""The slow suite's schedule (tests/schedule.py): sound groups, no stale names."""

import ast
import pathlib

import pytest

from tests import schedule

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_listed_slow_test_exists_and_is_marked_slow():
    for nodeid in schedule.SLOW_TEST_SECONDS:
        path, name = nodeid.split("::")
        name = name.split("[")[0]
        tree = ast.parse((ROOT / path).read_text())
        (function,) = [
            node
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name == name
        ]
        source = ast.get_source_segment((ROOT / path).read_text(), function)
        decorators = [ast.unparse(d) for d in function.decorator_list]
        assert any("slow" in d for d in decorators) or "mark.slow" in source, nodeid


def test_groups_are_longest_first_onto_the_least_loaded_worker():
    times = dict(schedule.SLOW_TEST_SECONDS)
    nodeids = [*times, "tests/x.py::test_new_a", "tests/x.py::test_new_b"]
    groups = schedule.slow_groups(nodeids, 2)
    assert set(groups) == set(nodeids)
    loads = [0, 0]
    for nodeid, group in groups.items():
        loads[group] += times.get(nodeid, schedule.SLOW_DEFAULT_SECONDS)
    # LPT is within 4/3 of the optimum (the longest test alone may set the floor).
    total = sum(loads)
    assert max(loads) <= max(max(times.values()), total / 2) * 4 / 3
    # The two longest start at once, one per worker.
    first, second = sorted(times, key=times.get, reverse=True)[:2]
    assert groups[first] != groups[second]
    # The same on every call (every xdist worker computes it independently).
    assert schedule.slow_groups(list(reversed(nodeids)), 2) == groups


def test_shards_partition_the_selection_and_bad_specs_are_refused():
    class Item:
        def __init__(self, nodeid):
            self.nodeid = nodeid

    items = [Item(nodeid) for nodeid in schedule.SLOW_TEST_SECONDS]
    items += [Item(f"tests/x.py::test_{k}") for k in range(5)]
    shards = []
    for index in range(2):
        deselected = []
        kept = schedule.select_shard(items, (index, 2), deselected)
        assert len(kept) + len(deselected) == len(items)
        shards.append({item.nodeid for item in kept})
    assert not shards[0] & shards[1]
    assert shards[0] | shards[1] == {item.nodeid for item in items}
    assert schedule.parse_shard("1/2") == (1, 2)
    for bad in ("2/2", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(ValueError, match=f"Received: {bad!r}"):
            schedule.parse_shard(bad)
