"""Sparse alternatives to softmax: sparsemax, SparseK, entmax; and the hard top-k mask.

Every mapping is one primitive whose forward algorithm is exact and vectorised
over all rows at once (sorting and cumulative sums along the last axis after the
reduction axis has been moved there: no Python loop over rows), with JVP and VJP
rules written with pyad operations (so that they are differentiable again; their
second derivatives are 0 almost everywhere for sparsemax and SparseK).

Conventions shared by all of them:

* ``-inf`` entries are masked: they get probability 0, and a row that is masked
  entirely gives zeros (and zero derivatives, never NaN);
* a row containing NaN (or +inf) gives NaN on the whole row;
* the computation is done relative to the row maximum, so huge (float32) values
  are fine; entries whose distance to the maximum overflows the dtype are so far
  below it that they are treated as masked;
* dtype is kept (float32 in, float32 out and float32 derivatives).
"""
from __future__ import annotations

from ..typing import Array, ArrayLike
import numpy as _onp

from .._core.primitive import Primitive
from .._core.box import Box, innermost, shape_of, dtype_of
from ..backend import namespace, is_dask
from ..numpy._batching import batch_ndim, expand_to, unbroadcast
from ..numpy import reductions as _red
from .. import numpy as pnp
from ._util import as_float_array, check_axis, count, errstate


# ============================================================================ helpers
def _to_last(x, axis):
    xp = namespace(x)
    return xp.moveaxis(x, axis, -1) if axis != x.ndim - 1 else x


def _from_last(x, axis):
    xp = namespace(x)
    return xp.moveaxis(x, -1, axis) if axis != x.ndim - 1 else x


def _ranks(xp, order):
    """The rank of each entry along the last axis: the inverse of the permutation
    ``order``.  (A Dask vector split into chunks inverts it by sorting across its
    chunks, lazily; rows, each in one chunk, by writing the ranks in place.)"""
    if is_dask(order) and order.ndim == 1:
        return xp.argsort(order, kind='stable')
    rank = xp.empty_like(order)
    xp.put_along_axis(rank, order, xp.broadcast_to(xp.arange(order.shape[-1]), order.shape), axis=-1)
    return rank


def _sorted_descending(zs, xp):
    """The rows of zs sorted in decreasing order.  A NumPy array is sorted in one
    buffer (its negation sorted in place and negated back), not through the copy
    that sort makes and another negation."""
    if type(zs) is not _onp.ndarray:
        return -xp.sort(-zs, axis=-1)
    srt = _onp.negative(zs)
    srt.sort(axis=-1)
    return _onp.negative(srt, out=srt)


def _prepare_rows(zl, fill, masks_needed=True):
    """Rows of ``zl`` (..., m) relative to their maximum, with the masked (-inf)
    entries replaced by ``fill`` (a relative value that is below any threshold).
    Returns (zs, masked, bad, mx) where ``bad`` marks rows that contain NaN or +inf
    and ``mx`` is the (finite, kept) maximum that was subtracted."""
    xp = namespace(zl)
    with errstate():
        mx = xp.max(zl, axis=-1, keepdims=True)
        if (not masks_needed and zl.size and not is_dask(zl) and bool(xp.isfinite(xp.min(zl)))
                and bool(xp.all(xp.isfinite(mx)))):
            # the common case, every entry finite (a finite min and max rule out
            # -inf, +inf and NaN): no masks to build, none for _finish to apply
            return zl - mx, None, None, mx
        bad = xp.isnan(mx) | (mx == xp.inf) | xp.any(xp.isnan(zl), axis=-1, keepdims=True)
        mx = xp.where(xp.isfinite(mx), mx, 0)
        zs = zl - mx
        masked = xp.isneginf(zs)
        zs = xp.where(masked, fill, zs)
    return zs, masked, bad, mx


def _finish(p, masked, bad):
    if masked is None:           # every entry was finite
        return p
    xp = namespace(p)
    p = xp.where(masked, 0, p)
    return xp.where(bad, xp.nan, p).astype(p.dtype, copy=False)


