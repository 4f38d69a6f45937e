"""Never silently wrong: derivatives at special points (each of these was a
wrong value or a needless error before), against hand-derived values and
check_grads to second order in float32 and float64."""
import math
import warnings

import numpy as onp
import pytest

import pyad
import pyad.linalg as la
import pyad.nn as nn
import pyad.numpy as np
from pyad.fixed_point import fixed_point, FixedPointError
from pyad.testing import check_grads

DTYPES = [onp.float32, onp.float64]


# ----------------------------------------------------------------- xlogy, xlog1py at x = 0
@pytest.mark.parametrize('name,log_y', [('xlogy', onp.log), ('xlog1py', onp.log1p)])
def test_xlogy_derivative_in_x_at_zero_is_log_y(name, log_y):
    f = getattr(np, name)
    y = onp.array([0.5, 2.0, 3.0])
    x = onp.array([0.0, 0.0, 1.5])
    gx = pyad.grad(lambda x: np.sum(f(x, y)))(x)
    onp.testing.assert_allclose(gx, log_y(y), rtol=1e-14)          # was 0 where x == 0
    onp.testing.assert_allclose(pyad.diff(lambda s: f(s, 2.0))(0.0), log_y(2.0), rtol=1e-14)
    # the Hessian in (x, y) is symmetric: ∂²/∂x∂y = 1/y (1/(1+y)) both ways
    H = pyad.hessian(lambda v: f(v[0], v[1]))(onp.array([0.0, 2.0]))
    onp.testing.assert_allclose(H, H.T)
    dy = 1.0 / (2.0 if name == 'xlogy' else 3.0)
    onp.testing.assert_allclose(H, [[0.0, dy], [dy, 0.0]], rtol=1e-14)
    for dtype in DTYPES:
        check_grads(lambda v: f(v[0], v[1]), onp.array([0.0, 2.0], dtype), order=2)


# ----------------------------------------------------------------- det at singular matrices
def _cofactor_adjugate(a):
    n = a.shape[0]
    return onp.array([[(-1) ** (i + j) * onp.linalg.det(onp.delete(onp.delete(a, j, 0), i, 1))
                       for j in range(n)] for i in range(n)])


SINGULAR = {
    'zero 2x2': onp.zeros((2, 2)),
    'zero 3x3': onp.zeros((3, 3)),
    'rank 1': onp.array([[1.0, 2.0], [2.0, 4.0]]),
    'rank 2 of 3': onp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),
    'rank 1 of 3': onp.outer([1.0, -2.0, 0.5], [0.3, 1.0, 2.0]),
}


@pytest.mark.parametrize('name', list(SINGULAR))
def test_det_derivative_is_the_adjugate_at_singular_matrices(name):
    a = SINGULAR[name]
    want = _cofactor_adjugate(a).T           # ∂det/∂A = adj(A)ᵀ
    onp.testing.assert_allclose(pyad.grad(la.det)(a), want, atol=1e-12)
    onp.testing.assert_allclose(pyad.jacfwd(la.det)(a), want, atol=1e-12)
    e = onp.arange(a.size, dtype=float).reshape(a.shape) / a.size
    onp.testing.assert_allclose(pyad.jacobianv(la.det)(a, e), onp.sum(want * e), atol=1e-12)
    for dtype in DTYPES:
        check_grads(la.det, a.astype(dtype), order=2)


def test_det_higher_derivatives_at_the_zero_matrix():
    # det [[a, b], [c, d]] = ad - bc: the Hessian is constant
    H = pyad.hessian(la.det)(onp.zeros((2, 2))).reshape(4, 4)
    want = onp.zeros((4, 4))
    want[0, 3] = want[3, 0] = 1.0
    want[1, 2] = want[2, 1] = -1.0
    onp.testing.assert_allclose(H, want, atol=1e-12)
    # det(t I_3) = t³: third derivative 6 at t = 0 (every level passes through 0)
    assert pyad.diffn(3, lambda t: la.det(t * onp.eye(3)))(0.0) == pytest.approx(6.0)
    # a stack mixing a singular and a regular matrix
    stack = onp.stack([onp.zeros((2, 2)), onp.array([[2.0, 1.0], [1.0, 3.0]])])
    g = pyad.grad(lambda s: np.sum(la.det(s)))(stack)
    onp.testing.assert_allclose(g, [[[0, 0], [0, 0]], [[3, -1], [-1, 2]]], atol=1e-12)


