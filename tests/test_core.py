"""The engine's invariants: tags, dead tags, symbolic zeros, the sweep, user primitives."""
import threading

import numpy as np
import pytest

import pyad.numpy as pnp
from pyad import (Primitive, primitive, NonDifferentiableError, diff, diff2, diffn, grad,
                  hessian, hessianv, jacobian, jacfwd, jacrev, jacobianv, jacobianTv, jvp, vjp,
                  laplacian)
from pyad._core.box import Box, lift_dead
from pyad._core.tags import Tag
from pyad.testing import check_grads

from .helpers import run_threads


# ------------------------------------------------------------------ tags
def test_tags_unique_and_monotonic_across_threads():
    per_thread = [[] for _ in range(8)]
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        for _ in range(2000):
            per_thread[i].append(Tag('forward').id)
    run_threads(work, 8)
    every = [t for ids in per_thread for t in ids]
    assert len(every) == len(set(every)) == 16000
    for ids in per_thread:
        assert all(a < b for a, b in zip(ids, ids[1:]))
    assert Tag('reverse').id > max(every)


def test_operator_tags_fresh_per_call_and_retired_afterwards():
    seen = []

    def f(x):
        seen.append(x.tag)
        assert x.tag.live
        return x * x
    for op in (diff, grad, diff, grad):
        op(f)(1.0)
    ids = [t.id for t in seen]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert not any(t.live for t in seen)
    assert [t.mode for t in seen] == ['forward', 'reverse', 'forward', 'reverse']


def test_nested_operator_tags_are_newer_than_outer():
    tags = {}

    def outer(x):
        tags['outer'] = x.tag

        def inner(y):
            tags['inner'] = y.tag
            assert tags['outer'].live and y.tag.live
            return x * y
        return grad(inner)(2.0)
    diff(outer)(1.0)
    assert tags['inner'].id > tags['outer'].id
    assert not tags['inner'].live and not tags['outer'].live


def test_operator_tags_unique_across_threads():
    seen = [[] for _ in range(8)]

    def work(i):
        f = lambda x: (seen[i].append(x.tag.id), x * x)[1]
        for _ in range(200):
            grad(f)(1.0)
            diff(f)(1.0)
    run_threads(work, 8)
    every = [t for ids in seen for t in ids]
    assert len(every) == len(set(every)) == 8 * 400
    for ids in seen:
        assert ids == sorted(ids)


# ------------------------------------------------------------------ dead tags
def _stash_from(op, x=2.0):
    stash = []
    op(lambda x: (stash.append(x * 3.0), x * x)[1])(x)
    return stash[0]


@pytest.mark.parametrize('op', [diff, grad])
def test_dead_values_are_plain_constants(op):
    dead = _stash_from(op)
    assert isinstance(dead, Box) and not dead.tag.live
    assert lift_dead(dead) == 6.0
    # arithmetic with a dead value outside any operator: a plain number, no box
    out = dead * 2.0 + 1.0
    assert not isinstance(out, Box) and out == 13.0
    # inside new operators of both modes: a constant (derivative 0 with respect to it)
    assert diff(lambda y: dead * y)(5.0) == 6.0
    assert grad(lambda y: dead * y)(5.0) == 6.0
    assert diff(lambda y: dead)(5.0) == 0.0
    assert grad(lambda y: dead + 0.0 * y)(5.0) == 0.0
    assert diff2(lambda y: dead * y * y)(1.0) == 12.0
    assert hessian(lambda y: dead * pnp.sum(y * y))(np.ones(2)).tolist() == [[12.0, 0.0],
                                                                            [0.0, 12.0]]


def test_dead_tape_is_not_extended_by_later_use():
    dead = _stash_from(grad)
    tape = dead.tag.tape
    before = len(tape.vals)
    for _ in range(10):
        assert grad(lambda y: dead * y + pnp.sin(dead))(1.0) == 6.0
        assert diff(lambda y: dead * y)(1.0) == 6.0
    assert len(tape.vals) == before


def test_dead_value_at_inner_tag_mixed_with_live_outer():
    def outer(x):
        stash = []
        grad(lambda y: (stash.append(x * y), x * y)[1])(3.0)
        dead_inner = stash[0]          # boxed at the dead inner tag, over the live outer one
        assert not dead_inner.tag.live
        return dead_inner * x          # = 3x², derivative 6x
    assert diff(outer)(2.0) == pytest.approx(12.0)
    assert grad(outer)(2.0) == pytest.approx(12.0)