def clip_unit(z, tau):
    """clip(z - tau, 0, 1), with values within rounding of 0 or 1 (a few ulps of
    |z| + |tau|) snapped to it: the degenerate cases of SparseK (hard top-k, where
    tau = z_k - 1 or z_(k+1) up to rounding) then give entries that are exactly 0
    or 1, hence not fractional (derivative 0).  Everything that decides which
    entries are fractional goes through here, so that the decisions agree."""
    xp = namespace(z)
    eps = xp.finfo(z.dtype).eps
    with errstate():
        tol = xp.minimum(8 * eps * (1 + xp.abs(z) + xp.where(xp.isfinite(tau), xp.abs(tau), 0)),
                         0.5)
        p = xp.clip(z - tau, 0, 1)
        p = xp.where(p <= tol, 0, p)
        p = xp.where(p >= 1 - tol, 1, p)
    return p.astype(z.dtype, copy=False)


def _simplex_lin(c, mask, axis, bnd, dtype):
    """(diag(s) - s sᵀ/|S|) c along ``axis`` (+ the batch rank ``bnd``), s = 1 on
    ``mask`` (a constant boolean array of the primal's shape)."""
    cm = pnp.where(mask, c, 0.0)
    mean = _red.sum(cm, axis=axis + bnd, keepdims=True) / count(mask, axis, dtype)
    return pnp.where(mask, c - mean, 0.0)


def _weighted_lin(c, s, axis, bnd):
    """(diag(s) - s sᵀ / sum(s)) c along ``axis``: the Jacobian of entmax, where s
    is a (differentiable) nonnegative weight vector."""
    sc = s * c
    total = _red.sum(s, axis=axis, keepdims=True)
    safe = pnp.where(pnp.equal(total, 0), 1.0, total)
    return sc - s * (_red.sum(sc, axis=axis + bnd, keepdims=True) / safe)


# ============================================================================ sparsemax
def _sparsemax_rows(zl):
    """sparsemax along the last axis (Martins & Astudillo 2016): sort, cumsum, and the
    support size K = max{j : 1 + j z_(j) > sum_{i<=j} z_(i)}; tau = (sum_{i<=K} z_(i) - 1)/K."""
    xp = namespace(zl)
    m = zl.shape[-1]
    zs, masked, bad, _ = _prepare_rows(zl, -2.0, masks_needed=False)  # tau >= max - 1: -2 never in the support
    with errstate():
        srt = _sorted_descending(zs, xp)
        cs = xp.cumsum(srt, axis=-1)
        ranks = xp.arange(1, m + 1, dtype=zs.dtype)
        support = 1 + ranks * srt > cs
        K = xp.maximum(xp.sum(support, axis=-1, keepdims=True), 1)
        tau = (xp.take_along_axis(cs, K - 1, axis=-1) - 1) / K.astype(zs.dtype)
        p = xp.maximum(zs - tau, 0)
    return _finish(p, masked, bad)


def _sparsemax_impl(z, axis):
    return _from_last(_sparsemax_rows(_to_last(z, axis)), axis)


def _sparsemax_lin(c, ans, z, axis, bnd):
    return _simplex_lin(c, pnp.greater(ans, 0), axis, bnd, dtype_of(ans))


_sparsemax = Primitive('sparsemax', _sparsemax_impl)
_sparsemax.def_jvp(lambda t, ans, z, axis: _sparsemax_lin(t, ans, z, axis, batch_ndim(t, z)))
_sparsemax.def_vjp(lambda g, ans, z, axis: _sparsemax_lin(g, ans, z, axis, batch_ndim(g, ans)))


def sparsemax(z: ArrayLike, axis: int = -1) -> Array:
    """The Euclidean projection of z onto the probability simplex along ``axis``
    (Martins & Astudillo 2016): p = max(z - tau, 0) with sum(p) = 1.

    Exact: one sort and one cumulative sum per row, all rows at once.  Jacobian on
    the support S = {p > 0}: diag(s) - s sᵀ/|S| (0 off the support)."""
    z = as_float_array(z, 'sparsemax')
    return _sparsemax(z, axis=check_axis('sparsemax', z, axis))


