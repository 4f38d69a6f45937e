"""Linear algebra added for SciPy users: sqrtm, solve_sylvester, solve_banded, eigh's
UPLO, and pinv's derivatives at an ill-conditioned full-rank matrix (against a
60-digit mpmath reference)."""
import mpmath
import numpy as onp
import pytest
import scipy.linalg as sl

import pyad
import pyad.linalg as la
import pyad.numpy as pnp
from pyad.testing import check_grads


def _rng(seed=0):
    return onp.random.default_rng(seed)


def _exact_hvp(x, u, v, digits=60):
    """H v of f(x) = <u, (xᵀx)⁻¹> in mpmath: with M = xᵀx and W = M⁻¹ uᵀ M⁻¹,
    ∇f = -x (W + Wᵀ), and its derivative along v."""
    with mpmath.workdps(digits):
        X, U, V = (mpmath.matrix(a.tolist()) for a in (x, u, v))
        Mi = (X.T * X) ** -1
        W = Mi * U.T * Mi
        dM = V.T * X + X.T * V
        dMi = -Mi * dM * Mi
        dW = dMi * U.T * Mi + Mi * U.T * dMi
        H = -V * (W + W.T) - X * (dW + dW.T)
        return onp.array(H.tolist(), dtype=float)


def test_pinv_hessian_at_an_ill_conditioned_full_rank_matrix():
    rng = _rng()
    U, _ = onp.linalg.qr(rng.standard_normal((4, 4)))
    V, _ = onp.linalg.qr(rng.standard_normal((4, 4)))
    x = U @ onp.diag([1.0, 0.3, 1e-2, 5e-4]) @ V.T        # cond(xᵀx) = 4e6
    u, v = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    exact = _exact_hvp(x, u, v)
    for f in (lambda x: pnp.sum(u * la.pinv(x.T @ x)), lambda x: pnp.sum(u * la.inv(x.T @ x))):
        for hv in (pyad.hessianv(f)(x, v), pyad.jvp(pyad.grad(f), x, v)[1]):
            onp.testing.assert_allclose(hv, exact, rtol=1e-6, atol=1e-6 * onp.abs(exact).max())


@pytest.mark.parametrize('shape', [(5, 3), (3, 5), (4, 4)])
def test_pinv_rank_deficient_and_rectangular_still_right(shape):
    a = _rng(1).standard_normal(shape)
    check_grads(la.pinv, a, order=2)
    # rank deficient: the projector terms are kept (the derivative holds at constant rank)
    low = a[:, :1] @ a[:1, :]
    check_grads(lambda d: la.pinv(low + d[0] * onp.outer(a[:, 0], a[0, :])), onp.array([0.1]), order=2)


def test_solve_sylvester():
    rng = _rng(2)
    a = rng.standard_normal((3, 3)) + 3 * onp.eye(3)
    b = rng.standard_normal((2, 2)) + 2 * onp.eye(2)
    q = rng.standard_normal((3, 2))
    onp.testing.assert_allclose(la.solve_sylvester(a, b, q), sl.solve_sylvester(a, b, q), rtol=1e-12)
    check_grads(lambda abq: la.solve_sylvester(*abq), (a, b, q), order=2)
    abq32 = tuple(m.astype(onp.float32) for m in (a, b, q))
    assert la.solve_sylvester(*abq32).dtype == onp.float32
    check_grads(lambda abq: la.solve_sylvester(*abq), abq32, order=2)
    with pytest.raises(ValueError, match=r'solve_sylvester: a is \(3, 3\) and b is \(2, 2\), so q must be \(3, 2\)'):
        la.solve_sylvester(a, b, q.T)


@pytest.mark.parametrize('kind', ['spd', 'nonsymmetric', 'stack'])
def test_sqrtm(kind):
    rng = _rng(3)
    m = rng.standard_normal((3, 3))
    a = {'spd': m @ m.T + onp.eye(3), 'nonsymmetric': 2 * onp.eye(3) + 0.3 * m,
         'stack': onp.stack([m @ m.T + onp.eye(3), 2 * onp.eye(3) + 0.3 * m])}[kind]
    root = la.sqrtm(a)
    onp.testing.assert_allclose(root @ root, a, atol=1e-10)
    if kind != 'stack':
        onp.testing.assert_allclose(root, sl.sqrtm(a), rtol=1e-10)
    check_grads(la.sqrtm, a, order=2)
    check_grads(la.sqrtm, a.astype(onp.float32), order=2)


