"""A jitted function under an outer operator (``grad(jit(f))``): first-order
derivatives run compiled programs (f's Python code does not run again), equal the
eager ones, keep dtypes and structures; higher orders and what cannot be traced
under the operator fall back to f itself, still right."""
import numpy as np
import pytest

import pyad
import pyad.numpy as pnp
from pyad import jit, grad, value_and_grad, hessian, jacfwd, jacrev
from pyad.testing import check_grads
from pyad.jit import JitError
from .test_jit import _assert_same, _data, loss


class Counted:
    """f, counting the calls of its Python code (a traced or eager run)."""

    def __init__(self, f):
        self.f, self.calls = f, 0
        self.__name__ = getattr(f, '__name__', 'f')

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.f(*args, **kwargs)


def _first_order(f, x):
    v = np.ones_like(x) if np.ndim(x) else 1.0
    return {
        'grad': lambda g: grad(g)(x),
        'value_and_grad': lambda g: value_and_grad(g)(x),
        'jacrev': lambda g: jacrev(g)(x),
        'jacfwd': lambda g: jacfwd(g)(x),
        'jvp': lambda g: pyad.jvp(g, x, v),
        'vjp': lambda g: pyad.vjp(g, x)[1](np.ones_like(np.asarray(f(x)))),
    }


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('op', ['grad', 'value_and_grad', 'jacrev', 'jacfwd', 'jvp', 'vjp'])
def test_first_order_is_compiled_and_equals_eager(op, dtype):
    w, X, y = _data(dtype, n=30, d=5)
    f = Counted(lambda w: loss(w, X, y, 0.1))
    jf = jit(f)
    for seed in range(3):
        w = _data(dtype, n=30, d=5, seed=seed)[0]
        run = _first_order(f.f, w)[op]
        want = run(f.f)
        _assert_same(run(jf), want, exact=False)
        calls = f.calls
        _assert_same(run(jf), want, exact=False)
        assert f.calls == calls, 'the second call ran f instead of its compiled programs'


def test_reverse_mode_splits_forward_and_backward():
    """The sweep runs a backward program on residuals of the forward program: f's
    forward computations are not done twice."""
    w, X, y = _data(n=40, d=6)
    jf = jit(lambda w: loss(w, X, y, 0.1))
    grad(jf)(w)
    programs = [p[0] for k, p in jf._cache.items() if k[0] == 'vjp']
    assert len(programs) == 1 and programs[0].split
    forward = programs[0].source
    assert 'matmul' in forward and 'return [' in forward
    _assert_same(grad(jf)(w), grad(lambda w: loss(w, X, y, 0.1))(w), exact=False)


def test_several_arguments_pytrees_and_static():
    rng = np.random.default_rng(1)
    params = {'w': rng.standard_normal((3, 4)), 'b': rng.standard_normal(4)}
    x = rng.standard_normal((5, 3))

    def f(params, x, power):
        h = pnp.tanh(x @ params['w'] + params['b'])
        return pnp.sum(h ** power), h

    jf = jit(f, static_argnums=(2,))
    for _ in range(2):
        for argnums in (0, 1, (0, 1)):
            want = grad(lambda p, x: f(p, x, 2)[0], argnums=argnums)(params, x)
            got = grad(lambda p, x: jf(p, x, 2)[0], argnums=argnums)(params, x)
            _assert_same(got, want, exact=False)
        want = jacrev(lambda p: f(p, x, 3)[1])(params)
        _assert_same(jacrev(lambda p: jf(p, x, 3)[1])(params), want, exact=False)
        want = pyad.jvp(lambda p: f(p, x, 3), (params,), (params,))
        _assert_same(pyad.jvp(lambda p: jf(p, x, 3), (params,), (params,)), want, exact=False)