# ============================================================================ SparseK
# Rows longer than this with a budget much smaller than the row use the partial
# sort (np.partition) path: solve on the top-L candidates, check that no other
# entry could be in the support, and fall back to the full sort for rows that fail.
# Measured (64-256 rows, 2 shared cores): m = 128, k = 2: 38 -> 12 ms; m = 256,
# k = 32: 76 -> 36 ms; m = 2048, k = 4: 219 -> 28 ms; m = 8192, k = 32: 666 -> 90 ms.
PARTITION_MIN_ROW = 128
PARTITION_MAX_FRACTION = 0.125


def _solve_sorted(zs, k):
    """The threshold tau of sum_i clip(zs_i - tau, 0, 1) = k along the last axis, for
    rows with 0 <= k < (number of entries), zs finite.

    f(tau) is piecewise linear and nonincreasing, with breakpoints {z_i, z_i - 1}.
    Sort the 2m breakpoints in decreasing order; at breakpoint b_j the entries whose
    "z_i - 1" breakpoint has been passed are ones (U), those whose "z_i" breakpoint
    only has been passed are fractional (F), so f(b_j) = |U| + sum_F z_i - |F| b_j:
    running counts and sums, for all breakpoints of all rows at once.  (Counting the
    ones rather than summing slopes x segment lengths keeps f right even where
    z_i - 1 rounds to z_i, for huge values.)  The segment where f crosses k gives the
    sets U and F exactly (from the ranks of the breakpoints, so ties are handled
    consistently), and then tau = (sum_F z + |U| - k) / |F|, from one sum."""
    xp = namespace(zs)
    m = zs.shape[-1]
    dt = zs.dtype
    b = xp.concatenate([zs, zs - 1], axis=-1)
    order = xp.argsort(-b, axis=-1, kind='stable')
    bs = xp.take_along_axis(b, order, axis=-1)
    plus = order < m
    zval = xp.take_along_axis(xp.concatenate([zs, zs], axis=-1), order, axis=-1)
    n_ones = xp.cumsum(~plus, axis=-1, dtype=xp.int64)
    n_frac = xp.cumsum(plus, axis=-1, dtype=xp.int64) - n_ones
    s_frac = xp.cumsum(xp.where(plus, zval, -zval), axis=-1)
    f_at = n_ones.astype(dt) + s_frac - n_frac.astype(dt) * bs     # f at each breakpoint
    j = xp.sum(f_at[..., 1:] < k, axis=-1, keepdims=True)          # the segment [b_{j+1}, b_j]
    j = xp.minimum(j, 2 * m - 2)
    rank = _ranks(xp, order)
    entered = rank[..., :m] <= j
    ones = rank[..., m:] <= j
    frac = entered & ~ones
    nf = xp.sum(frac, axis=-1, keepdims=True)
    nu = xp.sum(ones, axis=-1, keepdims=True).astype(dt)
    sf = xp.sum(xp.where(frac, zs, 0), axis=-1, keepdims=True)
    tau = (sf + nu - k) / xp.maximum(nf, 1).astype(dt)
    # a flat piece (no fractional entry: f = |U| = k all along it, reached when the
    # running sums round to either side of k): every tau on it is a solution; its
    # midpoint keeps every entry exactly 0 or 1 (the hard top-k case)
    mid = (xp.take_along_axis(bs, j, axis=-1) + xp.take_along_axis(bs, j + 1, axis=-1)) / 2
    return xp.where(nf == 0, mid, tau)


