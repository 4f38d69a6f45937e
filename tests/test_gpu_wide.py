"""The library's surface on a device: every family of primitives, the operator
table, nn, linear algebra over stacks, fixed points, optimisers and the numerical
module, each run on the device and compared with the same computation on the host.

For every case: the value and every derivative (grad, a JVP, a Hessian-vector
product, the Hessian where the input is small) must be device arrays in the
input's dtype and agree with NumPy in float64.  Runs on CuPy where a GPU is
present (skipped cleanly elsewhere, as on CI) and everywhere on the strict CPU
stand-in of tests/devices.py, which fails where a host array meets a device one.
"""
import numpy as onp
import pytest

import pyad
import pyad.linalg as la
import pyad.nn as nn
import pyad.numpy as pnp
from pyad import backend
from pyad.testing import check_grads

from .devices import DEVICES

pytestmark = pytest.mark.parametrize('device', DEVICES)

rng = onp.random.default_rng(5)


def xp_of(v):
    return backend.namespace(v)


def host(x):
    return pyad.tree_map(backend.to_numpy, x)


# name -> (f, host input); inputs are float64 NumPy, moved to the GPU by the test.
# Functions build constants through xp_of(v) or Python scalars, never NumPy arrays
# (CuPy refuses to mix a NumPy array into its arithmetic).
V6 = rng.uniform(0.5, 1.5, 6)
M34 = rng.standard_normal((3, 4))
CASES = {
    'elementwise zoo 1': (lambda v: pnp.sum(pnp.sin(v) * pnp.cos(v) + pnp.tan(v / 4) + pnp.exp(v)
                                            * pnp.log(v) + pnp.log1p(v) * pnp.expm1(v)), V6),
    'elementwise zoo 2': (lambda v: pnp.sum(pnp.sqrt(v) * pnp.cbrt(v) + pnp.tanh(v) + pnp.arctan(v)
                                            + pnp.sinh(v) * pnp.cosh(v) + pnp.reciprocal(v)
                                            + v ** 2.5 + pnp.square(v) + 2.0 ** v), V6),
    'elementwise zoo 3': (lambda v: pnp.sum(pnp.arcsin(v / 2) + pnp.arccos(v / 2) + pnp.arcsinh(v)
                                            + pnp.arctanh(v / 2) + pnp.log10(v) + pnp.log2(v)
                                            + pnp.exp2(v) + pnp.hypot(v, 1.0 + v)
                                            + pnp.arctan2(v, 2.0) + pnp.logaddexp(v, v * v)), V6),
    'special': (lambda v: pnp.sum(pnp.erf(v) + pnp.erfc(v) + pnp.gammaln(v + 1) + pnp.digamma(v + 1)
                                  + pnp.expit(v) + pnp.log_expit(v) + pnp.logit(v / 2)
                                  + pnp.xlogy(v, v) + pnp.sinc(v)), V6),
    'piecewise': (lambda v: pnp.sum(pnp.abs(v - 1.0) + pnp.maximum(v, 1.0) * pnp.minimum(v, 1.2)
                                    + pnp.clip(v, 0.8, 1.3) ** 2 + pnp.where(v > 1.0, v ** 3, -v)
                                    + pnp.fmax(v, 0.9) + pnp.sign(v - 1) * v), V6),
    'reductions': (lambda v: (pnp.sum(v) * pnp.mean(v) + pnp.prod(v) + pnp.max(v) - pnp.min(v)
                   + pnp.var(v) + pnp.std(v) + pnp.sum(pnp.cumsum(v) * pnp.cumprod(v))
                   + pnp.logsumexp(v) + la.norm(v) + la.norm(v, 1) + la.norm(v, 3)), V6),
    'axis reductions': (lambda m: (pnp.sum(pnp.sum(m, axis=0) ** 2) + pnp.sum(pnp.mean(m, axis=1) ** 3)
                        + pnp.sum(pnp.max(m, axis=1)) + pnp.sum(pnp.var(m, axis=0))
                        + pnp.sum(pnp.cumsum(m, axis=1) ** 2) + la.norm(m, 'fro')
                        + pnp.sum(pnp.logsumexp(m, axis=1))), M34),
    'shape ops': (lambda m: (pnp.sum(pnp.transpose(m) @ m) + pnp.sum(pnp.reshape(m, (2, 6))[1] ** 2)
                  + pnp.sum(pnp.concatenate([m, 2 * m], axis=1) ** 2)
                  + pnp.sum(pnp.stack([m, m * m]) ** 2) + pnp.sum(pnp.split(m, 2, axis=1)[1] ** 3)
                  + pnp.sum(pnp.flip(m, 0) * m) + pnp.sum(pnp.roll(m, 1, axis=1) * m)
                  + pnp.sum(pnp.repeat(m, 2, axis=0) ** 2) + pnp.sum(pnp.tile(m, (1, 2)) ** 2)
                  + pnp.sum(pnp.pad(m, 1) ** 2) + pnp.sum(pnp.expand_dims(m, 0) ** 2)
                  + pnp.sum(pnp.squeeze(pnp.reshape(m, (1, 3, 4))) ** 2)
                  + pnp.sum(pnp.moveaxis(m, 0, 1) * pnp.swapaxes(m, 0, 1))
                  + pnp.sum(pnp.ravel(m) ** 2) + pnp.sum(pnp.broadcast_to(m[0], (3, 4)) * m)), M34),
    'indexing': (lambda m: (pnp.sum(m[1:, ::2] ** 2) + pnp.sum(m[:, 1] * m[:, 2]) + m[0, 0] * m[2, 3]
                 + pnp.sum(m[xp_of(m).asarray([0, 2, 2])] ** 2)
                 + pnp.sum(m[m > 0] ** 2)
                 + pnp.sum(pnp.take(m, xp_of(m).asarray([3, 0, 3]), axis=1) ** 2)
                 + pnp.sum(pnp.take_along_axis(m, xp_of(m).asarray([[0], [1], [3]]), axis=1) ** 3)
                 + pnp.sum(pnp.diagonal(m) ** 2) + pnp.trace(m[:, :3] @ m[:, :3].T)), M34),
    'products': (lambda m: (pnp.sum(pnp.dot(m, m.T) ** 2) + pnp.sum(pnp.outer(m[0], m[1]))
                 + pnp.sum(pnp.tensordot(m, m, axes=([1], [1])) ** 2) + pnp.vdot(m, m)
                 + pnp.sum(pnp.einsum('ij,kj->ik', m, m) ** 2) + pnp.sum(pnp.inner(m, m))
                 + pnp.sum(pnp.kron(m[:2, :2], m[1:, 2:]) ** 2) + pnp.sum(pnp.matmul(m.T, m) ** 2)), M34),
    'sort and order': (lambda v: (pnp.sum(pnp.sort(v) * xp_of(v).arange(6.0, dtype=v.dtype))
                       + pnp.sum(pnp.tril(pnp.reshape(v, (2, 3))) ** 2)
                       + pnp.sum(pnp.triu(pnp.reshape(v, (3, 2))) ** 3)
                       + pnp.sum(pnp.diag(v[:3]) @ pnp.reshape(v, (3, 2)))), V6),
    'softmax family': (lambda m: (pnp.sum(nn.softmax(m) * m) + pnp.sum(nn.log_softmax(m, axis=0) ** 2)
                       + pnp.sum(nn.logsumexp(m, axis=1))
                       + pnp.sum(nn.softmax_cross_entropy(m, nn.softmax(2 * m)))), M34),
    'sparsemax family': (lambda m: (pnp.sum(nn.sparsemax(m) * m) + pnp.sum(nn.entmax15(m) * m)
                         + pnp.sum(nn.entmax_bisect(m, 1.7) * m) + pnp.sum(nn.sparsemax_loss(m, nn.softmax(m)))),
                         rng.standard_normal((3, 5)) * 0.3),
    'sparsek': (lambda m: (pnp.sum(nn.sparsek(m, 2) * m) + pnp.sum(nn.sparsek(m, 1.5) * m ** 2)
                + pnp.sum(nn.sparsek(m, xp_of(m).asarray([1.0, 2.5, 3.0])) * m)
                + pnp.sum(nn.topk_mask(m, 2) * m)), rng.standard_normal((3, 6)) * 0.3),
    'fixed point': (lambda v: pnp.sum(pyad.fixed_point(lambda a, y: (y + a / y) / 2, v,
                                                       xp_of(v).ones(6, v.dtype)) * v), V6),
    'fixed point closure': (lambda v: (pyad.fixed_point(lambda _, y: 0.05 * pnp.cos(y) * (v @ v),
                                                       None, 0.0) * pnp.sum(v)), V6),
}

