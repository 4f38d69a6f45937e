"""SparseK attention (Lou, Jia, Zheng & Tu 2024), dense and sliding-window attention,
an incremental decoder cache, and a functional attention layer.

Shapes: queries (batch, heads, n, d); keys (batch, kv_heads, n, d) and values
(batch, kv_heads, n, dv) with ``heads`` a multiple of ``kv_heads`` (grouped-query
attention; kv_heads = 1 is multi-query); importance scores (batch, score_heads, n)
with ``heads`` a multiple of ``score_heads`` (1: one score per token, shared).

The definition.  For query i, its *window* is the keys i - window < j <= i (with
``causal=False``: |i - j| < window) and its *pool* the other keys it may see
(causal: j <= i - window; otherwise every key outside the window).  Keys masked by
``key_padding_mask`` are in neither.  A pool key with score -inf is ineligible
(never selected, mask 0); a pool key with score NaN or +inf makes query i's output
NaN (as ``sparsek`` gives NaN for such a row).  Among the eligible pool keys:

* the *candidates* C_i: the ``candidates`` keys with the largest scores (ties: the
  earlier key); ``candidates`` defaults to 2·ceil(budget);
* k_i = min(budget, |C_i|) (``budget`` may be fractional, traced, one per head);
* the soft mask  m_ij = sparsek(u over C_i, k_i)_j = clip(u_j - tau_i, 0, 1);
* the hard selection S_i: the ceil(k_i) first candidates (the integer hard size:
  a fractional k_i = 3.5 selects 4 keys, the 4th with a fractional mask);
* the output o_i = sum_j softmax_j(q_i·k_j · scale) · w_ij · v_j, the softmax over
  S_i joined with the window, w_ij = m_ij on S_i and 1 on the window.  (The mask
  multiplies the attention weights after the softmax: the gradient with respect to
  the scores stays bounded.)

When the SparseK mask over the whole pool is nonzero only on the top-``candidates``
keys (scores spread by more than 1 beyond them), m is exactly that mask; with
``candidates >= n`` it always is.  Restricting the mask to a fixed number of
candidates is what bounds the cost whatever the scores (flat, tied, separated).

Costs, per query head, with A = candidates, C = chunk, w = window: queries are
processed in chunks of C.  A chunk's candidate list is the previous chunk's last
query's top A plus the C keys that entered the pool since (causal; with
``causal=False``, the global top A + 2w - 1 once), M <= A + C keys: one sort of M
scores per chunk, one cumulative count over the (C, M) matrix per chunk, and SparseK
on each query's A candidates, already in decreasing order (NumPy's stable sort
merges the two sorted runs of breakpoints in linear time).  Selection O(n·M) memory
and O(n·M + n·A log A) time.  Attention: per chunk, (C, d) @ (d, M + C + w - 1)
matrix products over the chunk's candidate and window keys, O(n·(A + C + w)·d) time.
One primitive covers every chunk: its forward pass gathers one chunk's keys and values
at a time and keeps only its inputs (no copy of K or V, no logits); its backward pass
gathers every chunk's keys, values and scores once (about (M + C + w)/C times K and
V), recomputes each chunk, and adds the chunks' gradients with one sorted
``add.reduceat`` each (no ``add.at``).  The indices, sets and thresholds are computed
once, without derivatives; the derivatives flow through the closed form of the
threshold on the fractional set F_i = {0 < m_ij < 1}: tau_i = (sum_F u + |{m = 1}| -
k_i) / |F_i| (0 when F_i is empty, as in ``sparsek``), in u and in the budget.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union
from ..typing import Array, ArrayLike, DTypeLike
import numpy
import functools
import math

import numpy as _onp

from .._core.primitive import Primitive
from .._core.box import Box, innermost, shape_of, ndim_of, dtype_of
from .._core.batching import per_example
from ..backend import namespace
from .. import numpy as pnp
from .softmax import softmax
from .sparse import clip_unit
from ._util import errstate

DEFAULT_CHUNK = 64


# ============================================================================ scores
def sparsek_scores(x: ArrayLike, w_score: ArrayLike, slope: ArrayLike = 0.0,
                   offset: int = 0) -> Array:
    """Importance scores u (batch, heads, n) from token features x (batch, n, D):
    u[b, h, j] = x[b, j]·w_score[:, h] + slope[h] * (offset + j).

    ``w_score`` is (D, heads); ``slope`` a float or one per head (learnable: a
    positive slope favours recent tokens); ``offset`` is the absolute position of
    x's first token (for incremental decoding)."""
    xs = tuple(shape_of(x))
    if len(xs) != 3:
        raise ValueError(f'sparsek_scores: x must be (batch, n, D), got shape {xs}')
    ws = tuple(shape_of(w_score))
    if len(ws) != 2 or ws[0] != xs[2]:
        raise ValueError(f'sparsek_scores: w_score must be (D, heads) with D = {xs[2]}, got {ws}')
    u = pnp.swapaxes(pnp.matmul(x, w_score), -1, -2)            # (batch, heads, n)
    pos = namespace(innermost(x)).arange(offset, offset + xs[1], dtype=dtype_of(x))
    if ndim_of(slope):
        slope = pnp.reshape(slope, (ws[1], 1))
    return u + slope * pos


# ============================================================================ block gather
class _Blocks:
    """Where each block of a gather reads: x[rows[b], cols[b]] for x (Rx, n, e), rows
    (R, 1) and cols (R, L_b); and the sort plan of the transpose (computed once)."""
    __slots__ = ('rows', 'cols', 'Rx', 'n', '_plan')

    def __init__(self, rows, cols, Rx, n):
        self.rows, self.cols, self.Rx, self.n, self._plan = rows, cols, Rx, n, None

    def plan(self, xp):
        if self._plan is None:
            flat = xp.concatenate([(r * self.n + c).ravel() for r, c in zip(self.rows, self.cols)])
            order = xp.argsort(flat, kind='stable')
            fs = flat[order]
            first = xp.ones(fs.shape, dtype=bool)
            first[1:] = fs[1:] != fs[:-1]
            starts = xp.flatnonzero(first)
            self._plan = (order, starts, fs[starts])
        return self._plan


def _gather_impl(x, *, ix):
    return tuple(x[..., r, c, :] for r, c in zip(ix.rows, ix.cols))


