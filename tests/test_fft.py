"""pyad.numpy.fft: values against numpy.fft, derivatives of every transform in
both modes to second order (float32/complex64 and float64/complex128), errors."""
import numpy as onp
import pytest

import pyad
import pyad.numpy as np
from pyad.testing import check_grads

RNG = onp.random.default_rng(3)
X = RNG.normal(size=(3, 6))
Z = X + 1j * RNG.normal(size=(3, 6))
NORMS = [None, 'backward', 'ortho', 'forward']

# name -> (function of (module, a, norm), the input): every transform with its
# options, on pyad.numpy.fft or numpy.fft
CASES = {
    'fft': (lambda m, a, norm: m.fft(a, norm=norm), Z),
    'fft of real': (lambda m, a, norm: m.fft(a, norm=norm), X),
    'fft n pad': (lambda m, a, norm: m.fft(a, n=8, norm=norm), Z),
    'fft n crop axis 0': (lambda m, a, norm: m.fft(a, n=2, axis=0, norm=norm), Z),
    'ifft': (lambda m, a, norm: m.ifft(a, norm=norm), Z),
    'ifft n axis 0': (lambda m, a, norm: m.ifft(a, n=5, axis=0, norm=norm), Z),
    'rfft': (lambda m, a, norm: m.rfft(a, norm=norm), X),
    'rfft odd n': (lambda m, a, norm: m.rfft(a, n=5, norm=norm), X),
    'rfft axis 0': (lambda m, a, norm: m.rfft(a, axis=0, norm=norm), X),
    'irfft': (lambda m, a, norm: m.irfft(a, norm=norm), Z),
    'irfft odd n': (lambda m, a, norm: m.irfft(a, n=7, norm=norm), Z),
    'irfft n crop': (lambda m, a, norm: m.irfft(a, n=4, norm=norm), Z),
    'irfft axis 0': (lambda m, a, norm: m.irfft(a, axis=0, norm=norm), Z),
    'fft2': (lambda m, a, norm: m.fft2(a, norm=norm), Z),
    'fft2 s': (lambda m, a, norm: m.fft2(a, s=(4, 5), axes=(0, 1), norm=norm), Z),
    'ifft2': (lambda m, a, norm: m.ifft2(a, s=(2, 6), norm=norm), Z),
    'fftn': (lambda m, a, norm: m.fftn(a, norm=norm), Z),
    'fftn axes': (lambda m, a, norm: m.fftn(a, axes=(0,), norm=norm), Z),
    'ifftn': (lambda m, a, norm: m.ifftn(a, s=(3, 4), axes=(1, 0), norm=norm), Z),
    'rfftn': (lambda m, a, norm: m.rfftn(a, norm=norm), X),
    'rfftn s': (lambda m, a, norm: m.rfftn(a, s=(4, 5), axes=(0, 1), norm=norm), X),
    'irfftn': (lambda m, a, norm: m.irfftn(a, norm=norm), Z),
    'irfftn s axes': (lambda m, a, norm: m.irfftn(a, s=(5, 2), axes=(1, 0), norm=norm), Z),
    'rfft2': (lambda m, a, norm: m.rfft2(a, norm=norm), X),
    'irfft2': (lambda m, a, norm: m.irfft2(a, s=(3, 6), norm=norm), Z),
}


