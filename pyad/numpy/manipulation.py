"""Array manipulation (NumPy's name for the family): reshape, broadcast_to, expand_dims, squeeze, transpose, and
the functions built on them.  Their rules shift axes past the batch axes of
(co)tangents (see ``_batching``)."""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple, Union
from ..typing import Array, ArrayLike, Axis, DTypeLike, Shape, UnaryFunction
import operator as _operator

import numpy as _np

from .._core.primitive import Primitive
from .._core.traits import Traits

# reshapes, broadcasts and transposes: VJPs that read only shapes and return views of g
_VIEWS = Traits(reads='shapes', fresh=True)
from .._core.box import Box, shape_of, ndim_of, dtype_of, innermost
from .._core.batching import holds_batch
from ..backend import wrap_like, is_dask, known_on_client, derivative_needs_lengths, unknown_length
from ._batching import (batch_ndim, normalize_axis, normalize_axes, expand_to,
                        unbroadcast)


def _resolve_shape(size, newshape):
    """numpy's -1 resolution, with an error in the user's terms."""
    if isinstance(newshape, (int, _np.integer)):
        newshape = (int(newshape),)
    try:
        newshape = tuple(map(_operator.index, newshape))
    except TypeError:
        raise TypeError(f'reshape: the new shape must be integers, got {newshape!r}') from None
    if newshape.count(-1) > 1:
        raise ValueError('reshape: can only specify one unknown dimension (-1)')
    known = 1
    for d in newshape:
        if d != -1:
            known *= d
    if -1 in newshape:
        if known == 0 or size % known:
            raise ValueError(f'reshape: cannot reshape an array of size {size} into shape {newshape}')
        newshape = tuple(size // known if d == -1 else d for d in newshape)
    elif known != size:
        raise ValueError(f'reshape: cannot reshape an array of size {size} into shape {newshape}')
    return newshape


def _reshape_impl(x, shape):
    return _np.reshape(x, shape)


_reshape = Primitive('reshape', _reshape_impl, traits=_VIEWS, complex_rules=True)
_reshape.def_jvp(lambda t, ans, x, shape: _reshape(t, shape_of(t)[:batch_ndim(t, x)] + shape))
_reshape.def_vjp(lambda g, ans, x, shape: _reshape(g, shape_of(g)[:batch_ndim(g, ans)] + shape_of(x)))


def reshape(a: ArrayLike, newshape: Shape, order: str = 'C') -> Array:
    """numpy.reshape (C order)."""
    if order != 'C':
        raise NotImplementedError('reshape: only order="C" is supported')
    shape = shape_of(a)
    size = 1
    for d in shape:
        size *= d
    newshape = _resolve_shape(size, newshape)
    if newshape == tuple(shape):
        return a
    return _reshape(a, newshape)


def ravel(a: ArrayLike) -> Array:
    return reshape(a, (-1,))


flatten = ravel


def _broadcast_to_impl(x, shape):
    return _np.broadcast_to(x, shape)


_broadcast_to = Primitive('broadcast_to', _broadcast_to_impl, traits=_VIEWS, complex_rules=True)
_broadcast_to.def_jvp(lambda t, ans, x, shape: expand_to(t, x, ans))
_broadcast_to.def_vjp(lambda g, ans, x, shape: unbroadcast(g, ans, x))


def broadcast_to(array: ArrayLike, shape: Shape) -> Array:
    """numpy.broadcast_to (the result is a read-only view, as in NumPy)."""
    if isinstance(shape, (int, _np.integer)):
        shape = (int(shape),)
    shape = tuple(shape)
    if tuple(shape_of(array)) == shape:
        return array
    try:
        _np.broadcast_shapes(shape_of(array), shape)
    except ValueError:
        raise ValueError(f'broadcast_to: cannot broadcast an array of shape '
                         f'{tuple(shape_of(array))} to shape {shape}') from None
    return _broadcast_to(array, shape)


def broadcast_arrays(*args: ArrayLike) -> List[Array]:
    shape = _np.broadcast_shapes(*[shape_of(a) for a in args])
    return [broadcast_to(a, shape) for a in args]


def _transpose_impl(x, axes):
    return _np.transpose(x, axes)


def _batched_axes(axes, bnd):
    return tuple(range(bnd)) + tuple(a + bnd for a in axes)


def _inverse_permutation(axes):
    inverse = [0] * len(axes)
    for i, a in enumerate(axes):
        inverse[a] = i
    return tuple(inverse)


_transpose = Primitive('transpose', _transpose_impl, traits=_VIEWS, complex_rules=True)
_transpose.def_jvp(lambda t, ans, x, axes: _transpose(t, _batched_axes(axes, batch_ndim(t, x))))
_transpose.def_vjp(lambda g, ans, x, axes: _transpose(
    g, _batched_axes(_inverse_permutation(axes), batch_ndim(g, ans))))


def transpose(a: ArrayLike, axes: Any = None) -> Array:
    """numpy.transpose."""
    n = ndim_of(a)
    if axes is None:
        axes = tuple(range(n))[::-1]
    else:
        axes = tuple(normalize_axis(ax, n, 'transpose axis') for ax in axes)
        if sorted(axes) != list(range(n)):
            raise ValueError(f'transpose: axes {axes} are not a permutation of the {n} axes')
    if axes == tuple(range(n)):
        return a
    return _transpose(a, axes)


def swapaxes(a: ArrayLike, axis1: int, axis2: int) -> Array:
    n = ndim_of(a)
    axis1 = normalize_axis(axis1, n, 'axis1')
    axis2 = normalize_axis(axis2, n, 'axis2')
    perm = list(range(n))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return transpose(a, perm)


def moveaxis(a: ArrayLike, source: Union[int, Sequence[int]],
             destination: Union[int, Sequence[int]]) -> Array:
    n = ndim_of(a)
    src = [normalize_axis(s, n, 'source') for s in (source if isinstance(source, (tuple, list)) else (source,))]
    dst = [normalize_axis(d, n, 'destination') for d in (destination if isinstance(destination, (tuple, list)) else (destination,))]
    if len(src) != len(dst):
        raise ValueError('moveaxis: source and destination must have the same number of elements')
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, order)


