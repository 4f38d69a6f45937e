"""Reductions with ``axis`` and ``keepdims``."""
import numpy as _np

from .._core.primitive import Primitive
from .._core.box import shape_of, ndim_of
from ._batching import batch_ndim, normalize_axes, shift_axes


def _kept_shape(shape, axes):
    """The shape of a reduction over ``axes`` with keepdims=True."""
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def restore_reduced(g, ans, x, axes, keepdims):
    """Cotangent ``g`` of a reduction (batch + ans.shape), reshaped so that it
    broadcasts against batch + x.shape (the reduced axes back as size 1)."""
    if keepdims:
        return g
    from .shape import reshape
    gs = shape_of(g)
    bnd = len(gs) - ndim_of(ans)
    return reshape(g, tuple(gs[:bnd]) + _kept_shape(shape_of(x), axes))


def broadcast_reduced(g, ans, x, axes, keepdims):
    """The VJP of a sum: ``g`` spread back over the reduced axes of x."""
    from .shape import broadcast_to
    g = restore_reduced(g, ans, x, axes, keepdims)
    gs = shape_of(g)
    bnd = len(gs) - ndim_of(x)
    return broadcast_to(g, tuple(gs[:bnd]) + tuple(shape_of(x)))


def _sum_impl(x, axes, keepdims):
    return _np.sum(x, axis=axes, keepdims=keepdims)


_sum = Primitive('sum', _sum_impl)
_sum.def_jvp(lambda t, ans, x, axes, keepdims: _sum(t, shift_axes(axes, batch_ndim(t, x)), keepdims))
_sum.def_vjp(lambda g, ans, x, axes, keepdims: broadcast_reduced(g, ans, x, axes, keepdims))


def sum(a, axis=None, keepdims=False, dtype=None):
    """numpy.sum."""
    axes = normalize_axes(axis, ndim_of(a))
    out = _sum(a, axes, bool(keepdims))
    if dtype is not None:
        from .shape import astype
        out = astype(out, dtype)
    return out


def mean(a, axis=None, keepdims=False):
    """numpy.mean."""
    shape = shape_of(a)
    axes = normalize_axes(axis, len(shape))
    count = 1
    for ax in axes:
        count *= shape[ax]
    return _sum(a, axes, bool(keepdims)) / count if count else _sum(a, axes, bool(keepdims)) * _np.nan


__all__ = ['sum', 'mean']