def _scatter_impl(*gs, ix):
    """The transpose of the gather: out[rows[b], cols[b]] += gs[b], all blocks at
    once, by one sort (cached) and one add.reduceat: repeated indices are summed."""
    xp = namespace(*gs)
    g0 = gs[0]
    batch, e = g0.shape[:-3], g0.shape[-1]
    vals = xp.concatenate([g.reshape(batch + (-1, e)) for g in gs], axis=-2)
    order, starts, uniq = ix.plan(xp)
    out = xp.zeros(batch + (ix.Rx * ix.n, e), dtype=g0.dtype)
    if hasattr(xp.add, 'reduceat'):
        out[..., uniq, :] = xp.add.reduceat(vals[..., order, :], starts, axis=-2)
    else:                                                   # backends without reduceat
        flat = xp.concatenate([(r * ix.n + c).ravel() for r, c in zip(ix.rows, ix.cols)])
        xp.add.at(out, (Ellipsis, flat, slice(None)), vals)
    return out.reshape(batch + (ix.Rx, ix.n, e))


def _fill(parts, shapes_of):
    """Replace symbolic-zero (None) blocks by zeros, with the batch axes of the others."""
    ref = next((p for p in parts if p is not None), None)
    if ref is None:
        return None
    i = next(j for j, p in enumerate(parts) if p is not None)
    batch = tuple(shape_of(ref))[:ndim_of(ref) - len(shapes_of[i])]
    xp = namespace(innermost(ref))
    return [p if p is not None else xp.zeros(batch + tuple(s), dtype=dtype_of(ref))
            for p, s in zip(parts, shapes_of)]


_gather = Primitive('sparsek_gather_blocks', _gather_impl, multiple_results=True)
_scatter = Primitive('sparsek_scatter_blocks', _scatter_impl)
_gather.def_jvp(lambda t, ans, x, ix: _gather(t, ix=ix))
_gather.def_vjp(lambda g, ans, x, ix: _scatter(*_fill(list(g), [shape_of(a) for a in ans]), ix=ix))


def _scatter_jvp(tangents, ans, primals, params):
    ts = _fill(list(tangents), [shape_of(a) for a in primals])
    return None if ts is None else _scatter(*ts, **params)


def _scatter_vjp(g, ans, primals, params, positions):
    parts = _gather(g, **params)
    return [parts[i] for i in positions]


_scatter.def_jvp_joint(_scatter_jvp)
_scatter.def_vjp_joint(_scatter_vjp)


# ============================================================================ SparseK on sorted rows
def _sparsek_sorted(Z, k):
    """SparseK of rows already in decreasing order, masked (-inf) entries last, no NaN or
    +inf (the candidates of a query): (p, tau, mx) as ``sparse._sparsek_rows`` returns
    them (p = clip((Z - mx) - tau, 0, 1), mx the row maximum, tau = -inf where k covers
    every unmasked entry).  k (..., 1), 0 <= k.

    Walking tau down the 2m breakpoints {z_i, z_i - 1} (two sorted runs, which NumPy's
    stable sort merges in linear time), the entries at 1 and the entries above tau are
    both prefixes of the row: after a breakpoint, with e entries above tau and a of them
    at 1, f(tau) = a + (S_e - S_a) - (e - a)·tau, S the prefix sums.  The piece where f
    crosses k gives tau = (S_e - S_a + a - k) / (e - a), or the middle of a flat piece
    (e = a: every entry exactly 0 or 1, the hard top-k case) - as in ``_solve_sorted``."""
    xp = namespace(Z)
    lead, m = Z.shape[:-1], Z.shape[-1]
    dt = Z.dtype
    fin = Z > -xp.inf
    count = fin.sum(-1, keepdims=True)
    mx = xp.where(count > 0, Z[..., :1], 0)
    with errstate():
        zs = Z - mx
        lo = xp.min(xp.where(fin, zs, 0), axis=-1, keepdims=True) - 2
        zs = xp.where(fin, zs, lo)                  # below any threshold: never above tau
    sat = k >= count
    rows = int(_onp.prod(lead)) if lead else 1
    b = xp.concatenate([zs, zs - 1], axis=-1)
    order = xp.argsort(-b, axis=-1, kind='stable')
    off = (xp.arange(rows, dtype=xp.int64) * (2 * m)).reshape(lead + (1,))
    bs = b.reshape(-1)[order + off]
    n_e = xp.cumsum(order < m, axis=-1, dtype=xp.int64)
    n_a = xp.arange(1, 2 * m + 1, dtype=xp.int64) - n_e
    S = xp.concatenate([xp.zeros(lead + (1,)), xp.cumsum(zs, axis=-1, dtype=xp.float64)], axis=-1)
    soff = (xp.arange(rows, dtype=xp.int64) * (m + 1)).reshape(lead + (1,))
    Se, Sa = S.reshape(-1)[n_e + soff], S.reshape(-1)[n_a + soff]
    kk = xp.where(sat, 0, k).astype(xp.float64)
    f = n_a + (Se - Sa) - (n_e - n_a) * bs.astype(xp.float64)
    j = xp.minimum(xp.sum(f[..., 1:] < kk, axis=-1, keepdims=True), 2 * m - 2)
    at = lambda x, i: xp.take_along_axis(x, i, axis=-1)
    e, a = at(n_e, j), at(n_a, j)
    tau = (at(Se, j) - at(Sa, j) + a - kk) / xp.maximum(e - a, 1)
    mid = (at(bs, j).astype(xp.float64) + at(bs, j + 1)) / 2
    tau = xp.where(e == a, mid, tau).astype(dt)
    tau = xp.where(sat, -xp.inf, tau)
    p = xp.where(sat, fin, clip_unit(zs, tau)).astype(dt)
    return xp.where(fin, p, 0).astype(dt), tau, mx


# ============================================================================ selection
class _Block:
    __slots__ = ('s', 'e', 'M', 'Lw', 'allowed', 'sel', 'F', 'U', 'mx', 'nA', 'win',
                 'poison', 'top_idx', 'top_ok', 'tau')


def _poison(bad, w, causal):
    """(R, n): query i's pool holds a key with a NaN or +inf score (bad (R, n))."""
    xp = namespace(bad)
    R, n = bad.shape
    cb = xp.concatenate([xp.zeros((R, 1), dtype=xp.int64), xp.cumsum(bad, axis=1)], axis=1)
    i = _onp.arange(n)
    if causal:
        return cb[:, xp.asarray(_onp.clip(i - w + 1, 0, n))] > 0
    band = cb[:, xp.asarray(_onp.minimum(n, i + w))] - cb[:, xp.asarray(_onp.clip(i - w + 1, 0, n))]
    return (cb[:, n:] - band) > 0