def matrix_transpose(a: ArrayLike) -> Array:
    """Swap the last two axes (``x.mT``)."""
    if ndim_of(a) < 2:
        raise ValueError(f'matrix_transpose: needs at least 2 dimensions, got shape {shape_of(a)}')
    return swapaxes(a, -1, -2)


def expand_dims(a: ArrayLike, axis: int) -> Array:
    shape = list(shape_of(a))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    n = len(shape) + len(axes)
    for ax in sorted(normalize_axis(ax, n) for ax in axes):
        shape.insert(ax, 1)
    return reshape(a, tuple(shape))


def squeeze(a: ArrayLike, axis: Axis = None) -> Array:
    shape = shape_of(a)
    if axis is None:
        keep = [d for d in shape if d != 1]
    else:
        axes = normalize_axes(axis, len(shape))
        for ax in axes:
            if shape[ax] != 1:
                raise ValueError(f'squeeze: cannot select an axis to squeeze out which has size '
                                 f'not equal to one (axis {ax} of shape {tuple(shape)})')
        keep = [d for i, d in enumerate(shape) if i not in axes]
    return reshape(a, tuple(keep))


def _each(fn, arys):
    """NumPy's atleast_Nd: one array in, one out; several in, a tuple out."""
    if len(arys) == 1:
        return fn(arys[0])
    return tuple(fn(a) for a in arys)


def atleast_1d(*arys: ArrayLike) -> Union[Array, List[Array]]:
    return _each(lambda a: reshape(a, (1,)) if ndim_of(a) == 0 else a, arys)


def _atleast_2d(a):
    n = ndim_of(a)
    if n >= 2:
        return a
    return reshape(a, (1, 1) if n == 0 else (1,) + tuple(shape_of(a)))


def atleast_2d(*arys: ArrayLike) -> Union[Array, List[Array]]:
    return _each(_atleast_2d, arys)


# ----------------------------------------------------------------- dtype and gradient stops
def _astype_impl(x, dtype):
    if type(x) is float:
        return _np.dtype(dtype).type(x)
    if dtype.kind != 'c' and getattr(x, 'dtype', dtype).kind == 'c':
        x = x.real          # complex to real: the real part (as JAX; NumPy warns)
    return x.astype(dtype)


_astype = Primitive('astype', _astype_impl, complex_rules=True)
_astype.def_jvp(lambda t, ans, x, dtype: _astype(t, dtype))
_astype.def_vjp(lambda g, ans, x, dtype: _astype(g, dtype_of(x)))


def astype(x: ArrayLike, dtype: DTypeLike) -> Array:
    """Cast to another float or complex dtype, differentiably (derivatives are cast
    back; complex to real keeps the real part, and its derivative flows to it)."""
    dtype = _np.dtype(dtype)
    if dtype_of(x) == dtype:
        return x
    if dtype.kind not in 'fc' and isinstance(x, Box):
        # casting to int/bool drops the derivative, as in NumPy semantics
        return _np.asarray(innermost(x)).astype(dtype)
    return _astype(x, dtype)


def _identity(x):
    return x