def test_dead_value_returned_from_function_is_constant_output():
    dead = _stash_from(grad)
    # f returns a value of a dead tag only: the output does not depend on x
    assert grad(lambda x: dead)(1.0) == 0.0
    assert diff(lambda x: dead)(1.0) == 0.0
    J = jacobian(lambda x: x * 0.0 + dead)(np.ones(2))
    np.testing.assert_array_equal(J, np.zeros((2, 2)))


# ------------------------------------------------------------------ symbolic zeros
def _counting_mul():
    """x*y as a user primitive whose rules count their calls per argument."""
    calls = {'jvp0': 0, 'jvp1': 0, 'vjp0': 0, 'vjp1': 0}

    def count(key, value):
        calls[key] += 1
        return value
    mul = Primitive('counting_mul', lambda x, y: x * y)
    mul.def_jvp(lambda t, ans, x, y: count('jvp0', t * y),
                lambda t, ans, x, y: count('jvp1', x * t))
    mul.def_vjp(lambda g, ans, x, y: count('vjp0', g * y),
                lambda g, ans, x, y: count('vjp1', g * x))
    return mul, calls


def test_rule_for_a_constant_argument_is_never_called():
    mul, calls = _counting_mul()
    assert grad(lambda x: mul(x, 3.0))(2.0) == 3.0
    assert calls == {'jvp0': 0, 'jvp1': 0, 'vjp0': 1, 'vjp1': 0}
    assert diff(lambda y: mul(3.0, y))(2.0) == 3.0
    assert calls == {'jvp0': 0, 'jvp1': 1, 'vjp0': 1, 'vjp1': 0}


def test_unused_branch_is_not_swept():
    mul, calls = _counting_mul()

    def f(x):
        unused = mul(x, x)          # recorded on the tape, but no cotangent reaches it
        del unused
        return x * 5.0
    assert grad(f)(2.0) == 5.0
    assert calls['vjp0'] == 0 and calls['vjp1'] == 0


def test_branch_not_depending_on_x_gives_exact_zeros():
    p = {'a': 1.5, 'b': np.array([1.0, 2.0, 3.0]), 'c': np.ones((2, 2), dtype=np.float32)}
    g = grad(lambda p: p['a'] * 2.0)(p)
    assert g['a'] == 2.0
    assert g['b'].shape == (3,) and g['b'].dtype == np.float64 and not g['b'].any()
    assert g['c'].shape == (2, 2) and g['c'].dtype == np.float32 and not g['c'].any()
    # forward mode too: the output that does not depend on x has an exactly zero tangent
    out = jacobianv(lambda x: (x * 2.0, np.ones(3)))(1.0, 1.0)
    assert out[0] == 2.0
    np.testing.assert_array_equal(out[1], np.zeros(3))
    # a constant output leaf takes no part in the sweep: its cotangent is simply dropped
    assert jacobianTv(lambda x: (x * 2.0, np.ones(2)))(3.0, (1.0, np.ones(2))) == 2.0


