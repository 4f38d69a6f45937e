"""multivariate_normal.cdf and logcdf: values against SciPy, derivatives in x and mean
against finite differences and against the closed forms of two dimensions."""
import numpy as onp
import pytest
import scipy.stats as st

import pyad
import pyad.numpy as pnp
from pyad.scipy.stats import multivariate_normal as mvn
from pyad.testing import check_grads

C3 = onp.array([[1.0, 0.5, 0.2], [0.5, 2.0, 0.3], [0.2, 0.3, 1.5]])
M3 = onp.array([0.1, -0.3, 0.2])
X3 = onp.array([[0.3, -0.2, 0.5], [-0.4, 0.6, 0.1]])


def _scipy_cdf(x, mean, cov, method='cdf', **kw):
    """SciPy's value one point at a time, with the same fixed seed and tolerances."""
    x = onp.asarray(x, dtype=float)
    d = onp.atleast_2d(cov).shape[0] if onp.ndim(cov) else 1
    pts = x.reshape(-1, d)
    f = getattr(st.multivariate_normal, method)
    vals = [f(p, mean, cov, abseps=1e-6, releps=1e-6, rng=0, **kw) for p in pts]
    return onp.array(vals).reshape(x.shape[:-1] if d > 1 or x.shape[-1:] == (1,) else x.shape)


@pytest.mark.parametrize('d', [1, 2, 3])
@pytest.mark.parametrize('method', ['cdf', 'logcdf'])
def test_values_match_scipy(d, method):
    x, m, c = X3[:, :d], M3[:d], C3[:d, :d]
    got = getattr(mvn, method)(x, m, c)
    assert got.shape == (2,)
    onp.testing.assert_allclose(got, _scipy_cdf(x, m, c, method), rtol=1e-12)
    one = getattr(mvn, method)(x[0], m, c)          # one point: a number
    assert onp.shape(one) == ()
    onp.testing.assert_allclose(one, got[0], rtol=1e-12)


def test_scipy_conventions_for_cov_and_one_dimension():
    # cov a vector (the diagonal) or a number; for one component every entry is a point
    onp.testing.assert_allclose(mvn.cdf(X3, M3, onp.diag(C3)),
                                mvn.cdf(X3, M3, onp.diag(onp.diag(C3))), rtol=1e-12)
    x = onp.array([0.3, -1.0, 2.0])
    onp.testing.assert_allclose(mvn.cdf(x, 0.5, 2.0), st.multivariate_normal.cdf(x, 0.5, 2.0),
                                rtol=1e-12)
    onp.testing.assert_allclose(mvn.cdf(0.3, 0.5, 2.0), st.norm.cdf(0.3, 0.5, 2.0 ** 0.5),
                                rtol=1e-12)
    onp.testing.assert_allclose(mvn.cdf(X3[0], None, 1.0), st.norm.cdf(X3[0]), rtol=1e-12)
    onp.testing.assert_allclose(mvn.cdf(X3[0], None, onp.ones(3)), onp.prod(st.norm.cdf(X3[0])),
                                atol=2e-6)


def test_deterministic_and_independent_of_the_other_points():
    a = mvn.cdf(X3, M3, C3)
    onp.testing.assert_array_equal(a, mvn.cdf(X3, M3, C3))
    onp.testing.assert_array_equal(a[1], mvn.cdf(X3[1], M3, C3))
    assert abs(mvn.cdf(X3[0], M3, C3, rng=7) - a[0]) < 1e-5      # another seed: within abseps


def test_float32_in_float32_out():
    got = mvn.cdf(X3.astype(onp.float32), M3.astype(onp.float32), C3)
    assert got.dtype == onp.float32
    onp.testing.assert_allclose(got, mvn.cdf(X3, M3, C3), rtol=1e-6)
    g = pyad.grad(lambda x: pnp.sum(mvn.cdf(x, M3, C3)))(X3.astype(onp.float32))
    assert g.dtype == onp.float32


# ------------------------------------------------------------------ two dimensions
def _bivariate_grad(x, m, c):
    """∂Φ₂/∂x_i = φ(x_i) Φ((x_j - m_j - c_ji/c_ii (x_i - m_i)) / sqrt(c_jj - c_ji²/c_ii))."""
    out = []
    for i, j in ((0, 1), (1, 0)):
        s = c[i, i]
        dens = st.norm.pdf(x[i], m[i], s ** 0.5)
        cm = m[j] + c[j, i] / s * (x[i] - m[i])
        out.append(dens * st.norm.cdf(x[j], cm, (c[j, j] - c[j, i] ** 2 / s) ** 0.5))
    return onp.array(out)