_stop_gradient = Primitive('stop_gradient', _identity, nondiff=True,
                           doc='The value of x, as a constant: no derivative flows through it.')
stop_gradient: UnaryFunction = _stop_gradient



# ===================================================================== joining and splitting
def _atleast_3d(a):
    n = ndim_of(a)
    if n >= 3:
        return a
    shape = tuple(shape_of(a))
    return reshape(a, {0: (1, 1, 1), 1: (1,) + shape + (1,), 2: shape + (1,)}[n])


def atleast_3d(*arys: ArrayLike) -> Union[Array, List[Array]]:
    return _each(_atleast_3d, arys)


def _any_box(values):
    return any(isinstance(v, Box) for v in values)


def _as_operand(a):
    """A value concatenate can take: boxes and arrays as they are, the rest via asarray."""
    if isinstance(a, Box) or (hasattr(a, 'shape') and hasattr(a, 'dtype')):
        return a
    return _np.asarray(a)


def _xp(*values):
    from ..backend import namespace
    return namespace(*values)


def _zeros(shape, dtype, like):
    return _xp(like).zeros(tuple(shape), dtype=dtype)


def _zeros_of(x, batch, dtype, like):
    """Zeros of batch + x's shape; where x (unbatched) has a length unknown until
    computed (a Dask x[mask]'s), zeros like x, block by block."""
    shape = batch + tuple(shape_of(x))
    if batch or not unknown_length(shape):
        return _zeros(shape, dtype, like)
    return _xp(like).zeros_like(innermost(x), dtype=dtype)


def _concatenate_impl(*xs, axis):
    return _xp(*xs).concatenate(xs, axis=axis)      # (Dask's: also with unknown lengths)


def _concatenate_jvp(tangents, ans, xs, params):
    axis = params['axis']
    i = next(k for k, t in enumerate(tangents) if t is not None)
    ref = tangents[i]
    bnd = batch_ndim(ref, xs[i])
    batch = tuple(shape_of(ref)[:bnd])
    parts = [t if t is not None else _zeros_of(x, batch, dtype_of(ref), ref)
             for t, x in zip(tangents, xs)]
    return _concatenate(*parts, axis=axis + bnd)


def _piece(g, bnd, axis, start, stop):
    """g[..., start:stop, ...] along primal axis ``axis`` past the batch axes."""
    from .indexing import getitem
    return getitem(g, (slice(None),) * (bnd + axis) + (slice(start, stop),))


def _concatenate_vjp(g, ans, xs, params, positions):
    axis = params['axis']
    bnd = batch_ndim(g, ans)
    starts = [0]
    for x in xs:
        starts.append(starts[-1] + shape_of(x)[axis])
    out = []
    for i in positions:
        gi = _piece(g, bnd, axis, starts[i], starts[i + 1])
        if dtype_of(gi) != dtype_of(xs[i]):
            gi = astype(gi, dtype_of(xs[i]))
        out.append(gi)
    return out


_concatenate = Primitive('concatenate', _concatenate_impl, complex_rules=True)
_concatenate.def_jvp_joint(_concatenate_jvp)
_concatenate.def_vjp_joint(_concatenate_vjp)


def _same_lengths(s, t):
    """Equal shapes, where two lengths unknown until computed (nan, a Dask x[mask]'s)
    count as equal: Dask checks them when computed."""
    return s == t or all(a == b or (a != a and b != b) for a, b in zip(s, t))


def concatenate(arrays: ArrayLike, axis: int = 0) -> Array:
    """numpy.concatenate (axis=None flattens the arrays first)."""
    arrays = [_as_operand(a) for a in arrays]
    if not arrays:
        raise ValueError('concatenate: need at least one array to concatenate')
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    shapes = [tuple(shape_of(a)) for a in arrays]
    n = len(shapes[0])
    if n == 0:
        raise ValueError('concatenate: zero-dimensional arrays cannot be concatenated')
    for s in shapes:
        if len(s) != n:
            raise ValueError(f'concatenate: all input arrays must have the same number of '
                             f'dimensions, got shapes {shapes}')
    axis = normalize_axis(axis, n, 'concatenate: axis')
    for s in shapes:
        if not _same_lengths(s[:axis] + s[axis + 1:], shapes[0][:axis] + shapes[0][axis + 1:]):
            raise ValueError(f'concatenate: shapes {shapes} do not match except along axis {axis}')
    if len(arrays) == 1:
        return arrays[0]
    if unknown_length([s[axis] for s in shapes]):     # (its derivative splits the cotangent
        derivative_needs_lengths('concatenate', arrays, (axis,))    # where each array starts)
    return _concatenate(*arrays, axis=axis)