def test_python_float_input_and_output():
    f = Counted(lambda x: pnp.sin(x) * pnp.exp(x) + x * x)
    jf = jit(f)
    for x in (0.3, 1.7, -2.0):
        assert grad(jf)(x) == pytest.approx(grad(f.f)(x), rel=1e-14)
        assert type(grad(jf)(x)) is type(grad(f.f)(x))
        assert pyad.jvp(jf, x, 1.0) == pytest.approx(pyad.jvp(f.f, x, 1.0), rel=1e-14)


def test_guards_under_the_operator():
    def f(x):
        if pnp.sum(x) > 0:
            return pnp.sum(pnp.sin(x) * x)
        return pnp.sum(pnp.cos(x))
    jf = jit(f)
    for x in (np.ones(4), -np.ones(4), np.ones(4), -2 * np.ones(4)):
        _assert_same(grad(jf)(x), grad(f)(x), exact=False)
        _assert_same(jacfwd(jf)(x), jacfwd(f)(x), exact=False)


def test_scalar_loop_with_in_place_sweep():
    def f(x):
        s = 0.0
        for i in range(len(x) - 1):
            s = s + pnp.sin(x[i]) * pnp.cos(x[i + 1])
        return s
    jf = jit(f)
    for x in (np.linspace(0.1, 2.0, 20), np.linspace(-1.0, 3.0, 20)):
        _assert_same(grad(jf)(x), grad(f)(x), exact=False)
        _assert_same(value_and_grad(jf)(x), value_and_grad(f)(x), exact=False)


_HIGHER = {
    'hessian': hessian,
    'grad of grad': lambda g: grad(lambda w: pnp.sum(grad(g)(w) ** 2)),
    'jacfwd of jacrev': lambda g: jacfwd(jacrev(g)),
    'jacrev of jacrev': lambda g: jacrev(jacrev(g)),
    'hessianv': lambda g: lambda w: pyad.hessianv(g)(w, np.ones_like(w)),
    'third order': lambda g: jacfwd(hessian(g)),
}


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('op', list(_HIGHER))
def test_higher_order_is_compiled_and_equals_eager(op, dtype):
    """Each level peels one tag: f's JVP and pullback are jitted functions, compiled
    under the older operators in turn."""
    w, X, y = _data(dtype)
    f = Counted(lambda w: loss(w, X, y, 0.1))
    jf = jit(f)
    want = _HIGHER[op](f.f)(w)
    # (the first sweep may show outputs without cotangents: traced again for them)
    for _ in range(2):
        _assert_same(_HIGHER[op](jf)(w), want, exact=False)
    calls = f.calls
    _assert_same(_HIGHER[op](jf)(w), want, exact=False)
    assert f.calls == calls


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_check_grads_through_jit(dtype):
    rng = np.random.default_rng(2)
    A = rng.standard_normal((4, 3)).astype(dtype)
    jf = jit(lambda x: pnp.tanh(A @ x) * pnp.exp(-x[0]))
    check_grads(jf, rng.standard_normal(3).astype(dtype), order=2)


def _planted(monkeypatch, scale):
    """Every program compiled from now on returns its outputs times ``scale`` (a
    wrong program, consistently wrong: finite differences of it agree with it)."""
    compile_recording = pyad.jit.api.compile_recording

    def wrong(*args, **kwargs):
        program = compile_recording(*args, **kwargs)
        run = program.run
        program.run = lambda *values: [v * scale if hasattr(v, 'dtype') or type(v) is float
                                       else v for v in run(*values)]
        return program
    monkeypatch.setattr(pyad.jit.api, 'compile_recording', wrong)


