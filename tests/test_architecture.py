"""The house's rules, read from the import statements (lazy ones inside functions too).

1. Floors: each part of the package imports only parts on lower floors. The run
   configuration (`skinkeras.config`) is a leaf that the run directory, the data
   pipeline, training, inference and segmentation read from below; the deployable
   pipeline model (`skinkeras.models.pipeline`) sits beside the models, below both
   training (which saves it) and inference (which loads it).
2. No import circle anywhere: between the modules of skinkeras/, tfds_isic/,
   experiments/ and benchmarks/.
3. Inference and segmentation use none of training's internals (its loop, result
   tables); the segmenter trains through training's shared machinery only.

Each rule has a test that breaks it on purpose in a copy and sees it found.
"""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("skinkeras", "tfds_isic", "experiments", "benchmarks")

# Rule 1: a part imports only parts on a lower floor (a part of the floor's own
# floor neither). A part is a module of skinkeras or a subpackage, with everything
# below it; tfds_isic (the dataset builders) is one part.
FLOORS = (
    # Leaves: plain data and formulas, Keras layers, the dataset builders.
    (
        "skinkeras.config",
        "skinkeras.metrics",
        "skinkeras.imagefiles",
        "skinkeras.layers",
        "tfds_isic",
    ),
    # The run directory, the input pipeline, the models (and the pipeline model
    # around them), the clinical evaluation.
    ("skinkeras.rundir", "skinkeras.data", "skinkeras.models", "skinkeras.evaluation"),
    # Training and what reads a run's files or a model.
    ("skinkeras.training", "skinkeras.gradcam", "skinkeras.model_card"),
    # What uses a trained run, and the segmenter (which trains through training).
    ("skinkeras.inference", "skinkeras.segmentation"),
)
# `skinkeras/__init__.py` imports its subpackages lazily (by name, on first use).
UNCHECKED = ("skinkeras", "skinkeras._import_hook")

# Rule 3: what of skinkeras.training inference and segmentation may import.
ALLOWED_TRAINING = ("skinkeras.training.schedules",)
# The segmenter trains through classification's shared machinery (issue 13: one
# training stack): the runner (stages, checkpoints, resume), the optimizer factory,
# the one-cycle callbacks, the event writers and model saving. Never the loop, the
# result tables or the package's lazy names.
SHARED_MACHINERY = (
    "skinkeras.training.runner",
    "skinkeras.training.optimizers",
    "skinkeras.training.callbacks",
    "skinkeras.training.checkpoints",
    "skinkeras.training.tensorboard",
)
ALLOWED = {
    "skinkeras/inference": ALLOWED_TRAINING,
    "skinkeras/segmentation": ALLOWED_TRAINING + SHARED_MACHINERY,
}


