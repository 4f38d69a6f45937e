"""An independent differential check of every pyad.numpy, pyad.linalg and pyad.nn
function.

The references share nothing with pyad's derivative rules:

* scalar elementwise functions: mpmath at 40 digits (the value, and the first and
  second derivatives by mpmath's own high-precision differentiation), at random
  points and at special ones (zeros, large arguments);
* array functions: the value from NumPy / SciPy (pyad's own function on plain
  arrays where neither has it: sparsemax, entmax), and derivatives by fourth-order
  central differences of that value, in float64.

Each is checked in float64 and float32 (the derivatives keep the dtype), first
order in forward (JVP) and reverse (VJP) mode, second order in all four nestings
(forward over forward, forward over reverse, reverse over forward, reverse over
reverse).  The special points include those where pyad was once wrong (xlogy and
xlog1py at x = 0, sinc at 0, log_expit for large x, prod and cumprod between two
zeros, det of singular matrices, polygamma in float32).
"""
import itertools
import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.special as sps

import pyad
import pyad.linalg as pla
import pyad.nn as nn
import pyad.numpy as pnp
from pyad._core.box import innermost

TOL = {np.float64: dict(rtol=1e-9, atol=1e-11), np.float32: dict(rtol=2e-4, atol=2e-5)}


# ===================================================================== scalar functions
def _mp():
    return pytest.importorskip('mpmath')


def _mp_table(mp):
    """pyad.numpy name -> (mpmath function, points); points inside the domain, the
    special ones last."""
    def expit(x):
        return 1 / (1 + mp.exp(-x))
    generic = [-1.3, -0.42, 0.37, 0.81, 1.9]
    positive = [0.07, 0.42, 0.81, 1.9, 3.7]
    unit = [-0.83, -0.4, 0.1, 0.55, 0.91]
    return {
        'sin': (mp.sin, generic + [0.0]), 'cos': (mp.cos, generic + [0.0]),
        'tan': (mp.tan, unit + [0.0]), 'arcsin': (mp.asin, unit + [0.0]),
        'arccos': (mp.acos, unit + [0.0]), 'arctan': (mp.atan, generic + [0.0]),
        'sinh': (mp.sinh, generic + [0.0]), 'cosh': (mp.cosh, generic + [0.0]),
        'tanh': (mp.tanh, generic + [0.0]), 'arcsinh': (mp.asinh, generic + [0.0]),
        'arccosh': (mp.acosh, [1.07, 1.5, 2.8, 7.3]), 'arctanh': (mp.atanh, unit + [0.0]),
        'exp': (mp.exp, generic + [0.0]), 'exp2': (lambda x: mp.power(2, x), generic + [0.0]),
        'expm1': (mp.expm1, generic + [0.0, 1e-9]), 'log': (mp.log, positive),
        'log2': (lambda x: mp.log(x, 2), positive), 'log10': (mp.log10, positive),
        'log1p': (mp.log1p, unit + [0.0, 1e-9]), 'sqrt': (mp.sqrt, positive),
        'cbrt': (lambda x: mp.sign(x) * mp.cbrt(abs(x)), positive + [-0.6, -2.2]),
        'square': (lambda x: x * x, generic + [0.0]),
        'reciprocal': (lambda x: 1 / x, positive + [-0.6]), 'negative': (lambda x: -x, generic),
        'positive': (lambda x: x, generic), 'absolute': (mp.fabs, generic),
        'abs': (mp.fabs, generic), 'fabs': (mp.fabs, generic),
        'deg2rad': (lambda x: x * mp.pi / 180, generic), 'radians': (lambda x: x * mp.pi / 180, generic),
        'rad2deg': (lambda x: x * 180 / mp.pi, generic), 'degrees': (lambda x: x * 180 / mp.pi, generic),
        'sinc': (mp.sincpi, generic), 'erf': (mp.erf, generic + [0.0]),
        'erfc': (mp.erfc, generic + [0.0]), 'erfinv': (mp.erfinv, unit + [0.0]),
        'expit': (expit, generic + [0.0, 12.0, -12.0]),
        'logit': (lambda x: mp.log(x / (1 - x)), [0.03, 0.27, 0.5, 0.77, 0.96]),
        'log_expit': (lambda x: -mp.log1p(mp.exp(-x)), generic + [0.0, 12.0, -20.0]),
        'gammaln': (mp.loggamma, positive), 'gamma': (mp.gamma, positive + [-0.5, -1.5]),
        'digamma': (mp.digamma, positive + [-0.5]), 'psi': (mp.digamma, positive + [-0.5]),
        'polygamma1': (lambda x: mp.polygamma(1, x), positive),
        'polygamma2': (lambda x: mp.polygamma(2, x), positive),
        # two arguments: points are pairs
        'add': (lambda x, y: x + y, None), 'subtract': (lambda x, y: x - y, None),
        'multiply': (lambda x, y: x * y, None), 'divide': (lambda x, y: x / y, None),
        'true_divide': (lambda x, y: x / y, None),
        'power': (lambda x, y: mp.power(x, y), 'positive x'),
        'float_power': (lambda x, y: mp.power(x, y), 'positive x'),
        'arctan2': (mp.atan2, None), 'hypot': (mp.hypot, None),
        'logaddexp': (lambda x, y: mp.log(mp.exp(x) + mp.exp(y)), None),
        'logaddexp2': (lambda x, y: mp.log(mp.power(2, x) + mp.power(2, y), 2), None),
        'maximum': (lambda x, y: max(x, y), None), 'minimum': (lambda x, y: min(x, y), None),
        'fmax': (lambda x, y: max(x, y), None), 'fmin': (lambda x, y: min(x, y), None),
        'xlogy': (lambda x, y: x * mp.log(y), 'positive y'),
        'xlog1py': (lambda x, y: x * mp.log1p(y), 'positive y'),
        'mod': (lambda x, y: x - y * mp.floor(x / y), None),
        'remainder': (lambda x, y: x - y * mp.floor(x / y), None),
        'fmod': (lambda x, y: x - y * (mp.floor(x / y) if x / y >= 0 else mp.ceil(x / y)), None),
        'copysign': (lambda x, y: mp.fabs(x) if y > 0 else -mp.fabs(x), None),
    }


