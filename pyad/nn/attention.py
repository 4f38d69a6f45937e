"""SparseK attention (Lou, Jia, Zheng & Tu 2024), dense and sliding-window attention,
and an incremental decoder cache.

Shapes: queries, keys and values are (batch, heads, n, d) (values may have their
own last size); importance scores are (batch, heads, n).

SparseK attention, as implemented here.  For query i (causal), the *pool* is the
set of keys that left its sliding window: j <= i - window (all j <= i when
window = 0).  Over the pool, with budget k_i = min(budget, |pool|):

* the soft mask  m_ij = sparsek(u_pool, k_i)_j = clip(u_j - tau_i, 0, 1);
* the hard selection: the k_i pool keys with the largest u_j (ties: the earlier key);
* the output     o_i = sum_j softmax_j(q_i·k_j / sqrt(d)) * m_ij * v_j, the softmax
  running over the selected keys joined with the window keys (i - window, i]
  (for which m = 1).  The mask multiplies the values (equivalently the attention
  weights after the softmax): a key with a small mask contributes little, and the
  gradient with respect to the scores u stays bounded (no log m).

Costs.  The attention step gathers, for every query, its budget + window keys and
values: arrays of shape (batch, heads, n, budget + window, d), so memory and time
O(n·(budget + window)·d) per head; no n×n matrix is formed there.

The selection step (indices and thresholds tau_i; no derivative) goes through the
queries in chunks of C (``chunk``, 16 by default).  It uses that the threshold is
nondecreasing along the causal prefix (adding an entry to sum clip(u - tau, 0, 1) = k
can only raise tau): a pool entry with u_j <= tau_(i-1) has mask 0 for query i and
every later one.  So a chunk only considers its *candidates*, the pool entries above
the threshold of the query just before it (the top-budget entries of a pool always
have a positive mask, so they are among them): it solves SparseK exactly (sorting
2A breakpoints) on the (C, A) matrix of the candidates of each query, and takes the
top-budget by a stable argsort.  Time O(n·A log A) and memory O(C·A) per head, A the
number of candidates - about budget + C + the entries within 1 of the threshold
for typical scores, but up to n in the worst case (e.g. all scores equal, where
every entry keeps a fractional mask): the worst case is O(n² log n) time, never
O(n²) memory at once.  The scan over the n positions is a Python loop over the
n / C chunks (vectorised over batch and heads).  The derivative of tau_i with
respect to the scores is 1/|F_i| on the fractional set F_i = {j in pool: 0 < p_ij
< 1} (a subset of the candidates); its JVP and VJP reuse the chunks' candidates:
O(n·A) per head, no d factor.  The same monotonicity makes the incremental decoder
exact with constant key/value memory: see ``SparseKCache``.
"""
import math

import numpy as _onp

from .._core.primitive import Primitive
from .._core.box import innermost, shape_of, ndim_of, dtype_of
from ..backend import namespace
from .. import numpy as pnp
from .softmax import softmax
from .sparse import _sparsek_rows, clip_unit
from ._util import errstate

DEFAULT_CHUNK = 16


# ============================================================================ scores
def sparsek_scores(x, w_score, slope=0.0, offset=0):
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
    pos = _onp.arange(offset, offset + xs[1], dtype=dtype_of(x))
    if ndim_of(slope):
        slope = pnp.reshape(slope, (ws[1], 1))
    return u + slope * pos


# ============================================================================ selection
def _pool_limits(n, window, causal, start, stop):
    """Last pool index of queries start..stop-1 (pool = j <= lim)."""
    i = _onp.arange(start, stop)
    return i - window if causal else _onp.full(stop - start, n - 1)


class _Chunk:
    """The candidates of a chunk of queries: per row (R), the indices ``cidx`` (R, A)
    of the pool entries that can still have a nonzero mask, ``cvalid`` (R, A)."""
    __slots__ = ('start', 'stop', 'lim', 'cidx', 'cvalid')

    def __init__(self, start, stop, lim, cidx, cvalid):
        self.start, self.stop, self.lim, self.cidx, self.cvalid = start, stop, lim, cidx, cvalid

    def in_pool(self):
        """(R, C, A): candidate j is in the pool of query i."""
        xp = namespace(self.cidx)
        return self.cvalid[:, None, :] & (self.cidx[:, None, :] <= xp.asarray(self.lim)[None, :, None])