def stack(arrays: ArrayLike, axis: int = 0) -> Array:
    """numpy.stack: join arrays of one shape along a new axis."""
    arrays = [_as_operand(a) for a in arrays]
    if not arrays:
        raise ValueError('stack: need at least one array to stack')
    shapes = [tuple(shape_of(a)) for a in arrays]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(f'stack: all input arrays must have the same shape, got shapes {shapes}')
    if not _any_box(arrays):
        return _xp(*arrays).stack(arrays, axis=axis)
    axis = normalize_axis(axis, len(shapes[0]) + 1, 'stack: axis')
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis)


def hstack(tup: ArrayLike) -> Array:
    arrays = [atleast_1d(_as_operand(a)) for a in tup]
    if not arrays:
        raise ValueError('hstack: need at least one array')
    return concatenate(arrays, axis=0 if ndim_of(arrays[0]) == 1 else 1)


def vstack(tup: ArrayLike) -> Array:
    arrays = [atleast_2d(_as_operand(a)) for a in tup]
    if not arrays:
        raise ValueError('vstack: need at least one array')
    return concatenate(arrays, axis=0)


row_stack = vstack


def dstack(tup: ArrayLike) -> Array:
    arrays = [atleast_3d(_as_operand(a)) for a in tup]
    if not arrays:
        raise ValueError('dstack: need at least one array')
    return concatenate(arrays, axis=2)


def column_stack(tup: ArrayLike) -> Array:
    arrays = []
    for a in tup:
        a = _as_operand(a)
        if ndim_of(a) < 2:
            a = reshape(a, (-1, 1))
        arrays.append(a)
    if not arrays:
        raise ValueError('column_stack: need at least one array')
    return concatenate(arrays, axis=1)


def _split_impl(x, bounds, axis):
    return tuple(_xp(x).split(x, list(bounds), axis=axis))


def _split_vjp(gs, ans, x, bounds, axis):
    i = next(k for k, g in enumerate(gs) if g is not None)
    bnd = batch_ndim(gs[i], ans[i])
    batch = tuple(shape_of(gs[i])[:bnd])
    parts = [g if g is not None else _zeros(batch + tuple(shape_of(a)), dtype_of(gs[i]), gs[i])
             for g, a in zip(gs, ans)]
    return _concatenate(*parts, axis=axis + bnd) if len(parts) > 1 else parts[0]


# several results: the pieces tile the axis, so the VJP is a concatenation
_split = Primitive('split', _split_impl, multiple_results=True, complex_rules=True)
_split.def_jvp(lambda t, ans, x, bounds, axis: _split(t, bounds, axis + batch_ndim(t, x)))
_split.def_vjp(_split_vjp)