@pytest.mark.parametrize('warm', [False, True])
def test_check_grads_catches_a_wrong_program(monkeypatch, warm):
    """Under pyad.testing.reference() a jitted function runs f itself on the plain
    engine, so check_grads compares the compiled programs with it: a wrong program
    fails the check (finite differences alone would not see a wrong scale)."""
    rng = np.random.default_rng(3)
    A = rng.standard_normal((4, 3))
    x = rng.standard_normal(3)
    _planted(monkeypatch, 1.001)
    jf = jit(lambda x: pnp.tanh(A @ x) * pnp.exp(-x[0]))
    if warm:      # programs already traced in fast mode are not reused by the reference
        jf(x)
        grad(lambda x: pnp.sum(jf(x)))(x)
    with pytest.raises(AssertionError, match='reference'):
        check_grads(jf, x, order=1)
    with pyad.testing.reference():
        traces = jf.traces
        np.testing.assert_array_equal(jf(x), np.tanh(A @ x) * np.exp(-x[0]))
        assert jf.traces == traces


def test_reference_mode_runs_f_itself():
    f = Counted(lambda x: pnp.sin(x) * 2.0)
    jf = jit(f)
    x = np.linspace(0.0, 1.0, 5)
    jf(x)
    calls = f.calls
    jf(x)
    assert f.calls == calls
    with pyad.testing.reference():
        np.testing.assert_array_equal(jf(x), np.sin(x) * 2.0)
        grad(lambda x: pnp.sum(jf(x)))(x)
    assert f.calls == calls + 2
    assert jf.traces == 1 and jf.derived_traces == 0


def test_closing_over_a_differentiated_value():
    """f closes over a value being differentiated by the same operator: jit cannot
    compile it as a unit, and f runs eagerly (the derivative keeps that path)."""
    def outer(a):
        inner = jit(lambda x: pnp.sum(pnp.sin(x * a)))
        return inner(a * 2.0)
    def eager(a):
        return pnp.sum(pnp.sin(a * 2.0 * a))
    x = np.array([0.3, -1.2, 2.0])
    for op in (grad, jacfwd):
        _assert_same(op(outer)(x), op(eager)(x), exact=False)


def test_perturbations_of_two_operators_stay_apart():
    """d/dx [x * d/dy (x * y)] at y = 2 -- the inner jitted function sees a value of
    the outer operator as an argument."""
    inner = jit(lambda x, y: x * y)
    d = lambda f: lambda x: grad(f)(x)         # noqa: E731
    got = d(lambda x: x * d(lambda y: inner(x, y))(2.0))(3.0)
    assert got == pytest.approx(6.0)
    got = d(lambda x: x * pyad.jvp(lambda y: inner(x, y), 2.0, 1.0)[1])(3.0)
    assert got == pytest.approx(6.0)


def test_without_a_split_the_sweep_recomputes(monkeypatch):
    """Where the trace cannot be split (the backward part would write into what the
    forward part returns), f's own program runs forward and a joint program of f and
    its pullback runs in the sweep: the same results."""
    from pyad.jit import derive
    monkeypatch.setattr(derive, 'split', lambda *args: None)
    w, X, y = _data(n=30, d=5)
    f = Counted(lambda w: loss(w, X, y, 0.1))
    jf = jit(f)
    want = value_and_grad(f.f)(w)
    _assert_same(value_and_grad(jf)(w), want, exact=False)
    calls = f.calls
    _assert_same(value_and_grad(jf)(w), want, exact=False)
    assert f.calls == calls
    assert not [p for k, p in jf._cache.items() if k[0] == 'vjp'][0][0].split


def test_a_failing_guard_of_the_backward_program_hands_over():
    from pyad import jit as jit_module
    w, X, y = _data(n=30, d=5)
    f = lambda w: loss(w, X, y, 0.1)          # noqa: E731
    jf = jit(f)
    grad(jf)(w)
    program = [p for k, p in jf._cache.items() if k[0] == 'vjp'][0][0]

    def failing(*args):
        raise jit_module.Retrace(0)
    program.backward = failing
    _assert_same(grad(jf)(w), grad(f)(w), exact=False)