def _select(u, budget, window, causal, chunk):
    """Thresholds, selection and candidates for scores u (R, n), chunk by chunk of
    queries, without derivative (plain arrays).

    Returns tau (R, n) relative to the pool maxima mx (R, n) (p = clip((u - mx) - tau,
    0, 1), as in sparsek), the selected indices (R, n, budget), their validity, and
    the list of _Chunk candidates.  A chunk's candidates are the pool entries above
    the threshold of the query just before the chunk: the threshold never decreases
    along the sequence, so every other entry has mask 0 for all the chunk's queries;
    and the top-budget entries of a pool always have a positive mask, so they are
    among the candidates too."""
    xp = namespace(u)
    R, n = u.shape
    dt = u.dtype
    tau = xp.full((R, n), -xp.inf, dtype=dt)
    mx = xp.zeros((R, n), dtype=dt)
    idx = xp.zeros((R, n, budget), dtype=xp.int64)
    valid = xp.zeros((R, n, budget), dtype=bool)
    chunks = []
    floor = xp.full((R, 1), -xp.inf, dtype=dt)       # absolute threshold before the chunk
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        lim = _pool_limits(n, window, causal, start, stop)
        width = int(lim.max()) + 1
        if width <= 0:
            continue
        with errstate():
            cand = u[:, :width] > floor                  # NaN scores are never candidates
        A = max(int(cand.sum(axis=1).max()), 1)
        cidx = xp.argsort(~cand, axis=1, kind='stable')[:, :A]          # in increasing j
        cvalid = xp.take_along_axis(cand, cidx, axis=1)
        ch = _Chunk(start, stop, lim, cidx, cvalid)
        chunks.append(ch)
        M = xp.where(ch.in_pool(), xp.take_along_axis(u, cidx, axis=1)[:, None, :], -xp.inf)
        kk = _onp.minimum(budget, _onp.maximum(lim + 1, 0)).astype(dt)
        _, t, m = _sparsek_rows(M, xp.asarray(kk)[None, :, None])
        tau[:, start:stop] = t[..., 0]
        mx[:, start:stop] = m[..., 0]
        floor = (t + m)[:, -1]                       # -inf while the pool is saturated
        order = xp.argsort(-M, axis=-1, kind='stable')[..., :budget]    # ties: earlier j
        c = order.shape[-1]
        idx[:, start:stop, :c] = xp.take_along_axis(cidx[:, None, :], order, axis=-1)
        valid[:, start:stop, :] = xp.asarray(_onp.arange(budget)[None, :] < kk[:, None])[None]
    return tau, mx, idx, valid, chunks


def _fractional(u, tau, mx, ch):
    """(R, C, A): the candidates of chunk ``ch`` that are fractional (0 < p < 1) for
    its queries, decided exactly as sparsek decides them."""
    xp = namespace(u)
    uc = xp.take_along_axis(u, ch.cidx, axis=1)
    with errstate():
        p = clip_unit(uc[:, None, :] - mx[:, ch.start:ch.stop, None],
                      tau[:, ch.start:ch.stop, None])
    return ch.in_pool() & (p > 0) & (p < 1)


def _fracavg_impl(t, u, tau, mx, chunks):
    """out_i = sum_{j in F_i} t_j / |F_i| (t: batch + u.shape; 0 where F_i is empty)."""
    xp = namespace(t)
    R, n = u.shape
    tb = t.reshape(-1, R, n)
    out = xp.zeros_like(tb)
    for ch in chunks:
        F = _fractional(u, tau, mx, ch)
        cnt = xp.maximum(F.sum(-1), 1).astype(t.dtype)                         # (R, C)
        tc = xp.take_along_axis(tb, xp.broadcast_to(ch.cidx, tb.shape[:1] + ch.cidx.shape), axis=2)
        out[:, :, ch.start:ch.stop] = xp.einsum('bra,rca->brc', tc, F.astype(t.dtype)) / cnt
    return out.reshape(t.shape)


