"""SparseK attention: agreement with a dense n×n reference (values and gradients),
derivatives, the incremental decoder cache, and the shapes the attention step uses."""
import math

import numpy as onp
import pytest

import pyad
import pyad.nn as nn
import pyad.numpy as pnp
from pyad.nn import attention as _attention
from pyad.testing import check_grads


def dense_reference(q, k, v, u, budget, window=0, causal=True):
    """The definition, with explicit n×n masks: the pool of query i is j <= i - window,
    its soft mask sparsek(u over the pool, min(budget, |pool|)), its selection the
    top-k of u over the pool; the window (i - window, i] has mask 1."""
    B, H, n, d = q.shape
    i = onp.arange(n)[:, None]
    j = onp.arange(n)[None, :]
    pool = (j <= i - window) if causal else onp.ones((n, n), bool)
    kk = onp.broadcast_to(onp.minimum(budget, pool.sum(-1)), (B, H, n))
    win = (j <= i) & (j > i - window)
    U = pnp.where(pool, u[..., None, :], -onp.inf)
    if budget:
        p = nn.sparsek(U, kk.astype(float))
        sel = (nn.topk_mask(U, kk) > 0) & pool
    else:
        p, sel = 0.0, onp.zeros((n, n), bool)
    mask = pnp.where(win, 1.0, pnp.where(sel, p, 0.0))
    logits = pnp.matmul(q, pnp.swapaxes(k, -1, -2)) / math.sqrt(d)
    w = nn.softmax(pnp.where(win | sel, logits, -onp.inf), axis=-1)
    return pnp.matmul(w * mask, v)


def data(seed, B=2, H=2, n=11, d=3, dv=None, scale=1.0, dtype=onp.float64):
    r = onp.random.default_rng(seed)
    q, k = (r.standard_normal((B, H, n, d)).astype(dtype) for _ in range(2))
    v = r.standard_normal((B, H, n, dv or d)).astype(dtype)
    u = (r.standard_normal((B, H, n)) * scale).astype(dtype)
    return q, k, v, u


CONFIGS = [(3, 0), (3, 2), (1, 0), (5, 1), (2, 4), (0, 3), (11, 0)]


@pytest.mark.parametrize('budget,window', CONFIGS)
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_matches_dense_reference(budget, window, seed):
    q, k, v, u = data(seed, scale=1 + seed, dv=2 + seed)
    out = nn.sparsek_attention(q, k, v, u, budget, window=window, chunk=4)
    onp.testing.assert_allclose(out, dense_reference(q, k, v, u, budget, window), atol=1e-12)
    w = onp.random.default_rng(9).standard_normal(out.shape)
    f1 = lambda a: pnp.sum(nn.sparsek_attention(*a, budget, window=window, chunk=4) * w)
    f2 = lambda a: pnp.sum(dense_reference(*a, budget, window) * w)
    for g1, g2 in zip(pyad.grad(f1)((q, k, v, u)), pyad.grad(f2)((q, k, v, u))):
        onp.testing.assert_allclose(g1, g2, atol=1e-10)


def test_not_causal():
    q, k, v, u = data(3)
    out = nn.sparsek_attention(q, k, v, u, 4, causal=False)
    onp.testing.assert_allclose(out, dense_reference(q, k, v, u, 4, causal=False), atol=1e-12)
    with pytest.raises(ValueError, match='window'):
        nn.sparsek_attention(q, k, v, u, 4, causal=False, window=2)


@pytest.mark.parametrize('budget,window', [(2, 0), (2, 1)])
def test_check_grads(budget, window):
    q, k, v, u = data(4, B=1, H=1, n=5, d=2)
    f = lambda a: nn.sparsek_attention(*a, budget, window=window)
    check_grads(f, (q, k, v, u), order=2, max_batched_size=16)


def test_scores_gradient_flows_through_the_mask():
    q, k, v, u = data(5, n=9)
    g = pyad.grad(lambda u: pnp.sum(nn.sparsek_attention(q, k, v, u, 3) ** 2))(u)
    assert onp.any(g != 0) and onp.all(onp.isfinite(g))


def test_float32_kept():
    q, k, v, u = data(6, dtype=onp.float32)
    out = nn.sparsek_attention(q, k, v, u, 3, window=2)
    assert out.dtype == onp.float32
    onp.testing.assert_allclose(out, dense_reference(*data(6), 3, 2), atol=1e-5)
    g = pyad.grad(lambda a: pnp.sum(nn.sparsek_attention(*a, 3, window=2) ** 2))((q, k, v, u))
    assert all(x.dtype == onp.float32 for x in g)


