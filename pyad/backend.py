"""The array library behind a value: NumPy, CuPy for arrays that live on a GPU, or
Dask for chunked arrays that live on a cluster (see the end of this module).

pyad never chooses a device itself: CuPy arrays in give CuPy arrays out.  Rules
create arrays with ``*_like`` functions or through ``namespace(x)``, never with a
hard-coded ``numpy.zeros``, so every primitive runs where its inputs live.
"""
import functools

import numpy

# The box type of pyad's core (dual numbers, tape variables): registered by
# pyad._core.box when it is imported, so that this module imports nothing of the
# core (the core knows array libraries only through this module, not the reverse).
_BOX_TYPES = ()


def register_box_type(cls):
    global _BOX_TYPES
    _BOX_TYPES = (cls,)


def innermost(x):
    """The plain value under every layer of boxes."""
    while isinstance(x, _BOX_TYPES):
        x = x.primal
    return x

_cupy = None
_cupy_checked = False


def cupy_module():
    """The cupy module if it is installed and imports, else None."""
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy  # noqa: F401
            _cupy = cupy
        except Exception:   # not installed, or no driver: NumPy only
            _cupy = None
    return _cupy


# array types of other libraries, registered with their namespaces (see register)
_REGISTERED = {}
# those of them whose arrays the reverse sweep may add into in place, as into a
# NumPy array it made (pyad.jit's traced arrays)
IN_PLACE = set()


def register(array_type, xp, *, special=None, linalg=None, in_place=False):
    """Make pyad treat ``array_type`` as an array library of its own: ``namespace``
    returns ``xp`` for its values (``special`` and ``linalg`` stand for
    scipy.special and scipy.linalg).  CuPy is recognised without registering;
    the test suite registers a strict CPU stand-in for a device library, so that
    CI catches a host array mixed into device arithmetic.  ``in_place``: a buffer
    of this type that the sweep made with ``xp`` may be added into in place
    (``buf[i] += g``), as a NumPy one is."""
    _REGISTERED[array_type] = (xp, special, linalg)
    if in_place:
        IN_PLACE.add(array_type)


def registered(array_type):
    """(xp, special, linalg) of an array type made known with ``register``, else None."""
    return _REGISTERED.get(array_type)


def is_registered(value):
    """Whether ``value`` is an array of a library made known with ``register``."""
    return type(value) in _REGISTERED


def _registered_scipy(values, which):
    """The scipy.special (which=1) or scipy.linalg (2) stand-in registered for values."""
    for v in values:
        entry = _REGISTERED.get(type(innermost(v)))
        if entry is not None:
            if entry[which] is None:
                name = 'special' if which == 1 else 'linalg'
                raise TypeError(f'pyad.backend: {type(innermost(v)).__name__} arrays were registered '
                                f'without a scipy.{name} counterpart (register(..., {name}=...))')
            return entry[which]
    raise AssertionError('no registered array type among the values')


def namespace(*values):
    """The array module (numpy or cupy) for these values."""
    for v in values:
        t = type(v)
        if t is numpy.ndarray or t is float:
            continue                    # (plain values: no layers to look under)
        t = type(innermost(v))
        if t is numpy.ndarray or t is float:
            continue                    # (the common case, without string checks)
        if t.__module__.startswith('cupy'):
            return cupy_module()
        if t.__module__.startswith('dask.'):
            return dask_namespace()
        if _REGISTERED and t in _REGISTERED:
            return _REGISTERED[t][0]
    return numpy


def scipy_special(*values):
    """scipy.special or cupyx.scipy.special, to match the values."""
    xp = namespace(*values)
    if xp is numpy:
        import scipy.special
        return scipy.special
    if xp is _DASK:
        return xp.special
    if xp is not cupy_module():
        return _registered_scipy(values, 1)
    import cupyx.scipy.special
    return cupyx.scipy.special


def scipy_linalg(*values):
    """scipy.linalg or cupyx.scipy.linalg, to match the values."""
    xp = namespace(*values)
    if xp is numpy:
        import scipy.linalg
        return scipy.linalg
    if xp is _DASK:
        return xp.linalg
    if xp is not cupy_module():
        return _registered_scipy(values, 2)
    import cupyx.scipy.linalg
    return cupyx.scipy.linalg


def on_device_of(host, ref):
    """``host`` (a NumPy array or number) moved to ``ref``'s array library: a CuPy
    array for a CuPy ``ref``, unchanged for a NumPy one."""
    xp = namespace(ref)
    return host if xp is numpy else xp.asarray(host)


def is_array(x):
    """True for NumPy or CuPy arrays and scalars (not for Python numbers)."""
    return hasattr(x, 'dtype') and hasattr(x, 'shape')


def to_numpy(x):
    """A host (NumPy) copy of x, whichever device it is on."""
    x = innermost(x)
    if type(x).__module__.startswith('cupy'):
        return x.get()
    if type(x).__module__.startswith('dask.'):
        return numpy.asarray(x.compute())
    return numpy.asarray(x)


def wrap_like(out, *refs):
    """``out`` as the array type of the first ndarray subclass among ``refs``.

    Some library routines (scipy.linalg, numpy.where, broadcast_to) return a plain
    ``numpy.ndarray`` for an ndarray subclass input; implementations pass their
    results through this so that an array type that comes in goes out (NumPy
    scalars from 0-d results included).  For plain ndarrays, CuPy arrays and
    registered array types it returns ``out`` unchanged (their rules must build
    arrays through ``namespace``)."""
    for r in refs:
        r = innermost(r)
        cls = type(r)
        if cls is numpy.ndarray or not isinstance(r, numpy.ndarray) or cls in _REGISTERED:
            continue
        if type(out) is cls:
            return out
        if isinstance(out, (numpy.ndarray, numpy.generic)):
            return numpy.asarray(out).view(cls)
        return out
    return out


# ------------------------------------------------------------------ for the core
# What pyad._core needs of an array library, in one place: the core names no
# array library itself.
ndarray = numpy.ndarray
float64 = numpy.dtype(numpy.float64)
bool_ = numpy.bool_
# NumPy's scalar types (what a reduction to one value returns)
SCALAR_TYPES = (numpy.float64, numpy.float32, numpy.float16, numpy.complex128, numpy.complex64,
                numpy.int64, numpy.int32, numpy.bool_)


def identity_rows(xp, n, size, offset, dtype):
    """Rows ``offset`` .. ``offset + size`` of the n x n identity as an (n, size) array
    of ``xp``: ones where row = offset + column.  NumPy's is written into zeros
    (measured faster than numpy.eye's strided fill on a Jacobian's seeds); a
    library whose arrays cannot be written into (Dask) builds it with its eye."""
    if xp is numpy:
        block = numpy.zeros((n, size), dtype)
        cols = numpy.arange(size)
        block[offset + cols, cols] = 1
        return block
    return xp.eye(n, size, k=-offset, dtype=dtype)


def is_plain_array(r):
    """A NumPy or CuPy array (not a subclass, not a box): a rule that has just made
    r may compute into it in place."""
    t = type(r)
    return t is numpy.ndarray or (t is not float and t.__module__.startswith('cupy')
                                  and hasattr(r, 'shape') and r.ndim > 0)


def scalar_of_broadcast(c: object) -> object:
    """The one value of ``c`` when c is a plain ndarray whose strides are all 0 (a
    scalar broadcast to a shape, as the VJP of a sum or a mean makes), else None."""
    if type(c) is numpy.ndarray and c.size > 1 and not any(c.strides):
        return c[(0,) * c.ndim]
    return None


