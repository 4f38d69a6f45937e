"""The engine's shortcuts give the same answers as the general paths they skip."""
import numpy as onp
import pytest

import pyad
import pyad.numpy as np
from pyad.numpy import elementwise as _ew
from pyad.numpy._batching import scalar_of_broadcast
from pyad.numpy.indexing import _slab_complement
from pyad import backend
from pyad.numpy.products import _diagonal_of, _directions_times
from pyad.testing import check_grads

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


@pytest.mark.parametrize('dtype', [onp.float32, onp.float64])
def test_identity_directions_times_m_is_m_read_only(dtype):
    """An identity batch of directions times m (a Jacobian's first product) is m
    itself, bit for bit the product's, handed on read-only; other diagonals scale
    rows; a seed of another dtype takes the product (its promotion)."""
    m = rng.standard_normal((20, 7)).astype(dtype)
    eye = onp.eye(20, dtype=dtype)
    got = _directions_times(eye, m)
    assert onp.array_equal(got, eye @ m) and got.dtype == (eye @ m).dtype
    assert not got.flags.writeable and onp.shares_memory(got, m) and m.flags.writeable
    d = onp.arange(1.0, 21.0, dtype=dtype)
    scaled = _directions_times(onp.diag(d), m)
    assert scaled.flags.writeable and onp.allclose(scaled, onp.diag(d) @ m)
    other = onp.eye(20, dtype=onp.float32 if dtype == onp.float64 else onp.float64)
    mixed = _directions_times(other, m)
    assert mixed.dtype == (other @ m).dtype and onp.array_equal(mixed, other @ m)


def test_jacobians_are_arrays_of_their_own():
    """A Jacobian or Hessian is a writable array sharing no memory with the
    function's constants, also where a shortcut handed a read-only view of one on
    (a linear function's Jacobian is its matrix; a sum's cotangent a broadcast)."""
    W = rng.standard_normal((30, 30))
    x = rng.standard_normal(30)
    fs = [lambda v: W @ v, lambda v: v @ W, lambda v: np.tanh(W @ v), lambda v: np.sum(v) * onp.ones(3),
          lambda v: np.broadcast_to(np.sum(v), (4,))]
    for f in fs:
        for op in (pyad.jacfwd, pyad.jacrev, pyad.jacobian):
            J = op(f)(x)
            assert J.flags.writeable and not onp.shares_memory(J, W), (op.__name__, f)
    H = pyad.hessian(lambda v: 0.5 * v @ (W @ v))(x)
    assert H.flags.writeable and not onp.shares_memory(H, W)
    onp.testing.assert_allclose(H, 0.5 * (W + W.T), rtol=1e-12)
    J = pyad.jacfwd(lambda v: W @ v)(x)
    J[0, 0] += 1.0                      # the user's own array: W is untouched
    assert J[0, 0] == W[0, 0] + 1.0


@pytest.mark.parametrize('dtype', [onp.float32, onp.float64, onp.complex128])
def test_identity_rows_are_rows_of_the_identity(dtype):
    for n, size, offset in [(5, 2, 0), (5, 3, 2), (4, 4, 0), (3, 1, 2), (3, 0, 3)]:
        got = backend.identity_rows(onp, n, size, offset, dtype)
        want = onp.eye(n, size, k=-offset, dtype=dtype)
        assert got.dtype == want.dtype and onp.array_equal(got, want)


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


# ---- elementwise rules that save passes over arrays (the Rosenbrock workload, W4)

SQUARES = {
    'x*x': lambda x: x * x,
    'multiply(x, x)': lambda x: np.multiply(x, x),
    'x**2': lambda x: x ** 2,
    'square': lambda x: np.square(x),
}


def test_square_of_one_variable_first_and_second_order():
    # x * x with the same object in both places: one fused contribution (2 x g) per
    # rule, in both modes; check_grads compares fwd, rev and finite differences to order 2
    for name, sq in SQUARES.items():
        for x in (0.7, onp.float64(-1.3), rng.standard_normal(5), rng.standard_normal((2, 3))):
            check_grads(lambda x: sq(x) * np.sin(x), x, order=2)
            check_grads(lambda x: np.sum(sq(sq(x) - 1.0)), x, order=2)
        x, v = rng.standard_normal(6), rng.standard_normal(6)
        f = lambda x: np.sum(3.0 * sq(x))                    # noqa: E731
        onp.testing.assert_allclose(pyad.grad(f)(x), 6 * x, rtol=1e-14)
        onp.testing.assert_allclose(pyad.hessianv(f)(x, v), 6 * v, rtol=1e-14)
        onp.testing.assert_allclose(pyad.hessian(f)(x), 6 * onp.eye(6), rtol=1e-14)
        onp.testing.assert_allclose(pyad.diffn(3, lambda t: sq(t) * t)(0.5), 6.0, rtol=1e-12)


