"""pyad.linalg.eig: general matrices, complex eigenvalues and eigenvectors; the
derivative checked on functions that do not depend on the eigenvectors' phases."""
import numpy as onp
import pytest

import pyad
import pyad.numpy as np
import pyad.linalg as la
from pyad.testing import check_grads

RNG = onp.random.default_rng(11)
A = RNG.normal(size=(4, 4))                     # real, with complex eigenvalue pairs
C = A + 1j * RNG.normal(size=(4, 4))
STACK = RNG.normal(size=(2, 3, 3))


def gauge_invariant(a):
    """Eigenvalues, |v_ij|^2 and the projectors v_j v_jᴴ: unchanged by v_j -> e^{iθ} v_j."""
    w, v = la.eig(a)
    projectors = np.einsum('...ij,...kj->...jik', v, np.conj(v))
    return np.concatenate([np.ravel(w), np.ravel(np.abs(v) ** 2), np.ravel(projectors)])


def real_gauge_invariant(a):
    w, v = la.eig(a)
    u = onp.arange(1.0, 5.0)
    overlap = np.abs(np.einsum('i,...ij->...j', u, v)) ** 2     # |u·v_j|²
    return np.sum(np.real(w) * np.imag(w)) + np.sum(overlap * np.real(w))


@pytest.mark.parametrize('a', [A, C, STACK, A.astype(onp.float32)],
                         ids=['real', 'complex', 'stack', 'float32'])
def test_values_against_numpy(a):
    w, v = la.eig(a)
    W, V = onp.linalg.eig(a)
    onp.testing.assert_allclose(w, W, rtol=1e-5)
    onp.testing.assert_allclose(v, V, rtol=1e-5, atol=1e-6)
    assert w.dtype == v.dtype == (onp.complex64 if a.dtype in (onp.float32, onp.complex64)
                                  else onp.complex128)
    onp.testing.assert_allclose(la.eigvals(a), W, rtol=1e-5)
    # the value is the same when traced
    w2, v2 = pyad.vjp(la.eig, a)[0]
    onp.testing.assert_allclose(w2, W, rtol=1e-5)


@pytest.mark.parametrize('a', [A, C, STACK], ids=['real', 'complex', 'stack'])
def test_derivatives_of_phase_free_functions(a):
    check_grads(gauge_invariant, a, order=2)


@pytest.mark.parametrize('seed', range(3))
def test_eigenvectors_of_a_complex_matrix_are_numpys_and_differentiable(seed):
    # LAPACK makes each column's largest entry real and positive: v itself is a
    # smooth function of a complex A, and its derivative is that of NumPy's v
    check_grads(la.eig, C, order=2, seed=seed)
    check_grads(lambda a: la.eig(a)[1], STACK + 1j * STACK[::-1], order=2, seed=seed)


@pytest.mark.parametrize('seed', range(3))
def test_sign_free_functions_of_a_real_matrix(seed):
    # (a real matrix: LAPACK's sign of a column may flip under a tiny change)
    outer = lambda a: np.einsum('ij,kj->jik', la.eig(a)[1], la.eig(a)[1])
    check_grads(outer, A, order=2, seed=seed)


def test_single_precision():
    check_grads(gauge_invariant, A.astype(onp.float32), order=2)
    check_grads(gauge_invariant, C.astype(onp.complex64), order=1)
    check_grads(lambda a: la.eig(a)[1], C.astype(onp.complex64), order=2)


def test_real_function_batched_jacobians_and_hessian():
    check_grads(real_gauge_invariant, A, order=2)
    H = pyad.hessian(real_gauge_invariant)(A)
    onp.testing.assert_allclose(H.reshape(16, 16), H.reshape(16, 16).T, rtol=1e-8, atol=1e-10)


def test_reconstruction_has_the_identity_jacobian():
    # V diag(w) V⁻¹ = A whatever the phases: its Jacobian is the identity
    def rebuild(a):
        w, v = la.eig(a)
        return np.real(v @ (w[:, None] * la.inv(v)))
    eye = onp.eye(16).reshape(4, 4, 4, 4)
    onp.testing.assert_allclose(pyad.jacfwd(rebuild)(A), eye, atol=1e-10)
    onp.testing.assert_allclose(pyad.jacrev(rebuild)(A), eye, atol=1e-10)


def test_eigenvalue_derivative_formula():
    # dλ_j = u_jᴴ dA v_j / (u_jᴴ v_j) with left eigenvector u_j: the rows of V⁻¹
    W, V = onp.linalg.eig(C)
    Vinv = onp.linalg.inv(V)
    dA = RNG.normal(size=(4, 4)) + 1j * RNG.normal(size=(4, 4))
    _, dw = pyad.jvp(la.eigvals, C, dA)
    onp.testing.assert_allclose(dw, onp.diag(Vinv @ dA @ V), rtol=1e-10)


def test_symmetric_matrix_agrees_with_eigh():
    S = A + A.T
    f = lambda a: np.sum(np.sort(np.real(la.eigvals(a))) * onp.arange(4.0))
    g = lambda a: np.sum(la.eigh(a)[0] * onp.arange(4.0))
    G = pyad.grad(f)(S)
    onp.testing.assert_allclose(G + G.T, pyad.grad(g)(S) + pyad.grad(g)(S).T, atol=1e-10)


def test_repeated_eigenvalues():
    # the eigenvalues' sum is the trace: its gradient exists, the identity
    onp.testing.assert_allclose(pyad.grad(lambda a: np.real(np.sum(la.eigvals(a))))(onp.eye(3)),
                                onp.eye(3), atol=1e-12)
    # the eigenvectors' derivative does not: inf or nan, never a finite wrong number
    with onp.errstate(divide='ignore', invalid='ignore'):
        _, (_, dv) = pyad.jvp(la.eig, onp.eye(3), RNG.normal(size=(3, 3)))
    assert not onp.all(onp.isfinite(dv))


def test_errors():
    with pytest.raises(ValueError, match='eig: a must be square'):
        la.eig(onp.ones((2, 3)))
    with pytest.raises(ValueError, match='eig'):
        la.eig(onp.ones(3))


def test_complex_inv_and_solve():
    check_grads(la.inv, C, order=2)
    b = RNG.normal(size=4) + 1j * RNG.normal(size=4)
    check_grads(lambda a: la.solve(a, b), C, order=2)
    check_grads(lambda x: la.solve(A + onp.diag(x), b), RNG.normal(size=4), order=2)


def test_numpy_eig_on_traced_values_is_pyad():
    f = lambda a: onp.sum(onp.abs(onp.linalg.eig(a)[0]) ** 2)
    g = lambda a: np.sum(np.abs(la.eigvals(a)) ** 2)
    onp.testing.assert_allclose(pyad.grad(f)(A), pyad.grad(g)(A), rtol=1e-12)
