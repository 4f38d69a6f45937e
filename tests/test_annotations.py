"""Every public function of pyad.numpy, pyad.linalg and pyad.nn has a real, annotated
signature; and the annotations are usable by a type checker (mypy, where installed)."""
import inspect
import os
import tempfile
import textwrap
import types
import typing

import pytest

import pyad
import pyad.linalg
import pyad.nn
import pyad.numpy
from pyad.numpy import elementwise


def _public(module):
    names = getattr(module, '__all__', None) or [n for n in dir(module) if not n.startswith('_')]
    for name in names:
        value = getattr(module, name)
        if isinstance(value, (type, types.ModuleType)) or not callable(value):
            continue
        # NumPy's own functions, re-exported (shape, arange, ...), come typed by NumPy
        if not (getattr(value, '__module__', None) or '').startswith('pyad'):
            continue
        yield f'{module.__name__}.{name}', value


PUBLIC = [item for m in (pyad.numpy, pyad.linalg, pyad.nn) for item in _public(m)]


def test_the_walk_sees_the_namespaces():
    names = {n for n, _ in PUBLIC}
    assert len(PUBLIC) > 250
    for name in ('pyad.numpy.sin', 'pyad.numpy.add', 'pyad.numpy.sum', 'pyad.numpy.cross',
                 'pyad.linalg.svd', 'pyad.nn.sparsek_attention', 'pyad.numpy.round'):
        assert name in names


@pytest.mark.parametrize('name,fn', PUBLIC, ids=[n for n, _ in PUBLIC])
def test_signature_is_real_and_annotated(name, fn):
    sig = inspect.signature(fn)
    kinds = [p.kind for p in sig.parameters.values()]
    assert kinds != [inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD], \
        f'{name}: a bare (*args, **kwargs) signature'
    assert sig.return_annotation is not inspect.Signature.empty, f'{name}: no return annotation'
    missing = [p.name for p in sig.parameters.values() if p.annotation is inspect.Parameter.empty]
    assert not missing, f'{name}: parameters without annotations: {missing}'


@pytest.mark.parametrize('name,fn', [(n, f) for n, f in PUBLIC if inspect.isfunction(f)],
                         ids=[n for n, f in PUBLIC if inspect.isfunction(f)])
def test_annotations_resolve(name, fn):
    """The annotations (strings, under ``from __future__ import annotations``) name
    types that exist where the function is defined."""
    typing.get_type_hints(inspect.unwrap(fn))


def test_generated_primitives_show_their_arguments():
    assert str(inspect.signature(pyad.numpy.sin)) == "(x: 'ArrayLike', /) -> 'Array'"
    assert str(inspect.signature(pyad.numpy.equal)) == \
        "(x1: 'ArrayLike', x2: 'ArrayLike', /) -> 'Array'"
    assert 'decimals' in inspect.signature(pyad.numpy.round).parameters
    assert inspect.signature(pyad.numpy.allclose).return_annotation == 'bool'
    assert set(elementwise.UFUNCS) <= set(elementwise.__all__)


USER_CODE = '''
import numpy
import pyad.numpy as pnp
import pyad.linalg as pla
import pyad.nn as nn
from pyad.typing import Array, ArrayLike


def loss(w: Array, x: ArrayLike) -> Array:
    h = pnp.tanh(pnp.matmul(x, w)) + pnp.sin(w).sum()
    return pnp.sum(nn.softmax(h, axis=-1) ** 2, axis=(0, 1))


total: Array = pnp.sum(numpy.ones(3), axis=0, keepdims=True)
sign, logdet = pla.slogdet(numpy.eye(2))
first: Array = pnp.split(numpy.ones(4), 2)[0]
z: Array = pnp.cross([1.0, 0.0], [0.0, 1.0], axisa=-1)
'''

USER_MISTAKES = '''
import numpy
import pyad.numpy as pnp
import pyad.linalg as pla

pnp.sum(numpy.ones(3), axis='rows')
pnp.sin(1.0, 2.0)
pla.slogdet(numpy.eye(2)).logdet_typo
'''


def _mypy(code, tmp_path, monkeypatch):
    api = pytest.importorskip('mypy.api')
    root = os.path.dirname(os.path.dirname(os.path.abspath(pyad.__file__)))
    monkeypatch.setenv('MYPYPATH', root)          # this checkout's pyad, not an installed one
    path = tmp_path / 'user.py'
    path.write_text(textwrap.dedent(code))
    cache = os.path.join(tempfile.gettempdir(), 'pyad-mypy-cache')   # warm after one run
    out, err, status = api.run(['--follow-imports=silent', '--cache-dir', cache,
                                '--no-error-summary', str(path)])
    return out + err, status


def test_mypy_accepts_typed_user_code(tmp_path, monkeypatch):
    out, status = _mypy(USER_CODE, tmp_path, monkeypatch)
    assert status == 0, out


def test_mypy_catches_mistakes(tmp_path, monkeypatch):
    out, status = _mypy(USER_MISTAKES, tmp_path, monkeypatch)
    assert status == 1, out
    assert 'Argument "axis" to "sum" has incompatible type "str"' in out
    assert 'Too many arguments' in out and 'UnaryFunction' in out
    assert '"SlogdetResult" has no attribute "logdet_typo"' in out
