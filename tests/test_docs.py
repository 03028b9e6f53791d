"""The documentation names commands, flags and files that exist.

Every command in README.md and docs/*.md — `python -m experiments.X`, its console script
`skinkeras-*` (setup.py's entry_points), `python -m benchmarks.X`, `python -m
tests.mutations`, `tfds build NAME` — names an existing module (or dataset) and only
flags that module defines; a flag named on its own in prose (`--notrain_bn`) is a flag
of one of those programs; every relative link points to an existing file and, with
`#anchor`, to an existing heading. Docs drift from the code otherwise: a renamed flag
still reads well.

The experiments' flags come from their own `--helpfull` in a subprocess (the CLIs print
help without importing TensorFlow): the flags the parser accepts, wherever they are
defined. The benchmarks import TensorFlow at start-up, so their flags are read from
their source (absl `DEFINE_*` or argparse `add_argument`).
"""

import ast
import functools
import pathlib
import re
import subprocess
import sys

import pytest

from tests.fresh_python import run_python

REPO = pathlib.Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

# What a command line in the docs may start with; the rest of the line up to a shell
# operator are its arguments.
_COMMAND = re.compile(
    r"(?:^|[\s`(;&|])(?:python3? -m ([\w.]+)|(skinkeras-[\w-]+)|tfds build(?=\s))"
)
_SHELL_OPERATORS = {"&&", "||", ";", "|", ">", ">>", "<", "2>", "2>&1", "&"}
_CODE_BLOCK = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
_INLINE_CODE = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# Local packages whose modules the docs run with `python -m`.
_LOCAL = ("experiments.", "benchmarks.", "tests.")


def _doc_id(path):
    return str(path.relative_to(REPO))


# --- Reading the docs --------------------------------------------------------------


def _code_texts(markdown):
    """Shell text of the code blocks (continuation lines joined, comments dropped) and
    of the inline code spans outside them."""
    texts = []
    for block in _CODE_BLOCK.findall(markdown):
        for line in block.replace("\\\n", " ").splitlines():
            texts.append(re.sub(r"(^|\s)#.*", "", line))
    prose = _CODE_BLOCK.sub("", markdown)
    texts.extend(span.replace("\n", " ") for span in _INLINE_CODE.findall(prose))
    return texts


def commands(markdown):
    """``[(program, [argument, ...])]`` for every command in ``markdown``.

    ``program`` is a module for ``python -m``, ``"skinkeras-..."`` for a console script
    and ``"tfds build"``. Optional parts written ``[--flag=value]`` count as arguments.
    """
    found = []
    for text in _code_texts(markdown):
        for match in _COMMAND.finditer(text):
            program = match.group(1) or match.group(2) or "tfds build"
            arguments = []
            for token in text[match.end() :].split():
                if token in _SHELL_OPERATORS or token.startswith("#"):
                    break
                arguments.append(token.strip("[]"))
            found.append((program, arguments))
    return found


def flag_names(arguments):
    """The names of the ``--flag`` / ``--flag=value`` arguments (positional ones and a
    lone ``--`` are not flags)."""
    return [
        token[2:].split("=", 1)[0]
        for token in arguments
        if token.startswith("--") and len(token) > 2
    ]


# --- What the code defines ---------------------------------------------------------


class Flags:
    """The flags a program accepts: ``names``, and ``booleans`` (which also accept
    ``--noNAME``)."""

    def __init__(self, names, booleans=()):
        self.names = set(names)
        self.booleans = set(booleans)

    def __contains__(self, name):
        return name in self.names or (
            name.startswith("no") and name[2:] in self.booleans
        )


# A flag's first line in absl's help: `  --name: ...`, `  --[no]name: ...`,
# `  -v,--verbosity: ...` (its description's further lines are indented by 4).
_HELP_FLAG = re.compile(r"^  (?:-\S,)?--(\[no\])?(\w+):", re.M)


