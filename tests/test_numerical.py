"""pyad.numerical against pyad's automatic derivatives."""
import numpy as onp
import pytest

import pyad
import pyad.numpy as np
from pyad import numerical as num


def _close(a, b, rtol=1e-6, atol=1e-6):
    la, da = pyad.tree_flatten(a)
    lb, db = pyad.tree_flatten(b)
    assert da == db, (da, db)
    for x, y in zip(la, lb):
        x, y = onp.asarray(x, dtype=onp.float64), onp.asarray(y, dtype=onp.float64)
        assert x.shape == y.shape, (x.shape, y.shape)
        onp.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def scalar_fn(x):
    return np.sin(x) * np.exp(0.3 * x) + x ** 3 / (1.0 + x * x)


def vec_fn(x):           # R^3 -> R
    return np.sum(np.sin(x) * x ** 2) + np.exp(x[0] * x[1]) - np.log(1.0 + x[2] ** 2)


def _vector(*components):
    # a vector from traced scalars with arithmetic only (no dependence on np.stack)
    basis = onp.eye(len(components))
    return sum(c * basis[i] for i, c in enumerate(components))


def vec_map(x):          # R^3 -> R^2
    return _vector(x[0] * np.cos(x[1]) + x[2] ** 2, np.tanh(x[0] * x[1] * x[2]))


def field(x):            # R^3 -> R^3
    return _vector(x[1] * x[2] ** 2, np.sin(x[0]) * x[2], x[0] * x[1] * np.exp(x[2]))


X = onp.array([0.7, -0.4, 1.3])


@pytest.mark.parametrize('x', [0.3, 1.7, -2.5, 40.0])
def test_diff_diff2(x):
    _close(num.diff(scalar_fn)(x), pyad.diff(scalar_fn)(x), rtol=1e-8)
    _close(num.diff2(scalar_fn)(x), pyad.diff2(scalar_fn)(x), rtol=1e-5, atol=1e-5)
    y, d = num.fdiff(scalar_fn)(x)
    assert y == scalar_fn(x)
    assert isinstance(d, float)


@pytest.mark.parametrize('n', [0, 1, 2, 3, 4])
def test_diffn(n):
    f = lambda x: np.sin(x) * np.exp(0.3 * x)
    tol = {0: 1e-12, 1: 1e-8, 2: 1e-5, 3: 1e-4, 4: 1e-3}[n]
    _close(num.diffn(n, f)(0.8), pyad.diffn(n, f)(0.8), rtol=tol, atol=tol)


def test_diff_pytree_output_and_args():
    f = lambda x, a: {'p': np.sin(a * x), 'q': (x * onp.arange(3.0), x ** 2)}
    _close(num.diff(f)(0.5, 2.0), pyad.diff(f)(0.5, 2.0), rtol=1e-8, atol=1e-9)


def test_grad_hessian_laplacian():
    _close(num.grad(vec_fn)(X), pyad.grad(vec_fn)(X), rtol=1e-8, atol=1e-9)
    _close(num.hessian(vec_fn)(X), pyad.hessian(vec_fn)(X), rtol=1e-5, atol=1e-5)
    g, H = num.gradhessian(vec_fn)(X)
    g2, H2 = pyad.gradhessian(vec_fn)(X)
    _close(g, g2, rtol=1e-8, atol=1e-9)
    _close(H, H2, rtol=1e-5, atol=1e-5)
    _close(num.laplacian(vec_fn)(X), pyad.laplacian(vec_fn)(X), rtol=1e-5, atol=1e-5)
    value, g = num.fgrad(vec_fn)(X)
    assert value == vec_fn(X)


def test_directional():
    v = onp.array([0.3, -1.0, 2.0])
    _close(num.gradv(vec_fn)(X, v), pyad.gradv(vec_fn)(X, v), rtol=1e-8, atol=1e-8)
    _close(num.hessianv(vec_fn)(X, v), pyad.hessianv(vec_fn)(X, v), rtol=1e-5, atol=1e-5)
    g, hv = num.gradhessianv(vec_fn)(X, v)
    _close(hv, pyad.hessianv(vec_fn)(X, v), rtol=1e-5, atol=1e-5)
    _close(num.jacobianv(vec_map)(X, v), pyad.jacobianv(vec_map)(X, v), rtol=1e-8, atol=1e-8)
    u = onp.array([1.5, -0.5])
    _close(num.jacobianTv(vec_map)(X, u), pyad.jacobianTv(vec_map)(X, u), rtol=1e-8, atol=1e-8)
    _close(num.jvp(vec_map, X, v), pyad.jvp(vec_map, X, v), rtol=1e-8, atol=1e-8)
    y, pullback = num.vjp(vec_map, X)
    _close(pullback(u), pyad.vjp(vec_map, X)[1](u), rtol=1e-8, atol=1e-8)
    # a zero direction gives exact zeros
    _close(num.jacobianv(vec_map)(X, onp.zeros(3)), onp.zeros(2))