def _fracavg_t_impl(g, u, tau, mx, chunks):
    """The transpose: out_j = sum_i [j in F_i] g_i / |F_i|."""
    xp = namespace(g)
    R, n = u.shape
    gb = g.reshape(-1, R, n)
    out = xp.zeros_like(gb)
    rows = xp.arange(R)[None, :, None]
    for ch in chunks:
        F = _fractional(u, tau, mx, ch)
        cnt = xp.maximum(F.sum(-1), 1).astype(g.dtype)
        contrib = xp.einsum('brc,rca->bra', gb[:, :, ch.start:ch.stop] / cnt, F.astype(g.dtype))
        # candidate indices are distinct within a row: a plain indexed add is exact
        out[:, rows, ch.cidx[None]] += contrib
    return out.reshape(g.shape)


def _none(*args, **params):
    return None


# Two mutually transposed linear maps of their first argument; the second (the scores,
# which only decide the sets F) has derivative zero almost everywhere.
_fracavg = Primitive('sparsek_threshold_jvp', _fracavg_impl)
_fracavg_t = Primitive('sparsek_threshold_vjp', _fracavg_t_impl)
_fracavg.def_jvp(lambda tt, ans, t, u, **p: _fracavg(tt, u, **p), _none)
_fracavg.def_vjp(lambda g, ans, t, u, **p: _fracavg_t(g, u, **p), _none)
_fracavg_t.def_jvp(lambda tt, ans, g, u, **p: _fracavg_t(tt, u, **p), _none)
_fracavg_t.def_vjp(lambda c, ans, g, u, **p: _fracavg(c, u, **p), _none)


def _threshold_impl(u, tau, mx, chunks):
    return tau       # computed with the selection, from the same (innermost) scores


_threshold = Primitive('sparsek_threshold', _threshold_impl)
_threshold.def_jvp(lambda t, ans, u, **p: _fracavg(t, u, **p))
_threshold.def_vjp(lambda g, ans, u, **p: _fracavg_t(g, u, **p))


# ============================================================================ attention
def _check_qkv(fn, q, k, v, scores=None):
    qs, ks, vs = tuple(shape_of(q)), tuple(shape_of(k)), tuple(shape_of(v))
    if len(qs) != 4 or len(ks) != 4 or len(vs) != 4:
        raise ValueError(f'{fn}: q, k, v must be (batch, heads, n, d), got shapes {qs}, {ks}, {vs}')
    if qs != ks or vs[:3] != qs[:3]:
        raise ValueError(f'{fn}: q and k must have the same shape and v the same '
                         f'(batch, heads, n), got {qs}, {ks}, {vs}')
    if scores is not None and tuple(shape_of(scores)) != qs[:3]:
        raise ValueError(f'{fn}: scores must be (batch, heads, n) = {qs[:3]}, '
                         f'got {tuple(shape_of(scores))}')
    return qs


def _gather_rows(x, flat_index):
    """x (R, n, d) -> the rows x.reshape(R*n, d)[flat_index]: shape flat_index.shape + (d,).
    (Its adjoint is pyad's scatter-add; a sort + add.reduceat plan was measured no
    faster than NumPy 2's add.at at these sizes.)"""
    s = tuple(shape_of(x))
    return pnp.reshape(x, (s[0] * s[1],) + s[2:])[flat_index]


def _attend(q, keys, values, weights, valid, scale):
    """Softmax attention of q (R, n, d) over gathered keys (R, n, L, d), masked by
    ``valid`` (R, n, L); the attention weights are multiplied by ``weights``
    (R, n, L) or None; values (R, n, L, dv)."""
    R, n, d = shape_of(q)
    L = shape_of(keys)[2]
    logits = pnp.matmul(pnp.reshape(q, (R, n, 1, d)), pnp.swapaxes(keys, -1, -2))
    logits = pnp.where(valid, pnp.reshape(logits, (R, n, L)) * scale, -_onp.inf)
    w = softmax(logits, axis=-1)
    if weights is not None:
        w = w * weights
    out = pnp.matmul(pnp.reshape(w, (R, n, 1, L)), values)
    return pnp.reshape(out, (R, n, shape_of(values)[-1]))


