"""Shape operations: reshape, broadcast_to, expand_dims, squeeze, transpose, and
the functions built on them.  Their rules shift axes past the batch axes of
(co)tangents (see ``_batching``)."""
import numpy as _np

from .._core.primitive import Primitive
from .._core.box import Box, shape_of, ndim_of, dtype_of, innermost
from ._batching import (batch_ndim, normalize_axis, normalize_axes, expand_to,
                        unbroadcast)


def _resolve_shape(size, newshape):
    """numpy's -1 resolution, with an error in the user's terms."""
    if isinstance(newshape, (int, _np.integer)):
        newshape = (int(newshape),)
    newshape = tuple(int(d) for d in newshape)
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


_reshape = Primitive('reshape', _reshape_impl)
_reshape.def_jvp(lambda t, ans, x, shape: _reshape(t, shape_of(t)[:batch_ndim(t, x)] + shape))
_reshape.def_vjp(lambda g, ans, x, shape: _reshape(g, shape_of(g)[:batch_ndim(g, ans)] + shape_of(x)))


def reshape(a, newshape, order='C'):
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


def ravel(a):
    return reshape(a, (-1,))


flatten = ravel


def _broadcast_to_impl(x, shape):
    return _np.broadcast_to(x, shape)


_broadcast_to = Primitive('broadcast_to', _broadcast_to_impl)
_broadcast_to.def_jvp(lambda t, ans, x, shape: expand_to(t, x, ans))
_broadcast_to.def_vjp(lambda g, ans, x, shape: unbroadcast(g, ans, x))


def broadcast_to(array, shape):
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


def broadcast_arrays(*args):
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


_transpose = Primitive('transpose', _transpose_impl)
_transpose.def_jvp(lambda t, ans, x, axes: _transpose(t, _batched_axes(axes, batch_ndim(t, x))))
_transpose.def_vjp(lambda g, ans, x, axes: _transpose(
    g, _batched_axes(_inverse_permutation(axes), batch_ndim(g, ans))))


def transpose(a, axes=None):
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


def swapaxes(a, axis1, axis2):
    n = ndim_of(a)
    axis1 = normalize_axis(axis1, n, 'axis1')
    axis2 = normalize_axis(axis2, n, 'axis2')
    perm = list(range(n))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return transpose(a, perm)


def moveaxis(a, source, destination):
    n = ndim_of(a)
    src = [normalize_axis(s, n, 'source') for s in (source if isinstance(source, (tuple, list)) else (source,))]
    dst = [normalize_axis(d, n, 'destination') for d in (destination if isinstance(destination, (tuple, list)) else (destination,))]
    if len(src) != len(dst):
        raise ValueError('moveaxis: source and destination must have the same number of elements')
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, order)


def matrix_transpose(a):
    """Swap the last two axes (``x.mT``)."""
    if ndim_of(a) < 2:
        raise ValueError(f'matrix_transpose: needs at least 2 dimensions, got shape {shape_of(a)}')
    return swapaxes(a, -1, -2)


def expand_dims(a, axis):
    shape = list(shape_of(a))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    n = len(shape) + len(axes)
    for ax in sorted(normalize_axis(ax, n) for ax in axes):
        shape.insert(ax, 1)
    return reshape(a, tuple(shape))


def squeeze(a, axis=None):
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


def atleast_1d(a):
    return reshape(a, (1,)) if ndim_of(a) == 0 else a


def atleast_2d(a):
    n = ndim_of(a)
    if n >= 2:
        return a
    return reshape(a, (1, 1) if n == 0 else (1,) + tuple(shape_of(a)))


# ----------------------------------------------------------------- dtype and gradient stops
def _astype_impl(x, dtype):
    if type(x) is float:
        return _np.dtype(dtype).type(x)
    return x.astype(dtype)


_astype = Primitive('astype', _astype_impl)
_astype.def_jvp(lambda t, ans, x, dtype: _astype(t, dtype))
_astype.def_vjp(lambda g, ans, x, dtype: _astype(g, dtype_of(x)))


def astype(x, dtype):
    """Cast to another float dtype, differentiably (derivatives are cast back)."""
    dtype = _np.dtype(dtype)
    if dtype_of(x) == dtype:
        return x
    if dtype.kind != 'f' and isinstance(x, Box):
        # casting to int/bool drops the derivative, as in NumPy semantics
        return _np.asarray(innermost(x)).astype(dtype)
    return _astype(x, dtype)


def _identity(x):
    return x


stop_gradient = Primitive('stop_gradient', _identity, nondiff=True,
                          doc='The value of x, as a constant: no derivative flows through it.')

__all__ = ['reshape', 'ravel', 'flatten', 'broadcast_to', 'broadcast_arrays', 'transpose',
           'swapaxes', 'moveaxis', 'matrix_transpose', 'expand_dims', 'squeeze',
           'atleast_1d', 'atleast_2d', 'astype', 'stop_gradient']