def test_jacobian_shapes_matrix_input():
    f = lambda A: np.tanh(A @ A.T)          # (2, 3) -> (2, 2)
    A = onp.arange(6.0).reshape(2, 3) / 7.0
    J = num.jacobian(f)(A)
    assert J.shape == (2, 2, 2, 3)
    _close(J, pyad.jacobian(f)(A), rtol=1e-7, atol=1e-8)
    JT = num.jacobianT(vec_map)(X)
    assert JT.shape == (3, 2)
    _close(JT, pyad.jacobianT(vec_map)(X), rtol=1e-7, atol=1e-8)


def test_pytrees():
    def f(p):
        return np.sum(p['w'] ** 2 * p['b'][0]) + np.sin(p['b'][1]) * p['b'][0]
    p = {'w': onp.array([0.5, -1.0]), 'b': (1.5, 0.25)}
    _close(num.grad(f)(p), pyad.grad(f)(p), rtol=1e-8, atol=1e-9)
    _close(num.hessian(f)(p), pyad.hessian(f)(p), rtol=1e-5, atol=1e-5)
    v = {'w': onp.array([1.0, 2.0]), 'b': (0.5, -1.0)}
    _close(num.hessianv(f)(p, v), pyad.hessianv(f)(p, v), rtol=1e-5, atol=1e-5)
    _close(num.laplacian(f)(p), pyad.laplacian(f)(p), rtol=1e-5, atol=1e-5)

    def g(p):
        return {'a': p['w'] * p['b'][0], 'c': np.sum(p['w']) * p['b'][1]}
    _close(num.jacobian(g)(p), pyad.jacobian(g)(p), rtol=1e-8, atol=1e-9)


def test_curl_div():
    J = onp.asarray(pyad.jacobian(field)(X))
    curl = onp.array([J[2, 1] - J[1, 2], J[0, 2] - J[2, 0], J[1, 0] - J[0, 1]])
    _close(num.curl(field)(X), curl, rtol=1e-7, atol=1e-8)
    _close(num.div(field)(X), onp.trace(J), rtol=1e-7, atol=1e-8)
    c, d = num.curldiv(field)(X)
    _close((c, d), (curl, onp.trace(J)), rtol=1e-7, atol=1e-8)
    with pytest.raises(ValueError):
        num.curl(lambda x: x)(onp.ones(2))


def test_float32_keeps_dtype_and_default_step_is_dtype_aware():
    x32 = X.astype(onp.float32)
    g = num.grad(vec_fn)(x32)
    assert g.dtype == onp.float32
    _close(g, pyad.grad(vec_fn)(X), rtol=1e-3, atol=1e-3)
    H = num.hessian(vec_fn)(x32)
    assert H.dtype == onp.float32
    _close(H, pyad.hessian(vec_fn)(X), rtol=2e-2, atol=2e-2)
    assert num.default_step(x32)[0] > 500 * num.default_step(X)[0]
    assert num.default_step(onp.array([100.0]))[0] == pytest.approx(100 * num.default_step(onp.array([1.0]))[0])


def test_settable_step():
    f = lambda x: x ** 3
    # a large step shows the O(h²) truncation error of the central difference: h² exactly here
    assert num.diff(f, eps=0.1)(1.0) == pytest.approx(3.0 + 0.01, rel=1e-12)
    assert num.grad(lambda x: np.sum(x ** 3), eps=0.1)(onp.ones(2)) == pytest.approx([3.01, 3.01])
    with pytest.raises(ValueError):
        num.diff(f, eps=0.0)(1.0)


def test_errors():
    with pytest.raises(TypeError, match='scalar output'):
        num.grad(vec_map)(X)
    with pytest.raises(ValueError, match='scalar'):
        num.diff(vec_fn)(X)
    with pytest.raises(TypeError):
        num.grad(3.0)
    with pytest.raises(ValueError, match='shape'):
        num.jacobianv(vec_map)(X, onp.ones(2))


def test_traced_input_is_an_error_not_a_silent_constant():
    with pytest.raises(TypeError, match='not traced'):
        pyad.grad(lambda x: num.diff(lambda y: y ** 3)(x))(1.0)


def test_float32_scalar_and_diffn_zero():
    d = num.diff(lambda t: np.sin(t))(onp.float32(0.5))
    assert d.dtype == onp.float32 and abs(d - onp.cos(0.5)) < 1e-4
    y, d0 = num.fdiffn(0, lambda t: t * 2.0)(1.5)
    assert y == d0 == 3.0
