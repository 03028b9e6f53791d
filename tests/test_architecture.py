"""The arrows point one way: inference and segmentation use the shared leaves
(skinkeras.metrics, skinkeras.rundir, skinkeras.data, skinkeras.models, the config
type), never training's internals (its loop, result tables)."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHECKED = ("skinkeras/inference", "skinkeras/segmentation")
# What of skinkeras.training the checked packages may import: leaves that hold a
# type or a formula, no training machinery.
ALLOWED_TRAINING = ("skinkeras.training.config", "skinkeras.training.schedules")
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


def forbidden(module, allowed=ALLOWED_TRAINING):
    """A module of skinkeras.training other than the `allowed` ones (or its package,
    whose lazy attributes reach everything)."""
    if module != "skinkeras.training" and not module.startswith("skinkeras.training."):
        return False
    return not any(module == leaf or module.startswith(f"{leaf}.") for leaf in allowed)


def violations(root=ROOT):
    found = set()
    for folder in CHECKED:
        for path in sorted((root / folder).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            package = relative.removesuffix(".py").replace("/", ".")
            if path.name != "__init__.py":
                package = package.rsplit(".", 1)[0]
            else:
                package = package.removesuffix(".__init__")
            for module in imported_modules(path.read_text(), package=package):
                if forbidden(module, ALLOWED[folder]):
                    found.add((relative, module))
    return found


def test_inference_and_segmentation_import_no_training_internals():
    assert violations() == set()


def test_a_forbidden_import_is_found(tmp_path):
    for folder in CHECKED:
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "skinkeras/inference/runs.py").write_text(
        "import numpy\n"
        "from skinkeras import rundir\n"
        "from skinkeras.training.config import TrainConfig\n"
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
    assert violations(tmp_path) == {
        ("skinkeras/inference/runs.py", "skinkeras.training.results"),
        ("skinkeras/segmentation/training.py", "skinkeras.training.loop"),
        ("skinkeras/segmentation/training.py", "skinkeras.training.metrics.auroc"),
        ("skinkeras/segmentation/training.py", "skinkeras.training.results"),
        ("skinkeras/segmentation/training.py", "skinkeras.training"),
        ("skinkeras/inference/runs.py", "skinkeras.training.checkpoints"),
    }