def _window_keys(s, e, n, w, causal, keyok, R, xp):
    """The window keys of queries s..e-1: which each may see (R, C, Lw) and their
    columns (R, Lw) (clipped into 0..n-1; the mask is False outside)."""
    qi = _onp.arange(s, e)
    if causal:
        widx = _onp.arange(s - w + 1, e)
        ok = (widx[None, :] > qi[:, None] - w) & (widx[None, :] <= qi[:, None])
    else:
        widx = _onp.arange(s - w + 1, e + w - 1)
        ok = _onp.abs(widx[None, :] - qi[:, None]) < w
    ok &= (widx >= 0) & (widx < n)
    widx = _onp.clip(widx, 0, n - 1)
    win = xp.broadcast_to(xp.asarray(ok), (R, e - s, len(widx)))
    if keyok is not None:
        win = win & keyok[:, xp.asarray(widx)][:, None, :]
    return win, xp.broadcast_to(xp.asarray(widx), (R, len(widx)))


def _in_pool(cidx, cok, ue, s, e, w, causal):
    """A chunk's candidates (R, M) sorted by decreasing score (ties: the earlier key,
    cidx being increasing), their scores, and which are in each query's pool (R, C, M)."""
    xp = namespace(ue)
    cu = xp.where(cok, xp.take_along_axis(ue, cidx, axis=1), -xp.inf)
    srt = xp.argsort(-cu, axis=1, kind='stable')
    cidx = xp.take_along_axis(cidx, srt, axis=1)
    cok = xp.take_along_axis(cok, srt, axis=1)
    qa = xp.arange(s, e)[None, :, None]
    inq = (cidx[:, None, :] <= qa - w) if causal else (xp.abs(cidx[:, None, :] - qa) >= w)
    return cidx, xp.take_along_axis(cu, srt, axis=1), cok[:, None, :] & inq


def _keep_selection(b, tau, mx, K_i, hit, keys, Ap):
    """What return_selection reports for chunk b: thresholds, selected keys, validity."""
    xp = namespace(tau)
    R, C = K_i.shape
    b.tau = (tau + mx)[..., 0]
    kmax = int(K_i.max()) if K_i.size else 0
    top = xp.zeros(R * C * Ap, dtype=xp.int64)
    top[hit] = keys
    b.top_idx = top.reshape(R, C, Ap)[..., :kmax]
    b.top_ok = xp.arange(kmax) < K_i[..., None]


def _select(u, keyok, budget_rows, A, window, causal, chunk, want_selection=False):
    """The chunks of queries, their candidate and window keys, the hard selection and
    the sets of the soft mask (plain arrays: no derivative flows through here).

    u (R, n) scores; keyok (R, n) bool or None; budget_rows (R,) floats (0: no
    selection).  Returns the list of _Block and, per block, the key columns (R, M + Lw).
    Ties between equal scores go to the earlier key: a chunk's candidate list is in
    increasing key order before its stable sort by score."""
    xp = namespace(u)
    R, n = u.shape
    w = window
    with errstate():
        bad = xp.isnan(u) | (u == xp.inf)
        elig = ~bad & (u > -xp.inf)
    if keyok is not None:
        elig &= keyok
        bad &= keyok
    ue = xp.where(elig, u, -xp.inf)
    poison = _poison(bad, w, causal) if bool(bad.any()) else None
    use_budget = bool((budget_rows > 0).any())
    if use_budget and not causal:
        T = min(n, A + max(2 * w - 1, 0))
        glob = xp.sort(xp.argsort(-ue, axis=1, kind='stable')[:, :T], axis=1)
        gok = xp.take_along_axis(elig, glob, axis=1)
    carried = xp.zeros((R, 0), dtype=xp.int64)
    carried_ok = xp.zeros((R, 0), dtype=bool)
    blocks, cols = [], []
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        C = e - s
        b = _Block()
        b.s, b.e, b.M, b.Lw = s, e, 0, 0
        b.poison = None if poison is None else poison[:, s:e]
        parts_cols, parts_allowed = [], []
        if use_budget:
            if causal:
                lo, hi = max(0, s - w), max(0, e - w)
                cidx = xp.concatenate([carried, xp.broadcast_to(xp.arange(lo, hi), (R, hi - lo))], 1)
                cok = xp.concatenate([carried_ok, elig[:, lo:hi]], 1)
            else:
                cidx, cok = glob, gok
            if cidx.shape[1]:
                cidx, cu, inpool = _in_pool(cidx, cok, ue, s, e, w, causal)
                M = cidx.shape[1]
                rank = xp.cumsum(inpool, axis=-1, dtype=xp.int32) - 1
                intop = inpool & (rank < A)
                nA = xp.minimum(rank[..., -1] + 1, A)                            # (R, C)
                kk = xp.minimum(budget_rows[:, None], nA.astype(u.dtype))
                K_i = xp.ceil(kk).astype(xp.int64)
                b.sel = inpool & (rank < K_i[..., None])
                # each query's candidates in decreasing score: its slot is its rank
                Ap = min(A, M)
                slot = (xp.arange(R * C, dtype=xp.int64) * Ap).reshape(R, C, 1) + xp.minimum(rank, Ap - 1)
                hit = slot[intop]
                Z = xp.full(R * C * Ap, -xp.inf, dtype=u.dtype)
                Z[hit] = xp.broadcast_to(cu[:, None, :], inpool.shape)[intop]
                p, tau, mx = _sparsek_sorted(Z.reshape(R, C, Ap), kk[..., None])
                pf = p.reshape(-1)[slot]
                b.F = intop & (pf > 0) & (pf < 1)
                b.U = intop & (pf >= 1)
                b.mx, b.nA, b.M = mx, nA, M
                if want_selection:
                    _keep_selection(b, tau, mx, K_i, hit, xp.broadcast_to(cidx[:, None, :],
                                                                          inpool.shape)[intop], Ap)
                parts_cols.append(cidx)
                parts_allowed.append(b.sel)
                if causal:        # the top A of the last query's pool, in increasing key order
                    carried = xp.sort(xp.where(intop[:, -1, :], cidx, n), axis=1)[:, :Ap]
                    carried_ok = carried < n
                    carried = xp.where(carried_ok, carried, 0)
        if w:
            b.win, widx = _window_keys(s, e, n, w, causal, keyok, R, xp)
            b.Lw = widx.shape[1]
            parts_cols.append(widx)
            parts_allowed.append(b.win)
        b.allowed = parts_allowed[0] if len(parts_allowed) == 1 else xp.concatenate(parts_allowed, -1)
        blocks.append(b)
        cols.append(parts_cols[0] if len(parts_cols) == 1 else xp.concatenate(parts_cols, 1))
    return blocks, cols


# ============================================================================ the chunks
class _Plan:
    """What the attention primitive needs besides the arrays it differentiates: the
    chunks of ``_select``, where each chunk reads its keys/values (kix) and its
    candidates' scores (uix), the scale, the scores' dtype and the budget when it is a
    constant (None: the budget is the primitive's last argument)."""
    __slots__ = ('blocks', 'kix', 'uix', 'scale', 'sdt', 'bconst')

    def __init__(self, blocks, kix, uix, scale, sdt, bconst):
        self.blocks, self.kix, self.uix = blocks, kix, uix
        self.scale, self.sdt, self.bconst = scale, sdt, bconst


