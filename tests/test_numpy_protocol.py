"""NumPy's own functions on traced values: never silently wrong.

NumPy used to build arrays of objects from values being differentiated, and some of
its functions then returned wrong derivatives without an error.  Now every NumPy
function either dispatches to its pyad.numpy twin or raises a TypeError naming the
function.  The walk over NumPy's public namespace below calls every function that
accepts some of a handful of argument patterns, with traced arguments, and checks
the outcome against NumPy itself: the same value and, in both modes, the
directional derivative of NumPy's own function by central differences -- or a
clear error.
"""
import inspect
import warnings

import numpy as np
import pytest
import scipy.special as sps

import pyad
import pyad.numpy as pnp
from pyad._core.box import innermost

x = np.array([.5, 1., 2.])


# ------------------------------------------------ the cases that were once silently wrong
@pytest.mark.parametrize('f, want', [
    (lambda x: pnp.sum(np.sort(x) * x), 2 * x),
    (lambda x: np.sum(x ** 2), 2 * x),
    (lambda x: np.sum(x ** 2, axis=0, dtype=None, out=None, keepdims=False), 2 * x),
    (lambda x: np.mean(x ** 2), 2 * x / 3),
    (lambda x: np.mean(x ** 2, dtype=np.float64), 2 * x / 3),
    (lambda x: pnp.sum(np.exp(x)), np.exp(x)),
    (lambda x: pnp.sum(np.ones(3) * x + np.float64(2.0) * x), 3 + 0 * x),
    (lambda x: np.add.reduce(x * x), 2 * x),
    (lambda x: np.multiply.reduce(x), np.array([2., 1., .5])),
    (lambda x: pnp.sum(np.add.accumulate(x)), np.array([3., 2., 1.])),
    (lambda x: pnp.sum(np.multiply.outer(x, x)), 2 * x.sum() + 0 * x),
    (lambda x: pnp.sum(sps.expit(x)), sps.expit(x) * (1 - sps.expit(x))),
    (lambda x: pnp.sum(np.linalg.solve(2 * np.eye(3), x)), .5 + 0 * x),
    (lambda x: np.linalg.norm(x), x / np.linalg.norm(x)),
    (lambda x: pnp.sum(x[np.argsort(x)] * np.round(x, 1)), np.round(x, 1)),
    (lambda x: pnp.sum(x) * np.shape(x)[0], 3 + 0 * x),
    (lambda x: np.vecdot(x, x), 2 * x),
    (lambda x: pnp.sum(np.clip(x, min=0.7)), np.array([0., 1., 1.])),
    (lambda x: pnp.sum(np.diff(x) * x[1:]), np.array([-1., -0.5, 3.])),      # composite.py
    (lambda x: np.median(x), np.array([0., 1., 0.])),
    (lambda x: np.percentile(x, 75), np.array([0., .5, .5])),
    (lambda x: pnp.sum(np.interp(x, [0., 1., 3.], [0., 1., 5.])), np.array([1., 2., 2.])),
    (lambda x: pnp.sum(np.interp(1.5, x, [0., 1., 5.])), np.array([0., -2., -2.])),
    (lambda x: pnp.sum(np.convolve(x, [1., 2.])), 3 + 0 * x),
], ids=lambda v: '' if callable(v) else None)
def test_numpy_functions_dispatch(f, want):
    for op in (pyad.grad, pyad.jacfwd, pyad.jacrev):
        np.testing.assert_allclose(op(f)(x), want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize('name, f', [
    ('numpy.asarray', lambda x: pnp.sum(np.asarray(x) + x)),
    ('numpy.asarray', lambda x: pnp.sum(np.asarray(x) * x)),
    ('numpy.array', lambda x: pnp.sum(np.array([x[0], x[1]]))),
    ('numpy.float64', lambda x: np.float64(x[0])),
    ('numpy.roots', lambda x: pnp.sum(np.roots(x))),
    ('numpy.linalg.tensorinv', lambda x: pnp.sum(np.linalg.tensorinv(pnp.diag(x), ind=1))),
    ('numpy.polyfit', lambda x: pnp.sum(np.polyfit(x, x, 1))),
    ('numpy.copyto', lambda x: np.copyto(np.zeros(3), x)),
    ('numpy.sum', lambda x: np.sum(x, out=np.zeros(()))),
    ('numpy.exp', lambda x: pnp.sum(np.exp(x, out=np.zeros(3)))),
    ('numpy.add.at', lambda x: np.add.at(np.zeros(3), [0], x[:1])),
    ('numpy.poly', lambda x: pnp.sum(np.poly(x))),
    ('setitem', lambda x: np.zeros(3).__setitem__(slice(None), x)),
])
def test_numpy_functions_raise_a_clear_error(name, f):
    for op in (pyad.grad, pyad.jacfwd):
        with pytest.raises(TypeError) as info:
            op(f)(x)
        message = str(info.value)
        assert 'pyad' in message
        if name in ('numpy.asarray', 'numpy.array', 'numpy.float64', 'setitem'):
            assert 'numpy.asarray' in message and 'stop_gradient' in message
        else:
            assert name in message, message


def test_the_error_names_the_pyad_numpy_replacement():
    with pytest.raises(TypeError, match=r'numpy\.unique .*use pyad.numpy|numpy\.unique'):
        pyad.grad(lambda x: pnp.sum(np.unique(x)))(x)
    with pytest.raises(TypeError, match=r'numpy\.sum\(\.\.\., out=\.\.\.\).*pyad\.numpy\.sum'):
        pyad.grad(lambda x: np.sum(x, out=np.zeros(())))(x)


def test_integer_results_of_numpy_functions_need_no_derivative():
    seen = {}

    def f(x):
        seen['argsort'] = np.argsort(x)
        seen['shape'] = np.shape(x)
        seen['isclose'] = np.isclose(x, 1.0)
        seen['count'] = np.count_nonzero(x > 0.7)
        seen['searchsorted'] = np.searchsorted(x, 1.5)
        return pnp.sum(x)
    pyad.grad(f)(x)
    np.testing.assert_array_equal(seen['argsort'], [0, 1, 2])
    assert seen['shape'] == (3,) and seen['count'] == 2 and seen['searchsorted'] == 2
    np.testing.assert_array_equal(seen['isclose'], [False, True, False])


def test_float32_stays_float32_through_numpy():
    x32 = x.astype(np.float32)
    g = pyad.grad(lambda x: np.sum(np.sin(x) * np.ones(3, np.float32)))(x32)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, np.cos(x32), rtol=1e-6)