# ----------------------------------------------------------------- sinc at and near 0
def test_sinc_higher_derivatives_at_zero():
    # sinc x = Σ (-1)^k (πx)^{2k} / (2k+1)!: f'' (0) = -2π²/3! = -π²/3, f⁗(0) = 24 π⁴/5! = π⁴/5
    assert pyad.diffn(2, np.sinc)(0.0) == pytest.approx(-math.pi ** 2 / 3, rel=1e-14)
    assert pyad.diffn(4, np.sinc)(0.0) == pytest.approx(math.pi ** 4 / 5, rel=1e-14)
    assert pyad.diff(pyad.diff(np.sinc))(0.0) == pytest.approx(-math.pi ** 2 / 3, rel=1e-14)
    assert pyad.hessian(lambda x: np.sum(np.sinc(x)))(onp.zeros(2))[0, 0] == \
        pytest.approx(-math.pi ** 2 / 3, rel=1e-14)
    assert pyad.diffn(3, np.sinc)(0.0) == 0.0


@pytest.mark.parametrize('x', [1e-12, 1e-9, -3e-7, 1e-6, 1e-4])
def test_sinc_derivatives_are_accurate_near_zero(x):
    p2 = math.pi ** 2
    d1 = -p2 * x / 3 + p2 ** 2 * x ** 3 / 30          # the series, differentiated
    d2 = -p2 / 3 + p2 ** 2 * x ** 2 / 10
    assert pyad.diff(np.sinc)(x) == pytest.approx(d1, rel=1e-12, abs=0)
    assert pyad.diffn(2, np.sinc)(x) == pytest.approx(d2, rel=1e-12, abs=0)


@pytest.mark.parametrize('dtype', DTYPES)
def test_sinc_check_grads(dtype):
    check_grads(np.sinc, onp.array([0.0, 1e-7, 0.3, -0.64, 1.7, -2.5], dtype), order=2)


# ----------------------------------------------------------------- log_expit, expit far out
@pytest.mark.parametrize('x', [37.5, 50.0, 300.0])
def test_log_expit_and_expit_derivatives_do_not_underflow(x):
    tail = math.exp(-x)                   # expit(-x) = e^{-x} / (1 + e^{-x}), to 1e-16 here
    assert pyad.diff(np.log_expit)(x) == pytest.approx(tail, rel=1e-12, abs=0)
    assert pyad.grad(np.log_expit)(x) == pytest.approx(tail, rel=1e-12, abs=0)
    assert pyad.diff(np.expit)(x) == pytest.approx(tail, rel=1e-12, abs=0)
    assert pyad.diff2(np.log_expit)(x) == pytest.approx(-tail, rel=1e-12, abs=0)


@pytest.mark.parametrize('dtype', DTYPES)
def test_log_expit_check_grads(dtype):
    check_grads(lambda x: np.sum(np.log_expit(x) + np.expit(x)),
                onp.array([-40.0, -3.0, 0.0, 2.0, 20.0], dtype), order=2)


# ----------------------------------------------------------------- prod / cumprod, many zeros
def test_prod_second_derivative_between_two_zeros():
    x = onp.array([0.0, 0.0, 2.0, 3.0])
    H = pyad.hessian(np.prod)(x)
    want = onp.zeros((4, 4))
    want[0, 1] = want[1, 0] = 6.0           # ∂²/∂x0∂x1 = x2 x3; every other term has a 0
    onp.testing.assert_allclose(H, want)
    # three zeros: the third derivative ∂³/∂x0∂x1∂x2 = x3 = 3
    x3 = onp.array([0.0, 0.0, 0.0, 3.0])
    T = pyad.jacfwd(pyad.hessian(np.prod))(x3)
    assert T[0, 1, 2] == 3.0 and T[2, 1, 0] == 3.0 and onp.count_nonzero(T) == 6
    # along an axis, with a different number of zeros per slice
    a = onp.array([[0.0, 2.0, 0.0], [1.0, 0.0, 5.0]])
    Ha = pyad.hessian(lambda a: np.sum(np.prod(a, axis=1)))(a).reshape(6, 6)
    want = onp.zeros((6, 6))
    want[0, 2] = want[2, 0] = 2.0
    want[3, 4] = want[4, 3] = 5.0
    want[4, 5] = want[5, 4] = 1.0
    onp.testing.assert_allclose(Ha, want)
    for dtype in DTYPES:
        check_grads(np.prod, x.astype(dtype), order=2)
        check_grads(lambda a: np.prod(a, axis=0), a.astype(dtype), order=2)