def _split_bounds(name, n, indices_or_sections, equal):
    if isinstance(indices_or_sections, (int, _np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError(f'{name}: number of sections must be larger than 0, got {sections}')
        if equal and n % sections:
            raise ValueError(f'{name}: an axis of length {n} cannot be split into {sections} '
                             f'equal sections (use array_split)')
        each, extra = divmod(n, sections)
        sizes = [each + 1] * extra + [each] * (sections - extra)
        bounds = list(_np.cumsum(sizes)[:-1])
        return [int(b) for b in bounds]
    return [int(b) for b in indices_or_sections]


def _split_common(name, ary, indices_or_sections, axis, equal):
    ary = _as_operand(ary)
    shape = tuple(shape_of(ary))
    if not shape:
        raise ValueError(f'{name}: cannot split a 0-d array')
    axis = normalize_axis(axis, len(shape), f'{name}: axis')
    n = shape[axis]
    bounds = _split_bounds(name, n, known_on_client(name, 'indices_or_sections', indices_or_sections),
                           equal)
    if not isinstance(ary, Box):
        return list(_xp(ary).split(ary, bounds, axis=axis))
    # piece k is ary[lo_k:hi_k] with Python slice semantics
    edges = [0] + bounds + [n]
    ranges = [slice(a, b).indices(n)[:2] for a, b in zip(edges[:-1], edges[1:])]
    tiles = all(hi >= lo for lo, hi in ranges) and ranges[0][0] == 0 and ranges[-1][1] == n \
        and all(ranges[k][1] == ranges[k + 1][0] for k in range(len(ranges) - 1))
    if tiles:
        return list(_split(ary, tuple(bounds), axis))
    from .indexing import getitem
    return [getitem(ary, (slice(None),) * axis + (slice(lo, hi),)) for lo, hi in ranges]


def split(ary: ArrayLike, indices_or_sections: Union[int, Sequence[int]], axis: int = 0) -> List[Array]:
    """numpy.split: a list of pieces (equal sections, or cut at the given indices)."""
    return _split_common('split', ary, indices_or_sections, axis, True)


def array_split(ary: ArrayLike, indices_or_sections: Union[int, Sequence[int]],
                axis: int = 0) -> List[Array]:
    """numpy.array_split: like split, sections may differ in length by one."""
    return _split_common('array_split', ary, indices_or_sections, axis, False)


def hsplit(ary: ArrayLike, indices_or_sections: Union[int, Sequence[int]]) -> List[Array]:
    if ndim_of(ary) == 0:
        raise ValueError('hsplit only works on arrays of 1 or more dimensions')
    return _split_common('hsplit', ary, indices_or_sections, 1 if ndim_of(ary) > 1 else 0, True)


def vsplit(ary: ArrayLike, indices_or_sections: Union[int, Sequence[int]]) -> List[Array]:
    if ndim_of(ary) < 2:
        raise ValueError('vsplit only works on arrays of 2 or more dimensions')
    return _split_common('vsplit', ary, indices_or_sections, 0, True)


# ===================================================================== repetition
def tile(A: ArrayLike, reps: Shape) -> Array:
    """numpy.tile, as a broadcast between two reshapes."""
    A = _as_operand(A)
    known_on_client('tile', 'reps', reps)
    reps = (int(reps),) if isinstance(reps, (int, _np.integer)) else tuple(int(r) for r in reps)
    if any(r < 0 for r in reps):
        raise ValueError(f'tile: negative repetitions {reps}')
    if not isinstance(A, Box):
        return _xp(A).tile(A, reps)
    shape = tuple(shape_of(A))
    d = max(len(shape), len(reps))
    shape = (1,) * (d - len(shape)) + shape
    reps = (1,) * (d - len(reps)) + reps
    if all(r == 1 for r in reps):
        return reshape(A, shape)
    inter = tuple(v for s in shape for v in (1, s))
    big = tuple(v for r, s in zip(reps, shape) for v in (r, s))
    out = broadcast_to(reshape(A, inter), big)
    return reshape(out, tuple(r * s for r, s in zip(reps, shape)))


def repeat(a: ArrayLike, repeats: ArrayLike, axis: Axis = None) -> Array:
    """numpy.repeat: each element repeated (an int, or one count per element)."""
    a = _as_operand(a)
    known_on_client('repeat', 'repeats', repeats)
    if axis is None and is_dask(a):     # (Dask's repeat takes an axis)
        a, axis = ravel(a), 0
    if not isinstance(a, Box):
        return _xp(a).repeat(a, repeats, axis=axis)
    if axis is None:
        a = ravel(a)
        axis = 0
    shape = tuple(shape_of(a))
    if not shape:
        a = reshape(a, (1,))
        shape = (1,)
    axis = normalize_axis(axis, len(shape), 'repeat: axis')
    n = shape[axis]
    reps = _np.asarray(repeats)
    if reps.dtype.kind not in 'iu':
        raise TypeError(f'repeat: repeats must be integers, got dtype {reps.dtype}')
    if (reps < 0).any():
        raise ValueError('repeat: negative repeats are not allowed')
    if reps.ndim == 0 or reps.size == 1:
        r = int(reps.reshape(()))
        inter = shape[:axis + 1] + (1,) + shape[axis + 1:]
        big = shape[:axis + 1] + (r,) + shape[axis + 1:]
        out = broadcast_to(reshape(a, inter), big)
        return reshape(out, shape[:axis] + (n * r,) + shape[axis + 1:])
    if reps.ndim != 1 or reps.shape[0] != n:
        raise ValueError(f'repeat: repeats of shape {reps.shape} do not match axis {axis} of '
                         f'length {n} (array of shape {shape})')
    return take(a, _np.repeat(_np.arange(n), reps), axis=axis)


# ===================================================================== reordering
def flip(m: ArrayLike, axis: Axis = None) -> Array:
    """numpy.flip: reverse the order of elements along the given axes (all when None)."""
    m = _as_operand(m)
    n = ndim_of(m)
    try:
        axes = normalize_axes(axis, n)
    except (ValueError, TypeError) as e:
        raise type(e)(f'flip: {e}') from None
    if not isinstance(m, Box):
        return _xp(m).flip(m, axis=axis)
    from .indexing import getitem
    return getitem(m, tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(n)))


def fliplr(m: ArrayLike) -> Array:
    if ndim_of(m) < 2:
        raise ValueError(f'fliplr: input must be at least 2-d, got shape {tuple(shape_of(m))}')
    return flip(m, 1)


def flipud(m: ArrayLike) -> Array:
    if ndim_of(m) < 1:
        raise ValueError('flipud: input must be at least 1-d')
    return flip(m, 0)


def roll(a: ArrayLike, shift: Union[int, Sequence[int]], axis: Axis = None) -> Array:
    """numpy.roll, as a concatenation of two slices per axis."""
    a = _as_operand(a)
    known_on_client('roll', 'shift', shift)
    if not isinstance(a, Box):
        return _xp(a).roll(a, shift, axis=axis)
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), tuple(shape_of(a)))
    shape = tuple(shape_of(a))
    shifts = _np.broadcast_arrays(_np.atleast_1d(shift), _np.atleast_1d(axis))
    total = {}
    for s, ax in zip(*shifts):
        ax = normalize_axis(int(ax), len(shape), 'roll: axis')
        total[ax] = total.get(ax, 0) + int(s)
    from .indexing import getitem
    for ax, s in total.items():
        n = shape[ax]
        if n == 0:
            continue
        s %= n
        if s == 0:
            continue
        lead = (slice(None),) * ax
        a = concatenate([getitem(a, lead + (slice(n - s, None),)),
                         getitem(a, lead + (slice(0, n - s),))], axis=ax)
    return a


