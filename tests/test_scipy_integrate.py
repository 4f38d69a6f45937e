"""pyad.scipy.integrate.odeint: values against analytic solutions and SciPy's odeint;
derivatives in y0, the times, args and closed-over values, in both modes, to second
order (every nesting), against analytic derivatives and finite differences."""
import numpy as onp
import pytest
import scipy.integrate as si

import pyad
import pyad.numpy as pnp
from pyad.scipy.integrate import odeint, ODEintError
from pyad.testing import check_grads

TIGHT = dict(rtol=1e-11, atol=1e-11)
T = onp.array([0.0, 0.4, 1.1])


def decay(y, t, k):
    return -k * y


def lotka(y, t, a, b):
    return pnp.stack([a * y[0] - y[0] * y[1], -b * y[1] + 0.5 * y[0] * y[1] + 0.1 * pnp.sin(t)])


def test_values_exponential_and_scipy():
    y0 = onp.array([1.0, 2.0])
    onp.testing.assert_allclose(odeint(decay, y0, T, 0.7, **TIGHT),
                                onp.exp(-0.7 * T)[:, None] * y0, rtol=1e-9)
    onp.testing.assert_allclose(odeint(lotka, onp.array([1.0, 0.5]), T, 0.8, 0.6, **TIGHT),
                                si.odeint(lambda y, t: onp.array(
                                    [0.8 * y[0] - y[0] * y[1], -0.6 * y[1] + 0.5 * y[0] * y[1]
                                     + 0.1 * onp.sin(t)]), [1.0, 0.5], T, rtol=1e-11, atol=1e-11),
                                rtol=1e-8)
    # decreasing times, and a single time
    onp.testing.assert_allclose(odeint(decay, 1.0, onp.array([1.0, 0.0]), 0.5, **TIGHT),
                                [1.0, onp.exp(0.5)], rtol=1e-9)
    onp.testing.assert_allclose(odeint(decay, onp.ones(2), onp.array([0.3]), 0.5), [[1.0, 1.0]])


def test_linear_system_exact_derivatives():
    """y' = A y: y(t) = expm(A t) y0, so ∂y(t)/∂y0 = expm(A t), ∂y/∂t = A y."""
    from scipy.linalg import expm
    A = onp.array([[-0.5, 1.0], [-1.0, -0.2]])
    y0 = onp.array([1.0, -0.5])
    t = onp.array([0.0, 0.7, 1.5])
    J = pyad.jacrev(lambda y0: odeint(lambda y, s: A @ y, y0, t, **TIGHT)[-1])(y0)
    onp.testing.assert_allclose(J, expm(A * 1.5), rtol=1e-8)
    Jf = pyad.jacfwd(lambda y0: odeint(lambda y, s: A @ y, y0, t, **TIGHT)[-1])(y0)
    onp.testing.assert_allclose(Jf, expm(A * 1.5), rtol=1e-8)
    dt = pyad.jacrev(lambda t: odeint(lambda y, s: A @ y, y0, t, **TIGHT)[-1])(t)
    onp.testing.assert_allclose(dt[:, 2], A @ expm(A * 1.5) @ y0, rtol=1e-8)
    onp.testing.assert_allclose(dt[:, 0], -expm(A * 1.5) @ A @ y0, rtol=1e-8)
    # in the matrix A, closed over: d y(t)/dA along E is ∫ expm(A(t-s)) E expm(A s) y0 ds
    E = onp.array([[0.0, 1.0], [0.0, 0.0]])
    block = expm(onp.block([[A, E], [onp.zeros((2, 2)), A]]) * 1.5)
    want = block[:2, 2:] @ y0
    got = pyad.jvp(lambda A: odeint(lambda y, s: A @ y, y0, t, **TIGHT)[-1], A, E)[1]
    onp.testing.assert_allclose(got, want, rtol=1e-8)
    gotr = pyad.grad(lambda A: pnp.sum(odeint(lambda y, s: A @ y, y0, t, **TIGHT)[-1]))(A)
    onp.testing.assert_allclose(onp.sum(gotr * E), onp.sum(want), rtol=1e-8)