def test_jacobian_of_partly_constant_output():
    J = jacobian(lambda x: {'dep': x * x, 'const': np.arange(2.0)})(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(J['dep'], np.diag([2.0, 4.0]))
    np.testing.assert_array_equal(J['const'], np.zeros((2, 2)))


# ------------------------------------------------------------------ the sweep reads the input's adjoint
def test_identity_function():
    assert grad(lambda x: x)(3.0) == 1.0
    assert diff(lambda x: x)(3.0) == 1.0
    np.testing.assert_array_equal(jacobian(lambda x: x)(np.ones(3)), np.eye(3))
    np.testing.assert_array_equal(jacrev(lambda x: x)(np.ones(3)), np.eye(3))
    assert grad(lambda p: p[0])((1.0, 2.0)) == (1.0, 0.0)


def test_constant_function():
    assert grad(lambda x: 4.0)(3.0) == 0.0
    assert diff(lambda x: 4.0)(3.0) == 0.0
    g = grad(lambda x: np.float64(4.0))(np.ones(3))
    np.testing.assert_array_equal(g, np.zeros(3))
    assert hessian(lambda x: 4.0)(3.0) == 0.0
    np.testing.assert_array_equal(hessian(lambda x: 4.0)(np.ones(2)), np.zeros((2, 2)))
    np.testing.assert_array_equal(jacobian(lambda x: np.ones(2))(np.ones(3)), np.zeros((2, 3)))


def test_input_used_only_through_a_dead_value():
    dead = _stash_from(grad)
    # the tape records something (dead * 2.0 is plain; x * 0.0 is on the tape) but the
    # last record visited is not the input: its adjoint must be read by its slot
    assert grad(lambda x: dead * 2.0)(5.0) == 0.0
    assert grad(lambda x: (x * 0.0, dead * 2.0)[1])(5.0) == 0.0


def test_last_record_is_not_the_input():
    # the last record involves only y; x's adjoint is read explicitly
    g = grad(lambda p: p[0] * 3.0 + p[1] * p[1])((1.0, 2.0))
    assert g == (3.0, 4.0)
    g = grad(lambda p: p[1] * p[1] + p[0] * 3.0)((1.0, 2.0))
    assert g == (3.0, 4.0)
    # an input that is read only after another input's records
    g = grad(lambda p: pnp.sin(p[1]) * 0.0 + p[0])((1.0, 2.0))
    assert g[0] == 1.0 and g[1] == 0.0


def test_pullback_called_repeatedly_is_independent():
    value, pullback = vjp(lambda x: x * x * 3.0, 2.0)
    assert pullback(1.0) == 12.0
    assert pullback(2.0) == 24.0
    assert pullback(1.0) == 12.0


# ------------------------------------------------------------------ user-defined primitives
def _make_cube():
    cube = Primitive('cube', lambda x: x * x * x)
    # rules written with pyad operations, so that they are differentiable in turn
    cube.def_jvp(lambda t, ans, x: t * (3.0 * x * x))
    cube.def_vjp(lambda g, ans, x: g * (3.0 * x * x))
    return cube


def test_user_primitive_on_plain_values_is_its_implementation():
    cube = _make_cube()
    assert cube(2.0) == 8.0
    np.testing.assert_array_equal(cube(np.array([1.0, 2.0])), [1.0, 8.0])


def test_user_primitive_in_all_modes():
    cube = _make_cube()
    x = 1.5
    assert diff(cube)(x) == pytest.approx(3 * x * x)
    assert grad(cube)(x) == pytest.approx(3 * x * x)
    assert diff2(cube)(x) == pytest.approx(6 * x)
    assert diffn(3, cube)(x) == pytest.approx(6.0)
    assert diffn(4, cube)(x) == pytest.approx(0.0)
    # forward over reverse, reverse over forward, reverse over reverse
    assert hessian(cube)(x) == pytest.approx(6 * x)
    assert grad(diff(cube))(x) == pytest.approx(6 * x)
    assert grad(grad(cube))(x) == pytest.approx(6 * x)
    assert diff(grad(cube))(x) == pytest.approx(6 * x)
    v = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(jacfwd(cube)(v), np.diag(3 * v * v))     # batched tangents
    np.testing.assert_allclose(jacrev(cube)(v), np.diag(3 * v * v))     # batched cotangents
    np.testing.assert_allclose(hessianv(lambda y: pnp.sum(cube(y)))(v, np.ones(3)), 6 * v)
    np.testing.assert_allclose(laplacian(lambda y: pnp.sum(cube(y)))(v), 6 * v.sum())
    value, jv = jvp(cube, v, np.ones(3))
    np.testing.assert_allclose(jv, 3 * v * v)
    check_grads(lambda y: pnp.sum(pnp.sin(cube(y))), v, order=2)


def test_user_primitive_nested_without_confusion():
    cube = _make_cube()
    # d/dx [x · d/dy cube(x·y)|_{y=1}] = d/dx [x · 3x³] = 12x³; at 1: 12
    assert diff(lambda x: x * diff(lambda y: cube(x * y))(1.0))(1.0) == pytest.approx(12.0)
    assert grad(lambda x: x * grad(lambda y: cube(x * y))(1.0))(1.0) == pytest.approx(12.0)


def test_primitive_decorator_and_two_arguments():
    @primitive('scaled_sin')
    def scaled_sin(x, a):
        return a * np.sin(x)
    scaled_sin.def_jvp(lambda t, ans, x, a: t * a * pnp.cos(x),
                       lambda t, ans, x, a: t * pnp.sin(x))
    scaled_sin.def_vjp(lambda g, ans, x, a: g * a * pnp.cos(x),
                       lambda g, ans, x, a: g * pnp.sin(x))
    assert isinstance(scaled_sin, Primitive)
    g = grad(lambda p: scaled_sin(p[0], p[1]))((0.3, 2.0))
    assert g[0] == pytest.approx(2.0 * np.cos(0.3)) and g[1] == pytest.approx(np.sin(0.3))
    assert diff(lambda a: scaled_sin(0.3, a))(2.0) == pytest.approx(np.sin(0.3))
    # mixed partial by forward over reverse: ∂²(a sin x)/∂x∂a = cos x
    H = hessian(lambda p: scaled_sin(p[0], p[1]))((0.3, 2.0))
    assert H[0][1] == pytest.approx(np.cos(0.3)) and H[1][0] == pytest.approx(np.cos(0.3))


def test_user_primitive_with_joint_rules():
    prod = Primitive('prod2', lambda x, y: x * y)
    prod.def_jvp_joint(lambda ts, ans, args, params:
                       (None if ts[0] is None else ts[0] * args[1])
                       if ts[1] is None else
                       (ts[1] * args[0] if ts[0] is None else ts[0] * args[1] + ts[1] * args[0]))
    prod.def_vjp_joint(lambda g, ans, args, params, wanted:
                       [g * args[1] if i == 0 else g * args[0] for i in wanted])
    g = grad(lambda p: prod(p[0], p[1]))((2.0, 5.0))
    assert g == (5.0, 2.0)
    assert diff(lambda x: prod(x, x))(3.0) == 6.0
    assert hessian(lambda p: prod(p[0], p[1]))((2.0, 5.0)) == ((0.0, 1.0), (1.0, 0.0))


def test_non_differentiable_primitive_passes_zero():
    my_floor = Primitive('my_floor', np.floor, nondiff=True)
    assert grad(lambda x: my_floor(x) + x)(2.5) == 1.0
    assert diff(lambda x: my_floor(x) * x)(2.5) == 2.0


def test_primitive_missing_a_rule_says_which():
    half = Primitive('half_defined', lambda x: 2.0 * x)
    half.def_jvp(lambda t, ans, x: 2.0 * t)
    assert diff(half)(1.0) == 2.0
    with pytest.raises(NotImplementedError, match=r"half_defined.*VJP"):
        grad(half)(1.0)


def test_primitive_not_differentiable_in_an_argument():
    p = Primitive('first_only', lambda x, n: x * n)
    p.def_jvp(lambda t, ans, x, n: t * n, None)
    p.def_vjp(lambda g, ans, x, n: g * n, None)
    assert grad(lambda x: p(x, 3.0))(1.0) == 3.0
    with pytest.raises(NonDifferentiableError, match='first_only.*argument 1'):
        grad(lambda n: p(2.0, n))(1.0)
    with pytest.raises(NonDifferentiableError, match='stop_gradient'):
        diff(lambda n: p(2.0, n))(1.0)


# --------------------------------------------------------------- saved values
# A primitive declares what its VJP reads (its reads trait); large arrays that no
# recorded rule reads are replaced on the tape by shape-only stubs.  Setting the
# size threshold to 0 stubs every array, so that the declarations are checked at
# the sizes the tests use.
SAVES_CASES = {
    'add sub neg pos': lambda x, y: pnp.sum(-(x + y) - (+x) + 2.0 - y),
    'exp expm1 sqrt cbrt reciprocal tanh':
        lambda x, y: pnp.sum(pnp.exp(x) * pnp.expm1(y) + pnp.sqrt(x) * pnp.cbrt(y)
                             + pnp.reciprocal(x) * pnp.tanh(y)),
    'multiply broadcasting': lambda x, y: pnp.sum((x * y[0]) * pnp.sin(y) * 3.0),
    'x * x, square, x ** 2': lambda x, y: pnp.sum(x * x + pnp.square(y) + (x - y) ** 2
                                                 + pnp.multiply(y, y) * x),
    'power in both arguments': lambda x, y: pnp.sum(x ** y + 2.0 ** y + x ** 3.5),
    'sum reshape transpose broadcast_to':
        lambda x, y: pnp.sum(pnp.sum(pnp.reshape(x * y, (3, 2)).T, axis=0)[:, None]
                             * pnp.broadcast_to(y[:2], (3, 2))),
    # stubbed by add (which does not read it), then read by sin: put back
    'value read after a stub': lambda x, y: pnp.sum(pnp.sin(pnp.exp(x) * y + (pnp.exp(x) * y))
                                                    + pnp.cos(x * y)),
}


@pytest.mark.parametrize('name', sorted(SAVES_CASES))
def test_saved_values_with_every_array_stubbed(name):
    from pyad._core.config import configured
    f = SAVES_CASES[name]
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0.5, 1.5, 6), rng.uniform(0.5, 1.5, 6)
    with configured(stub_bytes=0):
        check_grads(lambda v: f(v[:6], v[6:]), np.concatenate([x, y]), order=2)


