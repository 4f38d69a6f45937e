"""The engine's shortcuts give the same answers as the general paths they skip."""
import numpy as onp

import pyad
import pyad.numpy as np
from pyad.numpy.products import _diagonal_of

rng = onp.random.default_rng(7)


def test_jacobians_through_identity_seeds():
    # jacfwd starts from an identity seed; jacrev meets a diagonal after tanh:
    # both take the row-scaling shortcut in matmul's rules (n >= 16)
    W = rng.standard_normal((40, 40)) / 6
    x = rng.standard_normal(40)
    want = (1 - onp.tanh(W @ x) ** 2)[:, None] * W
    f = lambda x: np.tanh(W @ x)
    onp.testing.assert_allclose(pyad.jacfwd(f)(x), want, rtol=1e-12, atol=1e-14)
    onp.testing.assert_allclose(pyad.jacrev(f)(x), want, rtol=1e-12, atol=1e-14)
    g = lambda x: np.tanh(x @ W)
    want_t = (1 - onp.tanh(x @ W) ** 2)[:, None] * W.T
    onp.testing.assert_allclose(pyad.jacfwd(g)(x), want_t, rtol=1e-12, atol=1e-14)
    onp.testing.assert_allclose(pyad.jacrev(g)(x), want_t, rtol=1e-12, atol=1e-14)


def test_diagonal_detection_is_exact():
    d = onp.arange(1.0, 21.0)
    assert onp.array_equal(_diagonal_of(onp.diag(d)), d)
    m = onp.diag(d)
    m[3, 5] = 1e-300
    assert _diagonal_of(m) is None
    assert _diagonal_of(onp.ones((20, 20))) is None
    assert _diagonal_of(onp.eye(20)[:, :19]) is None      # not square


def test_hessian_with_many_directions_matches_closed_form():
    A = rng.standard_normal((50, 30))
    x = rng.standard_normal(30) * 0.1
    f = lambda x: np.log(np.sum(np.exp(A @ x))) + 0.5 * np.sum(x * x)
    z = A @ x
    p = onp.exp(z - z.max())
    p /= p.sum()
    want = A.T @ (p[:, None] * A - onp.outer(p, p @ A)) + onp.eye(30)
    onp.testing.assert_allclose(pyad.hessian(f)(x), want, rtol=1e-10, atol=1e-12)


def test_indexing_adjoints_accumulate_in_place_correctly():
    x = rng.standard_normal(50)

    def f(x):
        total = 0.0
        for i in range(49):
            total = total + np.sin(x[i]) * np.cos(x[i + 1]) + x[[i, i]].sum()
        return total

    got = pyad.grad(f)(x)
    want = onp.zeros(50)
    for i in range(49):
        want[i] += onp.cos(x[i]) * onp.cos(x[i + 1]) + 2
        want[i + 1] += -onp.sin(x[i]) * onp.sin(x[i + 1])
    onp.testing.assert_allclose(got, want, rtol=1e-12)


def test_in_place_accumulation_never_writes_into_a_shared_cotangent():
    # y is used three times; its adjoint is summed from cotangents that alias the
    # seed and each other (add's VJP passes g straight through)
    def f(x):
        y = x * 1.0
        return np.sum(y + y + y) + np.sum(y)

    x = onp.ones(4)
    assert onp.array_equal(pyad.grad(f)(x), 4 * onp.ones(4))
    v, pullback = pyad.vjp(lambda x: (x + x) + x, x)
    u = onp.arange(4.0)
    u_copy = u.copy()
    assert onp.array_equal(pullback(u), 3 * u_copy)
    assert onp.array_equal(u, u_copy)        # the caller's cotangent is untouched
    assert onp.array_equal(pullback(u), 3 * u_copy)   # and a pullback may be reused