def test_second_derivative_of_exponential_in_every_nesting():
    f = lambda k: pnp.sum(odeint(decay, onp.array([1.0]), onp.array([0.0, 1.0]), k, **TIGHT)[-1])
    exact = onp.exp(-0.7)          # d²/dk² e^{-k}
    assert pyad.jvp(lambda k: pyad.jvp(f, k, 1.0)[1], 0.7, 1.0)[1] == pytest.approx(exact, rel=1e-8)
    assert pyad.jvp(pyad.grad(f), 0.7, 1.0)[1] == pytest.approx(exact, rel=1e-8)
    assert pyad.grad(lambda k: pyad.jvp(f, k, 1.0)[1])(0.7) == pytest.approx(exact, rel=1e-8)
    assert pyad.grad(pyad.grad(f))(0.7) == pytest.approx(exact, rel=1e-8)
    # Taylor mode falls back to nested forward mode
    assert pyad.diffn(2, f)(0.7) == pytest.approx(exact, rel=1e-8)
    assert pyad.diffn(3, f)(0.7) == pytest.approx(-exact, rel=1e-7)


y0 = onp.array([1.0, 0.5])
CASES = {
    'y0': (lambda y: odeint(lotka, y, T, 0.8, 0.6, **TIGHT), y0),
    'args': (lambda p: odeint(lotka, y0, T, p[0], p[1], **TIGHT), onp.array([0.8, 0.6])),
    'times': (lambda t: odeint(lotka, y0, t, 0.8, 0.6, **TIGHT), T),
    'closure': (lambda c: odeint(lambda y, s: lotka(y, s, c[0], c[1]), y0, T, **TIGHT),
                onp.array([0.8, 0.6])),
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_check_grads_to_second_order(name):
    f, x = CASES[name]
    check_grads(f, x, order=2, batched=False, eps=1e-5)


def test_float32_kept():
    y32 = y0.astype(onp.float32)
    out = odeint(lotka, y32, T, 0.8, 0.6)
    assert out.dtype == onp.float32
    g = pyad.grad(lambda y: pnp.sum(odeint(lotka, y, T, 0.8, 0.6)))(y32)
    assert g.dtype == onp.float32
    check_grads(lambda y: odeint(lotka, y, T, 0.8, 0.6, rtol=1e-6, atol=1e-6), y32, order=2,
                batched=False, eps=1e-3)


def test_hessian_through_an_ode_solve():
    f = lambda p: pnp.sum(odeint(lotka, y0, T, p[0], p[1], **TIGHT)[-1] ** 2)
    p = onp.array([0.8, 0.6])
    H = pyad.hessian(f)(p)
    g = lambda p: pyad.grad(f)(p)
    fd = onp.stack([(g(p + 1e-5 * e) - g(p - 1e-5 * e)) / 2e-5 for e in onp.eye(2)], axis=1)
    onp.testing.assert_allclose(H, fd, rtol=1e-5)
    onp.testing.assert_allclose(H, H.T, rtol=1e-6)


def test_errors():
    with pytest.raises(TypeError, match='odeint: func must be a function'):
        odeint(3.0, y0, T)
    with pytest.raises(ValueError, match='odeint: t must be strictly increasing or strictly decreasing'):
        odeint(lotka, y0, onp.array([0.0, 1.0, 0.5]), 0.8, 0.6)
    with pytest.raises(ValueError, match=r'odeint: func\(y, t\) returned shape \(3,\)'):
        odeint(lambda y, t: pnp.ones(3), y0, T)
    with pytest.raises(ODEintError, match='odeint: the solver failed'):
        odeint(lambda y, t: y * y, onp.array([1.0]), onp.array([0.0, 2.0]))


def test_scipy_keywords():
    want = odeint(decay, onp.ones(2), T, 0.7, **TIGHT)
    onp.testing.assert_allclose(odeint(decay, onp.ones(2), T, args=(0.7,), **TIGHT), want)
    onp.testing.assert_allclose(odeint(lambda t, y, k: -k * y, onp.ones(2), T, args=(0.7,),
                                       tfirst=True, **TIGHT), want)
    g = pyad.grad(lambda k: pnp.sum(odeint(decay, onp.ones(2), T, args=(k,), **TIGHT)))(0.7)
    assert g == pytest.approx(-2 * onp.sum(T * onp.exp(-0.7 * T)), rel=1e-8)
    with pytest.raises(TypeError, match='odeint: the option.s. Dfun are not supported'):
        odeint(decay, onp.ones(2), T, args=(0.7,), Dfun=None)
    with pytest.raises(TypeError, match='positionally or as args=, not both'):
        odeint(decay, onp.ones(2), T, 0.7, args=(0.7,))


def test_everything_at_once_with_batched_jacobians():
    """One input feeding y0, the times and a closed-over value; jacfwd and jacrev too."""
    A = onp.array([[-0.5, 1.0], [-1.0, -0.2]])
    g = lambda p: odeint(lambda y, s: A @ y * p[0] + p[1] * pnp.sin(s), p[2:], T * p[0], **TIGHT)
    check_grads(g, onp.array([0.9, 0.3, 1.0, -0.5]), order=2, eps=1e-5)


# ---------------------------------------------------------------- the reverse paths
# func reading the differentiated values through its arguments, or through its own
# closure cells (turned into arguments): their cotangent is integrated with the
# adjoint; reaching them otherwise (an object's attribute): a quadrature.  All must
# agree, with each other and with forward mode.

class _Holder:
    pass


def _lotka_forms():
    y0 = onp.array([1.0, 0.5])

    def by_args(p):
        return pnp.sum(odeint(lotka, y0, T, p[0], p[1], **TIGHT) ** 2)

    def by_closure(p):
        return pnp.sum(odeint(lambda y, s: lotka(y, s, p[0], p[1]), y0, T, **TIGHT) ** 2)

    def by_object(p):
        held = _Holder()
        held.p = p
        return pnp.sum(odeint(lambda y, s: lotka(y, s, held.p[0], held.p[1]), y0, T,
                              **TIGHT) ** 2)
    return by_args, by_closure, by_object


@pytest.fixture
def quadratures(monkeypatch):
    """How many reverse levels took the quadrature path."""
    from pyad.scipy import integrate
    count = []
    original = integrate._Level._reverse_by_quadrature

    def counted(level):
        count.append(level)
        return original(level)
    monkeypatch.setattr(integrate._Level, '_reverse_by_quadrature', counted)
    return count


def test_arguments_closure_and_quadrature_paths_agree(quadratures):
    p = onp.array([0.8, 0.6])
    by_args, by_closure, by_object = _lotka_forms()
    g_args, g_closure = pyad.grad(by_args)(p), pyad.grad(by_closure)(p)
    assert not quadratures
    g_object = pyad.grad(by_object)(p)
    assert len(quadratures) == 1
    onp.testing.assert_allclose(g_args, g_closure, rtol=1e-12)
    onp.testing.assert_allclose(g_args, g_object, rtol=1e-8)
    onp.testing.assert_allclose(g_args, pyad.jacfwd(by_args)(p), rtol=1e-8)
    H = pyad.hessian(by_args)(p)
    onp.testing.assert_allclose(H, pyad.hessian(by_closure)(p), rtol=1e-6)
    onp.testing.assert_allclose(H, pyad.hessian(by_object)(p), rtol=1e-6)


def test_quadrature_path_to_second_order(quadratures):
    def f(c):
        held = _Holder()
        held.c = c
        return odeint(lambda y, s: lotka(y, s, held.c[0], held.c[1]), y0, T, **TIGHT)
    check_grads(f, onp.array([0.8, 0.6]), order=2, batched=False, eps=1e-5)
    assert quadratures


def test_closure_cells_as_a_pytree_and_with_a_traced_time():
    """A dict of parameters in a cell, next to a cell that holds a constant array."""
    A = onp.array([[-0.5, 1.0], [-1.0, -0.2]])

    def f(p):
        params = {'k': p[0], 'c': [p[1]]}
        return odeint(lambda y, s: A @ y * params['k'] + params['c'][0] * pnp.sin(s),
                      onp.array([1.0, -0.5]), T * p[2], **TIGHT)

    p = onp.array([0.9, 0.3, 1.2])
    check_grads(f, p, order=1, eps=1e-5)
    onp.testing.assert_allclose(pyad.jacrev(f)(p), pyad.jacfwd(f)(p), rtol=1e-8, atol=1e-12)


def test_arguments_as_pytrees_and_mixed_with_constants():
    """A tuple argument, a dict argument, an int and an array that is not traced."""
    A = onp.array([[-0.5, 1.0], [-1.0, -0.2]])

    def func(y, t, pair, n, table, M):
        k, c = pair
        return (M @ y) * k + c * pnp.sin(t) * n + table['b'] * y

    def f(p):
        return odeint(func, onp.array([1.0, -0.5]), T, (p[0], p[1]), 2, {'b': p[2]}, A,
                      **TIGHT)

    p = onp.array([0.9, 0.3, -0.1])
    check_grads(f, p, order=1, eps=1e-5)
    onp.testing.assert_allclose(pyad.jacrev(f)(p), pyad.jacfwd(f)(p), rtol=1e-8, atol=1e-12)


def test_jacrev_over_arguments_float32():
    p = onp.array([0.8, 0.6], dtype=onp.float32)
    f = lambda p: odeint(lotka, y0.astype(onp.float32), T, p[0], p[1], rtol=1e-6, atol=1e-6)[-1]
    J = pyad.jacrev(f)(p)
    assert J.dtype == onp.float32
    onp.testing.assert_allclose(J, pyad.jacfwd(f)(p), rtol=1e-4)
    check_grads(f, p, order=2, eps=1e-3)


def test_args_and_closure_together():
    """Traced through both: the quadrature path carries both."""
    def f(p):
        return odeint(lambda y, s, a: lotka(y, s, a, p[1]), y0, T, p[0], **TIGHT)
    check_grads(f, onp.array([0.8, 0.6]), order=2, batched=False, eps=1e-5)


def test_backward_pass_is_compiled_once():
    """The adjoint's right-hand side runs as one compiled program: func itself runs a
    few times per gradient (the trace, the probes), not once per solver stage."""
    calls = []

    def counted(y, t, a, b):
        calls.append(t)
        return lotka(y, t, a, b)

    f = lambda p: pnp.sum(odeint(counted, y0, onp.linspace(0.0, 5.0, 6), p[0], p[1], **TIGHT))
    pyad.grad(f)(onp.array([0.8, 0.6]))
    calls.clear()
    pyad.grad(f)(onp.array([0.8, 0.6]))
    forward = len(calls)
    calls.clear()
    f(onp.array([0.8, 0.6]))
    assert forward < 2 * len(calls), (forward, len(calls))


def test_func_that_cannot_be_compiled_runs_eagerly():
    """A random number drawn inside func (pyad.jit refuses to freeze it): the gradient
    is still right, computed eagerly."""
    import random
    from pyad.scipy import integrate
    rng = random.Random(0)
    programs = []

    def noisy(y, t, a, b):
        return lotka(y, t, a, b) + 0.0 * rng.random()

    class Seen(integrate._Compiled):
        def __init__(self, system):
            super().__init__(system)
            programs.append(self.programs)

    p = onp.array([0.8, 0.6])
    want = pyad.grad(lambda p: pnp.sum(odeint(lotka, y0, T, p[0], p[1], **TIGHT)))(p)
    compiled = integrate._Compiled
    integrate._Compiled = Seen
    try:
        got = pyad.grad(lambda p: pnp.sum(odeint(noisy, y0, T, p[0], p[1], **TIGHT)))(p)
    finally:
        integrate._Compiled = compiled
    onp.testing.assert_allclose(got, want, rtol=1e-12)
    assert programs and all(v[0] is None for p in programs for v in p.values())   # eager


# ------------------------------------------------ compiled programs shared across calls
RATE = 0.7
RATES = onp.array([0.7, 0.2])


def decay_by_global(y, t, c):
    return -RATE * c * y


def decay_by_global_array(y, t, c):
    return -c * pnp.stack([RATES[i] * y[i] for i in range(2)])     # read in a comprehension


def _decay_checks(func, k, c=1.0):
    """Value and gradient (in y0 and in the argument c) of y' = -k c y."""
    y1 = onp.array([1.0, 2.0])
    ts = onp.array([0.0, 0.5, 1.0])
    out = odeint(func, y1, ts, c, **TIGHT)
    onp.testing.assert_allclose(out, onp.exp(-onp.outer(ts, k * c)) * y1, rtol=1e-9)
    g = pyad.grad(lambda c: pnp.sum(odeint(func, y1, ts, c, **TIGHT)))(c)
    assert g == pytest.approx(onp.sum(-onp.outer(ts, k) * onp.exp(-onp.outer(ts, k * c)) * y1),
                              rel=1e-8)


def test_shared_program_sees_a_rebound_global():
    global RATE
    try:
        _decay_checks(decay_by_global, onp.array([0.7, 0.7]))
        RATE = 1.3
        _decay_checks(decay_by_global, onp.array([1.3, 1.3]))
    finally:
        RATE = 0.7


def test_shared_program_sees_an_array_changed_in_place():
    try:
        _decay_checks(decay_by_global_array, RATES.copy())
        RATES[1] = 0.9
        _decay_checks(decay_by_global_array, RATES.copy())
    finally:
        RATES[1] = 0.2


def test_functions_reading_mutable_objects_are_not_shared():
    """A list, an object's attribute and a bound method are read afresh at each call."""
    from pyad.scipy import integrate
    box = [0.5]
    by_list = lambda y, t, c: -box[0] * c * y

    class Model:
        k = 0.5

        def rate(self, y, t, c):
            return -self.k * c * y

    model = Model()
    for func, change in ((by_list, lambda: box.__setitem__(0, 1.5)),
                         (model.rate, lambda: setattr(model, 'k', 1.5))):
        _decay_checks(func, onp.array([0.5, 0.5]))
        change()
        _decay_checks(func, onp.array([1.5, 1.5]))
    assert integrate._state_key(by_list) is None
    assert integrate._state_key(decay_by_global) is not None


def quiet_decay(y, t, c):
    print(end='')             # pyad.jit refuses input/output
    return -c * y


def test_shared_func_that_cannot_be_compiled_is_not_traced_again():
    from pyad.scipy import integrate
    for _ in range(2):
        _decay_checks(quiet_decay, onp.array([1.0, 1.0]))
    table = integrate._SHARED[quiet_decay.__code__]
    assert table and all(p is integrate._EAGER for p in table.values())


def test_arguments_and_cells_that_are_not_pytrees():
    """A dict whose keys do not sort (not a pyad pytree), as an argument and in a
    closure cell: its values stay unnamed, and the derivatives are still right."""
    def f(p):
        table = {1: p[0], 'b': 0.5}
        return odeint(lambda y, t, d: -d[1] * y * table[1] + d['b'], onp.array([1.0, 2.0]), T,
                      {1: p[1], 'b': 0.3}, **TIGHT)

    p = onp.array([0.8, 0.6])
    check_grads(f, p, order=1, eps=1e-5)
    g = lambda p: pnp.sum(f(p))
    onp.testing.assert_allclose(pyad.grad(g)(p), pyad.jacfwd(g)(p), rtol=1e-8)


def test_lambdas_made_afresh_share_programs_and_see_their_cells():
    """A lambda made at each call finds the programs of its code; the constants in
    its cells (a float, an array changed in place) are part of the key, the traced
    value in its cell an input."""
    from pyad.scipy import integrate
    y1 = onp.array([1.0, 2.0])
    rates = onp.array([1.0, 0.5])

    def loss(k, scale):
        return pnp.sum(odeint(lambda y, t: -k * scale * rates * y, y1, T, **TIGHT))

    for scale, second in ((1.0, 0.5), (2.0, 0.5), (2.0, 3.0)):
        rates[1] = second
        for k in (0.7, 0.4):
            r = k * scale * rates
            want = onp.sum(-onp.outer(T, scale * rates) * onp.exp(-onp.outer(T, r)) * y1)
            assert pyad.grad(loss)(k, scale) == pytest.approx(want, rel=1e-8)
    code = loss.__code__.co_consts
    lam = next(c for c in code if hasattr(c, 'co_code'))
    assert integrate._SHARED[lam]
    # a new array with the contents an earlier program was traced with
    rates = onp.array([1.0, 0.5])
    r = 0.7 * rates
    want = onp.sum(-onp.outer(T, rates) * onp.exp(-onp.outer(T, r)) * y1)
    assert pyad.grad(loss)(0.7, 1.0) == pytest.approx(want, rel=1e-8)


def _boxes_tags_and_tapes_reachable(root):
    """Objects of pyad's engine reachable from root (not through modules' globals)."""
    import gc
    import types
    from pyad._core.box import Box
    from pyad._core.reverse import Tape
    from pyad._core.tags import Tag
    seen, stack, found = set(), [root], []
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, (types.ModuleType, type)) or (
                isinstance(o, dict) and '__builtins__' in o):
            continue
        seen.add(id(o))
        if isinstance(o, (Box, Tag, Tape)):
            found.append(o)
        else:
            stack.extend(gc.get_referents(o))
    return found