def test_two_dimensions_against_the_closed_forms():
    x, m, c = X3[0, :2], M3[:2], C3[:2, :2]
    g = pyad.grad(lambda x: mvn.cdf(x, m, c))(x)
    onp.testing.assert_allclose(g, _bivariate_grad(x, m, c), rtol=1e-12)
    onp.testing.assert_allclose(pyad.grad(lambda m: mvn.cdf(x, m, c))(m), -g, rtol=1e-12)
    h = pyad.hessian(lambda x: mvn.cdf(x, m, c))(x)
    onp.testing.assert_allclose(h[0, 1], st.multivariate_normal.pdf(x, m, c), rtol=1e-12)
    onp.testing.assert_allclose(h, h.T, rtol=1e-12)


@pytest.mark.parametrize('dtype', [onp.float64, onp.float32])
def test_two_and_one_dimensions_check_grads(dtype):
    x, m, c = X3[:, :2].astype(dtype), M3[:2].astype(dtype), C3[:2, :2]
    check_grads(lambda x: mvn.cdf(x, m, c), x, order=2)
    check_grads(lambda m: mvn.logcdf(x, m, c), m, order=2)
    check_grads(lambda x: mvn.logcdf(x, 0.2, 1.5), X3[:, 0].astype(dtype), order=2)


# ------------------------------------------------------------------ three dimensions
def test_three_dimensions_check_grads_within_the_integration_error():
    # the value is a quasi-Monte Carlo estimate (error ~ abseps = 1e-7 here): finite
    # differences with a step of 1e-3 are good to about 1e-4; the gradient and the
    # Hessian themselves are made of exact one- and two-dimensional distribution
    # functions and of the integrated one
    f = lambda x: mvn.cdf(x, M3, C3, abseps=1e-7, releps=1e-7)   # noqa: E731
    check_grads(f, X3[0], order=2, eps=1e-3, rtol=1e-3, atol=1e-4)
    check_grads(lambda m: mvn.logcdf(X3[1], m, C3, abseps=1e-7, releps=1e-7), M3, order=1,
                eps=1e-3, rtol=1e-3, atol=1e-4)


def test_three_dimensions_mixed_partials_are_the_density_times_a_conditional_cdf():
    x = X3[0]
    h = pyad.hessian(lambda x: mvn.cdf(x, M3, C3))(x)
    # ∂²Φ/∂x_0∂x_1 = φ₂(x_0, x_1) Φ(x_2 given x_0, x_1)
    a, b = C3[2, :2], C3[:2, :2]
    w = onp.linalg.solve(b, a)
    cm = M3[2] + w @ (x[:2] - M3[:2])
    cs = (C3[2, 2] - a @ w) ** 0.5
    want = st.multivariate_normal.pdf(x[:2], M3[:2], b) * st.norm.cdf(x[2], cm, cs)
    onp.testing.assert_allclose(h[0, 1], want, rtol=1e-10)
    onp.testing.assert_allclose(h, h.T, rtol=1e-10)


# ------------------------------------------------------------------ in cov
def _spd(a):
    return a @ pnp.transpose(a) + onp.eye(a.shape[0])


@pytest.mark.parametrize('dtype', [onp.float64, onp.float32])
def test_in_cov_one_and_two_dimensions_check_grads(dtype):
    a = onp.array([[0.8, 0.1], [0.4, 0.9]], dtype=dtype)
    x, m = X3[:, :2].astype(dtype), M3[:2].astype(dtype)
    check_grads(lambda a: mvn.cdf(x, m, _spd(a)), a, order=2)
    check_grads(lambda v: mvn.logcdf(x[:, 0], 0.1, v), dtype(1.7), order=2)
    check_grads(lambda v: mvn.cdf(x, m, v), onp.array([0.7, 1.3], dtype=dtype), order=2)


def test_in_cov_plackett_identity_two_dimensions():
    # ∂Φ/∂ρ for unit variances is the bivariate density (Plackett)
    x = X3[0, :2]
    f = lambda rho: mvn.cdf(x, None, pnp.stack([pnp.stack([1.0, rho]),   # noqa: E731
                                                 pnp.stack([rho, 1.0])]))
    onp.testing.assert_allclose(pyad.grad(f)(0.4), st.multivariate_normal.pdf(
        x, None, [[1.0, 0.4], [0.4, 1.0]]), rtol=1e-12)
    # a gradient in cov is symmetric, half the mixed partials off the diagonal
    g = pyad.grad(lambda c: mvn.cdf(x, None, c))(C3[:2, :2])
    h = pyad.hessian(lambda x: mvn.cdf(x, None, C3[:2, :2]))(x)
    onp.testing.assert_allclose(g, 0.5 * h, rtol=1e-12)