# linear algebra over a stack (2, 3, 3)
S = rng.standard_normal((2, 3, 3)) + 3 * onp.eye(3)
DISTINCT = onp.stack([(q1 * [3.0, 2.0, 1.0]) @ q2.T for q1, q2 in
                      [(onp.linalg.qr(rng.standard_normal((3, 3)))[0],
                        onp.linalg.qr(rng.standard_normal((3, 3)))[0]) for _ in range(2)]])


def _spd(m):
    return m @ pnp.swapaxes(m, -1, -2)


def _ones(m, *shape):
    return xp_of(m).ones(shape, dtype=m.dtype)


LINALG = {
    'solve': (lambda m: pnp.sum(la.solve(m, _ones(m, 2, 3, 1)) ** 2), S),
    'solve_symmetric': (lambda m: pnp.sum(la.solve_symmetric(_spd(m), _ones(m, 2, 3, 2)) ** 2), S),
    'cholesky': (lambda m: pnp.sum(la.cholesky(_spd(m)) ** 2), S),
    'cho_solve': (lambda m: pnp.sum(la.cho_solve(la.cholesky(_spd(m)), _ones(m, 2, 3, 1)) ** 2), S),
    'solve_triangular': (lambda m: pnp.sum(la.solve_triangular(m, _ones(m, 2, 3, 1), lower=True) ** 2), S),
    'inv': (lambda m: pnp.sum(la.inv(m) ** 2), S),
    'det': (lambda m: pnp.sum(la.det(m)), S),
    'slogdet': (lambda m: pnp.sum(la.slogdet(m).logabsdet), S),
    'pinv': (lambda m: pnp.sum(la.pinv(m) ** 2), DISTINCT),
    'eigh': (lambda m: pnp.sum(la.eigh(_spd(m)).eigenvalues ** 2)
             + pnp.sum(la.eigh(_spd(m)).eigenvectors[..., 0] ** 4), S),
    'svd': (lambda m: pnp.sum(la.svd(m).S ** 3) + pnp.sum(la.svd(m).U[..., 0] ** 4), DISTINCT),
    'qr': (lambda m: pnp.sum(la.qr(m).Q * la.qr(m).R), DISTINCT),
    'expm': (lambda m: pnp.sum(la.expm(m / 4) ** 2), S),
    'matrix_power': (lambda m: pnp.sum(la.matrix_power(m, -2) ** 2) + pnp.sum(la.matrix_power(m, 3)), S),
    'norms': (lambda m: la.norm(m[0], 'nuc') + la.norm(m[1], 2) + la.norm(m[0], 'fro'), DISTINCT),
    'lstsq': (lambda m: pnp.sum(la.lstsq(m[0], m[1][:, 0])[0] ** 2), S),
}
CASES.update({'linalg ' + k: v for k, v in LINALG.items()})