def test_square_third_order_and_float32():
    x = rng.standard_normal(4)
    check_grads(lambda x: np.sum(np.sin(x) * x * x) + np.sum(x ** 2 * np.cos(x)), x, order=3)
    x32 = x.astype(onp.float32)
    for sq in SQUARES.values():
        f = lambda x: np.sum(sq(x) * 2.0)                    # noqa: E731
        g = pyad.grad(f)(x32)
        assert g.dtype == onp.float32
        onp.testing.assert_allclose(g, 4 * x32, rtol=1e-6)
        h = pyad.hessianv(f)(x32, onp.ones(4, onp.float32))
        assert h.dtype == onp.float32
        onp.testing.assert_allclose(h, 4 * onp.ones(4), rtol=1e-6)


def test_one_array_in_two_leaves_gets_both_cotangents():
    # two variables holding the same array: x * y must give each its own cotangent
    # (the rule sees the same primal twice and must not fold them into one)
    a = rng.standard_normal(5)
    p = {'x': a, 'y': a}
    for mul in (lambda u, w: u * w, np.multiply, lambda u, w: np.sum(u * w) * (u * w)):
        g = pyad.grad(lambda p: np.sum(mul(p['x'], p['y'])))(p)
        want = pyad.grad(lambda p: np.sum(mul(p['x'], p['y'])))({'x': a, 'y': a.copy()})
        onp.testing.assert_allclose(g['x'], want['x'], rtol=1e-14)
        onp.testing.assert_allclose(g['y'], want['y'], rtol=1e-14)
    onp.testing.assert_allclose(pyad.grad(lambda p: np.sum(p['x'] * p['y']))(p)['x'], a)
    check_grads(lambda p: np.sum(np.sin(p['x'] * p['y'])), p, order=2)
    check_grads(lambda p: p['x'] ** 2 * p['y'], p, order=2)


def test_cotangent_of_a_sum_is_handled_as_a_scalar():
    x = rng.standard_normal((3, 4))
    cases = [(lambda x: np.sum(3.0 * x), 3.0 * onp.ones((3, 4))),
             (lambda x: np.sum(-x), -onp.ones((3, 4))),
             (lambda x: np.sum(1.0 - x), -onp.ones((3, 4))),
             (lambda x: np.mean(x * 2.0), onp.full((3, 4), 2.0 / 12)),
             (lambda x: np.sum(x ** 2), 2 * x),
             (lambda x: np.sum(np.exp(x)), onp.exp(x)),
             (lambda x: np.sum(x * onp.arange(4.0)), onp.broadcast_to(onp.arange(4.0), (3, 4))),
             (lambda x: np.sum(onp.ones((2, 3, 4)) * x), onp.full((3, 4), 2.0)),
             (lambda x: np.sum(x[:, :1] - x), onp.hstack([onp.full((3, 1), 3.0), -onp.ones((3, 3))]))]
    for f, want in cases:
        g = pyad.grad(f)(x)
        onp.testing.assert_allclose(g, want, rtol=1e-14)
        assert g.flags.writeable                    # the user's own array, not a view
        g32 = pyad.grad(f)(x.astype(onp.float32))
        assert g32.dtype == onp.float32
        check_grads(f, x, order=2)
    # a broadcast cotangent given by the caller, through broadcasting operands
    y = rng.standard_normal((1, 4))
    _, pullback = pyad.vjp(lambda p: p[0] * p[1] - p[1], (x[:, :1], y))
    gx, gy = pullback(onp.broadcast_to(2.0, (3, 4)))
    onp.testing.assert_allclose(gx, 2 * y.sum(axis=1, keepdims=True) * onp.ones((3, 1)))
    onp.testing.assert_allclose(gy, 2 * (x[:, :1].sum() - 3) * onp.ones((1, 4)))