def test_nested_operators_through_numpy():
    # the second derivative of sum(exp(x) * x) through NumPy's names
    h = pyad.hessian(lambda x: np.sum(np.exp(x) * x))(x)
    np.testing.assert_allclose(h, np.diag(np.exp(x) * (x + 2)), rtol=1e-12)


# ------------------------------------------------------------------ the walk
# Names that touch files, global state, the console or take functions; and classes
_SKIP_PREFIXES = ('set_', 'get_', 'setbufsize', 'getbufsize', 'seterr', 'geterr', 'save',
                  'load', 'from', 'print', 'show', 'info', 'test', 'who', 'lookfor', 'source',
                  'disp', 'deprecate', 'memmap', 'errstate', 'recfromcsv', 'genfromtxt',
                  'array2string', 'array_repr', 'array_str', 'format_float')
_SKIP = {'vectorize', 'frompyfunc', 'piecewise', 'apply_along_axis', 'apply_over_axes',
         'nditer', 'nested_iters', 'busday_count', 'is_busday', 'busday_offset',
         'datetime_as_string', 'isnat', 'char', 'rec', 'ctypeslib', 'emath', 'ma', 'fft',
         'polynomial', 'random', 'testing', 'strings', 'typing', 'exceptions', 'dtypes',
         'tofile', 'require', 'shares_memory', 'may_share_memory', 'einsum_path',
         'empty_like',       # its values are whatever memory held
         'mat', 'bmat', 'asmatrix'}

# Errors that are not silent but do not say what to do either (known, left as they are)
UNCLEAR = {'numpy.isfortran': AttributeError}       # reads x.flags
_V = np.array([0.312, 0.724, 1.173, 0.462])
_W = np.array([0.613, 0.207, 0.934, 1.372])
# values away from integers and half-integers (floor, round), ties and singular points
_A = np.array([[2.13, 0.31, 0.12], [0.31, 1.57, 0.22], [0.12, 0.22, 1.24]])   # symmetric positive definite
_B = np.array([[0.83, -0.41, 0.27], [0.16, 1.34, -0.53], [0.36, 0.113, 0.92]])
_C = np.array([0.43, -0.31, 0.74])
for _a in (_V, _W, _A, _B, _C):
    _a.flags.writeable = False      # NumPy's in-place functions (copyto, fill_diagonal) fail on them
