"""pyad.fixed_point: values, derivatives in a and in closed-over values, every
forward/reverse nesting to third order (Heron's square root against closed forms),
pytrees, batched passes, errors, and constant memory in the number of iterations."""
import math

import numpy as onp
import pytest

import pyad
import pyad.numpy as pnp
import pyad.linalg as la
from pyad import fixed_point, diff, grad
from pyad.fixed_point import FixedPointError
from pyad.testing import check_grads


def heron(a, x):
    return (x + a / x) / 2


def sqrt_fp(a):
    return fixed_point(heron, a, 1.0)


A = 2.0
D1 = 0.5 * A ** -0.5
D2 = -0.25 * A ** -1.5
D3 = 0.375 * A ** -2.5

FIRST = {'diff': diff, 'grad': grad}
SECOND = {
    'diff of diff': lambda f: diff(diff(f)),
    'grad of diff': lambda f: grad(diff(f)),
    'diff of grad': lambda f: diff(grad(f)),
    'grad of grad': lambda f: grad(grad(f)),
    'diff2': pyad.diff2,
}
THIRD = {
    f'{a} of {b} of {c}': (lambda ops: lambda f: ops[0](ops[1](ops[2](f))))((FIRST[a], FIRST[b], FIRST[c]))
    for a in FIRST for b in FIRST for c in FIRST
}
THIRD['diffn 3'] = lambda f: pyad.diffn(3, f)


def test_value():
    assert abs(sqrt_fp(A) - math.sqrt(A)) < 1e-14
    x = fixed_point(heron, onp.array([2.0, 9.0]), onp.ones(2))
    onp.testing.assert_allclose(x, [math.sqrt(2), 3.0], rtol=1e-14)


@pytest.mark.parametrize('op', sorted(FIRST))
def test_first_derivative(op):
    assert abs(FIRST[op](sqrt_fp)(A) - D1) < 1e-12


@pytest.mark.parametrize('op', sorted(SECOND))
def test_second_derivative(op):
    assert abs(SECOND[op](sqrt_fp)(A) - D2) < 1e-12


@pytest.mark.parametrize('op', sorted(THIRD))
def test_third_derivative(op):
    assert abs(THIRD[op](sqrt_fp)(A) - D3) < 1e-11


def test_closed_over_variables_both_modes_and_nested():
    # x = sqrt(a c) with c closed over: d/dc, d2/(da dc), d2/dc2 against closed forms
    def g(a, c):
        return fixed_point(lambda a_, x: (x + a_ * c / x) / 2, a, 1.0)

    a, c = 2.0, 3.0
    r = math.sqrt(a * c)
    for op in (diff, grad):
        assert abs(op(lambda c_: g(a, c_))(c) - 0.5 * a / r) < 1e-12
        # inner in a (argument), outer in c (closure), both orders of modes
        for outer in (diff, grad):
            d = outer(lambda c_: op(lambda a_: g(a_, c_))(a))(c)
            assert abs(d - 0.25 / r) < 1e-12, (op, outer)
            d = outer(lambda c_: op(lambda c2: g(a, c2))(c_))(c)
            assert abs(d - (-0.25 * a * a / r ** 3)) < 1e-12, (op, outer)


def test_closure_only_no_dependence_on_a():
    # f ignores a; the derivative comes from the closure alone
    def g(c):
        return fixed_point(lambda _, x: 0.5 * pnp.cos(x) * c, None, 0.0)

    def residual_grad(c):
        # implicit derivative of x = c cos(x)/2: dx/dc = (cos x / 2) / (1 + c sin x / 2)
        x = g(c)
        return (math.cos(x) / 2) / (1 + c * math.sin(x) / 2)

    for op in (diff, grad):
        assert abs(op(g)(0.7) - residual_grad(0.7)) < 1e-10


def test_pytrees_and_check_grads():
    def f(a, x):
        u, v = x
        return ((u + a['p'] / u) / 2, 0.3 * pnp.tanh(v * a['q']) + 0.2 * u)

    def g(a):
        u, v = fixed_point(f, a, (1.0, onp.zeros(3)), tol=1e-14)
        return pnp.sum(v) * u

    a = {'p': 2.0, 'q': onp.array([0.5, -1.0, 2.0])}
    check_grads(g, a, order=2, rtol=1e-4)
    ga = grad(g)(a)
    assert set(ga) == {'p', 'q'} and ga['q'].shape == (3,)