def broadcast_scalar(s, like):
    """The number s laid out as the array ``like`` is: a read-only broadcast view."""
    one = numpy.array(s, dtype=like.dtype)
    view = numpy.ndarray(like.shape, one.dtype, one, 0, (0,) * like.ndim)
    view.setflags(write=False)
    return view


def nbytes(x):
    """The bytes of a plain array's data, 0 for anything else."""
    return x.nbytes if type(x) is numpy.ndarray else 0


def result_type(x):
    return numpy.result_type(x)


def float_errors():
    """The floating-point error settings now in force (NumPy's errstate)."""
    return numpy.geterr()


def with_float_errors(settings, fn, *args, **params):
    """fn(*args, **params) under the floating-point settings ``settings``."""
    if settings is None or settings == numpy.geterr():
        return fn(*args, **params)
    with numpy.errstate(**settings):
        return fn(*args, **params)


def subtract_into(a, b):
    """a - b, written into b."""
    return numpy.subtract(a, b, out=b)


# ====================================================================== Dask
# Dask arrays are a backend of their own: ``namespace`` gives ``DASK``, which is
# dask.array completed with what pyad's rules need and Dask lacks (sorting and
# gathering along an axis held in one chunk), and which refuses, naming the
# function, what Dask cannot do lazily -- rather than let NumPy's dispatch pull
# the data into this process.  ``dask`` itself is imported only when a Dask array
# is first seen.

def is_dask(x):
    """True for a Dask array (looking inside a traced value)."""
    t = type(innermost(x))
    return t is not numpy.ndarray and t.__module__.startswith('dask.')


def any_true(mask):
    """Whether a boolean array has a True entry, where a rule asks only to skip work
    (a branch for NaNs, empty slices): True for a Dask array, whose values are not
    known on the client, so that the formula that holds for every input is taken."""
    return is_dask(mask) or bool(mask.any())


class DaskUnsupported(NotImplementedError):
    """A NumPy operation with no lazy Dask counterpart."""


def _unknown_lengths(value):
    """Whether value (or a list or tuple of values) holds a Dask array with a length
    unknown until computed (the result of a lazy mask, ``x[x > 0]``)."""
    if type(value) in (list, tuple):
        return any(_unknown_lengths(v) for v in value)
    return is_dask(value) and any(d != d for d in innermost(value).shape)


class _DerivativeNeedsLengths(ValueError):
    """A derivative that needs a length unknown until computed, refused where the
    function is traced (its value alone is lazy); the guard of the public function
    (names_unknown_lengths) names that function."""


_LAZY_MASK = 'unknown until computed (the result of a lazy mask, x[x > 0])'


def unknown_length(lengths):
    """Whether a shape (or a tuple of lengths) has a length unknown until computed
    (nan, as a Dask x[mask]'s): one sum, cheap where rules check it on every call."""
    total = sum(lengths)
    return total != total


def derivative_needs_lengths(name, x, axes):
    """Refuses a Dask ``x`` (or a list of values, one of them) whose length along one
    of ``axes`` is unknown until computed, where the derivative of ``name`` needs it
    and one of them is traced (being differentiated): the error comes now, naming
    the function, not from the backward sweep."""
    values = x if type(x) is list else (x,)
    if not any(isinstance(v, _BOX_TYPES) for v in values):
        return
    for v in values:
        if not is_dask(v):
            continue
        shape = innermost(v).shape
        unknown = [a for a in axes if shape[a] != shape[a]]
        if unknown:
            e = _DerivativeNeedsLengths(
                f'pyad.numpy.{name}: its derivative needs the length of axis {unknown[0]} of its '
                f'Dask argument (of shape {shape}), which is {_LAZY_MASK}: call '
                f'x.compute_chunk_sizes() on it first (its value alone is lazy)')
            e.axis = unknown[0]
            raise e


def names_unknown_lengths(name, fn):
    """fn, whose errors where an argument has lengths unknown until computed (Dask's
    or NumPy's, from code that needs those lengths) are DaskUnsupported naming it."""
    @functools.wraps(fn)
    def checked(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, TypeError, IndexError) as e:
            if isinstance(e, DaskUnsupported) or not (_unknown_lengths(args)
                                                      or _unknown_lengths(list(kwargs.values()))):
                raise
            if isinstance(e, _DerivativeNeedsLengths):
                raise DaskUnsupported(
                    f'pyad.numpy.{name}: its derivative needs the length of axis {e.axis} of its '
                    f'Dask argument, which is {_LAZY_MASK}: call x.compute_chunk_sizes() on it '
                    f'first (its value alone is lazy)') from e
            raise DaskUnsupported(
                f'pyad.numpy.{name} needs the lengths of its Dask argument, which are '
                f'{_LAZY_MASK}: call x.compute_chunk_sizes() on it first '
                f'({type(e).__name__}: {e})') from e
    return checked


def known_on_client(name, what, value):
    """``value`` as it is: an argument that decides shapes or where entries go (split
    points, repetitions, a shift), which must be known here to build a graph.  A
    Dask array there is refused, naming the function, rather than computed."""
    if is_dask(value):
        raise DaskUnsupported(f'pyad.numpy.{name}: {what} decides the shape of the result and must '
                              f'be known on the client: give a NumPy array, a list or ints, not a '
                              f'Dask array (compute it first: {what}.compute())')
    return value


def _one_chunk(name, x, axis):
    """``x`` with ``axis`` in one chunk: a row-wise operation along it (the unchunked
    axis of a row-chunked array) needs only the chunks of one block of rows; a 1-d
    array split into chunks is refused (it would have to be one chunk)."""
    axis = axis % x.ndim
    if len(x.chunks[axis]) > 1 and x.ndim > 1:
        return x.rechunk({axis: -1}), axis
    if len(x.chunks[axis]) > 1:
        raise DaskUnsupported(
            f'pyad: {name} on a Dask array works along an axis held in one chunk; axis {axis} of '
            f'the array of shape {x.shape} is split into {len(x.chunks[axis])} chunks. '
            f'Rechunk it first: x.rechunk({{{axis}: -1}}).')
    return x, axis


def _as_dask_like(idx, ref, axis):
    """Index array ``idx`` as a Dask array chunked like ``ref`` on every axis but ``axis``."""
    import dask.array as da
    if not isinstance(idx, da.Array):
        idx = da.from_array(numpy.asarray(idx), chunks=-1)
    shape = tuple(ref.shape[i] if i != axis else idx.shape[i] for i in range(ref.ndim))
    if idx.shape != shape:
        idx = da.broadcast_to(idx, shape)
    chunks = tuple(ref.chunks[i] if i != axis else (idx.shape[i],) for i in range(ref.ndim))
    return idx.rechunk(chunks)


def _is_int_array(e):
    return hasattr(e, 'ndim') and e.ndim > 0 and e.dtype.kind in 'iu'


def _is_arange_along(e, k, size):
    """Whether the index array ``e`` is arange(size) laid along its axis k."""
    return (isinstance(e, numpy.ndarray) and e.shape[k] == e.size == size
            and numpy.array_equal(e.reshape(-1), numpy.arange(size)))


