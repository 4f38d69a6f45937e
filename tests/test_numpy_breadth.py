"""The NumPy functions a user of NumPy, autograd or JAX reaches for beyond the core:
the NaN-ignoring reductions, select and piecewise, gradient, histogram, linspace in
its end points, r_ and c_, the interleaved einsum, reductions of Python lists of
traced scalars, functional updates (``x.at[idx].set(v)``) and the ndarray methods
called on traced values.

Every differentiable case is checked by ``tests.test_differential._check_array``:
the value against NumPy, and the first derivative (forward and reverse) and the
second (all four nestings) against fourth-order finite differences of NumPy's
function, in float64 and float32.
"""
import copy
import warnings

import numpy as np
import pytest

import pyad
import pyad.linalg as pla
import pyad.numpy as pnp
from pyad import backend
from pyad.testing import check_grads
from tests.devices import DEVICES
from tests.test_differential import _array_params, _check_array

_R = np.random.default_rng(11)
M34 = np.array([[0.31, -1.17, 0.62, 1.45], [-0.52, 0.88, -1.63, 0.12], [1.21, -0.09, 0.44, -0.76]])
V6 = np.array([0.7, -1.3, 0.25, 1.9, -0.45, 1.15])
T234 = _R.uniform(-1, 1, (2, 3, 4))
NAN34 = M34.copy()
NAN34[0, 1] = NAN34[2, 2] = NAN34[1, 0] = np.nan
NAN_ROW = M34.copy()
NAN_ROW[1, [0, 2, 3]] = np.nan         # a row with a single number
COORDS = np.array([0.0, 1.1, 2.0, 3.4])
IDX = ([0, 2, 0], [1, 3, 1])           # names the entry (0, 1) twice
KNOTS = np.array([0.2, 3.4, 1.6, -0.3])      # modulo 2.5: 0.2, 0.9, 1.6, 2.2 (sorted by interp)
GAPS = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0])
EXPONENTS = np.array([1, -2, 0, 3, 1, -1])
MANTISSAS = np.array([0.7, -1.3, 0.3, 1.5, -0.4, 2.6])      # |x| away from powers of 2
NONFINITE = np.array([np.nan, -1.3, np.inf, 1.9, -np.inf, 1.15])


def _numpy_update(ufunc):
    def update(x, v):
        y = x.copy()
        ufunc.at(y, IDX, v)
        return y
    return update


def _numpy_set(idx):
    def update(x, v):
        y = x.copy()
        y[idx] = v
        return y
    return update


def _np_piecewise(x):
    return np.piecewise(x, [x < -0.5, x > 0.5], [lambda x: x ** 2, np.sqrt, lambda x: 3 * x])


def _pnp_piecewise(x):
    c = pyad.stop_gradient(x)
    return pnp.piecewise(x, [c < -0.5, c > 0.5], [lambda x: x ** 2, pnp.sqrt, lambda x: 3 * x])


