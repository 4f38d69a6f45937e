"""The operator table: every operator and its f-variant, on scalars, vectors, matrices and
pytrees, against hand-computed values or central finite differences."""
import gc
import math
import threading
import tracemalloc

import numpy as np
import pytest

import pyad.numpy as pnp
from pyad import (diff, fdiff, diff2, fdiff2, diffn, fdiffn, grad, fgrad, gradv, fgradv,
                  hessian, fhessian, hessianv, fhessianv, gradhessian, fgradhessian,
                  gradhessianv, fgradhessianv, laplacian, flaplacian, jacobian, fjacobian,
                  jacobianv, fjacobianv, jacobianT, fjacobianT, jacobianTv, fjacobianTv,
                  curl, fcurl, div, fdiv, curldiv, fcurldiv, value_and_grad, jvp, vjp,
                  jacfwd, fjacfwd, jacrev, fjacrev, tree_flatten, tree_unflatten)
from pyad.testing import numerical_jvp


# ------------------------------------------------------------------ helpers
def leaves64(tree):
    return [np.asarray(leaf, dtype=np.float64) for leaf in tree_flatten(tree)[0]]


def assert_tree_close(got, want, rtol=1e-6, atol=1e-7):
    gl, gdef = tree_flatten(got)
    wl, wdef = tree_flatten(want)
    assert gdef == wdef, f'structure {gdef} != {wdef}'
    for g, w in zip(gl, wl):
        g, w = np.asarray(g, dtype=np.float64), np.asarray(w, dtype=np.float64)
        assert g.shape == w.shape, f'shape {g.shape} != {w.shape}'
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def basis(tree):
    """Every unit direction of a pytree: (leaf index, flat index, direction)."""
    leaves, treedef = tree_flatten(tree)
    for i, leaf in enumerate(leaves):
        shape = np.shape(leaf)
        for k in range(int(np.prod(shape, dtype=int))):
            dirs = []
            for j, other in enumerate(leaves):
                z = np.zeros(np.shape(other))
                if j == i:
                    z.reshape(-1)[k] = 1.0
                dirs.append(float(z) if isinstance(other, float) else z)
            yield i, k, tree_unflatten(treedef, dirs)


def fd_jacobian(f, x):
    """The Jacobian by central differences, laid out as pyad lays it out:
    out-structure of in-structure, each block of shape out.shape + in.shape."""
    y = f(x)
    yl, ydef = tree_flatten(y)
    xl, xdef = tree_flatten(x)
    blocks = [[np.zeros(np.shape(a) + np.shape(b)) for b in xl] for a in yl]
    for i, k, e in basis(x):
        col = leaves64(numerical_jvp(f, x, e))
        for j, c in enumerate(col):
            blk = blocks[j][i]
            blk.reshape(np.shape(c) + (-1,))[..., k] = c
    return tree_unflatten(ydef, [tree_unflatten(xdef, row) for row in blocks])


def fd_grad(f, x):
    """Gradient of a scalar f by central differences: for a scalar output the Jacobian
    layout is x's structure with blocks of x's shapes."""
    return fd_jacobian(f, x)


def tdot(a, b):
    return sum(float(np.sum(x * y)) for x, y in zip(leaves64(a), leaves64(b)))


# ------------------------------------------------------------------ inputs and functions
X_SCALAR = 0.7
X_VECTOR = np.array([0.3, -1.2, 2.0])
X_MATRIX = np.array([[0.5, -0.4, 1.1], [0.9, 0.2, -0.7]])
X_TREE = {'a': 0.4, 'b': (np.array([1.0, -0.5]), [np.array([[0.3, 0.2]]), 1.5])}
INPUTS = {'scalar': X_SCALAR, 'vector': X_VECTOR, 'matrix': X_MATRIX, 'pytree': X_TREE}


def scalar_fn(x):
    """A non-separable real function of any pytree."""
    leaves = tree_flatten(x)[0]
    total = 0.0
    s = 0.0
    for leaf in leaves:
        total = total + pnp.sum(pnp.sin(leaf) * leaf * leaf)
        s = s + pnp.sum(leaf)
    return total + pnp.exp(0.3 * s) + s * s * s / 6.0