def test_kept_programs_hold_no_tape():
    """A program kept across calls must not keep a gradient's tape alive (nor its
    tags or variables)."""
    from pyad.scipy import integrate

    def loss(p):
        return pnp.sum(odeint(lambda y, t: lotka(y, t, p[0], p[1]), y0, T, **TIGHT) ** 2)

    p = onp.array([0.8, 0.6])
    pyad.grad(loss)(p)
    pyad.hessian(loss)(p)
    pyad.grad(lambda p: pnp.sum(odeint(lotka, y0, T, p[0], p[1], **TIGHT)))(p)
    kept = list(integrate._SHARED.values())
    assert kept and not _boxes_tags_and_tapes_reachable(kept)


def test_reference_mode_runs_eagerly_and_agrees():
    """The compiled right-hand sides are a fast path: the reference mode evaluates
    func eagerly, and the two gradients agree."""
    from pyad.testing import reference
    calls = []

    def counted(y, t, a, b):
        calls.append(t)
        return lotka(y, t, a, b)

    f = lambda p: pnp.sum(odeint(counted, y0, T, p[0], p[1], **TIGHT) ** 2)
    p = onp.array([0.8, 0.6])
    fast = pyad.grad(f)(p)
    compiled_calls = len(calls)
    calls.clear()
    with reference():
        plain = pyad.grad(f)(p)
    assert len(calls) > compiled_calls + 100
    onp.testing.assert_allclose(fast, plain, rtol=1e-10)


