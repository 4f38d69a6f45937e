"""pyad.jit's fusing of elementwise chains (the optional numba extra): the same bits
as the unfused program, only where it pays, and nothing without numba."""
import numpy as np
import pytest

import pyad
import pyad.numpy as pnp
from pyad import jit, grad, hessianv
from pyad.jit import fuse

numba = pytest.importorskip('numba')

N = 1 << 15


def rosen(x):
    a, b = x[:-1], x[1:]
    return pnp.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)


def _unfused(monkeypatch, fn, *args):
    monkeypatch.setattr(fuse, 'ENABLED', False)
    out = jit(fn)(*args)
    monkeypatch.setattr(fuse, 'ENABLED', True)
    return out


def _x(n=N, seed=0):
    return np.random.default_rng(seed).uniform(-1.5, 1.5, n)


def test_fused_gradient_is_bit_for_bit_the_unfused_program(monkeypatch):
    x = _x()
    jf = jit(grad(rosen))
    assert 'fused(' in jf.source(x)
    want = _unfused(monkeypatch, grad(rosen), x)
    np.testing.assert_array_equal(jf(x), want)
    np.testing.assert_allclose(jf(x), grad(rosen)(x), rtol=1e-12)
    x2 = _x(seed=1)
    np.testing.assert_array_equal(jf(x2), _unfused(monkeypatch, grad(rosen), x2))


def test_fused_gradient_matches_the_closed_form():
    x = _x()
    a, b = x[:-1], x[1:]
    want = np.zeros_like(x)
    want[:-1] = -400.0 * a * (b - a * a) - 2.0 * (1.0 - a)
    want[1:] += 200.0 * (b - a * a)
    np.testing.assert_allclose(jit(grad(rosen))(x), want, rtol=1e-12, atol=1e-9)


def test_fused_hvp_equals_unfused(monkeypatch):
    x, v = _x(), _x(seed=2)
    h = jit(hessianv(rosen))
    np.testing.assert_array_equal(h(x, v), _unfused(monkeypatch, hessianv(rosen), x, v))


def test_source_shows_the_fused_expression():
    src = jit(grad(rosen)).source(_x())
    line = next(l for l in src.splitlines() if 'fused(' in l)
    assert '#' in line and '*' in line.split('#')[1]


def test_small_arrays_are_not_fused():
    assert 'fused(' not in jit(grad(rosen)).source(_x(1000))


def test_float32_gradient_and_hvp_fused_equal_unfused(monkeypatch):
    """float32 chains: Python numbers meet the arrays as float32 values, as in NumPy,
    and every operation rounds to float32."""
    x, v = _x().astype(np.float32), _x(seed=2).astype(np.float32)
    jg, jh = jit(grad(rosen)), jit(hessianv(rosen))
    assert 'fused(' in jg.source(x) and 'fused(' in jh.source(x, v)
    g, hv = jg(x), jh(x, v)
    assert g.dtype == hv.dtype == np.float32
    np.testing.assert_array_equal(g, _unfused(monkeypatch, grad(rosen), x))
    np.testing.assert_array_equal(hv, _unfused(monkeypatch, hessianv(rosen), x, v))
    np.testing.assert_allclose(g, grad(rosen)(x), rtol=1e-6, atol=1e-6 * np.abs(g).max())


def _chain(x, y):
    return ((x - 0.1) * y + x * x) / (y + 2.0) - 3.0 * x


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('shape', [(256, 128), (16, 32, 64)])
def test_n_dimensional_chains(monkeypatch, shape, dtype):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(dtype)
    y = rng.uniform(0.5, 2.0, shape).astype(dtype)
    jf = jit(_chain)
    assert 'fused(' in jf.source(x, y)
    got = jf(x, y)
    assert got.dtype == dtype and got.shape == shape
    np.testing.assert_array_equal(got, _unfused(monkeypatch, _chain, x, y))
    np.testing.assert_array_equal(got, _chain(x, y))
    # inputs of the same signature but another memory layout: the same values
    xt = np.ascontiguousarray(x.T).T
    assert not xt.flags.c_contiguous
    np.testing.assert_array_equal(jf(xt, y), _chain(xt, y))
    np.testing.assert_array_equal(jf(x[..., ::-1], y), _chain(x[..., ::-1], y))


def test_traced_scalars_are_inputs_of_float64_loops(monkeypatch):
    def f(x, s):
        return (x * s - 1.0) * x + s * s
    x = _x().reshape(128, -1)
    jf = jit(f)
    src = jf.source(x, 0.7)
    assert 'fused(' in src
    for s in (0.7, -2.5):
        np.testing.assert_array_equal(jf(x, s), f(x, s))
        np.testing.assert_array_equal(jf(x, s), _unfused(monkeypatch, f, x, s))


def test_float32_does_not_fuse_what_would_change_its_type():
    """A float32 array times a traced float: NumPy keeps float32 for a Python float;
    no loop may compute it in float64."""
    def f(x, s):
        return (x * s - 1.0) * x + 2.0
    x = _x().astype(np.float32)
    jf = jit(f)
    got = jf(x, 0.3)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, f(x, 0.3))


def test_division_by_zero_gives_numpys_inf_and_nan():
    def f(x, y):
        return ((x - 1.0) * 2.0 + x * x) / y
    x = _x()
    y = np.ones(N)
    y[:3] = 0.0
    x[0], x[1], x[2] = 1.0, -1.0, 1.0   # numerators 1, 0 (with y[1] = 0: nan), 1: inf
    jf = jit(f)
    with np.errstate(divide='ignore', invalid='ignore'):
        assert 'fused(' in jf.source(x, y)
        want = f(x, y)
    np.testing.assert_array_equal(jf(x, y), want)


def test_a_value_read_twice_is_computed_once():
    def f(x):
        t = (x * 3.0 - 1.0) * x
        return t * t + t * 2.0 + 1.0
    x = _x()
    src = jit(f).source(x)
    np.testing.assert_array_equal(jit(f)(x), f(x))
    assert 'fused(' in src


def test_kernels_are_compiled_once_per_expression():
    x = _x()
    jit(grad(rosen))(x)
    count = len(fuse._kernels)
    jit(grad(rosen))(_x(seed=3))
    assert len(fuse._kernels) == count


def test_without_numba_nothing_is_fused(monkeypatch):
    monkeypatch.setattr(fuse, 'numba', None)
    x = _x()
    jf = jit(grad(rosen))
    assert 'fused(' not in jf.source(x)
    np.testing.assert_allclose(jf(x), grad(rosen)(x), rtol=1e-12)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_n_dimensional_gradient_fused_equals_unfused(monkeypatch, dtype):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((128, 256)).astype(dtype)
    y = rng.uniform(0.5, 2.0, (128, 256)).astype(dtype)
    g = grad(lambda x: pnp.sum(_chain(x, y)))
    jg = jit(g)
    assert 'fused(' in jg.source(x)
    got = jg(x)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, _unfused(monkeypatch, g, x))
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, g(x), rtol=rtol, atol=rtol)