def test_unread_intermediates_are_freed_while_the_function_runs():
    import tracemalloc
    n = 100_000           # 800 kB per array

    def f(x):
        y = x
        for _ in range(30):                   # none of these values is read by a VJP
            y = -(y + 1.0)
        return pnp.sum(y)

    x = np.linspace(0.0, 1.0, n)
    grad(f)(x)
    tracemalloc.start()
    try:
        g = grad(f)(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.all(g == 1.0)
    # the tape would hold 60 arrays (48 MB) if it kept them all
    assert peak < 8 * x.nbytes, f'peak {peak / 1e6:.1f} MB'


def test_a_pullback_can_be_swept_many_times():
    from pyad import vjp
    x = np.linspace(0.5, 1.5, 200_000)
    value, pullback = vjp(lambda v: pnp.exp(v) * 2.0 + v, x)
    for k in (1.0, 2.0, 3.0):
        np.testing.assert_allclose(pullback(np.full_like(x, k)), k * (2.0 * np.exp(x) + 1.0))


def test_in_place_sums_never_write_into_arrays_the_user_can_see():
    from pyad import vjp
    rng = np.random.default_rng(8)
    x = rng.uniform(0.5, 1.5, 5)
    W = rng.standard_normal(5)
    W0 = W.copy()

    # a user primitive whose VJP hands back an array it keeps (not vjp_fresh)
    keep = Primitive('keep', lambda v: v * W)
    keep.def_jvp(lambda t, ans, v: t * W)
    keep.def_vjp(lambda g, ans, v: W if np.all(g == 1.0) else g * W)

    def f(v):
        # keep's record is swept first: W would be the buffer the others sum into
        return pnp.sum(pnp.sin(v) * 2.0 - v * v + keep(v))

    g = grad(f)(x)
    np.testing.assert_allclose(g, W + 2 * np.cos(x) - 2 * x)
    np.testing.assert_array_equal(W, W0)

    # the cotangent the user passes in is never summed into
    u = rng.standard_normal(5)
    u0 = u.copy()
    _, pullback = vjp(lambda v: -(-v) + pnp.exp(v) + v * 3.0, x)
    np.testing.assert_allclose(pullback(u), u * (1 + np.exp(x) + 3.0))
    np.testing.assert_allclose(pullback(u), u * (1 + np.exp(x) + 3.0))
    np.testing.assert_array_equal(u, u0)

    # one new array handed to two arguments (x * y with y the same array)
    def h(v):
        return pnp.sum(pnp.multiply(v[0], v[1]) + pnp.sin(v[0]) + pnp.cos(v[1]))
    a = rng.uniform(0.5, 1.5, 5)
    ga, gb = grad(h)((a, a))
    np.testing.assert_allclose(ga, a + np.cos(a))
    np.testing.assert_allclose(gb, a - np.sin(a))

    # ... as the first contribution of both, one of which is summed into later
    def h2(v):
        return pnp.sum(pnp.cos(v[0])) + pnp.sum(pnp.sin(pnp.multiply(v[0], v[1])))
    ga, gb = grad(h2)((a, a))
    np.testing.assert_allclose(ga, np.cos(a * a) * a - np.sin(a))
    np.testing.assert_allclose(gb, np.cos(a * a) * a)


# Lazy constant factors in the sweep: negations and constant scalings travel as
# Scaled(array, k) and are applied where adjoints with different factors meet,
# by the indexing shortcut, or at the end.  These functions take every path.
W5 = np.array([0.3, -1.2, 0.7, 2.0, -0.4])
FACTOR_CASES = {
    'negations into a rule': (lambda x: pnp.sum(pnp.sin(-(1.0 - x) * 3.0) * W5),
                              lambda x: W5 * 3.0 * np.cos(3.0 * (x - 1.0))),
    'different factors meet': (lambda x: pnp.sum((-pnp.exp(x) + pnp.exp(x) * 3.0 - 0.5 * x) * W5),
                               lambda x: W5 * (2.0 * np.exp(x) - 0.5)),
    'opposite factors meet': (lambda x: pnp.sum(pnp.tanh(x - (-x)) * W5 - pnp.tanh(x) * 2.0),
                              lambda x: 2 * W5 / np.cosh(2 * x) ** 2 - 2.0 / np.cosh(x) ** 2),
    'indexing with a factor': (lambda x: pnp.sum(pnp.sin(-x[1:]) * W5[1:]) + pnp.sum(pnp.cos(x[:-1] * -2.5))
                               + pnp.sum(pnp.exp(-x[::2])) + pnp.sum(pnp.exp(x[1:3] * 0.5)),
                               lambda x: np.concatenate([[0.0], -np.cos(-x[1:]) * W5[1:]])
                               + np.concatenate([2.5 * np.sin(-2.5 * x[:-1]), [0.0]])
                               - np.exp(-x) * np.array([1.0, 0, 1, 0, 1])
                               + 0.5 * np.exp(0.5 * x) * np.array([0, 1.0, 1, 0, 0])),
    'scalar elements with a factor': (lambda x: sum(-(x[i] * 2.0) * W5[i] for i in range(5)),
                                      lambda x: -2.0 * W5),
    # partial derivatives that are k times an array at hand (Primitive.vjp_partial)
    'partials of a sum': (lambda x: pnp.sum(x * W5.astype(x.dtype)) - pnp.sum(x ** 2 * 3.0)
                          + pnp.sum(pnp.exp(x)) - pnp.sum(pnp.square(1.0 - x)),
                          lambda x: W5 - 6.0 * x + np.exp(x) + 2.0 * (1.0 - x)),
    'partials times a cotangent': (lambda x: pnp.sum(pnp.sin(pnp.square(x) * -0.5 + pnp.exp(x) * x)),
                                   lambda x: np.cos(-0.5 * x * x + np.exp(x) * x)
                                   * (-x + np.exp(x) * (1.0 + x))),
    'partials into indexing': (lambda x: pnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2),
                               lambda x: np.concatenate([-400.0 * x[:-1] * (x[1:] - x[:-1] ** 2)
                                                         - 2.0 * (1.0 - x[:-1]), [0.0]])
                               + np.concatenate([[0.0], 200.0 * (x[1:] - x[:-1] ** 2)])),
}