def _solve_partition(zs, k, kmax):
    """As _solve_sorted, on the L largest entries of each row only; rows where an
    excluded entry would be above the threshold are solved again in full."""
    xp = namespace(zs)
    m = zs.shape[-1]
    L = min(m - 1, max(4 * int(_onp.ceil(kmax)) + 8, 32))
    part = xp.partition(zs, m - L - 1, axis=-1)
    top = part[..., m - L:]
    below = part[..., m - L - 1:m - L]                   # the largest excluded entry
    kb = xp.broadcast_to(k, zs.shape[:-1] + (1,))
    tau = _solve_sorted(top, kb)
    fail = (below > tau)[..., 0]
    if xp.any(fail):
        tau = tau.copy()
        tau[fail] = _solve_sorted(zs[fail], kb[fail])
    return tau


def _sparsek_rows(zl, k):
    """SparseK along the last axis: (p, tau, mx) with p = clip((z - mx) - tau, 0, 1),
    sum p = k, mx the (finite) row maximum and tau relative to it.  ``k`` broadcasts
    against (..., 1).  Rows with k >= (number of unmasked entries) saturate: p = 1 on
    the unmasked entries (tau = -inf)."""
    xp = namespace(zl)
    m = zl.shape[-1]
    dt = zl.dtype
    k = xp.broadcast_to(xp.asarray(k, dtype=dt), zl.shape[:-1] + (1,))
    finite = xp.sum(~xp.isneginf(zl), axis=-1, keepdims=True).astype(dt)
    # masked entries: below the lowest finite one by 2 (tau >= min - 1 when k < #finite)
    with errstate():
        lo = xp.min(xp.where(xp.isneginf(zl), xp.inf, zl), axis=-1, keepdims=True)
    zs0, masked, bad, mx = _prepare_rows(zl, 0.0)
    with errstate():
        lo = xp.where(xp.isfinite(lo - mx), lo - mx - 2, -xp.finfo(dt).max / 4)
        zs = xp.where(masked, lo, zs0)
        zs = xp.where(bad, 0, zs)
        sat = k >= finite
        kk = xp.where(sat, 0, k)
        # (over Dask the largest budget is unknown until computed: sort)
        kmax = None if is_dask(zs) else float(xp.max(kk)) if kk.size else 0.0
        if kmax is not None and m >= PARTITION_MIN_ROW and kmax <= PARTITION_MAX_FRACTION * m:
            tau = _solve_partition(zs, kk, kmax)
        else:
            tau = _solve_sorted(zs, kk)
        p = clip_unit(zs, tau)
        p = xp.where(sat, 1, p).astype(dt, copy=False)
        tau = xp.where(sat, -xp.inf, tau)
    p = _finish(p, masked, bad)
    tau = xp.where(bad, xp.nan, tau)
    return p, tau, mx


def _sparsek_impl(z, k, axis):
    kl = k
    if getattr(k, 'ndim', 0):
        kl = _to_last(k, axis)
    return _from_last(_sparsek_rows(_to_last(z, axis), kl)[0], axis)


def _fractional(ans):
    return pnp.logical_and(pnp.greater(ans, 0), pnp.less(ans, 1))


def _sparsek_lin_z(c, ans, z, k, axis, bnd):
    return _simplex_lin(c, _fractional(ans), axis, bnd, dtype_of(ans))


def _sparsek_jvp_k(t, ans, z, k, axis):
    frac = _fractional(ans)
    return pnp.where(frac, expand_to(t, k, ans) / count(frac, axis, dtype_of(ans)), 0.0)


def _sparsek_vjp_k(g, ans, z, k, axis):
    frac = _fractional(ans)
    bnd = batch_ndim(g, ans)
    gk = _red.sum(pnp.where(frac, g, 0.0), axis=axis + bnd, keepdims=True) / count(
        frac, axis, dtype_of(ans))
    gk = unbroadcast(gk, ans, k)
    if dtype_of(gk) != dtype_of(k) and dtype_of(k).kind == 'f':
        gk = pnp.astype(gk, dtype_of(k))
    return gk


_sparsek = Primitive('sparsek', _sparsek_impl)
_sparsek.def_jvp(lambda t, ans, z, k, axis: _sparsek_lin_z(t, ans, z, k, axis, batch_ndim(t, z)),
                 _sparsek_jvp_k)