@functools.cache
def absl_flags(module):
    """The flags ``python -m module`` accepts (its own and absl's), read from its
    ``--helpfull``; ``None`` when the module does not run."""
    result = subprocess.run(
        [sys.executable, "-m", module, "--helpfull"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        return None
    names, booleans = set(), set()
    for no, name in _HELP_FLAG.findall(result.stdout):
        names.add(name)
        if no:
            booleans.add(name)
    return Flags(names, booleans)


@functools.cache
def _absl_own_flags():
    """absl's flags (--helpfull, --verbosity, ...): every absl app accepts them."""
    names, booleans = run_python(_ABSL_OWN, timeout=120).split("\n")[:2]
    return Flags(names.split(), booleans.split())


_ABSL_OWN = """
from absl import app, flags, logging  # noqa: F401  (define absl's flags)

app.define_help_flags()
names = list(flags.FLAGS)
booleans = [name for name in names if flags.FLAGS[name].boolean]
print(" ".join(names))
print(" ".join(booleans))
"""


@functools.cache
def source_flags(module):
    """The flags a script defines in its source, absl or argparse; ``None`` when
    ``module`` has no source file in the repository."""
    path = REPO.joinpath(*module.split(".")).with_suffix(".py")
    if not path.is_file():
        return None
    names, booleans, uses_absl = set(), set(), False
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        strings = [
            arg.value
            for arg in node.args
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
        ]
        if node.func.attr.startswith("DEFINE_") and strings:
            uses_absl = True
            names.add(strings[0])
            if node.func.attr in ("DEFINE_boolean", "DEFINE_bool"):
                booleans.add(strings[0])
        elif node.func.attr == "add_argument":
            names.update(s[2:] for s in strings if s.startswith("--"))
    if uses_absl:
        own = _absl_own_flags()
        names |= own.names
        booleans |= own.booleans
    else:
        names.add("help")  # argparse's -h/--help
    return Flags(names, booleans)


@functools.cache
def console_scripts():
    """``{script: module}`` from setup.py's entry_points."""
    tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "entry_points":
            scripts = ast.literal_eval(node.value)["console_scripts"]
            pairs = (script.split("=") for script in scripts)
            return {
                name.strip(): target.split(":")[0].strip() for name, target in pairs
            }
    raise AssertionError("setup.py has no entry_points")


def _tfds_builders():
    return {
        path.name
        for path in (REPO / "tfds_isic").iterdir()
        if path.is_dir() and any(path.glob("*_dataset_builder.py"))
    }


# --- Checking ----------------------------------------------------------------------

# Flags of `tfds build` that the docs use (TFDS' own CLI, argparse, imports TensorFlow).
_TFDS_BUILD_FLAGS = Flags({"imports", "manual_dir", "config", "data_dir"})


def command_problems(program, arguments):
    """What is wrong with one documented command: a list of messages."""
    if program == "tfds build":
        # The dataset: a registered name (`isic2017/256`) or a builder folder.
        names = [a for a in arguments if not a.startswith("-")][:1]
        if names and not (
            names[0].split("/")[0] in _tfds_builders() or (REPO / names[0]).is_dir()
        ):
            return [f"tfds build: no tfds_isic builder {names[0]!r}"]
        flags = _TFDS_BUILD_FLAGS
    elif program.startswith("skinkeras-"):
        if program not in console_scripts():
            return [f"{program}: no such console script in setup.py"]
        return command_problems(console_scripts()[program], arguments)
    elif not program.startswith(_LOCAL):
        return []  # python -m venv, pip, ...: not ours
    elif program.startswith("experiments."):
        flags = absl_flags(program)
    else:
        flags = source_flags(program)
    if flags is None:
        return [f"python -m {program}: no such module"]
    return [
        f"{program}: no flag --{name}"
        for name in flag_names(arguments)
        if name not in flags
    ]


# Flags the docs name on their own that belong to other programs.
_OTHER_FLAGS = {
    "logdir",  # tensorboard --logdir
    "xla_cpu_multi_thread_eigen",  # an XLA_FLAGS option
}


@functools.cache
def all_flags():
    """Every flag of the programs the docs run: the experiments commands, the
    benchmarks, tests.mutations and `tfds build`."""
    programs = [*console_scripts().values()]
    programs += [
        f"benchmarks.{path.stem}" for path in (REPO / "benchmarks").glob("*.py")
    ]
    programs += ["tests.mutations"]
    names, booleans = set(_TFDS_BUILD_FLAGS.names), set()
    for program in programs:
        flags = (
            absl_flags(program)
            if program.startswith("experiments.")
            else source_flags(program)
        )
        names |= flags.names
        booleans |= flags.booleans
    return Flags(names, booleans)


def bare_flag_problems(markdown):
    """Flags named on their own in prose (`--notrain_bn`, `--image_size=224`) must be a
    flag of some program the docs run."""
    problems = []
    for span in _INLINE_CODE.findall(_CODE_BLOCK.sub("", markdown)):
        for name in flag_names(span.split()[:1]):
            if name not in all_flags() and name not in _OTHER_FLAGS:
                problems.append(f"`{span}`: --{name} is no flag of any command")
    return problems


def _slug(heading):
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(markdown):
    found, seen = set(), {}
    for line in _CODE_BLOCK.sub("", markdown).splitlines():
        match = re.match(r"#{1,6} (.+)", line)
        if match:
            slug = _slug(match.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def link_problems(path, markdown):
    problems = []
    for target in _LINK.findall(_CODE_BLOCK.sub("", markdown)):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists():
            problems.append(f"link {target}: no file {linked}")
        elif anchor and linked.suffix == ".md":
            if anchor not in anchors(linked.read_text(encoding="utf-8")):
                problems.append(f"link {target}: no heading #{anchor} in {linked.name}")
    return problems


# --- Tests -------------------------------------------------------------------------


def test_docs_exist():
    assert (REPO / "docs").is_dir()
    assert len(DOCS) > 5


@pytest.mark.parametrize("path", DOCS, ids=_doc_id)
def test_commands_name_existing_modules_and_flags(path):
    markdown = path.read_text(encoding="utf-8")
    problems = [
        problem
        for program, arguments in commands(markdown)
        for problem in command_problems(program, arguments)
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", DOCS, ids=_doc_id)
def test_flags_named_in_prose_exist(path):
    problems = bare_flag_problems(path.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", DOCS, ids=_doc_id)
def test_relative_links_point_to_existing_files_and_headings(path):
    problems = link_problems(path, path.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_readme_has_the_two_commands_ci_runs():
    # .ci/run installs and tests as the README says; the demo is the main job.
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert (
        "pip install -e . && python -m experiments.main --preset=demo "
        "--model_dir=runs/demo" in readme
    )
    assert 'pip install -e ".[test]" && pytest -n auto\n' in readme
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert '\npip install -q -e ".[test]"\n' in ci and "\npytest -n auto\n" in ci
    assert len(readme.splitlines()) <= 200


def test_every_console_script_is_documented():
    documented = {
        program
        for path in DOCS
        for program, _ in commands(path.read_text(encoding="utf-8"))
    }
    for script, module in console_scripts().items():
        assert module in documented or script in documented, module


# The checker itself: it finds what it is for.


def test_commands_are_read_from_blocks_and_spans():
    markdown = (
        "Run `python -m experiments.main --arl --seed=1` or\n\n"
        "```bash\n"
        "pip install -e . && python -m experiments.predict --model_dir=RUN \\\n"
        "    [--tta=8] [--format=default|isic] images/ # a comment --no\n"
        "skinkeras-train --noarl > log.txt\n"
        "```\n"
    )
    assert commands(markdown) == [
        (
            "experiments.predict",
            ["--model_dir=RUN", "--tta=8", "--format=default|isic", "images/"],
        ),
        ("skinkeras-train", ["--noarl"]),
        ("experiments.main", ["--arl", "--seed=1"]),
    ]


@pytest.mark.parametrize(
    "program, arguments, problem",
    [
        ("experiments.main", ["--arl", "--noarl", "--seed=3", "--verbosity=1"], None),
        ("experiments.main", ["--helpfull"], None),
        ("experiments.summarize", ["runs/a", "runs/b", "--output=x.md"], None),
        ("skinkeras-train", ["--notrain_bn"], None),
        ("benchmarks.training", ["--variants=resnet50", "--nojit_compile"], None),
        ("benchmarks.models", ["--repeats=2", "--help"], None),
        ("tests.mutations", ["--only", "arl"], None),
        ("tfds build", ["isic2017/256", "--imports=tfds_isic"], None),
        ("experiments.main", ["--no_such_flag=1"], "no flag --no_such_flag"),
        ("experiments.main", ["--nomodel"], "no flag --nomodel"),  # not a boolean
        ("experiments.mian", ["--arl"], "no such module"),
        ("skinkeras-trian", [], "no such console script"),
        ("skinkeras-predict", ["--tta=2", "--ttta=2"], "no flag --ttta"),
        ("benchmarks.models", ["--steps=2"], "no flag --steps"),
        ("benchmarks.nothing", [], "no such module"),
        ("tfds build", ["isic2099"], "no tfds_isic builder"),
    ],
)
def test_checker_finds_missing_modules_and_flags(program, arguments, problem):
    problems = command_problems(program, arguments)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0], problems


def test_checker_finds_flags_named_in_prose_that_no_command_has():
    markdown = "`--notrain_bn` and `--image_size=224`, `--logdir`; `--no_such_flag` "
    assert bare_flag_problems(markdown) == [
        "`--no_such_flag`: --no_such_flag is no flag of any command"
    ]


def test_checker_finds_broken_links(tmp_path):
    (tmp_path / "other.md").write_text("# A heading: with `code`\n", encoding="utf-8")
    doc = tmp_path / "doc.md"
    markdown = (
        "[ok](other.md) [ok](other.md#a-heading-with-code) [web](https://x.org/y.md) "
        "[gone](missing.md) [bad anchor](other.md#nope)\n"
        "```\n[in code](ignored.md)\n```\n"
    )
    problems = link_problems(doc, markdown)
    assert len(problems) == 2, problems
    assert "missing.md" in problems[0] and "#nope" in problems[1]
