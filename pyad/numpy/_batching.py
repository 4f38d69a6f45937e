"""Shape helpers for rules: broadcasting and batched (co)tangents.

The one convention every rule follows: a tangent or cotangent of a value ``x``
has shape ``batch + x.shape``, where ``batch`` is () for one direction and
(B,) (or longer) when many directions are pushed or pulled in one pass.  A rule
finds the batch rank as ``ndim(t) - ndim(x)`` and never assumes it is zero.

Elementwise rules need only ``expand_to`` (JVP) and ``unbroadcast`` (VJP);
shape rules shift their axes by the batch rank with ``shift_axes``.
"""
from typing import Any, Sequence

import numpy as _np

from .._core.box import shape_of, ndim_of, dtype_of


def batch_ndim(t: Any, x: Any) -> int:
    """The number of leading batch axes of tangent ``t`` of value ``x``."""
    return ndim_of(t) - ndim_of(x)


def normalize_axis(axis, ndim, name='axis'):
    """A non-negative int axis, or a clear error in the user's terms."""
    try:
        a = int(axis)
    except TypeError:
        raise TypeError(f'{name} must be an integer, got {type(axis).__name__}') from None
    if not -ndim <= a < ndim:
        raise ValueError(f'{name} {axis} is out of bounds for an array of dimension {ndim}')
    return a % ndim if ndim else 0


def normalize_axes(axis, ndim):
    """Tuple of sorted non-negative axes; None means all axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(sorted(normalize_axis(a, ndim) for a in axis))
        if len(set(axes)) != len(axes):
            raise ValueError(f'repeated axis in {axis}')
        return axes
    return (normalize_axis(axis, ndim),)


def shift_axes(axes: Sequence[int], bnd: int) -> Sequence[int]:
    """Axes of a primal, as axes of its batched tangent."""
    if not bnd:
        return axes
    return tuple(a + bnd for a in axes)


def align(t, x, ans):
    """Lay out tangent ``t`` (batch + x.shape) so that it broadcasts against
    batch + ans.shape: insert the axes that broadcasting adds, after the batch."""
    xn = ndim_of(x)
    an = ndim_of(ans)
    if xn == an:
        return t
    ts = shape_of(t)
    bnd = len(ts) - xn
    if bnd == 0:
        return t
    from .manipulation import reshape
    return reshape(t, ts[:bnd] + (1,) * (an - xn) + ts[bnd:])


# scalar results: nothing was broadcast
_SCALARS = (float, _np.float64, _np.float32)


# (the backend's: one definition for the core and the rules)
from ..backend import scalar_of_broadcast, is_plain_array  # noqa: E402,F401


def same_shape(a, b):
    """a == b for shapes, where a length unknown until computed (NaN, as a Dask
    array of masked values has) matches another unknown one: no broadcasting
    can have happened between them."""
    return tuple(a) == tuple(b) or (len(a) == len(b) and all(
        p == q or (p != p and q != q) for p, q in zip(a, b)))


def expand_to(t: Any, x: Any, ans: Any) -> Any:
    """Broadcast tangent ``t`` (batch + x.shape) to batch + ans.shape."""
    if type(ans) in _SCALARS:
        return t
    xs = shape_of(x)
    as_ = shape_of(ans)
    if xs == as_ or same_shape(xs, as_):
        return t
    from .manipulation import broadcast_to
    bnd = ndim_of(t) - len(xs)
    t = align(t, x, ans)
    if any(d != d for d in as_):
        # a length unknown until computed (a Dask x[mask]): Dask's own broadcasting,
        # by adding zeros made block by block in ans's chunks
        from .._core.box import innermost
        return t + innermost(ans).map_blocks(_np.zeros_like)
    return broadcast_to(t, tuple(shape_of(t)[:bnd]) + tuple(as_))


def unbroadcast(g: Any, ans: Any, x: Any) -> Any:
    """Sum cotangent ``g`` (batch + ans.shape) down to batch + x.shape: the
    adjoint of NumPy's broadcasting of x to ans's shape (and of its promotion of
    a real x to a complex result, see ``real_for``)."""
    if type(ans) in _SCALARS:
        return g
    xs, as_ = shape_of(x), shape_of(ans)
    return real_for(g if xs == as_ else unbroadcast_shape(g, as_, xs), x, ans)


def real_for(c, x, ans):
    """The cotangent ``c`` of argument ``x`` as x's kind: where a real x met a
    complex operand, the result ``ans`` is complex and so is c, but x's share is
    real(c) (with the pairing Re(Σ c t) of a cotangent and a tangent, only the real
    part of c acts on a real tangent t)."""
    if c is None or dtype_of(ans).kind != 'c' or kind_of(x) == 'c':
        return c
    from .complexes import real
    return real(c)


def kind_of(v):
    """The dtype kind of a value ('f' for a Python int or float, 'c' for a complex)."""
    t = type(v)
    if t is float or t is int:
        return 'f'
    if t is complex:
        return 'c'
    return dtype_of(v).kind


def unbroadcast_shape(g, ans_shape, x_shape):
    """``unbroadcast`` given the two shapes rather than the values."""
    xs = tuple(x_shape)
    as_ = tuple(ans_shape)
    if xs == as_ or same_shape(xs, as_):
        return g
    from .reductions import sum as _sum
    from .manipulation import reshape
    gs = shape_of(g)
    bnd = len(gs) - len(as_)
    lead = len(as_) - len(xs)
    ones = tuple(bnd + lead + i for i, d in enumerate(xs) if d == 1 and as_[lead + i] != 1)
    axes = tuple(range(bnd, bnd + lead)) + ones
    if axes and any(d != d for d in xs):
        # a length unknown until computed (a lazy mask's) cannot be reshaped to: keep
        # the unit axes in the sum, and sum the leading ones away
        g = _sum(g, axis=ones, keepdims=True) if ones else g
        return _sum(g, axis=tuple(range(bnd, bnd + lead))) if lead else g
    if axes:
        g = _sum(g, axis=axes)
    return reshape(g, tuple(gs[:bnd]) + xs)