_sparsek.def_vjp(lambda g, ans, z, k, axis: _sparsek_lin_z(g, ans, z, k, axis, batch_ndim(g, ans)),
                 _sparsek_vjp_k)


def _check_budget(fn, k, m, row_shape):
    """k as a scalar or an array of one budget per row; values checked (0 <= k <= m)."""
    kv = innermost(k)
    if isinstance(kv, bool) or (hasattr(kv, 'dtype') and kv.dtype.kind == 'b'):
        raise TypeError(f'{fn}: the budget k must be a number or an array of numbers, not bool')
    if hasattr(kv, 'dtype') and kv.dtype.kind not in 'iuf':
        raise TypeError(f'{fn}: the budget k must be numeric, got dtype {kv.dtype}')
    xp = namespace(kv)
    arr = xp.asarray(kv)
    if arr.ndim and tuple(arr.shape) != tuple(row_shape):
        try:
            _onp.broadcast_shapes(tuple(arr.shape), tuple(row_shape))
        except ValueError:
            raise ValueError(f'{fn}: the budget k of shape {tuple(arr.shape)} does not broadcast '
                             f'to the rows, of shape {tuple(row_shape)} (z without its axis)') from None
        if arr.ndim > len(row_shape):
            raise ValueError(f'{fn}: the budget k of shape {tuple(arr.shape)} has more dimensions '
                             f'than the rows, of shape {tuple(row_shape)}')
    if arr.size:
        lo, hi = float(xp.min(arr)), float(xp.max(arr))
        if _onp.isnan(lo) or _onp.isnan(hi):
            raise ValueError(f'{fn}: the budget k is NaN')
        if lo < 0:
            raise ValueError(f'{fn}: the budget k must be >= 0, got {lo:g}')
        if hi > m:
            raise ValueError(f'{fn}: the budget k = {hi:g} exceeds the row length m = {m} '
                             f'(the set {{0 <= p <= 1, sum p = k}} is empty); use k <= m')
    return arr.ndim


def sparsek(z: ArrayLike, k: ArrayLike, axis: int = -1) -> Array:
    """SparseK: the Euclidean projection of z onto {p : 0 <= p <= 1, sum(p) = k} along
    ``axis``: p = clip(z - tau, 0, 1), a differentiable top-k (Lou et al. 2024).

    ``k`` is an int, a float, or an array with one budget per row (the shape of z
    without ``axis``, or broadcastable to it); 0 <= k <= m is required (ValueError
    otherwise).  ``sparsek(z, 1) == sparsemax(z)``.  Masked (-inf) entries get 0; a row
    whose budget is at least its number of unmasked entries saturates: 1 on every
    unmasked entry (so sum p = #unmasked < k then; k >= m gives all ones).

    Algorithm: tau solves sum clip(z - tau, 0, 1) = k exactly, by sorting the 2m
    breakpoints {z_i, z_i - 1} and locating the linear piece that crosses k
    (O(m log m) per row, vectorised over all rows).  Long rows (m >= 128) with a
    small budget (k <= m/8) first try a partial sort (np.partition) of the 4k + 8
    (at least 32) largest entries, verified exactly (no other entry is above tau),
    with the full sort for the rows that fail; it is 2-8x faster from m = 128 on.

    Derivatives, with F = {0 < p < 1} the strictly fractional entries:
    dp/dz = diag(f) - f fᵀ/|F| and dp/dk = f/|F|.  When |F| = 0 (the hard top-k
    case, e.g. integer k and a gap of more than 1 after the k-th largest entry),
    tau is not unique and both derivatives are taken to be 0."""
    z = as_float_array(z, 'sparsek')
    axis = check_axis('sparsek', z, axis)
    shape = tuple(shape_of(z))
    row_shape = shape[:axis] + shape[axis + 1:]
    kdim = _check_budget('sparsek', k, shape[axis], row_shape)
    if kdim:
        if kdim < len(row_shape):
            k = pnp.reshape(k, (1,) * (len(row_shape) - kdim) + tuple(shape_of(k)))
        k = pnp.expand_dims(k, axis)
    elif isinstance(k, (int, _onp.integer)):
        k = float(k)
    return _sparsek(z, k, axis=axis)