def test_linear_fixed_point_matches_linalg():
    # x = M x + b  <=>  x = (I - M)^-1 b: derivatives in M and b against linalg.solve
    rng = onp.random.default_rng(0)
    m = 0.2 * rng.standard_normal((3, 3))
    b = rng.standard_normal(3)

    def via_fp(mb):
        m_, b_ = mb
        return pnp.sum(fixed_point(lambda _, x: m_ @ x + b_, None, pnp.zeros(3), tol=1e-14) ** 2)

    def via_solve(mb):
        m_, b_ = mb
        return pnp.sum(la.solve(onp.eye(3) - m_, b_) ** 2)

    g1, g2 = grad(via_fp)((m, b)), grad(via_solve)((m, b))
    for x, y in zip(g1, g2):
        onp.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)
    h1 = pyad.hessian(lambda b_: via_fp((m, b_)))(b)
    h2 = pyad.hessian(lambda b_: via_solve((m, b_)))(b)
    onp.testing.assert_allclose(h1, h2, rtol=1e-8, atol=1e-10)


def test_hessian_of_function_calling_it():
    def f(v):
        r = fixed_point(heron, v, pnp.ones(2))
        return pnp.sum(r) * v[0]

    def closed(v):
        return pnp.sum(pnp.sqrt(v)) * v[0]

    v = onp.array([2.0, 3.0])
    onp.testing.assert_allclose(pyad.hessian(f)(v), pyad.hessian(closed)(v), rtol=1e-10)
    onp.testing.assert_allclose(pyad.jacfwd(pyad.grad(f))(v), pyad.hessian(closed)(v), rtol=1e-10)
    onp.testing.assert_allclose(pyad.jacrev(pyad.grad(f))(v), pyad.hessian(closed)(v), rtol=1e-10)
    onp.testing.assert_allclose(pyad.hessianv(f)(v, onp.array([1.0, -2.0])),
                                pyad.hessian(closed)(v) @ [1.0, -2.0], rtol=1e-10)


def test_vector_check_grads_batched():
    check_grads(lambda a: fixed_point(heron, a, pnp.ones(3), tol=1e-14),
                onp.array([2.0, 3.0, 5.0]), order=2, rtol=1e-4)


def test_float32():
    a = onp.float32(2.0)
    x = fixed_point(heron, onp.array([a]), onp.ones(1, onp.float32))
    assert x.dtype == onp.float32
    g = grad(lambda a_: pnp.sum(fixed_point(heron, a_, onp.ones(1, onp.float32))))(onp.array([a]))
    assert g.dtype == onp.float32
    assert abs(float(g[0]) - D1) < 1e-5


def test_no_convergence_raises_with_residual():
    with pytest.raises(FixedPointError, match=r'max_iter=50.*residual'):
        fixed_point(lambda a, x: x + a, 1.0, 0.0, max_iter=50)
    with pytest.raises(FixedPointError, match='max_iter=20'):
        grad(lambda a: fixed_point(lambda a_, x: 0.999 * x + a_, a, 0.0, max_iter=20))(1.0)
    with pytest.raises(ValueError, match='structure'):
        fixed_point(lambda a, x: (x, x), 1.0, 0.0)
    with pytest.raises(ValueError, match='max_iter'):
        fixed_point(heron, 2.0, 1.0, max_iter=0)


def test_memory_does_not_grow_with_iterations():
    # slow contraction: hundreds of iterations; only a handful of evaluations of f
    # see values being differentiated (the rest iterate on plain numbers)
    traced_calls = []

    def f(a, x):
        y = 0.97 * x + 0.03 * pnp.sin(x) + a
        traced_calls.append(isinstance(y, pyad._core.box.Box))
        return y

    g = grad(lambda a: fixed_point(f, a, 0.0))(0.1)
    assert len(traced_calls) > 300
    assert sum(traced_calls) <= 6
    # dx/da = 1 / (1 - 0.97 - 0.03 cos x)
    x = fixed_point(f, 0.1, 0.0)
    assert abs(g - 1 / (0.03 - 0.03 * math.cos(x))) < 1e-6 * abs(g)


def test_dead_tag_values_are_constants():
    stash = []
    diff(lambda c: stash.append(c) or c)(3.0)
    # the stashed dual's tag is dead: it is a constant inside a new derivative
    d = diff(lambda a: fixed_point(lambda a_, x: (x + a_ * stash[0] / x) / 2, a, 1.0))(2.0)
    assert abs(d - 0.5 * 3.0 / math.sqrt(6.0)) < 1e-12


