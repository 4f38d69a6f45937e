"""NumPy's functions with nothing to differentiate (integer and boolean results),
as pyad.numpy exports them.  On a Dask array NumPy's own would either compute it in
this process (Dask has no ``size``, ``isrealobj`` or ``argsort``, so its
``__array_function__`` falls back to NumPy on the computed data) or fail with Dask's
error where a length is unknown until computed.  Here a Dask array gets its answer
from its metadata (``size``, ``isrealobj``), from pyad's lazy Dask routine
(``argsort``) or from Dask's own, and errors on unknown lengths name the function;
a traced value is read through to its plain value, as NumPy's protocol would.  They
keep NumPy's names, signatures and docs."""
import functools

import numpy as _np

from .._core.box import innermost
from ..backend import is_dask, namespace, names_unknown_lengths, known_on_client


def _numpy_twin(np_fn):
    """The decorated function stands for np_fn: its name, signature and docs; its
    errors where a Dask length is unknown until computed name it."""
    def decorate(fn):
        return names_unknown_lengths(np_fn.__name__, functools.wraps(np_fn)(fn))
    return decorate


@_numpy_twin(_np.size)
def size(a, axis=None):
    shape = _np.shape(innermost(a))
    if not is_dask(a):
        return _np.size(innermost(a), axis)
    size = _np.prod(shape)          # (nan for a length unknown until computed, as Dask's)
    return (int(size) if size == size else size) if axis is None else shape[axis]


@_numpy_twin(_np.isrealobj)
def isrealobj(x):
    if not is_dask(x):
        return _np.isrealobj(innermost(x))
    return innermost(x).dtype.kind != 'c'


@_numpy_twin(_np.argsort)
def argsort(a, axis=-1, kind=None, order=None, **kwargs):
    if not is_dask(a):
        return _np.argsort(innermost(a), axis, kind, order, **kwargs)
    if order is not None or kwargs:
        raise TypeError('pyad.numpy.argsort of a Dask array takes a, axis and kind only')
    plain = innermost(a)
    if axis is None:
        plain, axis = plain.reshape(-1), -1
    return namespace(plain).argsort(plain, axis=axis, kind=kind)


@_numpy_twin(_np.searchsorted)
def searchsorted(a, v, side='left', sorter=None):
    if not is_dask(a) and not is_dask(v):
        return _np.searchsorted(innermost(a), innermost(v), side, sorter)
    if sorter is not None:
        raise TypeError('pyad.numpy.searchsorted of Dask arrays takes no sorter: sort a first')
    import dask.array as da
    plain_v = da.asarray(innermost(v))       # (Dask's searchsorted takes arrays only)
    out = da.searchsorted(da.asarray(innermost(a)), plain_v.reshape(-1), side=side)
    return out.reshape(plain_v.shape)


@_numpy_twin(_np.digitize)
def digitize(x, bins, right=False):
    known_on_client('digitize', 'bins', bins)       # (Dask's digitize takes NumPy bins)
    return _np.digitize(innermost(x), innermost(bins), right)


def _index_twin(np_fn):
    """NumPy's function of the plain values (integer results: nothing to differentiate),
    Dask's own on a Dask array."""
    @_numpy_twin(np_fn)
    def twin(a, *args, **kwargs):
        return np_fn(innermost(a), *args, **kwargs)
    return twin


argwhere, nonzero, flatnonzero, count_nonzero = (
    _index_twin(f) for f in (_np.argwhere, _np.nonzero, _np.flatnonzero, _np.count_nonzero))

# NumPy's own, as they are (a traced value keeps NumPy's protocol), but with their
# errors where a Dask length is unknown until computed naming them
meshgrid, unique = (names_unknown_lengths(f.__name__, f) for f in (_np.meshgrid, _np.unique))
