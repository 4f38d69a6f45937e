"""pyad.nn sparsemax, sparsek, entmax, topk_mask, sparsemax_loss: values against
brute-force projections, properties, edge cases and derivatives."""
import numpy as onp
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import minimize

import pyad
import pyad.nn as nn
from pyad.nn import sparse as _sparse
from pyad.testing import check_grads

rng = onp.random.default_rng(0)


# ----------------------------------------------------------------- brute force
def bisect_sparsek(z, k, iters=200):
    """The threshold of sum clip(z - tau, 0, 1) = k by bisection (one row)."""
    lo, hi = z.min() - 1.0, z.max()
    for _ in range(iters):
        mid = (lo + hi) / 2
        if onp.clip(z - mid, 0, 1).sum() > k:
            lo = mid
        else:
            hi = mid
    return onp.clip(z - (lo + hi) / 2, 0, 1)


def qp_projection(z, k, upper=True):
    """argmin ||p - z||² s.t. sum p = k, 0 <= p (<= 1): SLSQP."""
    m = len(z)
    bounds = [(0.0, 1.0 if upper else None)] * m
    res = minimize(lambda p: 0.5 * onp.sum((p - z) ** 2), onp.full(m, k / m),
                   jac=lambda p: p - z, bounds=bounds, method='SLSQP',
                   constraints=[{'type': 'eq', 'fun': lambda p: p.sum() - k,
                                 'jac': lambda p: onp.ones(m)}],
                   options={'ftol': 1e-14, 'maxiter': 500})
    return res.x


def bisect_entmax(z, alpha, iters=200):
    x = (alpha - 1) * z
    lo, hi = x.max() - 1, x.max()
    for _ in range(iters):
        mid = (lo + hi) / 2
        if (onp.maximum(x - mid, 0) ** (1 / (alpha - 1))).sum() > 1:
            lo = mid
        else:
            hi = mid
    p = onp.maximum(x - (lo + hi) / 2, 0) ** (1 / (alpha - 1))
    return p / p.sum()


@pytest.mark.parametrize('seed', range(6))
def test_sparsemax_and_sparsek_match_qp(seed):
    r = onp.random.default_rng(seed)
    m = 3 + seed
    z = r.standard_normal(m) * (0.5 + seed / 2)
    onp.testing.assert_allclose(nn.sparsemax(z), qp_projection(z, 1.0, upper=False), atol=1e-6)
    for k in (1.0, 1.5, 2.0, m - 0.5):
        onp.testing.assert_allclose(nn.sparsek(z, k), qp_projection(z, k), atol=1e-6)


def test_sparsek_matches_bisection_batched():
    z = rng.standard_normal((50, 9)) * 2
    k = rng.uniform(0, 9, size=50)
    p = nn.sparsek(z, k)
    want = onp.stack([bisect_sparsek(zi, ki) for zi, ki in zip(z, k)])
    onp.testing.assert_allclose(p, want, atol=1e-10)
    # along another axis, with a per-row budget
    onp.testing.assert_allclose(nn.sparsek(z.T, k, axis=0), want.T, atol=1e-10)
    z3 = rng.standard_normal((2, 7, 3))
    k3 = rng.uniform(0.5, 6.5, size=(2, 3))
    p3 = nn.sparsek(z3, k3, axis=1)
    for a in range(2):
        for c in range(3):
            onp.testing.assert_allclose(p3[a, :, c], bisect_sparsek(z3[a, :, c], k3[a, c]), atol=1e-10)


def test_entmax_matches_bisection():
    z = rng.standard_normal((20, 6)) * 2
    want = onp.stack([bisect_entmax(zi, 1.5) for zi in z])
    onp.testing.assert_allclose(nn.entmax15(z), want, atol=1e-10)
    onp.testing.assert_allclose(nn.entmax_bisect(z, 1.5), want, atol=1e-10)
    want13 = onp.stack([bisect_entmax(zi, 1.3) for zi in z])
    onp.testing.assert_allclose(nn.entmax_bisect(z, 1.3), want13, atol=1e-10)
    onp.testing.assert_allclose(nn.entmax_bisect(z, 2.0), nn.sparsemax(z), atol=1e-10)
    onp.testing.assert_allclose(nn.entmax_bisect(z, 1.0), nn.softmax(z), atol=1e-14)


# ----------------------------------------------------------------- properties
rows = st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=7)