def test_in_cov_three_dimensions_within_the_integration_error():
    a = onp.linalg.cholesky(C3 - 0.5 * onp.eye(3))
    f = lambda a: mvn.cdf(X3, M3, _spd(a) - 0.5 * onp.eye(3), abseps=1e-7,  # noqa: E731
                          releps=1e-7)
    check_grads(f, a, order=1, eps=1e-3, rtol=1e-3, atol=1e-4)


# ------------------------------------------------------------------ errors
def test_clear_errors():
    with pytest.raises(ValueError, match=r'multivariate_normal.cdf: x has shape \(2, 2\)'):
        mvn.cdf(X3[:, :2], M3, C3)
    with pytest.raises(ValueError, match='multivariate_normal.logcdf: cov has shape'):
        mvn.logcdf(X3, M3, C3[:2])
    with pytest.raises(ValueError, match='mean shape'):
        mvn.cdf(X3, M3[:2], C3)
    with pytest.raises(ValueError, match='symmetric positive definite'):
        mvn.cdf(X3, M3, -C3)
    with pytest.raises(TypeError, match='rng must be an integer seed'):
        mvn.cdf(X3, M3, C3, rng=onp.random.default_rng(0))


# ------------------------------------------------------------------ lower_limit
LO3 = onp.array([[-0.6, -1.2, -0.1], [-0.9, 0.1, -onp.inf]])


@pytest.mark.parametrize('d', [1, 2, 3])
@pytest.mark.parametrize('method', ['cdf', 'logcdf'])
def test_lower_limit_values_match_scipy(d, method):
    x, m, c, lo = X3[:, :d], M3[:d], C3[:d, :d], LO3[:, :d]
    got = getattr(mvn, method)(x, m, c, lower_limit=lo)
    want = [getattr(st.multivariate_normal, method)(p, m, c, abseps=1e-6, releps=1e-6, rng=0,
                                                    lower_limit=q) for p, q in zip(x, lo)]
    onp.testing.assert_allclose(got, want, rtol=1e-12)


def test_lower_limit_signs_broadcasting_and_infinite_limits():
    # limits swapped in one component: a negative probability, as SciPy's
    x, lo = X3[0, :2], onp.array([1.0, -0.6])
    want = st.multivariate_normal.cdf(x, M3[:2], C3[:2, :2], lower_limit=lo, rng=0,
                                      abseps=1e-6, releps=1e-6)
    assert want < 0
    onp.testing.assert_allclose(mvn.cdf(x, M3[:2], C3[:2, :2], lower_limit=lo), want, rtol=1e-12)
    # one lower limit for every point; -inf everywhere is the plain cdf
    lo = onp.array([-0.5, -0.7, -0.4])
    onp.testing.assert_allclose(mvn.cdf(X3, M3, C3, lower_limit=lo),
                                [mvn.cdf(p, M3, C3, lower_limit=lo) for p in X3], rtol=1e-12)
    onp.testing.assert_allclose(mvn.cdf(X3, M3, C3, lower_limit=onp.full(3, -onp.inf)),
                                mvn.cdf(X3, M3, C3), rtol=1e-12)
    # mean left out (zero), as a list, and lists for x and lower_limit
    want = st.multivariate_normal.cdf(X3[0], None, C3, lower_limit=lo, rng=0, abseps=1e-6,
                                      releps=1e-6)
    onp.testing.assert_allclose(mvn.cdf(list(X3[0]), None, C3, lower_limit=list(lo)), want,
                                rtol=1e-12)
    onp.testing.assert_allclose(mvn.cdf(X3[0], [0.0] * 3, C3.tolist(), lower_limit=lo), want,
                                rtol=1e-12)
    # one component: every entry a point
    onp.testing.assert_allclose(mvn.cdf(X3[:, 0], 0.1, 2.0, lower_limit=-0.5),
                                st.norm.cdf(X3[:, 0], 0.1, 2 ** 0.5)
                                - st.norm.cdf(-0.5, 0.1, 2 ** 0.5),
                                rtol=1e-12)


