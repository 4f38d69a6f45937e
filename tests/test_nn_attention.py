"""SparseK attention: agreement with a dense n×n reference of the definition over many
score patterns (values, gradients, jacrev, hessianv, float32 and float64), causality,
the incremental decoder cache, grouped-query attention and the other options, the cost
bound of the selection, errors, and the functional layer with pyad.optim."""
import math

import numpy as onp
import pytest

import pyad
import pyad.nn as nn
import pyad.numpy as pnp
import pyad.optim as optim
from pyad.nn import attention as _attention
from pyad.testing import check_grads

from .devices import DEVICES


def dense_reference(q, k, v, u, budget, window=0, causal=True, candidates=None,
                    key_padding_mask=None):
    """The definition (pyad/nn/attention.py) with explicit n×n masks, from nn.sparsek
    and nn.softmax: pool, eligible keys, top-`candidates` by (-u, j), the SparseK mask
    over them with k_i = min(budget, |candidates|), the hard selection of the
    ceil(k_i) first, mask 1 on the window; NaN (+inf) in the pool poisons the row."""
    B, H, n, d = q.shape
    if k.shape[1] != H:
        k, v = pnp.repeat(k, H // k.shape[1], axis=1), pnp.repeat(v, H // v.shape[1], axis=1)
    if u.shape[1] != H:
        u = pnp.repeat(u, H // u.shape[1], axis=1)
    uv = onp.asarray(pyad.stop_gradient(u))
    bv = onp.broadcast_to(onp.asarray(pyad.stop_gradient(budget), float), (B, H))
    A = 2 * int(math.ceil(bv.max())) if candidates is None else candidates
    i, j = onp.arange(n)[:, None], onp.arange(n)[None, :]
    win = ((j <= i) & (j > i - window)) if causal else (abs(i - j) < window)
    pool = (j <= i - window) if causal else ~win
    ok = onp.ones((B, n), bool) if key_padding_mask is None else key_padding_mask
    win, pool = win & ok[:, None, None, :], pool & ok[:, None, None, :]
    bad = (onp.isnan(uv) | (uv == onp.inf))[:, :, None, :]
    elig = pool & ~bad & (uv > -onp.inf)[:, :, None, :]
    poison = (pool & bad).any(-1)
    key = onp.where(elig, -onp.nan_to_num(uv, nan=0, posinf=0)[:, :, None, :], onp.inf)
    rank = onp.argsort(onp.argsort(key, axis=-1, kind='stable'), axis=-1)
    top = elig & (rank < A)
    n_top = top.sum(-1).astype(uv.dtype)
    sel = top & (rank < onp.ceil(onp.minimum(bv[..., None], n_top))[..., None])
    b = budget if onp.ndim(pyad.stop_gradient(budget)) == 0 else pnp.reshape(
        pnp.broadcast_to(budget, (B, H)), (B, H, 1))
    kk = pnp.minimum(b, n_top)
    p = nn.sparsek(pnp.where(top, pnp.where(onp.isfinite(uv), u, 0.0)[:, :, None, :], -onp.inf), kk)
    mask = pnp.where(win, 1.0, pnp.where(sel, p, 0.0))
    logits = pnp.matmul(q, pnp.swapaxes(k, -1, -2)) / math.sqrt(d)
    w = nn.softmax(pnp.where(win | sel, logits, -onp.inf), axis=-1) * pnp.astype(mask, q.dtype)
    out = pnp.matmul(w, v)
    return out + onp.where(poison, onp.nan, 0).astype(q.dtype)[..., None]


def data(seed, B=1, H=2, n=12, d=3, dv=None, dtype=onp.float64, Hk=None):
    r = onp.random.default_rng(seed)
    q = r.standard_normal((B, H, n, d)).astype(dtype)
    k = r.standard_normal((B, Hk or H, n, d)).astype(dtype)
    v = r.standard_normal((B, Hk or H, n, dv or d)).astype(dtype)
    return q, k, v


def pattern(kind, shape, seed=0, dtype=onp.float64):
    r = onp.random.default_rng(seed + 100)
    n = shape[-1]
    z = r.standard_normal(shape)
    ramp = onp.broadcast_to(onp.arange(n, dtype=float), shape)
    u = {'normal': z, 'wide': 100 * z, 'flat': 1e-3 * z, 'equal': onp.zeros(shape),
         'integer': onp.round(3 * z), 'increasing': 0.7 * ramp, 'decreasing': -0.7 * ramp,
         'near_ties': onp.round(z) + 1e-9 * r.standard_normal(shape),
         'inf': onp.where(r.random(shape) < 0.3, -onp.inf, z), 'nan': z.copy(),
         'offset_1e6': 1e6 + z, 'offset_1e7': 1e7 + onp.round(z)}[kind]
    if kind == 'inf':
        u[..., n - 4] = onp.inf                    # the last queries' pools hold +inf
    if kind == 'nan':
        u[..., n // 2] = onp.nan
    return u.astype(dtype)


PATTERNS = ['normal', 'wide', 'flat', 'equal', 'integer', 'increasing', 'decreasing',
            'near_ties', 'inf', 'nan', 'offset_1e6', 'offset_1e7']
# (budget, window, chunk, causal)
CONFIGS = [(3, 0, 4, True), (2, 2, 3, True), (2.5, 1, 5, True), (1, 0, 1, True),
           (4, 0, 64, True), (2, 0, 5, False), (1.5, 2, 4, False)]


def finite_rows(ref):
    return onp.isfinite(onp.asarray(ref)).all(-1, keepdims=True)


@pytest.mark.parametrize('dtype', [onp.float64, onp.float32])
@pytest.mark.parametrize('kind', PATTERNS)
def test_values_and_gradients_match_dense_reference(kind, dtype):
    q, k, v = data(1, dtype=dtype)
    u = pattern(kind, q.shape[:3], dtype=dtype)
    tol = 1e-11 if dtype == onp.float64 else 2e-4
    w = onp.random.default_rng(2).standard_normal(q.shape).astype(dtype)
    for budget, window, chunk, causal in CONFIGS:
        kw = dict(window=window, causal=causal)
        out = nn.sparsek_attention(q, k, v, u, budget, chunk=chunk, **kw)
        ref = dense_reference(q, k, v, u, budget, **kw)
        assert out.dtype == dtype
        onp.testing.assert_allclose(out, ref, atol=tol, rtol=tol, err_msg=f'{budget, window, chunk}')
        keep = finite_rows(ref)
        if kind == 'nan' and causal:        # the NaN at key 6 reaches the pools from query 6 + window
            assert keep[..., :6 + window, :].all() and not keep[..., 6 + window:, :].any()
        f1 = lambda a: pnp.sum(pnp.where(keep, nn.sparsek_attention(*a, budget, chunk=chunk, **kw), 0) * w)
        f2 = lambda a: pnp.sum(pnp.where(keep, dense_reference(*a, budget, **kw), 0) * w)
        for g1, g2 in zip(pyad.grad(f1)((q, k, v, u)), pyad.grad(f2)((q, k, v, u))):
            assert g1.dtype == dtype
            onp.testing.assert_allclose(g1, g2, atol=tol * 10, rtol=tol * 10)


@pytest.mark.parametrize('kind', PATTERNS)
def test_jacrev_and_hessianv_in_the_scores(kind):
    q, k, v = data(3, n=9)
    u = pattern(kind, q.shape[:3], seed=3)
    for dtype in (onp.float64, onp.float32):
        q, k, v, u = (a.astype(dtype) for a in (q, k, v, u))
        tol = 1e-10 if dtype == onp.float64 else 2e-3
        for budget, window, chunk, causal in [(2, 1, 2, True), (2.5, 0, 4, True), (2, 1, 3, False)]:
            kw = dict(window=window, causal=causal)
            keep = finite_rows(dense_reference(q, k, v, u, budget, **kw))
            f1 = lambda u: pnp.where(keep, nn.sparsek_attention(q, k, v, u, budget, chunk=chunk, **kw), 0)
            f2 = lambda u: pnp.where(keep, dense_reference(q, k, v, u, budget, **kw), 0)
            J1, J2 = pyad.jacrev(f1)(u), pyad.jacrev(f2)(u)
            assert J1.shape == q.shape + u.shape and J1.dtype == dtype
            onp.testing.assert_allclose(J1, J2, atol=tol, rtol=tol)
            s1 = lambda a: pnp.sum(pnp.sin(pnp.where(keep, nn.sparsek_attention(*a, budget, chunk=chunk, **kw), 0)))
            s2 = lambda a: pnp.sum(pnp.sin(pnp.where(keep, dense_reference(*a, budget, **kw), 0)))
            x = (q, k, v, u)
            dx = tuple(onp.random.default_rng(4).standard_normal(a.shape).astype(dtype) for a in x)
            for h1, h2 in zip(pyad.hessianv(s1)(x, dx), pyad.hessianv(s2)(x, dx)):
                onp.testing.assert_allclose(h1, h2, atol=tol * 10, rtol=tol * 10)


@pytest.mark.parametrize('budget,window,causal', [(2, 1, True), (1.5, 0, True), (2, 1, False)])
def test_check_grads_with_batched_passes(budget, window, causal):
    q, k, v = data(4, n=6, d=2)
    u = pattern('normal', q.shape[:3])
    f = lambda a: nn.sparsek_attention(*a, budget, window=window, causal=causal, chunk=4)
    check_grads(f, (q, k, v, u), order=2)                  # batched passes included
    check_grads(lambda b: nn.sparsek_attention(q, k, v, u, b, window=window, causal=causal), budget + 0.25)


def test_traced_and_fractional_budgets_are_differentiated():
    q, k, v = data(5, n=10)
    u = pattern('flat', q.shape[:3]) * 300                 # masks with fractional entries
    f = lambda b: pnp.sum(nn.sparsek_attention(q, k, v, u, b, window=1) ** 2)
    g = pyad.grad(f)(2.5)
    fd = (f(2.5 + 1e-6) - f(2.5 - 1e-6)) / 2e-6
    assert g != 0 and abs(g - fd) < 1e-6 * max(1, abs(fd))
    assert not onp.allclose(f(3.5), f(3.0))                # 3.5 is not truncated to 3
    per_head = onp.array([1.5, 3.25])
    gh = pyad.grad(lambda b: pnp.sum(nn.sparsek_attention(q, k, v, u, b) ** 2))(per_head)
    gr = pyad.grad(lambda b: pnp.sum(dense_reference(q, k, v, u, b) ** 2))(per_head)
    assert gh.shape == (2,) and onp.all(gh != 0)
    onp.testing.assert_allclose(gh, gr, atol=1e-10)


@pytest.mark.parametrize('kind', ['normal', 'inf', 'nan', 'equal', 'offset_1e7'])
def test_no_output_depends_on_a_later_key(kind):
    B, H, n = 1, 2, 12
    for dtype in (onp.float64, onp.float32):
        q, k, v = data(6, B, H, n, dtype=dtype)
        u = pattern(kind, (B, H, n), dtype=dtype)
        for budget, window, chunk in [(3, 0, 4), (2, 2, 3), (4, 0, 64), (1, 0, 2)]:
            f = lambda v, k, u: nn.sparsek_attention(q, k, v, u, budget, window=window, chunk=chunk)
            base = f(v, k, u)
            for i in range(n - 1):
                v2, k2, u2 = v.copy(), k.copy(), u.copy()
                v2[:, :, i + 1:] += 1000
                k2[:, :, i + 1:] *= -3
                u2[:, :, i + 1:] = onp.where(onp.arange(n - i - 1) % 2, onp.inf, 1e9)
                out = f(v2, k2, u2)
                # a leak moves an output by ~1000; the candidates' order may move the
                # rounding of the products (the later keys are sorted in with the others)
                tol = 1e-13 if dtype == onp.float64 else 1e-5
                onp.testing.assert_allclose(out[:, :, :i + 1], base[:, :, :i + 1], rtol=tol, atol=tol)
            _, idx, ok, _ = nn.sparsek_attention(q, k, v, u, budget, window=window, chunk=chunk,
                                                 return_selection=True)
            lim = onp.arange(n)[:, None] - window
            assert onp.all(idx[ok] <= onp.broadcast_to(lim, idx.shape)[ok])
            assert onp.all(onp.isfinite(u[0][onp.arange(H)[:, None, None], idx[0]][ok[0]]))


def test_issue_examples():
    u = onp.array([[[.3, -.5, -onp.inf, .1, .2, -.4]]])
    q, k, v = data(7, 1, 1, 6)
    f = lambda v: nn.sparsek_attention(q, k, v, u, 3)
    v2 = v.copy()
    v2[:, :, 3] += 10
    onp.testing.assert_allclose(f(v)[:, :, :3], f(v2)[:, :, :3], rtol=1e-13, atol=1e-13)
    u = (onp.float32(1e7) + onp.array([0, 0, 0, 1], onp.float32))[None, None]
    q, k, v = data(8, 1, 1, 4, dtype=onp.float32)
    _, idx, ok, _ = nn.sparsek_attention(q, k, v, u, 1, chunk=2, return_selection=True)
    assert idx[0, 0, 2, 0] <= 2 and ok[0, 0, 2, 0]
    n = 4096                                                   # equal float32 scores of 1e4
    r = onp.random.default_rng(0)
    q, k, v = (r.standard_normal((1, 1, n, 4)).astype(onp.float32) for _ in range(3))
    u = onp.full((1, 1, n), 1e4, onp.float32)
    out = nn.sparsek_attention(q, k, v, u, 8)
    # equal scores: the first 16 keys are the candidates, mask 0.5 each, the first 8 selected
    i = n - 1
    s = (q[0, 0, i] @ k[0, 0, :8].T) / 2
    w = onp.exp(s - s.max()) / onp.exp(s - s.max()).sum() * 0.5
    onp.testing.assert_allclose(out[0, 0, i], w @ v[0, 0, :8], atol=1e-5)


def test_selection_cost_is_bounded_whatever_the_scores():
    """Every chunk considers at most candidates + chunk keys (causal), whatever the scores."""
    R, n, budget, chunk = 2, 600, 8, 32
    r = onp.random.default_rng(9)
    for u in [r.standard_normal((R, n)), onp.zeros((R, n)), 100 * r.standard_normal((R, n)),
              1e-6 * r.standard_normal((R, n)), onp.arange(float(n))[None].repeat(R, 0)]:
        for causal, window in [(True, 0), (True, 5), (False, 3)]:
            blocks, cols = _attention._select(u, None, onp.full(R, float(budget)), 2 * budget,
                                              window, causal, chunk)
            for b, c in zip(blocks, cols):
                assert b.M <= 2 * budget + (chunk if causal else 2 * window - 1)
                assert c.shape[1] == b.M + b.Lw
                assert b.sel.sum(-1).max() <= budget


def test_forward_pass_copies_keys_and_values_at_most_once():
    """What the forward pass allocates beyond the output: pyad.vjp's own copy of the
    inputs (for the pullback) and the selection; no gathered K/V for every chunk
    (about 3 copies of K and V at chunk 16, budget 16)."""
    import tracemalloc
    r = onp.random.default_rng(0)
    q, k, v = (r.standard_normal((1, 2, 1024, 128)) for _ in range(3))
    u = r.standard_normal((1, 2, 1024))
    f = lambda a: nn.sparsek_attention(*a, 16, chunk=16)
    inputs = q.nbytes + k.nbytes + v.nbytes + u.nbytes
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        out, pullback = pyad.vjp(f, (q, k, v, u))
        kept, peak = (m - base for m in tracemalloc.get_traced_memory())
    finally:
        tracemalloc.stop()
    kv = k.nbytes + v.nbytes
    assert kept <= out.nbytes + inputs + kv / 4, (kept, kv)
    assert peak <= 2 * out.nbytes + inputs + kv / 2, (peak, kv)
    dq, dk, dv, du = pullback(onp.ones_like(out))
    ref = pyad.vjp(lambda a: dense_reference(*a, 16), (q, k, v, u))[1](onp.ones_like(out))
    for a, b in zip((dq, dk, dv, du), ref):
        onp.testing.assert_allclose(a, b, atol=1e-10)


def test_grouped_query_shared_scores_and_per_head_budgets():
    B, H, n = 2, 4, 10
    q, k, v = data(10, B, H, n, Hk=2, dv=5)
    u = pattern('normal', (B, 1, n))
    budget = onp.array([1, 2.5, 3, 0])
    out = nn.sparsek_attention(q, k, v, u, budget, window=2, chunk=3)
    onp.testing.assert_allclose(out, dense_reference(q, k, v, u, budget, window=2), atol=1e-12)
    # the same as repeating keys, values and scores
    rep = nn.sparsek_attention(q, pnp.repeat(k, 2, 1), pnp.repeat(v, 2, 1), onp.repeat(u, 4, 1),
                               budget, window=2, chunk=3)
    onp.testing.assert_allclose(out, rep, atol=1e-13)
    f1 = lambda a: pnp.sum(nn.sparsek_attention(*a, budget, window=2, chunk=3) ** 2)
    f2 = lambda a: pnp.sum(dense_reference(*a, budget, window=2) ** 2)
    for g1, g2 in zip(pyad.grad(f1)((q, k, v, u)), pyad.grad(f2)((q, k, v, u))):
        onp.testing.assert_allclose(g1, g2, atol=1e-10)
    kv1 = data(11, B, H, n, Hk=1)                              # multi-query
    out = nn.sparsek_attention(*kv1, pattern('wide', (B, H, n)), 2)
    onp.testing.assert_allclose(out, dense_reference(*kv1, pattern('wide', (B, H, n)), 2), atol=1e-12)


@pytest.mark.parametrize('causal,window', [(True, 0), (True, 2), (False, 0), (False, 2)])
def test_key_padding_mask_and_window_without_causality(causal, window):
    q, k, v = data(12, 2, 2, 11)
    u = pattern('normal', (2, 2, 11))
    mask = onp.ones((2, 11), bool)
    mask[0, 3], mask[1, 7:] = False, False
    kw = dict(window=window, causal=causal, key_padding_mask=mask)
    out = nn.sparsek_attention(q, k, v, u, 2, chunk=4, **kw)
    onp.testing.assert_allclose(out, dense_reference(q, k, v, u, 2, **kw), atol=1e-12)
    v2 = v.copy()
    v2[~mask[:, None, :].repeat(2, 1)] = 1e6                  # padded keys are never read
    onp.testing.assert_array_equal(nn.sparsek_attention(q, k, v2, u, 2, chunk=4, **kw), out)
    f1 = lambda a: pnp.sum(nn.sparsek_attention(*a, 2, chunk=4, **kw) ** 2)
    f2 = lambda a: pnp.sum(dense_reference(*a, 2, **kw) ** 2)
    for g1, g2 in zip(pyad.grad(f1)((q, k, v, u)), pyad.grad(f2)((q, k, v, u))):
        onp.testing.assert_allclose(g1, g2, atol=1e-10)


def test_candidates_covering_the_pool_give_sparsek_over_the_whole_pool():
    q, k, v = data(13, n=14)
    u = pattern('flat', q.shape[:3]) * 100
    out = nn.sparsek_attention(q, k, v, u, 3, candidates=14, window=1)
    i, j = onp.arange(14)[:, None], onp.arange(14)[None, :]
    pool = j <= i - 1
    m = nn.sparsek(onp.where(pool, u[:, :, None, :], -onp.inf), onp.minimum(3, pool.sum(-1)).astype(float))
    assert ((m > 0) & (m < 1)).sum(-1).max() > 3               # fractional beyond the budget
    onp.testing.assert_allclose(out, dense_reference(q, k, v, u, 3, 1, candidates=14), atol=1e-12)
    onp.testing.assert_allclose(nn.dense_attention(q, k, v),
                                nn.sparsek_attention(q, k, v, u, 14), atol=1e-12)
    onp.testing.assert_allclose(nn.sliding_window_attention(q, k, v, 3),
                                dense_reference(q, k, v, u, 0, 3), atol=1e-12)


@pytest.mark.parametrize('kind', PATTERNS)
def test_cache_reproduces_full_computation(kind):
    B, H, n = 2, 2, 20
    for dtype in (onp.float64, onp.float32):
        q, k, v = data(14, B, H, n, dv=4, dtype=dtype)
        u = pattern(kind, (B, H, n), dtype=dtype)
        tol = 1e-12 if dtype == onp.float64 else 1e-5
        for budget, window in [(3, 0), (2.5, 2), (0, 3), (1, 0)]:
            full = nn.sparsek_attention(q, k, v, u, budget, window=window, chunk=6)
            cache = nn.SparseKCache(B, H, budget, window)
            steps = []
            for t in range(n):
                steps.append(cache.step(q[:, :, t], k[:, :, t], v[:, :, t], u[:, :, t]))
                assert cache.kv_pairs <= 2 * math.ceil(budget) + window
            onp.testing.assert_allclose(onp.stack(steps, 2), full, atol=tol, rtol=tol)
            for m in (1, 2, 7, n - 1):        # a prompt (shorter or longer than the window)
                cache = nn.SparseKCache(B, H, budget, window)
                part = [cache.step(q[:, :, :m], k[:, :, :m], v[:, :, :m], u[:, :, :m])]
                part += [cache.step(q[:, :, t:t + 1], k[:, :, t:t + 1], v[:, :, t:t + 1], u[:, :, t:t + 1])
                         for t in range(m, n)]
                assert cache.kv_pairs <= 2 * math.ceil(budget) + window
                onp.testing.assert_allclose(onp.concatenate(part, 2), full, atol=tol, rtol=tol)


def test_cache_prefill_grouped_query_and_padding():
    B, H, n = 2, 4, 16
    q, k, v = data(15, B, H, n, Hk=2)
    u = pattern('integer', (B, 1, n))
    mask = onp.ones((B, n), bool)
    mask[1, 2] = mask[0, 9] = False
    budget = onp.array([1, 2, 2.5, 3])
    full = nn.sparsek_attention(q, k, v, u, budget, window=2, key_padding_mask=mask)
    cache = nn.SparseKCache(B, H, budget, 2)
    a = cache.step(q[:, :, :10], k[:, :, :10], v[:, :, :10], u[:, :, :10], key_valid=mask[:, :10])
    b = [cache.step(q[:, :, t], k[:, :, t], v[:, :, t], u[:, :, t], key_valid=mask[:, t])
         for t in range(10, n)]
    onp.testing.assert_allclose(onp.concatenate([a, onp.stack(b, 2)], 2), full, atol=1e-12)


def test_cache_with_scores_from_features():
    r = onp.random.default_rng(16)
    B, n, D, H = 2, 30, 6, 2
    x = r.standard_normal((B, n, D))
    ws, slope = r.standard_normal((D, H)), onp.array([0.05, -0.02])
    u = nn.sparsek_scores(x, ws, slope)
    onp.testing.assert_allclose(u[:, :, 7], nn.sparsek_scores(x[:, 7:8], ws, slope, offset=7)[..., 0])
    q, k, v = data(17, B, H, n)
    full = nn.sparsek_attention(q, k, v, u, 4, window=3)
    cache = nn.SparseKCache(B, H, 4, 3)
    for t in range(n):
        ut = nn.sparsek_scores(x[:, t:t + 1], ws, slope, offset=t)[..., 0]
        onp.testing.assert_allclose(cache.step(q[:, :, t], k[:, :, t], v[:, :, t], ut),
                                    full[:, :, t], atol=1e-12)


def test_errors_name_the_mistake():
    q, k, v = data(18)
    u = pattern('normal', q.shape[:3])
    att = nn.sparsek_attention
    with pytest.raises(ValueError, match='both 0'):
        att(q, k, v, u, 0)
    with pytest.raises(ValueError, match='scores must be'):
        att(q, k, v, u[..., :3], 2)
    with pytest.raises(TypeError, match='floating-point'):
        att(q, k, v, onp.ones(u.shape, int), 2)
    with pytest.raises(ValueError, match='batch, heads, n, d'):
        att(q[0], k[0], v[0], u[0], 2)
    for chunk in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match='chunk'):
            att(q, k, v, u, 2, chunk=chunk)
    for budget in (-1, onp.nan, onp.inf):
        with pytest.raises(ValueError, match='budget'):
            att(q, k, v, u, budget)
    with pytest.raises(TypeError, match='bool'):
        att(q, k, v, u, True)
    with pytest.raises(ValueError, match='per head'):
        att(q, k, v, u, onp.ones(3))
    with pytest.raises(ValueError, match='candidates'):
        att(q, k, v, u, 4, candidates=3)
    with pytest.raises(ValueError, match='candidates must be a positive int'):
        att(q, k, v, u, 2, candidates=4.5)
    with pytest.raises(ValueError, match='multiple'):
        att(q, k[:, :1].repeat(3, 1)[:, :3], v[:, :1].repeat(3, 1), u, 2)
    with pytest.raises(ValueError, match='key_padding_mask'):
        att(q, k, v, u, 2, key_padding_mask=onp.ones(12, bool))
    with pytest.raises(ValueError, match='window'):
        att(q, k, v, u, 2, window=-1)
    cache = nn.SparseKCache(1, 2, 2)
    with pytest.raises(ValueError, match='SparseKCache.step: expected q'):
        cache.step(q, k[:, :, :, :1].repeat(3, 1)[:, :3], v, u)         # a prompt, 3 kv heads
    with pytest.raises(ValueError, match='SparseKCache.step: q, k, v must be'):
        cache.step(q, k, v, u[:, :, 0])
    assert cache.step(q[:, :, :0], k[:, :, :0], v[:, :, :0], u[:, :, :0]).shape == (1, 2, 0, 3)
    with pytest.raises(TypeError, match='does not differentiate'):
        pyad.grad(lambda x: pnp.sum(cache.step(q[:, :, 0] * x, k[:, :, 0], v[:, :, 0], u[:, :, 0])))(1.0)
    with pytest.raises(TypeError, match='does not differentiate'):
        pyad.grad(lambda b: nn.SparseKCache(1, 2, b))(2.0)


def test_layer_trains_with_optim():
    r = onp.random.default_rng(19)
    params = nn.sparsek_layer_init(r, 8, heads=4, d_head=3, kv_heads=2)
    x = r.standard_normal((2, 12, 8))
    target = r.standard_normal((2, 12, 8)) * 0.1
    loss = lambda p: pnp.mean((nn.sparsek_layer(p, x, 2.5, window=2, chunk=5) - target) ** 2)
    opt = optim.adam(lr=3e-2)
    state = opt.init(params)
    first = float(loss(params))
    for _ in range(15):
        g = pyad.grad(loss)(params)
        assert set(g) == set(params) and all(g[n].shape == params[n].shape for n in params)
        params, state = opt.update(g, state, params)
    assert float(loss(params)) < 0.8 * first
    check_grads(lambda w: nn.sparsek_layer(dict(params, w_score=w), x[:, :6], 2.5, window=1),
                params['w_score'], order=1)


@pytest.mark.parametrize('device', DEVICES)
def test_options_on_device(device):
    """Every option on device arrays (strict-cpu refuses any host array mixed in, as
    CuPy does; the CuPy case runs where a GPU is present): per-head array budget,
    grouped-query heads, shared scores from features with a slope, a padding mask, the
    selection, batched reverse mode and the cache's prefill."""
    from pyad import backend
    B, H, n, d = 2, 4, 11, 3
    q, k, v = data(20, B, H, n, d, Hk=2, dv=2)
    x = onp.random.default_rng(21).standard_normal((B, n, 5))
    w_score, slope = onp.random.default_rng(22).standard_normal((5, 1)), onp.array([0.1])
    mask = onp.ones((B, n), bool)
    mask[1, 3] = False
    budget = onp.array([1.0, 2.5, 3.0, 2.0])

    def f(t, mask):
        u = nn.sparsek_scores(t[3], t[4], t[5])
        return nn.sparsek_attention(*t[:3], u, budget, window=1, chunk=4, key_padding_mask=mask)

    host = (q, k, v, x, w_score, slope)
    dev = tuple(device.put(a) for a in host)
    out, ref = f(dev, device.put(mask)), f(host, mask)
    assert device.owns(out)
    onp.testing.assert_allclose(backend.to_numpy(out), ref, atol=1e-12)
    J = pyad.jacrev(lambda t: f(t, device.put(mask))[:, :, -2:])(dev)
    Jref = pyad.jacrev(lambda t: f(t, mask)[:, :, -2:])(host)
    for a, b in zip(J, Jref):
        assert device.owns(a)
        onp.testing.assert_allclose(backend.to_numpy(a), b, atol=1e-10)
    u = nn.sparsek_scores(dev[3], dev[4], dev[5])
    sel = nn.sparsek_attention(*dev[:3], u, 2, return_selection=True)
    assert all(device.owns(a) for a in sel)
    cache = nn.SparseKCache(B, H, 2)
    o = cache.step(*dev[:3], u)
    assert device.owns(o)
    onp.testing.assert_allclose(backend.to_numpy(o), backend.to_numpy(sel[0]), atol=1e-12)