def sort(a: ArrayLike, axis: int = -1, kind: Optional[str] = None,
         order: Optional[str] = None) -> Array:
    """numpy.sort; the derivative follows the elements (a gather by the stable argsort)."""
    if order is not None:
        raise NotImplementedError('sort: order =  (structured arrays) is not supported')
    a = _as_operand(a)
    if not isinstance(a, Box):
        return _xp(a).sort(a, axis=axis, kind=kind)
    if axis is None:
        a = ravel(a)
        axis = -1
    if ndim_of(a) == 0:
        raise ValueError('sort: cannot sort a 0-d array along an axis')
    axis = normalize_axis(axis, ndim_of(a), 'sort: axis')
    if holds_batch(a):      # under vmap: the permutation of each example
        from ._batched_index import argsort
        return take_along_axis(a, argsort(a, axis), axis)
    inner = innermost(a)
    idx = _xp(inner).argsort(inner, axis=axis, kind='stable')
    return take_along_axis(a, idx, axis)


# ===================================================================== gathering
def _index_like(idx, a):
    """Index array ``idx`` on the device of ``a`` (a no-op for NumPy)."""
    if isinstance(idx, int):
        return idx
    xp = _xp(a)
    return idx if xp is _np else xp.asarray(idx)


def _index_array(name, indices):
    idx = _np.asarray(innermost(indices)) if not hasattr(indices, 'dtype') else innermost(indices)
    if idx.dtype.kind not in 'iu':
        raise IndexError(f'{name}: indices must be integers, got dtype {idx.dtype}')
    return idx


def take(a: ArrayLike, indices: ArrayLike, axis: Axis = None, mode: Optional[str] = None) -> Array:
    """numpy.take (mode 'raise' only; negative indices count from the end)."""
    if mode not in (None, 'raise'):
        raise NotImplementedError(f"take: only mode='raise' is supported, got {mode!r}")
    a = _as_operand(a)
    if holds_batch(indices):
        from ._batched_index import batched_take
        return batched_take(a, indices, axis)
    idx = _index_array('take', indices)
    if not isinstance(a, Box):
        return _xp(a).take(a, _index_like(idx, a), axis=axis)
    if axis is None:
        a = ravel(a)
        axis = 0
    n = ndim_of(a)
    if n == 0:
        raise ValueError('take: cannot take from a 0-d array along an axis')
    axis = normalize_axis(axis, n, 'take: axis')
    size = shape_of(a)[axis]
    if idx.size and (int(idx.max()) >= size or int(idx.min()) < -size):
        raise IndexError(f'take: index out of bounds for axis {axis} with size {size}')
    from .indexing import getitem
    if idx.ndim == 0:
        idx = int(idx)
    return getitem(a, (slice(None),) * axis + (_index_like(idx, a),))


