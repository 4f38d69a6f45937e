"""pyad.linalg: values against NumPy/SciPy, derivatives to second order in both modes
(check_grads: forward, reverse, batched, and the four nestings), stacks and
broadcasting, errors in the user's terms, and DiffSharp's Newton step."""
import numpy as onp
import pytest
import scipy.linalg

import pyad
import pyad.linalg as la
import pyad.numpy as pnp
from pyad.testing import check_grads

rng = onp.random.default_rng(1234)


def well(*shape):
    """A random well-conditioned square matrix (or stack)."""
    n = shape[-1]
    return rng.standard_normal(shape) + n * onp.eye(n)


def spd(*shape):
    n = shape[-1]
    m = rng.standard_normal(shape)
    return m @ onp.swapaxes(m, -1, -2) + n * onp.eye(n)


def distinct_sv(*shape):
    """A matrix with well-separated singular values."""
    m, n = shape[-2:]
    k = min(m, n)
    u, _ = onp.linalg.qr(rng.standard_normal(shape[:-2] + (m, k)))
    v, _ = onp.linalg.qr(rng.standard_normal(shape[:-2] + (n, k)))
    s = onp.arange(k, 0, -1) + 0.5
    return (u * s) @ onp.swapaxes(v, -1, -2)


# ------------------------------------------------------------------ values
def test_values_match_numpy():
    a, s, b = well(2, 3, 3), spd(2, 3, 3), rng.standard_normal((2, 3, 2))
    onp.testing.assert_allclose(la.solve(a, b), onp.linalg.solve(a, b))
    onp.testing.assert_allclose(la.solve(a[0], b[0, :, 0]), onp.linalg.solve(a[0], b[0, :, 0]))
    onp.testing.assert_allclose(la.solve_symmetric(s, b), onp.linalg.solve(s, b))
    onp.testing.assert_allclose(la.cholesky(s), onp.linalg.cholesky(s))
    onp.testing.assert_allclose(la.cho_solve(la.cholesky(s), b), onp.linalg.solve(s, b))
    onp.testing.assert_allclose(la.cho_solve((la.cholesky(s)[0].T, False), b[0]),
                                onp.linalg.solve(s[0], b[0]))
    onp.testing.assert_allclose(la.solve_triangular(a[0], b[0], lower=True),
                                scipy.linalg.solve_triangular(a[0], b[0], lower=True))
    onp.testing.assert_allclose(la.solve_triangular(a[0], b[0], trans='T'),
                                scipy.linalg.solve_triangular(a[0], b[0], trans='T'))
    onp.testing.assert_allclose(la.inv(a), onp.linalg.inv(a))
    onp.testing.assert_allclose(la.pinv(b), onp.linalg.pinv(b))
    onp.testing.assert_allclose(la.det(a), onp.linalg.det(a))
    sign, logdet = la.slogdet(a)
    onp.testing.assert_allclose(sign * onp.exp(logdet), onp.linalg.det(a))
    w, v = la.eigh(s)
    onp.testing.assert_allclose(w, onp.linalg.eigvalsh(s))
    assert onp.all(onp.diff(w, axis=-1) > 0)
    u, sv, vh = la.svd(b)
    onp.testing.assert_allclose((u * sv[..., None, :]) @ vh, b, atol=1e-12)
    q, r = la.qr(b)
    onp.testing.assert_allclose(q @ r, b, atol=1e-12)
    onp.testing.assert_allclose(la.expm(a[0] / 3), scipy.linalg.expm(a[0] / 3))
    onp.testing.assert_allclose(la.matrix_power(a[0], 3), onp.linalg.matrix_power(a[0], 3))
    onp.testing.assert_allclose(la.matrix_power(a[0], -2), onp.linalg.matrix_power(a[0], -2))
    onp.testing.assert_allclose(la.matrix_power(a, 0), onp.broadcast_to(onp.eye(3), a.shape))
    onp.testing.assert_allclose(la.lstsq(b[0], a[0, :, 0])[0],
                                onp.linalg.lstsq(b[0], a[0, :, 0], rcond=None)[0])
    x = rng.standard_normal((3, 4))
    for ord in (None, 'fro', 'nuc', 1, -1, 2, -2, onp.inf, -onp.inf):
        onp.testing.assert_allclose(la.norm(x, ord), onp.linalg.norm(x, ord), err_msg=str(ord))
    for ord in (None, 1, 2, 3, 0.5, onp.inf, -onp.inf, 0):
        onp.testing.assert_allclose(la.norm(x, ord, axis=1), onp.linalg.norm(x, ord, axis=1))
    onp.testing.assert_allclose(la.norm(x, axis=0, keepdims=True),
                                onp.linalg.norm(x, axis=0, keepdims=True))
    y = rng.standard_normal((2, 3, 4))
    onp.testing.assert_allclose(la.norm(y, 'nuc', axis=(2, 0), keepdims=True),
                                onp.linalg.norm(y, 'nuc', axis=(2, 0), keepdims=True))