def test_attention_step_shapes_are_n_by_budget(monkeypatch):
    """The attention step sees (R, n, budget + window, d) gathered keys, never n×n."""
    seen = []
    real = _attention._attend

    def spy(q, keys, values, weights, valid, scale):
        seen.append((pnp.shape(keys) if hasattr(pnp, 'shape') else keys.shape, valid.shape))
        return real(q, keys, values, weights, valid, scale)
    monkeypatch.setattr(_attention, '_attend', spy)
    B, H, n, d, budget, window = 1, 2, 64, 3, 4, 2
    q, k, v, u = data(7, B, H, n, d)
    out, idx, ok, tau = nn.sparsek_attention(q, k, v, u, budget, window=window, return_selection=True)
    assert seen == [((B * H, n, budget + window, d), (B * H, n, budget + window))]
    assert idx.shape == (B, H, n, budget) and ok.shape == (B, H, n, budget)
    # the selection is causal, and the thresholds never decrease along the sequence
    assert onp.all(idx[ok] <= onp.broadcast_to(onp.arange(n)[:, None] - window, idx.shape)[ok])
    t = tau[..., budget + window:]
    assert onp.all(onp.diff(t, axis=-1) >= -1e-12)


@pytest.mark.parametrize('budget,window', [(3, 0), (3, 2), (0, 3), (1, 0), (4, 5)])
def test_cache_reproduces_full_computation(budget, window):
    B, H, n, d = 2, 3, 40, 4
    q, k, v, u = data(8, B, H, n, d, dv=5)
    full = nn.sparsek_attention(q, k, v, u, budget, window=window)
    cache = nn.SparseKCache(B, H, budget, window)
    steps = []
    for t in range(n):
        steps.append(cache.step(q[:, :, t], k[:, :, t], v[:, :, t], u[:, :, t]))
        assert cache.kv_pairs <= budget + window
    onp.testing.assert_allclose(onp.stack(steps, axis=2), full, atol=1e-12)


def test_cache_with_scores_from_features():
    """Scores from sparsek_scores (with a position slope), incrementally with offset."""
    r = onp.random.default_rng(10)
    B, n, D, H, d = 2, 30, 6, 2, 3
    x = r.standard_normal((B, n, D))
    ws = r.standard_normal((D, H))
    slope = onp.array([0.05, -0.02])
    u = nn.sparsek_scores(x, ws, slope)
    assert u.shape == (B, H, n)
    onp.testing.assert_allclose(u[:, :, 7], nn.sparsek_scores(x[:, 7:8], ws, slope, offset=7)[..., 0])
    q, k, v = (r.standard_normal((B, H, n, d)) for _ in range(3))
    full = nn.sparsek_attention(q, k, v, u, 4, window=3)
    cache = nn.SparseKCache(B, H, 4, 3)
    for t in range(n):
        ut = nn.sparsek_scores(x[:, t:t + 1], ws, slope, offset=t)[..., 0]
        onp.testing.assert_allclose(cache.step(q[:, :, t], k[:, :, t], v[:, :, t], ut),
                                    full[:, :, t], atol=1e-12)
    g = pyad.grad(lambda w: pnp.sum(nn.sparsek_attention(q, k, v, nn.sparsek_scores(x, w[0], w[1]),
                                                         4, window=3) ** 2))((ws, slope))
    assert g[0].shape == ws.shape and g[1].shape == slope.shape


def test_dense_and_window_baselines():
    q, k, v, u = data(11)
    onp.testing.assert_allclose(nn.dense_attention(q, k, v),
                                nn.sparsek_attention(q, k, v, u, q.shape[2]), atol=1e-12)
    onp.testing.assert_allclose(nn.sliding_window_attention(q, k, v, 3),
                                dense_reference(q, k, v, u, 0, 3), atol=1e-12)


def test_errors():
    q, k, v, u = data(12)
    with pytest.raises(ValueError, match='both 0'):
        nn.sparsek_attention(q, k, v, u, 0)
    with pytest.raises(ValueError, match='scores'):
        nn.sparsek_attention(q, k, v, u[..., :3], 2)
    with pytest.raises(ValueError, match='batch, heads, n, d'):
        nn.sparsek_attention(q[0], k[0], v[0], u[0], 2)


@pytest.mark.parametrize('kind', ['equal', 'ties', 'large'])
def test_degenerate_scores_match_dense_reference(kind):
    q, k, v, u = data(13, n=20)
    if kind == 'equal':
        u = onp.zeros_like(u)                      # every pool entry stays a candidate
    elif kind == 'ties':
        u = onp.round(u * 2) / 2
    else:
        u = u * 50                                 # hard top-k: masks are 0 or 1
    for budget, window in [(3, 0), (4, 3)]:
        out = nn.sparsek_attention(q, k, v, u, budget, window=window, chunk=6)
        onp.testing.assert_allclose(out, dense_reference(q, k, v, u, budget, window), atol=1e-12)
        f1 = lambda a: pnp.sum(nn.sparsek_attention(*a, budget, window=window, chunk=6) ** 2)
        f2 = lambda a: pnp.sum(dense_reference(*a, budget, window) ** 2)
        for g1, g2 in zip(pyad.grad(f1)((q, k, v, u)), pyad.grad(f2)((q, k, v, u))):
            onp.testing.assert_allclose(g1, g2, atol=1e-10)
        cache = nn.SparseKCache(2, 2, budget, window)
        steps = [cache.step(q[:, :, t], k[:, :, t], v[:, :, t], u[:, :, t]) for t in range(20)]
        onp.testing.assert_allclose(onp.stack(steps, 2), out, atol=1e-12)
