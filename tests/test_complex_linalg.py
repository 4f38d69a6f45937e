"""Complex matrices in pyad.linalg: values against NumPy/SciPy, both rules against
finite differences on the real and imaginary parts (check_grads, second order,
complex128 and complex64), the holomorphic option where the function is
holomorphic, and gauge-invariant functions for the factorizations whose vectors
carry a free phase (svd, eigh)."""
import numpy as onp
import pytest
import scipy.linalg as sla

import pyad
import pyad.numpy as np
import pyad.linalg as la
from pyad.testing import check_grads

RNG = onp.random.default_rng(23)


def crandn(*shape):
    return RNG.normal(size=shape) + 1j * RNG.normal(size=shape)


A = crandn(3, 3) + 3 * onp.eye(3)                 # well-conditioned square
TALL = crandn(4, 3)
WIDE = crandn(2, 4)
B = crandn(3, 2)
HPD = A @ A.conj().T + onp.eye(3)                 # Hermitian positive definite
HERM = (A + A.conj().T) / 2                       # Hermitian, distinct eigenvalues
LOW = onp.tril(A)
STACK = crandn(2, 3, 3) + 3 * onp.eye(3)
SYL_A, SYL_B, SYL_Q = crandn(3, 3) + 2 * onp.eye(3), crandn(2, 2) + 2 * onp.eye(2), crandn(3, 2)


def low_precision(x):
    return x.astype(onp.complex64 if onp.iscomplexobj(x) else onp.float32)


# ----------------------------------------------------------------- the functions
def svd_invariants(a):
    """S, |U|², |V|² and the rank-one pieces u_j v_jᴴ: free of the pairs' phases."""
    u, s, vh = la.svd(a)
    pieces = np.einsum('...ij,...jk->...jik', u, vh)
    return np.concatenate([np.ravel(s), np.ravel(np.abs(u) ** 2), np.ravel(np.abs(vh) ** 2),
                           np.ravel(pieces)])


def eigh_invariants(a, UPLO=None):
    """The eigenvalues, |V|² and the projectors v_j v_jᴴ: free of the phases."""
    w, v = la.eigh(a, UPLO=UPLO)
    projectors = np.einsum('...ij,...kj->...jik', v, np.conj(v))
    return np.concatenate([np.ravel(w), np.ravel(np.abs(v) ** 2), np.ravel(projectors)])


def slogdet_both(a):
    sign, logabsdet = la.slogdet(a)
    return np.concatenate([np.ravel(sign), np.ravel(logabsdet)])


def qr_both(a):
    q, r = la.qr(a)
    return np.concatenate([np.ravel(q), np.ravel(r)])


RHS = crandn(4)


def lstsq_x(a):
    return la.lstsq(a, RHS[:a.shape[0]])[0]