def _chunk_compute(args, blk, plan):
    """The outputs (R, C, dv) of one chunk of queries, from its queries qb (R, C, d), its
    candidate and window keys kb (R, Mb, d) and values vb (R, Mb, dv), the candidates'
    scores ub (R, M, 1) and the budget (traced: an argument; else ``plan.bconst``)."""
    qb, kb, vb = args[:3]
    R, C = shape_of(qb)[-3:-1]
    dt = dtype_of(qb)
    S = pnp.matmul(qb, pnp.swapaxes(kb, -1, -2)) * plan.scale
    P = softmax(pnp.where(blk.allowed, S, -_onp.inf), axis=-1)
    if blk.M:
        # the SparseK mask on the selection: clip(u - tau, 0, 1) with the sets F
        # (fractional) and U (ones) found by _select, and tau in closed form
        sdt = plan.sdt
        ub = args[3]
        bud = args[4] if plan.bconst is None else plan.bconst
        z = pnp.reshape(ub, (R, 1, blk.M)) - blk.mx
        kk = pnp.minimum(bud, blk.nA.astype(sdt))
        nF = namespace(blk.F).maximum(blk.F.sum(-1), 1).astype(sdt)
        tau = (pnp.sum(pnp.where(blk.F, z, 0.0), axis=-1) + blk.U.sum(-1).astype(sdt) - kk) / nF
        m = pnp.where(blk.F, z - pnp.reshape(tau, (R, C, 1)), blk.U.astype(sdt))
        w = pnp.where(blk.sel, m, 0.0)
        if dtype_of(w) != dt:
            w = pnp.astype(w, dt)
        if blk.Lw:
            w = pnp.concatenate([w, blk.win.astype(dt)], axis=-1)
        P = P * w
    return pnp.matmul(P, vb)


def _chunk_args(args, plan, j, kv, us):
    """Chunk j's arguments for _chunk_compute (None: the chunk has no key): its queries
    (a slice of q), keys and values ``kv(j)``, candidates' scores ``us(j)``, budget."""
    b = plan.blocks[j]
    if b.M == 0 and b.Lw == 0:
        return None
    a = (args[0][..., b.s:b.e, :],) + tuple(kv(j))
    return a + (us(j),) + tuple(args[4:]) if b.M else a


def _attend_compute(args, plan, kv, us):
    """All the chunks' outputs (R, n, dv), each chunk's keys, values and scores read by
    ``kv(j)`` and ``us(j)``."""
    q, v = args[0], args[2]
    outs = []
    for j, b in enumerate(plan.blocks):
        a = _chunk_args(args, plan, j, kv, us)
        outs.append(namespace(innermost(q)).zeros((shape_of(q)[0], b.e - b.s, shape_of(v)[-1]),
                                                  dtype=dtype_of(q))
                    if a is None else _chunk_compute(a, b, plan))
    return pnp.concatenate(outs, axis=1)


def _attend_impl(*args, plan):
    # one chunk's keys and values gathered at a time, dropped once its output is made
    k, v = args[1], args[2]
    kr, kc, ur, uc = plan.kix.rows, plan.kix.cols, plan.uix.rows, plan.uix.cols
    return _attend_compute(args, plan, lambda j: (k[kr[j], kc[j]], v[kr[j], kc[j]]),
                           lambda j: args[3][ur[j], uc[j]])


def _attend_graph(args, plan):
    """The same outputs from pyad's primitives (gathers of every chunk at once), for the
    derivative rules: differentiable again, in both modes."""
    kbs, vbs = _gather(args[1], ix=plan.kix), _gather(args[2], ix=plan.kix)
    ubs = _gather(args[3], ix=plan.uix) if len(args) > 3 else None
    return kbs, vbs, ubs


def _batched(fn, bnd, n_batch):
    """fn(i) for each direction i of a batch of (co)tangents, stacked per result."""
    if bnd == 0:
        return fn(None)
    per = [fn(i) for i in range(n_batch)]
    return [pnp.stack([p[j] for p in per]) if per[0][j] is not None else None
            for j in range(len(per[0]))]


def _attend_vjp(g, ans, primals, params, positions):
    # each chunk recomputed (nothing but the inputs is kept by the forward pass) and the
    # cotangent pulled back through pyad's own operations: any order, both modes; the
    # chunks' key, value and score cotangents added by one sorted scatter each
    from ..operators import vjp
    plan = params['plan']
    kbs, vbs, ubs = _attend_graph(primals, plan)
    bnd = ndim_of(g) - ndim_of(ans)
    nb = shape_of(g)[0] if bnd else 0
    nblk = len(plan.blocks)
    cts = [[None] * nblk for _ in primals]
    for j, b in enumerate(plan.blocks):
        a = _chunk_args(primals, plan, j, lambda j: (kbs[j], vbs[j]), lambda j: ubs[j])
        if a is None:
            continue
        _, pullback = vjp(lambda x, b=b: _chunk_compute(x, b, plan), a)
        gj = g[..., b.s:b.e, :]
        for i, c in enumerate(_batched(lambda i: list(pullback(gj if i is None else gj[i])), bnd, nb)):
            cts[i][j] = c
    R, d = shape_of(primals[0])[0], shape_of(primals[0])[-1]
    shapes = {0: [(R, b.e - b.s, d) for b in plan.blocks], 1: [shape_of(x) for x in kbs],
              2: [shape_of(x) for x in vbs], 3: [shape_of(x) for x in ubs] if ubs is not None else None}
    del kbs, vbs, ubs                  # the gathered blocks: not needed by the scatters
    return [_add_chunks(cts, i, shapes.get(i), plan) for i in positions]


def _add_chunks(cts, i, shapes, plan):
    """The cotangent of argument i from the chunks' ones (cts[i], dropped once used):
    queries by concatenation, keys, values and scores by one scatter, the budget by a sum."""
    if i == 4:
        parts = [c for c in cts[4] if c is not None]
        return None if not parts else functools.reduce(lambda x, y: x + y, parts)
    parts = _fill(cts[i], shapes)
    cts[i] = None
    if parts is None:
        return None
    if i == 0:
        return pnp.concatenate(parts, axis=-2)
    return _scatter(*parts, ix=plan.uix if i == 3 else plan.kix)


