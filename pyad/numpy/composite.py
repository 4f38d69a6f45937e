"""NumPy functions written with pyad.numpy's own: no rules of their own, so their
derivatives (to any order, in either mode) are those of the pieces.

They are here so that ``pyad.numpy.diff(x)`` exists and so that NumPy's function of
the same name, given a traced value, dispatches here (see ``_protocol``) instead of
raising.  Parameters keep NumPy's names and defaults.
"""
import numpy as _np

from .._core.box import Box, innermost, shape_of, ndim_of, dtype_of
from .._core.batching import holds_batch, one_example, per_example
from ._batching import normalize_axis
from .elementwise import isnan, where, logical_not
from .manipulation import (concatenate, ravel, reshape, sort, take, flip, swapaxes,
                           moveaxis, expand_dims, stack, broadcast_to, astype, pad)
from .reductions import sum, mean, max, min, cumsum, cumprod
from .complexes import conj, real


def _arr(a):
    """A list or number as an array (traced values and arrays as they are)."""
    if isinstance(a, Box) or hasattr(a, 'shape'):
        return a
    return _np.asarray(a)


def _along(a, axis, sl):
    """a[..., sl, ...] with sl at axis."""
    return a[(slice(None),) * axis + (sl,)]


def _as_edge(v, a, axis):
    """prepend/append values, broadcast to a's shape with length 1 along axis."""
    shape = list(shape_of(a))
    if ndim_of(v) == 0:
        shape[axis] = 1
        if isinstance(v, (int, float)):      # a Python number takes a's dtype (float32 stays)
            dtype = _np.result_type(innermost(a))
            return _np.full(shape, v, dtype=dtype if dtype.kind == 'f' else None)
        return broadcast_to(v, tuple(shape))
    return v


def diff(a, n=1, axis=-1, prepend=None, append=None):
    """numpy.diff."""
    a = _arr(a)
    if n < 0:
        raise ValueError(f'diff: order must be non-negative but got {n}')
    if n == 0:
        return a
    axis = normalize_axis(axis, ndim_of(a), 'diff: axis')
    parts = [a]
    if prepend is not None:
        parts.insert(0, _as_edge(prepend, a, axis))
    if append is not None:
        parts.append(_as_edge(append, a, axis))
    if len(parts) > 1:
        a = concatenate(parts, axis=axis)
    for _ in range(n):
        a = _along(a, axis, slice(1, None)) - _along(a, axis, slice(None, -1))
    return a


def ediff1d(ary, to_end=None, to_begin=None):
    """numpy.ediff1d."""
    ary = _arr(ary)
    to_end = None if to_end is None else _arr(to_end)
    to_begin = None if to_begin is None else _arr(to_begin)
    d = diff(ravel(ary))
    parts = [ravel(v) if ndim_of(v) else reshape(v, (1,))
             for v in (to_begin,) if v is not None] + [d] + \
            [ravel(v) if ndim_of(v) else reshape(v, (1,)) for v in (to_end,) if v is not None]
    return concatenate(parts) if len(parts) > 1 else d


def append(arr, values, axis=None):
    """numpy.append."""
    arr, values = _arr(arr), _arr(values)
    if axis is None:
        return concatenate([ravel(arr), ravel(values)])
    return concatenate([arr, values], axis=axis)


def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """numpy.average."""
    a = _arr(a)
    weights = None if weights is None else _arr(weights)
    if weights is None:
        avg = mean(a, axis=axis, keepdims=keepdims)
        if returned:
            count = _np.prod(shape_of(a)) if axis is None else _count(shape_of(a), axis)
            return avg, _np.full(shape_of(avg), float(count))
        return avg
    if shape_of(weights) != shape_of(a):
        if axis is None or ndim_of(weights) != 1:
            raise TypeError('average: 1D weights need an axis; otherwise weights must have '
                            "a's shape")
        axis_ = normalize_axis(axis, ndim_of(a), 'average: axis')
        shape = [1] * ndim_of(a)
        shape[axis_] = shape_of(weights)[0]
        weights = reshape(weights, tuple(shape))
    total = sum(weights * 1.0 + 0.0 * a, axis=axis, keepdims=keepdims)
    avg = sum(a * weights, axis=axis, keepdims=keepdims) / total
    return (avg, total) if returned else avg