def take_along_axis(arr: ArrayLike, indices: ArrayLike, axis: int) -> Array:
    """numpy.take_along_axis (axis=None: on the flattened array)."""
    arr = _as_operand(arr)
    if holds_batch(indices):
        from ._batched_index import batched_take_along_axis
        if axis is None:
            arr, indices, axis = ravel(arr), ravel(indices), 0
        return batched_take_along_axis(arr, indices, normalize_axis(axis, ndim_of(arr)))
    idx = _index_array('take_along_axis', indices)
    if axis is None:
        if idx.ndim != 1:
            raise ValueError(f'take_along_axis: with axis=None, indices must be 1-d, got shape '
                             f'{idx.shape}')
        arr = ravel(arr)
        axis = 0
    shape = tuple(shape_of(arr))
    if idx.ndim != len(shape):
        raise ValueError(f'take_along_axis: indices (shape {idx.shape}) and arr (shape {shape}) '
                         f'must have the same number of dimensions')
    axis = normalize_axis(axis, len(shape), 'take_along_axis: axis')
    if not isinstance(arr, Box):
        return _xp(arr).take_along_axis(arr, idx, axis=axis)
    idx = _index_like(idx, arr)
    xp = _xp(idx)
    full = []
    for i, d in enumerate(shape):
        if i == axis:
            full.append(idx)
        else:
            full.append(xp.arange(d).reshape((1,) * i + (d,) + (1,) * (len(shape) - i - 1)))
    from .indexing import getitem
    return getitem(arr, tuple(full))


# ===================================================================== padding
def _pad_impl(x, widths, value):
    return _xp(x).pad(x, widths, mode='constant', constant_values=value)


def _pad_vjp(g, ans, x, widths, value):
    from .indexing import getitem
    bnd = batch_ndim(g, ans)
    shape = shape_of(x)
    return getitem(g, (slice(None),) * bnd + tuple(slice(b, b + n) for (b, _), n in zip(widths, shape)))


_pad = Primitive('pad', _pad_impl, complex_rules=True)
_pad.def_jvp(lambda t, ans, x, widths, value: _pad(t, ((0, 0),) * batch_ndim(t, x) + widths, 0))
_pad.def_vjp(_pad_vjp)


def _pad_widths(pad_width, n):
    pw = _np.asarray(pad_width)
    if pw.dtype.kind not in 'iu':
        raise TypeError(f'pad: pad_width must be integers, got {pad_width!r}')
    try:
        pw = _np.broadcast_to(pw, (n, 2))
    except ValueError:
        raise ValueError(f'pad: pad_width {pad_width!r} cannot be broadcast to ({n}, 2) for an '
                         f'array of dimension {n}') from None
    if (pw < 0).any():
        raise ValueError(f'pad: pad_width {pad_width!r} has negative entries')
    return tuple((int(b), int(a)) for b, a in pw)


def pad(array: ArrayLike, pad_width: Any, mode: str = 'constant',
        constant_values: ArrayLike = 0) -> Array:
    """numpy.pad in modes 'constant', 'edge', 'reflect', 'symmetric' and 'wrap'."""
    array = _as_operand(array)
    shape = tuple(shape_of(array))
    widths = _pad_widths(pad_width, len(shape))
    if mode not in ('constant', 'edge', 'reflect', 'symmetric', 'wrap'):
        raise NotImplementedError(f'pad: mode {mode!r} is not supported (constant, edge, '
                                  f'reflect, symmetric, wrap are)')
    if mode == 'constant':
        if isinstance(constant_values, Box):
            if ndim_of(constant_values):
                raise NotImplementedError('pad: a traced constant_values must be a scalar')
            # pad(x, c) = pad(x - c, 0) + c: differentiable in c too
            return _pad(array - constant_values, widths, 0) + constant_values
        cv = _np.asarray(constant_values)
        if cv.ndim:
            if not isinstance(array, Box):
                return _xp(array).pad(array, widths, mode='constant',
                                      constant_values=constant_values)
            raise NotImplementedError('pad: per-axis constant_values are supported on '
                                      'untraced arrays only')
        return _pad(array, widths, constant_values.item() if hasattr(constant_values, 'item')
                    else constant_values)
    if not isinstance(array, Box):
        return _xp(array).pad(array, widths, mode=mode)
    # every other mode gathers existing elements: numpy pads the positions for us
    for ax, (b, a) in enumerate(widths):
        if b == 0 and a == 0:
            continue
        if shape[ax] == 0:
            raise ValueError(f'pad: cannot pad an empty axis {ax} in mode {mode!r}')
        positions = _np.pad(_np.arange(shape[ax]), (b, a), mode=mode)
        array = take(array, positions, axis=ax)
    return array


# ===================================================================== triangles and diagonals
def _tri_mask(name, m, k, lower):
    shape = tuple(shape_of(m))
    if len(shape) < 1:
        raise ValueError(f'{name}: input must be at least 1-d, got a 0-d array')
    rows, cols = (shape[-2], shape[-1]) if len(shape) >= 2 else (shape[-1], shape[-1])
    mask = _np.tri(rows, cols, k=int(k) if lower else int(k) - 1, dtype=bool)
    return mask if lower else ~mask