@pytest.mark.parametrize('dtype', [onp.float64, onp.float32])
def test_lower_limit_two_dimensions_check_grads(dtype):
    x, m, c, lo = (X3[:, :2].astype(dtype), M3[:2].astype(dtype), C3[:2, :2],
                   LO3[:, :2].astype(dtype))
    a = onp.array([[0.8, 0.1], [0.4, 0.9]], dtype=dtype)
    check_grads(lambda xl: mvn.cdf(xl[0], m, c, lower_limit=xl[1]), (x, lo), order=2)
    check_grads(lambda m: mvn.logcdf(x[0], m, c, lower_limit=lo[0]), m, order=2)
    check_grads(lambda a: mvn.cdf(x[1], m, _spd(a), lower_limit=lo[0]), a, order=2)
    check_grads(lambda xl: mvn.cdf(xl[0], 0.2, 1.5, lower_limit=xl[1]),
                (x[:, 0], lo[:, 0]), order=2)


def test_lower_limit_derivative_is_minus_the_upper_formula():
    # ∂/∂l_i P(l < X <= x) = -φ(l_i) P(the others in their limits given X_i = l_i):
    # with the other lower limits at -inf, minus the upper-limit formula at l_i
    x, m, c = X3[0, :2], M3[:2], C3[:2, :2]
    lo = onp.array([-0.3, -onp.inf])
    g = pyad.grad(lambda l0: mvn.cdf(x, m, c, lower_limit=pnp.stack([l0, -onp.inf])))(lo[0])
    upper = _bivariate_grad(onp.array([lo[0], x[1]]), m, c)[0]
    onp.testing.assert_allclose(g, -upper, rtol=1e-12)


def test_lower_limit_three_dimensions_within_the_integration_error():
    f = lambda xl: mvn.cdf(xl[0], M3, C3, lower_limit=xl[1], abseps=1e-7,  # noqa: E731
                           releps=1e-7)
    check_grads(f, (X3[0], LO3[0]), order=1, eps=1e-3, rtol=1e-3, atol=1e-4)
    # a point whose lower limit is -inf in a component and another whose is not
    finite = onp.isfinite(LO3)
    check_grads(lambda lo: mvn.cdf(X3, M3, C3, lower_limit=pnp.where(finite, lo, -onp.inf),
                                   abseps=1e-7, releps=1e-7),
                onp.where(onp.isfinite(LO3), LO3, 0.0), order=1, eps=1e-3, rtol=1e-3, atol=1e-4)


# ------------------------------------------------------------------ allow_singular
SINGULAR = onp.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 2.0]])


@pytest.mark.filterwarnings('ignore:divide by zero')      # SciPy's, for a zero variance
def test_allow_singular_values_match_scipy_and_derivatives_raise():
    for x, lo in ((X3[0], None), (X3[0], LO3[0])):
        want = st.multivariate_normal.cdf(x, M3, SINGULAR, allow_singular=True, rng=0,
                                          abseps=1e-6, releps=1e-6, lower_limit=lo)
        onp.testing.assert_allclose(mvn.cdf(x, M3, SINGULAR, allow_singular=True, lower_limit=lo),
                                    want, rtol=1e-12)
        with pytest.raises(ValueError, match='cov is singular'):
            pyad.grad(lambda x: mvn.cdf(x, M3, SINGULAR, True, lower_limit=lo))(x)
    # one component with zero variance: a step, as SciPy's
    onp.testing.assert_array_equal(
        mvn.cdf(onp.array([0.5, -0.5]), 0.0, 0.0, allow_singular=True),
        st.multivariate_normal.cdf([0.5, -0.5], 0.0, 0.0, allow_singular=True))
    with pytest.raises(ValueError, match='cov is singular'):
        pyad.grad(lambda x: mvn.cdf(x, 0.0, 0.0, allow_singular=True))(0.5)
    # a positive definite cov with allow_singular=True is differentiable as usual
    x = X3[0, :2]
    onp.testing.assert_allclose(pyad.grad(lambda x: mvn.cdf(x, M3[:2], C3[:2, :2], True))(x),
                                _bivariate_grad(x, M3[:2], C3[:2, :2]), rtol=1e-12)


def test_allow_singular_errors():
    with pytest.raises(ValueError, match=r'positive definite \(pass allow_singular=True'):
        mvn.cdf(X3, M3, SINGULAR)
    with pytest.raises(ValueError, match='positive semidefinite'):
        mvn.cdf(X3, M3, -C3, allow_singular=True)
    with pytest.raises(ValueError, match='lower_limit of shape'):
        mvn.cdf(X3, M3, C3, lower_limit=onp.zeros((3, 3)))
