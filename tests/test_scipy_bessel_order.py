"""iv, ive, kv and kve in their real order v: the v-derivatives against mpmath (an independent
reference, its own numerical differentiation at high precision) over v in [-5, 20],
x in (0, 100] and ive up to x = 1e4; second order by check_grads (finite differences
of the first derivatives, in v and x jointly) in float64 and float32; the special
points x = 0 and x < 0."""
import numpy as onp
import pytest
import scipy.special as sps

import pyad
import pyad.numpy as pnp
import pyad.scipy.special as sp
from pyad.testing import check_grads

mpmath = pytest.importorskip('mpmath')


def _reference(n, v, x, scaled, dps, bessel='i'):
    with mpmath.workdps(dps):
        if bessel == 'k':
            value = mpmath.diff(lambda s: mpmath.besselk(s, x), mpmath.mpf(float(v)), n)
            return float(value * mpmath.exp(x)) if scaled else float(value)
        if n == 1 and v == 0:
            value = -mpmath.besselk(0, x)            # d/dv I_v at v = 0 is -K_0
        else:
            value = mpmath.diff(lambda s: mpmath.besseli(s, x), mpmath.mpf(float(v)), n)
        return float(value * mpmath.exp(-x)) if scaled else float(value)


def _grid(seed, n, x_lo, x_hi):
    rng = onp.random.default_rng(seed)
    v = onp.concatenate([rng.uniform(-5, 20, n), [-5.0, -3.0, -0.5, 0.0, 1.0, 20.0]])
    x = onp.concatenate([onp.exp(rng.uniform(onp.log(x_lo), onp.log(x_hi), n)),
                         [x_hi, 2 * x_lo, 7 * x_lo, x_lo, 0.5 * x_hi, x_hi]])
    return v, x


def _worst_relative_error(f, n, v, x, scaled, dps, bessel='i'):
    got = f(v, x)
    ref = onp.array([_reference(n, a, b, scaled, dps, bessel) for a, b in zip(v, x)])
    nonzero = ref != 0                 # (K's v-derivative vanishes at v = 0: checked apart)
    return onp.max(onp.abs(got - ref)[nonzero] / onp.abs(ref[nonzero]))


def test_iv_first_and_second_order_derivatives_match_mpmath():
    v, x = _grid(0, 40, 1e-3, 100.0)
    first = pyad.vmap(pyad.grad(sp.iv, argnums=0))
    assert _worst_relative_error(first, 1, v, x, False, 90) < 1e-10
    second = pyad.vmap(pyad.grad(pyad.grad(sp.iv, argnums=0), argnums=0))
    assert _worst_relative_error(second, 2, v[:20], x[:20], False, 90) < 1e-10


def test_ive_order_derivative_for_large_arguments():
    v, x = _grid(1, 30, 100.0, 1e4)
    first = pyad.vmap(pyad.grad(sp.ive, argnums=0))
    assert _worst_relative_error(first, 1, v, x, True, 60) < 1e-10


def test_kv_and_kve_order_derivatives_match_mpmath():
    v, x = _grid(2, 30, 1e-3, 100.0)
    for f, scaled in ((sp.kv, False), (sp.kve, True)):
        first = pyad.vmap(pyad.grad(f, argnums=0))
        assert _worst_relative_error(first, 1, v, x, scaled, 50, 'k') < 1e-12
        second = pyad.vmap(pyad.grad(pyad.grad(f, argnums=0), argnums=0))
        assert _worst_relative_error(second, 2, v[:15], x[:15], scaled, 50, 'k') < 1e-12
    # K_v is even in v: the derivative is odd, and 0 at v = 0
    dv = pyad.grad(sp.kv, argnums=0)
    assert dv(0.0, 1.5) == 0.0 and dv(-2.5, 1.5) == -dv(2.5, 1.5)
    assert onp.isnan(dv(1.5, 0.0)) and onp.isnan(dv(1.5, -1.0))
    # kve for large arguments
    v, x = onp.array([0.5, 3.0, -7.0, 20.0]), onp.array([300.0, 1e3, 5e3, 1e4])
    assert _worst_relative_error(pyad.vmap(pyad.grad(sp.kve, argnums=0)), 1, v, x, True, 50,
                                 'k') < 1e-12


