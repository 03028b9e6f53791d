"""The arrows point one way: inference and segmentation use the shared leaves
(skinkeras.metrics, skinkeras.rundir, skinkeras.data, skinkeras.models, the config
type), never training's internals (its loop, callbacks, result tables)."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHECKED = ("skinkeras/inference", "skinkeras/segmentation")
# What of skinkeras.training the checked packages may import: leaves that hold a
# type or a formula, no training machinery.
ALLOWED_TRAINING = ("skinkeras.training.config", "skinkeras.training.schedules")
# Known, to be removed: the segmenter borrows OneCycleMomentum, attach_beta_1,
# current_learning_rate and the TensorBoard writers from training's callbacks.
# They move to a shared leaf when callbacks.py is split (issue 13); this entry
# must then go (the test fails while it names an import that no longer exists).
KNOWN = {("skinkeras/segmentation/training.py", "skinkeras.training.callbacks")}


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


def forbidden(module):
    """A module of skinkeras.training other than the allowed leaves (or its package,
    whose lazy attributes reach everything)."""
    if module != "skinkeras.training" and not module.startswith("skinkeras.training."):
        return False
    return not any(
        module == allowed or module.startswith(f"{allowed}.")
        for allowed in ALLOWED_TRAINING
    )


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
                if forbidden(module):
                    found.add((relative, module))
    return found


def test_inference_and_segmentation_import_no_training_internals():
    assert violations() == KNOWN


def test_a_forbidden_import_is_found(tmp_path):
    for folder in CHECKED:
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "skinkeras/inference/runs.py").write_text(
        "import numpy\n"
        "from skinkeras import rundir\n"
        "from skinkeras.training.config import TrainConfig\n"
        "from skinkeras.training import results\n"
    )
    (tmp_path / "skinkeras/segmentation/training.py").write_text(
        "import skinkeras.training.loop\n"
        "from skinkeras.training.metrics import auroc\n"
        "from ..training import callbacks\n"
        "from skinkeras.training import schedules\n"
        "from skinkeras import training\n"
    )
    assert violations(tmp_path) == {
        ("skinkeras/inference/runs.py", "skinkeras.training.results"),
        ("skinkeras/segmentation/training.py", "skinkeras.training.loop"),
        ("skinkeras/segmentation/training.py", "skinkeras.training.metrics.auroc"),
        ("skinkeras/segmentation/training.py", "skinkeras.training.callbacks"),
        ("skinkeras/segmentation/training.py", "skinkeras.training"),
    }
