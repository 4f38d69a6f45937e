"""Taylor mode (diffn): every rule against nested forward mode and closed forms."""
import math

import numpy as onp
import pytest

import pyad
import pyad.numpy as np
from pyad.operators import _fdiffn_nested
from pyad._core.taylor import push_taylor, generic_rule
from pyad._core.primitive import Primitive

FUNCTIONS = {
    'sin_exp': lambda x: np.sin(x) * np.exp(x),
    'tanh': lambda x: np.tanh(x),
    'log_div_cos': lambda x: np.log(1 + x * x) / (2 + np.cos(x)),
    'sqrt_pow': lambda x: np.sqrt(1 + x) ** 3.5,
    'integer_power': lambda x: (x - 0.1) ** 3,
    'square': lambda x: np.square(x) * x,
    'sum_of_exp': lambda x: np.sum(np.exp(x * np.arange(3.0))),
    'arctan_generic': lambda x: np.arctan(x) * x,
    'broadcast': lambda x: np.ones(2) * x ** 2,
    'matmul': lambda x: np.ones((2, 3)) @ (np.arange(3.0) * x - x ** 2),
    'reshape_index': lambda x: np.reshape(np.exp(x * np.arange(4.0)), (2, 2))[1],
    'transpose': lambda x: np.transpose(np.reshape(np.cos(x * np.arange(6.0)), (2, 3))),
    'pytree': lambda x: (x, {'a': np.cos(x) / x}),
    'constant': lambda x: 3.0,
}


@pytest.mark.parametrize('name', sorted(FUNCTIONS))
@pytest.mark.parametrize('n', range(7))
def test_taylor_matches_nested_forward(name, n):
    f = FUNCTIONS[name]
    got = pyad.diffn(n, f)(0.3)
    want = _fdiffn_nested(n, f)(0.3)[1] if n else f(0.3)
    for a, b in zip(pyad.tree_leaves(got), pyad.tree_leaves(want)):
        onp.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize('n', range(1, 9))
def test_sin_exp_closed_form(n):
    # d^n/dx^n sin(x) e^x = 2^(n/2) e^x sin(x + n pi / 4)
    x = 0.5
    want = 2 ** (n / 2) * math.exp(x) * math.sin(x + n * math.pi / 4)
    assert abs(pyad.diffn(n, lambda x: np.sin(x) * np.exp(x))(x) - want) < 1e-9 * max(1, abs(want))


def test_tanh_sixth_derivative_closed_form():
    # with t = tanh x: d^6/dx^6 tanh = -16 (1 - t^2)(17 t^4 - 255 t^4 ... ) written via
    # the polynomial recurrence P_{k+1}(t) = (1 - t^2) P_k'(t), P_0 = t
    x = 0.4
    t = math.tanh(x)
    coeffs = onp.array([0.0, 1.0])                     # P_0(t) = t, low degree first
    for _ in range(6):
        d = onp.polynomial.polynomial.polyder(coeffs)
        coeffs = onp.polynomial.polynomial.polymul([1.0, 0.0, -1.0], d)
    want = onp.polynomial.polynomial.polyval(t, coeffs)
    assert abs(pyad.diffn(6, np.tanh)(x) - want) < 1e-9 * max(1.0, abs(want))


def test_fdiffn_returns_value_and_derivative():
    value, d3 = pyad.fdiffn(3, lambda x: x ** 4)(2.0)
    assert value == 16.0 and abs(d3 - 48.0) < 1e-12


def test_taylor_nests_inside_other_modes():
    f = lambda x: pyad.diffn(4, lambda y: np.sin(x * y))(0.5)
    g_rev = pyad.grad(f)(1.3)
    g_fwd = pyad.diff(f)(1.3)
    # d/dx of x^4 sin(0.5 x) = 4 x^3 sin(0.5x) + 0.5 x^4 cos(0.5 x)
    want = 4 * 1.3 ** 3 * math.sin(0.65) + 0.5 * 1.3 ** 4 * math.cos(0.65)
    assert abs(g_rev - want) < 1e-9 and abs(g_fwd - want) < 1e-9


def test_taylor_inside_taylor_has_no_confusion():
    # x * d/dy (x y^3) at y = x is 3 x^4, whose second derivative is 36 x^2
    got = pyad.diffn(2, lambda x: x * pyad.diffn(1, lambda y: x * y ** 3)(x))(0.7)
    assert abs(got - 36 * 0.7 ** 2) < 1e-12
    # x * d^2/dy^2 (x y^3) at y = x is 6 x^3, whose second derivative is 36 x
    got = pyad.diffn(2, lambda x: x * pyad.diffn(2, lambda y: x * y ** 3)(x))(0.7)
    assert abs(got - 36 * 0.7) < 1e-12


def test_generic_rule_for_a_primitive_without_taylor_rule():
    cube = Primitive('cube', lambda x: x ** 3)
    cube.def_jvp(lambda t, ans, x: 3.0 * x ** 2 * t)
    cube.def_vjp(lambda g, ans, x: 3.0 * x ** 2 * g)
    assert cube.taylor is None
    got = pyad.diffn(3, lambda x: cube(np.sin(x)))(0.2)
    want = _fdiffn_nested(3, lambda x: cube(np.sin(x)))(0.2)[1]
    assert abs(got - want) < 1e-10


def test_float32_is_kept():
    x = onp.float32(0.3)
    assert pyad.diffn(4, lambda x: np.exp(x) * x)(x).dtype == onp.float32