def _along_axis(idx, ndim):
    """(axis, indices) where ``idx`` is take_along_axis's index of an array of ``ndim``
    axes -- full slices (batch axes), then one integer array per remaining axis, each
    an arange along its own axis but ``indices`` (or a Dask array of indices alone,
    as a sort of a vector gives) --, else None."""
    b = 0
    while b < len(idx) and isinstance(idx[b], slice) and idx[b] == slice(None):
        b += 1
    arrays = idx[b:]
    r = len(arrays)
    if b + r != ndim or not all(_is_int_array(e) and e.ndim == r for e in arrays):
        return None
    if r == 1 and not is_dask(arrays[0]):
        return None         # one NumPy array: gathered and scattered chunk by chunk
    rest = [k for k, e in enumerate(arrays) if not _is_arange_along(e, k, e.shape[k])]
    if len(rest) > 1:
        return None
    k = rest[0] if rest else 0
    return b + k, arrays[k]


def _padded(indices, ndim):
    """``indices`` with unit axes in front, to ``ndim`` axes."""
    return indices.reshape((1,) * (ndim - indices.ndim) + indices.shape)


def _expand_ellipsis(idx, ndim):
    for k, e in enumerate(idx):
        if e is Ellipsis:
            return idx[:k] + (slice(None),) * (ndim - len(idx) + 1) + idx[k + 1:]
    return idx


def _one_array_among_slices(idx):
    """The position of the one integer array (NumPy or Dask) of an index of slices
    and it, or None."""
    arrays = [k for k, e in enumerate(idx) if _is_int_array(e)]
    if len(arrays) != 1:
        return None
    if not all(isinstance(e, slice) for k, e in enumerate(idx) if k != arrays[0]):
        return None
    return arrays[0]


def dask_flip(x, axis):
    """``x`` reversed along ``axis``, also where that axis's chunk lengths are unknown
    until computed (x[mask]), which Dask's flip needs: the blocks in reverse order,
    each reversed, one task per chunk.  There its chunks are x's in reverse order,
    which would not line up with x's block by block: for steps flipped back before
    they meet x (the sums from the end of cumsum's derivative)."""
    import dask.array as da
    if not any(c != c for c in x.chunks[axis]):
        return da.flip(x, axis)
    lead = (slice(None),) * axis
    blocks = [x.blocks[lead + (i,)] for i in reversed(range(x.numblocks[axis]))]
    whole = da.concatenate(blocks, axis=axis, allow_unknown_chunksizes=True) if len(blocks) > 1 else x
    return whole.map_blocks(numpy.flip, axis=axis, dtype=x.dtype)


def dask_cumulative(x, axis, product=False, exclusive=False):
    """Dask's cumsum (cumprod) along ``axis``, also with lengths unknown until computed
    (x[mask]), where Dask's own fails: it carries the last entry of each block into
    the next (which an empty block lacks) and starts from a block of x's shape.  Along
    a known axis the blocks are made whole along it; along an unknown one each block's
    cumsum gets the total of the blocks before it, made from the block totals.
    ``exclusive``: the products of the entries before each (1 for the first)."""
    import dask.array as da
    total, running, combine = ((numpy.prod, numpy.cumprod, numpy.multiply) if product
                               else (numpy.sum, numpy.cumsum, numpy.add))
    if not exclusive and not any(c != c for c in sum(x.chunks, ())):
        return (da.cumprod if product else da.cumsum)(x, axis=axis)
    dtype = running(numpy.zeros(1, dtype=x.dtype)).dtype
    in_block = functools.partial(_exclusive, running) if exclusive else running
    if not any(c != c for c in x.chunks[axis]):
        return x.rechunk({axis: -1}).map_blocks(in_block, axis=axis, dtype=dtype)
    chunks = tuple((1,) * n if i == axis else c for i, (c, n) in enumerate(zip(x.chunks, x.numblocks)))
    totals = x.map_blocks(total, axis=axis, keepdims=True, dtype=dtype, chunks=chunks)
    upto = totals.rechunk({axis: -1}).map_blocks(running, axis=axis, dtype=dtype)
    lead = (slice(None),) * axis
    start = totals.blocks[lead + (0,)].map_blocks(numpy.full_like, int(product), dtype=dtype)
    before = dask_concatenate([start, upto[lead + (slice(None, -1),)]], axis)
    before = before.rechunk({axis: (1,) * x.numblocks[axis]})
    return da.map_blocks(_running_after, x, before, in_block, combine, axis=axis, dtype=dtype)


def _running_after(block, before, running, combine, axis):
    return combine(running(block, axis=axis), before)


def _exclusive(running, block, axis):
    """running (cumprod) of the entries before each along axis: 1 for the first."""
    out = numpy.ones_like(running(block[:0], axis=axis), shape=block.shape)
    if block.shape[axis] > 1:
        lead = (slice(None),) * axis
        out[lead + (slice(1, None),)] = running(block[lead + (slice(None, -1),)], axis=axis)
    return out


def dask_concatenate(xs, axis):
    """Dask's concatenate, also of arrays with lengths unknown until computed on the
    other axes (columns of one x[mask]), where their blocks line up one to one:
    the same number of chunks on each other axis, as for Dask's elementwise
    operations (lengths that differ fail when computed, as there)."""
    import dask.array as da
    xs = [da.asarray(x) for x in xs]
    unknown = any(c != c for x in xs for c in sum(x.chunks, ()))
    known_axis = all(c == c for x in xs for c in x.chunks[axis])
    lined_up = len({x.numblocks[:axis] + x.numblocks[axis + 1:] for x in xs}) == 1
    return da.concatenate(xs, axis=axis, allow_unknown_chunksizes=unknown and known_axis and lined_up)


def dask_getitem(x, idx):
    """``x[idx]`` for a Dask array with NumPy's meaning.  Dask indexes with one
    1-d integer array at a time: an n-d one gathers by its flat index, then splits
    the axis; take_along_axis's index (aranges on all axes but one) is a gather
    block by block along that axis; several NumPy arrays go through ``vindex``,
    several points one of which is a Dask array through their lazy flat index
    (``_gather_flat``); None beside integer arrays is added after indexing without
    it (``_none_layout``); a NumPy boolean mask is its ``nonzero`` arrays and a
    Dask one goes to ``_dask_mask_getitem``."""
    idx = _masks_as_points(idx)
    if _dask_mask_position(idx) is not None:
        return _dask_mask_getitem(x, idx)
    if any(e is None for e in idx) and any(_is_int_array(e) for e in idx):
        stripped, to_numpy, _ = _none_layout(_full_index(idx, x.ndim))
        return to_numpy(dask_getitem(x, stripped))
    p = _one_array_among_slices(idx)
    if p is not None and idx[p].ndim > 1:
        ind = idx[p]
        out = x[idx[:p] + (ind.reshape(-1),) + idx[p + 1:]]
        return out.reshape(out.shape[:p] + ind.shape + out.shape[p + 1:])
    if _native_points(idx):
        return x[idx]
    along = _along_axis(idx, x.ndim)
    if along is not None:
        axis, indices = along
        return dask_namespace().take_along_axis(x, _padded(indices, x.ndim), axis)
    full = _full_index(idx, x.ndim)
    if any(is_dask(e) for e in idx):
        return _gather_flat(x, full)
    return _vindex(x, full)


def _native_points(idx):
    """Whether Dask's own ``x[idx]`` places the points of ``idx`` as NumPy does: at
    most one integer array, and it (if Dask) adjacent to the integers.  Dask takes
    the integers first, so NumPy integer arrays separated from them are not."""
    arrays = [e for e in idx if _is_int_array(e)]
    if len(arrays) > 1:
        return False
    points = [k for k, e in enumerate(idx) if _is_point(e)]
    return not arrays or points == list(range(points[0], points[-1] + 1))