PATTERNS = [(_V,), (_A,), (_B,), (_V, _W), (_A, _B), (_B, _C), (_V, 1), (_B, 1)]


def _numpy_functions():
    found = {}
    for module, prefix in ((np, 'numpy'), (np.linalg, 'numpy.linalg')):
        for name in sorted(dir(module)):
            if name.startswith('_') or name in _SKIP or name.startswith(_SKIP_PREFIXES):
                continue
            fn = getattr(module, name)
            if isinstance(fn, type) or inspect.ismodule(fn) or not callable(fn):
                continue
            key = f'{prefix}.{name}'
            if fn not in found.values():
                found[key] = fn
    for name in ('expit', 'logit', 'erf', 'erfc', 'erfinv', 'gammaln', 'gamma', 'digamma',
                 'log_expit', 'xlogy', 'xlog1py', 'log_ndtr', 'ndtr', 'i0', 'j0'):
        found[f'scipy.special.{name}'] = getattr(sps, name)
    return found


FUNCTIONS = _numpy_functions()


def _leaves(out):
    if isinstance(out, (tuple, list)):
        return [leaf for o in out for leaf in _leaves(o)]
    return [out]


def _plain_call(fn, args):
    with warnings.catch_warnings(), np.errstate(all='ignore'):
        warnings.simplefilter('ignore')
        try:
            out = fn(*args)
        except Exception:
            return None
    leaves = _leaves(out)
    try:
        arrays = [np.asarray(leaf) for leaf in leaves]
    except Exception:
        return None
    if not arrays or any(a.dtype == object or a.dtype.kind in 'USVMm' for a in arrays):
        return None
    if any(a.dtype.kind in 'fc' and not np.all(np.isfinite(a)) for a in arrays):
        return None                   # a singular point of this pattern: not the test here
    return out


def _weights(out):
    rng = np.random.default_rng(7)
    return [rng.uniform(0.5, 1.5, np.shape(leaf)) for leaf in _leaves(out)]


def _scalar(out, weights, xp):
    total = 0.0
    for leaf, w in zip(_leaves(out), weights):
        if np.iscomplexobj(leaf):       # (a real function of complex results)
            leaf = xp.real(leaf) + 0.5 * xp.imag(leaf)
        total = total + xp.sum(leaf * w)
    return total


def _check_function(name, fn):
    """One NumPy function over every pattern it accepts; returns how many it did."""
    checked = 0
    for pattern in PATTERNS:
        plain = _plain_call(fn, pattern)
        if plain is not None and _check_pattern(name, fn, pattern, plain):
            checked += 1
    return checked


def _call_at(fn, pattern, traced_at, xs):
    """fn of the pattern's arguments, those at traced_at replaced by xs, with
    NumPy's warnings silenced."""
    args = list(pattern)
    for i, v in zip(traced_at, xs):
        args[i] = v
    with warnings.catch_warnings(), np.errstate(all='ignore'):
        warnings.simplefilter('ignore')
        return fn(*args)


def _check_pattern(name, fn, pattern, plain):
    """fn at one pattern of arguments, its arrays traced, against ``plain`` (its
    NumPy result): whether the pattern counts as checked (a clear error does; an
    unclear one that UNCLEAR expects does not)."""
    traced_at = [i for i, a in enumerate(pattern) if isinstance(a, np.ndarray)]
    inexact = any(np.asarray(leaf).dtype.kind in 'fc' for leaf in _leaves(plain))
    weights = _weights(plain) if inexact else None
    xs = tuple(pattern[i] for i in traced_at)
    rng = np.random.default_rng(3)
    tangents = tuple(rng.standard_normal(a.shape) for a in xs)
    try:
        grad, jvp, traced_values = _traced(fn, pattern, traced_at, xs, tangents, weights)
    except (TypeError, ValueError, NotImplementedError) as e:
        _assert_clear(name, pattern, e)
        return True
    except Exception as e:
        if name in UNCLEAR and isinstance(e, UNCLEAR[name]):
            return False
        raise AssertionError(f'{name}{_shapes(pattern)} raised {e!r}, not a TypeError') from e
    for value_traced in traced_values:
        _assert_same_values(value_traced, plain, f'{name}{_shapes(pattern)}: value')
    if inexact:
        _check_directional_derivative(name, fn, pattern, traced_at, xs, tangents, weights,
                                      grad, jvp)
    return True


