"""The array library behind a value: NumPy, CuPy for arrays that live on a GPU, or
Dask for chunked arrays that live on a cluster (see the end of this module).

pyad never chooses a device itself: CuPy arrays in give CuPy arrays out.  Rules
create arrays with ``*_like`` functions or through ``namespace(x)``, never with a
hard-coded ``numpy.zeros``, so every primitive runs where its inputs live.
"""
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
        t = type(innermost(v))
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


def is_plain_array(r):
    """A NumPy or CuPy array (not a subclass, not a box): a rule that has just made
    r may compute into it in place."""
    t = type(r)
    return t is numpy.ndarray or (t is not float and t.__module__.startswith('cupy')
                                  and hasattr(r, 'shape') and r.ndim > 0)


def scalar_of_broadcast(c):
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
    return type(innermost(x)).__module__.startswith('dask.')


class DaskUnsupported(NotImplementedError):
    """A NumPy operation with no lazy Dask counterpart."""


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


def dask_getitem(x, idx):
    """``x[idx]`` for a Dask array with NumPy's meaning.  Dask indexes with one
    integer array at a time; several (``x[..., rows, cols]``) go through
    ``vindex``, which puts the broadcast axes first, so they are moved where NumPy
    puts them (in place, when the advanced indices are adjacent)."""
    def is_int_array(e):
        return hasattr(e, 'ndim') and e.ndim > 0 and e.dtype.kind in 'iu'
    if sum(is_int_array(e) for e in idx) < 2:
        return x[idx]
    if any(is_dask(e) for e in idx):
        raise DaskUnsupported('pyad: indexing a Dask array with several integer arrays one of which '
                              'is a Dask array (as the derivatives of sort and take_along_axis '
                              'do) is not supported: its positions are unknown until computed')
    if any(e is None for e in idx):
        raise DaskUnsupported('pyad: indexing a Dask array with several integer arrays and None '
                              'is not supported; add the axis in a separate step')
    for k, e in enumerate(idx):
        if e is Ellipsis:
            idx = idx[:k] + (slice(None),) * (x.ndim - len(idx) + 1) + idx[k + 1:]
            break
    advanced = [k for k, e in enumerate(idx) if is_int_array(e)
                or isinstance(e, (int, numpy.integer))]
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


def dask_broadcast_like(g, x):
    """``g`` (a cotangent that broadcasts against the Dask array ``x``) broadcast to
    x's shape in x's chunks: no rechunking, and no single task that every block of
    x waits for."""
    import dask.array as da
    g = da.asarray(g)
    if g.size == 1:
        # elementwise with ones in x's chunks: Dask fuses it into the task that uses it,
        # where a broadcast_to block would travel between workers at full size
        return da.ones(x.shape, dtype=g.dtype, chunks=x.chunks) * g.reshape(())
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
    """dask.array.linalg with NumPy's conventions, for single 2-D matrices."""

    def __init__(self, da):
        self._da = da

    @staticmethod
    def _matrix(name, a):
        if a.ndim != 2:
            raise DaskUnsupported(f'pyad.linalg.{name}: Dask has {name} for one 2-D matrix only, '
                                  f'not a stack of shape {a.shape}')
        return a

    def _square_blocks(self, name, a):
        """Dask factors square matrices in square blocks."""
        a = self._matrix(name, self._da.asarray(a))
        return a.rechunk((a.chunks[0], a.chunks[0]))

    def cholesky(self, a):
        return self._da.linalg.cholesky(self._square_blocks('cholesky', a), lower=True)

    def inv(self, a):
        return self._da.linalg.inv(self._square_blocks('inv', a))

    def solve(self, a, b):
        a = self._square_blocks('solve', a)
        b = self._da.asarray(b)
        if b.ndim > 2:
            raise DaskUnsupported(f'pyad.linalg.solve: Dask solves one 2-D system only, '
                                  f'not a stack with right-hand sides of shape {b.shape}')
        return self._da.linalg.solve(a, b.rechunk((a.chunks[0],) + b.chunks[1:]))

    def qr(self, a, mode='reduced'):
        if mode != 'reduced':
            raise DaskUnsupported(f"pyad.linalg.qr: Dask has mode='reduced' only, not {mode!r}")
        return self._da.linalg.qr(self._matrix('qr', a))

    def svd(self, a, full_matrices=False, compute_uv=True):
        u, s, vh = self._da.linalg.svd(self._matrix('svd', a))
        return (u, s, vh) if compute_uv else s

    def solve_triangular(self, a, b, lower=False, trans=0):
        a = self._square_blocks('solve_triangular', a)
        if trans:
            a, lower = a.T, not lower
        b = self._da.asarray(b)
        return self._da.linalg.solve_triangular(a, b.rechunk((a.chunks[0],) + b.chunks[1:]), lower=lower)

    def __getattr__(self, name):
        raise DaskUnsupported(f'pyad.linalg.{name}: Dask has no lazy {name}; Dask arrays support '
                              f'cholesky, solve, solve_triangular, inv, qr and svd of one 2-D matrix '
                              f'(call numpy on a small matrix: x.compute())')


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
        a, axis = _one_chunk('sort', a, axis)
        return a.map_blocks(numpy.sort, axis=axis, kind=kind, dtype=a.dtype)

    def argsort(self, a, axis=-1, kind=None):
        a, axis = _one_chunk('argsort', a, axis)
        return a.map_blocks(numpy.argsort, axis=axis, kind=kind, dtype=numpy.intp)

    def partition(self, a, kth, axis=-1):
        a, axis = _one_chunk('partition', a, axis)
        return a.map_blocks(numpy.partition, kth, axis=axis, dtype=a.dtype)

    def inner(self, a, b):
        return self._da.tensordot(a, b, axes=(-1, -1))

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

    def take_along_axis(self, arr, indices, axis):
        if axis is None:
            arr, axis = arr.reshape(-1), 0
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