def _attend_jvp(tangents, ans, primals, params):
    from ..operators import jvp
    plan = params['plan']
    ref = next((t, p) for t, p in zip(tangents, primals) if t is not None)
    bnd = ndim_of(ref[0]) - ndim_of(ref[1])

    def graph(a):
        kbs, vbs, ubs = _attend_graph(a, plan)
        return _attend_compute(a, plan, lambda j: (kbs[j], vbs[j]), lambda j: ubs[j])

    def one(i):
        ts = tuple((t if i is None else t[i]) if t is not None else
                   namespace(innermost(p)).zeros(shape_of(p), dtype=dtype_of(p))
                   for t, p in zip(tangents, primals))
        return [jvp(graph, (tuple(primals),), (ts,))[1]]
    return _batched(one, bnd, shape_of(ref[0])[0] if bnd else 0)[0]


_attend = Primitive('sparsek_attention_chunks', _attend_impl)
_attend.def_vjp_joint(_attend_vjp)
_attend.def_jvp_joint(_attend_jvp)


# ============================================================================ attention
def _heads(fn, q, k, v, scores):
    qs, ks, vs = tuple(shape_of(q)), tuple(shape_of(k)), tuple(shape_of(v))
    if len(qs) != 4 or len(ks) != 4 or len(vs) != 4:
        raise ValueError(f'{fn}: q, k, v must be (batch, heads, n, d), got shapes {qs}, {ks}, {vs}')
    if ks[0] != qs[0] or ks[2:] != qs[2:] or vs[:3] != ks[:3]:
        raise ValueError(f'{fn}: k must be (batch, kv_heads, n, d) like q = {qs} and v '
                         f'(batch, kv_heads, n, dv) like k = {ks}; got v = {vs}')
    if qs[1] % ks[1]:
        raise ValueError(f'{fn}: the {qs[1]} query heads must be a multiple of the {ks[1]} '
                         f'key/value heads (grouped-query attention)')
    if scores is None:
        return qs, ks[1], None
    ss = tuple(shape_of(scores))
    if len(ss) != 3 or ss[0] != qs[0] or ss[2] != qs[2] or qs[1] % ss[1]:
        raise ValueError(f'{fn}: scores must be (batch, score_heads, n) = ({qs[0]}, h, {qs[2]}) '
                         f'with the {qs[1]} query heads a multiple of h (1: shared), got {ss}')
    sd = dtype_of(scores)
    if sd.kind != 'f':
        raise TypeError(f'{fn}: scores must be floating-point, got dtype {sd}; '
                        f'cast them, e.g. scores.astype(float)')
    return qs, ks[1], ss[1]


def _budget_rows(fn, budget, B, H, dtype):
    """The budget as (plain per-row values (B·H,), the differentiable (B·H, 1) or a
    number, the largest value)."""
    bv = innermost(budget)
    if isinstance(bv, bool) or getattr(getattr(bv, 'dtype', None), 'kind', 'f') == 'b':
        raise TypeError(f'{fn}: budget must be a number or an array of numbers, not bool')
    arr = _onp.asarray(bv.get() if hasattr(bv, 'get') else bv)
    if arr.dtype.kind not in 'iuf':
        raise TypeError(f'{fn}: budget must be numeric, got dtype {arr.dtype}')
    try:
        rows = _onp.broadcast_to(arr, (B, H)).reshape(B * H).astype(dtype)
    except ValueError:
        raise ValueError(f'{fn}: budget must be a number, one per head ({H},) or one per '
                         f'(batch, head) ({B}, {H}); got shape {arr.shape}') from None
    if _onp.isnan(rows).any() or (rows < 0).any() or _onp.isinf(rows).any():
        raise ValueError(f'{fn}: budget must be finite and >= 0, got {arr}')
    if isinstance(budget, Box):
        diff = pnp.reshape(pnp.broadcast_to(pnp.astype(budget, dtype) if dtype_of(budget) != dtype
                                            else budget, (B, H)), (B * H, 1))
    elif arr.ndim:
        diff = rows[:, None]
    else:
        diff = float(arr)
    return rows, diff, float(rows.max()) if rows.size else 0.0


@per_example
def sparsek_attention(q: ArrayLike, k: ArrayLike, v: ArrayLike, scores: ArrayLike,
                      budget: ArrayLike, *, causal: bool = True, window: int = 0,
                      scale: Optional[ArrayLike] = None, chunk: int = DEFAULT_CHUNK,
                      candidates: Optional[ArrayLike] = None,
                      key_padding_mask: Optional[ArrayLike] = None,
                      return_selection: bool = False) -> Union[Array, Tuple[Array, Array]]:
    """SparseK attention (Lou et al. 2024): every query attends to the ceil(budget) keys of
    its pool (keys outside its sliding window) with the largest importance ``scores``,
    weighted by their soft SparseK mask, plus the keys of its window.

    q: (batch, heads, n, d); k: (batch, kv_heads, n, d); v: (batch, kv_heads, n, dv)
    (heads a multiple of kv_heads: grouped-query / multi-query attention); scores:
    (batch, score_heads, n) floats, heads a multiple of score_heads (1: shared by all
    heads; e.g. from ``sparsek_scores``).  ``budget``: a number >= 0, one per head
    (heads,) or per (batch, head); fractional and traced budgets are differentiated
    (the hard selection size is ceil(min(budget, |candidates|)); its derivative is 0).
    ``window``: the ``window`` most recent keys (i - window, i] (``causal=False``: the
    keys with |i - j| < window) with mask 1.  ``key_padding_mask``: (batch, n) bools,
    False for keys no query may attend to.  ``candidates``: the number of top-scored
    pool keys over which the soft mask is computed (default 2·ceil(budget); >= ceil(budget)).
    ``chunk``: queries processed together (a positive int).  ``scale`` defaults to
    1/sqrt(d).  Differentiable in q, k, v, scores and budget, in both modes, to any order.

    Returns (batch, heads, n, dv); with ``return_selection=True`` also the selected key
    indices (batch, heads, n, ceil(max budget)) in decreasing score, their validity,
    and the thresholds tau (batch, heads, n) of the masks m = clip(u - tau, 0, 1)
    (-inf where the budget covers every candidate).  See the module docstring for the
    definition and the costs."""
    (B, H, n, d), Hk, Hu = _heads('sparsek_attention', q, k, v, scores)
    brows, bdiff, bmax = _budget_rows('sparsek_attention', budget, B, H, dtype_of(scores))
    window, chunk, K, A = _options(window, chunk, candidates, bmax)
    kpm = _padding_mask(key_padding_mask, B, n)
    dt = dtype_of(q)
    R = B * H
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    xp = namespace(innermost(q), innermost(k), innermost(v), innermost(scores))
    if not isinstance(bdiff, (float, Box)):          # per-head budgets on the arrays' device
        bdiff = xp.asarray(bdiff)
    G, Gu = H // Hk, H // Hu
    uval = xp.asarray(innermost(scores)).reshape(B * Hu, n)
    urow = xp.arange(R) // Gu
    keyok = None if kpm is None else xp.repeat(xp.asarray(kpm), H, axis=0)
    blocks, cols = _select(uval[urow], keyok, xp.asarray(brows), A, window, causal, chunk,
                           return_selection)
    # the differentiable part: one primitive over every chunk; the forward pass gathers
    # one chunk's keys and values at a time and keeps nothing but its inputs
    kvrows = xp.arange(R)[:, None] // G
    plan = _Plan(blocks, _Blocks([kvrows] * len(blocks), cols, B * Hk, n),
                 _Blocks([urow[:, None]] * len(blocks), [c[:, :b.M] for b, c in zip(blocks, cols)],
                         B * Hu, n), scale, dtype_of(scores),
                 bdiff if isinstance(bdiff, float) else None)
    dv = shape_of(v)[-1]
    args = (pnp.reshape(q, (R, n, d)), pnp.reshape(k, (B * Hk, n, d)), pnp.reshape(v, (B * Hk, n, dv)))
    if any(b.M for b in blocks):
        with errstate():
            elig = xp.isfinite(uval).reshape(B, Hu, n)
        u_safe = pnp.where(elig, scores if isinstance(scores, Box) else uval.reshape(B, Hu, n), 0.0)
        args += (pnp.reshape(u_safe, (B * Hu, n, 1)),)
        if plan.bconst is None:
            args += (bdiff,)
    out = pnp.reshape(_poisoned(_attend(*args, plan=plan), blocks), (B, H, n, dv))
    if not return_selection:
        return out
    return (out,) + _selection(blocks, B, H, n, min(K, n), uval.dtype)