@pytest.mark.parametrize('name', sorted(FACTOR_CASES))
@pytest.mark.parametrize('dtype', [np.float64, np.float32])
def test_lazy_constant_factors(name, dtype):
    f, df = FACTOR_CASES[name]
    x = np.linspace(0.2, 1.4, 5).astype(dtype)
    g = grad(f)(x)
    assert g.dtype == dtype
    np.testing.assert_allclose(g, df(x.astype(np.float64)), rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-12)
    if dtype == np.float64:
        check_grads(f, x, order=2)


def test_a_gradient_never_is_a_value_of_the_function():
    # a partial derivative that is an array at hand (exp's answer, the other factor
    # of a product) may stand for a cotangent inside the sweep, but what the sweep
    # returns is a new array
    from pyad import vjp
    x = np.linspace(0.2, 1.4, 5)
    y = np.linspace(-1.0, 1.0, 5)
    g = grad(lambda v: pnp.sum(v * y))(x)
    np.testing.assert_array_equal(g, y)
    assert not np.shares_memory(g, y)
    g[:] = 0.0
    np.testing.assert_array_equal(y, np.linspace(-1.0, 1.0, 5))

    value, pullback = vjp(pnp.exp, x)
    ct = np.broadcast_to(1.0, x.shape)          # a scalar broadcast, as a sum's VJP makes
    g = pullback(ct)
    np.testing.assert_allclose(g, np.exp(x))
    assert not np.shares_memory(g, value)

    h = grad(lambda v: pnp.sum(pnp.square(v)))(x)
    assert not np.shares_memory(h, x)
    np.testing.assert_allclose(h, 2.0 * x)