# ============================================================================ entmax
def _entmax15_rows(zl):
    """1.5-entmax along the last axis, exactly (Peters, Niculae & Martins 2019):
    p = [z/2 - tau]_+^2, tau found from the sorted row and running means."""
    xp = namespace(zl)
    m = zl.shape[-1]
    zs, masked, bad, _ = _prepare_rows(zl / 2, -2.0, masks_needed=False)    # tau >= max - 1
    with errstate():
        srt = _sorted_descending(zs, xp)
        rho = xp.arange(1, m + 1, dtype=zs.dtype)
        mean = xp.cumsum(srt, axis=-1) / rho
        mean_sq = xp.cumsum(srt * srt, axis=-1) / rho
        ss = rho * (mean_sq - mean * mean)
        delta = xp.maximum((1 - ss) / rho, 0)
        tau = mean - xp.sqrt(delta)
        support = xp.maximum(xp.sum(tau <= srt, axis=-1, keepdims=True), 1)
        tau_star = xp.take_along_axis(tau, support - 1, axis=-1)
        p = xp.maximum(zs - tau_star, 0) ** 2
    return _finish(p, masked, bad)


def _entmax15_impl(z, axis):
    return _from_last(_entmax15_rows(_to_last(z, axis)), axis)


def _sqrt_where_positive(y):
    pos = pnp.greater(y, 0)
    return pnp.where(pos, pnp.sqrt(pnp.where(pos, y, 1.0)), 0.0)


_entmax15 = Primitive('entmax15', _entmax15_impl)
_entmax15.def_jvp(lambda t, ans, z, axis: _weighted_lin(
    t, _sqrt_where_positive(ans), axis, batch_ndim(t, z)))
_entmax15.def_vjp(lambda g, ans, z, axis: _weighted_lin(
    g, _sqrt_where_positive(ans), axis, batch_ndim(g, ans)))


def entmax15(z: ArrayLike, axis: int = -1) -> Array:
    """1.5-entmax (Peters, Niculae & Martins 2019): p = [z/2 - tau]_+^2 with sum p = 1,
    exact (sort-based).  Sparse like sparsemax, smooth like softmax on its support.
    Jacobian: diag(s) - s sᵀ/sum(s) with s = sqrt(p)."""
    z = as_float_array(z, 'entmax15')
    return _entmax15(z, axis=check_axis('entmax15', z, axis))


def _entmax_bisect_rows(zl, alpha, n_iter):
    xp = namespace(zl)
    dt = zl.dtype
    am1 = alpha - 1.0
    zs, masked, bad, _ = _prepare_rows(zl * am1, -2.0)      # max = 0, tau in [-1, ...]
    with errstate():
        d = xp.sum(~masked, axis=-1, keepdims=True).astype(dt)
        lo = xp.full(zs.shape[:-1] + (1,), -1.0, dtype=dt)
        hi = -(1.0 / xp.maximum(d, 1)) ** am1
        power = 1.0 / am1
        for _ in range(n_iter):
            mid = (lo + hi) / 2
            mass = xp.sum(xp.where(masked, 0, xp.maximum(zs - mid, 0) ** power), axis=-1, keepdims=True)
            big = mass >= 1
            lo = xp.where(big, mid, lo)
            hi = xp.where(big, hi, mid)
        p = xp.where(masked, 0, xp.maximum(zs - lo, 0) ** power)
        s = xp.sum(p, axis=-1, keepdims=True)
        p = xp.where(s > 0, p / xp.where(s > 0, s, 1), 0).astype(dt, copy=False)
    return _finish(p, masked, bad)


