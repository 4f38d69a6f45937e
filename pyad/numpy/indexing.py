"""Indexing (``x[idx]``) and its adjoint, scatter-add.

Every NumPy index is supported: integers, slices, None, Ellipsis, integer and
boolean arrays.  The adjoint adds into zeros, with ``add.at`` wherever integer
arrays may repeat an index, so repeated indices accumulate correctly.

With batched (co)tangents the index is applied past the batch axes.  NumPy puts
the axes of *separated* advanced indices first (``x[0, :, [1, 2]]``); for those
the batch axes are moved to the end, indexed past, and moved back.
"""
import numpy as _np

from .._core.primitive import Primitive
from .._core.traits import Traits
from .._core.box import Box, innermost, shape_of, ndim_of, dtype_of
from .._core.batching import holds_batch
from ._batched_index import is_batched_index, batched_getitem
from ..backend import (namespace, wrap_like, is_dask, dask_getitem, dask_scatter_add, IN_PLACE,
                       DaskUnsupported)


def normalize_index(idx):
    """A tuple index with lists made arrays and boxed index arrays unwrapped."""
    if type(idx) is int:
        return (idx,)
    if not isinstance(idx, tuple):
        idx = (idx,)
    out = []
    for e in idx:
        if isinstance(e, Box) and holds_batch(e):
            out.append(e)       # differs between the examples of a vmap: see _batched_index
            continue
        if isinstance(e, Box):
            e = innermost(e)
            if dtype_of(e).kind == 'f':
                raise IndexError('arrays used as indices must be of integer or boolean type, '
                                 'got a float (traced) value')
        if isinstance(e, (list, tuple)):     # a sequence inside an index is an index array
            e = _np.asarray(e) if len(e) else _np.zeros(0, dtype=_np.intp)
            if e.dtype.kind == 'f':
                raise IndexError('arrays used as indices must be of integer or boolean type')
        out.append(e)
    return tuple(out)


def _is_array_index(e):
    return hasattr(e, 'dtype') and hasattr(e, 'ndim') and not isinstance(e, Box) and (
        e.ndim > 0 or e.dtype.kind == 'b')


def _has_array_index(idx):
    return any(_is_array_index(e) for e in idx)


def _is_integer_index(e):
    """An integer scalar: Python int, NumPy integer, or a 0-d integer array.  Next to
    an array index NumPy treats it as an advanced index too."""
    if isinstance(e, (bool, _np.bool_)):
        return False
    if isinstance(e, (int, _np.integer)):
        return True
    return hasattr(e, 'dtype') and getattr(e, 'ndim', None) == 0 and e.dtype.kind in 'iu'


def _advanced_separated(idx):
    """True when NumPy may move the advanced-index axes to the front (None and
    Ellipsis count as separators: the answer errs towards True, which is always
    safe for ``take_batched``, only slower)."""
    if not _has_array_index(idx):
        return False
    pos = [i for i, e in enumerate(idx) if _is_array_index(e) or _is_integer_index(e)]
    return pos != list(range(pos[0], pos[-1] + 1))


def _expand_ellipsis(idx, ndim):
    """The index with Ellipsis replaced (or appended) by explicit full slices."""
    consumed = 0
    for e in idx:
        if e is None or e is Ellipsis:
            continue
        if _is_array_index(e) and e.dtype.kind == 'b':
            consumed += e.ndim
        else:
            consumed += 1
    fill = (slice(None),) * (ndim - consumed)
    if any(e is Ellipsis for e in idx):
        k = next(i for i, e in enumerate(idx) if e is Ellipsis)
        return idx[:k] + fill + idx[k + 1:]
    return idx + fill


def take_batched(arr, idx, bnd):
    """arr[idx] applied past the first ``bnd`` (batch) axes of arr."""
    if bnd == 0:
        return getitem(arr, idx)
    from .manipulation import transpose
    if not _advanced_separated(idx):
        return getitem(arr, (slice(None),) * bnd + idx)
    n = ndim_of(arr)
    full = _expand_ellipsis(idx, n - bnd)
    moved = transpose(arr, tuple(range(bnd, n)) + tuple(range(bnd)))
    out = getitem(moved, full + (slice(None),) * bnd)
    m = ndim_of(out)
    return transpose(out, tuple(range(m - bnd, m)) + tuple(range(m - bnd)))


def _getitem_impl(x, idx):
    if type(x) is float:        # a 0-d (co)tangent may be a Python float
        x = _np.float64(x)
    x = _dask_if_indexed_by_dask(x, idx)
    if is_dask(x):
        return dask_getitem(x, idx)
    return x[idx]