def vector_fn(x):
    """A pytree-valued function of any pytree (same structure as the input, coupled)."""
    leaves, treedef = tree_flatten(x)
    s = 0.0
    for leaf in leaves:
        s = s + pnp.sum(leaf * leaf)
    return tree_unflatten(treedef, [pnp.sin(leaf) * s + leaf * leaf * leaf for leaf in leaves])


def random_like(tree, seed=1):
    rng = np.random.default_rng(seed)
    leaves, treedef = tree_flatten(tree)
    return tree_unflatten(treedef, [float(rng.standard_normal()) if isinstance(l, float)
                                    else rng.standard_normal(np.shape(l)) for l in leaves])


KINDS = list(INPUTS)


# ------------------------------------------------------------------ diff family
def test_diff_scalar_hand():
    x = 0.7
    assert diff(pnp.sin)(x) == pytest.approx(math.cos(x), rel=1e-14)
    v, d = fdiff(lambda t: t * pnp.exp(t))(x)
    assert v == pytest.approx(x * math.exp(x)) and d == pytest.approx((1 + x) * math.exp(x))


def test_diff_of_pytree_valued_function():
    got = diff(lambda t: (t * t, {'s': pnp.sin(t), 'v': t * np.array([1.0, 2.0])}))(1.0)
    assert_tree_close(got, (2.0, {'s': math.cos(1.0), 'v': np.array([1.0, 2.0])}))


def test_diff2_and_fdiff2():
    x = 0.4
    assert diff2(pnp.sin)(x) == pytest.approx(-math.sin(x))
    v, d2 = fdiff2(lambda t: t ** 4)(x)
    assert v == pytest.approx(x ** 4) and d2 == pytest.approx(12 * x * x)


@pytest.mark.parametrize('n', range(7))
def test_diffn_sin_exp_closed_form(n):
    # (e^x sin x)^(n) = 2^(n/2) e^x sin(x + nπ/4)
    x = 0.6
    want = 2 ** (n / 2) * math.exp(x) * math.sin(x + n * math.pi / 4)
    f = lambda t: pnp.sin(t) * pnp.exp(t)
    assert diffn(n, f)(x) == pytest.approx(want, rel=1e-12, abs=1e-12)
    value, nth = fdiffn(n, f)(x)
    assert value == pytest.approx(math.exp(x) * math.sin(x))
    assert nth == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_diffn_rejects_bad_order():
    with pytest.raises(ValueError, match='non-negative integer'):
        diffn(-1, pnp.sin)
    with pytest.raises(ValueError, match='non-negative integer'):
        diffn(1.5, pnp.sin)


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize('kind', KINDS)
def test_grad_and_fgrad(kind):
    x = INPUTS[kind]
    g = grad(scalar_fn)(x)
    assert_tree_close(g, fd_grad(scalar_fn, x), rtol=1e-6, atol=1e-7)
    value, g2 = fgrad(scalar_fn)(x)
    assert float(value) == pytest.approx(float(scalar_fn(x)))
    assert_tree_close(g2, g, rtol=0, atol=0)
    value3, g3 = value_and_grad(scalar_fn)(x)
    assert_tree_close(g3, g, rtol=0, atol=0)


def test_grad_hand_values():
    # f(x) = x0² x1 + sin(x0 x1): ∇f = (2 x0 x1 + x1 cos(x0 x1), x0² + x0 cos(x0 x1))
    x = np.array([0.5, 2.0])
    f = lambda x: x[0] ** 2 * x[1] + pnp.sin(x[0] * x[1])
    c = math.cos(1.0)
    assert_tree_close(grad(f)(x), np.array([2.0 + 2.0 * c, 0.25 + 0.5 * c]), rtol=1e-14)


@pytest.mark.parametrize('kind', KINDS)
def test_gradv_and_fgradv(kind):
    x = INPUTS[kind]
    v = random_like(x)
    want = tdot(grad(scalar_fn)(x), v)
    assert float(gradv(scalar_fn)(x, v)) == pytest.approx(want, rel=1e-12)
    value, d = fgradv(scalar_fn)(x, v)
    assert float(value) == pytest.approx(float(scalar_fn(x)))
    assert float(d) == pytest.approx(want, rel=1e-12)