def _entmax_bisect_impl(z, axis, alpha, n_iter):
    return _from_last(_entmax_bisect_rows(_to_last(z, axis), alpha, n_iter), axis)


def _bisect_weights(ans, alpha):
    pos = pnp.greater(ans, 0)
    return pnp.where(pos, pnp.where(pos, ans, 1.0) ** (2.0 - alpha), 0.0)


_entmax_bisect = Primitive('entmax_bisect', _entmax_bisect_impl)
_entmax_bisect.def_jvp(lambda t, ans, z, axis, alpha, n_iter: _weighted_lin(
    t, _bisect_weights(ans, alpha), axis, batch_ndim(t, z)))
_entmax_bisect.def_vjp(lambda g, ans, z, axis, alpha, n_iter: _weighted_lin(
    g, _bisect_weights(ans, alpha), axis, batch_ndim(g, ans)))


def entmax_bisect(z: ArrayLike, alpha: ArrayLike = 1.5, axis: int = -1, n_iter: int = 50) -> Array:
    """alpha-entmax by bisection (Peters, Niculae & Martins 2019):
    p = [(alpha - 1) z - tau]_+^(1/(alpha - 1)), sum p = 1.

    ``alpha`` is a float > 1 (alpha = 1 is softmax, alpha = 2 sparsemax; it is a
    parameter, not differentiated).  ``n_iter`` bisection steps on tau, vectorised
    over rows, then a renormalisation.  Jacobian: diag(s) - s sᵀ/sum(s)
    with s = p^(2 - alpha) on the support."""
    z = as_float_array(z, 'entmax_bisect')
    axis = check_axis('entmax_bisect', z, axis)
    if isinstance(alpha, Box):
        raise TypeError('entmax_bisect: alpha is a parameter and is not differentiated; '
                        'pass a float (use pyad.stop_gradient to drop its derivative)')
    alpha = float(alpha)
    if alpha < 1:
        raise ValueError(f'entmax_bisect: alpha must be >= 1, got {alpha}')
    if alpha == 1:
        from .softmax import softmax
        return softmax(z, axis)
    n_iter = int(n_iter)
    if n_iter < 1:
        raise ValueError(f'entmax_bisect: n_iter must be >= 1, got {n_iter}')
    return _entmax_bisect(z, axis=axis, alpha=alpha, n_iter=n_iter)


# ============================================================================ top-k
def _topk_impl(z, k, axis):
    xp = namespace(z)
    zl = _to_last(z, axis)
    m = zl.shape[-1]
    kl = _to_last(xp.asarray(k), axis) if getattr(k, 'ndim', 0) else k
    order = xp.argsort(-zl, axis=-1, kind='stable')     # ties: the earlier entry first
    rank = _ranks(xp, order)
    mask = rank < kl
    return _from_last(mask.astype(zl.dtype), axis)


_topk_mask = Primitive('topk_mask', _topk_impl, nondiff=True)


def topk_mask(z: ArrayLike, k: int, axis: int = -1) -> Array:
    """The hard top-k indicator along ``axis``: 1.0 on the k largest entries of each row
    (ties go to the earlier entry; NaN is never selected), 0.0 elsewhere, in z's dtype.
    ``k`` is an int or an array of one int per row.  Not differentiable: its result is
    a constant (the derivative is 0 almost everywhere)."""
    z = as_float_array(z, 'topk_mask')
    axis = check_axis('topk_mask', z, axis)
    shape = tuple(shape_of(z))
    row_shape = shape[:axis] + shape[axis + 1:]
    kdim = _check_budget('topk_mask', k, shape[axis], row_shape)
    k = innermost(k)
    if kdim:
        xp = namespace(k)
        k = xp.asarray(k)
        k = xp.expand_dims(k.reshape((1,) * (len(row_shape) - kdim) + k.shape), axis)
    return _topk_mask(z, k, axis=axis)


__all__ = ['sparsemax', 'sparsek', 'entmax15', 'entmax_bisect', 'topk_mask']