def test_sqrtm_without_a_real_root_is_an_error():
    with pytest.raises(ValueError, match='sqrtm: the matrix has no real square root'):
        la.sqrtm(onp.diag([1.0, -4.0]))


@pytest.mark.parametrize('lu', [(1, 2), (0, 0), (2, 0)])
@pytest.mark.parametrize('bshape', [(5,), (5, 2)])
def test_solve_banded(lu, bshape):
    rng = _rng(4)
    l, u = lu
    ab = rng.standard_normal((l + u + 1, 5))
    ab[u] += 4.0
    b = rng.standard_normal(bshape)
    onp.testing.assert_allclose(la.solve_banded(lu, ab, b), sl.solve_banded(lu, ab, b), rtol=1e-12)
    check_grads(lambda p: la.solve_banded(lu, *p), (ab, b), order=2)
    check_grads(lambda p: la.solve_banded(lu, *p), (ab.astype(onp.float32), b.astype(onp.float32)),
                order=2)


def test_solve_banded_gradient_matches_the_dense_solve():
    rng = _rng(5)
    ab = rng.standard_normal((3, 4))
    ab[1] += 3.0
    b = rng.standard_normal(4)

    def dense(ab):
        a = onp.zeros((4, 4))
        for i in range(4):
            for j in range(4):
                if 0 <= 1 + i - j <= 2:
                    a[i, j] = ab[1 + i - j, j]
        return a
    g = pyad.grad(lambda ab: pnp.sum(la.solve_banded((1, 1), ab, b) ** 2))(ab)
    gd = pyad.grad(lambda a: pnp.sum(la.solve(a, b) ** 2))(dense(ab))
    onp.testing.assert_allclose(g[1], onp.diag(gd))
    onp.testing.assert_allclose(g[0, 1:], onp.diag(gd, 1))
    onp.testing.assert_allclose(g[2, :-1], onp.diag(gd, -1))
    assert g[0, 0] == 0.0 and g[2, -1] == 0.0       # the unused corners


def test_solve_banded_errors():
    with pytest.raises(ValueError, match=r'solve_banded: ab must have shape \(l \+ u \+ 1, n\)'):
        la.solve_banded((1, 1), onp.ones((2, 4)), onp.ones(4))
    with pytest.raises(ValueError, match='so b must have 4 rows'):
        la.solve_banded((1, 1), onp.ones((3, 4)), onp.ones(3))


@pytest.mark.parametrize('uplo', ['L', 'U'])
def test_eigh_uplo_reads_one_triangle_as_numpy(uplo):
    a = _rng(6).standard_normal((3, 3))          # not symmetric
    w, v = la.eigh(a, UPLO=uplo)
    w0, v0 = onp.linalg.eigh(a, UPLO=uplo)
    onp.testing.assert_allclose(w, w0, rtol=1e-12)
    onp.testing.assert_allclose(onp.abs(v), onp.abs(v0), rtol=1e-10)
    g = pyad.grad(lambda a: pnp.sum(la.eigh(a, UPLO=uplo).eigenvalues ** 3))(a)
    other = onp.triu(g, 1) if uplo == 'L' else onp.tril(g, -1)
    assert onp.all(other == 0.0)               # the triangle not read has no derivative
    check_grads(lambda a: la.eigh(a, UPLO=uplo).eigenvalues, a, order=2)
    # the default symmetrizes (as JAX): equal to NumPy on symmetric input
    s = a + a.T
    onp.testing.assert_allclose(la.eigh(s).eigenvalues, onp.linalg.eigh(s)[0], rtol=1e-12)
    with pytest.raises(ValueError, match="eigh: UPLO must be 'L', 'U' or None"):
        la.eigh(a, UPLO='X')
