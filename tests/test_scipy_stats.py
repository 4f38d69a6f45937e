"""pyad.scipy.stats: every method's values equal scipy.stats', and its derivatives
in the point and in every continuous parameter pass check_grads to order 2, in
float64 and float32."""
import numpy as onp
import pytest
import scipy.stats as st

import pyad
import pyad.scipy.stats as ps
from pyad.testing import check_grads

METHODS = ['logpdf', 'pdf', 'cdf', 'logcdf', 'sf', 'logsf']
# name -> (points x, parameters after x, as SciPy takes them positionally)
CONTINUOUS = {
    'norm': (onp.array([-1.2, 0.3, 1.7]), (0.2, 1.5)),
    't': (onp.array([-1.2, 0.3, 1.7]), (2.5, 0.1, 1.3)),
    'beta': (onp.array([0.15, 0.3, 0.85]), (2.3, 1.7)),
    'gamma': (onp.array([0.4, 1.1, 3.5]), (2.3, 0.1, 1.2)),
    'chi2': (onp.array([0.4, 1.1, 3.5]), (3.3,)),
}
CASES = [(d, m, i) for d in sorted(CONTINUOUS) for m in METHODS
         for i in range(len(CONTINUOUS[d][1]) + 1)]


def _call(dist, method, args, i, value):
    args = list(args)
    args[i] = value
    return getattr(getattr(ps, dist), method)(*args)


@pytest.mark.parametrize('dist,method', [(d, m) for d in sorted(CONTINUOUS) for m in METHODS])
def test_continuous_values(dist, method):
    x, params = CONTINUOUS[dist]
    got = getattr(getattr(ps, dist), method)(x, *params)
    onp.testing.assert_allclose(got, getattr(getattr(st, dist), method)(x, *params), rtol=1e-10)
    # loc and scale by keyword too
    if dist != 'beta':
        kw = dict(loc=0.3, scale=2.0)
        shapes = params[:1] if dist in ('t', 'gamma', 'chi2') else ()
        onp.testing.assert_allclose(getattr(getattr(ps, dist), method)(x, *shapes, **kw),
                                    getattr(getattr(st, dist), method)(x, *shapes, **kw), rtol=1e-10)


@pytest.mark.parametrize('dist,method,i', CASES)
def test_continuous_derivatives(dist, method, i):
    x, params = CONTINUOUS[dist]
    args = (x,) + params
    if i == 0:
        check_grads(lambda v: _call(dist, method, args, 0, v), x, order=2)
    else:
        # one parameter as a vector, against the three points
        p = params[i - 1] * onp.array([0.9, 1.0, 1.1])
        check_grads(lambda v: _call(dist, method, args, i, v), p, order=2)


@pytest.mark.parametrize('dist,method', [(d, m) for d in sorted(CONTINUOUS) for m in METHODS])
def test_continuous_float32(dist, method):
    x, params = CONTINUOUS[dist]
    x32 = x.astype(onp.float32)
    y = getattr(getattr(ps, dist), method)(x32, *params)
    assert y.dtype == onp.float32
    check_grads(lambda v: getattr(getattr(ps, dist), method)(v, *params), x32, order=2)


def test_support_and_special_points():
    assert ps.beta.logpdf(1.5, 2.0, 3.0) == -onp.inf and ps.beta.cdf(1.5, 2.0, 3.0) == 1.0
    assert ps.gamma.logpdf(-1.0, 2.0) == -onp.inf and ps.gamma.cdf(-1.0, 2.0) == 0.0
    assert pyad.grad(lambda a: ps.gamma.cdf(-1.0, a))(2.0) == 0.0
    # the t distribution function at its centre: slope the density, none in df
    assert pyad.grad(lambda z: ps.t.cdf(z, 3.0))(0.0) == pytest.approx(st.t.pdf(0.0, 3.0))
    assert pyad.grad(lambda d: ps.t.cdf(0.0, d))(3.0) == 0.0
    # log_ndtr far in the tail: finite derivative
    g = pyad.grad(lambda x: ps.norm.logcdf(x))(-40.0)
    assert onp.isfinite(g) and g == pytest.approx(40.025, rel=1e-3)


