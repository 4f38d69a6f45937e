"""Every public function of pyad's namespaces (pyad, pyad.numpy, pyad.numpy.fft,
pyad.linalg, pyad.nn, pyad.scipy.*, pyad.numerical, pyad.optim, pyad.testing, pyad.jit,
pyad.symbolic, ...), and every public method of their classes and objects (the
distributions of pyad.scipy.stats), has a real, annotated signature; and the
annotations are usable by a type checker (mypy, where installed)."""
import importlib
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
import pyad.scipy.special as sp
from pyad.numpy import elementwise

NAMESPACES = ['pyad', 'pyad.numpy', 'pyad.numpy.fft', 'pyad.linalg', 'pyad.nn',
              'pyad.scipy.special', 'pyad.scipy.stats', 'pyad.scipy.signal',
              'pyad.scipy.integrate', 'pyad.numerical', 'pyad.optim', 'pyad.testing',
              'pyad.jit', 'pyad.fixed_point', 'pyad.vmapping', 'pyad.flatten_util',
              'pyad.tree_util', 'pyad.custom', 'pyad.checkpoint', 'pyad.rules', 'pyad.symbolic']
# pyad.jit's classes: another part of the library, typed apart from its entry point
UNTYPED = {'pyad.jit.Jitted', 'pyad.jit.Program'}


def _ours(value):
    return (getattr(value, '__module__', None) or '').startswith('pyad') \
        or isinstance(value, pyad.Primitive)


def _methods(qualname, cls):
    """The public methods (and __init__, __call__) a class defines or inherits from pyad."""
    seen = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith('pyad'):
            continue
        for name, attr in vars(klass).items():
            if name in seen or (name.startswith('_') and name not in ('__init__', '__call__')):
                continue
            attr = attr.fget if isinstance(attr, property) else attr
            attr = attr.__func__ if isinstance(attr, (staticmethod, classmethod)) else attr
            if inspect.isfunction(attr):
                seen.add(name)
                yield f'{qualname}.{name}', attr


def _names(module):
    names = getattr(module, '__all__', None)
    if module.__name__ == 'pyad.vmapping':
        names = ['vmap']
    return names or [n for n in dir(module) if not n.startswith('_')]


def _public(module):
    for name in _names(module):
        value = getattr(module, name)
        qualname = f'{module.__name__}.{name}'
        if isinstance(value, types.ModuleType) or not _ours(value) or qualname in UNTYPED:
            continue     # NumPy's own functions, re-exported (shape, arange, ...), come typed
        if isinstance(value, type):
            yield from _methods(qualname, value)
        elif callable(value):
            yield qualname, value
        else:            # an object with methods: norm.logpdf, ... (not its constructor)
            yield from ((n, f) for n, f in _methods(qualname, type(value))
                        if not n.endswith('.__init__'))


def _modules():
    for name in NAMESPACES:
        try:
            yield importlib.import_module(name)
        except ImportError:      # pyad.symbolic without SymPy
            assert name == 'pyad.symbolic'


PUBLIC = [item for m in _modules() for item in _public(m)]


def test_the_walk_sees_the_namespaces():
    names = {n for n, _ in PUBLIC}
    assert len(PUBLIC) > 500
    for name in ('pyad.numpy.sin', 'pyad.numpy.add', 'pyad.numpy.sum', 'pyad.numpy.cross',
                 'pyad.linalg.svd', 'pyad.nn.sparsek_attention', 'pyad.numpy.round',
                 'pyad.grad', 'pyad.vmap', 'pyad.fixed_point', 'pyad.stop_gradient',
                 'pyad.Primitive.def_jvp', 'pyad.primitive', 'pyad.numpy.fft.rfft',
                 'pyad.scipy.special.betainc', 'pyad.scipy.special.gammasgn',
                 'pyad.scipy.stats.norm.logpdf', 'pyad.scipy.stats.multivariate_normal.cdf',
                 'pyad.scipy.stats.poisson.pmf', 'pyad.scipy.signal.convolve',
                 'pyad.scipy.integrate.odeint', 'pyad.numerical.grad', 'pyad.numerical.jvp',
                 'pyad.optim.adam', 'pyad.optim.minimize', 'pyad.optim.strong_wolfe',
                 'pyad.optim.OptimizeResult.__init__', 'pyad.testing.check_grads',
                 'pyad.testing.reference', 'pyad.jit.jit', 'pyad.flatten_util.ravel_pytree',
                 'pyad.nn.SparseKCache.step', 'pyad.tree_util.tree_map',
                 'pyad.rules.unbroadcast', 'pyad.rules.register_batching_rule'):
        assert name in names
    if importlib.util.find_spec('sympy'):
        assert 'pyad.symbolic.hessian' in names and 'pyad.symbolic.Symbolic.__call__' in names


@pytest.mark.parametrize('name,fn', PUBLIC, ids=[n for n, _ in PUBLIC])
def test_signature_is_real_and_annotated(name, fn):
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    if params and params[0].name in ('self', 'cls'):
        params = params[1:]          # a method: self needs no annotation
    kinds = [p.kind for p in params]
    # (an object's __call__ that forwards its arguments, annotated, may take any)
    assert kinds != [inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD] \
        or name.endswith('.__call__'), f'{name}: a bare (*args, **kwargs) signature'
    assert sig.return_annotation is not inspect.Signature.empty, f'{name}: no return annotation'
    missing = [p.name for p in params if p.annotation is inspect.Parameter.empty]
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
    for fn, shown in ((pyad.numpy.real, "(x: 'ArrayLike', /) -> 'Array'"),
                      (pyad.stop_gradient, "(x: 'ArrayLike', /) -> 'Array'"),
                      (sp.betainc,
                       "(a: 'ArrayLike', b: 'ArrayLike', x: 'ArrayLike', /) -> 'Array'"),
                      (sp.jn, "(n: 'ArrayLike', x: 'ArrayLike', /) -> 'Array'"),
                      (sp.gammasgn, "(x: 'ArrayLike', /) -> 'Array'")):
        assert str(inspect.signature(fn)) == shown


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