CASES = [
    # NaN-ignoring functions
    ('nanprod', lambda x: pnp.nanprod(x, axis=1), lambda x: np.nanprod(x, axis=1), (NAN34,)),
    ('nanvar', lambda x: pnp.nanvar(x, axis=0, ddof=1), lambda x: np.nanvar(x, axis=0, ddof=1), (NAN34,)),
    ('nanvar all', pnp.nanvar, np.nanvar, (NAN34,)),
    ('nanstd', lambda x: pnp.nanstd(x, axis=1, keepdims=True),
     lambda x: np.nanstd(x, axis=1, keepdims=True), (NAN34,)),
    ('nanstd single', lambda x: pnp.nanstd(x, axis=1), lambda x: np.nanstd(x, axis=1), (NAN_ROW,)),
    ('nanmean', lambda x: pnp.nanmean(x, axis=1), lambda x: np.nanmean(x, axis=1), (NAN_ROW,)),
    ('nanmedian', lambda x: pnp.nanmedian(x, axis=1), lambda x: np.nanmedian(x, axis=1), (NAN34,)),
    ('nanmedian all', pnp.nanmedian, np.nanmedian, (NAN34,)),
    ('nanquantile', lambda x: pnp.nanquantile(x, [0.2, 0.7], axis=0, keepdims=True),
     lambda x: np.nanquantile(x, [0.2, 0.7], axis=0, keepdims=True), (NAN34,)),
    ('nanquantile q', lambda x, q: pnp.nanquantile(x, q[0] * 0.5 + 0.3, axis=1),
     lambda x, q: np.nanquantile(x, q[0] * 0.5 + 0.3, axis=1), (NAN34, V6)),
    ('nanpercentile', lambda x: pnp.nanpercentile(x, 35.0, axis=(0, 1)),
     lambda x: np.nanpercentile(x, 35.0, axis=(0, 1)), (NAN34,)),
    ('nancumsum', lambda x: pnp.nancumsum(x, axis=1), lambda x: np.nancumsum(x, axis=1), (NAN34,)),
    ('nancumprod', pnp.nancumprod, np.nancumprod, (NAN34,)),
    ('nansum', lambda x: pnp.nansum(x, axis=0), lambda x: np.nansum(x, axis=0), (NAN34,)),
    ('nanmax', lambda x: pnp.nanmax(x, axis=1), lambda x: np.nanmax(x, axis=1), (NAN34,)),
    ('nanmin', lambda x: pnp.nanmin(x, axis=0), lambda x: np.nanmin(x, axis=0), (NAN34,)),
    # choosing, piecewise definitions
    ('select', lambda a, b: pnp.select([a < 0, b > 0.5], [a * b, pnp.sin(b)], b),
     lambda a, b: np.select([a < 0, b > 0.5], [a * b, np.sin(b)], b), (M34, M34.T[:3, :3].ravel()[:4] + 0 * M34)),
    ('select default', lambda a: pnp.select([a < 0], [a ** 2], 1.5),
     lambda a: np.select([a < 0], [a ** 2], 1.5), (V6,)),
    ('piecewise', _pnp_piecewise, _np_piecewise, (V6,)),
    ('piecewise constants', lambda x: pnp.piecewise(x, [x < 0], [2.5, lambda x: x * x]),
     lambda x: np.piecewise(x, [x < 0], [2.5, lambda x: x * x]), (V6,)),
    # differences, spacings
    ('gradient', pnp.gradient, np.gradient, (M34,)),
    ('gradient axis', lambda f: pnp.gradient(f, 0.3, axis=1, edge_order=2),
     lambda f: np.gradient(f, 0.3, axis=1, edge_order=2), (M34,)),
    ('gradient coordinates', lambda f, x: pnp.gradient(f, x, axis=1),
     lambda f, x: np.gradient(f, x, axis=1), (M34, COORDS)),
    ('gradient coordinates order 2', lambda f, x: pnp.gradient(f, 1.0, x, edge_order=2),
     lambda f, x: np.gradient(f, 1.0, x, edge_order=2), (M34, COORDS)),
    ('nan_to_num', lambda x: pnp.nan_to_num(x, nan=0.5, posinf=3.0, neginf=-2.0),
     lambda x: np.nan_to_num(x, nan=0.5, posinf=3.0, neginf=-2.0), (NONFINITE,)),
    ('partition', lambda x: pnp.partition(x, 2, axis=1), lambda x: np.partition(x, 2, axis=1), (M34,)),
    ('partition flat', lambda x: pnp.partition(x, (1, 3), axis=None),
     lambda x: np.partition(x, (1, 3), axis=None), (M34,)),
    ('dsplit', lambda x: pnp.dsplit(x, [1, 3]), lambda x: np.dsplit(x, [1, 3]), (T234,)),
    ('compress', lambda x: pnp.compress([True, False, True], x, axis=1),
     lambda x: np.compress([True, False, True], x, axis=1), (M34,)),
    ('resize', lambda x: pnp.resize(x, (4, 4)), lambda x: np.resize(x, (4, 4)), (V6,)),
    ('histogram', lambda a, w: pnp.histogram(a, 3, weights=w, density=True),
     lambda a, w: np.histogram(a, 3, weights=w, density=True), (V6, np.abs(V6) + 0.2)),
    ('histogram edges', lambda a: pnp.histogram(a, 4)[1], lambda a: np.histogram(a, 4)[1], (V6,)),
    ('linspace', lambda a, b: pnp.linspace(a[0], b[1], 7), lambda a, b: np.linspace(a[0], b[1], 7), (V6, V6 * 2)),
    ('linspace arrays', lambda a, b: pnp.linspace(a[:3], b, 5, endpoint=False, axis=-1, retstep=True),
     lambda a, b: np.linspace(a[:3], b, 5, endpoint=False, axis=-1, retstep=True), (V6, M34[:, :3])),
    ('logspace', lambda a, b: pnp.logspace(a[0], b[1], 6, base=b[3]),
     lambda a, b: np.logspace(a[0], b[1], 6, base=b[3]), (V6, V6 * 2)),
    ('logspace arrays', lambda a, b: pnp.logspace(a[:3], b, 4, endpoint=False, axis=-1),
     lambda a, b: np.logspace(a[:3], b, 4, endpoint=False, axis=-1), (V6, M34[:, :3])),
    ('logspace bases', lambda a: pnp.logspace(a[1], a[0], 3, base=a[3:] + 1),
     lambda a: np.logspace(a[1], a[0], 3, base=a[3:] + 1), (V6,)),
    ('r_', lambda x: pnp.r_[x, 2.5, x[:2] ** 2], lambda x: np.r_[x, 2.5, x[:2] ** 2], (V6,)),
    ('r_ directive', lambda x: pnp.r_['0,2,0', x[:4], x[2:]], lambda x: np.r_['0,2,0', x[:4], x[2:]], (V6,)),
    ('c_', lambda x, y: pnp.c_[x, y[:, 0], np.ones(3, x.dtype)], lambda x, y: np.c_[x, y[:, 0], np.ones(3, x.dtype)],
     (V6[:3], M34)),
    ('einsum interleaved', lambda a, b: pnp.einsum(a, [0, 1], b, [1, 2], [0, 2]),
     lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2]), (M34, M34.T)),
    ('einsum interleaved implicit', lambda a: pnp.einsum(a, [Ellipsis, 0], a, [Ellipsis, 0]),
     lambda a: np.einsum(a, [Ellipsis, 0], a, [Ellipsis, 0]), (M34,)),
    # edits, polynomials, and the rest
    ('delete', lambda x: pnp.delete(x, [0, 2], axis=1), lambda x: np.delete(x, [0, 2], axis=1), (M34,)),
    ('delete flat', lambda x: pnp.delete(x, slice(1, 8, 3)), lambda x: np.delete(x, slice(1, 8, 3)), (M34,)),
    ('insert', lambda x, v: pnp.insert(x, 1, v[:3], axis=1), lambda x, v: np.insert(x, 1, v[:3], axis=1), (M34, V6)),
    ('insert broadcast', lambda x, v: pnp.insert(x, [1, 3, 3], v[0]), lambda x, v: np.insert(x, [1, 3, 3], v[0]),
     (M34, V6)),
    ('insert row', lambda x, v: pnp.insert(x, 2, v[:4], axis=0), lambda x, v: np.insert(x, 2, v[:4], axis=0),
     (M34, V6)),
    ('extract', lambda x: pnp.extract(pyad.stop_gradient(x) > 0, x), lambda x: np.extract(x > 0, x), (M34,)),
    ('trim_zeros', lambda x: pnp.trim_zeros(x * GAPS.astype(x.dtype)),
     lambda x: np.trim_zeros(x * GAPS.astype(x.dtype)), (V6,)),
    ('vander', lambda x: pnp.vander(x, 4), lambda x: np.vander(x, 4), (V6,)),
    ('vander increasing', lambda x: pnp.vander(x, increasing=True), lambda x: np.vander(x, increasing=True),
     (V6[:4],)),
    ('polyder', lambda p: pnp.polyder(p, 2), lambda p: np.polyder(p, 2), (V6,)),
    ('polyint', lambda p, k: pnp.polyint(p, 2, k[:2]), lambda p, k: np.polyint(p, 2, k[:2]), (V6, V6[::-1])),
    ('unwrap', lambda x: pnp.unwrap(x * 3), lambda x: np.unwrap(x * 3), (V6,)),
    ('modf', pnp.modf, np.modf, (V6 * 3,)),
    ('divmod', pnp.divmod, np.divmod, (V6 * 3, V6[::-1] + 2)),
    ('ldexp', lambda x: pnp.ldexp(x, EXPONENTS), lambda x: np.ldexp(x, EXPONENTS), (V6,)),
    ('frexp', lambda x: pnp.frexp(x)[0], lambda x: np.frexp(x)[0], (MANTISSAS,)),     # (exponents: below)
    ('vecdot', pnp.vecdot, np.vecdot, (M34, M34[::-1])),
    ('matvec', pnp.matvec, np.matvec, (M34, V6[:4])),
    ('vecmat', pnp.vecmat, np.vecmat, (V6[:3], M34)),
    ('interp period', lambda x, xp: pnp.interp(x, xp, xp ** 2, period=2.5),
     lambda x, xp: np.interp(x, xp, xp ** 2, period=2.5), (np.array([0.5, 3.7, -1.2, 6.3]), KNOTS)),
    ('cov weights', lambda m, a: pnp.cov(m, fweights=[1, 2, 1, 3], aweights=a[:4] ** 2),
     lambda m, a: np.cov(m, fweights=[1, 2, 1, 3], aweights=a[:4] ** 2), (M34, V6)),
    ('cov aweights', lambda m, a: pnp.cov(m, rowvar=False, bias=True, aweights=a[:3] ** 2),
     lambda m, a: np.cov(m, rowvar=False, bias=True, aweights=a[:3] ** 2), (M34, V6)),
    ('cov fweights', lambda m: pnp.cov(m, ddof=2, fweights=np.array([1, 2, 1, 3])),
     lambda m: np.cov(m, ddof=2, fweights=np.array([1, 2, 1, 3])), (M34,)),
    # Python lists of traced scalars
    ('sum list', lambda x: pnp.sum([x[0], x[1] * x[2], x[5]]), lambda x: np.sum([x[0], x[1] * x[2], x[5]]), (V6,)),
    ('mean list', lambda x: pnp.mean([x[0], x[3]]), lambda x: np.mean([x[0], x[3]]), (V6,)),
    ('prod list', lambda x: pnp.prod([x[0], x[1], x[4]]), lambda x: np.prod([x[0], x[1], x[4]]), (V6,)),
    ('max list', lambda x: pnp.max([x[0], x[1], x[3]]), lambda x: np.max([x[0], x[1], x[3]]), (V6,)),
    ('std list', lambda x: pnp.std([x[0], x[1], x[3]]), lambda x: np.std([x[0], x[1], x[3]]), (V6,)),
    ('average list', lambda x: pnp.average([x[0], x[1] ** 2, x[2]], weights=np.array([1.0, 2.0, 0.5], x.dtype)),
     lambda x: np.average([x[0], x[1] ** 2, x[2]], weights=np.array([1.0, 2.0, 0.5], x.dtype)), (V6,)),
    ('diff list', lambda x: pnp.diff([x[0], x[1] ** 2, x[2]]), lambda x: np.diff([x[0], x[1] ** 2, x[2]]), (V6,)),
    ('norm list', lambda x: pla.norm([x[0], x[1] * 2]), lambda x: np.linalg.norm([x[0], x[1] * 2]), (V6,)),
    # functional updates
    ('at set', lambda x, v: pnp.at(x)[1:, ::2].set(v[:2]), lambda x, v: _numpy_set((slice(1, None), slice(None, None, 2)))(x, v[:2]), (M34, V6)),
    ('at set repeated', lambda x, v: pnp.at(x)[IDX].set(v[:3]), lambda x, v: _numpy_set(IDX)(x, v[:3]), (M34, V6)),
    ('at set mask', lambda x: pnp.at(x)[pyad.stop_gradient(x) > 0.5].set(0.5),
     lambda x: _numpy_set(x > 0.5)(x, 0.5), (M34,)),
    ('at add', lambda x, v: pnp.at(x)[IDX].add(v[:3]), lambda x, v: _numpy_update(np.add)(x, v[:3]), (M34, V6)),
    ('at multiply', lambda x, v: pnp.at(x)[IDX].multiply(v[:3]),
     lambda x, v: _numpy_update(np.multiply)(x, v[:3]), (M34, V6)),
    ('at divide', lambda x, v: pnp.at(x)[IDX].divide(v[:3] + 2.0),
     lambda x, v: _numpy_update(np.divide)(x, v[:3] + 2.0), (M34, V6)),
    ('at min', lambda x, v: pnp.at(x)[IDX].min(v[:3]), lambda x, v: _numpy_update(np.minimum)(x, v[:3]), (M34, V6)),
    ('at max', lambda x, v: pnp.at(x)[IDX].max(v[3:]), lambda x, v: _numpy_update(np.maximum)(x, v[3:]), (M34, V6)),
    ('at apply', lambda x: pnp.at(x)[IDX].apply(pnp.sin), lambda x: _numpy_set(IDX)(x, np.sin(x[IDX])), (M34,)),
    ('at get', lambda x: pnp.at(x)[:, 1].get(), lambda x: x[:, 1], (M34,)),
]


