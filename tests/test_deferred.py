"""Deferred values in reverse mode (_core/reverse.py, _defer): elementwise arithmetic
and sums on large arrays are recorded without being computed, and computed when
something reads them.  A value nothing reads -- the value of f under grad, the
primal chain under hessianv -- is never computed."""
import warnings

import numpy as np
import pytest

import pyad
import pyad.numpy as pnp
from pyad._core import reverse
from pyad._core.config import settings
from pyad._core.box import LazyVar

N = 10_000          # 80 KB of float64: above settings.defer_bytes


def _quiet():
    """Turn floating-point warnings into errors for the block."""
    w = warnings.catch_warnings()
    w.__enter__()
    warnings.simplefilter('error', RuntimeWarning)
    return w


def test_grad_does_not_compute_the_value_of_f():
    # x**2 overflows, but d/dx sum(x**2) = 2x does not need it
    x = np.full(N, 1e200)
    f = lambda v: pnp.sum(v ** 2)          # noqa: E731
    w = _quiet()
    try:
        g = pyad.grad(f)(x)
        h = pyad.hessianv(f)(x, np.ones(N) * 1e-300)
        m = pyad.grad(lambda v: pnp.mean(v ** 2) * 0.5)(x)
    finally:
        w.__exit__(None, None, None)
    np.testing.assert_array_equal(g, 2 * x)
    np.testing.assert_allclose(h, 2e-300)
    np.testing.assert_allclose(m, x / N, rtol=1e-15)
    with pytest.warns(RuntimeWarning, match='overflow'):
        value, g2 = pyad.value_and_grad(f)(x)     # the value is wanted: computed
    assert value == np.inf
    np.testing.assert_array_equal(g2, 2 * x)


def test_a_deferred_value_is_computed_under_the_callers_floating_point_settings():
    x = np.full(N, 1e200)

    def f(v):
        with np.errstate(over='ignore'):
            y = v ** 2                    # deferred here, computed after the block
        return pnp.sum(y * 0.5)
    w = _quiet()
    try:
        value, g = pyad.value_and_grad(f)(x)
    finally:
        w.__exit__(None, None, None)
    assert value == np.inf
    np.testing.assert_array_equal(g, x)


def test_values_the_function_reads_are_right():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, N)
    seen = {}

    def f(v):
        y = (v * 3.0 - 1.0) ** 2
        seen['type'] = type(y)
        seen['first'] = float(pyad.stop_gradient(y[0]))    # reads a pending value
        if pnp.sum(y) > 0:                                  # so does a branch
            y = y + v
        return pnp.sum(y * y)
    value, g = pyad.value_and_grad(f)(x)
    y = (x * 3.0 - 1.0) ** 2 + x
    assert seen['type'] is LazyVar
    assert seen['first'] == (x[0] * 3.0 - 1.0) ** 2
    np.testing.assert_allclose(value, np.sum(y * y), rtol=1e-12)
    np.testing.assert_allclose(g, 2 * y * (6.0 * (x * 3.0 - 1.0) + 1.0), rtol=1e-12)


def test_long_chains_are_cut():
    # a pending value holds a bounded chain of operands (MAX_DEFER_DEPTH)
    x = np.linspace(0.0, 1.0, N)
    depths = []

    def f(v):
        y = v
        for i in range(3 * reverse.MAX_DEFER_DEPTH):
            y = y * 0.99 + v
            depths.append(y.node.depth if type(y) is LazyVar and y.node else 0)
        return pnp.sum(y)
    value, g = pyad.value_and_grad(f)(x)
    assert max(depths) <= reverse.MAX_DEFER_DEPTH
    k = 3 * reverse.MAX_DEFER_DEPTH
    slope = sum(0.99 ** i for i in range(k + 1))
    np.testing.assert_allclose(g, np.full(N, slope), rtol=1e-12)
    np.testing.assert_allclose(value, slope * np.sum(x), rtol=1e-12)


def test_nested_levels_with_deferred_values():
    # deferred values at an outer level are values boxed there, not constants
    rng = np.random.default_rng(1)
    x = rng.uniform(0.5, 1.5, N)
    v = rng.standard_normal(N)
    f = lambda z: pnp.sum((z * z - 1.0) ** 2 * 0.25 - z)      # noqa: E731
    hv = 3.0 * x * x - 1.0                                    # the Hessian is diagonal
    np.testing.assert_allclose(pyad.hessianv(f)(x, v), hv * v, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pyad.jacobianv(pyad.grad(f))(x, v), hv * v, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pyad.grad(lambda z: pnp.sum(pyad.grad(f)(z) * v))(x),
                               hv * v, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pyad.grad(f)(x), (x * x - 1.0) * x - 1.0, rtol=1e-12)


def test_nothing_is_deferred_below_the_threshold():
    x = np.ones(10)
    kinds = []
    pyad.grad(lambda v: kinds.append(type(v * 2.0)) or pnp.sum(v))(x)
    assert kinds == [pyad._core.box.TapeVar] or settings.defer_bytes == 0


def test_a_tape_with_deferred_values_is_freed_without_the_cycle_collector():
    # the tape keeps Pending nodes, which refer to no tag or tape: dropping a
    # pullback frees its arrays at once, as for a tape without deferred values
    import gc
    import tracemalloc
    x = np.linspace(-1.0, 1.0, N)
    f = lambda v: pnp.sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1.0 - v[:-1]) ** 2)  # noqa: E731
    calls = [lambda: pyad.vjp(f, x)[1](1.0), lambda: pyad.vjp(f, x),
             lambda: pyad.grad(f)(x), lambda: pyad.hessianv(f)(x, x)]
    for call in calls:
        call()
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        tracemalloc.start()
        for _ in range(5):
            for call in calls:
                call()
        current, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert gc.collect() == 0
    finally:
        if enabled:
            gc.enable()
    assert current < 8 * N        # less than one array of x's size left behind