def _dask_if_indexed_by_dask(x, idx):
    """A NumPy array (a constant seed, such as jacfwd's identity tangents) indexed by
    a Dask array or mask, as a Dask array: NumPy's own indexing would compute the
    index here."""
    if type(x) is _np.ndarray and _has_dask_entry(idx):
        import dask.array as da
        return da.from_array(x, chunks=-1)
    return x




def _plain_operand(x):
    """The plain array inside x, or None where x holds a vmap's batch (the buffer
    then has no plain shape to add into)."""
    return None if holds_batch(x) else innermost(x)


def _buffer_namespace(x):
    """The array module to make and fill x's adjoint buffer with: NumPy for a plain
    ndarray, the registered one for an array type the sweep may write into
    (pyad.jit's traced arrays, so that the trace records the buffer), else None."""
    t = type(x)
    if t is _np.ndarray:
        return _np
    return namespace(x) if t in IN_PLACE else None


def _getitem_add_into(buf, g, ans, primals, params, k=1.0):
    """Reverse-mode shortcut: add k times an unbatched plain cotangent g into the
    adjoint buffer of x at idx (fresh zeros when buf is None).  Declines (None)
    otherwise."""
    x = _plain_operand(primals[0])
    xp = _buffer_namespace(x)
    if xp is None or ndim_of(g) != ndim_of(ans):
        return None
    idx = primals[1]
    if len(idx) == 1 and type(idx[0]) is int:       # x[i]: the scalar-loop case
        return _add_at_element(xp.zeros(x.shape, dtype=x.dtype) if buf is None else buf,
                               idx[0], g, k)
    if any(_is_array_index(e) and e.dtype.kind != 'b' for e in idx):
        if buf is None:
            buf = xp.zeros(x.shape, dtype=x.dtype)
        xp.add.at(buf, idx, g if k == 1.0 else g * x.dtype.type(k))
        return buf
    if buf is None:
        rest = _slab_complement(idx, x.shape)
        if rest is not None:
            return _slab_buffer(xp, x, idx, rest, g, k)
        buf = xp.zeros(x.shape, dtype=x.dtype)
    if k == -1.0:
        buf[idx] -= g
    else:
        buf[idx] += g if k == 1.0 else g * x.dtype.type(k)
    return buf


def _add_at_element(buf, i, g, k):
    buf[i] += g if k == 1.0 else k * g
    return buf


def _slab_buffer(xp, x, idx, rest, g, k):
    """x[a:b] (along one axis): a new adjoint buffer with k * g written once at
    idx, zeros only where it is not (``rest``)."""
    buf = xp.empty(x.shape, dtype=x.dtype)
    if k == 1.0:
        buf[idx] = g
    else:       # a slab index: buf[idx] is a view
        xp.multiply(g, x.dtype.type(k), out=buf[idx])
    for r in rest:
        buf[r] = 0
    return buf


def _slab_complement(idx, shape):
    """For an index of slices that keeps a contiguous, non-empty range of one axis
    and all of the others (``x[1:]``, ``x[:, :-1]``): the indices of the rest of
    x (a list, maybe empty).  None for any other index."""
    if len(idx) > len(shape):
        return None
    partial = None
    for axis, e in enumerate(idx):
        if type(e) is not slice:
            return None
        start, stop, step = e.indices(shape[axis])
        if step != 1 or stop <= start:
            return None
        if start == 0 and stop == shape[axis]:
            continue
        if partial is not None:
            return None
        partial = (axis, start, stop)
    if partial is None:
        return []
    axis, start, stop = partial
    lead = (slice(None),) * axis
    rest = []
    if start > 0:
        rest.append(lead + (slice(0, start),))
    if stop < shape[axis]:
        rest.append(lead + (slice(stop, None),))
    return rest


# the VJPs make new arrays; reverse mode adds into the parent's adjoint in place
getitem = Primitive('getitem', _getitem_impl,
                    traits=Traits(fresh=True, add_into=_getitem_add_into), complex_rules=True)
getitem.def_jvp(lambda t, ans, x, idx: take_batched(t, idx, ndim_of(t) - ndim_of(x)))
getitem.def_vjp(lambda g, ans, x, idx: scatter_add(g, idx, tuple(shape_of(x)), ndim_of(ans)))


def _getitem_element_impl(x, idx):
    v = (_np.float64(x) if type(x) is float else x)[idx]
    return float(v) if type(v) is _np.float64 else v


# x[i] on a traced value (the scalar-loop case): the same primitive, but a float64
# element comes out as a Python float, so that the scalar code after it runs on
# Python floats (the math module, float arithmetic) instead of NumPy scalars.
def _element_add_into(buf, g, ans, primals, params, k=1.0):
    """_getitem_add_into for x[i] with a Python-float cotangent, the scalar-loop case,
    without its general checks."""
    x = primals[0]
    if type(g) is not float or type(x) is not _np.ndarray:
        return _getitem_add_into(buf, g, ans, primals, params, k)
    if buf is None:
        buf = _np.zeros(x.shape, dtype=x.dtype)
    buf[primals[1][0]] += g if k == 1.0 else k * g
    return buf