@pytest.mark.parametrize('label, fn, ref, args, dtype', list(_array_params(CASES)))
def test_against_numpy_and_finite_differences(label, fn, ref, args, dtype, values):
    if values == 'deferred' and dtype is np.float32:
        pytest.skip('deferred values: float64 is enough')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        _check_array(label, fn, ref, args, dtype)


# ----------------------------------------------------------------- wrong results before
def test_std_of_a_single_value_has_derivative_zero():
    assert pyad.grad(pnp.std)(3.5) == 0.0
    assert pyad.diff(pnp.std)(3.5) == 0.0
    assert pyad.diff2(pnp.std)(3.5) == 0.0
    x = np.array([[0.3, -1.2, 2.0]])
    np.testing.assert_array_equal(pyad.grad(lambda x: pnp.sum(pnp.std(x, axis=0)))(x), 0 * x)
    np.testing.assert_array_equal(
        pyad.hessian(lambda x: pnp.sum(pnp.std(pnp.reshape(x, (1, 3)), axis=0)))(x[0]),
        np.zeros((3, 3)))
    check_grads(lambda x: pnp.std(x, axis=0), x, order=2)


@pytest.mark.parametrize('power', [lambda x: x ** 0.0, lambda x: pnp.power(x, 0.0),
                                   lambda x: pnp.power(x, np.zeros(3))], ids=['**', 'power', 'array'])