def _full_index(idx, ndim):
    """``idx`` with Ellipsis expanded and full slices appended, one entry per axis
    of x (and the Nones)."""
    idx = _expand_ellipsis(idx, ndim + sum(e is None for e in idx))
    return idx + (slice(None),) * (ndim - sum(e is not None for e in idx))


def _is_point(e):
    """An integer array or an integer (a 0-d Dask integer too, whose value is lazy)."""
    return _is_int_array(e) or isinstance(e, (int, numpy.integer)) or (
        is_dask(e) and e.ndim == 0 and e.dtype.kind in 'iu')


def _b_position(idx):
    """Where NumPy puts the broadcast axes of the points of ``idx`` (a full index):
    in place of the first where the points are adjacent, else first."""
    points = [k for k, e in enumerate(idx) if _is_point(e)]
    return points[0] if points == list(range(points[0], points[-1] + 1)) else 0


def _none_layout(idx):
    """For a full index with integer arrays and None: (the index without None,
    a function from its result to NumPy's, the inverse from a cotangent of NumPy's
    shape).  NumPy counts None as a separator of the points (then their broadcast
    axes go first); the new axes are added, or dropped, with the broadcast axes
    moved first, where the other axes are those of the slices and Nones in order."""
    import dask.array as da
    stripped = tuple(e for e in idx if e is not None)
    nb = len(numpy.broadcast_shapes(*[getattr(e, 'shape', ()) for e in idx if _is_point(e)]))
    basic = [e for e in idx if not _is_point(e)]
    first, here = tuple(range(nb)), _b_position(stripped)
    there = _b_position(idx)

    def to_numpy(y):
        y = da.moveaxis(y, tuple(range(here, here + nb)), first)
        y = y[(slice(None),) * nb + tuple(None if e is None else slice(None) for e in basic)]
        return da.moveaxis(y, first, tuple(range(there, there + nb)))

    def from_numpy(g):
        g = da.moveaxis(g, tuple(range(there, there + nb)), first)
        g = g[(slice(None),) * nb + tuple(0 if e is None else slice(None) for e in basic)]
        return da.moveaxis(g, first, tuple(range(here, here + nb)))
    return stripped, to_numpy, from_numpy


def _masks_as_points(idx):
    """``idx`` with each NumPy boolean mask (of one axis or several) replaced by its
    ``nonzero`` integer arrays, as NumPy defines it: their positions are known here."""
    out = ()
    for e in idx:
        if type(e) is numpy.ndarray and e.dtype == bool and e.ndim:
            out += numpy.nonzero(e)
        else:
            out += (e,)
    return out


def _checked_points(block, length, axis):
    """A block of (Dask) indices into an axis of ``length``, checked and made
    non-negative."""
    bad = (block < -length) | (block >= length)
    if bad.any():
        raise IndexError(f'pyad: index {int(block[bad].flat[0])} is out of bounds for axis {axis} '
                         f'with size {length}')
    return block % max(length, 1)


def _lazy_flat(idx, points, dims):
    """The points of ``idx`` (at least one a Dask array) as one lazy flat index into
    the indexed axes, of sizes ``dims``; an index out of bounds raises IndexError
    when computed."""
    import dask.array as da
    shapes = [getattr(idx[k], 'shape', ()) for k in points]
    try:
        numpy.broadcast_shapes(*shapes)
    except ValueError:
        raise IndexError('pyad: shape mismatch: indexing arrays could not be broadcast together '
                         f'with shapes {" ".join(str(tuple(s)) for s in shapes)}') from None
    arrays = da.broadcast_arrays(*[da.asarray(idx[k]) for k in points])
    checked = [a.map_blocks(_checked_points, d, k, dtype=numpy.intp) for k, a, d in zip(points, arrays, dims)]
    if not all(dims):
        return checked[0] * 0
    return da.ravel_multi_index(checked, dims)


def _gather_flat(x, idx):
    """x[idx] for a full index of several points, one of them a Dask array (Dask's
    own getitem takes one integer array only): the indexed axes merged into one
    (put first where NumPy puts their result first) and gathered by the lazy flat
    index with Dask's one-array getitem."""
    import dask.array as da
    points = [k for k, e in enumerate(idx) if _is_point(e)]
    x = x[tuple(slice(None) if k in points else e for k, e in enumerate(idx))]
    dims = tuple(x.shape[k] for k in points)
    flat = _lazy_flat(idx, points, dims)
    start, n = _b_position(idx), len(points)
    x = da.moveaxis(x, tuple(points), tuple(range(start, start + n)))
    x = x.rechunk({start + i: -1 for i in range(1, n)})
    x = x.reshape(x.shape[:start] + (int(numpy.prod(dims)),) + x.shape[start + n:])
    out = x[(slice(None),) * start + (flat.reshape(-1),)]
    return out.reshape(out.shape[:start] + flat.shape + out.shape[start + 1:])


def _vindex(x, idx):
    """x[idx] for several NumPy integer arrays (and slices, integers): Dask's
    ``vindex`` puts the broadcast axes first, so they are moved where NumPy puts
    them (in place, when the advanced indices are adjacent)."""
    advanced = [k for k, e in enumerate(idx) if _is_point(e)]
    # an integer next to the arrays is a point index too (shape (1,) broadcasts as ())
    points = tuple(numpy.asarray(e).reshape(numpy.shape(e) or (1,)) if k in advanced else e
                   for k, e in enumerate(idx))
    out = x.vindex[points]
    first = advanced[0]
    if first > 0 and advanced == list(range(first, advanced[-1] + 1)):
        nb = len(numpy.broadcast_shapes(*[points[k].shape for k in advanced]))
        import dask.array as da
        out = da.moveaxis(out, tuple(range(nb)), tuple(range(first, first + nb)))
    return out


def _add_at(block, local, length, axis):
    """zeros with ``length`` along ``axis`` (else block's shape), block added at ``local``."""
    out = numpy.zeros(block.shape[:axis] + (length,) + block.shape[axis + 1:], dtype=block.dtype)
    numpy.add.at(out, (slice(None),) * axis + (local,), block)
    return out


def _add_along(block, indices, length, axis):
    """take_along_axis's adjoint on one block: zeros with ``length`` along ``axis``,
    block added at ``indices`` (of block's shape) along it."""
    grid = list(numpy.ogrid[tuple(slice(0, d) for d in block.shape)]) if block.ndim > 1 else [None]
    grid[axis] = indices
    out = numpy.zeros(block.shape[:axis] + (length,) + block.shape[axis + 1:], dtype=block.dtype)
    numpy.add.at(out, tuple(grid), block)
    return out


def _scatter_along_axis(g, axis, indices, length):
    """zeros with ``length`` along ``axis`` and g added at take_along_axis's indices:
    block by block, along an axis held in one chunk."""
    import dask.array as da
    g = g.rechunk({axis: -1})
    idx = _as_dask_like(_padded(indices, g.ndim), g, axis)
    chunks = g.chunks[:axis] + ((length,),) + g.chunks[axis + 1:]
    return da.map_blocks(_add_along, g, idx, length, axis, dtype=g.dtype, chunks=chunks)