def test_closure_cells_with_tfirst_decreasing_times_and_a_scalar_state():
    def f(p):
        return odeint(lambda t, y, c: -p[0] * y + c * pnp.cos(p[1] * t), 1.5,
                      onp.array([1.0, 0.6, 0.0]), p[2], tfirst=True, **TIGHT)

    p = onp.array([0.7, 1.3, 0.4])
    check_grads(f, p, order=2, batched=False, eps=1e-5)
    onp.testing.assert_allclose(pyad.jacrev(f)(p), pyad.jacfwd(f)(p), rtol=1e-8, atol=1e-12)


def test_closure_cells_in_float32():
    w = onp.array([[-0.5, 1.0], [-1.0, -0.2]], dtype=onp.float32)

    def f(w):
        return odeint(lambda y, t: w @ y, onp.array([1.0, -0.5], dtype=onp.float32), T,
                      rtol=1e-6, atol=1e-6)[-1]

    J = pyad.jacrev(f)(w)
    assert J.dtype == onp.float32
    onp.testing.assert_allclose(J, pyad.jacfwd(f)(w), rtol=1e-4, atol=1e-6)


def branching_decay(y, t, c):
    # branches on the state: each way through them is a program of its own
    crossed = 0
    for threshold in onp.linspace(0.0, 1.0, 41):
        if y[0] > threshold:
            crossed += 1
    return -c * y * (1.0 + 0.0 * crossed)


def test_func_whose_branches_keep_retracing_runs_eagerly():
    from pyad.scipy import integrate
    _decay_checks(branching_decay, onp.array([1.0, 1.0]))
    table = integrate._SHARED.get(branching_decay.__code__, {})
    assert all(p is integrate._EAGER or p.traces <= integrate._MAX_TRACES + 1
               for p in table.values())