_PAIRS = [(-1.3, 0.37), (0.42, -0.81), (0.81, 1.9), (1.9, 0.55), (-0.61, -1.7)]
_PAIRS_POSITIVE_X = [(0.42, -0.81), (0.81, 1.9), (1.9, 0.55), (2.3, -1.7), (0.37, 3.0)]
_PAIRS_POSITIVE_Y = [(-1.3, 0.37), (0.42, 0.81), (0.81, 1.9), (1.9, 0.55), (-0.61, 1.7)]

SCALAR_NAMES = sorted(_mp_table(type('M', (), {'__getattr__': lambda s, n: None})()))

# Special points where pyad was once wrong (each its own case)
SPECIAL_POINTS = {
    ('xlogy', 'x=0'): [(0.0, 0.7), (0.0, 2.5)],
    ('xlog1py', 'x=0'): [(0.0, 0.7), (0.0, 2.5)],
    ('sinc', 'x=0'): [0.0],
    ('log_expit', 'x=40'): [40.0, 45.0],
}

def _pyad_scalar(name):
    if name.startswith('polygamma'):
        n = int(name[-1])
        return lambda x: pnp.polygamma(n, x)
    return getattr(pnp, name)


def _mp_derivatives(mp, fn, point, nargs):
    """Value, gradient and Hessian of fn at point, to 40 digits."""
    with mp.workdps(40):
        p = [mp.mpf(float(v)) for v in point]
        value = fn(*p)
        grad = [mp.diff(fn, p, tuple(int(i == k) for i in range(nargs))) for k in range(nargs)]
        hess = [[mp.diff(fn, p, tuple(int(i == k) + int(i == m) for i in range(nargs)))
                 for m in range(nargs)] for k in range(nargs)]
        return float(value), [float(g) for g in grad], [[float(h) for h in row] for row in hess]


def _all_derivatives(fn, args):
    """pyad's first derivatives (forward, reverse) and second derivatives (four
    nestings) of an elementwise fn of len(args) arrays, at every point at once."""
    n = len(args)
    ones = [np.ones_like(a) for a in args]
    zeros = [np.zeros_like(a) for a in args]

    def e(k):
        return tuple(ones[i] if i == k else zeros[i] for i in range(n))

    def f(xs):
        return fn(*xs)

    def fwd(k):
        return lambda xs: pyad.jvp(f, (xs,), (e(k),))[1]

    def rev(k):
        return lambda xs: pyad.vjp(f, xs)[1](np.ones_like(fn(*[innermost(x) for x in xs])))[k]

    xs = tuple(args)
    first = {'fwd': [fwd(k)(xs) for k in range(n)], 'rev': [rev(k)(xs) for k in range(n)]}
    second = {}
    for (outer, inner) in itertools.product(('fwd', 'rev'), repeat=2):
        rows = []
        for k in range(n):
            g = fwd(k) if inner == 'fwd' else rev(k)
            if outer == 'fwd':
                rows.append([pyad.jvp(g, (xs,), (e(m),))[1] for m in range(n)])
            else:
                rows.append(list(pyad.vjp(g, xs)[1](np.ones_like(args[0]))))
        second[f'{outer} over {inner}'] = rows
    return fn(*xs), first, second


def _points(name, table):
    fn, points = table[name]
    if points is None:
        return _PAIRS
    if points == 'positive x':
        return _PAIRS_POSITIVE_X
    if points == 'positive y':
        return _PAIRS_POSITIVE_Y
    return points


def _check_scalar(name, dtype, points=None, relative=False):
    mp = _mp()
    table = _mp_table(mp)
    mp_fn = table[name][0]
    points = points if points is not None else _points(name, table)
    pts = [p if isinstance(p, tuple) else (p,) for p in points]
    nargs = len(pts[0])
    args = [np.array([p[i] for p in pts], dtype=dtype) for i in range(nargs)]
    # the reference at the points as they are in this dtype
    refs = [_mp_derivatives(mp, mp_fn, [a[j] for a in args], nargs) for j in range(len(pts))]
    with np.errstate(all='ignore'):
        value, first, second = _all_derivatives(_pyad_scalar(name), args)
    tol = dict(TOL[dtype], atol=0.0) if relative else TOL[dtype]
    where = f'{name} ({np.dtype(dtype).name}) at {pts}'
    np.testing.assert_allclose(innermost(value), [r[0] for r in refs], **tol, err_msg=where)
    assert innermost(value).dtype == dtype, where
    _assert_first_derivatives(first, refs, dtype, tol, where)
    _assert_second_derivatives(second, refs, nargs, np.zeros_like(args[0]), tol, where)