def test_numpy_namespace():
    import pyad.numpy.linalg as npla
    assert pnp.linalg.solve is la.solve and npla.eigh is la.eigh
    a = well(3, 3)
    onp.testing.assert_allclose(pnp.linalg.inv(a), onp.linalg.inv(a))


# ------------------------------------------------------------------ derivatives
A3, AS = well(3, 3), well(2, 3, 3)
S3, SS = spd(3, 3), spd(2, 3, 3)

CASES = {
    'solve matrix b': (lambda ab: la.solve(*ab), (A3, rng.standard_normal((3, 2)))),
    'solve vector b': (lambda ab: la.solve(*ab), (A3, rng.standard_normal(3))),
    'solve stack, vector b': (lambda ab: la.solve(*ab), (AS, rng.standard_normal(3))),
    'solve broadcast stacks': (lambda ab: la.solve(*ab), (A3, rng.standard_normal((2, 3, 2)))),
    'solve stack both': (lambda ab: la.solve(*ab), (AS, rng.standard_normal((2, 3, 1)))),
    'solve_symmetric': (lambda ab: la.solve_symmetric(*ab), (SS, rng.standard_normal((2, 3, 2)))),
    'solve_symmetric vector': (lambda ab: la.solve_symmetric(*ab), (S3, rng.standard_normal(3))),
    'cholesky': (la.cholesky, SS),
    'cho_solve': (lambda ab: la.cho_solve(la.cholesky(ab[0]), ab[1]), (S3, rng.standard_normal(3))),
    'solve_triangular lower': (lambda ab: la.solve_triangular(ab[0], ab[1], lower=True),
                               (AS, rng.standard_normal((3, 2)))),
    'solve_triangular upper trans': (lambda ab: la.solve_triangular(ab[0], ab[1], trans=1),
                                     (A3, rng.standard_normal(3))),
    'inv': (la.inv, AS),
    'det': (la.det, AS),
    'det 2x2': (la.det, well(2, 2)),
    'slogdet': (lambda a: la.slogdet(a).logabsdet, AS),
    'slogdet both outputs': (lambda a: la.slogdet(a).sign * la.slogdet(a).logabsdet, A3),
    'pinv tall': (la.pinv, distinct_sv(2, 4, 3)),
    'pinv wide': (la.pinv, distinct_sv(3, 4)),
    'lstsq': (lambda ab: la.lstsq(*ab)[0], (distinct_sv(4, 3), rng.standard_normal(4))),
    'cho_solve stack': (lambda ab: la.cho_solve(la.cholesky(ab[0]), ab[1]),
                        (SS, rng.standard_normal((2, 3, 2)))),
    'lstsq stack': (lambda ab: la.lstsq(*ab)[0], (distinct_sv(2, 4, 3), rng.standard_normal((2, 4, 1)))),
    'lstsq matrix': (lambda ab: la.lstsq(*ab)[0], (distinct_sv(4, 3), rng.standard_normal((4, 2)))),
    'eigh': (la.eigh, SS),
    'eigh values': (lambda a: la.eigh(a).eigenvalues, S3),
    'svd tall': (la.svd, distinct_sv(2, 4, 3)),
    'svd wide': (la.svd, distinct_sv(3, 4)),
    'svd square': (la.svd, distinct_sv(3, 3)),
    'svd values': (lambda a: la.svd(a, compute_uv=False), rng.standard_normal((3, 4))),
    'qr': (la.qr, rng.standard_normal((2, 4, 3))),
    'qr square': (la.qr, well(3, 3)),
    'expm': (la.expm, 0.4 * rng.standard_normal((2, 3, 3))),
    'matrix_power 3': (lambda a: la.matrix_power(a, 3), AS),
    'matrix_power -2': (lambda a: la.matrix_power(a, -2), A3),
    'norm vector 2': (lambda x: la.norm(x), rng.standard_normal(4)),
    'norm vector 1': (lambda x: la.norm(x, 1, axis=-1), rng.standard_normal((2, 4))),
    'norm vector inf': (lambda x: la.norm(x, onp.inf, axis=0), rng.standard_normal((4, 2))),
    'norm vector -inf': (lambda x: la.norm(x, -onp.inf), rng.standard_normal(4)),
    'norm vector p': (lambda x: la.norm(x, 3.5, axis=1, keepdims=True), rng.standard_normal((2, 4))),
    'norm fro': (lambda x: la.norm(x, 'fro'), rng.standard_normal((3, 4))),
    'norm nuc': (lambda x: la.norm(x, 'nuc'), distinct_sv(3, 4)),
    'norm spectral': (lambda x: la.norm(x, 2, axis=(1, 2)), distinct_sv(2, 3, 4)),
    'norm -2': (lambda x: la.norm(x, -2), distinct_sv(3, 3)),
    'norm matrix 1': (lambda x: la.norm(x, 1), rng.standard_normal((3, 4))),
    'norm matrix inf': (lambda x: la.norm(x, onp.inf), rng.standard_normal((3, 4))),
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_check_grads_order2(name):
    f, x = CASES[name]
    check_grads(f, x, order=2)


def test_scalar_function_of_matrix_hessian():
    # a Hessian through several primitives at once (forward over reverse, batched)
    def f(a):
        return la.slogdet(a).logabsdet + pnp.sum(la.solve(a, pnp.ones(3)) ** 2) + la.norm(la.inv(a))
    check_grads(f, well(3, 3), order=2)
    H = pyad.hessian(f)(well(3, 3))
    assert H.shape == (3, 3, 3, 3)


def test_third_order_expm_and_inv():
    a = 0.3 * rng.standard_normal((2, 2))
    d3 = pyad.diffn(3, lambda s: la.expm(s * a)[0, 1])(0.7)
    e = scipy.linalg.expm(0.7 * a)
    onp.testing.assert_allclose(d3, (a @ a @ a @ e)[0, 1], rtol=1e-8)
    d3 = pyad.diff(pyad.grad(pyad.diff(lambda s: la.inv(onp.eye(2) + s * a)[1, 0])))(0.2)
    m = onp.linalg.inv(onp.eye(2) + 0.2 * a)
    onp.testing.assert_allclose(d3, (-6 * m @ a @ m @ a @ m @ a @ m)[1, 0], rtol=1e-8)


def test_newton_step_lands_on_quadratic_minimum():
    q = spd(4, 4)
    c = rng.standard_normal(4)

    def f(x):
        return 0.5 * x @ (q @ x) - c @ x + 3.0

    x = rng.standard_normal(4)
    g, H = pyad.gradhessian(f)(x)
    x_new = x - la.solve_symmetric(H, g)
    onp.testing.assert_allclose(x_new, onp.linalg.solve(q, c), rtol=1e-10)
    onp.testing.assert_allclose(pyad.grad(f)(x_new), onp.zeros(4), atol=1e-10)


def test_gradient_of_solve_matches_closed_form():
    a, b = well(3, 3), rng.standard_normal(3)
    ga, gb = pyad.grad(lambda ab: pnp.sum(la.solve(*ab)))((a, b))
    w = onp.linalg.solve(a.T, onp.ones(3))
    x = onp.linalg.solve(a, b)
    onp.testing.assert_allclose(gb, w)
    onp.testing.assert_allclose(ga, -onp.outer(w, x))


def test_symmetric_functions_have_symmetric_gradients():
    s = spd(3, 3)
    for f in (lambda a: pnp.sum(la.cholesky(a) ** 2), lambda a: pnp.sum(la.eigh(a).eigenvectors[0]),
              lambda a: pnp.sum(la.solve_symmetric(a, pnp.ones(3)))):
        g = pyad.grad(f)(s)
        onp.testing.assert_allclose(g, g.T, atol=1e-12)


def test_eigh_derivative_is_rayleigh_quotient():
    s = spd(4, 4)
    w, v = onp.linalg.eigh(s)
    e = rng.standard_normal((4, 4))
    e = e + e.T
    dw = pyad.jvp(lambda a: la.eigh(a).eigenvalues, s, e)[1]
    onp.testing.assert_allclose(dw, onp.einsum('ji,jk,ki->i', v, e, v), rtol=1e-10)


# ------------------------------------------------------------------ errors
def test_errors_name_function_and_shapes():
    with pytest.raises(ValueError, match=r'solve: .*square.*\(3, 4\)'):
        la.solve(onp.ones((3, 4)), onp.ones(3))
    with pytest.raises(ValueError, match=r'solve: a has shape \(3, 3\) but b has shape \(4,\)'):
        la.solve(well(3, 3), onp.ones(4))
    with pytest.raises(ValueError, match=r'solve: .*\(2, 3, 3\).*\(4, 3, 1\)'):
        la.solve(well(2, 3, 3), onp.ones((4, 3, 1)))
    with pytest.raises(ValueError, match='inv: .*shape \\(3,\\)'):
        la.inv(onp.ones(3))
    with pytest.raises(ValueError, match='det: .*square'):
        pyad.grad(la.det)(onp.ones((2, 3)))
    with pytest.raises(ValueError, match='lstsq: a has shape'):
        la.lstsq(onp.ones((4, 3)), onp.ones(3))
    with pytest.raises(ValueError, match='norm: invalid norm order'):
        la.norm(onp.ones((3, 3)), 'bogus')
    with pytest.raises(NotImplementedError, match='full_matrices'):
        la.svd(onp.ones((3, 3)), full_matrices=True)


def test_singular_and_indefinite_matrices():
    sing = onp.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(la.LinAlgError, match='solve: .*[Ss]ingular'):
        la.solve(sing, onp.ones(2))
    with pytest.raises(la.LinAlgError, match='inv: '):
        pyad.grad(lambda a: pnp.sum(la.inv(a)))(sing)
    # det's derivative is the adjugate, defined at singular matrices:
    # d/ds det(s A) = 2 s det(A) = 0 at a singular 2x2 A
    assert pyad.diff(lambda s: la.det(sing * s))(1.0) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(la.LinAlgError, match='cholesky: .*not positive definite'):
        la.cholesky(-onp.eye(3))
    with pytest.raises(la.LinAlgError, match='solve_symmetric: .*not positive definite'):
        la.solve_symmetric(-onp.eye(3), onp.ones(3))
    assert issubclass(la.LinAlgError, onp.linalg.LinAlgError)


def test_batched_jacobians_of_stacks():
    a = well(2, 3, 3)
    J = pyad.jacfwd(la.inv)(a)
    Jr = pyad.jacrev(la.inv)(a)
    assert J.shape == (2, 3, 3, 2, 3, 3)
    onp.testing.assert_allclose(J, Jr, atol=1e-12)
    # the stacks do not interact
    onp.testing.assert_allclose(J[0, :, :, 1], 0.0)