def _scatter_one_axis(g, axis, indices, length, size=None):
    """zeros with ``length`` along ``axis`` and g's axes axis..axis+indices.ndim-1
    (indices' shape) added at the NumPy ``indices``.  The indices are known here:
    g is gathered once in the order of its target positions (one shuffle, as
    the forward gather), cut where the output's chunks begin, and each piece added
    into its output chunk in one task."""
    import dask.array as da
    ind = numpy.asarray(indices) % max(length, 1)
    g = _merge_index_axes(g, axis, ind.shape)
    ind = ind.reshape(-1)
    if length == 0:
        return da.zeros(g.shape[:axis] + (0,) + g.shape[axis + 1:], dtype=g.dtype)
    size = size or max(g.chunks[axis], default=length) or 1
    starts = numpy.arange(0, length, size)
    order = numpy.argsort(ind, kind='stable')
    counts = tuple(int(c) for c in numpy.diff(numpy.searchsorted(ind[order], numpy.append(starts, length))))
    gathered = g[(slice(None),) * axis + (order,)].rechunk({axis: counts})
    local = ind[order] - numpy.repeat(starts, counts)
    local = da.from_array(local.reshape((1,) * axis + (-1,) + (1,) * (g.ndim - axis - 1)),
                          chunks=((1,),) * axis + (counts,) + ((1,),) * (g.ndim - axis - 1))
    chunks = g.chunks[:axis] + (tuple(numpy.minimum(size, length - starts).tolist()),) + g.chunks[axis + 1:]
    return da.map_blocks(_add_into_chunk, gathered, local, axis, dtype=g.dtype, chunks=chunks)


def _add_into_chunk(block, local, axis, block_info=None):
    """One output chunk: zeros of its shape, ``block`` added at ``local`` along ``axis``."""
    length = block_info[None]['chunk-shape'][axis]
    return _add_at(block, local.reshape(-1), length, axis)


def dask_scatter_add(shape, dtype, idx, g):
    """zeros(shape) with the Dask cotangent g added at the array index ``idx`` -- the
    adjoint of ``x[idx]`` --, lazily: for take_along_axis's index (as sort's
    derivative uses) along an axis held in one chunk, block by block; for NumPy
    integer arrays, masks and integers among slices (``x[[0, 2, 2]]``, ``take``,
    ``x[rows, cols]``, ``x[0, idx]``), chunk by chunk of the indexed axes (see
    ``_scatter_one_axis``); where one of them is a Dask integer array, each chunk of
    the indexed axis summed from every chunk of g (``_scatter_dask_indices``); for
    a Dask mask, block by block (``_scatter_dask_mask``)."""
    import dask.array as da
    g = da.asarray(g).astype(dtype)
    idx = _masks_as_points(idx)
    if _dask_mask_position(idx) is not None:
        return _scatter_dask_mask(shape, idx, g)
    along = _along_axis(idx, len(shape))
    if along is not None and not (len(shape) == 1 and len(g.chunks[0]) > 1):
        axis, indices = along
        return _scatter_along_axis(g, axis, indices, shape[axis])
    idx = _full_index(idx, len(shape))
    if any(e is None for e in idx):
        stripped, _, from_numpy = _none_layout(idx)
        return dask_scatter_add(shape, dtype, stripped, from_numpy(g))
    return _scatter_points_among_slices(shape, dtype, idx, g)


def _scatter_points_among_slices(shape, dtype, idx, g):
    """dask_scatter_add for a full index of integer arrays and integers among slices."""
    import dask.array as da
    points = [k for k, e in enumerate(idx) if _is_point(e)]
    sub = tuple(len(range(*e.indices(d))) if isinstance(e, slice) else d for e, d in zip(idx, shape))
    if len(points) == 1 and is_dask(idx[points[0]]):
        out = _scatter_dask_indices(g, points[0], idx[points[0]], sub[points[0]])
    elif len(points) == 1:
        out = _scatter_one_axis(g, points[0], idx[points[0]], sub[points[0]])
    else:
        out = _scatter_points(g, idx, points, sub)
    if sub == tuple(shape):
        return out
    basic = tuple(slice(None) if k in points else e for k, e in enumerate(idx))
    whole = da.zeros(shape, dtype=dtype, chunks=out.chunksize)
    whole[basic] = out
    return whole


def _host_flat(idx, points, dims):
    """The NumPy points of ``idx`` as one flat index into the indexed axes, of sizes
    ``dims``, checked here."""
    arrays = numpy.broadcast_arrays(*[numpy.asarray(idx[k]) for k in points])
    for k, a, d in zip(points, arrays, dims):
        if a.size and (a.min() < -d or a.max() >= d):
            raise IndexError(f'pyad: index {int(a.min() if a.min() < -d else a.max())} is out of '
                             f'bounds for axis {k} with size {d}')
    if not all(dims):
        return numpy.zeros(arrays[0].shape, dtype=numpy.intp)
    return numpy.ravel_multi_index(tuple(a % d for a, d in zip(arrays, dims)), dims)