def _assert_first_derivatives(first, refs, dtype, tol, where):
    for mode, grads in first.items():
        for k, g in enumerate(grads):
            assert g.dtype == dtype, f'{where}: {mode} derivative in {g.dtype}'
            np.testing.assert_allclose(g, [r[1][k] for r in refs], **tol,
                                       err_msg=f'{where}: first derivative {k}, {mode}')


def _assert_second_derivatives(second, refs, nargs, zero, tol, where):
    """Each mode's second derivatives (None: zero, of zero's shape and dtype)."""
    for mode, rows in second.items():
        for k, m in itertools.product(range(nargs), repeat=2):
            h = zero if rows[k][m] is None else rows[k][m]
            assert h.dtype == zero.dtype, f'{where}: {mode} second derivative in {h.dtype}'
            np.testing.assert_allclose(h, [r[2][k][m] for r in refs], **tol,
                                       err_msg=f'{where}: second derivative {k}{m}, {mode}')


def _scalar_params():
    for name in SCALAR_NAMES:
        for dtype in (np.float64, np.float32):
            yield pytest.param(name, dtype, id=f'{name}-{np.dtype(dtype).name}')


@pytest.mark.parametrize('name, dtype', list(_scalar_params()))
def test_elementwise_against_mpmath(name, dtype, values):
    if values == 'deferred' and dtype is np.float32:
        pytest.skip('deferred values: float64 is enough')
    _check_scalar(name, dtype)


@pytest.mark.parametrize('name, label', list(SPECIAL_POINTS))
def test_elementwise_special_points_against_mpmath(name, label, values):
    if values == 'deferred':
        pytest.skip('eager is enough')
    _check_scalar(name, np.float64, SPECIAL_POINTS[name, label], relative=True)


# ===================================================================== array functions
_R = np.random.default_rng(13)


def _rand(*shape, low=-1.0, high=1.0):
    return _R.uniform(low, high, shape)


def _spd(n):
    m = _R.standard_normal((n, n))
    return m @ m.T + n * np.eye(n)


def _well(n, m=None):
    a = _R.standard_normal((n, m or n))
    if m is None:
        a += 2.5 * np.eye(n)
    return a


def _layer(dtype):
    # a SparseK attention layer's parameters, the same at every call, in x's dtype
    return nn.sparsek_layer_init(np.random.default_rng(0), 3, 1, 2, dtype=dtype)


def _solution(result):
    # pyad.linalg.lstsq returns X, or NumPy's 4-tuple (X, residuals, rank, s): X either way
    return result[0] if isinstance(result, tuple) else result


X34 = _rand(3, 4)
# rows whose sparse maps (sparsemax, sparsek with k = 2, entmax) are well inside one
# piece: no entry within 0.08 of a change of support or of the cap at 1
ZS = np.array([[0.9, 0.2, -0.3, -1.0], [0.4, 0.1, 0.5, -0.8], [-0.25, 0.5, 0.3, 0.1]])
V5 = _R.permutation(np.linspace(-1.1, 1.3, 5))       # distinct, apart by 0.6
A3 = _well(3)
S3 = _spd(3)
B32 = _rand(3, 2)
T3 = np.tril(_well(3)) + 2 * np.eye(3)