def _options(window, chunk, candidates, bmax):
    """sparsek_attention's window, chunk, hard selection size K and candidates A, checked."""
    if isinstance(chunk, bool) or not isinstance(chunk, (int, _onp.integer)) or chunk < 1:
        raise ValueError(f'sparsek_attention: chunk must be a positive int, got {chunk!r}')
    if isinstance(window, Box) or isinstance(window, bool) or int(window) != window or window < 0:
        raise ValueError(f'sparsek_attention: window must be an int >= 0, got {window!r}')
    if bmax == 0 and window == 0:
        raise ValueError('sparsek_attention: budget and window are both 0: no key to attend to')
    K = int(math.ceil(bmax))
    return int(window), int(chunk), K, _candidates(candidates, K)


def _candidates(candidates, K):
    if candidates is not None and (isinstance(candidates, bool) or not isinstance(
            candidates, (int, _onp.integer)) or candidates < 1):
        raise ValueError(f'sparsek_attention: candidates must be a positive int, got {candidates!r}')
    A = 2 * K if candidates is None else int(candidates)
    if A < K:
        raise ValueError(f'sparsek_attention: candidates = {A} is below the hard selection '
                         f'size ceil(budget) = {K}')
    return A


def _padding_mask(key_padding_mask, B, n):
    if key_padding_mask is None:
        return None
    kpm = innermost(key_padding_mask)
    if tuple(kpm.shape) != (B, n) or kpm.dtype.kind != 'b':
        raise ValueError(f'sparsek_attention: key_padding_mask must be ({B}, {n}) bools '
                         f'(True: attend), got {kpm.dtype} {tuple(kpm.shape)}')
    return kpm


def _poisoned(out, blocks):
    """out (R, n, dv) with NaN in the rows whose pool holds a NaN or +inf score."""
    poison = [b.poison for b in blocks]
    if not any(bool(p.any()) for p in poison if p is not None):
        return out
    xp = namespace(innermost(out))
    R = shape_of(out)[0]
    nan = xp.concatenate([xp.zeros((R, b.e - b.s), dtype=bool) if p is None else p
                          for b, p in zip(blocks, poison)], axis=1)
    return out + xp.where(nan, xp.nan, 0.0).astype(dtype_of(out))[..., None]


def _selection(blocks, B, H, n, K, dtype):
    """The selected keys (B, H, n, K), their validity and the thresholds (B, H, n)."""
    xp = namespace(blocks[0].allowed)
    R = B * H
    idx = xp.zeros((R, n, K), dtype=xp.int64)
    ok = xp.zeros((R, n, K), dtype=bool)
    tau = xp.full((R, n), -xp.inf, dtype=dtype)
    for b in blocks:
        if b.M:
            c = b.top_idx.shape[-1]
            idx[:, b.s:b.e, :c] = b.top_idx
            ok[:, b.s:b.e, :c] = b.top_ok
            tau[:, b.s:b.e] = b.tau
    return idx.reshape(B, H, n, K), ok.reshape(B, H, n, K), tau.reshape(B, H, n)


def sliding_window_attention(q: ArrayLike, k: ArrayLike, v: ArrayLike, window: int, *,
                             scale: Optional[ArrayLike] = None, causal: bool = True,
                             key_padding_mask: Optional[ArrayLike] = None) -> Array:
    """Attention over the ``window`` most recent keys (i - window, i] only (``causal=False``:
    |i - j| < window); O(n·window·d)."""
    (B, H, n, d), _, _ = _heads('sliding_window_attention', q, k, v, None)
    scores = namespace(innermost(q)).zeros((B, 1, n), dtype=dtype_of(q))
    return sparsek_attention(q, k, v, scores, 0, window=window, scale=scale, causal=causal,
                             key_padding_mask=key_padding_mask)