def _join_last(m_sel, window):
    """[m_sel, 1, ..., 1] along the last axis (window ones), without a concatenate
    primitive: m_sel padded by a constant selection matrix product."""
    R, n, budget = shape_of(m_sel)
    xp = namespace(m_sel)
    dt = dtype_of(m_sel)
    embed = xp.eye(budget, budget + window, dtype=dt)                  # (budget, budget+window)
    ones = xp.concatenate([xp.zeros(budget, dt), xp.ones(window, dt)])
    return pnp.matmul(m_sel, embed) + ones


def sparsek_attention(q, k, v, scores, budget, *, causal=True, window=0, scale=None,
                      chunk=DEFAULT_CHUNK, return_selection=False):
    """SparseK attention (Lou et al. 2024): every query attends to the ``budget`` keys of
    its pool (keys outside its sliding window) with the largest importance ``scores``,
    weighted by the soft SparseK mask of the pool, plus the ``window`` most recent keys.

    q, k: (batch, heads, n, d); v: (batch, heads, n, dv); scores: (batch, heads, n)
    (e.g. from ``sparsek_scores``).  Differentiable in q, k, v and scores.  With
    ``causal=False`` every query's pool is the whole sequence (window must be 0).
    ``scale`` defaults to 1/sqrt(d).  Returns (batch, heads, n, dv), and with
    ``return_selection=True`` also the selected indices (batch, heads, n, budget),
    their validity and the thresholds tau (batch, heads, n).

    See the module docstring for the definition, the weighting (the mask multiplies
    the attention weights after the softmax) and the costs: attention O(n·(budget +
    window)·d) memory and time; selection O(n·A log A) time and O(chunk·A) memory per
    head, A the number of candidate keys (about budget + chunk for typical scores, n
    in the worst case), without derivative; the threshold's derivative O(n·A)."""
    B, H, n, d = _check_qkv('sparsek_attention', q, k, v, scores)
    budget, window = int(budget), int(window)
    if budget < 0 or window < 0:
        raise ValueError(f'sparsek_attention: budget and window must be >= 0, got {budget}, {window}')
    if budget == 0 and window == 0:
        raise ValueError('sparsek_attention: budget and window are both 0: no key to attend to')
    if not causal and window:
        raise ValueError('sparsek_attention: a sliding window needs causal=True')
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    R = B * H
    dv = shape_of(v)[-1]
    xp = namespace(q, k, v, scores)
    u = pnp.reshape(scores, (R, n))
    uval = innermost(u)
    index_parts, valid_parts = [], []
    tau = None
    if budget:
        tau_val, mx, sel, sel_valid, chunks = _select(uval, budget, window, causal, int(chunk))
        index_parts.append(sel)
        valid_parts.append(sel_valid)
        tau = _threshold(u, tau=tau_val, mx=mx, chunks=chunks)
    if window:
        w_idx = _onp.arange(n)[:, None] - _onp.arange(window)[None, :]     # i, i-1, ...
        index_parts.append(xp.asarray(_onp.broadcast_to(_onp.maximum(w_idx, 0), (R, n, window))))
        valid_parts.append(xp.asarray(_onp.broadcast_to(w_idx >= 0, (R, n, window))))
    index = xp.concatenate(index_parts, axis=-1) if len(index_parts) > 1 else index_parts[0]
    valid = xp.concatenate(valid_parts, axis=-1) if len(valid_parts) > 1 else valid_parts[0]
    flat = index + (xp.arange(R) * n)[:, None, None]
    keys = _gather_rows(pnp.reshape(k, (R, n, d)), flat)
    values = _gather_rows(pnp.reshape(v, (R, n, dv)), flat)
    weights = None
    if budget:
        # the soft mask on the selected keys, p = clip((u - mx) - tau, 0, 1) as in
        # sparsek: its derivative flows through the fractional entries only
        u_sel = _gather_rows(pnp.reshape(u, (R, n, 1)), flat[..., :budget])[..., 0]
        x = (u_sel - mx[..., None]) - pnp.reshape(tau, (R, n, 1))
        p = clip_unit(innermost(u_sel) - mx[..., None], tau_val[..., None])
        m_sel = pnp.where((p > 0) & (p < 1), x, p)
        if window:
            weights = _join_last(m_sel, window)
        else:
            weights = m_sel
    out = pnp.reshape(_attend(pnp.reshape(q, (R, n, d)), keys, values, weights, valid, scale),
                      (B, H, n, dv))
    if return_selection:
        sel_idx = index[..., :budget].reshape(B, H, n, budget)
        sel_ok = valid[..., :budget].reshape(B, H, n, budget)
        return out, sel_idx, sel_ok, (innermost(tau).reshape(B, H, n) + mx.reshape(B, H, n)
                                      if budget else None)
    return out