def _scatter_points(g, idx, points, sub):
    """The adjoint of ``x[idx]`` where ``idx`` holds several integer arrays and
    integers (at ``points``) among slices: they are one flat index into the indexed
    axes together (made here from NumPy indices, lazily where one is a Dask array),
    scattered along one axis (chunks holding whole rows of the later indexed axes)
    and split into the axes again."""
    import dask.array as da
    dims = tuple(sub[k] for k in points)
    lazy = any(is_dask(idx[k]) for k in points)
    flat = (_lazy_flat if lazy else _host_flat)(idx, points, dims)
    start = _b_position(idx)
    row = int(numpy.prod(dims[1:]))
    per_chunk = int(numpy.prod([max(c) for c in g.chunks[start:start + flat.ndim]] or [1]))
    size = max(1, per_chunk // max(row, 1)) * max(row, 1)
    scatter = _scatter_dask_indices if lazy else _scatter_one_axis
    out = scatter(g, start, flat, int(numpy.prod(dims)), size)
    out = out.reshape(out.shape[:start] + dims + out.shape[start + 1:])
    return da.moveaxis(out, tuple(range(start, start + len(dims))), tuple(points))


def _in_range(block, ind, start, n, length, axis):
    """One chunk's share of the output chunk [start, start + n) along ``axis``: zeros
    there, with the rows of ``block`` whose (Dask) index falls in it added."""
    ind = ind.reshape(-1)
    bad = (ind < -length) | (ind >= length)
    if bad.any():
        raise IndexError(f'pyad: index {int(ind[bad][0])} is out of bounds for axis {axis} '
                         f'with size {length}')
    local = ind % max(length, 1) - start
    keep = (local >= 0) & (local < n)
    part = numpy.compress(keep, block, axis=axis)
    return _add_at(part, local[keep], n, axis)


def _chunked_vector(a):
    return a.ndim == 1 and len(a.chunks[0]) > 1


def _local_ranks(block):
    """Each element's position in the stable sort of its block."""
    ranks = numpy.empty(block.shape, dtype=numpy.intp)
    ranks[numpy.argsort(block, kind='stable')] = numpy.arange(block.size)
    return ranks


def _count_before(sorted_block, block, side):
    """How many elements of another (sorted) block sort before each of ``block``'s:
    those equal to it too (side='right') where that block comes first."""
    return numpy.searchsorted(sorted_block, block, side=side).astype(numpy.intp)


def _vector_ranks(a):
    """Each element's position in the stable sort of the chunked vector ``a``, lazily:
    its rank in its own chunk plus, for every other chunk, how many of that chunk's
    (sorted) elements precede it -- equal ones too where that chunk comes first.
    Each task holds two chunks; the counts of each chunk are a tree sum."""
    import dask.array as da
    blocks = [a.blocks[j] for j in range(len(a.chunks[0]))]
    ordered = [b.map_blocks(numpy.sort, kind='stable', dtype=a.dtype) for b in blocks]
    ranks = []
    for j, b in enumerate(blocks):
        parts = [b.map_blocks(_local_ranks, dtype=numpy.intp)]
        parts += [da.map_blocks(_count_before, ordered[c], b, 'right' if c < j else 'left',
                                dtype=numpy.intp, chunks=b.chunks)
                  for c in range(len(blocks)) if c != j]
        ranks.append(da.stack(parts).sum(axis=0, dtype=numpy.intp))
    return da.concatenate(ranks)


def _dask_mask_position(idx):
    """The position in ``idx`` of its Dask boolean mask, or None.  One such mask among
    full slices is indexed here; ``pyad.numpy``'s indexing splits other indices with
    one in two steps."""
    masks = [k for k, e in enumerate(idx) if is_dask(e) and e.dtype == bool]
    if not masks:
        return None
    if len(masks) > 1 or not all(e is Ellipsis or (isinstance(e, slice) and e == slice(None))
                                 for k, e in enumerate(idx) if k != masks[0]):
        raise DaskUnsupported('pyad: x[mask] with a Dask boolean mask works with one mask, beside '
                              'slices, None and integers (x[mask], x[:, mask], x[1:, mask], '
                              'x[0, :, mask]), not beside another mask or an index array; index '
                              'in separate steps')
    return masks[0]


def _mask_axes(idx, shape):
    """(the first axis a Dask mask covers, the mask) for an index of it and full
    slices, checking the mask's shape against those axes as NumPy does."""
    k = _dask_mask_position(idx)
    mask = idx[k]
    idx = _expand_ellipsis(idx, len(shape) - mask.ndim + 1)
    q = next(i for i, e in enumerate(idx) if e is mask)
    covered = tuple(shape[q:q + mask.ndim])
    if mask.shape != covered:
        raise IndexError(f'pyad: the boolean index of shape {mask.shape} does not match the '
                         f'indexed axes of shape {covered}')
    return q, mask


def _dask_mask_getitem(x, idx):
    """x[mask] for a Dask boolean mask over axes q..q+k-1 of x (full slices
    elsewhere): those axes merged into one, rechunked as the flat mask, and masked
    block by block by Dask's getitem, so that chunk j of the result (of a size
    unknown until computed) holds the entries of chunk j of the flat mask --
    which is what ``_scatter_dask_mask`` relies on."""
    q, mask = _mask_axes(idx, x.shape)
    flat = mask.reshape(-1)
    x = _merge_index_axes(x, q, mask.shape).rechunk({q: flat.chunks[0]})
    return x[(slice(None),) * q + (flat,)]


def _unmask_block(block, mask, axis):
    """One chunk of x[mask]'s adjoint: zeros the length of the mask's chunk along
    ``axis``, ``block`` written where it is True."""
    mask = mask.reshape(-1)
    if block.shape[axis] != mask.sum():
        raise ValueError(f'pyad: a chunk of the cotangent of x[mask] has {block.shape[axis]} '
                         f'entries where the mask selects {int(mask.sum())}')
    out = numpy.zeros(block.shape[:axis] + mask.shape + block.shape[axis + 1:], dtype=block.dtype)
    out[(slice(None),) * axis + (mask,)] = block
    return out


def _scatter_dask_mask(shape, idx, g):
    """The adjoint of x[mask] for a Dask mask: where the mask and the number of
    entries it selects per chunk are known only on the workers, no position of the
    flat result is known here -- but ``_dask_mask_getitem`` made chunk j of x[mask]
    the selection of chunk j of the flat mask, and a cotangent keeps those chunks,
    so chunk j of the adjoint is zeros with chunk j of g written where chunk j of
    the mask is True: one task per chunk, no counts or offsets needed."""
    import dask.array as da
    q, mask = _mask_axes(idx, shape)
    flat = mask.reshape(-1)
    if g.numblocks[q] != len(flat.chunks[0]):
        raise DaskUnsupported(f'pyad: the cotangent of x[mask] (a Dask mask) comes in {g.numblocks[q]} '
                              f'chunks along the masked axis, not the {len(flat.chunks[0])} of '
                              'x[mask]; its chunks cannot be matched to the mask before computing')
    flat = flat.reshape((1,) * q + flat.shape + (1,) * (g.ndim - q - 1))
    out = da.map_blocks(_unmask_block, g, flat, q, dtype=g.dtype,
                        chunks=g.chunks[:q] + (flat.chunks[q],) + g.chunks[q + 1:])
    return out.reshape(shape)


def _merge_index_axes(g, axis, shape):
    """g with its axes axis..axis+len(shape)-1 (an index array's shape) merged into
    one, the later of them rechunked whole."""
    r = len(shape)
    if r == 1:
        return g
    if r > 1:
        g = g.rechunk({axis + i: -1 for i in range(1, r)})
    return g.reshape(g.shape[:axis] + (int(numpy.prod(shape)),) + g.shape[axis + r:])


def _scatter_dask_indices(g, axis, indices, length, size=None):
    """zeros with ``length`` along ``axis`` and g's axes axis.. (indices' shape) added
    at the Dask ``indices`` (their values unknown here): each output chunk (of
    ``size``) is a tree sum, over the chunks of g along ``axis``, of the rows whose
    index falls in it -- an all-to-all over those chunks, with no task holding more
    than one chunk of g.  The graph is written out directly (one task per pair of
    output chunk and chunk of g, then the sums): as Dask collections, each output
    chunk would cost a layer or three of graph to build."""
    import itertools
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph
    g = _merge_index_axes(g, axis, indices.shape)
    ind = indices.reshape(-1).rechunk((g.chunks[axis],))
    size = size or max(g.chunks[axis], default=length) or 1
    starts = range(0, length, size)
    chunks = g.chunks[:axis] + (tuple(min(size, length - s) for s in starts) or (0,),) + g.chunks[axis + 1:]
    if not length or not g.shape[axis]:
        return da.zeros(g.shape[:axis] + (length,) + g.shape[axis + 1:], dtype=g.dtype, chunks=chunks)
    name = 'pyad-scatter-' + tokenize(g, ind, axis, length, size)
    dsk = {}
    for block in itertools.product(*[range(len(c)) for c in chunks]):
        i = block[axis]
        parts = [(name + '-part',) + block + (j,) for j in range(len(g.chunks[axis]))]
        for j, key in enumerate(parts):
            dsk[key] = (_in_range, (g.name,) + block[:axis] + (j,) + block[axis + 1:], (ind.name, j),
                        starts[i], chunks[axis][i], length, axis)
        _tree_sum(dsk, (name,) + block, parts)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[g, ind])
    return da.Array(graph, name, chunks, dtype=g.dtype)


def _tree_sum(dsk, key, parts, every=8):
    """Tasks in ``dsk`` that sum the blocks at ``parts`` into ``key``, ``every`` at a time."""
    level = 0
    while len(parts) > every:
        groups = [parts[k:k + every] for k in range(0, len(parts), every)]
        parts = [(key[0] + f'-sum{level}',) + key[1:] + (k,) for k in range(len(groups))]
        dsk.update({p: (_add_all, grp) for p, grp in zip(parts, groups)})
        level += 1
    dsk[key] = (_add_all, parts)