# (label, pyad function, reference function (None: pyad's own on plain arrays),
#  arguments; the float arrays among them are differentiated)
ARRAY_CASES = [
    # reductions
    ('sum', pnp.sum, np.sum, (X34,)), ('sum axis', lambda x: pnp.sum(x, axis=1), lambda x: np.sum(x, axis=1), (X34,)),
    ('mean', lambda x: pnp.mean(x, axis=0, keepdims=True), lambda x: np.mean(x, axis=0, keepdims=True), (X34,)),
    ('prod', lambda x: pnp.prod(x, axis=1), lambda x: np.prod(x, axis=1), (X34,)),
    ('var', lambda x: pnp.var(x, axis=1, ddof=1), lambda x: np.var(x, axis=1, ddof=1), (X34,)),
    ('std', lambda x: pnp.std(x, axis=0), lambda x: np.std(x, axis=0), (X34,)),
    ('max', lambda x: pnp.max(x, axis=1), lambda x: np.max(x, axis=1), (X34,)),
    ('min', pnp.min, np.min, (X34,)), ('amax', pnp.amax, np.amax, (V5,)), ('amin', pnp.amin, np.amin, (V5,)),
    ('cumsum', lambda x: pnp.cumsum(x, axis=1), lambda x: np.cumsum(x, axis=1), (X34,)),
    ('cumprod', pnp.cumprod, np.cumprod, (V5,)),
    ('logsumexp', lambda x: pnp.logsumexp(x, axis=1), lambda x: sps.logsumexp(x, axis=1), (X34,)),
    ('trace', pnp.trace, np.trace, (A3,)),
    # shapes and indexing
    ('reshape', lambda x: pnp.reshape(x, (4, 3)), lambda x: np.reshape(x, (4, 3)), (X34,)),
    ('ravel', pnp.ravel, np.ravel, (X34,)), ('flatten', pnp.flatten, np.ravel, (X34,)),
    ('transpose', pnp.transpose, np.transpose, (X34,)),
    ('matrix_transpose', pnp.matrix_transpose, np.matrix_transpose, (X34,)),
    ('swapaxes', lambda x: pnp.swapaxes(x, 0, 1), lambda x: np.swapaxes(x, 0, 1), (X34,)),
    ('moveaxis', lambda x: pnp.moveaxis(x, 0, -1), lambda x: np.moveaxis(x, 0, -1), (X34,)),
    ('expand_dims', lambda x: pnp.expand_dims(x, 1), lambda x: np.expand_dims(x, 1), (X34,)),
    ('squeeze', lambda x: pnp.squeeze(x[None]), lambda x: np.squeeze(x[None]), (X34,)),
    ('broadcast_to', lambda x: pnp.broadcast_to(x, (2, 5)), lambda x: np.broadcast_to(x, (2, 5)), (V5,)),
    ('broadcast_arrays', pnp.broadcast_arrays, np.broadcast_arrays, (V5, X34[:, :1])),
    ('atleast_1d', pnp.atleast_1d, np.atleast_1d, (V5,)),
    ('atleast_2d', pnp.atleast_2d, np.atleast_2d, (V5,)),
    ('atleast_3d', pnp.atleast_3d, np.atleast_3d, (X34,)),
    ('astype', lambda x: pnp.astype(x, np.float64), lambda x: x.astype(np.float64), (X34,)),  # float32 in, float64 out
    ('concatenate', lambda a, b: pnp.concatenate([a, b], axis=0), lambda a, b: np.concatenate([a, b]),
     (X34, _rand(2, 4))),
    ('stack', lambda a, b: pnp.stack([a, b], 1), lambda a, b: np.stack([a, b], 1), (V5, V5[::-1] * 0.7)),
    ('hstack', lambda a, b: pnp.hstack([a, b]), lambda a, b: np.hstack([a, b]), (V5, V5 * 0.3)),
    ('vstack', lambda a, b: pnp.vstack([a, b]), lambda a, b: np.vstack([a, b]), (V5, V5 * 0.3)),
    ('row_stack', lambda a, b: pnp.row_stack([a, b]), lambda a, b: np.vstack([a, b]), (V5, V5 * 0.3)),
    ('dstack', lambda a, b: pnp.dstack([a, b]), lambda a, b: np.dstack([a, b]), (X34, X34 * 0.5)),
    ('column_stack', lambda a, b: pnp.column_stack([a, b]), lambda a, b: np.column_stack([a, b]), (V5, V5 * 2)),
    ('split', lambda x: pnp.split(x, 2, axis=1), lambda x: np.split(x, 2, axis=1), (X34,)),
    ('array_split', lambda x: pnp.array_split(x, 3), lambda x: np.array_split(x, 3), (V5,)),
    ('hsplit', lambda x: pnp.hsplit(x, 2), lambda x: np.hsplit(x, 2), (X34,)),
    ('vsplit', lambda x: pnp.vsplit(x, [1]), lambda x: np.vsplit(x, [1]), (X34,)),
    ('tile', lambda x: pnp.tile(x, (2, 1)), lambda x: np.tile(x, (2, 1)), (V5,)),
    ('repeat', lambda x: pnp.repeat(x, 2, axis=0), lambda x: np.repeat(x, 2, axis=0), (X34,)),
    ('flip', pnp.flip, np.flip, (X34,)), ('fliplr', pnp.fliplr, np.fliplr, (X34,)),
    ('flipud', pnp.flipud, np.flipud, (X34,)),
    ('roll', lambda x: pnp.roll(x, 2, axis=1), lambda x: np.roll(x, 2, axis=1), (X34,)),
    ('sort', pnp.sort, np.sort, (V5,)),
    ('take', lambda x: pnp.take(x, [4, 0, 0, 2]), lambda x: np.take(x, [4, 0, 0, 2]), (V5,)),
    ('take_along_axis', lambda x: pnp.take_along_axis(x, np.array([[1, 0], [3, 3], [2, 1]]), 1),
     lambda x: np.take_along_axis(x, np.array([[1, 0], [3, 3], [2, 1]]), 1), (X34,)),
    ('getitem', lambda x: x[[0, 2, 2], 1:3], lambda x: x[[0, 2, 2], 1:3], (X34,)),
    ('getitem bool', lambda x: x[np.array([True, False, True, True, False])],
     lambda x: x[np.array([True, False, True, True, False])], (V5,)),
    ('pad', lambda x: pnp.pad(x, 1), lambda x: np.pad(x, 1), (X34,)),
    ('tril', pnp.tril, np.tril, (A3,)), ('triu', lambda x: pnp.triu(x, 1), lambda x: np.triu(x, 1), (A3,)),
    ('diagonal', pnp.diagonal, np.diagonal, (A3,)), ('diag', pnp.diag, np.diag, (V5,)),
    ('diag of matrix', pnp.diag, np.diag, (A3,)), ('diagflat', pnp.diagflat, np.diagflat, (V5,)),
    ('array', lambda a, b: pnp.array([a, b]), lambda a, b: np.array([a, b]), (V5, V5 * 0.4)),
    ('asarray', pnp.asarray, np.asarray, (V5,)),
    ('where', lambda a, b: pnp.where(a > 0, a, b), lambda a, b: np.where(a > 0, a, b), (V5, V5 * 3)),
    ('clip', lambda x: pnp.clip(x, -0.45, 0.62), lambda x: np.clip(x, -0.45, 0.62), (V5,)),
    ('clip bounds', lambda x, lo: pnp.clip(x, lo, 0.9), lambda x, lo: np.clip(x, lo, 0.9), (V5, V5 * 0 + 0.13)),
    # NumPy functions composed of pyad.numpy ones (pyad/numpy/composite.py)
    ('diff', lambda x: pnp.diff(x, 2, axis=1), lambda x: np.diff(x, 2, axis=1), (X34,)),
    ('diff prepend', lambda x: pnp.diff(x, prepend=0.5), lambda x: np.diff(x, prepend=0.5), (V5,)),
    ('ediff1d', lambda x: pnp.ediff1d(x, to_begin=x[:1]), lambda x: np.ediff1d(x, to_begin=x[:1]), (V5,)),
    ('append', lambda a, b: pnp.append(a, b), np.append, (X34, V5)),
    ('average', lambda a, w: pnp.average(a, 1, w), lambda a, w: np.average(a, 1, w),
     (X34, _rand(4, low=0.5, high=1.5))),
    ('ptp', lambda x: pnp.ptp(x, axis=0), lambda x: np.ptp(x, axis=0), (X34,)),
    ('quantile', lambda x, q: pnp.quantile(x, q, axis=1), lambda x, q: np.quantile(x, q, axis=1),
     (X34, np.array([0.3, 0.55]))),
    ('percentile', lambda x: pnp.percentile(x, 35.0), lambda x: np.percentile(x, 35.0), (X34,)),
    ('median', lambda x: pnp.median(x, axis=0, keepdims=True), lambda x: np.median(x, axis=0, keepdims=True), (X34,)),
    ('cumulative_sum', lambda x: pnp.cumulative_sum(x, axis=1, include_initial=True),
     lambda x: np.cumulative_sum(x, axis=1, include_initial=True), (X34,)),
    ('cumulative_prod', pnp.cumulative_prod, np.cumulative_prod, (V5,)),
    ('copy', pnp.copy, np.copy, (V5,)), ('real', pnp.real, np.real, (V5,)),
    # complex intermediates of real values (tests/test_complex*.py check complex inputs)
    ('conj', lambda x: pnp.real(pnp.conj(x * (1 + 2j)) * x), lambda x: np.real(np.conj(x * (1 + 2j)) * x), (V5,)),
    ('conjugate', lambda x: pnp.imag(pnp.conjugate(x * (1 + 2j))), lambda x: np.imag(np.conjugate(x * (1 + 2j))), (V5,)),
    ('angle', lambda x: pnp.angle(x + 0.7j), lambda x: np.angle(x + 0.7j), (V5,)),
    ('real_if_close', lambda x: pnp.real_if_close(x + 0j), lambda x: np.real_if_close(x + 0j), (V5,)),
    # (functions of the eigenpairs that neither their order nor the phases change)
    ('eig', lambda a: pnp.sum(pnp.abs(pla.eig(a)[1]) ** 2 * pnp.abs(pla.eig(a)[0]), axis=1),
     lambda a: np.sum(np.abs(np.linalg.eig(a)[1]) ** 2 * np.abs(np.linalg.eig(a)[0]), axis=1), (A3,)),
    ('eigvals', lambda a: pnp.sum(pnp.imag(pla.eigvals(a)) ** 2 + pnp.real(pla.eigvals(a)) ** 3),
     lambda a: np.sum(np.imag(np.linalg.eigvals(a)) ** 2 + np.real(np.linalg.eigvals(a)) ** 3), (A3,)),
    ('nansum', pnp.nansum, np.nansum, (np.array([0.3, np.nan, -1.2, 0.8]),)),
    ('nanmean', lambda x: pnp.nanmean(x, axis=0), lambda x: np.nanmean(x, axis=0),
     (np.array([[0.3, np.nan], [-1.2, 0.8]]),)),
    ('nanmax', pnp.nanmax, np.nanmax, (np.array([0.3, np.nan, -1.2, 0.8]),)),
    ('nanmin', pnp.nanmin, np.nanmin, (np.array([0.3, np.nan, -1.2, 0.8]),)),
    ('cross', pnp.cross, np.cross, (X34[:, :3], X34[:, 1:])),
    ('trapezoid', lambda y, x: pnp.trapezoid(y, x), np.trapezoid, (X34, np.array([0.0, 0.3, 1.1, 1.4]))),
    ('rot90', lambda m: pnp.rot90(m, 3), lambda m: np.rot90(m, 3), (X34,)),
    ('rollaxis', lambda a: pnp.rollaxis(a, 1), lambda a: np.rollaxis(a, 1), (X34,)),
    ('polyval', pnp.polyval, np.polyval, (V5, X34)),
    ('interp', pnp.interp, np.interp,
     (np.array([-0.3, 0.1, 0.45, 0.8, 1.3]), np.array([0.0, 0.3, 0.6, 1.0]), _rand(4))),
    ('cov', pnp.cov, np.cov, (X34,)),
    ('cov columns', lambda m: pnp.cov(m, rowvar=False), lambda m: np.cov(m, rowvar=False), (X34,)),
    ('corrcoef', pnp.corrcoef, np.corrcoef, (X34,)),
    ('convolve', lambda a, v: pnp.convolve(a, v, 'same'), lambda a, v: np.convolve(a, v, 'same'), (V5, V5[:3] * 0.7)),
    ('correlate', lambda a, v: pnp.correlate(a, v, 'full'), lambda a, v: np.correlate(a, v, 'full'),
     (V5[:2], V5 * 0.7)),
    # products
    ('matmul', pnp.matmul, np.matmul, (X34.T, A3)), ('dot', pnp.dot, np.dot, (A3, B32)),
    ('dot vectors', pnp.dot, np.dot, (V5, V5[::-1])),
    ('inner', pnp.inner, np.inner, (X34, X34 * 0.5)), ('outer', pnp.outer, np.outer, (V5, V5[:3])),
    ('vdot', pnp.vdot, np.vdot, (X34, X34[::-1])), ('kron', pnp.kron, np.kron, (A3[:2, :2], B32)),
    ('tensordot', lambda a, b: pnp.tensordot(a, b, axes=([0], [0])),
     lambda a, b: np.tensordot(a, b, axes=([0], [0])), (X34, A3)),
    ('einsum', lambda a, b: pnp.einsum('ij,jk->ik', a, b), lambda a, b: np.einsum('ij,jk->ik', a, b), (A3, B32)),
    ('einsum trace', lambda a: pnp.einsum('ii', a), lambda a: np.einsum('ii', a), (A3,)),
    # linear algebra
    ('solve', pla.solve, np.linalg.solve, (A3, B32)),
    ('solve_symmetric', pla.solve_symmetric, lambda a, b: np.linalg.solve((a + a.T) / 2, b), (S3, B32)),
    ('solve_triangular', lambda a, b: pla.solve_triangular(a, b, lower=True),
     lambda a, b: np.linalg.solve(np.tril(a), b), (T3, B32)),
    ('cholesky', pla.cholesky, lambda a: np.linalg.cholesky((a + a.T) / 2), (S3,)),
    ('cho_solve', lambda c, b: pla.cho_solve((c, True), b),
     lambda c, b: np.linalg.solve(np.tril(c) @ np.tril(c).T, b), (np.linalg.cholesky(S3), B32)),
    ('inv', pla.inv, np.linalg.inv, (A3,)), ('pinv', pla.pinv, np.linalg.pinv, (B32,)),
    ('det', pla.det, np.linalg.det, (A3,)),
    ('slogdet', pla.slogdet, np.linalg.slogdet, (A3,)),
    ('eigh', pla.eigh, lambda a: np.linalg.eigh((a + a.T) / 2), (S3,)),
    ('svd', pla.svd, lambda a: np.linalg.svd(a, full_matrices=False), (B32,)),
    ('svd values', lambda a: pla.svd(a, compute_uv=False), lambda a: np.linalg.svd(a, compute_uv=False), (A3,)),
    ('qr', pla.qr, np.linalg.qr, (A3,)),
    ('norm', pla.norm, np.linalg.norm, (X34,)),
    ('norm nuc', lambda a: pla.norm(a, 'nuc'), lambda a: np.linalg.norm(a, 'nuc'), (A3,)),
    ('norm 1', lambda v: pla.norm(v, 1), lambda v: np.linalg.norm(v, 1), (V5,)),
    ('matrix_power', lambda a: pla.matrix_power(a, 3), lambda a: np.linalg.matrix_power(a, 3), (A3,)),
    ('matrix_power -2', lambda a: pla.matrix_power(a, -2), lambda a: np.linalg.matrix_power(a, -2), (A3,)),
    ('expm', pla.expm, None, (0.3 * A3,)),
    ('sqrtm', pla.sqrtm, scipy.linalg.sqrtm, (S3,)),
    ('solve_sylvester', pla.solve_sylvester, scipy.linalg.solve_sylvester, (A3, S3, B32 @ B32.T)),
    ('solve_banded', lambda ab, b: pla.solve_banded((1, 1), ab, b),
     lambda ab, b: scipy.linalg.solve_banded((1, 1), ab, b), (_rand(3, 3) + [[0], [3], [0]], B32)),
    ('lstsq', lambda a, b: _solution(pla.lstsq(a, b)),
     lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0], (_well(5, 3), _rand(5, 2))),
    # neural networks
    ('softmax', nn.softmax, lambda z: sps.softmax(z, axis=-1), (X34,)),
    ('log_softmax', nn.log_softmax, lambda z: sps.log_softmax(z, axis=-1), (X34,)),
    ('nn.logsumexp', lambda z: nn.logsumexp(z, axis=0), lambda z: sps.logsumexp(z, axis=0), (X34,)),
    ('sparsemax', nn.sparsemax, None, (ZS,)),
    ('sparsek', lambda z: nn.sparsek(z, 2.0), None, (ZS,)),
    ('entmax15', nn.entmax15, None, (ZS,)),
    ('entmax_bisect', lambda z: nn.entmax_bisect(z, 1.5, n_iter=60), None, (ZS,)),
    ('sparsemax_loss', lambda z: nn.sparsemax_loss(z, np.array([0, 3, 1])), None, (ZS,)),
    ('softmax_cross_entropy', lambda z: nn.softmax_cross_entropy(z, np.array([0, 3, 1])),
     lambda z: -np.take_along_axis(sps.log_softmax(z, axis=-1), np.array([[0], [3], [1]]), 1)[:, 0], (X34,)),
    ('sparsek_scores', lambda x, w: nn.sparsek_scores(x, w, slope=0.1), None,
     (_rand(1, 4, 3), _rand(3, 2))),
    ('dense_attention', lambda q, k, v: nn.dense_attention(q, k, v), None,
     (_rand(1, 1, 4, 3), _rand(1, 1, 4, 3), _rand(1, 1, 4, 2))),
    ('sliding_window_attention', lambda q, k, v: nn.sliding_window_attention(q, k, v, 2), None,
     (_rand(1, 1, 4, 3), _rand(1, 1, 4, 3), _rand(1, 1, 4, 2))),
    ('sparsek_attention', lambda q, k, v, s: nn.sparsek_attention(q, k, v, s, 2, chunk=2), None,
     (_rand(1, 1, 4, 3), _rand(1, 1, 4, 3), _rand(1, 1, 4, 2), np.array([[[0.9, -0.3, 0.4, 1.6]]]))),
    ('sparsek_layer', lambda x: nn.sparsek_layer(_layer(x.dtype), x, 2, chunk=2), None, (_rand(1, 4, 3),)),
]