def test_scalar_of_broadcast_only_for_all_zero_strides():
    assert scalar_of_broadcast(onp.broadcast_to(2.5, (3, 4))) == 2.5
    assert scalar_of_broadcast(onp.broadcast_to(onp.float32(2.5), (3,))).dtype == onp.float32
    assert scalar_of_broadcast(onp.broadcast_to(onp.arange(4.0), (3, 4))) is None
    assert scalar_of_broadcast(onp.ones(3)) is None
    assert scalar_of_broadcast(onp.broadcast_to(1.0, (1,))) is None
    assert scalar_of_broadcast(2.5) is None


@pytest.mark.parametrize('shapes', [((), ()), ((3,), (3,)), ((3,), (2, 3)), ((2, 1), (1, 3)),
                                    ((), (2, 3))], ids=str)
def test_scaled_multiply(shapes):
    x, y = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    f = lambda p: _ew.scaled_multiply(p[0], p[1], scale=-2.5)          # noqa: E731
    onp.testing.assert_allclose(f((x, y)), -2.5 * x * y, rtol=1e-14)
    check_grads(f, (x, y), order=2)
    check_grads(lambda x: _ew.scaled_multiply(x, x, scale=1.5), x, order=2)
    assert _ew.scaled_multiply(onp.ones(2, onp.float32), onp.ones(2, onp.float32),
                               scale=2.0).dtype == onp.float32


def test_slice_adjoint_writes_once_and_zeros_the_rest():
    assert _slab_complement((slice(1, None),), (5,)) == [(slice(0, 1),)]
    assert _slab_complement((slice(None, -1),), (5,)) == [(slice(4, None),)]
    assert _slab_complement((slice(None), slice(1, 3)), (2, 5)) == [
        (slice(None), slice(0, 1)), (slice(None), slice(3, None))]
    assert _slab_complement((slice(None),), (5, 2)) == []
    for idx, shape in (((slice(None, None, 2),), (5,)), ((slice(1, None), slice(1, None)), (3, 3)),
                       ((slice(2, 1),), (5,)), ((1,), (5,)), ((slice(1, None), None), (5,))):
        assert _slab_complement(idx, shape) is None
    x = rng.standard_normal((4, 5))
    for idx in (onp.s_[1:], onp.s_[:-1], onp.s_[:, 1:], onp.s_[:, 1:3], onp.s_[1:3, :],
                onp.s_[::2], onp.s_[:], onp.s_[..., 2:], onp.s_[1:, 1:]):
        w = rng.standard_normal(x[idx].shape)
        want = onp.zeros_like(x)
        want[idx] = 2 * w
        onp.testing.assert_allclose(pyad.grad(lambda x: np.sum(2 * w * x[idx]))(x), want)
        check_grads(lambda x: x[idx] * x[idx], x, order=2)
    # Rosenbrock's pattern: two overlapping slices of one vector
    z = rng.standard_normal(7)
    rosen = lambda x: np.sum(100.0 * (x[1:] - x[:-1] * x[:-1]) ** 2 + (1.0 - x[:-1]) ** 2)  # noqa: E731
    a, b = z[:-1], z[1:]
    want = onp.zeros(7)
    want[:-1] = -400 * a * (b - a * a) - 2 * (1 - a)
    want[1:] += 200 * (b - a * a)
    onp.testing.assert_allclose(pyad.grad(rosen)(z), want, rtol=1e-12)
    check_grads(rosen, z, order=2)


def test_rules_called_directly_equal_the_reference_call():
    """The sweep calls the VJP rules of a one- or two-argument record without
    argument lists; the reference mode calls them through Primitive.apply_vjp.  On
    scalar code (no lazy factors) the two give the same bits, at first and second
    order, with constants on either side and a where."""
    import math
    xs = onp.linspace(0.1, 1.3, 9)

    def f(x):
        s = 0.0
        for i in range(8):
            a, b = x[i], x[i + 1]
            s = s + np.sin(a) * np.cos(b) + 2.0 * a - b / 3.0 + a ** 2 + \
                np.where(a > 0.5, a * b, 1.0 - b) + np.exp(-a) * math.pi
        return s

    fast = pyad.grad(f)(xs), pyad.hessian(f)(xs)
    with pyad.testing.reference():
        ref = pyad.grad(f)(xs), pyad.hessian(f)(xs)
    for got, want in zip(fast, ref):
        onp.testing.assert_array_equal(got, want)