def test_power_zero_at_zero_is_constant(power):
    x = np.zeros(3)
    with warnings.catch_warnings():
        warnings.simplefilter('error', RuntimeWarning)
        np.testing.assert_array_equal(pyad.jacfwd(power)(x), np.zeros((3, 3)))
        np.testing.assert_array_equal(pyad.jacrev(power)(x), np.zeros((3, 3)))
        assert pyad.grad(lambda x: pnp.sum(power(x)))(x).tolist() == [0.0] * 3


def test_higher_derivatives_of_integer_powers_at_zero():
    assert pyad.diff2(lambda x: x ** 1.0)(0.0) == 0.0
    assert pyad.grad(pyad.grad(lambda x: x ** 1.0))(0.0) == 0.0
    assert pyad.diffn(3, lambda x: x ** 2.0)(0.0) == 0.0
    assert pyad.diffn(3, lambda x: x ** 3.0)(0.0) == 6.0
    # an array exponent holding 0, 1 and 2 at a base of 0
    y = np.array([0.0, 1.0, 2.0])
    h = pyad.hessian(lambda x: pnp.sum(pnp.power(x, y)))(np.zeros(3))
    np.testing.assert_array_equal(h, np.diag([0.0, 0.0, 2.0]))


# ----------------------------------------------------------------- nan functions
def test_nan_functions_on_slices_without_numbers_match_numpy():
    x = M34.copy()
    x[1] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        for name in ('nansum', 'nanprod', 'nanmean', 'nanvar', 'nanstd', 'nanmax', 'nanmin',
                     'nanmedian'):
            np.testing.assert_allclose(getattr(pnp, name)(x, axis=1),
                                       getattr(np, name)(x, axis=1), rtol=1e-14, err_msg=name)
            g = pyad.grad(lambda x: pnp.nansum(getattr(pnp, name)(x, axis=1)))(x)
            assert np.all(np.isfinite(g)) and np.all(g[1] == 0), name
    assert pnp.nanargmax(NAN34, axis=1).tolist() == np.nanargmax(NAN34, axis=1).tolist()
    assert pnp.nanargmin(NAN34) == np.nanargmin(NAN34)


def test_numpy_nan_functions_dispatch_on_traced_values():
    g = pyad.grad(lambda x: np.nanstd(x) + np.nanmedian(x))(NAN34)
    want = pyad.grad(lambda x: pnp.nanstd(x) + pnp.nanmedian(x))(NAN34)
    np.testing.assert_array_equal(g, want)