def dense_attention(q: ArrayLike, k: ArrayLike, v: ArrayLike, *, causal: bool = True,
                    scale: Optional[ArrayLike] = None) -> Array:
    """Plain softmax attention (n×n logits), causal by default: the dense baseline."""
    (B, H, n, d), Hk, _ = _heads('dense_attention', q, k, v, None)
    if Hk != H:
        k = pnp.repeat(k, H // Hk, axis=1)
        v = pnp.repeat(v, H // Hk, axis=1)
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    logits = pnp.matmul(q, pnp.swapaxes(k, -1, -2)) * scale
    if causal:
        logits = pnp.where(namespace(innermost(q)).tri(n, dtype=bool), logits, -_onp.inf)
    return pnp.matmul(softmax(logits, axis=-1), v)


# ============================================================================ decoding
def _plain(fn, x):
    if isinstance(x, Box):
        raise TypeError(f'{fn} is for generation and does not differentiate (a traced input '
                        f'would get derivative 0); train with sparsek_attention on the whole '
                        f'sequence, or pass plain arrays (pyad.stop_gradient)')
    return x


class SparseKCache:
    """Incremental SparseK attention decoding with bounded memory: at most
    ``candidates + window`` key/value pairs per head, equal (to rounding) to the rows of
    ``sparsek_attention`` on the whole sequence (same budget, window, candidates).

    ``step(q, k, v, u)`` takes a token's query (batch, heads, d), key and value
    (batch, kv_heads, d / dv) and score (batch, score_heads) and returns its output
    (batch, heads, dv); with a time axis (batch, heads, T, d), (batch, score_heads, T),
    it processes T tokens in order (prompt prefill) and returns (batch, heads, T, dv).
    ``key_valid`` (batch,) or (batch, T) bools marks padding tokens (False) as in
    ``key_padding_mask``.

    Why a bounded cache is exact: the pool of a query only grows, so the top
    ``candidates`` of the pool at step t are among those at step t - 1 and the entering
    key.  The cache keeps the window's pairs and the pool's top ``candidates`` pairs
    (sorted by score, ties to the earlier key), and solves SparseK on those each step:
    O(candidates·log candidates) per step and head.  Plain arrays only (generation);
    traced inputs raise TypeError."""

    def __init__(self, batch: int, heads: int, budget: ArrayLike, window: int = 0, *,
                 candidates: Optional[int] = None, scale: Optional[float] = None) -> None:
        budget = _plain('SparseKCache', budget)
        self.B, self.H = int(batch), int(heads)
        rows, _, bmax = _budget_rows('SparseKCache', budget, self.B, self.H, _onp.float64)
        if isinstance(window, bool) or int(window) != window or window < 0:
            raise ValueError(f'SparseKCache: window must be an int >= 0, got {window!r}')
        self.window = int(window)
        if bmax == 0 and self.window == 0:
            raise ValueError('SparseKCache: budget and window are both 0: no key to attend to')
        self.K = int(math.ceil(bmax))
        self.A = 2 * self.K if candidates is None else int(candidates)
        if self.A < self.K:
            raise ValueError(f'SparseKCache: candidates = {self.A} is below ceil(budget) = {self.K}')
        self.budget = rows
        self.scale = scale
        self.t = 0
        self.win = []          # the window: (k, v, u, ok) per position, oldest first
        self.cand = None       # (k, v, u, pos): (R, A', d), (R, A', dv), (R, A'), (R, A')
        self.poison = None     # (R,): the pool holds a NaN or +inf score

    @property
    def kv_pairs(self) -> int:
        """How many key/value pairs are held per head (<= candidates + window)."""
        return len(self.win) + (0 if self.cand is None else self.cand[0].shape[1])

    def _to_pool(self, k, v, u, ok, pos):
        xp = namespace(k)
        with errstate():
            bad = (xp.isnan(u) | (u == xp.inf)) & ok
            elig = ok & ~bad & (u > -xp.inf)
        self.poison = bad if self.poison is None else self.poison | bad
        if self.A == 0:
            return
        ue = xp.where(elig, u, -xp.inf)
        R = k.shape[0]
        new = (k[:, None], v[:, None], ue[:, None], xp.full((R, 1), pos))
        if self.cand is None:
            self.cand = new
            return
        ck, cv, cu, cp = (xp.concatenate([a, b], axis=1) for a, b in zip(self.cand, new))
        # decreasing score, ties: the earlier position (the entering key is the latest)
        order = xp.argsort(-cu, axis=1, kind='stable')[:, :self.A]
        self.cand = (xp.take_along_axis(ck, order[..., None], 1),
                     xp.take_along_axis(cv, order[..., None], 1),
                     xp.take_along_axis(cu, order, 1), xp.take_along_axis(cp, order, 1))

    def _prefill(self, q, k, v, u, key_valid):
        """A prompt on an empty cache: its outputs from ``sparsek_attention`` on the prompt
        (chunks of queries, no loop over tokens), then the state the steps would leave."""
        xp = namespace(q)
        B, H, T = q.shape[:3]
        out = sparsek_attention(q, k, v, u, self.budget.reshape(B, H), window=self.window,
                                scale=self.scale, candidates=self.A or None,
                                key_padding_mask=key_valid)
        R = B * H
        rep = lambda x: xp.repeat(x, H // x.shape[1], axis=1).reshape((R, T) + x.shape[3:])
        k, v, u = rep(k), rep(v), rep(u)
        ok = xp.ones((R, T), dtype=bool) if key_valid is None else xp.repeat(key_valid, H, axis=0)
        P = max(0, T - self.window)                        # the pool: positions before the window
        self.win = [(k[:, t], v[:, t], u[:, t], ok[:, t]) for t in range(P, T)]
        if P:
            with errstate():
                bad = (xp.isnan(u[:, :P]) | (u[:, :P] == xp.inf)) & ok[:, :P]
                elig = ok[:, :P] & ~bad & (u[:, :P] > -xp.inf)
            self.poison = bad.any(axis=1)
            if self.A:
                ue = xp.where(elig, u[:, :P], -xp.inf)
                top = xp.argsort(-ue, axis=1, kind='stable')[:, :self.A]   # ties: the earlier key
                self.cand = (xp.take_along_axis(k[:, :P], top[..., None], 1),
                             xp.take_along_axis(v[:, :P], top[..., None], 1),
                             xp.take_along_axis(ue, top, 1), top)
        self.t = T
        return out

    def step(self, q: ArrayLike, k: ArrayLike, v: ArrayLike, u: ArrayLike,
             key_valid: Optional[ArrayLike] = None) -> Array:
        q, k, v, u = (_plain('SparseKCache.step', a) for a in (q, k, v, u))
        xp = namespace(q)
        q, k, v, u = (xp.asarray(a) for a in (q, k, v, u))
        if u.dtype.kind != 'f':
            raise TypeError(f'SparseKCache.step: scores must be floating-point, got dtype {u.dtype}')
        if q.ndim == 4:
            return self._tokens(q, k, v, u, key_valid)
        self._check_token(q, k, v, u)
        B, H, d = q.shape
        R = B * H
        k = xp.repeat(k, H // k.shape[1], axis=1).reshape(R, d)
        v = xp.repeat(v, H // v.shape[1], axis=1).reshape(R, -1)
        u = xp.repeat(u, H // u.shape[1], axis=1).reshape(R)
        q = q.reshape(R, d)
        ok = xp.ones(R, dtype=bool) if key_valid is None else xp.repeat(
            xp.asarray(key_valid, dtype=bool).reshape(B), H)
        pos = self.t
        self.t += 1
        if self.window:
            self.win.append((k, v, u, ok))
            if len(self.win) > self.window:
                self._to_pool(*self.win.pop(0), pos - self.window)
        else:
            self._to_pool(k, v, u, ok, pos)
        out = self._attend(q)
        if self.poison is not None:
            out = xp.where(self.poison[:, None], xp.nan, out).astype(q.dtype, copy=False)
        return out.reshape(B, H, -1)

    def _check_token(self, q, k, v, u):
        if q.ndim != 3 or k.ndim != 3 or v.ndim != 3 or u.ndim != 2:
            raise ValueError(f'SparseKCache.step: q, k, v must be (batch, heads, d) and u '
                             f'(batch, score_heads), or all with a time axis; got shapes '
                             f'{q.shape}, {k.shape}, {v.shape}, {u.shape}')
        B, H = q.shape[:2]
        if (B, H) != (self.B, self.H) or H % k.shape[1] or H % u.shape[1] or k.shape[0] != B:
            raise ValueError(f'SparseKCache.step: expected q of (batch, heads) = ({self.B}, '
                             f'{self.H}), kv and score heads dividing {self.H}; got {q.shape}, '
                             f'{k.shape}, {u.shape}')

    def _tokens(self, q, k, v, u, key_valid):
        """Several tokens (a time axis): a prompt on an empty cache at once, else in order."""
        xp = namespace(q)
        T = q.shape[2]
        kv = None if key_valid is None else xp.asarray(key_valid, dtype=bool)
        if (k.ndim, v.ndim, u.ndim) != (4, 4, 3):
            self._check_token(q, k, v, u)                  # raises, naming the shapes
        if not T:
            return xp.zeros(q.shape[:2] + (0, v.shape[-1]), dtype=q.dtype)
        self._check_token(q[:, :, 0], k[:, :, 0], v[:, :, 0], u[:, :, 0])
        if self.t == 0:
            return self._prefill(q, k, v, u, kv)
        outs = [self.step(q[:, :, t], k[:, :, t], v[:, :, t], u[:, :, t],
                          None if kv is None else kv[:, t]) for t in range(T)]
        return xp.stack(outs, axis=2)

    def _attend(self, q):
        """The outputs (R, dv) of the queries q (R, d) over the cache's keys."""
        xp = namespace(q)
        d = q.shape[-1]
        keys, values, weights, allowed = [], [], [], []
        if self.cand is not None and self.A:
            ck, cv, cu, _ = self.cand
            elig = cu > -xp.inf
            nA = elig.sum(axis=1)
            kk = xp.minimum(xp.asarray(self.budget), nA.astype(self.budget.dtype))
            p, _, _ = _sparsek_sorted(cu, kk[:, None].astype(cu.dtype))
            sel = elig & (xp.arange(cu.shape[1])[None, :] < xp.ceil(kk)[:, None])
            keys.append(ck)
            values.append(cv)
            weights.append(xp.where(sel, p, 0).astype(q.dtype))
            allowed.append(sel)
        if self.win:
            keys.append(xp.stack([w[0] for w in self.win], 1))
            values.append(xp.stack([w[1] for w in self.win], 1))
            wok = xp.stack([w[3] for w in self.win], 1)
            weights.append(wok.astype(q.dtype))
            allowed.append(wok)
        Kc, Vc = xp.concatenate(keys, 1), xp.concatenate(values, 1)
        W, ok_all = xp.concatenate(weights, 1), xp.concatenate(allowed, 1)
        scale = 1.0 / math.sqrt(d) if self.scale is None else float(self.scale)
        with errstate():
            logits = xp.where(ok_all, xp.einsum('rd,rld->rl', q, Kc) * scale, -xp.inf)
            mx = logits.max(axis=1, keepdims=True)
            e = xp.exp(logits - xp.where(xp.isfinite(mx), mx, 0))
            z = e.sum(axis=1, keepdims=True)
            a = e / xp.where(z > 0, z, 1) * W
        return xp.einsum('rl,rld->rd', a, Vc).astype(q.dtype, copy=False)


# ============================================================================ layer
def sparsek_layer_init(rng: numpy.random.Generator, d_model: int, heads: int, d_head: int, *,
                       kv_heads: Optional[int] = None,
                       dtype: DTypeLike = _onp.float64) -> Dict[str, Array]:
    """Parameters of a SparseK attention layer (a dict of arrays: a pytree for
    ``pyad.grad`` and ``pyad.optim``): projections Wq (d_model, heads·d_head), Wk, Wv
    (d_model, kv_heads·d_head), Wo (heads·d_head, d_model), the scorer w_score
    (d_model, heads) and a per-head position slope (zeros).  ``rng``: a NumPy Generator."""
    kv_heads = heads if kv_heads is None else int(kv_heads)
    if heads % kv_heads:
        raise ValueError(f'sparsek_layer_init: heads = {heads} must be a multiple of '
                         f'kv_heads = {kv_heads}')
    s = 1.0 / math.sqrt(d_model)
    f = lambda *shape: (rng.standard_normal(shape) * s).astype(dtype)
    return {'Wq': f(d_model, heads * d_head), 'Wk': f(d_model, kv_heads * d_head),
            'Wv': f(d_model, kv_heads * d_head),
            'Wo': (rng.standard_normal((heads * d_head, d_model)) / math.sqrt(heads * d_head)).astype(dtype),
            'w_score': f(d_model, heads) * 0.1, 'slope': _onp.zeros(heads, dtype=dtype)}


def sparsek_layer(params: Any, x: ArrayLike, budget: ArrayLike, *, window: int = 0,
                  causal: bool = True, key_padding_mask: Optional[ArrayLike] = None,
                  chunk: int = DEFAULT_CHUNK, candidates: Optional[ArrayLike] = None) -> Array:
    """Apply a SparseK attention layer (parameters from ``sparsek_layer_init``) to token
    features x (batch, n, d_model): project, score (``sparsek_scores``), attend
    (``sparsek_attention``), merge the heads and project back: (batch, n, d_model)."""
    xs = tuple(shape_of(x))
    if len(xs) != 3:
        raise ValueError(f'sparsek_layer: x must be (batch, n, d_model), got shape {xs}')
    B, n, D = xs
    H = shape_of(params['w_score'])[1]
    dh = shape_of(params['Wq'])[1] // H
    Hk = shape_of(params['Wk'])[1] // dh

    def split(y, h):
        return pnp.transpose(pnp.reshape(y, (B, n, h, dh)), (0, 2, 1, 3))

    q = split(pnp.matmul(x, params['Wq']), H)
    k = split(pnp.matmul(x, params['Wk']), Hk)
    v = split(pnp.matmul(x, params['Wv']), Hk)
    u = sparsek_scores(x, params['w_score'], params['slope'])
    o = sparsek_attention(q, k, v, u, budget, window=window, causal=causal, chunk=chunk,
                          candidates=candidates, key_padding_mask=key_padding_mask)
    return pnp.matmul(pnp.reshape(pnp.transpose(o, (0, 2, 1, 3)), (B, n, H * dh)), params['Wo'])


__all__ = ['sparsek_scores', 'sparsek_attention', 'sliding_window_attention',
           'dense_attention', 'SparseKCache', 'sparsek_layer_init', 'sparsek_layer']