def test_cumprod_second_derivative_between_two_zeros():
    x = onp.array([0.0, 0.0, 2.0, 3.0])
    H = pyad.hessian(lambda x: np.sum(np.cumprod(x)))(x)
    # Σ_i Π_{k<=i} x_k: ∂²/∂x0∂x1 = 1 + x2 + x2 x3 = 9; the rest vanish at two zeros
    want = onp.zeros((4, 4))
    want[0, 1] = want[1, 0] = 9.0
    onp.testing.assert_allclose(H, want)
    for dtype in DTYPES:
        check_grads(lambda a: np.cumprod(a, axis=1),
                    onp.array([[0.0, 2.0, 0.0, 1.5], [1.0, 0.0, 5.0, 0.0]], dtype), order=2)


# ----------------------------------------------------------------- fixed_point diverging to inf
@pytest.mark.parametrize('f,a,x0', [
    (lambda a, x: x * a + 1e300, 10.0, 1.0),
    (lambda a, x: x * a, onp.array([2.0, -3.0]), onp.ones(2)),
    (lambda a, x: (x[0] * 0.5, x[1] * a), 1e10, (1.0, 1.0)),     # inf in the second leaf only
])
def test_fixed_point_diverging_to_inf_raises(f, a, x0):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        with pytest.raises(FixedPointError, match='inf'):
            fixed_point(f, a, x0)
        with pytest.raises(FixedPointError, match='inf'):
            pyad.grad(lambda a: np.sum(pyad.tree_flatten(fixed_point(f, a, x0))[0][-1]))(a)


# ----------------------------------------------------------------- complex intermediates
COMPLEX = {
    'scalar operator': lambda x: np.sum(np.abs(x * (1 + 1j))),
    'reflected operator': lambda x: np.sum(np.abs((1 + 1j) * x)),
    'array operand': lambda x: np.sum(np.abs(onp.array([1 + 1j, 2j]) * x)),
    'function': lambda x: np.sum(np.abs(np.multiply(x, 1j))),
    'add': lambda x: np.sum(np.abs(x + 1j)),
    'astype': lambda x: np.sum(np.abs(np.astype(x, complex))),
    'where': lambda x: np.sum(np.abs(np.where(x > 0, x, 1j))),
    'matmul': lambda x: np.sum(np.abs(onp.eye(2) * 1j @ x)),
    'einsum': lambda x: np.sum(np.abs(np.einsum('ij,j->i', onp.eye(2) * 1j, x))),
    'concatenate': lambda x: np.sum(np.abs(np.concatenate([x, onp.array([1j])]))),
}


def _central_difference(f, x, h=1e-6):
    out = onp.zeros_like(x)
    for i in range(x.size):
        e = onp.zeros_like(x)
        e.flat[i] = h
        out.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return out


@pytest.mark.parametrize('name', list(COMPLEX))
def test_complex_intermediate_with_a_real_output(name):
    # once refused (pyad had real rules only); now the derivative through the
    # complex values, checked by finite differences of the real function
    x = onp.array([1.0, 2.0])
    want = _central_difference(lambda v: float(COMPLEX[name](v)), x)
    onp.testing.assert_allclose(pyad.grad(COMPLEX[name])(x), want, rtol=1e-6, atol=1e-8)
    onp.testing.assert_allclose(pyad.jacfwd(COMPLEX[name])(x), want, rtol=1e-6, atol=1e-8)


def test_complex_output_and_plain_complex_still_works():
    J = pyad.jacfwd(lambda x: np.sin(x) + 0 * onp.array([1j, 1j]))(onp.array([1.0, 2.0]))
    onp.testing.assert_allclose(J, onp.diag(onp.cos([1.0, 2.0])).astype(complex))
    # without a traced value, complex arithmetic is NumPy's
    assert np.abs(np.multiply(2.0, 1 + 1j)) == pytest.approx(2 * math.sqrt(2))
    assert np.add(onp.array([1j]), 1.0)[0] == 1 + 1j