def _compare(device, dev, ref, rtol, what):
    dev_leaves, ref_leaves = pyad.tree_leaves(dev), pyad.tree_leaves(ref)
    assert len(dev_leaves) == len(ref_leaves), what
    for d, r in zip(dev_leaves, ref_leaves):
        assert device.owns(d), f'{what}: a {type(d).__name__} came back, not a {device} array'
        onp.testing.assert_allclose(backend.to_numpy(d), r, rtol=rtol, atol=rtol, err_msg=what)


@pytest.mark.parametrize('name', sorted(CASES))
def test_values_and_derivatives_match_host(name, device):
    f, x = CASES[name]
    xd = device.put(x)
    v = xd * 0 + 1
    _compare(device, f(xd), f(x), 1e-9, 'value')
    _compare(device, pyad.grad(f)(xd), pyad.grad(f)(x), 1e-8, 'grad')
    _compare(device, pyad.jvp(f, xd, v)[1], pyad.jvp(f, x, onp.ones_like(x))[1], 1e-8, 'jvp')
    _compare(device, pyad.hessianv(f)(xd, v), pyad.hessianv(f)(x, onp.ones_like(x)), 1e-7, 'hessianv')
    if x.size <= 12:
        _compare(device, pyad.hessian(f)(xd), pyad.hessian(f)(x), 1e-7, 'hessian')


