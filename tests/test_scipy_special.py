"""pyad.scipy.special: values equal SciPy's, derivatives pass check_grads to order 2
in float64 and float32, in every argument that has one; the integer and real
orders give clear errors."""
import numpy as onp
import pytest
import scipy.special as sps

import pyad
import pyad.numpy as pnp
import pyad.scipy.special as sp
from pyad.testing import check_grads


def points(lo, hi, dtype=onp.float64, n=3, seed=0):
    return onp.random.default_rng(seed).uniform(lo, hi, size=n).astype(dtype)


# name -> (pyad function of one array, SciPy reference, domain)
ONE_ARGUMENT = {
    'betaln_a': (lambda a: sp.betaln(a, 1.7), lambda a: sps.betaln(a, 1.7), (0.4, 4)),
    'betaln_b': (lambda b: sp.betaln(2.2, b), lambda b: sps.betaln(2.2, b), (0.4, 4)),
    'beta_a': (lambda a: sp.beta(a, 1.7), lambda a: sps.beta(a, 1.7), (0.4, 4)),
    'beta_b': (lambda b: sp.beta(2.2, b), lambda b: sps.beta(2.2, b), (0.4, 4)),
    'rgamma': (sp.rgamma, sps.rgamma, (0.3, 4)),
    'rgamma_negative': (sp.rgamma, sps.rgamma, (-2.9, -2.1)),
    'multigammaln': (lambda a: sp.multigammaln(a, 3), lambda a: sps.multigammaln(a, 3), (1.2, 4)),
    'j0': (sp.j0, sps.j0, (-4, 4)), 'j1': (sp.j1, sps.j1, (-4, 4)),
    'y0': (sp.y0, sps.y0, (0.5, 4)), 'y1': (sp.y1, sps.y1, (0.5, 4)),
    'jn': (lambda x: sp.jn(3, x), lambda x: sps.jn(3, x), (-4, 4)),
    'yn': (lambda x: sp.yn(2, x), lambda x: sps.yn(2, x), (0.5, 4)),
    'i0': (sp.i0, sps.i0, (-3, 3)), 'i1': (sp.i1, sps.i1, (-3, 3)),
    'iv': (lambda x: sp.iv(1.5, x), lambda x: sps.iv(1.5, x), (0.2, 3)),
    'ive': (lambda x: sp.ive(2.0, x), lambda x: sps.ive(2.0, x), (-3, 3)),
    'kv': (lambda x: sp.kv(1.5, x), lambda x: sps.kv(1.5, x), (0.2, 3)),
    'kve': (lambda x: sp.kve(-0.7, x), lambda x: sps.kve(-0.7, x), (0.2, 3)),
    'loggamma': (sp.loggamma, sps.loggamma, (0.2, 5)),
    'erfcx': (sp.erfcx, sps.erfcx, (-2, 5)), 'erfi': (sp.erfi, sps.erfi, (-2, 2)),
    'dawsn': (sp.dawsn, sps.dawsn, (-3, 3)),
    'exp1': (sp.exp1, sps.exp1, (0.1, 4)), 'expi': (sp.expi, sps.expi, (-3, 4)),
    'erfcinv': (sp.erfcinv, sps.erfcinv, (0.1, 1.9)),
    'ndtr': (sp.ndtr, sps.ndtr, (-3, 3)),
    'log_ndtr': (sp.log_ndtr, sps.log_ndtr, (-8, 3)),
    'gammainc_a': (lambda a: sp.gammainc(a, 1.3), lambda a: sps.gammainc(a, 1.3), (0.3, 5)),
    'gammainc_x': (lambda x: sp.gammainc(2.5, x), lambda x: sps.gammainc(2.5, x), (0.1, 6)),
    'gammaincc_a': (lambda a: sp.gammaincc(a, 4.0), lambda a: sps.gammaincc(a, 4.0), (0.3, 8)),
    'gammaincc_x': (lambda x: sp.gammaincc(0.7, x), lambda x: sps.gammaincc(0.7, x), (0.1, 6)),
    'gammainc_large': (lambda a: sp.gammainc(a, 60.0), lambda a: sps.gammainc(a, 60.0), (50, 70)),
    'betainc_a': (lambda a: sp.betainc(a, 1.7, 0.35), lambda a: sps.betainc(a, 1.7, 0.35), (0.3, 5)),
    'betainc_b': (lambda b: sp.betainc(2.3, b, 0.8), lambda b: sps.betainc(2.3, b, 0.8), (0.3, 5)),
    'betainc_x': (lambda x: sp.betainc(2.3, 0.6, x), lambda x: sps.betainc(2.3, 0.6, x), (0.05, 0.95)),
}