getitem_element = Primitive('getitem', _getitem_element_impl,
                            traits=getitem.traits.but(add_into=_element_add_into), complex_rules=True)
getitem_element.jvps = getitem.jvps
getitem_element.vjps = getitem.vjps


def _scatter_add_impl(g, idx, shape, out_ndim):
    """zeros(batch + shape) with g added at [idx] (past the batch axes)."""
    g = _dask_if_indexed_by_dask(g, idx)
    gshape = shape_of(g)
    bnd = len(gshape) - out_ndim
    batch = tuple(gshape[:bnd])
    xp = namespace(g)
    if type(g) is not _np.ndarray and any(d != d for d in shape):
        return wrap_like(_dask_scatter_unknown_lengths(innermost(g), batch, idx, shape), g)
    out = wrap_like(xp.zeros(batch + shape, dtype=dtype_of(g)), g)
    target, back = out, None
    if bnd == 0:
        full = idx
    elif not _advanced_separated(idx):
        full = (slice(None),) * bnd + idx
    else:
        n = len(shape)
        full = _expand_ellipsis(idx, n) + (slice(None),) * bnd
        target = xp.moveaxis(out, tuple(range(bnd)), tuple(range(n, n + bnd)))
        back = tuple(range(n, n + bnd)), tuple(range(bnd))
        g = xp.moveaxis(g, tuple(range(bnd)), tuple(range(out_ndim, out_ndim + bnd)))
    if is_dask(g):
        return _dask_scatter_add(xp, target, full, g, back)
    if any(_is_array_index(e) and e.dtype.kind != 'b' for e in idx):
        if hasattr(xp.add, 'at'):
            xp.add.at(target, full, g)          # NumPy; CuPy >= 13
        else:
            import cupyx                        # older CuPy
            cupyx.scatter_add(target, full, g)
    else:
        target[full] = g      # basic indexing never repeats an element
    return out


def _dask_scatter_unknown_lengths(g, batch, idx, shape):
    """_scatter_add_impl for a Dask cotangent of x[idx] where x has a length unknown
    until computed (x[mask]), so that no zeros of its shape can be made: for a basic
    index that keeps each such axis whole, block by block.  An axis the index keeps
    whole keeps g's chunks; the others (of known length) are made one chunk of g,
    and each block scattered into zeros of its own shape.  One NumPy index vector
    among slices (``x[:, [0, 2, 2]]``, ``take`` along a known axis) is added at
    block by block too."""
    full = (slice(None),) * len(batch) + _expand_ellipsis(idx, len(shape))
    shape = batch + shape
    if _has_array_index(idx) or any(is_dask(e) for e in idx):
        full = _one_index_vector(full)
    else:
        g, full = _ints_as_slices(*_without_new_axes(g, full), shape)
    whole = _kept_whole(full, shape)
    g = g.rechunk({i: -1 for i, w in enumerate(whole) if not w})
    chunks = tuple(c if w else (n,) for c, w, n in zip(g.chunks, whole, shape))
    lengths = tuple(None if w else n for w, n in zip(whole, shape))
    return g.map_blocks(_scatter_block, full, lengths, chunks=chunks, dtype=g.dtype)


def _one_index_vector(full):
    """full, an index of slices and one NumPy integer (or boolean) vector, with the
    vector's integers: that one vector picks along its axis, so that g has the same
    axes as x; any other index array is refused."""
    arrays = [e for e in full if type(e) is not slice]
    if len(arrays) != 1 or is_dask(arrays[0]) or not _is_array_index(arrays[0]) or arrays[0].ndim != 1:
        raise _needs_lengths('with index arrays other than one NumPy vector among slices')
    vector = arrays[0]
    picks = _np.flatnonzero(vector) if vector.dtype.kind == 'b' else vector
    return tuple(picks if e is vector else e for e in full)


def _kept_whole(full, shape):
    """For each axis, whether the slice of full on it keeps it whole (in order); an
    axis of unknown length must be."""
    whole = [type(e) is slice and (e == slice(None) or (n == n and e.indices(n) == (0, n, 1)))
             for e, n in zip(full, shape)]
    if not all(w or n == n for w, n in zip(whole, shape)):
        raise _needs_lengths('slicing an axis of unknown length')
    return whole


def _needs_lengths(what):
    return DaskUnsupported(
        f'pyad: the derivative of x[index] ({what}) needs the lengths of the Dask array x, which '
        f'are unknown until computed (the result of a lazy mask, x[x > 0]): call '
        f'x.compute_chunk_sizes() on it first')


