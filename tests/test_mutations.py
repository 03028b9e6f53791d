"""Mutations as proof (tests/mutations.py): the list is sound, and none survives."""

import pathlib
import subprocess
import sys

import pytest

from tests import mutations

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_target_occurs_exactly_once_and_every_test_exists():
    # Cheap, in the default suite: a refactoring that moves a mutation's target
    # fails here, not only in the slow run.
    assert mutations.list_problems() == []


def test_a_missing_or_repeated_target_is_a_problem(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("x = 1\ny = 1\n")
    tests = tmp_path / "tests" / "test_module.py"
    tests.parent.mkdir()
    tests.write_text("")
    rotten = (
        mutations.Mutation(
            "gone", "module.py", "z = 1", "z = 2", ("tests/test_module.py",)
        ),
        mutations.Mutation(
            "twice", "module.py", " = 1", " = 2", ("tests/test_module.py",)
        ),
        mutations.Mutation(
            "fine", "module.py", "x = 1", "x = 2", ("tests/test_module.py",)
        ),
        mutations.Mutation("untested", "module.py", "x = 1", "x = 3", ("tests/t.py",)),
        mutations.Mutation("later", "module.py", "x = 1", "x = 4", ("tests/t.py",)),
        mutations.Mutation(
            "renamed",
            "module.py",
            "y = 1",
            "y = 5",
            ("tests/test_module.py::test_gone",),
        ),
    )
    # A pending mutation's test file may be missing; a running one's may not.
    pending = {"later": ("tests/t.py", None)}
    problems = mutations.list_problems(rotten, pending=pending, root=tmp_path)
    assert len(problems) == 4, problems
    assert "gone: target text missing" in problems[0]
    assert "twice: target text found 2 times" in problems[1]
    assert "untested: no test file tests/t.py" in problems[2]
    assert "renamed: no test tests/test_module.py::test_gone" in problems[3]
    reason = mutations.pending_reason("later", pending=pending, root=tmp_path)
    assert reason == "pending: tests/t.py does not exist yet"
    tests.with_name("t.py").write_text("def test_it(): ...\n")
    assert mutations.pending_reason("later", pending=pending, root=tmp_path) is None


@pytest.mark.slow
def test_no_mutation_survives():
    done = subprocess.run(
        [sys.executable, "-m", "tests.mutations"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    print(done.stdout)  # the table (shown with `pytest -s`)
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    assert "| mutation | file | tests run | result |" in done.stdout