# name: (function of one complex array, its input, holomorphic)
CASES = {
    'slogdet': (slogdet_both, A, False),
    'slogdet stack': (slogdet_both, STACK, False),
    'svd square': (svd_invariants, A, False),
    'svd tall': (svd_invariants, TALL, False),
    'svd wide': (svd_invariants, WIDE, False),
    'svd stack': (svd_invariants, STACK, False),
    'svd values': (lambda a: la.svd(a, compute_uv=False), TALL, False),
    'norm 2': (lambda a: la.norm(a, 2), TALL, False),
    'norm -2': (lambda a: la.norm(a, -2), TALL, False),
    'norm nuc': (lambda a: la.norm(a, 'nuc'), A, False),
    'qr square': (qr_both, A, False),
    'qr tall': (qr_both, TALL, False),
    'cholesky': (la.cholesky, HPD, False),
    'cholesky of a non-Hermitian input': (la.cholesky, HPD + 0.3 * crandn(3, 3), False),
    'eigh': (eigh_invariants, HERM, False),
    'eigh stack': (eigh_invariants, (STACK + onp.conj(onp.swapaxes(STACK, -1, -2))) / 2, False),
    'eigh L': (lambda a: eigh_invariants(a, 'L'), HERM + onp.triu(crandn(3, 3), 1), False),
    'eigh U': (lambda a: eigh_invariants(a, 'U'), HERM + onp.tril(crandn(3, 3), -1), False),
    'eigvalsh-like': (lambda a: la.eigh(a)[0], A, False),
    'pinv tall': (la.pinv, TALL, False),
    'pinv wide': (la.pinv, WIDE, False),
    'lstsq tall': (lstsq_x, TALL, False),
    'lstsq wide': (lstsq_x, WIDE, False),
    'lstsq residuals': (lambda a: la.lstsq(a, RHS)[1], TALL, False),
    'solve_symmetric': (lambda a: la.solve_symmetric(a, B), HPD, False),
    'solve_symmetric in b': (lambda b: la.solve_symmetric(HPD, b), B, True),
    'cho_solve': (lambda c: la.cho_solve(c, B), onp.linalg.cholesky(HPD), False),
    'cho_solve upper': (lambda c: la.cho_solve((c, False), B), onp.linalg.cholesky(HPD).conj().T,
                        False),
    'cho_solve in b': (lambda b: la.cho_solve(onp.linalg.cholesky(HPD), b), B, True),
    'solve_triangular': (lambda a: la.solve_triangular(a, B, lower=True), LOW, True),
    'solve_triangular T': (lambda a: la.solve_triangular(a, B, trans='T'), LOW.T, True),
    'solve_triangular C': (lambda a: la.solve_triangular(a, B, trans='C', lower=True), LOW,
                           False),
    'solve_triangular in b': (lambda b: la.solve_triangular(LOW, b, lower=True), B, True),
    'solve_triangular stack': (lambda a: la.solve_triangular(a, B, lower=True),
                               onp.tril(STACK), True),
    'expm': (la.expm, 0.5 * A, True),
    'expm stack': (la.expm, 0.3 * STACK, True),
    'sqrtm': (la.sqrtm, A, True),
    # (eigenvalues -2 + i, -3 - i/2: off the branch cut, the negative real axis)
    'sqrtm with eigenvalues of negative real part': (
        la.sqrtm, onp.array([[-2.0 + 1j, 1.0], [0.0, -3.0 - 0.5j]]), True),
    'solve_sylvester in a': (lambda a: la.solve_sylvester(a, SYL_B, SYL_Q), SYL_A, True),
    'solve_sylvester in b': (lambda b: la.solve_sylvester(SYL_A, b, SYL_Q), SYL_B, True),
    'solve_sylvester in q': (lambda q: la.solve_sylvester(SYL_A, SYL_B, q), SYL_Q, True),
    'slogdet sign': (lambda a: la.slogdet(a)[0], A, False),
    'solve': (lambda a: la.solve(a, B), A, True),
    'solve in b': (lambda b: la.solve(A, b), B, True),
    'matrix_power': (lambda a: la.matrix_power(a, 3), A, True),
    'det': (la.det, A, True),
    'inv': (la.inv, A, True),
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_against_finite_differences_complex128(name):
    f, x, _ = CASES[name]
    check_grads(f, x, order=2)


@pytest.mark.parametrize('name', sorted(CASES))
def test_against_finite_differences_complex64(name):
    f, x, _ = CASES[name]
    check_grads(f, low_precision(x), order=2)


HOLOMORPHIC = sorted(n for n, (_, _, h) in CASES.items() if h)


def complex_jacobian_by_differences(f, z, h=1e-6):
    """d vec f / d vec z of a holomorphic f, by central differences along the real axis."""
    z = onp.asarray(z, dtype=complex)
    cols = []
    for i in range(z.size):
        e = onp.zeros(z.shape, dtype=complex)
        e.flat[i] = h
        cols.append(onp.ravel(onp.asarray(f(z + e)) - onp.asarray(f(z - e))) / (2 * h))
    return onp.stack(cols, axis=-1)


@pytest.mark.parametrize('name', HOLOMORPHIC)
def test_holomorphic_jacobians(name):
    f, x, _ = CASES[name]
    want = complex_jacobian_by_differences(f, x)
    fwd = onp.asarray(pyad.jacfwd(f, holomorphic=True)(x)).reshape(want.shape)
    rev = onp.asarray(pyad.jacrev(f, holomorphic=True)(x)).reshape(want.shape)
    onp.testing.assert_allclose(fwd, want, rtol=1e-6, atol=1e-7)
    onp.testing.assert_allclose(rev, want, rtol=1e-6, atol=1e-7)
    # second order: the holomorphic Jacobian of the holomorphic JVP along a fixed direction
    t = onp.ones_like(x)
    d1 = lambda z: pyad.jvp(f, (z,), (t,))[1]
    want2 = complex_jacobian_by_differences(d1, x)
    got2 = onp.asarray(pyad.jacrev(d1, holomorphic=True)(x)).reshape(want2.shape)
    onp.testing.assert_allclose(got2, want2, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('name', ['svd square', 'eigh', 'cholesky', 'qr square', 'slogdet',
                                  'pinv tall'])
def test_non_holomorphic_functions_say_so(name):
    # their real-imaginary derivative is not complex-linear: check_grads passes but
    # the complex Jacobian differs along 1 and along i
    f, x, _ = CASES[name]
    t = onp.zeros_like(x)
    t.flat[1] = 1.0
    along_1 = onp.ravel(pyad.jvp(f, (x,), (t,))[1])
    along_i = onp.ravel(pyad.jvp(f, (x,), (1j * t,))[1])
    assert not onp.allclose(along_i, 1j * along_1, atol=1e-6)


# ----------------------------------------------------------------- values
def test_values_against_numpy_and_scipy():
    close = onp.testing.assert_allclose
    sign, logabs = la.slogdet(A)
    close(sign, onp.linalg.slogdet(A)[0], rtol=1e-12)
    close(logabs, onp.linalg.slogdet(A)[1], rtol=1e-12)
    u, s, vh = la.svd(TALL)
    close(s, onp.linalg.svd(TALL, compute_uv=False), rtol=1e-12)
    close((u * s) @ vh, TALL, rtol=1e-12)
    q, r = la.qr(TALL)
    close(q @ r, TALL, rtol=1e-12)
    close(onp.imag(onp.diag(r)), 0.0, atol=0)
    close(la.cholesky(HPD), onp.linalg.cholesky(HPD), rtol=1e-12)
    w, v = la.eigh(HERM)
    close(w, onp.linalg.eigvalsh(HERM), rtol=1e-12)
    assert w.dtype == onp.float64
    for uplo in ('L', 'U'):
        close(la.eigh(HERM + 0.1j * onp.eye(3), UPLO=uplo)[0],
              onp.linalg.eigh(HERM + 0.1j * onp.eye(3), UPLO=uplo)[0], rtol=1e-12)
    close(la.pinv(WIDE), onp.linalg.pinv(WIDE), rtol=1e-12)
    close(la.norm(TALL, 2), onp.linalg.norm(TALL, 2), rtol=1e-12)
    close(la.norm(A, 'nuc'), onp.linalg.norm(A, 'nuc'), rtol=1e-12)
    close(la.solve_symmetric(HPD, B), onp.linalg.solve(HPD, B), rtol=1e-12)
    close(la.cho_solve(onp.linalg.cholesky(HPD), B), onp.linalg.solve(HPD, B), rtol=1e-12)
    close(la.solve_triangular(LOW, B, lower=True, trans='C'),
          sla.solve_triangular(LOW, B, lower=True, trans='C'), rtol=1e-12)
    close(la.expm(A), sla.expm(A), rtol=1e-12)
    close(la.sqrtm(A), sla.sqrtm(A), rtol=1e-10)
    close(la.solve_sylvester(SYL_A, SYL_B, SYL_Q), sla.solve_sylvester(SYL_A, SYL_B, SYL_Q),
          rtol=1e-12)


def test_lstsq_values_and_residuals_against_numpy():
    b = crandn(4)
    x, res, rank, sv = la.lstsq(TALL, b)
    X, RES, RANK, SV = onp.linalg.lstsq(TALL, b, rcond=None)
    onp.testing.assert_allclose(x, X, rtol=1e-10)
    onp.testing.assert_allclose(res, RES, rtol=1e-10)
    assert rank == RANK and res.dtype == RES.dtype
    onp.testing.assert_allclose(sv, SV, rtol=1e-12)


def test_values_when_traced():
    # the same numbers under differentiation
    (sign, logabs), _ = pyad.vjp(la.slogdet, A)
    onp.testing.assert_allclose(sign, onp.linalg.slogdet(A)[0], rtol=1e-12)
    (w, v), _ = pyad.vjp(la.eigh, HERM)
    onp.testing.assert_allclose(w, onp.linalg.eigvalsh(HERM), rtol=1e-12)


# ----------------------------------------------------------------- special points and gauges
def test_gradient_of_log_abs_det_is_the_conjugate_inverse_transpose():
    # d log|det Z| = Re tr(Z⁻¹ dZ) = Re Σ (Z⁻ᵀ ∘ dZ): under the pairing Re Σ g t the
    # gradient (JAX's ∂f/∂X - i ∂f/∂Y) is Z⁻ᵀ
    g = pyad.grad(lambda a: la.slogdet(a)[1])(A)
    onp.testing.assert_allclose(g, onp.linalg.inv(A).T, rtol=1e-10)


def test_singular_values_gradient_is_the_conjugate_rank_one_piece():
    # ds_j = Re(u_jᴴ dA v_j): the gradient of s_j is conj(u_j v_jᴴ)
    u, s, vh = onp.linalg.svd(TALL, full_matrices=False)
    g = pyad.grad(lambda a: la.svd(a, compute_uv=False)[0])(TALL)
    onp.testing.assert_allclose(g, onp.conj(onp.outer(u[:, 0], vh[0])), rtol=1e-10)


def test_eigenvalue_gradient_of_a_hermitian_matrix():
    # dw_j = v_jᴴ dA v_j (dA Hermitian): the gradient is conj(v_j v_jᴴ) = v̄_j v_jᵀ
    w, v = onp.linalg.eigh(HERM)
    g = pyad.grad(lambda a: la.eigh(a)[0][2])(HERM)
    onp.testing.assert_allclose(g, onp.outer(onp.conj(v[:, 2]), v[:, 2]), rtol=1e-10)


def test_phase_of_eigh_and_svd_vectors_does_not_move():
    # the gauge: Im(v_jᴴ dv_j) = 0 for eigh's vectors and svd's V
    t = crandn(3, 3)
    (w, v), (dw, dv) = pyad.jvp(la.eigh, (HERM,), ((t + t.conj().T) / 2,))
    onp.testing.assert_allclose(onp.diag(v.conj().T @ dv), 0.0, atol=1e-12)
    (u, s, vh), (du, ds, dvh) = pyad.jvp(la.svd, (A,), (t,))
    onp.testing.assert_allclose(onp.imag(onp.diag(dvh @ vh.conj().T)), 0.0, atol=1e-12)


def test_qr_keeps_the_diagonal_of_r_real():
    (q, r), (dq, dr) = pyad.jvp(la.qr, (TALL,), (crandn(4, 3),))
    onp.testing.assert_allclose(onp.imag(onp.diag(dr)), 0.0, atol=1e-12)


def test_real_and_complex_arguments_together():
    # a real matrix with a complex right-hand side and the other way round: the real
    # argument's gradient is real
    real_low = onp.tril(RNG.normal(size=(3, 3))) + 3 * onp.eye(3)
    f = lambda m: np.sum(np.abs(la.solve_triangular(m, B, lower=True)) ** 2)
    g = pyad.grad(f)(real_low)
    assert g.dtype == onp.float64
    check_grads(f, real_low, order=2)
    real_spd = (HPD + HPD.conj()).real / 2
    h = lambda m: np.sum(np.abs(la.solve_symmetric(m, B)) ** 2)
    assert pyad.grad(h)(real_spd).dtype == onp.float64
    check_grads(h, real_spd, order=2)
    k = lambda q: np.sum(np.abs(la.solve_sylvester(SYL_A, SYL_B, q)) ** 2)
    check_grads(k, SYL_Q.real, order=2)


def test_hessian_of_a_real_function_of_a_complex_matrix_by_real_parts():
    # the Hessian in the real and imaginary parts, with real inputs throughout
    def f(xy):
        a = xy[0] + 1j * xy[1]
        return np.sum(svd_invariants(a).real) + la.slogdet(a)[1] + np.real(la.eigh(a @ np.conj(a.T))[0][0])
    xy = onp.stack([A.real, A.imag])
    H = pyad.hessian(f)(xy)
    onp.testing.assert_allclose(H.reshape(18, 18), H.reshape(18, 18).T, rtol=1e-7, atol=1e-8)
    check_grads(f, xy, order=2)


def test_singular_slogdet_raises_for_complex_too():
    with pytest.raises(la.LinAlgError, match='slogdet'):
        pyad.grad(lambda a: la.slogdet(a)[1])(crandn(3, 3) * onp.array([[1], [1], [0]]))


def test_real_matrix_with_no_real_square_root_says_what_to_do():
    with pytest.raises(ValueError, match='no real square root.*complex principal root'):
        la.sqrtm(onp.array([[-2.0, 1.0], [0.5, -3.0]]))


def test_order_functions_still_refuse_complex():
    for fn in (np.maximum, np.minimum):
        with pytest.raises(TypeError, match='complex'):
            pyad.grad(lambda z: np.real(fn(z, z[::-1])).sum())(crandn(4))
    for fn in (np.max, np.min, lambda z: np.clip(z, 0, 1)):
        with pytest.raises(TypeError, match='complex'):
            pyad.grad(lambda z: np.real(fn(z)).sum())(crandn(4))


VMAPPED = {
    'slogdet': (lambda a: la.slogdet(a)[1], STACK),
    'svd': (lambda a: la.svd(a, compute_uv=False), STACK),
    'eigh': (lambda a: la.eigh(a)[0], STACK @ onp.conj(onp.swapaxes(STACK, -1, -2))),
    'cholesky': (la.cholesky, STACK @ onp.conj(onp.swapaxes(STACK, -1, -2))),
    'qr': (lambda a: la.qr(a)[1], STACK),
    'expm': (la.expm, 0.3 * STACK),
    'sqrtm': (la.sqrtm, STACK),
    'pinv': (la.pinv, STACK),
    'solve_triangular': (lambda a: la.solve_triangular(a, B, lower=True), STACK),
    'solve_symmetric': (lambda a: la.solve_symmetric(a, B),
                        STACK @ onp.conj(onp.swapaxes(STACK, -1, -2))),
    'solve_sylvester': (lambda a: la.solve_sylvester(a, SYL_B, SYL_Q), STACK),
}


@pytest.mark.parametrize('name', sorted(VMAPPED))
def test_vmap_of_complex_matrices_against_a_loop(name):
    f, xs = VMAPPED[name]
    loss = lambda a: np.sum(np.abs(f(a)) ** 2)
    onp.testing.assert_allclose(pyad.vmap(f)(xs), onp.stack([f(x) for x in xs]), rtol=1e-10)
    onp.testing.assert_allclose(pyad.vmap(pyad.grad(loss))(xs),
                                onp.stack([pyad.grad(loss)(x) for x in xs]), rtol=1e-10)


def test_python_lists_of_complex_numbers():
    rows = [[2.0 + 1.0j, 0.5], [0.3j, 1.0 - 1.0j]]
    onp.testing.assert_allclose(la.svd(rows, compute_uv=False),
                                onp.linalg.svd(onp.array(rows), compute_uv=False), rtol=1e-12)
    onp.testing.assert_allclose(la.expm(rows), sla.expm(onp.array(rows)), rtol=1e-12)
    onp.testing.assert_allclose(la.solve_triangular(rows, [1j, 2.0], lower=True),
                                sla.solve_triangular(onp.array(rows), [1j, 2.0], lower=True),
                                rtol=1e-12)


def _band_matrix(ab, lower, upper):
    n = ab.shape[-1]
    a = onp.zeros((n, n), dtype=ab.dtype)
    for i in range(n):
        for j in range(n):
            if -upper <= i - j <= lower:
                a[i, j] = ab[upper + i - j, j]
    return a


@pytest.mark.parametrize('dtype', [onp.complex128, onp.complex64])
def test_banded_solve_of_complex_matrices(dtype):
    rng = onp.random.default_rng(7)
    ab = (rng.standard_normal((3, 5)) + 1j * rng.standard_normal((3, 5))).astype(dtype)
    ab[1] += 4
    b = (rng.standard_normal((5, 2)) + 1j * rng.standard_normal((5, 2))).astype(dtype)
    tol = dict(rtol=1e-4) if dtype == onp.complex64 else dict(rtol=1e-12)
    onp.testing.assert_allclose(la.solve_banded((1, 1), ab, b), sla.solve_banded((1, 1), ab, b),
                                **tol)
    check_grads(lambda a: la.solve_banded((1, 1), a, b), ab, order=2)
    check_grads(lambda v: la.solve_banded((1, 1), ab, v), b, order=2)
    # a real side meeting a complex one: its cotangent is the real part
    check_grads(lambda a: la.solve_banded((1, 1), a, b), ab.real.copy(), order=2)
    check_grads(lambda v: la.solve_banded((1, 1), ab, v), b.real.copy(), order=2)
    if dtype == onp.complex128:
        # holomorphic: the complex Jacobian in b is A⁻¹ (per column of b)
        J = pyad.jacfwd(lambda v: la.solve_banded((1, 1), ab, v), holomorphic=True)(b[:, 0])
        onp.testing.assert_allclose(J, onp.linalg.inv(_band_matrix(ab, 1, 1)), rtol=1e-12)