# ----------------------------------------------------------------- Python floats, singular points
SINGULAR_POINTS = [
    ('sqrt', np.sqrt, 0.0), ('arcsin', np.arcsin, 1.0), ('arccos', np.arccos, -1.0),
    ('arctanh', np.arctanh, 1.0), ('log', np.log, 0.0), ('log2', np.log2, 0.0),
    ('log10', np.log10, 0.0), ('log1p', np.log1p, -1.0), ('logit 0', np.logit, 0.0),
    ('logit 1', np.logit, 1.0), ('cbrt', np.cbrt, 0.0), ('arccosh', np.arccosh, 1.0),
    ('reciprocal', lambda x: 1.0 / x, 0.0), ('power', lambda x: x ** 0.5, 0.0),
    ('hypot', lambda x: np.hypot(x, 0.0), 0.0), ('hypot xx', lambda x: np.hypot(x, x), 0.0),
    ('arctan2 x', lambda x: np.arctan2(x, 0.0), 0.0), ('arctan2 y', lambda x: np.arctan2(0.0, x), 0.0),
    ('xlogy y', lambda y: np.xlogy(1.0, y), 0.0),
]


@pytest.mark.parametrize('name,f,x', SINGULAR_POINTS, ids=[c[0] for c in SINGULAR_POINTS])
@pytest.mark.parametrize('op', ['grad', 'diff', 'diff2'])
def test_python_float_at_a_singular_point_behaves_like_float64(name, f, x, op):
    """A Python float gives what a float64 array gives (inf or nan), not ZeroDivisionError."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        want = getattr(pyad, op)(f)(onp.array(x))
        got = getattr(pyad, op)(f)(x)
    assert not onp.isfinite(want)
    onp.testing.assert_array_equal(onp.asarray(got, float), want)


# ----------------------------------------------------------------- aliasing and mutation
def test_jvp_and_vjp_results_do_not_share_memory_with_the_callers_arrays():
    x, v, u = onp.array([1.0, 2.0, 3.0]), onp.array([3.0, 4.0, 5.0]), onp.array([5.0, 6.0])
    y, t = pyad.jvp(lambda x: x, x, v)
    assert not onp.shares_memory(t, v) and not onp.shares_memory(y, x)
    assert not onp.shares_memory(pyad.jacobianv(lambda x: x[1:])(x, v), v)
    _, pullback = pyad.vjp(lambda x: x[:2], x)
    g = pullback(u)
    assert not onp.shares_memory(g, u)
    assert not onp.shares_memory(pyad.jacobianTv(lambda x: x)(x, v), v)
    t[0] = g[0] = 100.0                           # writing into the results changes nothing
    assert v[0] == 3.0 and u[0] == 5.0


@pytest.mark.parametrize('op', ['grad', 'jacfwd', 'hessian'])
def test_f_writing_into_its_input_array_raises_and_changes_nothing(op):
    # the caller's array is read-only while f runs (the tape and the rules read it):
    # a write raises instead of changing the derivative, and the array is writable again
    x = onp.array([1.0, 2.0])

    def f(y):
        out = np.sum(y ** 3)
        x[0] = 100.0                             # the caller's array, written by f
        return out
    with pytest.raises(ValueError, match='read-only'):
        getattr(pyad, op)(f)(x)
    assert x.flags.writeable and x[0] == 1.0
    x[1] = 3.0
    want = {'grad': [3.0, 27.0], 'jacfwd': [3.0, 27.0], 'hessian': [[6.0, 0.0], [0.0, 18.0]]}
    onp.testing.assert_allclose(getattr(pyad, op)(lambda y: np.sum(y ** 3))(x), want[op])


def test_a_pullback_does_not_see_writes_into_the_input():
    # vjp keeps a copy of x: its pullback outlives the call
    x = onp.array([1.0, 2.0])

    def f(y):
        out = y ** 3
        x[0] = 100.0
        return out
    _, pullback = pyad.vjp(f, x)
    x[:] = 10.0                                  # and the caller writes into x afterwards
    onp.testing.assert_allclose(pullback(onp.ones(2)), [3.0, 12.0])


# ----------------------------------------------------------------- dtypes, empty arrays, messages
def test_polygamma_keeps_float32():
    x = onp.array([0.5, 1.5], onp.float32)
    assert np.polygamma(1, x).dtype == onp.float32
    assert np.polygamma(2, x).dtype == onp.float32
    assert pyad.jacfwd(lambda x: np.polygamma(1, x))(x).dtype == onp.float32
    onp.testing.assert_allclose(np.polygamma(1, x), [4.934802, 0.934802], rtol=1e-6)


@pytest.mark.parametrize('shape', [(0,), (2, 0), (0, 3)])
def test_softmax_and_logsumexp_on_empty_arrays(shape):
    x = onp.zeros(shape, onp.float32)
    for f in (nn.softmax, nn.log_softmax):
        assert f(x).shape == shape and f(x).dtype == onp.float32
        assert pyad.grad(lambda x: np.sum(f(x)))(x).shape == shape
    lse = nn.logsumexp(x, axis=-1)
    assert lse.shape == shape[:-1] and onp.all(lse == -onp.inf)   # the log of an empty sum
    assert nn.logsumexp(x) == -onp.inf


@pytest.mark.parametrize('fn', [nn.sparsemax, nn.entmax15, lambda z: nn.sparsek(z, 1)])
def test_sparse_maps_on_an_empty_axis_say_so(fn):
    with pytest.raises(ValueError, match='length 0'):
        fn(onp.zeros((2, 0)))
    assert fn(onp.zeros((0, 3))).shape == (0, 3)      # no rows: an empty result


def test_in_place_assignment_error_recommends_what_exists():
    def f(x):
        x[0] = 1.0
        return x
    with pytest.raises(TypeError) as info:
        pyad.grad(lambda x: np.sum(f(x)))(onp.ones(3))
    msg = str(info.value)
    assert 'index_update' not in msg
    assert 'x = x.at[i].set(v)' in msg and 'pyad.numpy.at(x)[i].set(v)' in msg
    # what it recommends exists, and does what x[0] = 1.0 would
    assert pyad.grad(lambda x: np.sum(x.at[0].set(1.0)))(onp.ones(3)).tolist() == [0, 1, 1]
    assert np.at(onp.ones(3))[0].set(5.0).tolist() == [5, 1, 1]


def test_pullback_shape_error_names_the_output():
    _, pullback = pyad.vjp(lambda x: x[:2] * 2.0, onp.ones(3))
    with pytest.raises(ValueError, match=r'cotangent u has shape \(3,\) but the output of f has '
                                         r'shape \(2,\)'):
        pullback(onp.ones(3))
    with pytest.raises(ValueError, match='output of f has structure'):
        pullback((onp.ones(2),))


# ----------------------------------------------------------------- lstsq returns NumPy's tuple
LSTSQ = {
    'tall vector': ((5, 3), (5,)), 'tall matrix': ((5, 3), (5, 2)), 'wide': ((3, 5), (3,)),
    'square': ((4, 4), (4,)), 'rank deficient': (None, (3,)),
}


@pytest.mark.parametrize('name', list(LSTSQ))
@pytest.mark.parametrize('module', [la, np.linalg], ids=['pyad.linalg', 'pyad.numpy.linalg'])
def test_lstsq_returns_what_numpy_returns(name, module):
    rng = onp.random.default_rng(3)
    ashape, bshape = LSTSQ[name]
    a = onp.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]]) if ashape is None else rng.standard_normal(ashape)
    b = rng.standard_normal(bshape)
    got = module.lstsq(a, b)
    want = onp.linalg.lstsq(a, b, rcond=None)
    assert len(got) == 4
    x, residuals, rank, s = got
    for g, w in zip((x, residuals, s), (want[0], want[1], want[3])):
        assert onp.shape(g) == onp.shape(w)
        onp.testing.assert_allclose(g, w, atol=1e-10)
    assert rank == want[2] and isinstance(rank, int)


def test_lstsq_residuals_are_differentiable():
    rng = onp.random.default_rng(4)
    a, b = rng.standard_normal((5, 3)), rng.standard_normal(5)
    for dtype in DTYPES:
        check_grads(lambda a: la.lstsq(a, b.astype(dtype))[1], a.astype(dtype), order=1)
    # ||A x* - b||² has gradient 2 r x*ᵀ in A (x* is optimal: its own variation drops out)
    x = onp.linalg.lstsq(a, b, rcond=None)[0]
    g = pyad.grad(lambda a: np.sum(la.lstsq(a, b)[1]))(a)
    onp.testing.assert_allclose(g, 2 * onp.outer(a @ x - b, x), atol=1e-10)
