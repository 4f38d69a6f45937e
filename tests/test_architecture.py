"""The layout docs/architecture.md promises, checked on the source: the core knows
array libraries only through pyad.backend, nothing imports in a cycle between the
core, the backend and pyad.numpy, and the sweep stays short."""
import ast
import inspect
import pathlib

import pyad
from pyad._core import reverse

ROOT = pathlib.Path(pyad.__file__).parent


def _imports(path):
    """(module, level) of every import in a file, at any depth."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            out += [(a.name, 0) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.module or '', node.level))
    return out


def test_the_core_reaches_array_libraries_only_through_the_backend():
    for path in sorted((ROOT / '_core').glob('*.py')):
        for module, level in _imports(path):
            top = module.split('.')[0]
            assert top not in ('numpy', 'cupy', 'scipy'), f'{path.name} imports {module}'
            if level == 2:          # from ..x import: only the backend
                assert module in ('', 'backend'), f'{path.name} imports pyad.{module}'


def test_the_backend_imports_nothing_of_pyad():
    for module, level in _imports(ROOT / 'backend.py'):
        assert level == 0 and not module.startswith('pyad'), module


def test_the_sweep_is_short():
    lines = inspect.getsource(reverse.sweep).splitlines()
    assert len(lines) <= 40, len(lines)
