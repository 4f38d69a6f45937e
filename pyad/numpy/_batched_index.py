"""Indexing by indices that differ between the examples of a vmap.

Under ``vmap`` an integer index may itself be batched (``logits[label]`` with one
label per example).  NumPy's indexing cannot see the batch, so such an index is
applied as a one-hot product: ``x[i] = onehot(i) @ x`` over the indexed axes,
with primitives only (differentiable to every order, batched by their rules).
It costs a factor of the indexed axis' length over a gather: fine for class
labels, slow for long axes.
"""
import numpy as _np

from .._core.box import Box, shape_of, ndim_of, dtype_of, innermost
from .._core.batching import holds_batch
from .._core.primitive import Primitive
from ..backend import namespace


def is_batched_index(idx):
    """Whether a normalised index tuple holds an index that differs between examples."""
    return any(isinstance(e, Box) and holds_batch(e) for e in idx)


def _check_integer(name, e, size):
    if isinstance(e, (int, _np.integer)):
        e = _np.asarray(e)
    if dtype_of(e).kind not in 'iu':
        raise IndexError(f'{name}: arrays used as indices must be of integer type, got '
                         f'{dtype_of(e)}')
    v = _np.asarray(innermost(e))
    if v.size and (v.max() >= size or v.min() < -size):
        raise IndexError(f'{name}: index out of bounds for an axis of size {size}')


def _one_hot(i, size, dtype, like):
    """(i.shape + (size,)) of dtype: 1 where the last index equals i (negative i
    counting from the end), in the array library of ``like``."""
    from .elementwise import equal, mod
    from .manipulation import expand_dims, astype
    return astype(equal(expand_dims(mod(i, size), -1), namespace(like).arange(size)), dtype)


def batched_getitem(x, idx):
    """x[idx] for an index of integers and integer arrays (on x's leading axes),
    some of which differ between the examples of a vmap."""
    from .manipulation import reshape
    from .elementwise import multiply, add, mod
    from .products import matmul
    if any(not (isinstance(e, (int, _np.integer)) or hasattr(e, 'dtype')) for e in idx):
        raise NotImplementedError(
            'vmap: an index that differs between examples may be combined only with integers '
            'and integer arrays (x[i], x[i, j]), not with slices, None or Ellipsis; move the '
            'indexed axes to the front first (pyad.numpy.moveaxis)')
    shape = tuple(shape_of(x))
    if len(idx) > len(shape):
        raise IndexError(f'too many indices for an array of shape {shape}')
    k = len(idx)
    flat = None
    for e, size in zip(idx, shape[:k]):     # the flat position in the first k axes
        _check_integer('indexing', e, size)
        e = mod(e, size)
        flat = e if flat is None else add(multiply(flat, size), e)
    n = int(_np.prod(shape[:k]))
    rest = shape[k:]
    hot = _one_hot(flat, n, dtype_of(x), x)
    out = matmul(hot, reshape(x, (n, int(_np.prod(rest)))))
    return reshape(out, tuple(shape_of(hot))[:-1] + rest)


def batched_take_along_axis(arr, indices, axis):
    """take_along_axis with indices that differ between examples (one-hot along axis)."""
    from .manipulation import moveaxis, expand_dims
    from .reductions import sum as _sum
    shape = tuple(shape_of(arr))
    if ndim_of(indices) != len(shape):
        raise ValueError(f'take_along_axis: indices (shape {tuple(shape_of(indices))}) and arr '
                         f'(shape {shape}) must have the same number of dimensions')
    n = shape[axis]
    _check_integer('take_along_axis', indices, n)
    a = expand_dims(moveaxis(arr, axis, -1), -2)                 # (..., 1, n)
    hot = _one_hot(moveaxis(indices, axis, -1), n, dtype_of(arr), arr)  # (..., m, n)
    return moveaxis(_sum(hot * a, axis=-1), -1, axis)


def batched_take(a, indices, axis):
    """numpy.take with indices that differ between examples."""
    from .manipulation import moveaxis, ravel, transpose
    from ._batching import normalize_axis
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis(axis, ndim_of(a), 'take: axis')
    out = batched_getitem(moveaxis(a, axis, 0), (indices,))
    r, n = ndim_of(indices), ndim_of(out)
    return transpose(out, tuple(range(r, r + axis)) + tuple(range(r)) + tuple(range(r + axis, n)))


def _argsort_impl(x, axis):
    xp = namespace(x)
    return xp.argsort(x, axis=axis, kind='stable')


# the permutation that sorts (a constant), for sort under vmap: batched by its axis
argsort = Primitive('argsort', _argsort_impl, nondiff=True)