# the operators, pyad.numerical, pyad.optim, pyad.scipy, pyad.numpy.fft, pyad.testing
import pyad
import pyad.jit
import pyad.numerical as num
import pyad.numpy.fft as pfft
import pyad.optim as optim
import pyad.scipy.special as sp
from pyad.scipy import signal, stats
from pyad.scipy.integrate import odeint
from pyad.testing import check_grads

spectrum: Array = pfft.rfft(numpy.ones(8), n=8, norm='ortho')
ll: Array = stats.norm.logpdf(numpy.zeros(3), loc=0.0, scale=2.0) + sp.gammainc(2.0, 1.0)
mask: Array = pnp.logical_and(pnp.isfinite(ll), pnp.greater(ll, 0.0))
parts: Array = pnp.real(pnp.conj(spectrum)) + pnp.floor(ll) + pnp.stop_gradient(ll)
close: bool = pnp.allclose(ll, ll, atol=1e-6)
smooth: Array = signal.convolve(numpy.ones(3), numpy.ones(2), mode='same')
ys: Array = odeint(lambda y, t: -y, 1.0, numpy.linspace(0.0, 1.0, 5), rtol=1e-6)
g_fd = num.grad(lambda x: pnp.sum(x ** 2), eps=1e-4)(numpy.ones(3))
g_ad = pyad.grad(lambda w, x: pnp.sum(w * x), argnums=(0, 1))(numpy.ones(3), 2.0)
opt: optim.Optimizer = optim.adam(lr=lambda step: 1e-3 / (1 + step), clip_norm=1.0)
state = opt.init(numpy.ones(3))
nit: int = optim.minimize(lambda x: pnp.sum(x ** 2), numpy.ones(3), method='newton').nit
check_grads(pnp.sin, numpy.ones(2), order=1, modes=['fwd'])
per_example = pyad.vmap(pyad.grad(lambda w, x: pnp.sum(w * x)), in_axes=(None, 0))
root = pyad.fixed_point(lambda a, x: 0.5 * (x + a / x), 2.0, 1.0, tol=1e-12)
fast = pyad.jit.jit(lambda x: x * 2.0, static_argnums=())
'''

USER_MISTAKES = '''
import numpy
import pyad.numpy as pnp
import pyad.linalg as pla

pnp.sum(numpy.ones(3), axis='rows')
pnp.sin(1.0, 2.0)
pla.slogdet(numpy.eye(2)).logdet_typo

import pyad
import pyad.numerical as num
import pyad.numpy.fft as pfft
import pyad.optim as optim
import pyad.scipy.special as sp
from pyad.scipy import stats

pfft.fft(numpy.ones(4), norm='orthogonal')
sp.betainc(1.0, 2.0)
pnp.equal(1.0)
stats.norm.logpdf(numpy.ones(3), loc=None)
num.grad(lambda x: x, eps='small')
pyad.grad(lambda x: x, argnums='x')
optim.adam(lr=1e-3, clip_norm='none')
pyad.fixed_point(lambda a, x: x, 1.0, 1.0, max_iter='many')
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


def _primitive_calls(extra):
    """A call of every public primitive with as many arrays as its signature takes
    (plus ``extra``): the checker's type of each must agree with its run-time
    signature (and not be Any, which would let the call with one too many pass)."""
    lines = []
    for name, fn in PUBLIC:
        if isinstance(fn, pyad.Primitive):
            params = inspect.signature(fn).parameters.values()
            n = sum(p.kind == p.POSITIONAL_ONLY for p in params)
            n += extra * sum(p.kind == p.POSITIONAL_OR_KEYWORD for p in params)
            lines.append(f'{name}({", ".join(["1.0"] * (n + extra))})')
    return '\nimport pyad.scipy.special\n' + '\n'.join(lines) + '\n'


def test_mypy_accepts_typed_user_code(tmp_path, monkeypatch):
    out, status = _mypy(USER_CODE + _primitive_calls(0), tmp_path, monkeypatch)
    assert status == 0, out


def test_mypy_catches_mistakes(tmp_path, monkeypatch):
    code = USER_MISTAKES + _primitive_calls(1)
    out, status = _mypy(code, tmp_path, monkeypatch)
    assert status == 1, out
    calls = [i + 1 for i, line in enumerate(code.splitlines()) if line.startswith('pyad.')]
    assert len(calls) > 140
    missed = [code.splitlines()[i - 1] for i in calls if f'user.py:{i}: error' not in out]
    assert not missed, f'a checker accepts a call with one array too many: {missed}'
    assert 'Argument "axis" to "sum" has incompatible type "str"' in out
    assert 'Too many arguments' in out and 'UnaryFunction' in out
    assert '"SlogdetResult" has no attribute "logdet_typo"' in out
    for message in ('Argument "norm" to "fft" has incompatible type',
                    'Too few arguments for "__call__" of "TernaryFunction"',
                    'Too few arguments for "__call__" of "BinaryFunction"',
                    'Argument "loc" to "logpdf" of "_Continuous" has incompatible type "None"',
                    'Argument "eps" to "__call__" of "NumericalOperator" has incompatible type',
                    'Argument "argnums" to "__call__" of "Operator" has incompatible type',
                    'Argument "clip_norm" to "adam" has incompatible type',
                    'Argument "max_iter" to "fixed_point" has incompatible type'):
        assert message in out, out