@pytest.mark.parametrize('name', sorted(CASES))
def test_float32_stays_float32_on_device(name, device):
    f, x = CASES[name]
    xd = device.put(x.astype(onp.float32))
    y, g = pyad.value_and_grad(f)(xd)
    assert device.owns(g) and g.dtype == onp.float32, (type(g), g.dtype)
    assert getattr(y, 'dtype', onp.float32) == onp.float32
    onp.testing.assert_allclose(backend.to_numpy(g), pyad.grad(f)(x), rtol=2e-2, atol=2e-3)


@pytest.mark.parametrize('name', ['linalg expm', 'linalg pinv', 'linalg qr', 'sparsek', 'fixed point',
                                  'indexing'])
def test_second_order_checks_on_device(name, device):
    f, x = CASES[name]
    check_grads(f, device.put(x), order=2)


def test_operator_table_on_device(device):
    x = device.put(V6[:3])
    vec = lambda v: pnp.stack([v[1] * v[2], pnp.sin(v[0]) * v[2], v[0] * v[1] ** 2])
    scal = lambda v: pnp.sum(pnp.exp(v) * v ** 2)
    xh = V6[:3]
    u = device.put(onp.array([1.0, -2.0, 0.5]))
    pairs = {
        'jacfwd': (pyad.jacfwd(vec)(x), pyad.jacfwd(vec)(xh)),
        'jacrev': (pyad.jacrev(vec)(x), pyad.jacrev(vec)(xh)),
        'jacobianv': (pyad.jacobianv(vec)(x, u), pyad.jacobianv(vec)(xh, backend.to_numpy(u))),
        'jacobianTv': (pyad.jacobianTv(vec)(x, u), pyad.jacobianTv(vec)(xh, backend.to_numpy(u))),
        'laplacian': (pyad.laplacian(scal)(x), pyad.laplacian(scal)(xh)),
        'curl': (pyad.curl(vec)(x), pyad.curl(vec)(xh)),
        'div': (pyad.div(vec)(x), pyad.div(vec)(xh)),
        'gradhessian': (pyad.gradhessian(scal)(x), pyad.gradhessian(scal)(xh)),
        'fgrad': (pyad.fgrad(scal)(x), pyad.fgrad(scal)(xh)),
        'numerical grad': (pyad.numerical.grad(scal)(x), pyad.grad(scal)(xh)),
        'numerical jacobian': (pyad.numerical.jacobian(vec)(x), pyad.jacobian(vec)(xh)),
    }
    for name, (dev, ref) in pairs.items():
        tol = 1e-5 if name.startswith('numerical') else 1e-9
        leaves = [l for l in pyad.tree_leaves(dev) if getattr(l, 'ndim', 0) > 0]
        assert all(device.owns(l) for l in leaves), name
        for d, r in zip(pyad.tree_leaves(dev), pyad.tree_leaves(ref)):
            onp.testing.assert_allclose(backend.to_numpy(d), r, rtol=tol, atol=tol, err_msg=name)