@settings(max_examples=40, deadline=None)
@given(rows, st.floats(0, 1), st.floats(-3, 3), st.randoms(use_true_random=False))
def test_properties(zl, frac, shift, rnd):
    z = onp.array(zl)
    m = len(z)
    k = frac * m
    p = nn.sparsek(z, k)
    assert onp.all(p >= 0) and onp.all(p <= 1)
    assert abs(p.sum() - k) < 1e-9
    onp.testing.assert_allclose(nn.sparsek(z + shift, k), p, atol=1e-9)           # shift
    perm = list(range(m))
    rnd.shuffle(perm)
    onp.testing.assert_allclose(nn.sparsek(z[perm], k), p[perm], atol=1e-12)      # permutation
    onp.testing.assert_allclose(nn.sparsek(p, k), p, atol=1e-9)                   # idempotent
    onp.testing.assert_allclose(nn.sparsek(z, k), 1 - nn.sparsek(-z, m - k), atol=1e-9)
    s = nn.sparsemax(z)
    assert abs(s.sum() - 1) < 1e-9 and onp.all(s >= 0)
    onp.testing.assert_allclose(nn.sparsek(z, 1), s, atol=1e-12)
    onp.testing.assert_allclose(nn.sparsemax(z + shift), s, atol=1e-9)
    onp.testing.assert_allclose(nn.sparsemax(z[perm]), s[perm], atol=1e-12)
    onp.testing.assert_allclose(nn.sparsemax(s), s, atol=1e-9)
    e = nn.entmax15(z)
    assert abs(e.sum() - 1) < 1e-9 and onp.all(e >= 0)
    onp.testing.assert_allclose(nn.entmax15(z + shift), e, atol=1e-9)
    onp.testing.assert_allclose(nn.entmax15(z[perm]), e[perm], atol=1e-12)


def test_sparsemax_is_sparsek_with_budget_one():
    z = rng.standard_normal((30, 8)) * 3
    onp.testing.assert_allclose(nn.sparsek(z, 1), nn.sparsemax(z), atol=1e-12)
    onp.testing.assert_allclose(nn.sparsek(z, 1, axis=0), nn.sparsemax(z, axis=0), atol=1e-12)


# ----------------------------------------------------------------- edge cases
def test_budget_edges():
    z = rng.standard_normal((3, 5))
    onp.testing.assert_array_equal(nn.sparsek(z, 5), 1.0)
    onp.testing.assert_array_equal(nn.sparsek(z, 0), 0.0)
    onp.testing.assert_array_equal(nn.sparsek(z, onp.array([0, 5, 5])).sum(-1), [0, 5, 5])
    with pytest.raises(ValueError, match='exceeds the row length'):
        nn.sparsek(z, 6)
    with pytest.raises(ValueError, match='>= 0'):
        nn.sparsek(z, -1)
    with pytest.raises(ValueError, match='does not broadcast'):
        nn.sparsek(z, onp.ones(4))
    with pytest.raises(TypeError):
        nn.sparsek(z, True)


def test_ties_and_hard_topk():
    z = onp.array([1.0, 1.0, 1.0, 0.0])
    onp.testing.assert_allclose(nn.sparsek(z, 2), [2 / 3, 2 / 3, 2 / 3, 0])
    onp.testing.assert_allclose(nn.sparsemax(z), [1 / 3, 1 / 3, 1 / 3, 0])
    # a gap larger than 1 after the top 2: hard top-k, derivatives defined as 0
    z = onp.array([5.0, 4.0, 0.0, -3.0])
    p = nn.sparsek(z, 2)
    onp.testing.assert_array_equal(p, [1, 1, 0, 0])
    onp.testing.assert_array_equal(pyad.jacobian(lambda z: nn.sparsek(z, 2))(z), 0.0)
    onp.testing.assert_array_equal(pyad.grad(lambda k: nn.sparsek(z, k).sum())(2.0), 0.0)
    onp.testing.assert_array_equal(nn.topk_mask(z, 2), p)
    onp.testing.assert_array_equal(nn.topk_mask(onp.array([1.0, 2.0, 2.0, 2.0]), 2), [0, 1, 1, 0])


def test_masked_entries_and_fully_masked_rows():
    ninf = -onp.inf
    z = onp.array([[0.3, ninf, 1.0, 0.2], [ninf, ninf, ninf, ninf], [1.0, ninf, ninf, ninf]])
    for f in (nn.sparsemax, nn.entmax15, lambda z: nn.sparsek(z, 1.5),
              lambda z: nn.entmax_bisect(z, 1.3)):
        p = f(z)
        assert not onp.any(onp.isnan(p))
        assert p[0, 1] == 0 and onp.all(p[1] == 0) and p[2, 0] == 1
        onp.testing.assert_allclose(p[0, [0, 2, 3]], f(z[0, [0, 2, 3]]), atol=1e-12)
        w = rng.standard_normal(z.shape)
        for g in (pyad.grad(lambda z: (f(z) * w).sum())(z), pyad.jacfwd(f)(z)):
            assert not onp.any(onp.isnan(g))
    # a budget at least the number of unmasked entries saturates them
    onp.testing.assert_array_equal(nn.sparsek(z, 3), [[1, 0, 1, 1], [0, 0, 0, 0], [1, 0, 0, 0]])