def sliding_window_attention(q, k, v, window, *, scale=None):
    """Causal attention over the ``window`` most recent keys (i - window, i] only;
    O(n·window·d)."""
    B, H, n, d = _check_qkv('sliding_window_attention', q, k, v)
    scores = namespace(q).zeros((B, H, n), dtype=dtype_of(q))
    return sparsek_attention(q, k, v, scores, 0, window=window, scale=scale)


def dense_attention(q, k, v, *, causal=True, scale=None):
    """Plain softmax attention (n×n logits), causal by default: the dense baseline."""
    B, H, n, d = _check_qkv('dense_attention', q, k, v)
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    logits = pnp.matmul(q, pnp.swapaxes(k, -1, -2)) * scale
    if causal:
        logits = pnp.where(namespace(q).tri(n, dtype=bool), logits, -_onp.inf)
    return pnp.matmul(softmax(logits, axis=-1), v)


# ============================================================================ decoding
class SparseKCache:
    """Incremental SparseK attention decoding, one token at a time, with constant
    key/value memory: at most ``budget + window`` key/value pairs per head.

    ``step(q, k, v, u)`` takes the current token's query, key, value (batch, heads,
    d) and importance score u (batch, heads) and returns its attention output
    (batch, heads, dv), equal (to rounding) to row t of ``sparsek_attention`` on the
    whole sequence.  Why a bounded cache is exact: the pool of a query only grows,
    so (1) a key that drops out of the pool's top-``budget`` never re-enters it, and
    (2) the threshold tau never decreases (adding an entry to sum clip(u - tau, 0, 1)
    = k can only raise tau), so a pool entry with u <= tau has mask 0 forever.  The
    cache keeps the window's pairs, the top-``budget`` pairs of the pool, and - for
    the threshold alone - the *scores* (scalars, no keys or values) of the pool
    entries still above tau; those are pruned at every step.  Plain arrays only (no
    derivatives): this is for generation."""

    def __init__(self, batch, heads, budget, window=0, *, scale=None):
        if int(budget) < 0 or int(window) < 0 or int(budget) + int(window) == 0:
            raise ValueError('SparseKCache: need budget >= 0, window >= 0, budget + window > 0')
        self.B, self.H = int(batch), int(heads)
        self.budget, self.window = int(budget), int(window)
        self.scale = scale
        self.t = 0
        self.win = None        # (k, v, u): (R, w', d), (R, w', dv), (R, w')
        self.sel = None        # (k, v, u, pos): top-budget of the pool
        self.active = None     # (R, a) pool scores still above tau (-inf padded)
        self.pool_size = 0
        self.tau = None

    @property
    def kv_pairs(self):
        """How many key/value pairs are held per head (<= budget + window)."""
        w = 0 if self.win is None else self.win[0].shape[1]
        s = 0 if self.sel is None else self.sel[0].shape[1]
        return w + s

    def _to_pool(self, k, v, u, pos):
        xp = namespace(k)
        R = k.shape[0]
        self.pool_size += 1
        if self.budget == 0:
            return          # nothing is ever selected from the pool
        a = u[:, None]
        self.active = a if self.active is None else xp.concatenate([self.active, a], axis=1)
        if self.sel is None:
            self.sel = (k[:, None], v[:, None], u[:, None], xp.full((R, 1), pos))
            return
        sk, sv, su, sp = self.sel
        if su.shape[1] < self.budget:
            self.sel = (xp.concatenate([sk, k[:, None]], 1), xp.concatenate([sv, v[:, None]], 1),
                        xp.concatenate([su, u[:, None]], 1), xp.concatenate([sp, xp.full((R, 1), pos)], 1))
            return
        # the worst selected pair: smallest score, the latest among equal scores
        umin = su.min(axis=1, keepdims=True)
        worst = xp.argmax(xp.where(su == umin, sp, -1), axis=1)
        replace = u > umin[:, 0]
        rows = xp.nonzero(replace)[0]
        if rows.size:
            sk, sv, su, sp = sk.copy(), sv.copy(), su.copy(), sp.copy()
            cols = worst[rows]
            sk[rows, cols] = k[rows]
            sv[rows, cols] = v[rows]
            su[rows, cols] = u[rows]
            sp[rows, cols] = pos
            self.sel = (sk, sv, su, sp)

    def step(self, q, k, v, u):
        xp = namespace(q)
        q, k, v, u = (innermost(a) for a in (q, k, v, u))
        B, H, d = q.shape
        R = B * H
        q, k, v, u = q.reshape(R, d), k.reshape(R, d), v.reshape(R, -1), u.reshape(R)
        pos = self.t
        if self.window:
            wk, wv, wu = (k[:, None], v[:, None], u[:, None]) if self.win is None else (
                xp.concatenate([self.win[0], k[:, None]], 1),
                xp.concatenate([self.win[1], v[:, None]], 1),
                xp.concatenate([self.win[2], u[:, None]], 1))
            if wk.shape[1] > self.window:
                self._to_pool(wk[:, 0], wv[:, 0], wu[:, 0], pos - self.window)
                wk, wv, wu = wk[:, 1:], wv[:, 1:], wu[:, 1:]
            self.win = (wk, wv, wu)
        else:
            self._to_pool(k, v, u, pos)
        self.t += 1
        keys, values, weights = [], [], []
        if self.sel is not None:
            kk = float(min(self.budget, self.pool_size))
            _, tau, mx = _sparsek_rows(self.active, kk)
            self.tau = tau + mx
            with errstate():
                keep = clip_unit(self.active - mx, tau) > 0
            nkeep = int(keep.sum(axis=1).max()) if keep.size else 0
            srt = -xp.sort(-xp.where(keep, self.active, -xp.inf), axis=1)
            self.active = srt[:, :max(nkeep, 1)]
            sk, sv, su, _ = self.sel
            keys.append(sk)
            values.append(sv)
            with errstate():
                weights.append(clip_unit(su - mx, tau))
        if self.win is not None:
            keys.append(self.win[0])
            values.append(self.win[1])
            weights.append(xp.ones(self.win[2].shape, dtype=q.dtype))
        K = xp.concatenate(keys, 1)
        V = xp.concatenate(values, 1)
        W = xp.concatenate(weights, 1)
        scale = 1.0 / math.sqrt(d) if self.scale is None else float(self.scale)
        logits = xp.einsum('rd,rld->rl', q, K) * scale
        logits = logits - logits.max(axis=1, keepdims=True)
        e = xp.exp(logits)
        a = e / e.sum(axis=1, keepdims=True) * W
        out = xp.einsum('rl,rld->rd', a, V).astype(q.dtype, copy=False)
        return out.reshape(B, H, -1)


__all__ = ['sparsek_scores', 'sparsek_attention', 'sliding_window_attention',
           'dense_attention', 'SparseKCache']
