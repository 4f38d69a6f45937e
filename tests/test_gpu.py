"""The core checks over CuPy: CuPy arrays in, CuPy arrays out (values and
derivatives), on the device.  Skipped cleanly where CuPy or a GPU is absent."""
import numpy as onp
import pytest

cupy = pytest.importorskip('cupy')
try:
    if cupy.cuda.runtime.getDeviceCount() < 1:
        raise RuntimeError('no device')
    cupy.zeros(1).sum().get()
except Exception as e:     # no driver, no device, broken install: skip, do not fail
    pytest.skip(f'CuPy cannot use a GPU here: {e}', allow_module_level=True)

import pyad                     # noqa: E402
import pyad.linalg as la        # noqa: E402
import pyad.numpy as pnp        # noqa: E402
from pyad import backend        # noqa: E402
from pyad.testing import check_grads   # noqa: E402

rng = onp.random.default_rng(11)


def on_gpu(x):
    return cupy.asarray(x)


def is_device(x):
    return type(x).__module__.startswith('cupy')


VECTOR_FUNCS = {
    'elementwise': lambda v: pnp.sum(pnp.sin(v) * pnp.exp(v) + pnp.tanh(v) * pnp.sqrt(v)),
    'reductions': lambda v: pnp.mean(v ** 2) + pnp.sum(pnp.log(v)),
    'matmul': lambda v: pnp.sum(pnp.reshape(v, (2, 2)) @ pnp.reshape(v, (2, 2))),
    'indexing': lambda v: pnp.sum(v[1:3] ** 2) + v[0] * v[3],
    'where': lambda v: pnp.sum(pnp.where(v > 1.0, v, v * v)),
    'linalg solve': lambda v: pnp.sum(la.solve(pnp.reshape(v, (2, 2)) + 3.0 * cupy.eye(2), v[:2])),
    'linalg inv det': lambda v: la.det(la.inv(pnp.reshape(v, (2, 2)) + 2.0 * cupy.eye(2))),
    'fixed_point': lambda v: pnp.sum(pyad.fixed_point(lambda a, y: (y + a / y) / 2, v, cupy.ones(4))),
}


@pytest.mark.parametrize('dtype', [onp.float32, onp.float64], ids=['float32', 'float64'])
@pytest.mark.parametrize('name', sorted(VECTOR_FUNCS))
def test_core_checks_on_gpu(name, dtype):
    f = VECTOR_FUNCS[name]
    x = on_gpu(rng.uniform(0.5, 1.5, 4).astype(dtype))
    assert backend.namespace(x) is cupy
    y = f(x)
    assert is_device(y) and y.dtype == dtype
    g = pyad.grad(f)(x)
    assert is_device(g) and g.dtype == dtype
    H = pyad.hessian(f)(x)
    assert is_device(H) and H.dtype == dtype
    g_host = pyad.grad(lambda v: f_host(name, v))(x.get().astype(onp.float64))
    onp.testing.assert_allclose(g.get(), g_host, rtol=2e-2 if dtype == onp.float32 else 1e-8)
    if dtype == onp.float64:
        check_grads(f, x, order=2)


def f_host(name, v):
    """The same function on the host (cupy.eye replaced by numpy's)."""
    import pyad.numpy as np_
    if name == 'linalg solve':
        return np_.sum(la.solve(np_.reshape(v, (2, 2)) + 3.0 * onp.eye(2), v[:2]))
    if name == 'linalg inv det':
        return la.det(la.inv(np_.reshape(v, (2, 2)) + 2.0 * onp.eye(2)))
    if name == 'fixed_point':
        return np_.sum(pyad.fixed_point(lambda a, y: (y + a / y) / 2, v, onp.ones(4)))
    return VECTOR_FUNCS[name](v)


@pytest.mark.parametrize('name', ['solve', 'inv', 'det', 'slogdet', 'cholesky', 'eigh', 'svd',
                                  'qr', 'solve_triangular', 'expm', 'pinv'])
def test_linalg_on_gpu(name):
    a = rng.standard_normal((3, 3)) + 3 * onp.eye(3)
    spd = a @ a.T
    funcs = {
        'solve': (lambda m: la.solve(m, m[:, 0]), a),
        'inv': (la.inv, a),
        'det': (la.det, a),
        'slogdet': (lambda m: la.slogdet(m).logabsdet, a),
        'cholesky': (la.cholesky, spd),
        'eigh': (la.eigh, spd),
        'svd': (la.svd, a),
        'qr': (la.qr, a),
        'solve_triangular': (lambda m: la.solve_triangular(m, m[:, 1], lower=True), a),
        'expm': (lambda m: la.expm(m / 4), a),
        'pinv': (la.pinv, a),
    }
    f, x = funcs[name]
    xd = on_gpu(x)
    out = pyad.tree_leaves(f(xd))
    assert all(is_device(o) for o in out)
    g = pyad.grad(lambda m: sum(pnp.sum(o * o) for o in pyad.tree_leaves(f(m))))(xd)
    assert is_device(g)
    check_grads(f, xd, order=2)
