"""Long recurrences: the loops of optimisers, RNNs, ODE integrators and moving
averages, 10^2 to 10^5 steps, in float16, float32 and float64.

Both modes may carry a derivative with a constant factor not yet applied; along a
loop such factors compound (0.5**1100 underflows, 3**1000 overflows) while the
array drifts the other way.  The factors are kept bounded (pyad/_core/factors.py),
so every derivative here must be finite and equal to an independent reference:
the same loop run on hyper-dual numbers (value, first and second derivative along
the elementwise diagonal) in float64, written out below with NumPy alone.
"""
import numpy as np
import pytest

import pyad
import pyad.numpy as pnp


class HyperDual:
    """v + d ε + e ε²/2 elementwise, in float64: the derivatives of a loop whose
    element i depends on x_i alone, along the diagonal."""

    def __init__(self, v, d, e):
        self.v, self.d, self.e = v, d, e

    def __add__(self, o):
        o = _hd(o, self.v)
        return HyperDual(self.v + o.v, self.d + o.d, self.e + o.e)

    __radd__ = __add__

    def __sub__(self, o):
        o = _hd(o, self.v)
        return HyperDual(self.v - o.v, self.d - o.d, self.e - o.e)

    def __mul__(self, o):
        o = _hd(o, self.v)
        return HyperDual(self.v * o.v, self.d * o.v + self.v * o.d,
                         self.e * o.v + 2 * self.d * o.d + self.v * o.e)

    __rmul__ = __mul__


def _hd(o, like):
    if isinstance(o, HyperDual):
        return o
    z = np.zeros_like(like)
    return HyperDual(np.full_like(like, o), z, z)


def _chain(u, f0, f1, f2):
    return HyperDual(f0, f1 * u.d, f1 * u.e + f2 * u.d ** 2)


class HD:
    @staticmethod
    def tanh(u):
        t = np.tanh(u.v)
        s = 1 - t * t
        return _chain(u, t, s, -2 * t * s)

    @staticmethod
    def sin(u):
        return _chain(u, np.sin(u.v), np.cos(u.v), -np.sin(u.v))


# Each loop: (start, step, steps); step(y, x, ops) -> next y.  The true derivatives
# are ordinary numbers; the lazy factors of the plain arithmetic would not be.
LOOPS = {
    'tanh mix (x 0.5 per step)': (lambda x: x, lambda y, x, o: o.tanh(y) * 0.5 + y * 0.5, 1000),
    'moving average m*0.9 + x*0.1': (lambda x: x * 0.0, lambda y, x, o: y * 0.9 + x * 0.1, 1000),
    'small factor y*1e-6 + x': (lambda x: x, lambda y, x, o: y * 1e-6 + x, 60),
    'halving y*0.5 + sin x': (lambda x: x, lambda y, x, o: y * 0.5 + o.sin(x), 1100),
    'large factors y*3 - y*2.5 + x/2': (lambda x: x, lambda y, x, o: y * 3.0 - y * 2.5 + x * 0.5,
                                        1000),
    'relaxation x*0.999999 + sin(x)*1e-6': (lambda x: x,
                                            lambda y, x, o: y * 0.999999 + o.sin(y) * 1e-6, 100),
}
W = np.array([0.7, -1.3, 0.4])
X = np.array([0.3, -0.8, 1.1])


def _run(loop, x, ops, steps=None):
    start, step, n = LOOPS[loop]
    y = start(x)
    for _ in range(steps or n):
        y = step(y, x, ops)
    return y


def _reference(loop, steps=None):
    """(y, dy/dx, d²y/dx²) elementwise, in float64."""
    x = HyperDual(X.copy(), np.ones(3), np.zeros(3))
    y = _run(loop, x, HD, steps)
    return y.v, y.d, y.e


TOL = {np.float16: 3e-2, np.float32: 2e-3, np.float64: 1e-9}


def _close(got, want, dtype):
    got = np.asarray(got, dtype=np.float64)
    assert np.all(np.isfinite(got)), got
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype])


DTYPES = [np.float16, np.float32, np.float64]


@pytest.mark.parametrize('dtype', DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize('loop', sorted(LOOPS))
def test_first_derivatives_of_long_loops(loop, dtype):
    steps = 40 if dtype == np.float16 else None       # (float16 rounding over 10^3 steps)
    _, d, _ = _reference(loop, steps)
    x = X.astype(dtype)
    v = np.array([1.0, -2.0, 0.5]).astype(dtype)
    vector = lambda z: _run(loop, z, pnp, steps)                  # noqa: E731
    scalar = lambda z: pnp.sum(vector(z) * W.astype(dtype))        # noqa: E731
    g = pyad.grad(scalar)(x)
    assert g.dtype == dtype
    _close(g, W * d, dtype)
    _close(pyad.jvp(vector, x, v)[1], d * v, dtype)
    _close(pyad.vjp(vector, x)[1](v), d * v, dtype)
    _close(pyad.jacfwd(vector)(x), np.diag(d), dtype)
    _close(pyad.jacrev(vector)(x), np.diag(d), dtype)


@pytest.mark.parametrize('dtype', [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize('loop', sorted(LOOPS))
def test_second_derivatives_of_long_loops(loop, dtype):
    _, _, e = _reference(loop)
    x = X.astype(dtype)
    v = np.array([1.0, -2.0, 0.5]).astype(dtype)
    scalar = lambda z: pnp.sum(_run(loop, z, pnp) * W.astype(dtype))      # noqa: E731
    _close(pyad.hessian(scalar)(x), np.diag(W * e), dtype)
    _close(pyad.hessianv(scalar)(x, v), W * e * v, dtype)
    along = lambda s: scalar(x + s * v)                                     # noqa: E731
    _close(pyad.diffn(2, along)(0.0), np.sum(W * e * v * v), dtype)


@pytest.mark.parametrize('op', ['grad', 'jvp', 'hessianv'])
def test_a_hundred_thousand_steps(op, values):
    """x*0.999999 + sin(x)*1e-6 over 10^5 steps: factors of 0.999999**1e5.  (Once:
    the 10^3-step loops above cover deferred values.)"""
    if values == 'deferred':
        pytest.skip('run once, with values as in use')
    steps = 100_000
    _, d, e = _reference('relaxation x*0.999999 + sin(x)*1e-6', steps)
    scalar = lambda z: pnp.sum(_run('relaxation x*0.999999 + sin(x)*1e-6', z, pnp, steps) * W)  # noqa: E731
    if op == 'grad':
        _close(pyad.grad(scalar)(X), W * d, np.float64)
    elif op == 'jvp':
        _close(pyad.jvp(lambda z: _run('relaxation x*0.999999 + sin(x)*1e-6', z, pnp, steps),
                        X, np.ones(3))[1], d, np.float64)
    else:
        _close(pyad.hessianv(scalar)(X, np.ones(3)), W * e, np.float64)


def test_the_reported_cases():
    # float32, 130 and 200 steps of tanh(y)*0.5 + y*0.5: was inf, then NaN
    for steps in (130, 200):
        x = np.float32([0.5, 1.0, -0.3])
        g = pyad.grad(lambda z: pnp.sum(_run('tanh mix (x 0.5 per step)', z, pnp, steps)))(x)
        assert np.all(np.isfinite(g)) and np.all(g > 0)
    # float64: about 1030 steps of a *0.5 update gave inf
    g = pyad.grad(lambda z: pnp.sum(_run('halving y*0.5 + sin x', z, pnp, 1100)))(X)
    np.testing.assert_allclose(g, 2 * np.cos(X), rtol=1e-12)