def test_poisson():
    k = onp.array([0.0, 2.0, 5.0, 2.5, -1.0])
    for m in ['logpmf', 'pmf', 'cdf', 'logcdf', 'sf', 'logsf']:
        onp.testing.assert_allclose(getattr(ps.poisson, m)(k, 3.2), getattr(st.poisson, m)(k, 3.2),
                                    rtol=1e-10)
        check_grads(lambda mu: getattr(ps.poisson, m)(k[:3], mu), onp.array([3.2, 1.1, 7.0]), order=2)
        check_grads(lambda mu: getattr(ps.poisson, m)(k[:3], mu),
                    onp.array([3.2, 1.1, 7.0], onp.float32), order=2)
    # k is discrete: zero derivative
    assert pyad.grad(lambda k: ps.poisson.logpmf(k, 3.0))(2.0) == 0.0
    onp.testing.assert_allclose(ps.poisson.pmf(k, 3.2, loc=1), st.poisson.pmf(k, 3.2, loc=1))


def _spd(d, seed):
    a = onp.random.default_rng(seed).standard_normal((d, d))
    return a @ a.T + d * onp.eye(d)


@pytest.mark.parametrize('cov', ['matrix', 'diagonal', 'scalar'])
def test_multivariate_normal(cov):
    rng = onp.random.default_rng(0)
    c = {'matrix': _spd(3, 1), 'diagonal': onp.array([1.0, 2.0, 0.5]), 'scalar': 1.7}[cov]
    mean = rng.standard_normal(3)
    x = rng.standard_normal((4, 3))
    for m in ['logpdf', 'pdf']:
        onp.testing.assert_allclose(getattr(ps.multivariate_normal, m)(x, mean, c),
                                    getattr(st.multivariate_normal, m)(x, mean, c), rtol=1e-10)
        onp.testing.assert_allclose(getattr(ps.multivariate_normal, m)(x[0], mean, c),
                                    getattr(st.multivariate_normal, m)(x[0], mean, c), rtol=1e-10)
    check_grads(lambda x: ps.multivariate_normal.logpdf(x, mean, c), x, order=2)
    check_grads(lambda m: ps.multivariate_normal.logpdf(x, m, c), mean, order=2)
    check_grads(lambda c: ps.multivariate_normal.logpdf(x, mean, c), c, order=2)
    check_grads(lambda x: ps.multivariate_normal.logpdf(x, mean, c), x.astype(onp.float32), order=2)


def test_dirichlet():
    alpha = onp.array([1.5, 2.0, 3.0])
    x = onp.array([[0.2, 0.3], [0.3, 0.3], [0.5, 0.4]])
    for m in ['logpdf', 'pdf']:
        onp.testing.assert_allclose(getattr(ps.dirichlet, m)(x, alpha), getattr(st.dirichlet, m)(x, alpha))
        onp.testing.assert_allclose(getattr(ps.dirichlet, m)(x[:2], alpha), getattr(st.dirichlet, m)(x, alpha))
        onp.testing.assert_allclose(getattr(ps.dirichlet, m)(x[:, 0], alpha),
                                    getattr(st.dirichlet, m)(x[:, 0], alpha))
    check_grads(lambda a: ps.dirichlet.logpdf(x, a), alpha, order=2)
    check_grads(lambda v: ps.dirichlet.logpdf(v, alpha), x[:2], order=2)
    check_grads(lambda a: ps.dirichlet.pdf(x, a), alpha.astype(onp.float32), order=2)


def test_errors_in_the_users_terms():
    with pytest.raises(TypeError, match='t.logpdf: missing the shape parameter'):
        ps.t.logpdf(0.3)
    with pytest.raises(ValueError, match='multivariate_normal: cov has shape'):
        ps.multivariate_normal.logpdf(onp.zeros(3), None, onp.eye(2))
    with pytest.raises(ValueError, match='dirichlet: x has shape'):
        ps.dirichlet.logpdf(onp.array([0.5, 0.5]), onp.ones(4))
    with pytest.raises(ValueError, match='open simplex'):
        ps.dirichlet.logpdf(onp.array([0.5, 0.6, -0.1]), onp.ones(3))