def _add_all(blocks):
    out = blocks[0].copy()
    for b in blocks[1:]:
        out += b
    return out


def _broadcast_block(block, g):
    return numpy.broadcast_to(g, block.shape)


def dask_broadcast_like(g, x):
    """``g`` (a cotangent that broadcasts against the Dask array ``x``) broadcast to
    x's shape in x's chunks: no rechunking, and no single task that every block of
    x waits for."""
    import dask.array as da
    g = da.asarray(g)
    if any(d != d for d in x.shape):
        # a length unknown until computed (x[mask]): ones made block by block
        return x.map_blocks(numpy.ones_like, dtype=g.dtype) * (g.reshape(()) if g.size == 1 else g)
    if g.size == 1:
        # a read-only view of g per block of x's chunks, made blockwise (where Dask's
        # broadcast_to block would travel between workers at full size, this one is
        # fused into the task that uses it): no chunk-sized array, no multiply
        return da.map_blocks(_broadcast_block, da.ones(x.shape, dtype=g.dtype, chunks=x.chunks),
                             g.reshape(()), dtype=g.dtype)
    lead = x.ndim - g.ndim
    chunks = tuple(x.chunks[lead + i] if g.shape[i] != 1 else (1,) for i in range(g.ndim))
    if g.chunks != chunks:
        g = g.rechunk(chunks)
    return da.broadcast_to(g, x.shape, chunks=x.chunks)


def dask_matmul(x, y):
    """x @ y with a Dask operand.  Up to 2-d, matmul is dot, and Dask's tensordot
    runs each block as one BLAS product where its matmul adds copies around it."""
    import dask.array as da
    if numpy.ndim(x) <= 2 and numpy.ndim(y) <= 2 and numpy.ndim(x) and numpy.ndim(y):
        return da.tensordot(x, y, axes=1)
    return da.matmul(x, y)