@pytest.mark.parametrize('name', sorted(ONE_ARGUMENT))
def test_values_and_derivatives(name):
    f, ref, (lo, hi) = ONE_ARGUMENT[name]
    x = points(lo, hi)
    onp.testing.assert_allclose(f(x), ref(x), rtol=1e-12, atol=1e-300)
    check_grads(f, x, order=2)


@pytest.mark.parametrize('name', sorted(ONE_ARGUMENT))
def test_float32_kept(name):
    f, ref, (lo, hi) = ONE_ARGUMENT[name]
    x = points(lo, hi, onp.float32)
    y = f(x)
    assert y.dtype == onp.float32
    assert pyad.grad(lambda x: pnp.sum(f(x)))(x).dtype == onp.float32
    check_grads(f, x, order=2)


def test_betainc_in_all_arguments_at_once_broadcasting():
    a = points(0.5, 3, n=(2, 1))
    b = points(0.5, 3, n=(1, 3), seed=1)
    x = points(0.1, 0.9, n=(3,), seed=2)
    onp.testing.assert_allclose(sp.betainc(a, b, x), sps.betainc(a, b, x), rtol=1e-12)
    check_grads(lambda abx: sp.betainc(*abx), (a, b, x), order=2)
    check_grads(lambda ax: sp.gammainc(*ax), (points(0.5, 3, n=(2, 1)), points(0.2, 4, n=(3,))))


def test_shape_derivatives_equal_finite_differences_of_scipy():
    """Against SciPy's own values, not against pyad's: a 5-point stencil in a."""
    h = 1e-3
    for f, ref, a in [(lambda a: sp.gammainc(a, 2.0), lambda a: sps.gammainc(a, 2.0), 1.7),
                      (lambda a: sp.betainc(a, 3.0, 0.7), lambda a: sps.betainc(a, 3.0, 0.7), 0.9),
                      (lambda b: sp.betainc(3.0, b, 0.7), lambda b: sps.betainc(3.0, b, 0.7), 0.9)]:
        fd = (-ref(a + 2 * h) + 8 * ref(a + h) - 8 * ref(a - h) + ref(a - 2 * h)) / (12 * h)
        assert abs(pyad.grad(f)(a) - fd) < 1e-10


def test_special_points():
    # 1/Γ has zeros at 0, -1, -2 where its slope is (-1)^n n!
    for n in range(4):
        assert pyad.grad(sp.rgamma)(-float(n)) == pytest.approx((-1) ** n * float(onp.prod(range(1, n + 1))))
    # j1 and i1 at 0: slope 1/2; ive is not smooth at 0 but has one-sided slopes
    assert pyad.grad(sp.j1)(0.0) == pytest.approx(0.5)
    assert pyad.grad(sp.i1)(0.0) == pytest.approx(0.5)
    # the derivatives of P(a, x) vanish at x = 0 (in a) and the t-like far tail is finite
    assert pyad.grad(lambda a: sp.gammainc(a, 0.0))(2.0) == 0.0
    assert pyad.grad(lambda a: sp.betainc(a, 2.0, 0.0))(2.0) == 0.0
    assert pyad.grad(lambda a: sp.betainc(a, 2.0, 1.0))(2.0) == 0.0
    assert onp.isfinite(pyad.grad(sp.log_ndtr)(-30.0))
    assert pyad.grad(sp.log_ndtr)(-30.0) == pytest.approx(30.033, rel=1e-3)


def test_orders_give_clear_errors():
    with pytest.raises(pyad.NonDifferentiableError if hasattr(pyad, 'NonDifferentiableError')
                       else Exception, match='jn: the order n is an integer'):
        pyad.grad(lambda n: sp.jn(n, 2.0))(1.0)
    with pytest.raises(Exception, match='yn: the order n is an integer'):
        pyad.grad(lambda n: sp.yn(n, 2.0))(1.0)
    with pytest.raises(ValueError, match='multigammaln: a must be greater'):
        sp.multigammaln(0.5, 3)
    with pytest.raises(ValueError, match='multigammaln: d must be a positive integer'):
        sp.multigammaln(3.0, 1.5)


def test_gammasgn_has_zero_derivative():
    x = onp.array([-2.5, -1.5, 0.5])
    onp.testing.assert_array_equal(sp.gammasgn(x), sps.gammasgn(x))
    onp.testing.assert_array_equal(pyad.grad(lambda x: pnp.sum(sp.gammasgn(x) * x))(x), sps.gammasgn(x))


def test_existing_functions_are_the_same_objects():
    assert sp.erf is pnp.erf and sp.gammaln is pnp.gammaln and sp.polygamma is pnp.polygamma