def _count(shape, axis):
    axes = axis if isinstance(axis, tuple) else (axis,)
    n = 1
    for ax in axes:
        n *= shape[ax]
    return n


def ptp(a, axis=None, keepdims=False):
    """numpy.ptp: max - min."""
    return max(a, axis=axis, keepdims=keepdims) - min(a, axis=axis, keepdims=keepdims)


def quantile(a, q, axis=None, keepdims=False, method='linear'):
    """numpy.quantile (method 'linear', NumPy's default): the sorted values,
    interpolated linearly; differentiable in a and in q."""
    a = _arr(a)
    if method != 'linear':
        raise NotImplementedError(f"quantile: only method='linear' is supported, got {method!r}")
    if axis is None:
        s = sort(ravel(a))
        axis_ = 0
    else:
        axis_ = normalize_axis(axis, ndim_of(a), 'quantile: axis')
        s = moveaxis(sort(a, axis=axis_), axis_, -1)
    n = shape_of(s)[-1]
    if holds_batch(q):
        raise NotImplementedError('quantile: under vmap, q must be the same for every example '
                                  '(in_axes None for it)')
    qv = _np.asarray(innermost(q), dtype=float)
    if _np.any(qv < 0) or _np.any(qv > 1):
        raise ValueError('quantile: quantiles must be in the range [0, 1]')
    pos = qv * (n - 1)
    lo = _np.floor(pos).astype(int)
    hi = _np.minimum(lo + 1, n - 1)
    if isinstance(q, Box):
        frac = q * (n - 1) - lo          # differentiable in q too
    else:
        dtype = _np.result_type(innermost(a))
        frac = _np.asarray(pos - lo, dtype=dtype if dtype.kind == 'f' else _np.float64)
    s_lo, s_hi = take(s, lo, axis=-1), take(s, hi, axis=-1)
    if ndim_of(lo) > 0:               # q an array: NumPy puts its axes first
        s_lo, s_hi = moveaxis(s_lo, -1, 0), moveaxis(s_hi, -1, 0)
        frac = reshape(frac, shape_of(lo) + (1,) * (ndim_of(s_lo) - ndim_of(lo)))
    out = s_lo + (s_hi - s_lo) * frac
    if keepdims:
        k = ndim_of(lo)
        if axis is None:
            out = reshape(out, shape_of(out)[:k] + (1,) * ndim_of(a))
        else:
            out = expand_dims(out, k + axis_)
    return out


def percentile(a, q, axis=None, keepdims=False, method='linear'):
    """numpy.percentile (method 'linear')."""
    return quantile(a, q / 100.0 if isinstance(q, Box) else _np.asarray(q) / 100.0,
                    axis=axis, keepdims=keepdims, method=method)


def median(a, axis=None, keepdims=False):
    """numpy.median."""
    return quantile(a, 0.5, axis=axis, keepdims=keepdims)


def cumulative_sum(x, axis=None, dtype=None, include_initial=False):
    """numpy.cumulative_sum."""
    return _cumulative('cumulative_sum', cumsum, 0.0, x, axis, dtype, include_initial)


def cumulative_prod(x, axis=None, dtype=None, include_initial=False):
    """numpy.cumulative_prod."""
    return _cumulative('cumulative_prod', cumprod, 1.0, x, axis, dtype, include_initial)


def _cumulative(name, fn, initial, x, axis, dtype, include_initial):
    if axis is None:
        if ndim_of(x) > 1:
            raise ValueError(f'{name}: axis must be given for arrays of more than one dimension')
        axis = 0
    axis = normalize_axis(axis, ndim_of(x), f'{name}: axis')
    out = fn(x, axis=axis)
    if dtype is not None:
        out = astype(out, dtype)
    if include_initial:
        shape = list(shape_of(out))
        shape[axis] = 1
        first = _np.full(shape, initial, dtype=_np.result_type(innermost(out)))
        out = concatenate([first, out], axis=axis)
    return out