def test_order_derivative_near_the_switch_between_series_and_integral():
    # the series is used for x <= max(4, v²/4), Schläfli's integral above
    v = onp.array([4.0, 8.0, 12.0, 20.0, 20.0, 3.9])
    x = onp.array([3.999, 16.001, 35.99, 100.0, 100.001, 4.001])
    first = pyad.vmap(pyad.grad(sp.iv, argnums=0))
    assert _worst_relative_error(first, 1, v, x, False, 90) < 1e-10


@pytest.mark.parametrize('dtype', [onp.float64, onp.float32])
@pytest.mark.parametrize('f', [sp.iv, sp.ive, sp.kv, sp.kve], ids=['iv', 'ive', 'kv', 'kve'])
def test_second_order_in_order_and_argument(f, dtype):
    v = onp.array([-2.6, 0.4, 3.3], dtype=dtype)
    x = onp.array([0.7, 2.5, 6.0], dtype=dtype)
    check_grads(lambda vx: f(*vx), (v, x), order=2)
    check_grads(lambda v: f(v, onp.array([[0.3], [12.0]], dtype=dtype)), v, order=2)
    assert pyad.grad(lambda v: pnp.sum(f(v, x)))(v).dtype == dtype


def test_hessian_in_order_and_argument_against_finite_differences():
    """The Hessian in (v, x) of iv against central differences of the gradient."""
    def f(p):
        return sp.iv(p[0], p[1])
    p = onp.array([1.3, 4.2])
    h = 1e-5
    fd = onp.stack([(pyad.grad(f)(p + h * e) - pyad.grad(f)(p - h * e)) / (2 * h)
                    for e in onp.eye(2)])
    onp.testing.assert_allclose(pyad.hessian(f)(p), fd, rtol=1e-7)


def test_values_unchanged_and_integer_orders():
    v = onp.array([-3.0, -1.0, 0.0, 2.0])
    x = onp.array([0.5, 3.0, 9.0, 40.0])
    onp.testing.assert_array_equal(sp.iv(v, x), sps.iv(v, x))
    onp.testing.assert_array_equal(sp.kv(v, x), sps.kv(v, x))
    onp.testing.assert_array_equal(sp.kve(v, x), sps.kve(v, x))
    # I_{-n} = I_n, but the v-derivative at -n is not minus that at n: by the
    # reflection, d/dv I_v at -n equals -(d/dv I_v at n) - 2 (-1)^n K_n
    d = pyad.vmap(pyad.grad(sp.iv, argnums=0))
    for n in (1.0, 2.0, 3.0):
        left = d(onp.array([-n]), onp.array([2.5]))[0]
        right = d(onp.array([n]), onp.array([2.5]))[0]
        assert left == pytest.approx(-right - 2 * (-1) ** int(n) * sps.kv(n, 2.5), rel=1e-11)


def test_special_points_of_the_order_derivative():
    dv = pyad.grad(sp.iv, argnums=0)
    # I_v(0) = 0 for every v > 0: the derivative is 0 there
    assert dv(2.5, 0.0) == 0.0
    # at v = 0 (I_v(0) jumps from 1 to 0), at negative orders and negative x: nan
    assert onp.isnan(dv(0.0, 0.0)) and onp.isnan(dv(-1.5, 0.0))
    assert onp.isnan(dv(1.5, -2.0)) and onp.isnan(dv(2.0, -2.0))
    # at v = 0, d/dv I_v(x) = -K_0(x), and ive's is -K_0(x) e^{-x}
    assert dv(0.0, 3.0) == pytest.approx(-sps.k0(3.0), rel=1e-12)
    want = -sps.k0e(30.0) * onp.exp(-60.0)
    assert pyad.grad(sp.ive, argnums=0)(0.0, 30.0) == pytest.approx(want, rel=1e-11)