def test_third_order_with_nonzero_jacobian_and_closure():
    # Heron's iteration has ∂f/∂x = 0 at its fixed point; here it does not, and c
    # is closed over: every third-order nesting agrees with the others and with
    # finite differences of the (forward-over-forward) second derivative.
    c = 0.8

    def g(a):
        return fixed_point(lambda a_, x: 0.5 * c * pnp.cos(x) + a_ * x / 3 + a_, a, 0.0, tol=1e-14)

    a = 0.4
    values = {name: op(g)(a) for name, op in THIRD.items()}
    h = 1e-4
    d2 = pyad.diff2(g)
    fd = (d2(a + h) - d2(a - h)) / (2 * h)
    for name, v in values.items():
        assert abs(v - fd) < 1e-6 * max(1.0, abs(fd)), (name, v, fd)
    # and in the closed-over c, mixed with a
    k = lambda c_: grad(lambda a_: fixed_point(
        lambda a2, x: 0.5 * c_ * pnp.cos(x) + a2 * x / 3 + a2, a_, 0.0, tol=1e-14))(a)
    fd_c = (k(c + h) - k(c - h)) / (2 * h)
    for outer in (diff, grad):
        assert abs(outer(k)(c) - fd_c) < 1e-6 * max(1.0, abs(fd_c))


def test_nested_fixed_points():
    # the outer iteration calls an inner fixed point that closes over the outer's a
    def g(a):
        return fixed_point(lambda a_, x: 0.5 * (x + fixed_point(heron, a_, 1.0)), a, 0.0)

    assert abs(g(A) - math.sqrt(A)) < 1e-8
    for op in FIRST.values():
        assert abs(op(g)(A) - D1) < 1e-8
    for op in SECOND.values():
        assert abs(op(g)(A) - D2) < 1e-8
    assert abs(pyad.diffn(3, g)(A) - D3) < 1e-8


@pytest.mark.parametrize('outer', [diff, grad])
@pytest.mark.parametrize('inner', [diff, grad])
def test_no_perturbation_confusion(outer, inner):
    # g(x) = x * d/dy sqrt(x y) at y = 2 = x^1.5 / (2 sqrt 2);  g'(x) = 0.75 sqrt(x / 2)
    def g(x):
        return x * inner(lambda y: fixed_point(lambda a, z: (z + a * x / z) / 2, y, 1.0))(2.0)

    assert abs(outer(g)(3.0) - 0.75 * math.sqrt(1.5)) < 1e-10


# ------------------------------------------------- one-number x (J computed once)
def test_scalar_x_with_batched_directions():
    # x = sqrt(sum a) for a vector a: forward (jacfwd, batched tangents) and reverse
    # (jacrev of a vector-valued function, batched cotangents) through a scalar x
    def g(a):
        return fixed_point(lambda a_, x: (x + pnp.sum(a_) / x) / 2, a, 1.0, tol=1e-14)

    a = onp.array([0.5, 1.5, 2.0])
    want = onp.full(3, 0.5 / math.sqrt(a.sum()))
    for jac in (pyad.jacfwd, pyad.jacrev):
        onp.testing.assert_allclose(jac(g)(a), want, rtol=1e-12)
        onp.testing.assert_allclose(jac(lambda a_: g(a_) * a_)(a),
                                    onp.outer(a, want) + math.sqrt(a.sum()) * onp.eye(3),
                                    rtol=1e-12)


def test_scalar_x_independent_of_x():
    # f does not read x: J is a symbolic zero, x = a^2 at once
    def g(a):
        return fixed_point(lambda a_, x: a_ * a_, a, 0.0)

    for op in FIRST.values():
        assert abs(op(g)(3.0) - 6.0) < 1e-12
    for op in SECOND.values():
        assert abs(op(g)(3.0) - 2.0) < 1e-12


def test_scalar_x_with_pytree_a_partly_traced():
    # a is a dict whose 'p' is differentiated and 'q' is not; c is closed over
    def g(p, c):
        return fixed_point(lambda a, x: (x + a['p'] * a['q'] * c / x) / 2,
                           {'p': p, 'q': 3.0}, 1.0)

    p, c = 2.0, 0.5
    r = math.sqrt(3 * p * c)
    for op in (diff, grad):
        assert abs(op(lambda p_: g(p_, c))(p) - 1.5 * c / r) < 1e-12
        for outer in (diff, grad):
            d = outer(lambda c_: op(lambda p_: g(p_, c_))(p))(c)
            assert abs(d - 0.75 / r) < 1e-12, (op, outer)


@pytest.mark.parametrize('op', sorted(FIRST))
def test_scalar_float32_zero_d(op):
    a = onp.array(2.0, onp.float32)
    d = FIRST[op](lambda a_: fixed_point(heron, a_, onp.array(1.0, onp.float32)))(a)
    assert d.dtype == onp.float32
    assert abs(float(d) - D1) < 1e-5