# special points: zeros, ties, singular matrices (where the derivative exists)
Z = np.zeros(4)
TIES = np.array([0.3, -0.2, 0.3, 0.3, 1.1])
SINGULAR = np.array([[1.0, 2.0, 0.5], [2.0, 4.0, 1.0], [0.3, -0.7, 1.9]])
SPECIAL_CASES = [
    ('prod one zero', pnp.prod, np.prod, (np.array([0.7, 0.0, -1.3, 0.4]),)),
    ('prod two zeros', pnp.prod, np.prod, (np.array([0.7, 0.0, -1.3, 0.0]),)),
    ('cumprod two zeros', pnp.cumprod, np.cumprod, (np.array([0.7, 0.0, -1.3, 0.0]),)),
    ('det singular', pla.det, np.linalg.det, (SINGULAR,)),
    ('det zero', pla.det, np.linalg.det, (np.zeros((3, 3)),)),
    ('matrix_power singular', lambda a: pla.matrix_power(a, 2), lambda a: np.linalg.matrix_power(a, 2), (SINGULAR,)),
    ('sum of sort, ties', lambda x: pnp.sum(pnp.sort(x) ** 2), lambda x: np.sum(np.sort(x) ** 2), (TIES,)),
    ('softmax ties', nn.softmax, lambda z: sps.softmax(z, axis=-1), (TIES,)),
    ('logsumexp zeros', nn.logsumexp, sps.logsumexp, (Z,)),
    ('sparsemax zeros', nn.sparsemax, None, (Z,)),
    ('sparsemax ties', nn.sparsemax, None, (TIES,)),
    ('entmax15 zeros', nn.entmax15, None, (Z,)),
    ('var zeros', pnp.var, np.var, (Z,)),
    ('matmul zeros', pnp.matmul, np.matmul, (np.zeros((2, 3)), A3)),
    ('tanh zeros', pnp.tanh, np.tanh, (Z,)),
    ('sinc zero', pnp.sinc, np.sinc, (np.array([0.0, 0.3]),)),
]


