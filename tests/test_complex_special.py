"""Complex arguments of the special functions and of pyad.nn's softmax family: values
against SciPy in complex128 and complex64, the holomorphic derivative against SciPy's
own functions (the derivatives to second order, against finite differences, are in
tests/test_complex.py's table of every complex primitive), and clear errors for the
functions SciPy computes for real arguments only."""
import numpy as onp
import pytest
import scipy.special as sps

import pyad
import pyad.nn as nn
import pyad.numpy as pnp
import pyad.scipy.special as sp

RNG = onp.random.default_rng(3)
Z = RNG.uniform(-2, 2, 6) + 1j * RNG.uniform(-2, 2, 6)

# name -> (pyad function, SciPy's, points)
HOLOMORPHIC = {
    'erf': (sp.erf, sps.erf, Z), 'erfc': (sp.erfc, sps.erfc, Z),
    'erfcx': (sp.erfcx, sps.erfcx, Z), 'erfi': (sp.erfi, sps.erfi, Z),
    'dawsn': (sp.dawsn, sps.dawsn, Z), 'wofz': (sp.wofz, sps.wofz, Z),
    'gamma': (sp.gamma, sps.gamma, Z), 'rgamma': (sp.rgamma, sps.rgamma, Z),
    'loggamma': (sp.loggamma, sps.loggamma, Z), 'digamma': (sp.digamma, sps.digamma, Z),
    'psi': (sp.psi, sps.psi, Z),
    'polygamma0': (lambda z: sp.polygamma(0, z), sps.digamma, Z),    # (SciPy's fails for complex)
    'exp1': (sp.exp1, sps.exp1, Z), 'expi': (sp.expi, sps.expi, Z),
    'ndtr': (sp.ndtr, sps.ndtr, Z), 'log_ndtr': (sp.log_ndtr, sps.log_ndtr, Z),
    'xlogy': (lambda z: sp.xlogy(z, z + 3), lambda z: sps.xlogy(z, z + 3), Z),
    'xlog1py': (lambda z: sp.xlog1py(z, z + 2), lambda z: sps.xlog1py(z, z + 2), Z),
    'jn': (lambda z: sp.jn(3, z), lambda z: sps.jn(3, z), Z),
    'iv': (lambda z: sp.iv(0.7, z), lambda z: sps.iv(0.7, z), Z),
    'ive': (lambda z: sp.ive(0.7, z), lambda z: sps.ive(0.7, z), Z),
    'kv': (lambda z: sp.kv(0.7, z), lambda z: sps.kv(0.7, z), Z),
    'kve': (lambda z: sp.kve(2.5, z), lambda z: sps.kve(2.5, z), Z),
}


@pytest.mark.parametrize('dtype', [onp.complex128, onp.complex64])
@pytest.mark.parametrize('name', sorted(HOLOMORPHIC))
def test_values_match_scipy_and_keep_the_dtype(name, dtype):
    f, ref, z = HOLOMORPHIC[name]
    z = z.astype(dtype)
    got = f(z)
    assert got.dtype == dtype
    tol = 1e-12 if dtype == onp.complex128 else 1e-5
    onp.testing.assert_allclose(got, ref(z), rtol=tol)


# the complex derivative, from SciPy's functions
DERIVATIVES = {
    'gamma': (sp.gamma, lambda z: sps.gamma(z) * sps.digamma(z)),
    'loggamma': (sp.loggamma, sps.digamma),
    'rgamma': (sp.rgamma, lambda z: -sps.rgamma(z) * sps.digamma(z)),
    'erfcx': (sp.erfcx, lambda z: 2 * z * sps.erfcx(z) - 2 / onp.sqrt(onp.pi)),
    'wofz': (sp.wofz, lambda z: -2 * z * sps.wofz(z) + 2j / onp.sqrt(onp.pi)),
    'exp1': (sp.exp1, lambda z: -onp.exp(-z) / z),
    'expi': (sp.expi, lambda z: onp.exp(z) / z),
    'jn': (lambda z: sp.jn(3, z), lambda z: sps.jvp(3, z)),
    'iv': (lambda z: sp.iv(0.7, z), lambda z: sps.ivp(0.7, z)),
    'kv': (lambda z: sp.kv(0.7, z), lambda z: sps.kvp(0.7, z)),
    'kve': (lambda z: sp.kve(0.7, z), lambda z: (sps.kvp(0.7, z) + sps.kv(0.7, z)) * onp.exp(z)),
    'xlogy': (lambda z: sp.xlogy(2.0 + 1j, z), lambda z: (2.0 + 1j) / z),
}


@pytest.mark.parametrize('name', sorted(DERIVATIVES))
def test_holomorphic_derivative_against_scipy(name):
    f, df = DERIVATIVES[name]
    got = pyad.vmap(pyad.grad(f, holomorphic=True))(Z)
    onp.testing.assert_allclose(got, df(Z), rtol=1e-10)