def copy(a, order='K', subok=False):
    """numpy.copy: a traced value is never written into, so it is its own copy."""
    if isinstance(a, Box):
        return a
    return _np.copy(a, order=order, subok=subok)


def _nan_filled(a, fill):
    return where(isnan(a), fill, a)


def nansum(a, axis=None, dtype=None, out=None, keepdims=False):
    """numpy.nansum: NaNs count as zero (and get a zero derivative)."""
    if out is not None:
        raise TypeError('nansum: out= is not supported by pyad')
    return sum(_nan_filled(a, 0.0), axis=axis, keepdims=keepdims, dtype=dtype)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False):
    """numpy.nanmean."""
    if holds_batch(a):      # under vmap: the count of each example
        from .manipulation import astype
        count = sum(astype(logical_not(isnan(a)), dtype_of(a)), axis=axis, keepdims=keepdims)
        return nansum(a, axis, dtype, out, keepdims) / count
    plain = innermost(a)
    count = _np.sum(~_np.isnan(plain), axis=axis, keepdims=keepdims)
    return nansum(a, axis, dtype, out, keepdims) / _np.asarray(count, dtype=plain.dtype)


def nanmax(a, axis=None, out=None, keepdims=False):
    """numpy.nanmax."""
    return max(_nan_filled(a, -_np.inf), axis=axis, keepdims=keepdims)


def nanmin(a, axis=None, out=None, keepdims=False):
    """numpy.nanmin."""
    return min(_nan_filled(a, _np.inf), axis=axis, keepdims=keepdims)


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """numpy.cross of 3-vectors (the last axis by default)."""
    a, b = _arr(a), _arr(b)
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)
    if shape_of(a)[-1] != 3 or shape_of(b)[-1] != 3:
        raise ValueError('cross: pyad supports 3-vectors only')
    a0, a1, a2 = (a[..., i] for i in range(3))
    b0, b1, b2 = (b[..., i] for i in range(3))
    c = stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)
    return moveaxis(c, -1, axisc)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """numpy.trapezoid."""
    y = _arr(y)
    x = None if x is None else _arr(x)
    axis = normalize_axis(axis, ndim_of(y), 'trapezoid: axis')
    if x is None:
        d = dx
    else:
        d = diff(x) if ndim_of(x) == 1 else diff(x, axis=axis)
        if ndim_of(x) == 1 and ndim_of(y) > 1:
            shape = [1] * ndim_of(y)
            shape[axis] = shape_of(d)[0]
            d = reshape(d, tuple(shape))
    mid = (_along(y, axis, slice(1, None)) + _along(y, axis, slice(None, -1))) / 2.0
    return sum(mid * d, axis=axis)


def rot90(m, k=1, axes=(0, 1)):
    """numpy.rot90."""
    k %= 4
    a0, a1 = axes
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a0), a1)
    if k == 1:
        return swapaxes(flip(m, a1), a0, a1)
    return flip(swapaxes(m, a0, a1), a1)


def rollaxis(a, axis, start=0):
    """numpy.rollaxis."""
    n = ndim_of(a)
    axis = normalize_axis(axis, n, 'rollaxis: axis')
    if start < 0:
        start += n
    if start > axis:
        start -= 1
    return moveaxis(a, axis, start) if axis != start else a


def polyval(p, x):
    """numpy.polyval: Horner's scheme."""
    y = 0.0 * x
    for c in (p if isinstance(p, (list, tuple)) else [p[i] for i in range(shape_of(p)[0])]):
        y = y * x + c
    return y