def test_huge_float32_and_nan():
    z = onp.array([[3e38, -3e38, 1e38, 2.9e38], [1.0, 2.0, 3.0, 4.0]], dtype=onp.float32)
    for f in (nn.sparsemax, nn.entmax15, lambda z: nn.sparsek(z, 2)):
        p = f(z)
        assert p.dtype == onp.float32 and onp.all(onp.isfinite(p))
    onp.testing.assert_array_equal(nn.sparsemax(z)[0], [1, 0, 0, 0])
    onp.testing.assert_array_equal(nn.sparsek(z, 2)[0], [1, 0, 0, 1])
    zn = onp.array([[0.0, onp.nan, 1.0], [0.0, 1.0, 2.0]])
    for f in (nn.sparsemax, nn.entmax15, lambda z: nn.sparsek(z, 2), nn.entmax_bisect):
        p = f(zn)
        assert onp.all(onp.isnan(p[0])) and not onp.any(onp.isnan(p[1]))


@pytest.mark.parametrize('fn', ['sparsemax', 'sparsek', 'entmax15', 'entmax_bisect'])
def test_float32_preserved(fn):
    z = rng.standard_normal((2, 5)).astype(onp.float32)
    f = (lambda z: nn.sparsek(z, 2.5)) if fn == 'sparsek' else getattr(nn, fn)
    assert f(z).dtype == onp.float32
    w = rng.standard_normal((2, 5)).astype(onp.float32)
    assert pyad.grad(lambda z: (f(z) * w).sum())(z).dtype == onp.float32
    assert pyad.jacfwd(f)(z).dtype == onp.float32
    if fn == 'sparsek':
        k = onp.array([1.5, 2.5], dtype=onp.float32)
        assert pyad.grad(lambda k: (nn.sparsek(z, k) * w).sum())(k).dtype == onp.float32


@pytest.mark.parametrize('m', [200, 3000])
def test_partition_path_is_exact(m):
    z = rng.standard_normal((6, m))
    z[0] = 0.0                                           # all ties: the full sort is needed
    z[1, :100] = 10.0
    k = onp.array([3.0, 40.0, 1.0, 7.5, 2.0, 100.0]) * m / 3000
    old = _sparse.PARTITION_MIN_ROW
    try:
        _sparse.PARTITION_MIN_ROW = 10 ** 9
        full = nn.sparsek(z, k)
    finally:
        _sparse.PARTITION_MIN_ROW = old
    fast = nn.sparsek(z, k)
    onp.testing.assert_allclose(fast, full, atol=1e-12)
    onp.testing.assert_allclose(fast.sum(-1), k)


# ----------------------------------------------------------------- derivatives
def _spread(shape, seed=1):
    """Values without near-ties or near-kinks (gaps of at least 0.1)."""
    r = onp.random.default_rng(seed)
    n = int(onp.prod(shape))
    return (r.permutation(n) * 0.37 + r.uniform(0, 0.02, n)).reshape(shape) / 2


@pytest.mark.parametrize('shape,axis', [((4,), -1), ((2, 3), 0), ((2, 3), 1), ((2, 3, 2), 1)])
def test_check_grads_sparse(shape, axis):
    z = _spread(shape)
    m = shape[axis]
    check_grads(lambda z: nn.sparsemax(z, axis), z, order=2)
    check_grads(lambda z: nn.entmax15(z, axis), z, order=2)
    check_grads(lambda z: nn.entmax_bisect(z, 1.4, axis, n_iter=80), z, order=2, rtol=1e-4)
    check_grads(lambda z: nn.sparsek(z, m / 2 + 0.05, axis), z, order=2)


def test_check_grads_sparsek_budget_array():
    z = _spread((3, 5))
    k = onp.array([1.3, 2.5, 3.7])
    check_grads(lambda k: nn.sparsek(z, k), k, order=2)
    check_grads(lambda zk: nn.sparsek(zk[0], zk[1]), (z, k), order=2)
    check_grads(lambda zk: nn.sparsek(zk[0], zk[1], axis=0), (z.T, k), order=2)
    check_grads(lambda zk: nn.sparsek(zk[0], zk[1]), (z, 2.2), order=2)