def _leaves(out):
    if isinstance(out, (tuple, list)):
        return [leaf for o in out for leaf in _leaves(o)]
    return [out]


def _reference(ref, fn, args):
    with warnings.catch_warnings(), np.errstate(all='ignore'):
        warnings.simplefilter('ignore')
        out = (ref or fn)(*args)
    return [np.asarray(innermost(leaf), dtype=np.float64) for leaf in _leaves(out)]


def _fd(s, xs, vs, order):
    """Fourth-order central differences of the scalar s along vs: first or second
    directional derivative."""
    def at(t):
        return s([x + t * v for x, v in zip(xs, vs)])
    if order == 1:
        h = 1e-3
        return (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h)
    h = 1e-2
    return (-at(2 * h) + 16 * at(h) - 30 * at(0.0) + 16 * at(-h) - at(-2 * h)) / (12 * h * h)


def _weighted_sums(fn, ref, args, traced, weights, dtype):
    """call(xs, plain): the output leaves of fn (of ref, in float64, where plain)
    with the traced arguments replaced by xs; s_ref(xs) and s(xs): their sums
    weighted by ``weights``, in float64 by the reference and by pyad in dtype."""
    def call(xs, plain):
        full = list(args)
        for i, x in zip(traced, xs):
            full[i] = x
        if plain:
            return _reference(ref, fn, full)
        return _leaves(fn(*full))

    def s_ref(xs):
        return sum(float(np.sum(w * leaf)) for w, leaf in zip(weights, call(xs, True)))

    def s(xs):
        total = 0.0
        for w, leaf in zip(weights, call(xs, False)):
            total = total + pnp.sum(leaf * w.astype(dtype))
        return total

    return call, s_ref, s