# Lazy constant factors in forward mode (Primitive.jvp_lazy): a tangent is k * t,
# with k applied where tangents with different factors meet or where the tangent
# is read.  Each function takes those paths; jvp, jacfwd, reverse over forward
# (hessianv) and forward over forward are compared with closed forms.
FORWARD_FACTOR_CASES = {
    'negations and constants': (lambda x: pnp.sin(-(1.0 - x) * 3.0) / 2.0 - x,
                                lambda x: 1.5 * np.cos(3.0 * (x - 1.0)) - 1.0),
    'products with a factor': (lambda x: x * x * 3.0 + (x ** 2 - x) * -0.5 + pnp.square(2.0 - x),
                               lambda x: 6.0 * x - 0.5 * (2.0 * x - 1.0) - 2.0 * (2.0 - x)),
    'different factors meet': (lambda x: (-x) * pnp.exp(x) + (x * 4.0) * (x * -0.25) - (-x) / 8.0,
                               lambda x: -np.exp(x) * (1.0 + x) - 2.0 * x + 0.125),
    'opposite factors meet': (lambda x: (x * 2.0) + (x * -2.0) * pnp.sin(x) - (-(x * 2.0)),
                              lambda x: 4.0 - 2.0 * (np.sin(x) + x * np.cos(x))),
    'a zero factor': (lambda x: x * 0.0 + pnp.tanh(x) * (x * 2.0),
                      lambda x: 2.0 * (x / np.cosh(x) ** 2 + np.tanh(x))),
    'through reductions and slices': (lambda x: pnp.sum((-x[1:]) * 3.0) * x - pnp.cumsum(x[::-1] * 0.5)[::-1],
                                      None),
}


