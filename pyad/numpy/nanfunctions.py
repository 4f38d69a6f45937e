"""NumPy's NaN-ignoring functions (nansum, nanmean, nanvar, nanmedian, ...), written
with pyad.numpy's own functions.

A NaN entry is replaced by the reduction's neutral value before reducing, through
``where``, so it gets a zero derivative and never a NaN one; the counts of the
other entries are plain integers.  A slice with no number at all gives what NumPy
gives (NaN, or 0 for nansum), with a zero derivative.
"""
from __future__ import annotations

from ..typing import Array, ArrayLike, Axis, DTypeLike
import numpy as _np

from .._core.batching import per_example

from .._core.box import Box, innermost, shape_of, ndim_of
from ..backend import namespace, any_true, known_on_client
from ._batching import normalize_axes
from .creation import listed
from .elementwise import isnan, sqrt, where
from .manipulation import (moveaxis, reshape, sort, take_along_axis, expand_dims, stack,
                           stop_gradient)
from .reductions import sum, prod, max, min, cumsum, cumprod


def _no_out(name, out):
    if out is not None:
        raise TypeError(f'{name}: out =  is not supported by pyad (use the returned value)')


def _filled(a, fill):
    return where(isnan(a), fill, a)


def _count(a, axis, keepdims):
    """The number of non-NaN entries of each slice (a plain integer array, on a's
    device)."""
    plain = innermost(a)
    xp = namespace(plain)
    return xp.sum(~xp.isnan(plain), axis=axis, keepdims=keepdims)


def _as_float(count, a):
    dtype = _np.result_type(innermost(a))
    return namespace(count).asarray(count, dtype=dtype if dtype.kind == 'f' else _np.float64)


def _with_empty_as_nan(out, a, axis, keepdims):
    """NaN where a slice holds no number (NumPy's answer, with a RuntimeWarning)."""
    empty = _count(a, axis, keepdims) == 0
    if any_true(empty):
        return where(empty, _np.nan, out)
    return out


def nansum(a: ArrayLike, axis: Axis = None, dtype: DTypeLike = None, out: None = None,
           keepdims: bool = False) -> Array:
    """numpy.nansum: NaNs count as zero (and get a zero derivative)."""
    _no_out('nansum', out)
    a = listed(a)
    return sum(_filled(a, 0.0), axis=axis, keepdims=keepdims, dtype=dtype)


def nanprod(a: ArrayLike, axis: Axis = None, dtype: DTypeLike = None, out: None = None,
            keepdims: bool = False) -> Array:
    """numpy.nanprod: NaNs count as one (and get a zero derivative)."""
    _no_out('nanprod', out)
    a = listed(a)
    return prod(_filled(a, 1.0), axis=axis, dtype=dtype, keepdims=keepdims)


@per_example
def nanmean(a: ArrayLike, axis: Axis = None, dtype: DTypeLike = None, out: None = None,
            keepdims: bool = False) -> Array:
    """numpy.nanmean: the mean of the numbers of each slice (NaN for none)."""
    _no_out('nanmean', out)
    a = listed(a)
    total = nansum(a, axis, dtype, None, keepdims)
    return total / _as_float(_count(a, axis, keepdims), total)


@per_example
def nanvar(a: ArrayLike, axis: Axis = None, dtype: DTypeLike = None, out: None = None,
           ddof: int = 0, keepdims: bool = False) -> Array:
    """numpy.nanvar (with ddof)."""
    _no_out('nanvar', out)
    a = listed(a)
    centred = _filled(a, 0.0) - nanmean(a, axis, dtype, keepdims=True)
    squares = sum(where(isnan(a), 0.0, centred * centred), axis=axis, keepdims=keepdims)
    dof = _count(a, axis, keepdims) - ddof
    with _np.errstate(divide='ignore', invalid='ignore'):
        return squares / _as_float(dof * (dof > 0), squares)


@per_example
def nanstd(a: ArrayLike, axis: Axis = None, dtype: DTypeLike = None, out: None = None,
           ddof: int = 0, keepdims: bool = False) -> Array:
    """numpy.nanstd.  A slice with a single number has std 0 whatever that number is:
    its derivative is 0 (elsewhere a std of 0 has an infinite derivative, as sqrt)."""
    _no_out('nanstd', out)
    a = listed(a)
    var = nanvar(a, axis, dtype, None, ddof, keepdims)
    single = _count(a, axis, keepdims) == 1
    if not any_true(single):
        return sqrt(var)
    # (the double where keeps the branch not taken finite in every derivative)
    return where(single, sqrt(stop_gradient(var)), sqrt(where(single, 1.0, var)))


@per_example
def nanmax(a: ArrayLike, axis: Axis = None, out: None = None, keepdims: bool = False) -> Array:
    """numpy.nanmax (NaN for a slice of NaNs only)."""
    _no_out('nanmax', out)
    a = listed(a)
    return _with_empty_as_nan(max(_filled(a, -_np.inf), axis=axis, keepdims=keepdims),
                              a, axis, keepdims)


@per_example
def nanmin(a: ArrayLike, axis: Axis = None, out: None = None, keepdims: bool = False) -> Array:
    """numpy.nanmin (NaN for a slice of NaNs only)."""
    _no_out('nanmin', out)
    a = listed(a)
    return _with_empty_as_nan(min(_filled(a, _np.inf), axis=axis, keepdims=keepdims),
                              a, axis, keepdims)