def _without_new_axes(g, full):
    """g and the index full without its None entries (their axes squeezed from g)."""
    if all(e is not None for e in full):
        return g, full
    on_g = [e for e in full if e is None or type(e) is slice]     # (g's axes)
    g = g.squeeze(axis=tuple(i for i, e in enumerate(on_g) if e is None))
    return g, tuple(e for e in full if e is not None)


def _ints_as_slices(g, full, shape):
    """g and the index full (of slices and integers) with each integer a slice of one,
    its axis added to g."""
    if all(type(e) is slice for e in full):
        return g, full
    g = g[tuple(None if type(e) is not slice else slice(None) for e in full)]
    return g, tuple(e if type(e) is slice else slice(int(e) % n, int(e) % n + 1)
                    for e, n in zip(full, shape))


def _scatter_block(block, idx, lengths):
    """zeros (of block's shape, with ``lengths`` where not None) with block at idx."""
    out = _np.zeros(tuple(b if n is None else n for b, n in zip(block.shape, lengths)),
                    dtype=block.dtype)
    if all(type(e) is slice for e in idx):
        out[idx] = block
    else:
        _np.add.at(out, idx, block)         # (an index vector may repeat an entry)
    return out


def _dask_scatter_add(xp, target, full, g, back):
    """_scatter_add_impl's last step for a Dask cotangent.  A Dask array is not a
    view: the new (or assigned) one is returned, moved back (``back``) where
    target was moved."""
    if any(_is_array_index(e) or is_dask(e) for e in full):
        target = dask_scatter_add(tuple(shape_of(target)), dtype_of(g), full, g)
    elif any(e is None for e in full):
        # Dask assigns without new axes: g without them, into the region they index
        full = tuple(e for e in full if e is not None)
        region = _np.lib.stride_tricks.as_strided(_np.zeros(1), shape_of(target),
                                                  (0,) * ndim_of(target))[full].shape
        target[full] = g.reshape(region)
    else:
        target[full] = g
    return wrap_like(xp.moveaxis(target, *back) if back else target, g)


scatter_add = Primitive('scatter_add', _scatter_add_impl, complex_rules=True)
scatter_add.def_jvp(lambda t, ans, g, idx, shape, out_ndim: scatter_add(t, idx, shape, out_ndim))
scatter_add.def_vjp(lambda c, ans, g, idx, shape, out_ndim: take_batched(
    c, idx, ndim_of(c) - len(shape)))


def index(x, idx):
    """``x[idx]`` for any NumPy index."""
    idx = normalize_index(idx)
    if is_batched_index(idx):
        return batched_getitem(x, idx)
    steps = dask_mask_steps(idx, ndim_of(x))
    if steps is not None:
        return index_in_steps(x, steps)
    return getitem(x, idx)


def dask_mask_steps(idx, ndim):
    """A Dask boolean mask beside slices, None and integers, as (the basic index,
    then the mask among full slices -- what the lazy Dask path takes --, and where
    NumPy puts the masked axis: in place where the integers are next to the mask,
    else first).  None for any other index."""
    if not _one_dask_mask(idx):
        return None
    full = _expand_ellipsis(idx, ndim)
    k = next(i for i, e in enumerate(full) if _is_array_index(e))
    mask = full[k]
    if all(isinstance(e, slice) and e == slice(None) for e in full[:k] + full[k + 1:]):
        return None
    points = [i for i, e in enumerate(full) if i == k or _is_integer_index(e)]
    before = sum(1 for e in full[:k] if not _is_integer_index(e))
    separated = points != list(range(points[0], points[-1] + 1))
    return (full[:k] + (slice(None),) * mask.ndim + full[k + 1:],
            (slice(None),) * before + (mask,), (before, 0 if separated else before))


_PLAIN_INDEX = frozenset((slice, int, type(None), type(Ellipsis), _np.ndarray))


def _has_dask_entry(idx):
    for e in idx:
        if type(e) not in _PLAIN_INDEX and type(e).__module__.startswith('dask.'):
            return True
    return False


def _one_dask_mask(idx):
    """Whether the one array of ``idx`` is a Dask boolean mask (cheaply False for
    the usual index of slices, integers and NumPy arrays)."""
    if not _has_dask_entry(idx):
        return False
    masks = [e for e in idx if type(e).__module__.startswith('dask.') and e.dtype.kind == 'b']
    return len(masks) == 1 and sum(_is_array_index(e) for e in idx) == 1


def index_in_steps(x, steps):
    """x indexed by ``dask_mask_steps``'s two indices, the masked axis moved where
    NumPy puts it."""
    basic, masked, move = steps
    out = getitem(getitem(x, basic), masked)
    if move[0] == move[1]:
        return out
    from .manipulation import moveaxis
    return moveaxis(out, *move)


__all__ = []
