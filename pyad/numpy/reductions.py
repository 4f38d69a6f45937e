"""Reductions with ``axis`` and ``keepdims``: sum, mean, prod, max/min, var/std,
logsumexp, the cumulative cumsum/cumprod, and the non-differentiable any, all,
argmax, argmin.

This module defines ``sum``, ``max``, ``min``, ``any`` and ``all``, shadowing the
builtins (as NumPy's namespace does); the builtins are reached through
``_builtins``.
"""
from __future__ import annotations

from typing import Optional
from ..typing import Array, ArrayLike, Axis, DTypeLike
import builtins as _builtins

import numpy as _np

from .._core.primitive import Primitive
from .._core.box import Box, shape_of, ndim_of, innermost, dtype_of, LazyVar
from .._core.batching import holds_batch
from .._core.stub import Stub
from .._core.traits import Traits
from ..backend import (namespace, wrap_like, is_dask, dask_broadcast_like, dask_flip, dask_cumulative,
                       derivative_needs_lengths, unknown_length, DaskUnsupported)
from ._batching import batch_ndim, normalize_axis, normalize_axes, shift_axes
from .creation import listed


def _kept_shape(shape, axes):
    """The shape of a reduction over ``axes`` with keepdims=True."""
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def _with_kept_axes(g, reshape, lead, shape, axes):
    """``g`` (lead axes, then shape without the reduced axes) with the reduced axes
    back as size 1.  Where a length is unknown until computed (NaN: a lazy mask's),
    by indexing with None, which needs no lengths, where a reshape would."""
    kept = _kept_shape(shape, axes)
    if unknown_length(kept):
        return g[(slice(None),) * lead + tuple(None if i in axes else slice(None)
                                               for i in range(len(kept)))]
    return reshape(g, tuple(shape_of(g)[:lead]) + kept)


def restore_reduced(g, ans, x, axes, keepdims):
    """Cotangent ``g`` of a reduction (batch + ans.shape), reshaped so that it
    broadcasts against batch + x.shape (the reduced axes back as size 1)."""
    if keepdims:
        return g
    from .manipulation import reshape
    return _with_kept_axes(g, reshape, len(shape_of(g)) - ndim_of(ans), shape_of(x), axes)


def broadcast_reduced(g, ans, x, axes, keepdims):
    """The VJP of a sum: ``g`` spread back over the reduced axes of x."""
    t = type(g)
    if (t is float or t is _np.float64 or t is _np.float32 or t is _np.ndarray and g.ndim == 0) \
            and (type(innermost(x)) is _np.ndarray or type(x) is Stub):
        # a plain scalar over all of a NumPy x: a read-only broadcast view, made
        # directly (other array types, CuPy's or subclasses, take the general path)
        shape = tuple(shape_of(x))
        if shape:
            one = _np.array(g)
            view = _np.ndarray(shape, one.dtype, one, 0, (0,) * len(shape))
            view.setflags(write=False)      # (not .flags.writeable: that caches a little per call)
            return view
    from .manipulation import broadcast_to
    g = restore_reduced(g, ans, x, axes, keepdims)
    gs = shape_of(g)
    bnd = len(gs) - ndim_of(x)
    if bnd == 0 and not isinstance(g, Box) and is_dask(x):
        # chunked as x is, so that the cotangent meets x's graph block by block
        return dask_broadcast_like(g, innermost(x))
    # (like x: a scalar cotangent carries no array type of its own)
    return wrap_like(broadcast_to(g, tuple(gs[:bnd]) + tuple(shape_of(x))), x)


def _sum_impl(x, axes, keepdims):
    return _np.sum(x, axis=axes, keepdims=keepdims)


def _sum_defer(primals, params):
    # the sum of a pending value may be deferred too (reverse mode, _core/reverse.py)
    x, axes, keepdims = primals
    if type(x) is not LazyVar or params:
        return None
    shape = shape_of(x)
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape)), dtype_of(x)
    return tuple(d for i, d in enumerate(shape) if i not in axes), dtype_of(x)