def module_files(root=ROOT):
    """`{module name: path}` of every Python module of `PACKAGES` under `root`."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported_modules(source, *, package):
    """What each import statement of `source` reaches: `import a.b` → a.b,
    `from a import b` → a.b (a module or a name of a: either comes from a)."""
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            modules.update(f"{base}.{alias.name}" for alias in node.names)
    return modules


def _package_of(name, path):
    return name if path.name == "__init__.py" else name.rsplit(".", 1)[0]


def import_graph(root=ROOT):
    """`{module: {modules of the tree it imports}}`; `from a import b` names the
    module a.b where that is one, else a."""
    files = module_files(root)
    graph = {}
    for name, path in files.items():
        edges = set()
        for target in imported_modules(
            path.read_text(), package=_package_of(name, path)
        ):
            while target not in files and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in files and target != name:
                edges.add(target)
        graph[name] = edges
    return graph


def part_of(module):
    """The `FLOORS` part holding `module`, or None."""
    for floor in FLOORS:
        for part in floor:
            if module == part or module.startswith(f"{part}."):
                return part
    return None


def floor_of(part):
    return next(i for i, floor in enumerate(FLOORS) if part in floor)


def upward_imports(root=ROOT):
    """`{(module, imported module)}` where the import does not go to a lower floor."""
    found = set()
    for module, targets in import_graph(root).items():
        part = part_of(module)
        if part is None or module in UNCHECKED:
            continue
        for target in targets:
            other = part_of(target)
            if other is None or other == part:
                continue
            if floor_of(other) >= floor_of(part):
                found.add((module, target))
    return found


def circles(root=ROOT):
    """The strongly connected components of more than one module (Tarjan)."""
    graph = import_graph(root)
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def forbidden(module, allowed=ALLOWED_TRAINING):
    """A module of skinkeras.training other than the `allowed` ones (or its package,
    whose lazy attributes reach everything)."""
    if module != "skinkeras.training" and not module.startswith("skinkeras.training."):
        return False
    return not any(module == leaf or module.startswith(f"{leaf}.") for leaf in allowed)


def training_internals(root=ROOT):
    found = set()
    for folder, allowed in ALLOWED.items():
        for path in sorted((root / folder).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            package = relative.removesuffix(".py").replace("/", ".")
            if path.name != "__init__.py":
                package = package.rsplit(".", 1)[0]
            else:
                package = package.removesuffix(".__init__")
            for module in imported_modules(path.read_text(), package=package):
                if forbidden(module, allowed):
                    found.add((relative, module))
    return found


def test_every_part_of_the_package_is_on_a_floor():
    parts = {part for floor in FLOORS for part in floor}
    unplaced = {
        module
        for module in module_files()
        if module.split(".")[0] in ("skinkeras", "tfds_isic")
        and module not in UNCHECKED
        and part_of(module) is None
    }
    assert unplaced == set()
    assert len(parts) == sum(len(floor) for floor in FLOORS)


def test_every_import_points_down():
    assert upward_imports() == set()


def test_the_run_config_and_the_pipeline_model_sit_low():
    graph = import_graph()
    config = [
        m for m in graph if m == "skinkeras.config" or m.startswith("skinkeras.config.")
    ]
    assert {
        target
        for module in config
        for target in graph[module]
        if target.startswith("skinkeras")
        and target.split(".")[:2] != ["skinkeras", "config"]
    } == set()
    below_training = floor_of("skinkeras.models") < floor_of("skinkeras.training")
    assert below_training and floor_of("skinkeras.models") < floor_of(
        "skinkeras.inference"
    )
    assert "skinkeras.models.pipeline" in graph["skinkeras.training.loop"]
    assert not any(
        target.startswith("skinkeras.inference")
        for module, targets in graph.items()
        if module.startswith("skinkeras.training")
        for target in targets
    )


def test_no_import_circle():
    assert circles() == []


def test_inference_and_segmentation_import_no_training_internals():
    assert training_internals() == set()


def _tree(tmp_path, files):
    for relative, source in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    for package in PACKAGES:
        (tmp_path / package).mkdir(exist_ok=True)
    return tmp_path


def test_an_upward_import_is_found(tmp_path):
    root = _tree(
        tmp_path,
        {
            "skinkeras/__init__.py": "",
            "skinkeras/config.py": "import json\n",
            "skinkeras/rundir.py": "from skinkeras.config import TrainConfig\n",
            "skinkeras/models/__init__.py": "",
            # The pipeline model climbing to inference, the config to the rundir.
            "skinkeras/models/pipeline.py": "from skinkeras.inference import runs\n",
            "skinkeras/inference/__init__.py": "",
            "skinkeras/inference/runs.py": "from skinkeras.models import pipeline\n",
            "skinkeras/training/__init__.py": "",
            "skinkeras/training/loop.py": (
                "def f():\n    from skinkeras.inference import runs\n"
            ),
        },
    )
    (root / "skinkeras/config.py").write_text("from skinkeras import rundir\n")
    assert upward_imports(root) == {
        ("skinkeras.config", "skinkeras.rundir"),
        ("skinkeras.models.pipeline", "skinkeras.inference.runs"),
        ("skinkeras.training.loop", "skinkeras.inference.runs"),
    }


def test_a_circle_is_found(tmp_path):
    root = _tree(
        tmp_path,
        {
            "skinkeras/__init__.py": "",
            "skinkeras/data/__init__.py": "",
            "skinkeras/data/ops.py": "from skinkeras.data import preprocessing\n",
            "skinkeras/data/preprocessing.py": (
                "def f():\n    from skinkeras.data import ops\n"
            ),
            "experiments/a.py": "from experiments import b\n",
            "experiments/b.py": "import experiments.c\n",
            "experiments/c.py": "from . import a\n",
            "experiments/d.py": "from experiments import a\n",
        },
    )
    assert circles(root) == [
        ["experiments.a", "experiments.b", "experiments.c"],
        ["skinkeras.data.ops", "skinkeras.data.preprocessing"],
    ]


def test_a_training_internal_is_found(tmp_path):
    for folder in ALLOWED:
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "skinkeras/inference/runs.py").write_text(
        "import numpy\n"
        "from skinkeras import rundir\n"
        "from skinkeras.config import TrainConfig\n"
        "from skinkeras.training import results\n"
        "from skinkeras.training import checkpoints\n"
    )
    (tmp_path / "skinkeras/segmentation/training.py").write_text(
        "import skinkeras.training.loop\n"
        "from skinkeras.training.metrics import auroc\n"
        "from ..training import callbacks\n"
        "from skinkeras.training import schedules, results\n"
        "from skinkeras import training\n"
    )
    assert training_internals(tmp_path) == {
        ("skinkeras/inference/runs.py", "skinkeras.training.results"),
        ("skinkeras/segmentation/training.py", "skinkeras.training.loop"),
        ("skinkeras/segmentation/training.py", "skinkeras.training.metrics.auroc"),
        ("skinkeras/segmentation/training.py", "skinkeras.training.results"),
        ("skinkeras/segmentation/training.py", "skinkeras.training"),
        ("skinkeras/inference/runs.py", "skinkeras.training.checkpoints"),
    }