@pytest.mark.parametrize('name', sorted(FORWARD_FACTOR_CASES))
@pytest.mark.parametrize('dtype', [np.float64, np.float32])
def test_lazy_tangent_factors(name, dtype):
    from pyad import jvp, jacfwd, jacrev, hessianv
    f, df = FORWARD_FACTOR_CASES[name]
    x = np.linspace(0.2, 1.4, 5).astype(dtype)
    v = np.linspace(-1.0, 0.5, 5).astype(dtype)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    J = jacrev(f)(x)                        # reverse mode: no tangent factors at all
    if df is not None:
        np.testing.assert_allclose(np.diag(J), df(x.astype(np.float64)), **tol)
    y, t = jvp(f, x, v)
    assert t.dtype == dtype and y.dtype == dtype
    np.testing.assert_allclose(t, J @ v, **tol)
    np.testing.assert_allclose(jacfwd(f)(x), J, **tol)
    if dtype == np.float64:
        s = lambda z: pnp.sum(f(z) * np.linspace(1.0, 2.0, 5))     # noqa: E731
        H = jacrev(grad(s))(x)
        np.testing.assert_allclose(hessianv(s)(x, v), H @ v, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(jacfwd(jacfwd(s))(x), H, rtol=1e-10, atol=1e-10)
        check_grads(f, x, order=2, modes=('fwd', 'rev'))


def test_a_lazy_tangent_is_applied_when_read():
    # the tangent handed back is k * t, never t with its factor forgotten
    from pyad import jvp
    x = np.linspace(0.2, 1.4, 5)
    v = np.ones(5)
    _, t = jvp(lambda z: -z, x, v)
    np.testing.assert_array_equal(t, -v)
    assert not np.shares_memory(t, v)
    _, t = jvp(lambda z: z * 3.0, x, v)
    np.testing.assert_array_equal(t, 3.0 * v)
    _, t = jvp(lambda z: (z * 2.0, -z / 4.0), x, v)
    np.testing.assert_array_equal(t[0], 2.0 * v)
    np.testing.assert_array_equal(t[1], -0.25 * v)
