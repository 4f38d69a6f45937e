"""Building arrays from values that may be traced: ``array`` and ``asarray``."""
from __future__ import annotations

from typing import Tuple, Union
from ..typing import Array, ArrayLike, DTypeLike
import numpy as _np

from .._core.batching import one_example, per_example

from .._core.box import Box, dtype_of, innermost, ndim_of
from ..backend import is_dask, DaskUnsupported


def _contains_box(obj):
    if isinstance(obj, Box):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_contains_box(o) for o in obj)
    return False


def _leaf_dtypes(obj, out):
    if isinstance(obj, (list, tuple)):
        for o in obj:
            _leaf_dtypes(o, out)
    elif hasattr(obj, 'dtype') or isinstance(obj, Box):
        out.append(dtype_of(obj))
    elif isinstance(obj, complex):      # a Python complex beside traced values
        out.append(_np.dtype(_np.complex128))
    return out


def _build(obj, dtype):
    """Stack nested lists; plain Python numbers take the dtype of the arrays and
    traced values beside them (so float32 stays float32, as with NumPy's weak scalars)."""
    from .manipulation import stack
    if isinstance(obj, (list, tuple)):
        return stack([_build(o, dtype) for o in obj])
    if isinstance(obj, Box) or hasattr(obj, 'dtype'):
        return obj
    return _np.asarray(obj, dtype=dtype)


def array(obj: ArrayLike, dtype: DTypeLike = None) -> Array:
    """numpy.array; nested lists holding traced values are stacked differentiably."""
    if _contains_box(obj):
        dtypes = _leaf_dtypes(obj, [])
        weak = _np.result_type(*dtypes) if dtypes else _np.dtype(_np.float64)
        if weak.kind not in 'fc':
            weak = _np.dtype(_np.float64)
        out = _build(obj, weak)
        if dtype is not None:
            from .manipulation import astype
            out = astype(out, dtype)
        return out
    if is_dask(obj):        # Dask arrays are never written into: their own copy, lazily
        return obj if dtype is None else obj.astype(dtype)
    return _np.array(obj, dtype=dtype)


def asarray(obj: ArrayLike, dtype: DTypeLike = None) -> Array:
    """numpy.asarray; a traced value is returned as it is."""
    if isinstance(obj, Box) and dtype is None:
        return obj
    if _contains_box(obj) or isinstance(obj, Box):
        return array(obj, dtype)
    if is_dask(obj):
        return array(obj, dtype)
    return _np.asarray(obj, dtype=dtype)


def listed(a):
    """A Python list or tuple (which may hold traced values) as an array; anything
    else as it is.  For the functions that accept ``[x0, x1, ...]`` as NumPy's do."""
    if type(a) is list or type(a) is tuple:
        return array(a) if _contains_box(a) else _np.asarray(a)
    return a


def _no_dask_ends(name, *ends):
    if any(is_dask(v) for v in ends):
        raise DaskUnsupported(f'pyad.numpy.{name}: Dask builds {name} from numbers as its ends, not '
                              f'Dask arrays (give NumPy arrays or numbers)')


@per_example
def linspace(start: ArrayLike, stop: ArrayLike, num: int = 50, endpoint: bool = True,
             retstep: bool = False, dtype: DTypeLike = None, axis: int = 0) -> Union[Array, Tuple[Array, Array]]:
    """numpy.linspace, differentiable in start and stop: the values are NumPy's
    exactly; each sample is start (1 - f) + stop f, f its fraction of the way."""
    _no_dask_ends('linspace', start, stop)
    if not isinstance(start, Box) and not isinstance(stop, Box):
        return _np.linspace(start, stop, num, endpoint, retstep, dtype, axis)
    from .manipulation import stop_gradient, expand_dims, broadcast_to, astype
    num = int(num)
    if num < 0:
        raise ValueError(f'linspace: number of samples, {num}, must be non-negative')
    from ..backend import namespace
    xp = namespace(start, stop)
    values, step = xp.linspace(innermost(start), innermost(stop), num, endpoint, True, dtype, axis)
    dtype = values.dtype
    if dtype.kind != 'f':           # integer samples: no derivative
        return (values, step) if retstep else values
    nd = values.ndim
    axis = axis % nd
    sample_shape = values.shape[:axis] + values.shape[axis + 1:]
    div = (num - 1) if endpoint else num
    fraction = xp.arange(num, dtype=dtype) / dtype.type(div) if div > 0 else \
        xp.zeros(num, dtype=dtype)
    shape = [1] * nd
    shape[axis] = num
    fraction = fraction.reshape(shape)

    def delta(end):
        """end minus its own value: zero, with end's derivative."""
        return astype(end - stop_gradient(end), dtype) if isinstance(end, Box) else 0.0

    def along(d):
        """d shaped as one sample (the sample axis of length 1)."""
        return expand_dims(broadcast_to(d, sample_shape), axis) if ndim_of(d) else d
    d_start, d_stop = delta(start), delta(stop)
    out = values + along(d_start) * (1 - fraction) + along(d_stop) * fraction
    if not retstep:
        return out
    if div > 0:
        step = step + (d_stop - d_start) / float(div)
    return out, step