# ------------------------------------------------------------------ second order
def test_hessian_non_separable_hand():
    # f = x0² x1 + sin(x0 x1) + x1³ at (0.5, 2):
    # f_00 = 2 x1 − x1² sin(x0 x1); f_01 = 2 x0 + cos(x0 x1) − x0 x1 sin(x0 x1);
    # f_11 = −x0² sin(x0 x1) + 6 x1
    x = np.array([0.5, 2.0])
    f = lambda x: x[0] ** 2 * x[1] + pnp.sin(x[0] * x[1]) + x[1] ** 3
    s, c = math.sin(1.0), math.cos(1.0)
    want = np.array([[4.0 - 4.0 * s, 1.0 + c - s], [1.0 + c - s, -0.25 * s + 12.0]])
    assert_tree_close(hessian(f)(x), want, rtol=1e-13)
    value, H = fhessian(f)(x)
    assert float(value) == pytest.approx(0.5 + s + 8.0)
    assert_tree_close(H, want, rtol=1e-13)
    g, H2 = gradhessian(f)(x)
    assert_tree_close(g, np.array([2.0 + 2.0 * c, 0.25 + 0.5 * c + 12.0]), rtol=1e-13)
    assert_tree_close(H2, want, rtol=1e-13)
    value, g, H3 = fgradhessian(f)(x)
    assert float(value) == pytest.approx(0.5 + s + 8.0)
    assert_tree_close(H3, want, rtol=1e-13)


@pytest.mark.parametrize('kind', KINDS)
def test_hessian_family_against_finite_differences(kind):
    x = INPUTS[kind]
    H = hessian(scalar_fn)(x)
    # FD of the reverse-mode gradient: the Jacobian of grad, laid out in-of-in
    want = fd_jacobian(grad(scalar_fn), x)
    assert_tree_close(H, want, rtol=1e-5, atol=1e-6)
    v = random_like(x, seed=2)
    hv = hessianv(scalar_fn)(x, v)
    want_hv = numerical_jvp(grad(scalar_fn), x, v)
    assert_tree_close(hv, want_hv, rtol=1e-5, atol=1e-6)
    value, hv2 = fhessianv(scalar_fn)(x, v)
    assert float(value) == pytest.approx(float(scalar_fn(x)))
    assert_tree_close(hv2, hv, rtol=1e-12, atol=1e-12)
    g, hv3 = gradhessianv(scalar_fn)(x, v)
    assert_tree_close(g, grad(scalar_fn)(x), rtol=1e-12, atol=1e-12)
    assert_tree_close(hv3, hv, rtol=1e-12, atol=1e-12)
    value, g, hv4 = fgradhessianv(scalar_fn)(x, v)
    assert_tree_close(hv4, hv, rtol=1e-12, atol=1e-12)


def test_hessian_matrix_input_shape():
    X = X_MATRIX
    H = hessian(lambda X: pnp.sum(X ** 3))(X)
    assert H.shape == X.shape + X.shape
    want = np.zeros(X.shape + X.shape)
    for i in range(2):
        for j in range(3):
            want[i, j, i, j] = 6 * X[i, j]
    assert_tree_close(H, want, rtol=1e-14)


def test_hessianv_equals_dense_hessian_times_v():
    x = X_VECTOR
    v = np.array([1.0, -2.0, 0.5])
    H = hessian(scalar_fn)(x)
    assert_tree_close(hessianv(scalar_fn)(x, v), H @ v, rtol=1e-12, atol=1e-12)


def test_laplacian_hand_and_pytree():
    # Δ Σ x³ = Σ 6x
    x = np.array([1.0, -2.0, 0.5])
    assert laplacian(lambda x: pnp.sum(x ** 3))(x) == pytest.approx(6 * x.sum())
    value, lap = flaplacian(lambda x: pnp.sum(x ** 3))(x)
    assert float(value) == pytest.approx(float(np.sum(x ** 3)))
    assert float(lap) == pytest.approx(6 * x.sum())
    # pytree: Δ (a³ + Σ b³ + a Σ b) = 6a + Σ 6b   (the cross term has no diagonal)
    p = {'a': 1.5, 'b': np.array([1.0, 2.0])}
    f = lambda p: p['a'] ** 3 + pnp.sum(p['b'] ** 3) + p['a'] * pnp.sum(p['b'])
    assert float(laplacian(f)(p)) == pytest.approx(9.0 + 18.0)
    # a scalar input: Δ = f''
    assert float(laplacian(pnp.sin)(0.3)) == pytest.approx(-math.sin(0.3))