# the VJPs of sum and mean read only shapes, make new arrays or views of g
_REDUCTION = Traits(reads='shapes', fresh=True, defer=_sum_defer)
_sum = Primitive('sum', _sum_impl, traits=_REDUCTION, complex_rules=True)
_sum.def_jvp(lambda t, ans, x, axes, keepdims: _sum(t, shift_axes(axes, batch_ndim(t, x)), keepdims))
_sum.def_vjp(lambda g, ans, x, axes, keepdims: broadcast_reduced(g, ans, x, axes, keepdims))


def sum(a: ArrayLike, axis: Axis = None, keepdims: bool = False, dtype: DTypeLike = None) -> Array:
    """numpy.sum."""
    a = listed(a)
    axes = normalize_axes(axis, ndim_of(a))
    out = _sum(a, axes, bool(keepdims))
    if dtype is not None:
        from .manipulation import astype
        out = astype(out, dtype)
    return out


def _mean_impl(x, axes, keepdims):
    return _np.mean(x, axis=axes, keepdims=keepdims)


def _mean_vjp(g, ans, x, axes, keepdims):
    # the mean's cotangent is the sum's, divided by the count (before broadcasting)
    return broadcast_reduced(g / _count(shape_of(x), axes), ans, x, axes, keepdims)


# a primitive of its own, as NumPy's mean is (which accumulates float16 in
# float32), and whose VJP reads only shapes: a mean of a deferred value is
# deferred too, so that grad of mean(...) need not compute it
_mean = Primitive('mean', _mean_impl, traits=_REDUCTION, complex_rules=True)
_mean.def_jvp(lambda t, ans, x, axes, keepdims:
              _mean(t, shift_axes(axes, batch_ndim(t, x)), keepdims))
_mean.def_vjp(_mean_vjp)