def test_attention_on_device(device):
    B, H, n, d = 1, 2, 12, 4
    q, k, v = (rng.standard_normal((B, H, n, d)) for _ in range(3))
    s = rng.standard_normal((B, H, n))

    def f(q, k, v, s):
        return pnp.sum(nn.sparsek_attention(q, k, v, s, 3, window=2) ** 2)

    def g(q, k, v):
        return pnp.sum(nn.dense_attention(q, k, v) ** 2)

    dev = [device.put(a) for a in (q, k, v, s)]
    _compare(device, f(*dev), f(q, k, v, s), 1e-9, 'sparsek_attention value')
    _compare(device, pyad.grad(lambda t: f(*t))(tuple(dev)), pyad.grad(lambda t: f(*t))((q, k, v, s)), 1e-8,
             'sparsek_attention grad')
    _compare(device, pyad.grad(lambda t: g(*t))(tuple(dev[:3])), pyad.grad(lambda t: g(*t))((q, k, v)), 1e-8,
             'dense_attention grad')
    # the incremental cache, step by step, on the device
    out = nn.sparsek_attention(*dev, 3, window=2)
    cache = nn.SparseKCache(B, H, 3, 2)
    for t in range(n):
        o_t = cache.step(dev[0][..., t, :], dev[1][..., t, :], dev[2][..., t, :], dev[3][..., t])
        assert device.owns(o_t)
        onp.testing.assert_allclose(backend.to_numpy(o_t), backend.to_numpy(out[..., t, :]), atol=1e-10)


def test_optimisers_on_device(device):
    A = device.put(onp.diag([1.0, 3.0, 10.0]))
    f = lambda x: 0.5 * x @ (A @ x) - pnp.sum(x)
    x0 = device.xp.zeros(3)
    for method in ['newton', 'newton-cg', 'cg', 'gd']:
        res = pyad.optim.minimize(f, x0, method=method)
        assert device.owns(res.x), method
        onp.testing.assert_allclose(backend.to_numpy(res.x), [1.0, 1 / 3, 0.1], rtol=1e-5, err_msg=method)
    opt = pyad.optim.adam(0.1)
    params = {'w': device.xp.zeros(3)}
    state = opt.init(params)
    for _ in range(300):
        grads = pyad.grad(lambda p: f(p['w']))(params)
        params, state = opt.update(grads, state, params)
    assert device.owns(params['w'])
    onp.testing.assert_allclose(backend.to_numpy(params['w']), [1.0, 1 / 3, 0.1], atol=2e-2)


def test_mlp_gradient_on_device_matches_host(device):
    sizes = (8, 16, 4)
    params = [rng.standard_normal((a, b)) / onp.sqrt(a) for a, b in zip(sizes[:-1], sizes[1:])]
    X = rng.standard_normal((5, 8))
    Y = onp.eye(4)[rng.integers(0, 4, 5)]

    def loss(ps, X, Y):
        h = pnp.tanh(X @ ps[0])
        return pnp.mean(nn.softmax_cross_entropy(h @ ps[1], Y))

    dev = device.put((params, X, Y))
    _compare(device, pyad.grad(loss)(*dev), pyad.grad(loss)(params, X, Y), 1e-9, 'mlp grad')
    # a Hessian-vector product through the whole loss (forward over reverse)
    vd = pyad.tree_map(lambda p: p * 0 + 1, dev[0])
    hv = pyad.hessianv(lambda ps: loss(ps, *dev[1:]))(dev[0], vd)
    hv_host = pyad.hessianv(lambda ps: loss(ps, X, Y))(params, pyad.tree_map(onp.ones_like, params))
    _compare(device, hv, hv_host, 1e-8, 'mlp hvp')
