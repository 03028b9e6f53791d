"""`wrap_import(name, wrapper)`: run code around the first import of a module.

Used by `skinkeras/__init__.py` (register the layers once Keras is imported) and by
`experiments.deploy_cli` (silence TensorFlow's C++ libraries while they load).
"""

import importlib.abc
import importlib.util
import sys


class _WrapExec(importlib.abc.MetaPathFinder):
    """Finds `name` like the next finders do, with `wrapper` around its execution."""

    def __init__(self, name, wrapper):
        self.name = name
        self.wrapper = wrapper
        self._finding = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name or self._finding:
            return None
        self._finding = True  # the search below asks every finder, this one too
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._finding = False
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def wrapped_exec_module(module):
            # Leave sys.meta_path only now: a find_spec without an import
            # (TensorFlow asks whether Keras is installed) must not use us up.
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            self.wrapper(exec_module, module)

        spec.loader.exec_module = wrapped_exec_module
        return spec


def wrap_import(name, wrapper):
    """Executes top-level module `name` as ``wrapper(exec_module, module)``, once.

    ``wrapper`` must call ``exec_module(module)``. Returns False (and does nothing)
    when `name` is already imported.
    """
    if name in sys.modules:
        return False
    sys.meta_path.insert(0, _WrapExec(name, wrapper))
    return True
