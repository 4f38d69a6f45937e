"""float32 in, float32 out, float32 derivatives (and float64 likewise): values,
first and second derivatives of the core functions, operators and linalg, with
tolerances that fit each dtype."""
import numpy as onp
import pytest

import pyad
import pyad.linalg as la
import pyad.numpy as pnp
from pyad.testing import check_grads

DTYPES = [onp.float32, onp.float64]
RTOL = {onp.float32: 2e-2, onp.float64: 1e-5}

rng = onp.random.default_rng(7)


def vec(dtype, n=4):
    return (rng.uniform(0.5, 1.5, n)).astype(dtype)


def mat(dtype, n=3):
    return (rng.standard_normal((n, n)) + n * onp.eye(n)).astype(dtype)


# scalar-valued functions of a vector (so grad and hessian apply)
SCALAR_FUNCS = {
    'sin*exp': lambda x: pnp.sum(pnp.sin(x) * pnp.exp(x)),
    'tanh/log': lambda x: pnp.sum(pnp.tanh(x) / pnp.log(1.0 + x)),
    'sqrt, power': lambda x: pnp.sum(pnp.sqrt(x) + x ** 3 - 2.0 * x),
    'mean, square': lambda x: pnp.mean(pnp.square(x - 0.5)),
    'reshape matmul': lambda x: pnp.sum(pnp.reshape(x, (2, 2)) @ pnp.reshape(x, (2, 2))),
    'linalg solve': lambda x: pnp.sum(la.solve(pnp.reshape(x, (2, 2)) + 3.0 * onp.eye(2, dtype=x.dtype), x[:2])),
    'linalg inv det': lambda x: la.det(la.inv(pnp.reshape(x, (2, 2)) + 2.0 * onp.eye(2, dtype=x.dtype))),
    'linalg norm': lambda x: la.norm(x),
}


def _dtype(x):
    return onp.asarray(x).dtype


@pytest.mark.parametrize('dtype', DTYPES, ids=['float32', 'float64'])
@pytest.mark.parametrize('name', sorted(SCALAR_FUNCS))
def test_values_and_derivatives_keep_dtype(name, dtype):
    f = SCALAR_FUNCS[name]
    x = vec(dtype)
    assert _dtype(f(x)) == dtype
    value, g = pyad.fgrad(f)(x)
    assert _dtype(value) == dtype and g.dtype == dtype
    H = pyad.hessian(f)(x)
    assert H.dtype == dtype and H.shape == (4, 4)
    hv = pyad.hessianv(f)(x, onp.ones(4, dtype))
    assert hv.dtype == dtype
    assert _dtype(pyad.gradv(f)(x, onp.ones(4, dtype))) == dtype
    # float32 results agree with float64 ones to float32 accuracy
    g64 = pyad.grad(f)(x.astype(onp.float64))
    onp.testing.assert_allclose(g, g64, rtol=RTOL[dtype], atol=RTOL[dtype])
    check_grads(f, x, order=2, rtol=RTOL[dtype], eps=1e-3 if dtype == onp.float32 else 1e-6)


@pytest.mark.parametrize('dtype', DTYPES, ids=['float32', 'float64'])
def test_jacobians_keep_dtype(dtype):
    x = vec(dtype)
    f = lambda v: pnp.tanh(v) * v[0]                     # noqa: E731
    for op in (pyad.jacobian, pyad.jacfwd, pyad.jacrev):
        J = op(f)(x)
        assert J.dtype == dtype and J.shape == (4, 4)
    y, jv = pyad.jvp(f, x, onp.ones(4, dtype))
    assert y.dtype == dtype and jv.dtype == dtype
    y, pullback = pyad.vjp(f, x)
    assert pullback(onp.ones(4, dtype)).dtype == dtype


@pytest.mark.parametrize('dtype', DTYPES, ids=['float32', 'float64'])
def test_linalg_keeps_dtype(dtype):
    a, b = mat(dtype), vec(dtype, 3)
    s = (a @ a.T).astype(dtype)
    outs = {
        'solve': la.solve(a, b), 'solve_symmetric': la.solve_symmetric(s, b),
        'inv': la.inv(a), 'det': la.det(a), 'cholesky': la.cholesky(s),
        'solve_triangular': la.solve_triangular(a, b, lower=True), 'pinv': la.pinv(a),
        'expm': la.expm(a / 4), 'eigh': la.eigh(s).eigenvectors, 'svd': la.svd(a).S,
        'qr': la.qr(a).R, 'slogdet': la.slogdet(a).logabsdet, 'norm': la.norm(a, 'nuc'),
        'matrix_power': la.matrix_power(a, -2), 'lstsq': la.lstsq(a, b)[0],
    }
    for name, out in outs.items():
        assert _dtype(out) == dtype, name
    grads = {
        'solve': pyad.grad(lambda m: pnp.sum(la.solve(m, b)))(a),
        'solve_symmetric': pyad.grad(lambda m: pnp.sum(la.solve_symmetric(m, b)))(s),
        'inv': pyad.grad(lambda m: pnp.sum(la.inv(m)))(a),
        'det': pyad.grad(la.det)(a),
        'cholesky': pyad.grad(lambda m: pnp.sum(la.cholesky(m)))(s),
        'expm': pyad.grad(lambda m: pnp.sum(la.expm(m / 4)))(a),
        'eigh': pyad.grad(lambda m: pnp.sum(la.eigh(m).eigenvectors[:, 0] ** 2 * onp.arange(3)))(s),
        'svd': pyad.grad(lambda m: la.norm(m, 'nuc'))(a),
        'qr': pyad.grad(lambda m: pnp.sum(la.qr(m).Q))(a),
        'pinv': pyad.grad(lambda m: pnp.sum(la.pinv(m)))(a),
    }
    for name, g in grads.items():
        assert g.dtype == dtype, name
    H = pyad.hessian(lambda m: la.slogdet(m).logabsdet)(a)
    assert H.dtype == dtype
    # float32 gradients agree with float64 ones
    g64 = pyad.grad(lambda m: pnp.sum(la.solve(m, b.astype(onp.float64))))(a.astype(onp.float64))
    onp.testing.assert_allclose(grads['solve'], g64, rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize('dtype', DTYPES, ids=['float32', 'float64'])
def test_fixed_point_keeps_dtype(dtype):
    a = onp.array([2.0, 3.0], dtype)
    f = lambda a_: pnp.sum(pyad.fixed_point(lambda c, x: (x + c / x) / 2, a_, onp.ones(2, dtype)))  # noqa: E731
    assert _dtype(f(a)) == dtype
    g = pyad.grad(f)(a)
    assert g.dtype == dtype
    onp.testing.assert_allclose(g, 0.5 / onp.sqrt(a.astype(onp.float64)), rtol=10 * RTOL[dtype] / 1e3)


def test_python_floats_are_float64():
    assert isinstance(pyad.grad(lambda x: x * x)(3.0), float)
    assert _dtype(pyad.grad(lambda x: la.det(x))(onp.eye(2))) == onp.float64