def _assert_same_values(traced, plain, what):
    for a, b in zip(_leaves(plain), _leaves(traced)):
        np.testing.assert_allclose(innermost(b), a, rtol=1e-12, atol=1e-12, err_msg=what)


def _assert_clear(name, pattern, e):
    """An error is fine when it is clear: it names the function (pyad's own
    argument checks: "clip: give a_min, a_max, or both"), or says that a traced
    value met NumPy's conversion to a plain array."""
    message = str(e)
    assert (name.split('.')[-1] in message or 'numpy.asarray' in message) and (
        'pyad' in message or not isinstance(e, TypeError)), \
        f'{name}{_shapes(pattern)}: unclear error {e!r}'


def _traced(fn, pattern, traced_at, xs, tangents, weights):
    """pyad's gradient and JVP (along tangents) of the weighted sum of fn's results
    (weights None: zero), and the results fn gave in reverse and in forward mode."""
    seen = {}

    def f(xs):
        seen['out'] = out = _call_at(fn, pattern, traced_at, xs)
        if weights is None:
            return pnp.sum(xs[0]) * 0.0
        return _scalar(out, weights, pnp)

    grad = pyad.grad(f)(xs)
    value_rev = seen.pop('out')
    jvp = pyad.jvp(f, (xs,), (tangents,))[1]
    return grad, jvp, (value_rev, seen.pop('out'))


def _check_directional_derivative(name, fn, pattern, traced_at, xs, tangents, weights,
                                  grad, jvp):
    """The JVP and grad · tangents against central differences, where fn has no kink."""
    def numpy_scalar(*xs):
        return _call_at(lambda *args: _scalar(fn(*args), weights, np), pattern, traced_at, xs)
    h = 1e-6
    up = numpy_scalar(*[a + h * t for a, t in zip(xs, tangents)])
    down = numpy_scalar(*[a - h * t for a, t in zip(xs, tangents)])
    mid = numpy_scalar(*xs)
    want = (up - down) / (2 * h)
    if abs((up - mid) - (mid - down)) / h > 1e-3 * (1 + abs(want)):
        return                  # a kink (the median of tied values): no derivative
    by_grad = sum(np.sum(g * t) for g, t in zip(grad, tangents))
    tol = 1e-5 * (1 + abs(want))
    assert abs(jvp - want) < tol, f'{name}{_shapes(pattern)}: JVP {jvp} != {want}'
    assert abs(by_grad - want) < tol, f'{name}{_shapes(pattern)}: grad . t {by_grad} != {want}'


def _shapes(pattern):
    return '(' + ', '.join(str(np.shape(a)) if isinstance(a, np.ndarray) else repr(a)
                           for a in pattern) + ')'


@pytest.mark.parametrize('name', sorted(FUNCTIONS))
def test_no_numpy_function_is_silently_wrong(name, values):
    if values == 'deferred' and not name.startswith(('numpy.linalg', 'numpy.s', 'numpy.m')):
        pytest.skip('one sample of the walk with deferred values is enough')
    _check_function(name, FUNCTIONS[name])


def test_the_walk_covers_numpy():
    # the walk is not vacuous: most of NumPy's functions accept one of the patterns
    covered = [n for n, fn in FUNCTIONS.items() if any(_plain_call(fn, p) is not None
                                                      for p in PATTERNS)]
    assert len(covered) > 250, len(covered)
    for name in ('numpy.sum', 'numpy.mean', 'numpy.sort', 'numpy.diff', 'numpy.median',
                 'numpy.cumsum', 'numpy.linalg.solve',
                 'numpy.linalg.det', 'numpy.linalg.eigh', 'numpy.exp', 'scipy.special.expit'):
        assert name in covered, name


def test_a_value_of_a_returned_operator_is_a_plain_constant_to_numpy():
    # invariant 1: a value still wrapped at a dead tag is a constant, not an error
    leaked = []
    pyad.grad(lambda x: (leaked.append(x), pnp.sum(x))[1])(x)
    dead = leaked[0]
    np.testing.assert_array_equal(np.asarray(dead), x)
    np.testing.assert_array_equal(np.array([dead[0], dead[2]]), x[[0, 2]])
    assert np.sum(dead) == x.sum() and np.float64(dead[1]) == 1.0
    np.testing.assert_allclose(pyad.grad(lambda y: np.sum(np.asarray(dead) * y))(x), x)
