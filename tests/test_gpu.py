"""The core checks on a device: device arrays in, device arrays out (values and
derivatives).  Runs on CuPy where a GPU is present (skipped cleanly elsewhere)
and everywhere on the strict CPU stand-in of tests/devices.py."""
import numpy as onp
import pytest

import pyad
import pyad.linalg as la
import pyad.numpy as pnp
from pyad import backend
from pyad.testing import check_grads

from .devices import DEVICES


rng = onp.random.default_rng(11)

# the checks run on every array library in DEVICES: the strict CPU stand-in
# everywhere, CuPy where a GPU is present
pytestmark = pytest.mark.parametrize('device', DEVICES)


VECTOR_FUNCS = {
    'elementwise': lambda v: pnp.sum(pnp.sin(v) * pnp.exp(v) + pnp.tanh(v) * pnp.sqrt(v)),
    'reductions': lambda v: pnp.mean(v ** 2) + pnp.sum(pnp.log(v)),
    'matmul': lambda v: pnp.sum(pnp.reshape(v, (2, 2)) @ pnp.reshape(v, (2, 2))),
    'indexing': lambda v: pnp.sum(v[1:3] ** 2) + v[0] * v[3],
    'where': lambda v: pnp.sum(pnp.where(v > 1.0, v, v * v)),
    'linalg solve': lambda v: pnp.sum(la.solve(pnp.reshape(v, (2, 2)) + 3.0 * eye(v, 2), v[:2])),
    'linalg inv det': lambda v: la.det(la.inv(pnp.reshape(v, (2, 2)) + 2.0 * eye(v, 2))),
    'fixed_point': lambda v: pnp.sum(pyad.fixed_point(lambda a, y: (y + a / y) / 2, v,
                                                      backend.namespace(v).ones(4, v.dtype))),
}


def eye(like, n):
    """An identity on like's device, in like's dtype (check_grads also calls the
    functions on host arrays, for its finite differences)."""
    return backend.namespace(like).eye(n, dtype=like.dtype)


@pytest.mark.parametrize('dtype', [onp.float32, onp.float64], ids=['float32', 'float64'])
@pytest.mark.parametrize('name', sorted(VECTOR_FUNCS))
def test_core_checks_on_device(name, dtype, device):
    f = VECTOR_FUNCS[name]
    x = device.put(rng.uniform(0.5, 1.5, 4).astype(dtype))
    assert backend.namespace(x) is device.xp
    y = f(x)
    assert device.owns(y) and y.dtype == dtype
    g = pyad.grad(f)(x)
    assert device.owns(g) and g.dtype == dtype
    H = pyad.hessian(f)(x)
    assert device.owns(H) and H.dtype == dtype
    g_host = pyad.grad(f)(backend.to_numpy(x).astype(onp.float64))
    onp.testing.assert_allclose(backend.to_numpy(g), g_host,
                                rtol=2e-2 if dtype == onp.float32 else 1e-8)
    if dtype == onp.float64:
        check_grads(f, x, order=2)


@pytest.mark.parametrize('name', ['solve', 'inv', 'det', 'slogdet', 'cholesky', 'eigh', 'svd',
                                  'qr', 'solve_triangular', 'expm', 'pinv'])
def test_linalg_on_device(name, device):
    a = rng.standard_normal((3, 3)) + 3 * onp.eye(3)
    spd = a @ a.T
    funcs = {
        'solve': (lambda m: la.solve(m, m[:, 0]), a),
        'inv': (la.inv, a),
        'det': (la.det, a),
        'slogdet': (lambda m: la.slogdet(m).logabsdet, a),
        'cholesky': (la.cholesky, spd),
        # eigenvectors only up to sign: a sign-free function of them
        'eigh': (lambda m: (la.eigh(m).eigenvalues, la.eigh(m).eigenvectors ** 2), spd),
        'svd': (la.svd, a),
        'qr': (la.qr, a),
        'solve_triangular': (lambda m: la.solve_triangular(m, m[:, 1], lower=True), a),
        'expm': (lambda m: la.expm(m / 4), a),
        'pinv': (la.pinv, a),
    }
    f, x = funcs[name]
    xd = device.put(x)
    out = pyad.tree_leaves(f(xd))
    assert all(device.owns(o) for o in out)
    g = pyad.grad(lambda m: sum(pnp.sum(o * o) for o in pyad.tree_leaves(f(m))))(xd)
    assert device.owns(g)
    check_grads(f, xd, order=2)