def test_closed_form_jacobians():
    z = _spread((7,), seed=3)
    s = nn.sparsemax(z)
    S = (s > 0).astype(float)
    onp.testing.assert_allclose(pyad.jacobian(nn.sparsemax)(z),
                                onp.diag(S) - onp.outer(S, S) / S.sum(), atol=1e-12)
    k = 2.5
    p = nn.sparsek(z, k)
    F = ((p > 0) & (p < 1)).astype(float)
    assert F.sum() >= 1
    J = onp.diag(F) - onp.outer(F, F) / F.sum()
    onp.testing.assert_allclose(pyad.jacobian(lambda z: nn.sparsek(z, k))(z), J, atol=1e-12)
    onp.testing.assert_allclose(pyad.jacrev(lambda z: nn.sparsek(z, k))(z), J, atol=1e-12)
    onp.testing.assert_allclose(pyad.diff(lambda k: nn.sparsek(z, k))(k), F / F.sum(), atol=1e-12)
    e = nn.entmax15(z)
    r = onp.sqrt(e)
    onp.testing.assert_allclose(pyad.jacobian(nn.entmax15)(z),
                                onp.diag(r) - onp.outer(r, r) / r.sum(), atol=1e-12)
    # second derivatives run, and vanish (piecewise linear)
    onp.testing.assert_allclose(pyad.hessian(lambda z: nn.sparsek(z, k)[0])(z), 0.0, atol=1e-12)


def test_topk_mask():
    z = rng.standard_normal((4, 6))
    m = nn.topk_mask(z, 2)
    onp.testing.assert_array_equal(m.sum(-1), 2)
    assert onp.all(z[m > 0].reshape(4, 2).min(-1) >= onp.sort(z, -1)[:, -2])
    onp.testing.assert_array_equal(nn.topk_mask(z, onp.array([0, 1, 2, 6])).sum(-1), [0, 1, 2, 6])
    onp.testing.assert_array_equal(nn.topk_mask(z, 3, axis=0).sum(0), 3)
    g = pyad.grad(lambda z: (nn.topk_mask(z, 2) * z).sum())(z)
    onp.testing.assert_array_equal(g, m)          # the mask itself is a constant


def test_sparsemax_loss():
    z = rng.standard_normal((5, 4))
    y = onp.array([0, 1, 2, 3, 1])
    loss = nn.sparsemax_loss(z, y)
    assert loss.shape == (5,) and onp.all(loss >= -1e-12)
    onehot = onp.eye(4)[y]
    g = pyad.grad(lambda z: nn.sparsemax_loss(z, y).sum())(z)
    onp.testing.assert_allclose(g, nn.sparsemax(z) - onehot, atol=1e-12)
    onp.testing.assert_allclose(nn.sparsemax_loss(z, nn.sparsemax(z)), 0.0, atol=1e-12)
    check_grads(lambda z: nn.sparsemax_loss(z, y), _spread((5, 4)), order=2)
    ce = nn.softmax_cross_entropy(z, y)
    onp.testing.assert_allclose(ce, -onp.log(nn.softmax(z))[onp.arange(5), y])
    with pytest.raises(ValueError, match='labels'):
        nn.sparsemax_loss(z, onp.array([0, 1, 2, 3, 4]))


def test_hard_topk_rows_with_rounding():
    """Large gaps and integer budgets: f(tau) is flat at k over a whole piece, and its
    running sums round to either side of k; every row must still be the top-k."""
    r = onp.random.default_rng(5)
    z = r.standard_normal((4000, 7)) * 50
    for k in (1, 2, 3, 4, 6):
        p = nn.sparsek(z, k)
        onp.testing.assert_allclose(p.sum(-1), k, atol=1e-9)
        srt = -onp.sort(-z, axis=-1)
        hard = srt[:, k - 1] - srt[:, k] > 1                    # a gap: p is the top-k
        assert hard.sum() > 1000
        onp.testing.assert_array_equal(p[hard], nn.topk_mask(z, k)[hard])


def test_losses_with_masked_classes():
    z = onp.array([[0.5, -onp.inf, 1.0, 0.2], [2.0, 0.0, -onp.inf, -onp.inf]])
    y = onp.array([2, 0])
    for loss in (nn.sparsemax_loss, nn.softmax_cross_entropy):
        val = loss(z, y)
        g = pyad.grad(lambda z: loss(z, y).sum())(z)
        assert onp.all(onp.isfinite(val)) and onp.all(onp.isfinite(g))
        assert g[0, 1] == 0 and onp.all(g[1, 2:] == 0)