# ------------------------------------------------------------------ Jacobians
@pytest.mark.parametrize('kind', KINDS)
def test_jacobian_family_against_finite_differences(kind):
    x = INPUTS[kind]
    want = fd_jacobian(vector_fn, x)
    for op in (jacobian, jacfwd, jacrev):
        assert_tree_close(op(vector_fn)(x), want, rtol=1e-6, atol=1e-7)
    for fop in (fjacobian, fjacfwd, fjacrev):
        value, J = fop(vector_fn)(x)
        assert_tree_close(value, vector_fn(x), rtol=1e-14)
        assert_tree_close(J, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize('kind', KINDS)
def test_jacobianv_and_jacobianTv(kind):
    x = INPUTS[kind]
    v = random_like(x, seed=3)
    u = random_like(vector_fn(x), seed=4)
    jv = jacobianv(vector_fn)(x, v)
    assert_tree_close(jv, numerical_jvp(vector_fn, x, v), rtol=1e-6, atol=1e-7)
    value, jv2 = fjacobianv(vector_fn)(x, v)
    assert_tree_close(jv2, jv, rtol=0, atol=0)
    value, jv3 = jvp(vector_fn, x, v)
    assert_tree_close(jv3, jv, rtol=0, atol=0)
    assert_tree_close(value, vector_fn(x), rtol=1e-14)
    ujt = jacobianTv(vector_fn)(x, u)
    # <uᵀJ, v> = <u, J v>
    assert tdot(ujt, v) == pytest.approx(tdot(u, jv), rel=1e-10)
    value, ujt2 = fjacobianTv(vector_fn)(x, u)
    assert_tree_close(ujt2, ujt, rtol=0, atol=0)
    value, pullback = vjp(vector_fn, x)
    assert_tree_close(pullback(u), ujt, rtol=1e-14)
    assert_tree_close(pullback(u), ujt, rtol=1e-14)      # a pullback may be called again


def test_jacobian_shapes_out_plus_in_and_transposed():
    f = lambda X: X[0] * X[1]           # (2, 3) -> (3,)
    X = X_MATRIX
    J = jacobian(f)(X)
    assert J.shape == (3, 2, 3)
    JT = jacobianT(f)(X)
    assert JT.shape == (2, 3, 3)
    np.testing.assert_allclose(JT, np.moveaxis(J, 0, -1))
    value, JT2 = fjacobianT(f)(X)
    np.testing.assert_allclose(value, X[0] * X[1])
    np.testing.assert_allclose(JT2, JT)
    # hand: ∂(X0j X1j)/∂X0k = δjk X1j
    want = np.zeros((3, 2, 3))
    for j in range(3):
        want[j, 0, j] = X[1, j]
        want[j, 1, j] = X[0, j]
    np.testing.assert_allclose(J, want)
    # scalar in, vector out; vector in, scalar out
    assert jacobian(lambda t: t * np.array([1.0, 2.0]))(3.0).shape == (2,)
    assert jacobian(lambda x: pnp.sum(x))(X_VECTOR).shape == (3,)
    assert jacobianT(lambda x: x[:2] * 3.0)(X_VECTOR).shape == (3, 2)


def test_jacobian_picks_forward_or_reverse_by_size(monkeypatch):
    import pyad.operators as ops
    calls = []
    real_forward = ops._jac_forward

    def spy(*a, **k):
        calls.append('forward')
        return real_forward(*a, **k)
    monkeypatch.setattr(ops, '_jac_forward', spy)
    x = np.array([0.3, -0.8])
    tall = lambda x: pnp.sin(x[0]) * np.arange(1.0, 6.0) + x[1] * x[1]      # R^2 -> R^5: m > n
    wide = lambda x: pnp.sin(x[:2]) * x[2] + x[3] * x[4]                    # R^5 -> R^2
    x5 = np.linspace(-1.0, 1.0, 5)
    J_tall = jacobian(tall)(x)
    assert calls == ['forward']
    calls.clear()
    J_wide = jacobian(wide)(x5)
    assert calls == []                   # m <= n: reverse sweep
    # both paths agree with each other and with the explicitly-moded operators
    np.testing.assert_allclose(J_tall, jacrev(tall)(x), rtol=1e-14)
    np.testing.assert_allclose(J_tall, jacfwd(tall)(x), rtol=1e-14)
    np.testing.assert_allclose(J_wide, jacfwd(wide)(x5), rtol=1e-14)
    np.testing.assert_allclose(J_wide, jacrev(wide)(x5), rtol=1e-14)
    np.testing.assert_allclose(J_tall, fd_jacobian(tall, x), rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------ vector calculus
_ROT = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
_E3 = np.array([0.0, 0.0, 1.0])


def field(x):
    """F(x) = (−x1, x0, x2²): curl F = (0, 0, 2), div F = 2 x2."""
    return _ROT @ x + (x * x) * _E3


def test_curl_div_curldiv_known_field():
    x = np.array([0.4, -1.3, 2.5])
    np.testing.assert_allclose(field(x), [1.3, 0.4, 6.25])
    np.testing.assert_allclose(curl(field)(x), [0.0, 0.0, 2.0], atol=1e-15)
    assert float(div(field)(x)) == pytest.approx(5.0)
    c, d = curldiv(field)(x)
    np.testing.assert_allclose(c, [0.0, 0.0, 2.0], atol=1e-15)
    assert float(d) == pytest.approx(5.0)
    value, c = fcurl(field)(x)
    np.testing.assert_allclose(value, field(x))
    value, d = fdiv(field)(x)
    assert float(d) == pytest.approx(5.0)
    value, c, d = fcurldiv(field)(x)
    np.testing.assert_allclose(value, field(x))
    np.testing.assert_allclose(c, [0.0, 0.0, 2.0], atol=1e-15)


def test_curl_of_gradient_is_zero_and_div_in_n_dims():
    x = np.array([0.4, -1.3, 2.5])
    potential = lambda y: pnp.sin(y[0] * y[1]) + y[2] ** 3 * y[0]
    np.testing.assert_allclose(curl(grad(potential))(x), np.zeros(3), atol=1e-12)
    # div ∇φ = Δφ
    assert float(div(grad(potential))(x)) == pytest.approx(float(laplacian(potential)(x)))
    # div in 2 dimensions: F = (x0², x0 x1) → 2x0 + x0 = 3x0
    assert float(div(lambda y: y * y[0])(np.array([2.0, 5.0]))) == pytest.approx(6.0)


# ------------------------------------------------------------------ higher-order functions
def _phi(x, y):
    """A scalar coupling of x and y (x may be a scalar or a vector)."""
    return pnp.sum(pnp.sin(x) * y + x * x * y * y)


def _vphi(x, y):
    """A vector coupling: shape of x, for jacobian-type and vector-calculus operators."""
    return pnp.sin(x) * y + x * x * x * y * y + (_ROT @ x if np.ndim(x) and len(x) == 3 else 0.0)


_Y = 0.8
_XV = np.array([0.2, -0.5, 1.1])
_V = np.array([1.0, 0.5, -2.0])
HIGHER_ORDER = {
    # name: (operator applied as op(F)(*args), F(x) -> x-function of y, arguments)
    'diff': (diff, _phi, (0.3,)),
    'fdiff': (fdiff, _phi, (0.3,)),
    'diff2': (diff2, _phi, (0.3,)),
    'fdiff2': (fdiff2, _phi, (0.3,)),
    'diffn3': (lambda f: diffn(3, f), _phi, (0.3,)),
    'fdiffn3': (lambda f: fdiffn(3, f), _phi, (0.3,)),
    'grad': (grad, _phi, (_XV,)),
    'fgrad': (fgrad, _phi, (_XV,)),
    'value_and_grad': (value_and_grad, _phi, (_XV,)),
    'gradv': (gradv, _phi, (_XV, _V)),
    'fgradv': (fgradv, _phi, (_XV, _V)),
    'hessian': (hessian, _phi, (_XV,)),
    'fhessian': (fhessian, _phi, (_XV,)),
    'hessianv': (hessianv, _phi, (_XV, _V)),
    'fhessianv': (fhessianv, _phi, (_XV, _V)),
    'gradhessian': (gradhessian, _phi, (_XV,)),
    'fgradhessian': (fgradhessian, _phi, (_XV,)),
    'gradhessianv': (gradhessianv, _phi, (_XV, _V)),
    'fgradhessianv': (fgradhessianv, _phi, (_XV, _V)),
    'laplacian': (laplacian, _phi, (_XV,)),
    'flaplacian': (flaplacian, _phi, (_XV,)),
    'jacobian': (jacobian, _vphi, (_XV,)),
    'fjacobian': (fjacobian, _vphi, (_XV,)),
    'jacfwd': (jacfwd, _vphi, (_XV,)),
    'fjacfwd': (fjacfwd, _vphi, (_XV,)),
    'jacrev': (jacrev, _vphi, (_XV,)),
    'fjacrev': (fjacrev, _vphi, (_XV,)),
    'jacobianT': (jacobianT, _vphi, (_XV,)),
    'fjacobianT': (fjacobianT, _vphi, (_XV,)),
    'jacobianv': (jacobianv, _vphi, (_XV, _V)),
    'fjacobianv': (fjacobianv, _vphi, (_XV, _V)),
    'jacobianTv': (jacobianTv, _vphi, (_XV, _V)),
    'fjacobianTv': (fjacobianTv, _vphi, (_XV, _V)),
    'curl': (curl, _vphi, (_XV,)),
    'fcurl': (fcurl, _vphi, (_XV,)),
    'div': (div, _vphi, (_XV,)),
    'fdiv': (fdiv, _vphi, (_XV,)),
    'curldiv': (curldiv, _vphi, (_XV,)),
    'fcurldiv': (fcurldiv, _vphi, (_XV,)),
    'jvp': (lambda F: (lambda x, v: jvp(F, x, v)), _vphi, (_XV, _V)),
    'vjp': (lambda F: (lambda x, u: vjp(F, x)), _vphi, (_XV, _V)),
}


@pytest.mark.parametrize('name', list(HIGHER_ORDER))
def test_operator_of_function_returning_function(name):
    """op(x ↦ (y ↦ φ(x, y)))(x) is a function of y equal to y ↦ op(x ↦ φ(x, y))(x),
    and it differentiates afresh at every call (two different y, called twice)."""
    op, phi, args = HIGHER_ORDER[name]
    curried = op(lambda x: (lambda y: phi(x, y)))(*args)
    assert callable(curried)
    for y in (_Y, -1.7, _Y):
        _same_result(name, curried(y), op(lambda x: phi(x, y))(*args))


def _same_result(name, got, want):
    if name == 'vjp':
        (gv, gp), (wv, wp) = got, want
        assert_tree_close(gv, wv, rtol=1e-14)
        assert_tree_close(gp(_V), wp(_V), rtol=1e-14)
    else:
        assert_tree_close(got, want, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize('name', list(HIGHER_ORDER))
def test_operator_of_function_returning_functions_in_a_pytree(name):
    """op(x ↦ {'f': y ↦ φ(x, y), 'g': (y ↦ φ(x, 2y), φ(x, 0.5))})(x) keeps the structure:
    each function leaf is y ↦ op(x ↦ φ(x, ...))(x), afresh at every call, and the other
    leaf is op(x ↦ φ(x, 0.5))(x).  (This once failed: 'the function returned a function'.)"""
    op, phi, args = HIGHER_ORDER[name]
    out = op(lambda x: {'f': lambda y: phi(x, y),
                        'g': (lambda y: phi(x, 2 * y), phi(x, 0.5))})(*args)
    assert sorted(out) == ['f', 'g'] and callable(out['f']) and callable(out['g'][0])
    _same_result(name, out['g'][1], op(lambda x: phi(x, 0.5))(*args))
    for y in (_Y, -1.7, _Y):
        _same_result(name, out['f'](y), op(lambda x: phi(x, y))(*args))
        _same_result(name, out['g'][0](y), op(lambda x: phi(x, 2 * y))(*args))


def test_function_in_a_pytree_must_keep_its_structure():
    calls = []

    def f(x):
        calls.append(x)
        return (lambda y: x * y,) if len(calls) == 1 else (lambda y: x * y, x)
    g, = diff(f)(2.0)
    with pytest.raises(ValueError, match='same structure'):
        g(1.0)


def test_diffn_with_swapped_arguments_says_so():
    with pytest.raises(TypeError, match=r'order first: diffn\(n, f\)'):
        diffn(pnp.sin, 2)
    with pytest.raises(TypeError, match='order first'):
        fdiffn(pnp.sin, 3)
    with pytest.raises(ValueError, match='non-negative integer'):
        diffn(-1, pnp.sin)
    assert diffn(2, pnp.sin)(0.5) == pytest.approx(-math.sin(0.5))


def test_higher_order_nested_two_levels():
    # f(x) = λy.λz. x² y z: d/dx = 2xyz
    assert diff(lambda x: lambda y: lambda z: x * x * y * z)(3.0)(2.0)(5.0) == pytest.approx(60.0)
    g = grad(lambda x: lambda y: pnp.sum(x * x) * y)(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g(3.0), [6.0, 12.0])


# ------------------------------------------------------------------ concurrency and scale
def test_thread_safety_eight_threads():
    fns = [lambda x, k=k: pnp.sum(pnp.sin(x * (k + 1)) * x) + diff(lambda t: t * x[0] * k)(1.0)
           for k in range(8)]
    xs = [np.linspace(-1.0, 1.0, 4) + 0.1 * k for k in range(8)]
    serial = [(grad(f)(x), hessian(f)(x)) for f, x in zip(fns, xs)]
    results = [None] * 8
    errors = []
    barrier = threading.Barrier(8)

    def work(i):
        try:
            barrier.wait()
            out = None
            for _ in range(20):
                out = (grad(fns[i])(xs[i]), hessian(fns[i])(xs[i]))
                assert_tree_close(out, serial[i], rtol=0, atol=0)
            results[i] = out
        except Exception as exc:           # reported below with its thread
            errors.append((i, exc))
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for got, want in zip(results, serial):
        assert_tree_close(got, want, rtol=0, atol=0)


def test_chain_of_a_million_operations():
    # x ↦ x·a + b, 5·10⁵ times: 10⁶ primitive applications on one tape.
    # d/dx = a^N exactly (the additions do not change it).
    a, b, n = 1.0000001, 1e-9, 500_000

    def f(x):
        for _ in range(n):
            x = x * a + b
        return x
    g = grad(f)(1.0)           # no RecursionError: the sweep is a loop
    assert g == pytest.approx(a ** n, rel=1e-9)


def test_repeated_grad_calls_do_not_grow_memory():
    f = lambda x: pnp.sum(x * x)
    x = np.array([0.1, 0.2, 0.3])
    for _ in range(500):
        grad(f)(x)
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(200):
            grad(f)(x)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(10_000):
            grad(f)(x)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # a leak of one small object per call would be ≥ 10⁴ · 50 bytes
    assert after - before < 100_000, f'memory grew by {after - before} bytes over 10⁴ calls'


# ------------------------------------------------------------------ dtypes
def test_integer_inputs_are_refused_naming_the_argument():
    # integers are constants (as in JAX and autograd): differentiating one is an error
    with pytest.raises(TypeError, match=r'grad: the input is an integer \(int\).*3\.0'):
        grad(lambda x: x * x)(3)
    with pytest.raises(TypeError, match='diff: the input is an integer'):
        diff(lambda x: x ** 3)(2)
    with pytest.raises(TypeError, match='jacobian: the input is an integer.*int32'):
        jacobian(lambda x: x * x)(np.array([1, 2], dtype=np.int32))
    with pytest.raises(TypeError, match='hessian: the input is an integer'):
        hessian(lambda x: pnp.sum(x ** 3))(np.array([1, 2], dtype=np.int64))
    with pytest.raises(TypeError, match=r"grad: the input at \['b'\] is an integer"):
        grad(lambda p: p['a'] * p['b'])({'a': 2.0, 'b': 5})
    with pytest.raises(TypeError, match=r'grad: argument 1 is a boolean'):
        grad(lambda x, b: x * b, argnums=1)(2.0, True)
    # an integer outside argnums is passed through as a constant
    assert grad(lambda x, n: x ** n)(2.0, 3) == pytest.approx(12.0)


def test_float32_kept():
    x = np.array([1.0, 2.0], dtype=np.float32)
    assert grad(lambda x: pnp.sum(x * x))(x).dtype == np.float32
    assert jacobian(lambda x: x * x)(x).dtype == np.float32
    assert hessian(lambda x: pnp.sum(x ** 3))(x).dtype == np.float32
