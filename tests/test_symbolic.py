"""pyad.symbolic (SymPy tracing) against pyad's automatic derivatives."""
import numpy as onp
import pytest

sympy = pytest.importorskip('sympy')

import pyad
import pyad.numpy as np
from pyad import symbolic


def _vector(*components):
    basis = onp.eye(len(components))
    return sum(c * basis[i] for i, c in enumerate(components))


def f_scalar(t):
    return np.sin(t) * np.exp(0.5 * t) + t ** 3 / (1.0 + t * t) + np.tanh(t)


def f_vec(x):
    return np.sum(np.sin(x) * x ** 2) + np.exp(x[0] * x[1]) - np.log(1.0 + x[2] ** 2) + np.sqrt(1.0 + x[1] ** 2)


def f_map(x):
    return np.array([x[0] * np.cos(x[1]) + x[2] ** 2, np.tanh(x[0] * x[1] * x[2]),
                     np.expit(x[0]) * np.erf(x[2])])


X = onp.array([0.7, -0.4, 1.3])


def test_diff_and_diffn():
    d = symbolic.diff(f_scalar, simplify=False)
    assert isinstance(d.expr, sympy.Expr)
    assert d.symbols == [sympy.Symbol('x', real=True)]
    for t in [0.3, -1.2, 2.0]:
        onp.testing.assert_allclose(d(t), pyad.diff(f_scalar)(t), rtol=1e-12)
    for n in range(4):
        dn = symbolic.diffn(n, f_scalar, simplify=False)
        onp.testing.assert_allclose(dn(0.8), pyad.diffn(n, f_scalar)(0.8), rtol=1e-10)
    # vectorised over any array of points
    ts = onp.linspace(-1, 1, 5)
    onp.testing.assert_allclose(d(ts), [pyad.diff(f_scalar)(t) for t in ts], rtol=1e-12)


def test_exact_expressions():
    x = sympy.Symbol('x', real=True)
    expr, func = symbolic.diff(lambda t: np.sin(t) ** 2)
    assert sympy.simplify(expr - sympy.sin(2 * x)) == 0
    expr, _ = symbolic.diffn(3, lambda t: t ** 5)
    assert expr == 60 * x ** 2
    H, _ = symbolic.hessian(lambda v: v[0] ** 2 * v[1] + 3 * v[1] ** 2, 2)
    a, b = sympy.symbols('x0 x1', real=True)
    assert H.tomatrix() == sympy.Matrix([[2 * b, 2 * a], [2 * a, 6]])


def test_grad_hessian_laplacian_against_ad():
    g = symbolic.grad(f_vec, 3)
    assert g.expr.shape == (3,)
    onp.testing.assert_allclose(g(X), pyad.grad(f_vec)(X), rtol=1e-12)
    H = symbolic.hessian(f_vec, X, simplify=False)          # an example array gives the shape
    onp.testing.assert_allclose(H(X), pyad.hessian(f_vec)(X), rtol=1e-12, atol=1e-14)
    L = symbolic.laplacian(f_vec, 3, simplify=False)
    assert isinstance(L.expr, sympy.Expr)
    onp.testing.assert_allclose(L(X), pyad.laplacian(f_vec)(X), rtol=1e-12)
    # batches of points: batch + in.shape
    pts = onp.stack([X, 2 * X, -X])
    onp.testing.assert_allclose(g(pts), [pyad.grad(f_vec)(p) for p in pts], rtol=1e-12)


def test_jacobian_against_ad():
    J = symbolic.jacobian(f_map, 3, simplify=False)
    assert J.expr.shape == (3, 3)
    onp.testing.assert_allclose(J(X), pyad.jacobian(lambda x: _vector(
        x[0] * np.cos(x[1]) + x[2] ** 2, np.tanh(x[0] * x[1] * x[2]),
        np.expit(x[0]) * np.erf(x[2])))(X), rtol=1e-12)


def test_matrix_input_and_matmul():
    A = onp.array([[2.0, 1.0], [0.5, 3.0]])

    def f(M):                    # M: (2, 2)
        return np.sum(np.tanh(M @ A) ** 2) + np.mean(M.T * M)
    M = onp.array([[0.1, -0.3], [0.4, 0.2]])
    g = symbolic.grad(f, (2, 2), simplify=False)
    assert g.expr.shape == (2, 2)
    onp.testing.assert_allclose(g(M), pyad.grad(f)(M), rtol=1e-12)
    J = symbolic.jacobian(lambda M: M @ A, (2, 2), simplify=False)
    assert J.expr.shape == (2, 2, 2, 2)
    onp.testing.assert_allclose(J(M), pyad.jacobian(lambda M: M @ A)(M), rtol=1e-12)


def test_piecewise_functions():
    f = lambda t: np.where(t > 0, t ** 2, np.sin(t)) + np.maximum(t, 0.5) + np.clip(t, -1.0, 1.0)
    d = symbolic.diff(f)
    for t in [-2.0, -0.3, 0.7, 3.0]:
        onp.testing.assert_allclose(d(t), pyad.diff(f)(t), rtol=1e-12)


def test_user_symbols_and_expression():
    a, b = sympy.symbols('a b', real=True)
    e, fn = symbolic.grad(lambda v: v[0] * np.exp(v[1]), [a, b])
    assert list(e) == [sympy.exp(b), a * sympy.exp(b)]
    value = symbolic.expression(lambda v: v[0] * np.exp(v[1]), [a, b])
    assert value.expr == a * sympy.exp(b)
    onp.testing.assert_allclose(value(onp.array([2.0, 0.0])), 2.0)


def test_implementations_restored_and_errors():
    before = np.sin.impl
    symbolic.grad(f_vec, 3)
    assert np.sin.impl is before
    with pytest.raises(TypeError, match='where'):
        symbolic.diff(lambda t: t if t > 0 else -t)
    assert np.sin.impl is before
    with pytest.raises(TypeError, match='scalar output'):
        symbolic.grad(f_map, 3)
    with pytest.raises(ValueError, match='scalar'):
        symbolic.diff(f_vec, 3)
    # numeric calls are unaffected while tracing
    with symbolic.tracing():
        assert np.sin(0.5) == onp.sin(0.5)
        onp.testing.assert_allclose(np.exp(onp.ones(2)), onp.e)


def test_reductions_max_min_logsumexp():
    x = onp.array([0.3, -0.2, 0.9])
    for f in [lambda v: np.logsumexp(v), lambda v: np.max(v * 2.0) + np.min(v),
              lambda v: np.sum(np.max(v.reshape(3, 1) * onp.ones((1, 2)), axis=1) ** 2),
              lambda v: np.prod(v) + np.mean(np.concatenate([v, v ** 2]))]:
        if 'logsumexp' in repr(f.__code__.co_names) and not hasattr(np, 'logsumexp'):
            continue
        g = symbolic.grad(f, 3, simplify=False)
        onp.testing.assert_allclose(g(x), pyad.grad(f)(x), rtol=1e-12)