@per_example
def nanargmax(a: ArrayLike, axis: Axis = None, out: None = None, *,
              keepdims: bool = False) -> Array:
    """numpy.nanargmax (no derivative: an index)."""
    return _np.nanargmax(innermost(listed(a)), axis=axis, out=out, keepdims=keepdims)


@per_example
def nanargmin(a: ArrayLike, axis: Axis = None, out: None = None, *,
              keepdims: bool = False) -> Array:
    """numpy.nanargmin (no derivative: an index)."""
    return _np.nanargmin(innermost(listed(a)), axis=axis, out=out, keepdims=keepdims)


def nancumsum(a: ArrayLike, axis: Axis = None, dtype: DTypeLike = None, out: None = None) -> Array:
    """numpy.nancumsum: NaNs count as zero."""
    _no_out('nancumsum', out)
    return cumsum(_filled(listed(a), 0.0), axis=axis, dtype=dtype)


def nancumprod(a: ArrayLike, axis: Axis = None, dtype: DTypeLike = None, out: None = None) -> Array:
    """numpy.nancumprod: NaNs count as one."""
    _no_out('nancumprod', out)
    return cumprod(_filled(listed(a), 1.0), axis=axis, dtype=dtype)


# ----------------------------------------------------------------- quantiles
def _last_axis(a, axis):
    """a with the reduced axes merged into one last axis, and those axes."""
    nd = ndim_of(a)
    axes = normalize_axes(axis, nd)
    k = len(axes)
    a = moveaxis(a, axes, tuple(range(nd - k, nd)))
    return reshape(a, tuple(shape_of(a)[:nd - k]) + (-1,)), axes


def _nanquantile_scalar(s, count, q):
    """The linear-interpolation quantile q (a number, or a traced scalar) of each row
    of s, sorted with its NaNs last, holding count numbers (count: kept last axis)."""
    xp = namespace(count)
    qv = float(innermost(q))
    last = xp.maximum(count - 1, 0)               # the index of the last number
    pos = qv * last
    lo = xp.floor(pos).astype(_np.intp)
    hi = xp.minimum(lo + 1, last)
    if isinstance(q, Box):
        frac = q * _as_float(last, s) - _as_float(lo, s)
    else:
        frac = _as_float(pos - lo, s)
    s_lo = take_along_axis(s, lo, -1)
    s_hi = take_along_axis(s, hi, -1)
    out = (s_lo + (s_hi - s_lo) * frac)[..., 0]
    empty = count[..., 0] == 0
    return where(empty, _np.nan, out) if any_true(empty) else out


@per_example
def nanquantile(a: ArrayLike, q: ArrayLike, axis: Axis = None, out: None = None,
                overwrite_input: bool = False, method: str = 'linear',
                keepdims: bool = False) -> Array:
    """numpy.nanquantile (method 'linear'): the quantiles of the numbers of each
    slice, differentiable in a and in q."""
    _no_out('nanquantile', out)
    if method != 'linear':
        raise NotImplementedError(f"nanquantile: only method='linear' is supported, got {method!r}")
    a = listed(a)
    qv = _np.asarray(innermost(known_on_client('nanquantile', 'q', q)), dtype=float)
    if _np.any(qv < 0) or _np.any(qv > 1) or _np.any(_np.isnan(qv)):
        raise ValueError('nanquantile: quantiles must be in the range [0, 1]')
    rows, axes = _last_axis(a, axis)
    s = sort(rows, axis=-1)                       # NaNs last, as NumPy sorts them
    count = _count(rows, -1, True)
    if qv.ndim == 0:
        result = _nanquantile_scalar(s, count, q)
    else:                                          # q's axes first, as NumPy puts them
        flat = reshape(q, (-1,)) if isinstance(q, Box) else qv.ravel()
        flat = [flat[i] for i in range(qv.size)]
        result = reshape(stack([_nanquantile_scalar(s, count, qi) for qi in flat]),
                         qv.shape + tuple(shape_of(s)[:-1]))
    if keepdims:
        for ax in axes:
            result = expand_dims(result, qv.ndim + ax)
    return result


def nanpercentile(a: ArrayLike, q: ArrayLike, axis: Axis = None, out: None = None,
                  overwrite_input: bool = False, method: str = 'linear',
                  keepdims: bool = False) -> Array:
    """numpy.nanpercentile (method 'linear')."""
    _no_out('nanpercentile', out)
    known_on_client('nanpercentile', 'q', q)
    q = q / 100.0 if isinstance(q, Box) else _np.asarray(q) / 100.0
    return nanquantile(a, q, axis, None, overwrite_input, method, keepdims)


def nanmedian(a: ArrayLike, axis: Axis = None, out: None = None, overwrite_input: bool = False,
              keepdims: bool = False) -> Array:
    """numpy.nanmedian."""
    _no_out('nanmedian', out)
    return nanquantile(a, 0.5, axis, None, overwrite_input, keepdims=keepdims)


__all__ = ['nansum', 'nanprod', 'nanmean', 'nanvar', 'nanstd', 'nanmax', 'nanmin',
           'nanargmax', 'nanargmin', 'nancumsum', 'nancumprod', 'nanquantile',
           'nanpercentile', 'nanmedian']