def mean(a: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Array:
    """numpy.mean."""
    a = listed(a)
    shape = shape_of(a)
    axes = normalize_axes(axis, len(shape))
    if _count(shape, axes) != _count(shape, axes):
        return _unknown_count_moment(a, axes, bool(keepdims))
    if _count(shape, axes) == 0:        # NumPy warns "Mean of empty slice"; nan here
        return _sum(a, axes, bool(keepdims)) * _np.nan
    return _mean(a, axes, bool(keepdims))


# ----------------------------------------------------------------- helpers
def _check_axes(name, axis, ndim):
    """normalize_axes with the function's name in the error."""
    try:
        return normalize_axes(axis, ndim)
    except (TypeError, ValueError) as e:
        raise type(e)(f'{name}: {e}') from None


def _check_out(name, out):
    if out is not None:
        raise NotImplementedError(f'{name}: the out= argument is not supported by pyad')


def _unknown_count_moment(a, axes, keepdims, ddof=None):
    """The mean (or, given ddof, the variance) over axes of a Dask array whose
    length there is unknown until computed (x[mask] of a Dask mask): the count is a
    lazy Dask constant -- the sum of ones block by block -- and the moment is
    written with sums, so that its derivatives come from theirs."""
    plain = innermost(a)
    ones = plain.map_blocks(_np.ones_like, dtype=plain.dtype)
    if ddof is None:
        return _sum(a, axes, keepdims) / ones.sum(axis=axes, keepdims=keepdims)
    centered = a - _sum(a, axes, True) / ones.sum(axis=axes, keepdims=True)
    return _sum(centered * centered, axes, keepdims) / (ones.sum(axis=axes, keepdims=keepdims) - ddof)


def _count(shape, axes):
    n = 1
    for ax in axes:
        n *= shape[ax]
    return n


def _reduce_jvp(t, x, weights, axes, keepdims):
    """sum over the reduced axes of t * weights (the JVP of a reduction whose
    partial derivatives are ``weights``, of x's shape)."""
    return _sum(t * weights, shift_axes(axes, batch_ndim(t, x)), keepdims)


def _kept(ans, x, axes, keepdims):
    """ans (unbatched) with the reduced axes of x back as size 1."""
    return restore_reduced(ans, ans, x, axes, keepdims)


def _require_nonempty(name, shape, axes):
    if _builtins.any(shape[ax] == 0 for ax in axes):
        raise ValueError(f'{name}: zero-size array (shape {tuple(shape)}) to a reduction '
                         f'over axes {axes}, which has no identity')


# ----------------------------------------------------------------- prod
def _prod_impl(x, axes, keepdims):
    return _np.prod(x, axis=axes, keepdims=keepdims)


def _prod_partials(x, ans_kept, axes):
    """∂prod/∂x_i = the product of the other entries, for every i (x's shape).

    At a nonzero entry this is prod / x_i, exact to every order (x_i stays nonzero
    near the point).  At a zero entry it is the product of the slice with that one
    entry replaced by 1: a product again, so exact to every order too, whatever
    the number of zeros (the mixed second derivative between two zeros is the
    product of the other entries).  One such product per rank of zero in a slice:
    cost O(zeros per slice × size), and nothing at all without zeros.
    """
    if is_dask(x) or holds_batch(x):
        return _others_product(x, axes)
    xp = namespace(x)
    is_zero = xp.asarray(innermost(x)) == 0
    if not is_zero.any():
        return ans_kept / x
    from .elementwise import where
    partials = where(is_zero, 0.0, ans_kept / where(is_zero, 1.0, x))
    for kth_zero in _kth_zero_masks(xp, is_zero, axes):
        others = _prod(where(kth_zero, 1.0, x), axes, True)
        partials = where(kth_zero, others, partials)
    return partials


def _others_product(x, axes):
    """The product of the other entries of each slice as the product of the entries
    before and of those after (exclusive cumulative products): no division and no
    look at the values, for Dask arrays, whose zeros are unknown until computed."""
    if unknown_length(shape_of(x)) and (len(axes) > 1 or unknown_length([shape_of(x)[axes[0]]])):
        return _others_of_unknown_lengths(x, axes)
    from .manipulation import transpose, reshape, concatenate, flip
    nd = ndim_of(x)
    rest = [i for i in range(nd) if i not in axes]
    perm = rest + [i for i in range(nd) if i in axes]
    moved = transpose(x, perm)
    shape = tuple(shape_of(moved))
    # (one axis is already flat: no reshape, which a length unknown until computed
    # among the other axes would stop)
    flat = moved if len(axes) == 1 else reshape(moved, shape[:len(rest)] + (-1,))
    edge = shape[:len(rest)] + (1,)
    xp = namespace(x)
    # (ones of a length unknown until computed: like a slice of x)
    one = (xp.ones(edge, dtype=dtype_of(x)) if _builtins.all(d == d for d in edge)
           else xp.ones_like(innermost(flat)[..., :1]))
    last = len(rest)        # (non-negative: the rules shift it past batch axes)
    before = _cumprod(concatenate([one, flat[..., :-1]], axis=last), last)
    after = flip(_cumprod(flip(concatenate([flat[..., 1:], one], axis=last), last), last), last)
    others = before * after if len(axes) == 1 else reshape(before * after, shape)
    return transpose(others, [perm.index(i) for i in range(nd)])


def _others_of_unknown_lengths(x, axes):
    """_others_product of a Dask x with a length unknown until computed (x[mask]),
    where no reshape or shift along that axis can be made: along one axis, the
    exclusive products from either end, block by block; over several, one axis at a
    time (the other entries of a slice: those of the other slices along the first
    axis, by their products over the rest, and those of its own slice)."""
    if len(axes) > 1:
        first, rest = axes[0], axes[1:]
        return _others_product(_prod(x, rest, True), (first,)) * _others_product(x, rest)
    return _products_before(x, axes[0], False) * _products_before(x, axes[0], True)


def _products_before(x, axis, reverse):
    """The product of the entries before each along axis (after, with reverse): 1 for
    the first (last) -- for prod's first derivative, of a Dask x (not traced) with a
    length unknown until computed along axis: block by block."""
    if isinstance(x, Box):
        raise DaskUnsupported(
            'pyad.numpy.prod: differentiating (or batching) its derivative over an axis of a Dask '
            'array whose length is unknown until computed (the result of a lazy mask, x[x > 0]) '
            'needs that length: call x.compute_chunk_sizes() on it first (its value and first '
            'derivative are lazy)')
    x = dask_flip(x, axis) if reverse else x
    out = dask_cumulative(x, axis, product=True, exclusive=True)
    return dask_flip(out, axis) if reverse else out


def _kth_zero_masks(xp, is_zero, axes):
    """For k = 1, 2, ...: the mask of the k-th zero (in C order) of each slice."""
    nd = is_zero.ndim
    rest = [i for i in range(nd) if i not in axes]
    perm = rest + [i for i in range(nd) if i in axes]
    moved = xp.transpose(is_zero, perm)
    flat = moved.reshape(moved.shape[:len(rest)] + (-1,))
    rank = xp.cumsum(flat, axis=-1)
    inverse = [perm.index(i) for i in range(nd)]
    for k in range(1, int(rank[..., -1].max()) + 1):
        yield xp.transpose((flat & (rank == k)).reshape(moved.shape), inverse)


def _prod_jvp(t, ans, x, axes, keepdims):
    return _reduce_jvp(t, x, _prod_partials(x, _kept(ans, x, axes, keepdims), axes), axes, keepdims)


def _prod_vjp(g, ans, x, axes, keepdims):
    partials = _prod_partials(x, _kept(ans, x, axes, keepdims), axes)
    return restore_reduced(g, ans, x, axes, keepdims) * partials


_prod = Primitive('prod', _prod_impl, complex_rules=True)
_prod.def_jvp(_prod_jvp)
_prod.def_vjp(_prod_vjp)


def prod(a: ArrayLike, axis: Axis = None, dtype: DTypeLike = None, out: None = None,
         keepdims: bool = False) -> Array:
    """numpy.prod.  Zeros are handled without division (see ``_prod_partials``):
    the gradient at a single zero is the product of the other entries."""
    a = listed(a)
    _check_out('prod', out)
    axes = _check_axes('prod', axis, ndim_of(a))
    result = _prod(a, axes, bool(keepdims))
    if dtype is not None:
        from .manipulation import astype
        result = astype(result, dtype)
    return result


# ----------------------------------------------------------------- max, min
def _tie_weights(x, ans, axes, keepdims):
    """Where x attains the extremum: 1/(number of ties) there, 0 elsewhere, as a
    constant of x's dtype (the derivative is split evenly among ties, as in JAX)."""
    if holds_batch(x) or holds_batch(ans):
        return _tie_weights_traced(x, ans, axes)
    xp = namespace(x)
    xi = xp.asarray(innermost(x))
    best = _with_kept_axes(xp.asarray(innermost(ans)), xp.reshape, 0, xi.shape, axes)
    hit = xi == best
    ties = xp.sum(hit, axis=axes, keepdims=True)
    weights = hit / xp.maximum(ties, 1)
    return weights.astype(dtype_of(x)) if dtype_of(x).kind == 'f' else weights


def _tie_weights_traced(x, ans, axes):
    """_tie_weights under vmap: the same constant, computed with primitives."""
    from .manipulation import stop_gradient, reshape, astype
    from .elementwise import equal, maximum
    hit = astype(equal(stop_gradient(x), reshape(stop_gradient(ans),
                                                 _kept_shape(shape_of(x), axes))), dtype_of(x))
    return hit / maximum(_sum(hit, axes, True), 1.0)


def _extremum_jvp(t, ans, x, axes, keepdims):
    return _reduce_jvp(t, x, _tie_weights(x, ans, axes, keepdims), axes, keepdims)


def _extremum_vjp(g, ans, x, axes, keepdims):
    return restore_reduced(g, ans, x, axes, keepdims) * _tie_weights(x, ans, axes, keepdims)


def _max_impl(x, axes, keepdims):
    return _np.max(x, axis=axes, keepdims=keepdims)


def _min_impl(x, axes, keepdims):
    return _np.min(x, axis=axes, keepdims=keepdims)


_max = Primitive('max', _max_impl)
_max.def_jvp(_extremum_jvp)
_max.def_vjp(_extremum_vjp)
_min = Primitive('min', _min_impl)
_min.def_jvp(_extremum_jvp)
_min.def_vjp(_extremum_vjp)


def max(a: ArrayLike, axis: Axis = None, out: None = None, keepdims: bool = False) -> Array:
    """numpy.max; the derivative is split evenly among the entries that tie for
    the maximum (as in JAX)."""
    a = listed(a)
    _check_out('max', out)
    shape = shape_of(a)
    axes = _check_axes('max', axis, len(shape))
    _require_nonempty('max', shape, axes)
    return _max(a, axes, bool(keepdims))


def min(a: ArrayLike, axis: Axis = None, out: None = None, keepdims: bool = False) -> Array:
    """numpy.min; the derivative is split evenly among ties (as in JAX)."""
    a = listed(a)
    _check_out('min', out)
    shape = shape_of(a)
    axes = _check_axes('min', axis, len(shape))
    _require_nonempty('min', shape, axes)
    return _min(a, axes, bool(keepdims))


amax = max
amin = min


# ----------------------------------------------------------------- var, std
def _dof(x, axes, ddof):
    return _count(shape_of(x), axes) - ddof


def _centered(x, axes):
    """x minus its mean over axes (kept), written with primitives."""
    return x - _sum(x, axes, True) / _count(shape_of(x), axes)


def _var_impl(x, axes, ddof, keepdims):
    return _np.var(x, axis=axes, ddof=ddof, keepdims=keepdims)


def _std_impl(x, axes, ddof, keepdims):
    return _np.std(x, axis=axes, ddof=ddof, keepdims=keepdims)


def _inverse_dof(x, axes, ddof):
    dof = _dof(x, axes, ddof)
    return 1.0 / dof if dof > 0 else _np.inf   # NumPy's var is inf/nan there too


# d var = 2/(N - ddof) Σ (x - mean) dx   (the mean's own variation sums to zero)
_var = Primitive('var', _var_impl)
_var.def_jvp(lambda t, ans, x, axes, ddof, keepdims: _reduce_jvp(
    t, x, _centered(x, axes) * (2.0 * _inverse_dof(x, axes, ddof)), axes, keepdims))
_var.def_vjp(lambda g, ans, x, axes, ddof, keepdims: restore_reduced(g, ans, x, axes, keepdims)
             * (_centered(x, axes) * (2.0 * _inverse_dof(x, axes, ddof))))

# d std = d var / (2 std)
_std = Primitive('std', _std_impl)
_std.def_jvp(lambda t, ans, x, axes, ddof, keepdims: _reduce_jvp(
    t, x, _centered(x, axes) * _inverse_dof(x, axes, ddof), axes, keepdims) / ans)
_std.def_vjp(lambda g, ans, x, axes, ddof, keepdims: restore_reduced(g / ans, ans, x, axes, keepdims)
             * (_centered(x, axes) * _inverse_dof(x, axes, ddof)))


def _moment_args(name, a, axis, dtype, out, ddof):
    _check_out(name, out)
    if dtype is not None:
        raise NotImplementedError(f'{name}: the dtype= argument is not supported; '
                                  f'cast with astype first')
    axes = _check_axes(name, axis, ndim_of(a))
    try:
        ddof = int(ddof)
    except TypeError:
        raise TypeError(f'{name}: ddof must be an integer, got {type(ddof).__name__}') from None
    return axes, ddof


def var(a: ArrayLike, axis: Axis = None, dtype: DTypeLike = None, out: None = None, ddof: int = 0,
        keepdims: bool = False) -> Array:
    """numpy.var (with ddof); of a complex array, the mean of |a - mean|², real."""
    a = listed(a)
    axes, ddof = _moment_args('var', a, axis, dtype, out, ddof)
    if dtype_of(a).kind == 'c':
        return _complex_var(a, axes, ddof, bool(keepdims))
    if _count(shape_of(a), axes) != _count(shape_of(a), axes):
        return _unknown_count_moment(a, axes, bool(keepdims), ddof)
    return _var(a, axes, ddof, bool(keepdims))


def std(a: ArrayLike, axis: Axis = None, dtype: DTypeLike = None, out: None = None, ddof: int = 0,
        keepdims: bool = False) -> Array:
    """numpy.std (with ddof).  Its derivative is infinite where std is 0, as sqrt's."""
    a = listed(a)
    axes, ddof = _moment_args('std', a, axis, dtype, out, ddof)
    if _count(shape_of(a), axes) == 1:
        # one value per reduction: std is the constant 0 (nan for ddof >= 1) whatever
        # the value, so every derivative is 0 (its rule would divide 0 by 0)
        from .manipulation import stop_gradient
        a = stop_gradient(a)
    if dtype_of(a).kind == 'c' or _count(shape_of(a), axes) != _count(shape_of(a), axes):
        from .elementwise import sqrt
        return sqrt(var(a, axes, ddof=ddof, keepdims=keepdims))
    return _std(a, axes, ddof, bool(keepdims))


def _complex_var(a, axes, ddof, keepdims):
    # |z - mean z|² = (x - mean x)² + (y - mean y)²: the variances of the two parts
    from .complexes import real, imag
    return _var(real(a), axes, ddof, keepdims) + _var(imag(a), axes, ddof, keepdims)


# ----------------------------------------------------------------- logsumexp
def _logsumexp_impl(a, b, axes, keepdims):
    xp = namespace(a, b)
    a = xp.asarray(a)
    if not axes:
        shift = a
    elif a.size == 0:       # scipy's answer for an empty sum: log(0) = -inf
        shift = xp.zeros(_kept_shape(a.shape, axes), dtype=a.dtype)
    else:       # (a real shift, also for complex a: the log stays the principal one)
        shift = xp.max(a.real if a.dtype.kind == 'c' else a, axis=axes, keepdims=True)
    # a row of -inf (or with +inf) has no finite shift: use 0 there, which gives
    # -inf (inf) exactly
    shift = xp.where(xp.isfinite(shift), shift, 0)
    terms = xp.exp(a - shift)
    if b is not None:
        terms = b * terms
    with _np.errstate(divide='ignore'):
        out = xp.log(xp.sum(terms, axis=axes, keepdims=True)) + shift
    if not keepdims:
        out = xp.reshape(out, tuple(d for i, d in enumerate(out.shape) if i not in axes))
        if out.ndim == 0 and xp is _np:
            out = out[()]
    return out


def _softmax_factor(ans, a, axes, keepdims):
    """exp(a - logsumexp(a)), with the -inf rows (whose logsumexp is -inf) giving
    0 rather than exp(-inf + inf) = nan; differentiable."""
    from .elementwise import where, exp
    kept = _kept(ans, a, axes, keepdims)
    xp = namespace(a)
    if holds_batch(kept):
        from .elementwise import equal
        from .manipulation import stop_gradient
        return exp(a - where(equal(stop_gradient(kept), -_np.inf), 0.0, kept))
    empty = xp.asarray(innermost(kept)) == -_np.inf
    # (on a GPU the check would cost a synchronisation: the where is done always)
    if xp is not _np or empty.any():
        kept = where(empty, 0.0, kept)
    return exp(a - kept)


def _lse_weights(ans, a, b, axes, keepdims):
    w = _softmax_factor(ans, a, axes, keepdims)
    return w if b is None else w * b


# (holomorphic in a and b for complex values, log's branch as NumPy's: the weights
# exp(a - logsumexp) are the complex derivative, and the VJP g * weights is right)
_logsumexp = Primitive('logsumexp', _logsumexp_impl, complex_rules=True)
_logsumexp.def_jvp(
    lambda t, ans, a, b, axes, keepdims: _reduce_jvp(
        t, a, _lse_weights(ans, a, b, axes, keepdims), axes, keepdims),
    lambda t, ans, a, b, axes, keepdims: _reduce_jvp(
        t, b, _softmax_factor(ans, a, axes, keepdims), axes, keepdims))
_logsumexp.def_vjp(
    lambda g, ans, a, b, axes, keepdims: restore_reduced(g, ans, a, axes, keepdims)
    * _lse_weights(ans, a, b, axes, keepdims),
    lambda g, ans, a, b, axes, keepdims: restore_reduced(g, ans, b, axes, keepdims)
    * _softmax_factor(ans, a, axes, keepdims))


def logsumexp(a: ArrayLike, axis: Axis = None, b: Optional[ArrayLike] = None,
              keepdims: bool = False, return_sign: bool = False) -> Array:
    """scipy.special.logsumexp: log(sum(b * exp(a))) over axis, computed stably.

    A slice that is all -inf gives -inf, with a zero (not nan) derivative.  ``b``
    (a scale factor, broadcast against a) is differentiable too; return_sign is
    not supported.  Complex ``a`` or ``b`` give log's principal branch of the
    complex sum (holomorphic)."""
    a = listed(a)
    if return_sign:
        raise NotImplementedError('logsumexp: return_sign = True is not supported')
    if b is not None:
        from .manipulation import broadcast_to
        try:
            shape = tuple(_np.broadcast_shapes(shape_of(a), shape_of(b)))
        except ValueError:
            raise ValueError(f'logsumexp: a of shape {tuple(shape_of(a))} and b of shape '
                             f'{tuple(shape_of(b))} do not broadcast') from None
        a = broadcast_to(a, shape)
        b = broadcast_to(b, shape)
    axes = _check_axes('logsumexp', axis, ndim_of(a))
    return _logsumexp(a, b, axes, bool(keepdims))


# ----------------------------------------------------------------- cumsum, cumprod
def _cumsum_impl(x, axis):
    if type(x) is not _np.ndarray and is_dask(x):
        return dask_cumulative(x, axis)     # (also with lengths unknown until computed)
    return _np.cumsum(x, axis=axis)


def _rcumsum_impl(x, axis):
    """Sums from the end: out[i] = sum(x[i:]) along axis (cumsum's adjoint)."""
    if type(x) is not _np.ndarray and is_dask(x):
        return dask_flip(dask_cumulative(dask_flip(x, axis), axis), axis)
    xp = namespace(x)
    return xp.flip(xp.cumsum(xp.flip(x, axis), axis=axis), axis)


_cumsum = Primitive('cumsum', _cumsum_impl, complex_rules=True)
_rcumsum = Primitive('reverse_cumsum', _rcumsum_impl, complex_rules=True)
_cumsum.def_jvp(lambda t, ans, x, axis: _cumsum(t, axis + batch_ndim(t, x)))
_cumsum.def_vjp(lambda g, ans, x, axis: _rcumsum(g, axis + batch_ndim(g, ans)))
_rcumsum.def_jvp(lambda t, ans, x, axis: _rcumsum(t, axis + batch_ndim(t, x)))
_rcumsum.def_vjp(lambda g, ans, x, axis: _cumsum(g, axis + batch_ndim(g, ans)))


def _cumulative_args(name, a, axis, dtype, out):
    _check_out(name, out)
    if axis is None:
        if ndim_of(a) != 1:     # (a vector is flat: also one of a length unknown until computed)
            from .manipulation import reshape
            a = reshape(a, (-1,))
        axis = 0
    else:
        try:
            axis = normalize_axis(axis, ndim_of(a))
        except (TypeError, ValueError) as e:
            raise type(e)(f'{name}: {e}') from None
    if dtype is not None:
        from .manipulation import astype
        a = astype(a, dtype)
    return a, axis


def cumsum(a: ArrayLike, axis: Axis = None, dtype: DTypeLike = None, out: None = None) -> Array:
    """numpy.cumsum (axis=None: over the flattened array)."""
    a = listed(a)
    a, axis = _cumulative_args('cumsum', a, axis, dtype, out)
    return _cumsum(a, axis)


def _cumprod_impl(x, axis):
    if type(x) is not _np.ndarray and is_dask(x):
        return dask_cumulative(x, axis, product=True)
    return _np.cumprod(x, axis=axis)


def _cumprod_jacobian(x, axis):
    """P[..., i, k] = ∂cumprod(x)_i / ∂x_k, with the cumprod axis moved last:
    the partials of prod over the masked rows M[i, k] = x_k (k <= i) else 1,
    so zeros get prod's exact treatment.  O(n²) along the axis: used only when
    the axis holds a zero."""
    from .elementwise import where
    from .manipulation import moveaxis
    xm = moveaxis(x, axis, -1)
    shape = tuple(shape_of(xm))
    n = shape[-1]
    lower = _np.tri(n, dtype=bool)
    rows = where(lower, xm[..., None, :], 1.0)
    last = (len(shape),)
    partials = _prod_partials(rows, _prod(rows, last, True), last)
    return where(lower, partials, 0.0)


def _has_zero(x):
    if is_dask(x) or holds_batch(x):
        return True     # unknown until computed: the formula that holds with zeros
    return bool((namespace(x).asarray(innermost(x)) == 0).any())


def _cumprod_jvp(t, ans, x, axis):
    bnd = batch_ndim(t, x)
    if not _has_zero(x):
        return ans * _cumsum(t / x, axis + bnd)
    from .manipulation import moveaxis
    tm = moveaxis(t, axis + bnd, -1)
    ts = tuple(shape_of(tm))
    dy = _sum(_cumprod_jacobian(x, axis) * tm[..., None, :], (len(ts),), False)
    return moveaxis(dy, -1, axis + bnd)


def _cumprod_vjp(g, ans, x, axis):
    bnd = batch_ndim(g, ans)
    if not _has_zero(x):
        return _rcumsum(g * ans, axis + bnd) / x
    from .manipulation import moveaxis
    gm = moveaxis(g, axis + bnd, -1)
    gs = tuple(shape_of(gm))
    gx = _sum(_cumprod_jacobian(x, axis) * gm[..., None], (len(gs) - 1,), False)
    return moveaxis(gx, -1, axis + bnd)


_cumprod = Primitive('cumprod', _cumprod_impl, complex_rules=True)
_cumprod.def_jvp(_cumprod_jvp)
_cumprod.def_vjp(_cumprod_vjp)


def cumprod(a: ArrayLike, axis: Axis = None, dtype: DTypeLike = None, out: None = None) -> Array:
    """numpy.cumprod (axis=None: over the flattened array).  Exact derivatives at
    zeros too (an O(n²) rule along the axis is used when it holds a zero)."""
    a = listed(a)
    a, axis = _cumulative_args('cumprod', a, axis, dtype, out)
    if unknown_length(shape_of(a)):     # (its derivative: a triangle of the axis's length)
        derivative_needs_lengths('cumprod', a, (axis,))
    return _cumprod(a, axis)


# ----------------------------------------------------------------- no derivative
def _any_impl(x, axes, keepdims):
    return _np.any(x, axis=axes, keepdims=keepdims)


def _all_impl(x, axes, keepdims):
    return _np.all(x, axis=axes, keepdims=keepdims)


def _argmax_impl(x, axis, keepdims):
    return _np.argmax(x, axis=axis, keepdims=keepdims)


def _argmin_impl(x, axis, keepdims):
    return _np.argmin(x, axis=axis, keepdims=keepdims)


_any = Primitive('any', _any_impl, nondiff=True)
_all = Primitive('all', _all_impl, nondiff=True)
_argmax = Primitive('argmax', _argmax_impl, nondiff=True)
_argmin = Primitive('argmin', _argmin_impl, nondiff=True)


def any(a: ArrayLike, axis: Axis = None, out: None = None, keepdims: bool = False) -> Array:
    """numpy.any (no derivative: a boolean)."""
    a = listed(a)
    _check_out('any', out)
    return _any(a, _check_axes('any', axis, ndim_of(a)), bool(keepdims))


def all(a: ArrayLike, axis: Axis = None, out: None = None, keepdims: bool = False) -> Array:
    """numpy.all (no derivative: a boolean)."""
    a = listed(a)
    _check_out('all', out)
    return _all(a, _check_axes('all', axis, ndim_of(a)), bool(keepdims))


def _arg_axis(name, a, axis):
    if axis is None:
        return None
    try:
        return normalize_axis(axis, ndim_of(a))
    except (TypeError, ValueError) as e:
        raise type(e)(f'{name}: {e}') from None


def argmax(a: ArrayLike, axis: Axis = None, out: None = None, keepdims: bool = False) -> Array:
    """numpy.argmax (no derivative: an index)."""
    a = listed(a)
    _check_out('argmax', out)
    return _argmax(a, _arg_axis('argmax', a, axis), bool(keepdims))


def argmin(a: ArrayLike, axis: Axis = None, out: None = None, keepdims: bool = False) -> Array:
    """numpy.argmin (no derivative: an index)."""
    a = listed(a)
    _check_out('argmin', out)
    return _argmin(a, _arg_axis('argmin', a, axis), bool(keepdims))


__all__ = ['sum', 'mean', 'prod', 'max', 'min', 'amax', 'amin', 'var', 'std', 'logsumexp',
           'cumsum', 'cumprod', 'any', 'all', 'argmax', 'argmin']