def _check_array(label, fn, ref, args, dtype):
    traced = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == 'f']
    want_leaves = _reference(ref, fn, args)
    rng = np.random.default_rng(5)
    weights = [rng.uniform(0.5, 1.5, w.shape) for w in want_leaves]
    vs = [rng.standard_normal(args[i].shape) for i in traced]
    call, s_ref, s = _weighted_sums(fn, ref, args, traced, weights, dtype)
    xs0 = [args[i] for i in traced]
    d1 = _fd(s_ref, xs0, vs, 1)
    d2 = _fd(s_ref, xs0, vs, 2)
    xs = tuple(x.astype(dtype) for x in xs0)
    vt = tuple(v.astype(dtype) for v in vs)
    tol = dict(rtol=1e-6, atol=1e-7) if dtype is np.float64 else dict(rtol=3e-3, atol=3e-3)
    where = f'{label} ({np.dtype(dtype).name})'
    out_dtype = np.float64 if label == 'astype' else dtype

    with np.errstate(all='ignore'):
        _assert_values(call(xs, False), want_leaves, tol, out_dtype, where)
        results = _directional_derivatives(s, xs, vt, vs, dtype, where)
    scale = 1 + abs(d1) + abs(d2)
    for mode, value in results.items():
        first = mode in ('JVP', 'VJP')
        want, rtol = (d1, tol['rtol']) if first else (d2, 20 * tol['rtol'])
        assert abs(value - want) <= rtol * scale, f'{where}: {mode} {value} != {want}'