class _DaskLinalg:
    """dask.array.linalg with NumPy's conventions.  One 2-D matrix goes to Dask's own
    blocked algorithms where Dask has them (cholesky, inv, solve, solve_triangular,
    qr, svd); a stack of matrices, and what Dask lacks (det, slogdet, eigh, pinv,
    expm), run NumPy's (SciPy's) routine block by block, each matrix whole in its
    block: lazy, one task per block of the stack, each matrix on one worker."""

    def __init__(self, da):
        self._da = da

    def _per_matrix(self, fn, signature, *arrays, dtypes, sizes=None, **params):
        """fn(*arrays, **params), a NumPy function over stacks of matrices with the
        gufunc ``signature``, applied block by block (the core axes rechunked whole)."""
        if params:
            fn = functools.partial(fn, **params)
        arrays = [self._da.asarray(a) for a in arrays]
        return self._da.apply_gufunc(fn, signature, *arrays, output_dtypes=dtypes,
                                     output_sizes=sizes, allow_rechunk=True)

    def _square_blocks(self, a):
        """Dask factors square matrices in equal square blocks: the largest size
        down to half the first row chunk that divides n, else one block."""
        a = self._da.asarray(a)
        n, c0 = a.shape[0], max(a.chunks[0][0], 1)
        size = next((d for d in range(c0, c0 // 2, -1) if n % d == 0), n)
        return a.rechunk((size, size))

    def cholesky(self, a):
        if a.ndim > 2:
            return self._per_matrix(numpy.linalg.cholesky, '(n,n)->(n,n)', a, dtypes=a.dtype)
        return self._da.linalg.cholesky(self._square_blocks(a), lower=True)

    def inv(self, a):
        if a.ndim > 2:
            return self._per_matrix(numpy.linalg.inv, '(n,n)->(n,n)', a, dtypes=a.dtype)
        return self._da.linalg.inv(self._square_blocks(a))

    def solve(self, a, b):
        b = self._da.asarray(b)
        if a.ndim > 2 or b.ndim > 2:
            return self._per_matrix(numpy.linalg.solve, '(n,n),(n,k)->(n,k)', a, b,
                                    dtypes=numpy.result_type(a.dtype, b.dtype))
        a = self._square_blocks(a)
        return self._da.linalg.solve(a, b.rechunk((a.chunks[0],) + b.chunks[1:]))

    def qr(self, a, mode='reduced'):
        if mode != 'reduced':
            raise DaskUnsupported(f"pyad.linalg.qr: Dask has mode='reduced' only, not {mode!r}")
        if a.ndim > 2:
            m, n = a.shape[-2:]
            return self._per_matrix(numpy.linalg.qr, '(m,n)->(m,k),(k,n)', a,
                                    dtypes=(a.dtype, a.dtype), sizes={'k': min(m, n)})
        m, n = a.shape
        # Dask's tall-and-skinny QR takes row blocks of whole rows; a short-and-fat
        # matrix goes to its other algorithm, which takes the rows in one chunk
        return self._da.linalg.qr(a.rechunk({1: -1} if m >= n else {0: -1}))

    def _skinny_svd(self, a):
        """Dask's SVD of one matrix (tall-and-skinny or short-and-fat: the short
        axis in one chunk)."""
        m, n = a.shape
        return self._da.linalg.svd(a.rechunk({1: -1} if m >= n else {0: -1}))

    def svd(self, a, full_matrices=False, compute_uv=True):
        if a.ndim == 2:
            usv = self._skinny_svd(a)
            return usv if compute_uv else usv[1]
        m, n = a.shape[-2:]
        real = numpy.finfo(a.dtype).dtype
        if not compute_uv:
            return self._per_matrix(numpy.linalg.svd, '(m,n)->(k)', a, dtypes=real,
                                    sizes={'k': min(m, n)}, compute_uv=False)
        return self._per_matrix(numpy.linalg.svd, '(m,n)->(m,k),(k),(k,n)', a,
                                dtypes=(a.dtype, real, a.dtype), sizes={'k': min(m, n)},
                                full_matrices=False)

    def solve_triangular(self, a, b, lower=False, trans=0):
        a = self._square_blocks(a)
        if trans:
            a, lower = a.T, not lower
        b = self._da.asarray(b)
        return self._da.linalg.solve_triangular(a, b.rechunk((a.chunks[0],) + b.chunks[1:]), lower=lower)

    def det(self, a):
        return self._per_matrix(numpy.linalg.det, '(n,n)->()', a, dtypes=a.dtype)

    def slogdet(self, a):
        return self._per_matrix(numpy.linalg.slogdet, '(n,n)->(),()', a,
                                dtypes=(a.dtype, numpy.finfo(a.dtype).dtype))

    def eigh(self, a):
        return self._per_matrix(numpy.linalg.eigh, '(n,n)->(n),(n,n)', a,
                                dtypes=(numpy.finfo(a.dtype).dtype, a.dtype))

    def pinv(self, a, rcond):
        """A stack matrix by matrix; one matrix from Dask's SVD, V diag(1/s) Uᵀ over the
        singular values above rcond times the largest (as numpy.linalg.pinv)."""
        if a.ndim > 2:
            return self._per_matrix(numpy.linalg.pinv, '(m,n)->(n,m)', a, dtypes=a.dtype, rcond=rcond)
        u, s, vh = self._skinny_svd(a)
        kept = s > rcond * s[:1]
        inverse = self._da.where(kept, 1 / self._da.where(kept, s, 1), 0)
        return self._da.tensordot(vh.T * inverse, u.T, axes=1)

    def expm(self, a):
        import scipy.linalg
        return self._per_matrix(scipy.linalg.expm, '(n,n)->(n,n)', a, dtypes=a.dtype)

    def __getattr__(self, name):
        raise DaskUnsupported(f'pyad.linalg.{name}: Dask has no lazy {name}; on Dask arrays pyad '
                              f'supports cholesky, solve, solve_triangular, inv, qr, svd, det, '
                              f'slogdet, eigh, pinv and expm (call NumPy on a small matrix: '
                              f'x.compute())')


class _DaskSpecial:
    """scipy.special for Dask arrays: its ufuncs run blockwise on them as they are;
    polygamma (a Python function that would pull its argument into NumPy) block
    by block."""

    def __init__(self, da):
        import scipy.special
        self._da, self._special = da, scipy.special

    def polygamma(self, n, x):
        return self._da.map_blocks(self._special.polygamma, int(n), x, dtype=x.dtype)

    def __getattr__(self, name):
        value = getattr(self._special, name)
        if isinstance(value, numpy.ufunc):
            return value
        raise DaskUnsupported(f'pyad: scipy.special.{name} is not a ufunc and has no lazy Dask '
                              f'counterpart in pyad')


class _DaskNamespace:
    """dask.array for pyad's rules (see above)."""

    def __init__(self):
        import dask.array
        self._da = dask.array
        self.linalg = _DaskLinalg(dask.array)
        self.special = _DaskSpecial(dask.array)
        self.__name__ = 'dask.array'

    def sort(self, a, axis=-1, kind=None):
        if _chunked_vector(a):
            return _scatter_dask_indices(a, 0, _vector_ranks(a), a.shape[0])
        a, axis = _one_chunk('sort', a, axis)
        return a.map_blocks(numpy.sort, axis=axis, kind=kind, dtype=a.dtype)

    def argsort(self, a, axis=-1, kind=None):
        if _chunked_vector(a):
            positions = self._da.arange(a.shape[0], chunks=a.chunks, dtype=numpy.intp)
            return _scatter_dask_indices(positions, 0, _vector_ranks(a), a.shape[0])
        a, axis = _one_chunk('argsort', a, axis)
        return a.map_blocks(numpy.argsort, axis=axis, kind=kind, dtype=numpy.intp)

    # A vector split into chunks is partitioned by sorting it across its chunks (see
    # _vector_ranks): a sorted vector is a partition for every kth, reached without
    # gathering the vector into one task -- NumPy's own arrangement of the entries on
    # either side of kth is unspecified, and this one is the stable sorted order.
    def partition(self, a, kth, axis=-1):
        if _chunked_vector(a):
            return self.sort(a)
        a, axis = _one_chunk('partition', a, axis)
        return a.map_blocks(numpy.partition, kth, axis=axis, dtype=a.dtype)

    def argpartition(self, a, kth, axis=-1):
        if _chunked_vector(a):
            return self.argsort(a)
        a, axis = _one_chunk('argpartition', a, axis)
        return a.map_blocks(numpy.argpartition, kth, axis=axis, dtype=numpy.intp)

    def inner(self, a, b):
        return self._da.tensordot(a, b, axes=(-1, -1))

    def concatenate(self, xs, axis=0):
        return dask_concatenate(xs, axis)

    def split(self, a, indices_or_sections, axis=0):
        n = a.shape[axis]
        if isinstance(indices_or_sections, int):
            if n % indices_or_sections:
                raise ValueError('array split does not result in an equal division')
            step = n // indices_or_sections
            indices_or_sections = range(step, n, step)
        bounds = [0] + list(indices_or_sections) + [n]
        index = [slice(None)] * a.ndim
        parts = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            index[axis] = slice(lo, hi)
            parts.append(a[tuple(index)])
        return parts

    def take(self, a, indices, axis=None):
        if axis is None:
            a, axis = a.reshape(-1), 0
        axis = axis % a.ndim
        if not is_dask(indices):
            indices = numpy.asarray(indices)
        if indices.ndim == 0:
            return a[(slice(None),) * axis + (indices if is_dask(indices) else int(indices),)]
        return dask_getitem(a, (slice(None),) * axis + (indices,))

    def take_along_axis(self, arr, indices, axis):
        if axis is None:
            arr, axis = arr.reshape(-1), 0
        if _chunked_vector(arr) and getattr(indices, 'ndim', 0) == 1:
            return arr[indices]      # Dask's gather of a vector, NumPy or Dask indices
        arr, axis = _one_chunk('take_along_axis', arr, axis)
        idx = _as_dask_like(indices, arr, axis)
        return self._da.map_blocks(numpy.take_along_axis, arr, idx, axis=axis, dtype=arr.dtype,
                                   chunks=idx.chunks)

    def put_along_axis(self, arr, indices, values, axis):
        """In place, as numpy's: the Dask array ``arr`` is given its new graph."""
        whole, axis = _one_chunk('put_along_axis', arr, axis)
        idx = _as_dask_like(indices, whole, axis)
        values = _as_dask_like(values, whole, axis).astype(arr.dtype)

        def put(a, i, v):
            a = a.copy()
            numpy.put_along_axis(a, i, v, axis=axis)
            return a
        arr[...] = self._da.map_blocks(put, whole, idx, values, dtype=arr.dtype).rechunk(arr.chunks)

    # index arrays and masks the rules build (arange, eye, tri) stay NumPy: they mix with
    # Dask arrays in arithmetic, and Dask indexes with NumPy integer arrays only
    arange, eye, tri = staticmethod(numpy.arange), staticmethod(numpy.eye), staticmethod(numpy.tri)

    def asarray(self, x, dtype=None):
        """Host values stay NumPy (constants in the graph); Dask arrays stay Dask."""
        if is_dask(x):
            return self._da.asarray(x, dtype=dtype)
        return numpy.asarray(x, dtype=dtype)

    def __getattr__(self, name):
        value = getattr(self._da, name, None)
        if value is not None:
            return value
        value = getattr(numpy, name)        # dtypes, constants, finfo: no data in them
        if isinstance(value, type) or not callable(value) or name in _NUMPY_METADATA:
            return value
        raise DaskUnsupported(f'pyad: numpy.{name} has no lazy Dask counterpart, so it cannot run '
                              f'on Dask arrays without pulling the data into one process')


_NUMPY_METADATA = {'finfo', 'iinfo', 'dtype', 'result_type', 'promote_types', 'can_cast',
                   'broadcast_shapes', 'ndim', 'shape'}
_DASK = None


def dask_namespace():
    """The namespace pyad's rules use for Dask arrays (imports dask)."""
    global _DASK
    if _DASK is None:
        _DASK = _DaskNamespace()
    return _DASK


def compute(tree):
    """Every Dask array in a pytree computed, in one pass over the data (one
    ``dask.compute`` call, so work that the leaves share is done once), and
    returned as NumPy; other leaves are returned as they are.  (Dask walks lists,
    tuples, named tuples, dicts and dataclasses itself.)

    ``value, grad = pyad.backend.compute(pyad.value_and_grad(loss)(params))``
    gives NumPy parameters a NumPy gradient and the loss as a NumPy scalar."""
    import dask
    (out,) = dask.compute(tree)
    return out