def test_random_numbers_drawn_inside_are_not_frozen():
    """Under an operator, f drawing random numbers runs eagerly (as without jit),
    each call drawing afresh from the generator as it was."""
    x = np.array([0.5, -1.0, 2.0])
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    f_a = lambda x: pnp.sum(x * rng_a.standard_normal(3))      # noqa: E731
    f_b = lambda x: pnp.sum(x * rng_b.standard_normal(3))      # noqa: E731
    jf = jit(f_a)
    for _ in range(3):
        np.testing.assert_array_equal(grad(jf)(x), grad(f_b)(x))
        np.testing.assert_array_equal(jacfwd(jf)(x), jacfwd(f_b)(x))


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_scalar_outputs_with_cotangents_other_than_one(dtype):
    """grad's cotangent 1 is folded into the backward program; any other one (a
    scaled loss, a vjp's own) runs a program that takes it."""
    w, X, y = _data(dtype)
    f = lambda w: loss(w, X, y, 0.1)          # noqa: E731
    jf = jit(f)
    for _ in range(2):
        _assert_same(grad(jf)(w), grad(f)(w), exact=False)
        _assert_same(grad(lambda w: 3.0 * jf(w))(w), grad(lambda w: 3.0 * f(w))(w), exact=False)
        for ct in (2.5, np.asarray(-1.5, dtype), np.asarray(1.0, dtype)):
            _assert_same(pyad.vjp(jf, w)[1](ct), pyad.vjp(f, w)[1](ct), exact=False)


@pytest.mark.parametrize('aux_shape', [(), (3,)])
def test_outputs_without_cotangents_are_symbolic_zeros(aux_shape):
    """An aux output gets no cotangent: its derivative is never formed (here it would
    be inf: a zero cotangent times it is nan), and after the first sweep shows it, the
    programs are traced for it."""
    w, X, y = _data(n=30, d=5)

    def f(w):
        r = pnp.sum(w * w) - pnp.sum(w * w)            # 0, whose sqrt has slope inf
        aux = pnp.sqrt(r) if aux_shape == () else pnp.sqrt(r * pnp.ones(3))
        return loss(w, X, y, 0.1), aux
    counted = Counted(f)
    jf = jit(counted)
    want = value_and_grad(f, has_aux=True)(w)
    for _ in range(3):
        with np.errstate(divide='ignore', invalid='ignore'):
            got = value_and_grad(jf, has_aux=True)(w)
        _assert_same(got, want, exact=False)
        assert np.all(np.isfinite(got[1]))
    calls = counted.calls
    value_and_grad(jf, has_aux=True)(w)
    assert counted.calls == calls


def test_source_of_the_derivative_programs():
    jf = jit(lambda x, a: pnp.sum(pnp.sin(x) * a))
    x = np.linspace(0.0, 1.0, 3)
    reverse = jf.source(x, 2.0, operator='grad')
    assert reverse == jf.source(x, 2.0, operator='vjp')
    assert '# the forward program' in reverse and '# the backward program' in reverse
    assert 'sin(' in reverse and 'cos(' in reverse
    forward = jf.source(x, 2.0, operator='jvp')
    assert 'backward' not in forward and 'sin(' in forward and 'cos(' in forward
    compile(forward, '<jvp>', 'exec')
    traces = jf.derived_traces
    jf.source(x, 2.0, operator='jvp')                 # shown again, not traced again
    assert jf.derived_traces == traces
    # the programs shown are those that run (for both arguments: source differentiates all)
    gx, ga = grad(lambda xs: jf(*xs))((x, 2.0))
    np.testing.assert_allclose(gx, 2.0 * np.cos(x), rtol=1e-12)
    np.testing.assert_allclose(ga, np.sum(np.sin(x)), rtol=1e-12)
    assert jf.derived_traces == traces
    with pytest.raises(ValueError, match="'jvp', 'vjp' or 'grad'.*'hessian'"):
        jf.source(x, 2.0, operator='hessian')


def test_source_of_a_derivative_that_runs_eagerly_says_so():
    jf = jit(lambda x: pnp.sum(x * np.random.standard_normal(2)))
    with pytest.raises(JitError, match='runs eagerly'):
        jf.source(np.ones(2), operator='vjp')
