"""pyad.optim.minimize returns SciPy's field names (the earlier names still read)."""
import numpy as onp
import pytest
import scipy.optimize

import pyad
import pyad.numpy as np
from pyad.flatten_util import ravel_pytree


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


X0 = onp.array([-1.2, 1.0, 0.5])


@pytest.mark.parametrize('method', ['newton', 'newton-cg', 'cg', 'adam'])
def test_scipy_field_names(method):
    options = {'max_iter': 20} if method == 'adam' else {}
    r = pyad.optim.minimize(rosenbrock, X0, method=method, **options)
    for field in ('x', 'fun', 'jac', 'nit', 'nfev', 'success', 'status', 'message'):
        assert field in r and getattr(r, field) is r[field]
    assert r.fun == pytest.approx(float(rosenbrock(r.x)))
    onp.testing.assert_allclose(r.jac, pyad.grad(rosenbrock)(r.x), rtol=1e-8, atol=1e-10)
    assert r.status == (0 if r.success else 1)
    # the earlier names
    assert (r.f, r.iterations, r.converged, r.evaluations) == (r.fun, r.nit, r.success, r.nfev)
    assert r.grad_norm == pytest.approx(float(onp.linalg.norm(r.jac)))
    with pytest.raises(AttributeError, match="no field 'nope'; its fields are x, fun, jac"):
        r.nope
    assert 'fun' in repr(r)


def test_same_minimum_as_scipy():
    r = pyad.optim.minimize(rosenbrock, X0, method='newton-cg')
    assert r.success, r.message
    ref = scipy.optimize.minimize(lambda x: float(rosenbrock(x)), X0, method='BFGS',
                                  jac=lambda x: pyad.grad(rosenbrock)(x), tol=1e-10)
    onp.testing.assert_allclose(r.x, ref.x, atol=1e-5)
    assert r.nit > 0 and r.nfev >= r.nit


@pytest.mark.parametrize('method', ['newton', 'adam'])
def test_integer_starting_points_are_floats(method):
    # integers are constants for the operators, but a starting point is not: as in SciPy
    r = pyad.optim.minimize(lambda p: (p[0] - 3.0) ** 2 + p[1] ** 2, [1, onp.int64(2)],
                            method=method, max_iter=200)
    assert isinstance(r.x[0], float) and r.x[1].dtype == onp.float64
    assert r.fun < 8.0 and r.history[0] == 8.0
    if method == 'newton':
        assert r.x[0] == pytest.approx(3.0) and abs(r.x[1]) < 1e-8


def test_jac_in_the_structure_of_x0():
    x0 = {'a': onp.array([-1.2, 1.0]), 'b': 0.5}
    r = pyad.optim.minimize(lambda p: rosenbrock(p['a']) + (p['b'] - 2.0) ** 2, x0)
    assert set(r.jac) == {'a', 'b'} and r.jac['a'].shape == (2,)
    assert abs(r.x['b'] - 2.0) < 1e-6


def test_ravel_pytree_with_scipy_minimize():
    # SciPy's optimisers work on one flat vector: ravel_pytree goes there and back
    params = {'a': onp.array([-1.2, 1.0]), 'b': onp.array(0.5)}
    flat, unravel = ravel_pytree(params)

    def loss(p):
        return rosenbrock(p['a']) + (p['b'] - 2.0) ** 2
    fun = lambda v: float(loss(unravel(v)))                      # noqa: E731
    jac = lambda v: pyad.grad(lambda v: loss(unravel(v)))(v)     # noqa: E731
    res = scipy.optimize.minimize(fun, flat, jac=jac, method='BFGS', tol=1e-10)
    best = unravel(res.x)
    onp.testing.assert_allclose(best['a'], [1.0, 1.0], atol=1e-5)
    assert float(best['b']) == pytest.approx(2.0, abs=1e-6)