@per_example
def interp(x, xp, fp, left=None, right=None, period=None):
    """numpy.interp: piecewise-linear interpolation, differentiable in x, xp and fp
    (one-sided at the knots)."""
    x, xp, fp = _arr(x), _arr(xp), _arr(fp)
    if period is not None:
        raise NotImplementedError('interp: period= is not supported by pyad')
    xv, xpv = _np.asarray(innermost(x)), _np.asarray(innermost(xp))
    if xpv.ndim != 1 or _np.ndim(innermost(fp)) != 1 or len(xpv) != len(innermost(fp)):
        raise ValueError('interp: xp and fp must be 1-D sequences of the same length')
    n = len(xpv)
    if n == 1:
        y = 0.0 * x + take(fp, 0)
    else:
        i = _np.clip(_np.searchsorted(xpv, xv, side='right'), 1, n - 1)   # in [xp[i-1], xp[i]]
        x0, x1 = take(xp, i - 1), take(xp, i)
        y0, y1 = take(fp, i - 1), take(fp, i)
        y = y0 + (x - x0) / (x1 - x0) * (y1 - y0)
    lo = take(fp, 0) if left is None else left
    hi = take(fp, n - 1) if right is None else right
    return where(xv < xpv[0], lo, where(xv > xpv[-1], hi, y))


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *,
        dtype=None):
    """numpy.cov (no frequency or analytic weights)."""
    m = _arr(m)
    y = None if y is None else _arr(y)
    if fweights is not None or aweights is not None:
        raise NotImplementedError('cov: fweights and aweights are not supported by pyad')

    def rows(a):                     # variables as rows
        if ndim_of(a) == 1:
            return reshape(a, (1, -1))
        return a if rowvar else swapaxes(a, 0, 1)
    x = rows(m)
    if y is not None:
        x = concatenate([x, rows(y)], axis=0)
    if dtype is not None:
        x = astype(x, dtype)
    n = shape_of(x)[1]
    ddof = (0 if bias else 1) if ddof is None else ddof
    xc = x - mean(x, axis=1, keepdims=True)
    c = (xc @ conj(swapaxes(xc, 0, 1))) / float(n - ddof)
    if shape_of(c) == (1, 1):
        return reshape(c, ())
    return c


def corrcoef(x, y=None, rowvar=True, *, dtype=None):
    """numpy.corrcoef."""
    c = cov(x, y, rowvar, dtype=dtype)
    if ndim_of(c) == 0:
        return c / c
    from .manipulation import diagonal
    from .elementwise import sqrt
    d = sqrt(real(diagonal(c)))          # (real: a complex c has a real diagonal)
    return c / (reshape(d, (-1, 1)) * reshape(d, (1, -1)))


def convolve(a, v, mode='full'):
    """numpy.convolve of two 1-D arrays."""
    a, v = _arr(a), _arr(v)
    a, v = ravel(a), ravel(v)
    n, m = shape_of(a)[0], shape_of(v)[0]
    if n == 0 or m == 0:
        raise ValueError('convolve: a and v must not be empty')
    if m > n:
        a, v, n, m = v, a, m, n
    ap = pad(a, m - 1)
    full = None
    for j in range(m):
        term = v[j] * ap[m - 1 - j:m - 1 - j + n + m - 1]
        full = term if full is None else full + term
    if mode == 'full':
        return full
    if mode == 'same':
        start = (m - 1) // 2
        return full[start:start + n]
    if mode == 'valid':
        return full[m - 1:n]
    raise ValueError(f"convolve: mode must be 'full', 'same' or 'valid', not {mode!r}")


def correlate(a, v, mode='valid'):
    """numpy.correlate of two 1-D arrays (v conjugated, as NumPy does)."""
    a, v = _arr(a), _arr(v)
    a, v = ravel(a), conj(ravel(v))
    if shape_of(v)[0] > shape_of(a)[0]:          # NumPy swaps, and reverses the result
        return flip(convolve(v, flip(a, 0), mode), 0)
    return convolve(a, flip(v, 0), mode)


__all__ = ['interp', 'cov', 'corrcoef', 'convolve', 'correlate', 'diff', 'ediff1d', 'append',
           'average', 'ptp', 'quantile', 'percentile', 'median', 'cumulative_sum',
           'cumulative_prod', 'copy', 'nansum', 'nanmean', 'nanmax', 'nanmin',
           'cross', 'trapezoid', 'rot90', 'rollaxis', 'polyval']