@pytest.mark.parametrize('name', list(CASES))
def test_values_against_numpy(name):
    f, a = CASES[name]
    for norm in NORMS:
        want = f(onp.fft, a, norm)
        got = f(np.fft, a, norm)
        assert got.dtype == want.dtype and got.shape == want.shape
        onp.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        # traced: the value is the same
        traced = pyad.vjp(lambda a_: f(np.fft, a_, norm), a)[0]
        onp.testing.assert_allclose(traced, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('norm', NORMS)
@pytest.mark.parametrize('name', list(CASES))
def test_derivatives_against_finite_differences(name, norm):
    f, a = CASES[name]
    check_grads(lambda a_: f(np.fft, a_, norm), a, order=2)


@pytest.mark.parametrize('name', list(CASES))
def test_single_precision(name):
    f, a = CASES[name]
    low = a.astype(onp.complex64 if onp.iscomplexobj(a) else onp.float32)
    y, pullback = pyad.vjp(lambda a_: f(np.fft, a_, 'ortho'), low)
    assert y.dtype in (onp.float32, onp.complex64)
    assert pullback(onp.ones_like(y)).dtype == low.dtype
    assert pyad.jvp(lambda a_: f(np.fft, a_, 'ortho'), low, onp.ones_like(low))[1].dtype == y.dtype
    check_grads(lambda a_: f(np.fft, a_, 'ortho'), low, order=2)


def test_shifts():
    for f, g in ((np.fft.fftshift, onp.fft.fftshift), (np.fft.ifftshift, onp.fft.ifftshift)):
        for axes in (None, 0, (1,), (0, 1), -1):
            onp.testing.assert_array_equal(f(Z, axes=axes), g(Z, axes=axes))
            onp.testing.assert_array_equal(pyad.vjp(lambda z: f(z, axes=axes), Z)[0],
                                           g(Z, axes=axes))
            check_grads(lambda z: f(z, axes=axes) * Z, Z, order=2)
        check_grads(lambda x: f(x), X.astype(onp.float32), order=2)
    onp.testing.assert_array_equal(np.fft.ifftshift(np.fft.fftshift(X[:, :5])), X[:, :5])


def test_real_functions_of_spectra_batched_jacobians():
    # a real output of a real input through complex spectra: jacfwd, jacrev, hessian
    f = lambda x: np.sum(np.abs(np.fft.rfft(x, axis=0)) ** 2 * X[:2])
    check_grads(f, X, order=2)
    g = lambda x: np.fft.irfft(np.fft.rfft(x) * np.fft.rfft(X[0]), n=6)
    J = pyad.jacfwd(g)(X[1])
    onp.testing.assert_allclose(J, pyad.jacrev(g)(X[1]), rtol=1e-12, atol=1e-12)
    # circular convolution with X[0]: the Jacobian is the circulant matrix of X[0]
    circulant = onp.array([[X[0][(i - j) % 6] for j in range(6)] for i in range(6)])
    onp.testing.assert_allclose(J, circulant, atol=1e-12)
    H = pyad.hessian(lambda x: np.sum(np.abs(np.fft.fft(x)) ** 4))(X[0])
    onp.testing.assert_allclose(H, H.T, rtol=1e-10)


def test_parseval_gradient():
    # Σ|fft(z)|² = n Σ|z|²: its gradient (JAX's convention) is 2 n conj(z)
    g = pyad.grad(lambda z: np.sum(np.abs(np.fft.fft(z)) ** 2))(Z[0])
    onp.testing.assert_allclose(g, 2 * 6 * onp.conj(Z[0]), rtol=1e-12)
    g = pyad.grad(lambda z: np.sum(np.abs(np.fft.fft(z, norm='ortho')) ** 2))(Z[0])
    onp.testing.assert_allclose(g, 2 * onp.conj(Z[0]), rtol=1e-12)


def test_holomorphic_fft():
    # fft is complex-linear: its holomorphic Jacobian is the DFT matrix
    J = pyad.jacfwd(np.fft.fft, holomorphic=True)(Z[0])
    onp.testing.assert_allclose(J, onp.fft.fft(onp.eye(6), axis=0), atol=1e-12)
    onp.testing.assert_allclose(pyad.jacrev(np.fft.fft, holomorphic=True)(Z[0]), J, atol=1e-12)


def test_numpy_fft_on_traced_values_is_pyad():
    f = lambda x: np.sum(np.abs(onp.fft.rfft(x)) ** 2)
    check_grads(f, X[0], order=2)


def test_errors():
    with pytest.raises(ValueError, match='fft: norm must be'):
        np.fft.fft(Z, norm='bogus')
    with pytest.raises(TypeError, match='rfft: the input must be real'):
        pyad.grad(lambda z: np.sum(np.abs(np.fft.rfft(z))))(Z)
    with pytest.raises(ValueError, match='fft: axis 2 is out of bounds'):
        np.fft.fft(Z, axis=2)
    with pytest.raises(ValueError, match='s has 1 lengths but there are 2 axes'):
        np.fft.fftn(Z, s=(3,), axes=(0, 1))
    with pytest.raises(ValueError, match='invalid number of data points'):
        pyad.grad(lambda x: np.sum(np.abs(np.fft.fft(x, n=0))))(X)
    with pytest.raises(ValueError, match='repeated axes'):
        np.fft.fftn(Z, axes=(0, 0))
    with pytest.raises(ValueError, match='fftshift: axis 3 is out of bounds'):
        np.fft.fftshift(Z, axes=3)


def test_dask_arrays():
    da = pytest.importorskip('dask.array')
    x = da.from_array(X, chunks=(1, 6))
    f = lambda x: np.sum(np.abs(np.fft.rfft(x)) ** 2 * X[0, :4])
    g = pyad.grad(f)(x)
    assert isinstance(g, da.Array)
    onp.testing.assert_allclose(onp.asarray(g), pyad.grad(f)(X), rtol=1e-12)
    z = da.from_array(Z, chunks=(1, 6))
    h = lambda z: np.sum(np.abs(np.fft.ifft(np.exp(z))))
    onp.testing.assert_allclose(onp.asarray(pyad.grad(h)(z)), pyad.grad(h)(Z), rtol=1e-12)