def _assert_values(leaves, want_leaves, tol, out_dtype, where):
    for g, w in zip([innermost(leaf) for leaf in leaves], want_leaves):
        assert np.shape(g) == w.shape, f'{where}: shape {np.shape(g)} != {w.shape}'
        np.testing.assert_allclose(g, w, **tol, err_msg=f'{where}: value')
        assert np.asarray(g).dtype == out_dtype, f'{where}: value in {np.asarray(g).dtype}'


def _directional_derivatives(s, xs, vt, vs, dtype, where):
    """The first directional derivative of the scalar s at xs along vt (in vs's
    float64) by JVP and by VJP, and the second in the four nestings of the modes."""
    def dot(a, b):
        return sum(float(np.sum(np.asarray(x, np.float64) * y)) for x, y in zip(a, b))

    def dirderiv(xs):
        return pyad.jvp(s, (xs,), (vt,))[1]

    jvp = pyad.jvp(s, (xs,), (vt,))[1]
    grad = pyad.grad(s)(xs)
    for gi in grad:
        assert gi.dtype == dtype, f'{where}: gradient in {gi.dtype}'
    return {'JVP': float(jvp), 'VJP': dot(grad, vs),
            'fwd over fwd': float(pyad.jvp(dirderiv, (xs,), (vt,))[1]),
            'fwd over rev': dot(pyad.jvp(pyad.grad(s), (xs,), (vt,))[1], vs),
            'rev over fwd': dot(pyad.grad(dirderiv)(xs), vs),
            'rev over rev': dot(pyad.vjp(pyad.grad(s), xs)[1](vt), vs)}


def _array_params(cases):
    for label, fn, ref, args in cases:
        for dtype in (np.float64, np.float32):
            yield pytest.param(label, fn, ref, args, dtype, id=f'{label}-{np.dtype(dtype).name}')


@pytest.mark.parametrize('label, fn, ref, args, dtype', list(_array_params(ARRAY_CASES)))
def test_array_functions_against_finite_differences(label, fn, ref, args, dtype, values):
    if values == 'deferred' and dtype is np.float32:
        pytest.skip('deferred values: float64 is enough')
    _check_array(label, fn, ref, args, dtype)


@pytest.mark.parametrize('label, fn, ref, args, dtype',
                         [p for p in _array_params(SPECIAL_CASES)
                          if p.values[4] is np.float64])
def test_array_functions_at_special_points(label, fn, ref, args, dtype, values):
    if values == 'deferred':
        pytest.skip('eager is enough')
    _check_array(label, fn, ref, args, dtype)


def test_max_at_a_tie_gives_a_subgradient():
    # the derivative does not exist at a tie; whatever pyad returns must be a
    # subgradient (non-negative, summing to one, zero off the maximum)
    g = pyad.grad(pnp.max)(np.array([0.3, 1.1, 1.1]))
    assert np.all(g >= 0) and abs(g.sum() - 1) < 1e-12 and g[0] == 0


def test_solve_on_a_singular_matrix_raises():
    with pytest.raises(np.linalg.LinAlgError):
        pyad.grad(lambda a: pnp.sum(pla.solve(a, np.ones(3))))(SINGULAR)


# ===================================================================== coverage
# Public names with no derivative to check: constants, dtypes, modules, functions of
# shapes, integer or boolean results, non-differentiable primitives (constant
# results), and classes
NOT_CHECKED = {
    'argmax', 'argmin', 'argsort', 'argwhere', 'nonzero', 'flatnonzero', 'searchsorted',
    'count_nonzero', 'unique', 'bincount', 'digitize', 'nanargmax', 'nanargmin', 'is_array', 'isscalar', 'iscomplexobj',
    'isrealobj', 'shape', 'ndim', 'size', 'result_type', 'promote_types', 'all', 'any',
    'allclose', 'array_equal', 'isclose', 'zeros', 'ones', 'empty', 'full', 'eye', 'identity',
    'arange', 'meshgrid', 'tri', 'indices', 'diag_indices',
    'tril_indices', 'triu_indices', 'zeros_like', 'ones_like', 'empty_like', 'full_like',
    'sign', 'floor', 'ceil', 'trunc', 'rint', 'round', 'around', 'fix', 'floor_divide',
    'heaviside', 'equal', 'not_equal', 'less', 'less_equal', 'greater', 'greater_equal',
    'isnan', 'isinf', 'isfinite', 'signbit', 'logical_and', 'logical_or', 'logical_not',
    'logical_xor', 'topk_mask', 'polygamma', 'stop_gradient', 'imag', 'iscomplex',
    'sparsek_layer_init',           # random initial parameters        # polygamma: as polygamma1, polygamma2
    'LinAlgError', 'SparseKCache', 'SlogdetResult', 'EighResult', 'SVDResult', 'QRResult',
}


def _public(module, names=None):
    import types
    names = names if names is not None else [n for n in dir(module) if not n.startswith('_')]
    out = set()
    for n in names:
        v = getattr(module, n)
        if isinstance(v, (types.ModuleType, type, float, int, np.dtype)) or v is None:
            continue
        if isinstance(v, type(np.float64)) or not callable(v):
            continue
        out.add(n)
    return out


def test_every_function_is_checked():
    from tests.test_numpy_breadth import CASES as BREADTH_CASES      # checked the same way there
    checked = set(SCALAR_NAMES) | {label.split(' ')[0].replace('nn.', '')
                                   for label, *_ in ARRAY_CASES + BREADTH_CASES}
    names = (_public(pnp) | _public(pla, pla.__all__) | _public(nn, nn.__all__)) - NOT_CHECKED
    missing = sorted(names - checked)
    assert not missing, f'no differential check for {missing}'