# ----------------------------------------------------------------- where, linspace, ...
def test_where_with_one_argument_is_nonzero():
    x = np.array([0.5, -1.0, 2.0])

    def f(x):
        (i,) = pnp.where(x > 0)
        (j,) = np.where(x > 0)
        assert i.tolist() == j.tolist() == [0, 2]
        return pnp.sum(x[i])
    np.testing.assert_array_equal(pyad.grad(f)(x), [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match='both or neither'):
        pnp.where(x > 0, x)


def test_nan_to_num_defaults_keep_the_dtype():
    for dtype in (np.float32, np.float64):
        x = NONFINITE.astype(dtype)
        w = np.array([0.0, 1.0, 0.0, 3.0, 0.0, 5.0], dtype)     # (no inf in the sum)
        g = pyad.grad(lambda x: pnp.sum(pnp.nan_to_num(x) * w))(x)
        want = np.nan_to_num(x)
        assert pnp.nan_to_num(x).dtype == dtype and g.dtype == dtype
        np.testing.assert_array_equal(pyad.jvp(pnp.nan_to_num, x, np.ones_like(x))[0], want)
        np.testing.assert_array_equal(g, w)
        g = pyad.grad(lambda x: pnp.sum(pnp.nan_to_num(x)[[1, 3, 5]]))(x)
        np.testing.assert_array_equal(g, np.isfinite(x).astype(dtype))
    assert pnp.nan_to_num(np.array([1, 2])).tolist() == [1, 2]


def test_integer_parts_match_numpy():
    x = MANTISSAS.astype(np.float32)
    (m, e), dm = pyad.jvp(pnp.frexp, x, np.ones_like(x))
    assert e.tolist() == np.frexp(x)[1].tolist() and m.dtype == dm[0].dtype == np.float32
    np.testing.assert_array_equal(dm[0], np.ldexp(np.float32(1), -np.frexp(x)[1]))
    (frac, whole), (dfrac, dwhole) = pyad.jvp(pnp.modf, x * 3, np.ones_like(x))
    np.testing.assert_array_equal(whole, np.modf(x * 3)[1])
    assert dfrac.tolist() == [1.0] * 6 and not np.any(dwhole)
    assert pnp.ldexp(x, EXPONENTS).dtype == np.float32
    with pytest.raises(TypeError, match='ldexp: the exponent'):
        pnp.ldexp(x, 1.5)


def test_linspace_keeps_numpys_values_and_dtype():
    a, b = np.float32(0.1), np.float32(0.7)
    got = pyad.jvp(lambda s: pnp.linspace(s, b, 11), a, np.float32(1))
    np.testing.assert_array_equal(got[0], np.linspace(a, b, 11))
    assert got[0].dtype == got[1].dtype == np.float32
    np.testing.assert_allclose(got[1], 1 - np.linspace(0, 1, 11), rtol=1e-6)
    np.testing.assert_array_equal(pnp.linspace(0, 1, 5), np.linspace(0, 1, 5))
    np.testing.assert_array_equal(pyad.grad(lambda s: pnp.sum(pnp.linspace(s, 2.0, 1)))(0.3), 1.0)


@pytest.mark.parametrize('build', [
    lambda m, x: m.r_[x, 0:3], lambda m, x: m.r_[x[:2], 1.5, 0:1:4j], lambda m, x: m.c_[x[:3], x[3:]],
    lambda m, x: m.r_['-1,2,1', x[:3], x[3:]], lambda m, x: m.r_['0,2', x[:3], x[3:]],
    lambda m, x: m.c_[x[:2], 0:2],
], ids=['slice', 'linspace slice', 'c_', 'directive', 'ndmin', 'c_ slice'])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_r_and_c_match_numpy(build, dtype):
    x = V6.astype(dtype)
    got, tangent = pyad.jvp(lambda x: build(pnp, x), x, np.ones_like(x))
    want = build(np, x)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype and tangent.shape == want.shape
    # the entries that come from x have tangent 1, the others (numbers, ranges) 0
    np.testing.assert_allclose(tangent, build(np, x + 1) - want, rtol=1e-6)


def test_np_functions_reach_the_new_twins():
    x = np.array([0.4, 1.1, 2.5, 3.0])
    for fn in (lambda x: np.gradient(x), lambda x: np.linspace(x[0], x[1], 4),
               lambda x: np.nan_to_num(x), lambda x: np.partition(x, 1),
               lambda x: np.select([x > 1], [x * 2]), lambda x: np.histogram(x, 2)[1]):
        check_grads(fn, x, order=1)


def test_histogram_counts_and_edges_match_numpy():
    a = _R.normal(size=50)
    for kwargs in ({}, {'bins': 7}, {'bins': [-1.0, 0.0, 0.5, 2.0]}, {'range': (-1.0, 1.0)},
                   {'density': True}):
        got = pyad.jvp(lambda a: pnp.histogram(a, **kwargs), a, np.ones_like(a))[0]
        want = np.histogram(a, **kwargs)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
        np.testing.assert_array_equal(got[1], want[1])
    w = _R.uniform(size=50)
    got = pyad.jvp(lambda w: pnp.histogram(a, 5, weights=w)[0], w, np.ones_like(w))
    np.testing.assert_allclose(got[0], np.histogram(a, 5, weights=w)[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], np.histogram(a, 5)[0], rtol=1e-12)
    # all values equal: NumPy's edges are the value +- 0.5
    np.testing.assert_array_equal(pyad.jvp(lambda a: pnp.histogram(a, 2)[1], np.ones(3),
                                           np.ones(3))[1], np.ones(3))


def test_searchsorted_and_histogram_counts_are_constants():
    x = np.array([0.2, 0.9, 1.7])

    def f(x):
        i = pnp.searchsorted(x, 1.0)
        counts, _ = pnp.histogram(x, 2)
        return pnp.sum(x * i) + pnp.sum(x[:2] * counts)
    np.testing.assert_array_equal(pyad.grad(f)(x), [2 + 2, 2 + 1, 2])   # i = 2, counts [2, 1]


def test_select_and_piecewise_errors_name_the_function():
    x = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match='select.*same length'):
        pnp.select([x > 0], [x, x])
    with pytest.raises(TypeError, match='select: conditions must be boolean'):
        pyad.grad(lambda x: pnp.sum(pnp.select([x], [x])))(x)
    with pytest.raises(ValueError, match='piecewise.*funclist'):
        pnp.piecewise(x, [x > 0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match='gradient: axis 0 has 2 points'):
        pnp.gradient(x, edge_order=2)
    with pytest.raises(ValueError, match='dsplit'):
        pnp.dsplit(x, 2)
    with pytest.raises(ValueError, match='interp: period must be a non-zero'):
        pnp.interp(x, x, x, period=0)
    with pytest.raises(ValueError, match=r'cov: aweights must be 1-D with one weight per observation \(4\)'):
        pnp.cov(M34, aweights=[1.0, 2.0])
    with pytest.raises(ValueError, match='cov: fweights cannot be negative'):
        pnp.cov(M34, fweights=[1, -1, 1, 1])
    with pytest.raises(TypeError, match='cov: fweights must be integers'):
        pnp.cov(M34, fweights=[1, 1.5, 1, 1])


def test_piecewise_evaluates_each_function_on_its_own_entries():
    # sqrt is evaluated on the positive entries only: no NaN in any derivative
    x = np.array([-2.0, -0.5, 0.25, 4.0])
    f = lambda x: pnp.sum(pnp.piecewise(x, [x < 0, x >= 0], [lambda t: -t, pnp.sqrt]))
    with warnings.catch_warnings():
        warnings.simplefilter('error', RuntimeWarning)
        np.testing.assert_allclose(pyad.grad(f)(x), [-1, -1, 1.0, 0.25])
        np.testing.assert_allclose(np.diag(pyad.hessian(f)(x)), [0, 0, -2.0, -1 / 32])


# ----------------------------------------------------------------- functional updates
def test_at_on_traced_values_and_in_place_error():
    x = np.arange(6.0).reshape(2, 3)
    v = np.array([1.0, 2.0, 3.0])

    def f(xv):
        x, v = xv
        y = x.at[0].set(v)                     # y = [[1, 2, 3], [3, 4, 5]]
        y = y.at[1, [0, 0]].add(v[:2])         # y[1, 0] = 3 + 1 + 2
        y = y.at[:, 2].multiply(2.0)           # y[:, 2] = [6, 10]
        return pnp.sum(y * y)
    gx, gv = pyad.grad(f)((x, v))
    np.testing.assert_allclose(gx, [[0, 0, 0], [2 * 6, 2 * 4, 2 * 10 * 2]])
    np.testing.assert_allclose(gv, [2 * 1 + 2 * 6, 2 * 2 + 2 * 6, 2 * 6 * 2])

    def g(xv):          # the same through pyad.numpy.at, which plain arrays have too
        x, v = xv
        y = pnp.at(pnp.at(x)[0].set(v))[1, [0, 0]].add(v[:2])
        return pnp.sum(pnp.at(y)[:, 2].multiply(2.0) ** 2)
    np.testing.assert_allclose(pyad.grad(g)((x, v))[1], gv)
    check_grads(g, (x, v), order=2)
    with pytest.raises(TypeError, match=r'x\.at\[i\]\.set\(v\)'):
        pyad.grad(lambda x: x.__setitem__(0, 1.0))(x)


@pytest.mark.parametrize('op', ['set', 'add', 'multiply', 'divide', 'power', 'min', 'max'])
@pytest.mark.parametrize('idx', [IDX, (slice(1, None), 2), (M34 > 0.3,), (Ellipsis, [3, 0, 3])],
                         ids=['repeated', 'slices', 'mask', 'ellipsis'])
def test_traced_updates_equal_numpys(op, idx):
    # plain arrays are updated by NumPy itself (a copy, then x[idx] = v or ufunc.at);
    # traced ones by gathers and where: the two must agree
    x = np.abs(M34) + 0.5
    v = np.linspace(0.7, 1.9, np.asarray(x[idx]).size).reshape(np.shape(x[idx]))
    plain = getattr(pnp.at(x)[idx], op)(v)
    y = x.copy()
    if op == 'set':
        y[idx] = v
    else:
        {'add': np.add, 'multiply': np.multiply, 'divide': np.divide, 'power': np.power,
         'min': np.minimum, 'max': np.maximum}[op].at(y, idx, v)
    np.testing.assert_array_equal(plain, y)
    for traced_x in (True, False):
        value = pyad.jvp(lambda t: getattr(pnp.at(t if traced_x else x)[idx], op)(v if traced_x else t),
                         x if traced_x else v, np.ones_like(x if traced_x else v))[0]
        np.testing.assert_allclose(value, y, rtol=1e-15)


def test_at_keeps_the_dtype_and_leaves_x_alone():
    x = np.ones(4, dtype=np.float32)
    y = pnp.at(x)[1:3].set(np.array([2.0, 3.0]))
    assert y.dtype == np.float32 and x.tolist() == [1.0] * 4
    g = pyad.grad(lambda x: pnp.sum(x.at[0].add(1.0) ** 2))(x)
    assert g.dtype == np.float32 and g.tolist() == [4.0, 2.0, 2.0, 2.0]


def test_at_updates_see_only_their_entries():
    # x ** 0.5 of the negative entries is never computed: no NaN in any derivative
    x = np.array([-1.0, 4.0, -2.0])
    with warnings.catch_warnings():
        warnings.simplefilter('error', RuntimeWarning)
        f = lambda x: pnp.sum(pnp.at(x)[1].power(0.5))
        np.testing.assert_array_equal(pyad.grad(f)(x), [1.0, 0.25, 1.0])
        np.testing.assert_array_equal(pyad.hessian(f)(x), np.diag([0.0, -1 / 32, 0.0]))
        g = lambda x: pnp.sum(pnp.at(x)[x > 0].apply(pnp.log))
        np.testing.assert_array_equal(pyad.grad(g)(x), [1.0, 0.25, 1.0])


def test_at_errors_are_in_the_users_terms():
    x = np.ones((2, 3))
    with pytest.raises(IndexError, match=r'x\.at\[.*shape \(2, 3\)'):
        pnp.at(x)[5].set(1.0)
    with pytest.raises(ValueError, match=r'values of shape \(4,\) do not broadcast to the shape \(3,\)'):
        pnp.at(x)[0].set(np.ones(4))
    with pytest.raises(NotImplementedError, match='mode'):
        pnp.at(x)[0].set(1.0, mode='clip')
    with pytest.raises(IndexError, match='integer or boolean'):
        pyad.grad(lambda x: pnp.sum(x.at[x[0]].set(1.0)))(np.ones(2))


# ----------------------------------------------------------------- ndarray methods
def test_ndarray_methods_on_traced_values():
    x = np.array([[0.26, -1.5, 2.0], [1.0, 0.5, -0.25]])

    def f(x):
        y = x.copy() + copy.copy(x) + copy.deepcopy(x) + x.view()                  # 4
        y = y + x.round(1) + round(x) + x.astype(np.float64, copy=False) + x.clip(-1, 1)
        return (pnp.sum(y) + pnp.sum(x.compress([True, False, True], axis=1))
                + pnp.sum(x.flat[:2]) + x.sum(axis=0, keepdims=True)[0, 1] + x.mean(1)[0])
    g = pyad.grad(f)(x)
    clip = ((x >= -1) & (x <= 1)).astype(float)
    want = 4 + 0 + 1 + clip + np.array([[1, 0, 1], [1, 0, 1]]) + np.array([[1, 1, 0], [0, 0, 0]]) \
        + np.array([[0, 1, 0], [0, 1, 0]]) + np.array([[1, 1, 1], [0, 0, 0]]) / 3
    np.testing.assert_allclose(g, want)

    def info(x):
        assert x.nbytes == 48 and x.itemsize == 8
        assert 0.5 in x and 7.0 not in x
        assert x.argsort().tolist() == [[1, 0, 2], [2, 1, 0]]
        assert pnp.sort(x[1]).searchsorted(0.0) == 1
        q, r = divmod(x, 0.5)
        return pnp.sum(r) + pnp.sum(x.imag) + pnp.sum(x[0].nonzero()[0] * x[0])
    np.testing.assert_allclose(pyad.grad(info)(x), np.ones_like(x) + np.array([[0, 1, 2], [0, 0, 0]]))


@pytest.mark.parametrize('call, match', [
    (lambda x: x.item(), r'x\.item\(\)'),
    (lambda x: x.tolist(), r'x\.tolist\(\)'),
    (lambda x: x.tobytes(), 'bytes'),
    (lambda x: x.fill(0.0), 'full_like'),
    (lambda x: x.put([0], [1.0]), r'x\.at\[indices\]\.set'),
    (lambda x: x.partition(1), 'pyad.numpy.partition'),
    (lambda x: x.view(np.int64), 'astype'),
    (lambda x: x.sort(), 'pyad.numpy.sort'),
], ids=['item', 'tolist', 'tobytes', 'fill', 'put', 'partition', 'view', 'sort'])
def test_ndarray_methods_that_would_drop_the_derivative_raise(call, match):
    with pytest.raises(TypeError, match=match):
        pyad.grad(lambda x: call(x))(np.array([1.0, 2.0]))


def test_is_array_recognises_traced_values():
    seen = []

    def f(x):
        seen.append((pyad.is_array(x), isinstance(x, pnp.ndarray), isinstance(x, np.ndarray)))
        return pnp.sum(x)
    pyad.grad(f)(np.ones(2))
    pyad.jacfwd(f)(np.ones(2))
    assert seen == [(True, True, False)] * 2
    assert pyad.is_array(np.ones(2)) and isinstance(np.ones(2), pnp.ndarray)
    assert not pyad.is_array([1.0]) and not isinstance(1.0, pnp.ndarray)
    assert pnp.ndarray((2,)).shape == (2,)           # still NumPy's class to build arrays


# ----------------------------------------------------------------- device arrays
DEVICE_CASES = {
    'at': lambda m: (pnp.sum(pnp.at(m)[1:, ::2].set(m[0, :2]) ** 2) + pnp.sum(pnp.at(m)[0].add(m[1]))
                     + pnp.sum(pnp.at(m)[:, 1].multiply(m[:, 2]) ** 2)
                     + pnp.sum(pnp.at(m)[m > 0].max(0.5) ** 2)),
    'nan functions': lambda m: (pnp.sum(pnp.nanstd(m, axis=1)) + pnp.nanmedian(m) + pnp.nanvar(m)
                                + pnp.sum(pnp.nanquantile(m, 0.3, axis=0)) + pnp.nanmax(m)
                                + pnp.nanprod(m[0]) + pnp.sum(pnp.nancumsum(m, axis=1) ** 2)),
    'more numpy': lambda m: (pnp.sum(pnp.gradient(m)[1] ** 2)
                             + pnp.sum(pnp.select([m > 0], [m ** 2], m))
                             + pnp.sum(pnp.linspace(m[0, 0], m[1, 1], 5) ** 2)
                             + pnp.sum(pnp.nan_to_num(m) ** 3) + pnp.sum(pnp.partition(m, 1, axis=1)[:, 1])
                             + pnp.sum(pnp.piecewise(m, [m > 0.2], [pnp.sin, pnp.cos]))
                             + pnp.sum(pnp.histogram(m, 3, weights=m ** 2, density=True)[0])
                             + pnp.sum(pnp.histogram(m[0], 2)[1] ** 2)),
    'edits': lambda m: (pnp.sum(pnp.insert(m, [1, 3], m[0, 0], axis=1) ** 2)
                        + pnp.sum(pnp.delete(m, 1, axis=0) ** 3) + pnp.sum(pnp.vander(m[0], 3))
                        + pnp.sum(pnp.polyint(pnp.polyder(m[1]), 1, m[2, 0]) ** 2)
                        + pnp.sum(pnp.trim_zeros(m[0]) ** 2) + pnp.sum(pnp.extract(m > 0, m) ** 2)),
    'weights and periods': lambda m: (pnp.sum(pnp.cov(m, aweights=m[0] ** 2, fweights=[1, 2, 1, 1]))
                                      + pnp.sum(pnp.interp(m[1], m[2], m[0], period=2.5) ** 2)
                                      + pnp.sum(pnp.interp(m[1], pnp.sort(m[2]), m[0]) ** 2)),
}


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('name', sorted(DEVICE_CASES))
def test_on_device_arrays(name, device):
    f = DEVICE_CASES[name]
    xd = device.put(M34)
    for dev, host in ((f(xd), f(M34)), (pyad.grad(f)(xd), pyad.grad(f)(M34)),
                      (pyad.hessianv(f)(xd, xd * 0 + 1), pyad.hessianv(f)(M34, np.ones_like(M34)))):
        assert device.owns(dev), type(dev)
        np.testing.assert_allclose(backend.to_numpy(dev), host, rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------- under vmap
_BATCH = np.random.default_rng(4).uniform(0.2, 1.5, (3, 6))
_NAN_BATCH = _BATCH.copy()
_NAN_BATCH[0, 1] = _NAN_BATCH[2, 4] = np.nan
VMAP_CASES = {
    'nanmean': pnp.nanmean, 'nanvar': pnp.nanvar, 'nanstd': pnp.nanstd, 'nanmax': pnp.nanmax,
    'nanmedian': pnp.nanmedian, 'nanquantile': lambda x: pnp.nanquantile(x, 0.3),
    'nancumsum': pnp.nancumsum, 'nanprod': pnp.nanprod,
    'select': lambda y: pnp.select([y > 0.7], [y ** 2], y),
    'piecewise': lambda y: pnp.piecewise(y, [y > 0.7], [pnp.sin, pnp.cos]),
    'gradient': pnp.gradient, 'nan_to_num': pnp.nan_to_num, 'partition': lambda y: pnp.partition(y, 2),
    'linspace': lambda y: pnp.linspace(y[0], y[1], 4), 'logspace': lambda y: pnp.logspace(y[0], y[1], 4),
    'histogram': lambda y: pnp.histogram(y, 3)[1],
    'histogram weights': lambda y: pnp.histogram(np.arange(6.0), 3, weights=y)[0],
    'at set': lambda y: pnp.at(y)[[1, 1, 3]].set(y[:3]), 'at add': lambda y: pnp.at(y)[[1, 1, 3]].add(y[:3]),
    'at multiply': lambda y: pnp.at(y)[1:3].multiply(y[:2]), 'at max mask': lambda y: pnp.at(y)[y > 0.7].max(1.0),
    'r_': lambda y: pnp.r_[y, 1.0, y[:2]], 'insert': lambda y: pnp.insert(y, [1, 3], y[0]),
    'delete': lambda y: pnp.delete(y, [0, 2]), 'vander': lambda y: pnp.vander(y[:3]),
    'polyint': lambda y: pnp.polyint(pnp.polyder(y), 1, y[0]), 'unwrap': lambda y: pnp.unwrap(y * 4),
    'frexp': lambda y: pnp.frexp(y)[0], 'modf': lambda y: pnp.modf(y * 3)[0], 'trim_zeros': pnp.trim_zeros,
    'cov aweights': lambda y: pnp.cov(np.arange(12.0).reshape(2, 6) * y, aweights=y),
    'interp period': lambda y: pnp.interp(y, [0.1, 0.9, 1.4], [1.0, 2.0, 0.0], period=1.7),
    'std of one': lambda y: pnp.std(y[:1]), 'sum of a list': lambda y: pnp.sum([y[0], y[1] * 2]),
}


@pytest.mark.parametrize('name', sorted(VMAP_CASES))
def test_under_vmap_equal_a_loop(name):
    f = VMAP_CASES[name]
    data = _NAN_BATCH if name.startswith('nan') else _BATCH
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        np.testing.assert_allclose(pyad.vmap(f)(data), np.stack([f(d) for d in data]), rtol=1e-12)
        g = pyad.vmap(pyad.grad(lambda d: pnp.nansum(f(d))))(data)
        want = np.stack([pyad.grad(lambda d: pnp.nansum(f(d)))(d) for d in data])
        np.testing.assert_allclose(g, want, rtol=1e-12)