@per_example
def logspace(start: ArrayLike, stop: ArrayLike, num: int = 50, endpoint: bool = True,
             base: ArrayLike = 10.0, dtype: DTypeLike = None, axis: int = 0) -> Array:
    """numpy.logspace, differentiable in start, stop and base: base ** linspace(...),
    as NumPy computes it."""
    _no_dask_ends('logspace', start, stop, base)
    if not any(isinstance(v, Box) for v in (start, stop, base)):
        return _np.logspace(start, stop, num, endpoint, base, dtype, axis)
    from .elementwise import power
    from .manipulation import astype, expand_dims, broadcast_to
    if ndim_of(base):        # an array base: start, stop and base broadcast together
        shape = _np.broadcast_shapes(*(_np.shape(innermost(v)) for v in (start, stop, base)))
        start, stop, base = (broadcast_to(v, shape) for v in (start, stop, base))
    exponents = linspace(start, stop, num, endpoint, axis=axis)
    if ndim_of(base):
        base = expand_dims(base, axis)
    out = power(base, exponents)
    return out if dtype is None else astype(out, dtype)


class _Concatenator:
    """``r_`` and ``c_``: NumPy's index tricks, for traced values too.  Without a
    traced value they are NumPy's own; with one, the pieces (numbers, arrays,
    slices ``start:stop:step`` or ``start:stop:numj``) are concatenated
    differentiably, after a directive string such as ``'0,2,-1'`` (axis, minimum
    number of dimensions, where a 1-D piece's axis goes) if one is given."""
    __slots__ = ('plain', 'axis', 'ndmin', 'trans1d')

    def __init__(self, plain, axis, ndmin, trans1d):
        self.plain = plain
        self.axis, self.ndmin, self.trans1d = axis, ndmin, trans1d

    def __getitem__(self, key):
        items = key if isinstance(key, tuple) else (key,)
        if not _contains_box(items):
            return self.plain[key]
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        if isinstance(items[0], str):
            axis, ndmin, trans1d = _directive(items[0], axis, ndmin, trans1d)
            items = items[1:]
        # Python numbers are weak, as in NumPy: they take the dtype of the rest
        dtype = _np.result_type(*[_item_dtype(i) for i in items if not isinstance(i, (int, float))])
        pieces = [_piece(_np.asarray(i, dtype=dtype) if isinstance(i, (int, float)) else i,
                         ndmin, trans1d) for i in items]
        from .manipulation import concatenate
        return concatenate(pieces, axis=axis)

    def __len__(self):
        return 0


def _item_dtype(item):
    if isinstance(item, slice):         # arange (integers) or linspace (start:stop:numj)
        return _np.dtype(float) if isinstance(item.step, complex) else _np.arange(0).dtype
    return dtype_of(item) if isinstance(item, Box) else _np.asarray(item).dtype


def _directive(text, axis, ndmin, trans1d):
    """'axis[,ndmin[,trans1d]]' of r_ and c_."""
    if text in ('r', 'c'):
        raise NotImplementedError(f"r_/c_: the matrix directive {text!r} is not supported")
    try:
        values = [int(v) for v in text.split(',')]
    except ValueError:
        raise ValueError(f'r_/c_: unknown directive {text!r}') from None
    if not 1 <= len(values) <= 3:
        raise ValueError(f'r_/c_: unknown directive {text!r}')
    values += [ndmin, trans1d][len(values) - 1:]
    return values[0], values[1], values[2]


def _piece(item, ndmin, trans1d):
    """One item of r_[...] as an array of at least ndmin dimensions."""
    from .manipulation import reshape, transpose
    if isinstance(item, slice):
        step = 1 if item.step is None else item.step
        start = 0 if item.start is None else item.start
        if isinstance(step, complex):
            piece = _np.linspace(start, item.stop, int(abs(step)))
        else:
            piece = _np.arange(start, item.stop, step)
        if ndmin > 1:
            piece = piece.reshape((1,) * (ndmin - 1) + piece.shape)
            if trans1d != -1:
                piece = piece.swapaxes(-1, trans1d)
        return piece
    if not isinstance(item, Box):
        item = _np.asarray(item)
    nd = ndim_of(item)
    if nd >= ndmin:
        return item if nd else reshape(item, (1,))
    shape = (1,) * (ndmin - nd) + tuple(item.shape)
    item = reshape(item, shape)
    if trans1d != -1 and nd > 0:
        # NumPy moves the piece's own axes to start at trans1d
        k2, k1 = ndmin - nd, trans1d if trans1d >= 0 else trans1d + ndmin - nd + 1
        axes = list(range(ndmin))
        item = transpose(item, tuple(axes[:k1] + axes[k2:] + axes[k1:k2]))
    return item


r_ = _Concatenator(_np.r_, 0, 1, -1)
c_ = _Concatenator(_np.c_, -1, 2, 0)


def zeros_like(a: ArrayLike, dtype: DTypeLike = None) -> Array:
    return _np.zeros_like(one_example(a), dtype=dtype)


def ones_like(a: ArrayLike, dtype: DTypeLike = None) -> Array:
    return _np.ones_like(one_example(a), dtype=dtype)


def full_like(a: ArrayLike, fill_value: ArrayLike, dtype: DTypeLike = None) -> Array:
    if isinstance(fill_value, Box) or is_dask(fill_value):     # traced: its derivative flows
        from .manipulation import broadcast_to, astype
        dtype = _np.result_type(a) if dtype is None else dtype
        return broadcast_to(astype(fill_value, dtype), _np.shape(one_example(a)))
    return _np.full_like(one_example(a), fill_value, dtype=dtype)


def empty_like(a: ArrayLike, dtype: DTypeLike = None) -> Array:
    return _np.empty_like(one_example(a), dtype=dtype)


__all__ = ['array', 'asarray', 'linspace', 'logspace', 'r_', 'c_', 'zeros_like', 'ones_like',
           'full_like', 'empty_like']