def test_polygamma_of_complex_values_against_mpmath():
    mpmath = pytest.importorskip('mpmath')
    z = onp.concatenate([Z, [-7.5 + 0.3j, 30 - 4j, 0.01 + 0.01j, -0.3 - 25j]])
    for n in (1, 2, 4):
        want = onp.array([complex(mpmath.polygamma(n, complex(w))) for w in z])
        onp.testing.assert_allclose(sp.polygamma(n, z), want, rtol=1e-12)
    # digamma's derivative is the trigamma function, now for complex z too
    want = onp.array([complex(mpmath.polygamma(1, complex(w))) for w in Z])
    onp.testing.assert_allclose(pyad.vmap(pyad.grad(sp.digamma, holomorphic=True))(Z), want,
                                rtol=1e-12)


@pytest.mark.parametrize('f', [sp.gammaln, sp.erfinv, sp.expit, sp.logit, sp.j0, sp.i0,
                               lambda z: sp.betaln(z, 2.0), lambda z: sp.gammainc(2.0, z)],
                         ids=['gammaln', 'erfinv', 'expit', 'logit', 'j0', 'i0', 'betaln',
                              'gammainc'])
def test_functions_scipy_computes_for_real_arguments_only_refuse_complex(f):
    with pytest.raises(TypeError, match='does not support complex values'):
        pyad.grad(f, holomorphic=True)(0.5 + 0.5j)


def test_ive_of_complex_values_is_not_holomorphic():
    # ive(v, z) = iv(v, z) exp(-|Re z|): its JVP along a direction t is
    # ive'(z) t - sign(Re z) ive Re(t), checked against SciPy's values by differences
    h = 1e-6
    for t in (1.0, 1j, 0.6 - 0.8j):
        _, got = pyad.jvp(lambda z: sp.ive(0.7, z), (Z,), (onp.full(Z.shape, t),))
        want = (sps.ive(0.7, Z + h * t) - sps.ive(0.7, Z - h * t)) / (2 * h)
        onp.testing.assert_allclose(got, want, rtol=1e-7)


def test_order_derivative_with_complex_argument_is_a_clear_error():
    with pytest.raises(TypeError, match='iv: the derivative in the order v is implemented'):
        pyad.grad(lambda v: pnp.real(sp.iv(v, 1.0 + 1.0j)))(1.5)


# ----------------------------------------------------------------- pyad.nn
M = RNG.normal(size=(3, 4)) * 4 + 1j * RNG.normal(size=(3, 4)) * 4


@pytest.mark.parametrize('dtype', [onp.complex128, onp.complex64])
def test_softmax_family_of_complex_values_matches_scipy(dtype):
    m = M.astype(dtype)
    tol = 1e-12 if dtype == onp.complex128 else 2e-5
    for axis in (0, 1):
        for f, ref in ((nn.softmax, sps.softmax), (nn.log_softmax, sps.log_softmax)):
            got = f(m, axis=axis)
            assert got.dtype == dtype
            onp.testing.assert_allclose(got, ref(m, axis=axis), rtol=tol, atol=tol)
        # logsumexp: the principal branch of the log of the complex sum
        got = nn.logsumexp(m, axis=axis)
        onp.testing.assert_allclose(got, sps.logsumexp(m, axis=axis), rtol=tol)
        assert onp.all(onp.abs(got.imag) <= onp.pi)


def test_softmax_family_complex_derivatives():
    z = M[0]
    soft = sps.softmax(z)
    onp.testing.assert_allclose(pyad.grad(nn.logsumexp, holomorphic=True)(z), soft, rtol=1e-12)
    J = pyad.jacfwd(nn.softmax, holomorphic=True)(z)
    onp.testing.assert_allclose(J, onp.diag(soft) - onp.outer(soft, soft), rtol=1e-10, atol=1e-14)
    J = pyad.jacrev(nn.log_softmax, holomorphic=True)(z)
    onp.testing.assert_allclose(J, onp.eye(4) - soft[None, :], rtol=1e-10, atol=1e-14)
    # a -inf (masked) entry still gets probability 0 and no nan
    zm = z.copy()
    zm[1] = -onp.inf
    assert nn.softmax(zm)[1] == 0
    assert onp.all(onp.isfinite(pyad.jacfwd(nn.softmax, holomorphic=True)(zm)))


@pytest.mark.parametrize('name', ['sparsemax', 'entmax15', 'sparsemax_loss'])
def test_other_nn_functions_refuse_complex_values_by_name(name):
    f = getattr(nn, name)
    args = (M[0],) if name != 'sparsemax_loss' else (M[0], onp.eye(4)[0])
    with pytest.raises(TypeError, match=f'{name}: complex values are not supported'):
        f(*args)