def _tri(name, m, k, lower):
    m = _as_operand(m)
    if not isinstance(m, Box) and not (is_dask(m) and ndim_of(m) == 1):    # (Dask's: 2-d up)
        return wrap_like(getattr(_xp(m), name)(m, k=k), m)
    from .elementwise import where
    mask = _tri_mask(name, m, k, lower)
    return where(_xp(m).asarray(mask), m, _xp(m).zeros((), dtype=dtype_of(m)))


def tril(m: ArrayLike, k: int = 0) -> Array:
    """numpy.tril: zero above the k-th diagonal (of the last two axes)."""
    return _tri('tril', m, k, True)


def triu(m: ArrayLike, k: int = 0) -> Array:
    """numpy.triu: zero below the k-th diagonal (of the last two axes)."""
    return _tri('triu', m, k, False)


def _diag_positions(d1, d2, offset):
    if offset >= 0:
        length = max(0, min(d1, d2 - offset))
        rows = _np.arange(length)
        return rows, rows + offset
    length = max(0, min(d1 + offset, d2))
    cols = _np.arange(length)
    return cols - offset, cols


def diagonal(a: ArrayLike, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Array:
    """numpy.diagonal: the diagonal of axes (axis1, axis2), as the last axis."""
    a = _as_operand(a)
    shape = tuple(shape_of(a))
    n = len(shape)
    if n < 2:
        raise ValueError(f'diagonal: input must be at least 2-d, got shape {shape}')
    ax1 = normalize_axis(axis1, n, 'diagonal: axis1')
    ax2 = normalize_axis(axis2, n, 'diagonal: axis2')
    if ax1 == ax2:
        raise ValueError(f'diagonal: axis1 and axis2 cannot be the same (both {ax1})')
    if not isinstance(a, Box):
        return _xp(a).diagonal(a, offset=offset, axis1=ax1, axis2=ax2)
    rest = [i for i in range(n) if i not in (ax1, ax2)]
    a = transpose(a, tuple(rest) + (ax1, ax2))
    rows, cols = _diag_positions(shape[ax1], shape[ax2], int(offset))
    from .indexing import getitem
    return getitem(a, (Ellipsis, _index_like(rows, a), _index_like(cols, a)))


def trace(a: ArrayLike, offset: int = 0, axis1: int = 0, axis2: int = 1,
          dtype: DTypeLike = None) -> Array:
    """numpy.trace: the sum along a diagonal."""
    a = _as_operand(a)
    if not isinstance(a, Box):
        return _xp(a).trace(a, offset=offset, axis1=axis1, axis2=axis2, dtype=dtype)
    from .reductions import sum as _sum
    out = _sum(diagonal(a, offset, axis1, axis2), axis=-1)
    return out if dtype is None else astype(out, dtype)


def diag(v: ArrayLike, k: int = 0) -> Array:
    """numpy.diag: a 1-d array to a (square) diagonal matrix, or a 2-d array's k-th diagonal."""
    v = _as_operand(v)
    shape = tuple(shape_of(v))
    k = int(k)
    if len(shape) == 2:
        return diagonal(v, k, 0, 1)
    if len(shape) != 1:
        raise ValueError(f'diag: input must be 1-d or 2-d, got shape {shape}')
    if not isinstance(v, Box):
        return _xp(v).diag(v, k=k)
    n = shape[0]
    m = n + abs(k)
    if is_dask(v):
        # Dask cannot scatter at two index arrays: v (padded to m) times the k-th
        # diagonal of the identity, along rows (k >= 0) or columns (k < 0)
        w = concatenate([v, _np.zeros(abs(k), dtype=dtype_of(v))]) if k else v
        w = expand_dims(w, 1 if k >= 0 else 0)
        return w * _np.eye(m, k=k, dtype=dtype_of(v))
    rows, cols = _diag_positions(m, m, k)
    from .indexing import scatter_add
    return scatter_add(v, (_index_like(rows, v), _index_like(cols, v)), (m, m), 1)


def diagflat(v: ArrayLike, k: int = 0) -> Array:
    return diag(ravel(_as_operand(v)), k)


__all__ = ['reshape', 'ravel', 'flatten', 'broadcast_to', 'broadcast_arrays', 'transpose',
           'swapaxes', 'moveaxis', 'matrix_transpose', 'expand_dims', 'squeeze',
           'atleast_1d', 'atleast_2d', 'atleast_3d', 'astype', 'stop_gradient',
           'concatenate', 'stack', 'hstack', 'vstack', 'row_stack', 'dstack', 'column_stack',
           'split', 'array_split', 'hsplit', 'vsplit', 'tile', 'repeat', 'flip', 'fliplr',
           'flipud', 'roll', 'sort', 'take', 'take_along_axis', 'pad', 'tril', 'triu',
           'diagonal', 'trace', 'diag', 'diagflat']
