"""pyad.numpy.cross against numpy.cross: 2- and 3-vectors, mixed, broadcast, every axis
parameter; derivatives to second order in float32 and float64; errors."""
import warnings

import numpy as np
import pytest

import pyad
import pyad.numpy as pnp
from pyad.testing import check_grads

# (shape of a, shape of b, keyword arguments)
CASES = [
    ((3,), (3,), {}),
    ((2,), (2,), {}),
    ((2,), (3,), {}),
    ((3,), (2,), {}),
    ((4, 3), (3,), {}),
    ((4, 2), (4, 2), {}),
    ((2, 1, 2), (3, 3), {}),
    ((3, 4), (4, 3), {'axisa': 0}),
    ((3, 4), (3, 4), {'axis': 0}),
    ((2, 4), (4, 3), {'axisa': 0, 'axisc': 0}),
    ((4, 3), (2, 3, 4), {'axisb': 1, 'axisc': 0}),
    ((2, 2, 4), (4, 2), {'axisa': 1, 'axisb': -1, 'axisc': 1}),
    ((4, 2), (2, 4), {'axisb': 0, 'axisc': 0}),       # 2 x 2: axisc is not used
]


def numpy_cross(a, b, **kw):
    with warnings.catch_warnings():         # NumPy 2 deprecates 2-vectors; pyad keeps them
        warnings.simplefilter('ignore', DeprecationWarning)
        return np.cross(a, b, **kw)


def _pair(sa, sb, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)


@pytest.mark.parametrize('sa,sb,kw', CASES)
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_values_match_numpy(sa, sb, kw, dtype):
    a, b = _pair(sa, sb, dtype)
    got = pnp.cross(a, b, **kw)
    want = numpy_cross(a, b, **kw)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-14)


@pytest.mark.parametrize('sa,sb,kw', CASES)
@pytest.mark.parametrize('dtype', [np.float64, np.float32])
def test_derivatives_second_order(sa, sb, kw, dtype):
    a, b = _pair(sa, sb, dtype, seed=1)
    # a nonlinear function of the product, so that the second derivatives are not zero
    check_grads(lambda ab: pnp.sin(pnp.cross(*ab, **kw)), (a, b), order=2)


def test_gradient_is_the_transpose_of_the_cross_matrix():
    a, b = np.array([0.3, -1.2, 0.7]), np.array([1.1, 0.4, -0.5])
    J = pyad.jacobian(lambda a: pnp.cross(a, b))(a)
    skew_b = np.array([[0, -b[2], b[1]], [b[2], 0, -b[0]], [-b[1], b[0], 0]])
    np.testing.assert_allclose(J, -skew_b, atol=1e-15)        # a x b = -[b]x a
    z = pyad.grad(lambda a: pnp.cross(a[:2], b[:2]))(a)       # z = a0 b1 - a1 b0
    np.testing.assert_allclose(z, [b[1], -b[0], 0.0])


def test_vmap_and_jacrev():
    a, b = _pair((5, 3), (5, 2), np.float64)
    got = pyad.vmap(pnp.cross)(a, b)
    np.testing.assert_allclose(got, numpy_cross(a, b), rtol=1e-14)
    J = pyad.jacrev(lambda a: pnp.cross(a, b[0]))(a[0])
    np.testing.assert_allclose(J, pyad.jacfwd(lambda a: pnp.cross(a, b[0]))(a[0]))


def test_numpy_dispatches_traced_values():
    b = np.array([1.0, 2.0, 0.5])
    g = pyad.grad(lambda a: pnp.sum(np.cross(a, b) ** 2))(np.array([0.2, 0.1, -0.4]))
    h = pyad.grad(lambda a: pnp.sum(pnp.cross(a, b) ** 2))(np.array([0.2, 0.1, -0.4]))
    np.testing.assert_allclose(g, h)


@pytest.mark.parametrize('sa,sb,kw,match', [
    ((4,), (3,), {}, 'dimension must be 2 or 3'),
    ((3,), (1,), {}, 'dimension must be 2 or 3'),
    ((3, 4), (3,), {}, 'a has vectors of 4'),
    ((), (3,), {}, 'a is a scalar'),
    ((3,), (3,), {'axisc': 2}, 'axisc 2 is out of bounds'),
    ((3,), (3,), {'axisa': 1}, 'axisa 1 is out of bounds'),
    ((3,), (2, 3), {'axisb': 2}, 'axisb 2 is out of bounds'),
    ((4, 3), (5, 3), {}, 'cannot be broadcast'),
])
def test_errors(sa, sb, kw, match):
    a, b = _pair(sa, sb, np.float64)
    with pytest.raises(ValueError, match=match):
        pnp.cross(a, b, **kw)
    with pytest.raises(ValueError, match=match):              # traced, the same message
        pyad.grad(lambda a: pnp.sum(pnp.cross(a, b, **kw)))(a)


def test_dask_arrays_stay_lazy_and_right():
    da = pytest.importorskip('dask.array')
    a, b = _pair((4, 3), (4, 2), np.float64)
    got = pnp.cross(da.from_array(a, chunks=2), da.from_array(b, chunks=2))
    assert isinstance(got, da.Array)
    np.testing.assert_allclose(np.asarray(got), numpy_cross(a, b), rtol=1e-14)
