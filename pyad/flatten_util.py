"""``ravel_pytree``: a pytree as one flat vector and back (for SciPy's optimisers,
for flat-vector algorithms), as JAX's ``jax.flatten_util.ravel_pytree``.

>>> import numpy
>>> from pyad.flatten_util import ravel_pytree
>>> flat, unravel = ravel_pytree({'w': numpy.ones((2, 2)), 'b': 0.5})
>>> flat
array([0.5, 1. , 1. , 1. , 1. ])
>>> unravel(flat * 2.0)['w']
array([[2., 2.],
       [2., 2.]])
"""
from typing import Any, Callable, Tuple

import numpy as _onp

from ._core.box import shape_of, dtype_of
from ._core.pytree import tree_flatten, tree_unflatten
from . import numpy as pnp

__all__ = ['ravel_pytree']


def ravel_pytree(tree: Any) -> Tuple[Any, Callable[[Any], Any]]:
    """``(flat, unravel)``: the leaves of ``tree`` raveled and concatenated into one
    1-D array (in flattening order, of the leaves' common dtype), and ``unravel(v)``
    building a pytree of the same structure, shapes and dtypes from such a vector.
    Both are written with pyad operations: differentiable, traced values welcome."""
    leaves, treedef = tree_flatten(tree)
    shapes = [tuple(shape_of(leaf)) for leaf in leaves]
    dtypes = [_onp.dtype(dtype_of(leaf)) for leaf in leaves]
    sizes = [int(_onp.prod(s, dtype=_onp.int64)) for s in shapes]
    dtype = _onp.result_type(*dtypes) if dtypes else _onp.dtype(_onp.float64)
    if leaves:
        flat = pnp.concatenate([pnp.reshape(pnp.asarray(leaf), (-1,)).astype(dtype)
                                if dtype_of(leaf) != dtype else pnp.reshape(leaf, (-1,))
                                for leaf in leaves])
    else:
        flat = _onp.zeros(0, dtype)
    total = sum(sizes)

    def unravel(vector):
        if tuple(shape_of(vector)) != (total,):
            raise ValueError(f'unravel: expected a vector of shape ({total},) (the raveled '
                             f'pytree), got shape {tuple(shape_of(vector))}')
        parts = []
        offset = 0
        for shape, size, leaf_dtype in zip(shapes, sizes, dtypes):
            part = pnp.reshape(vector[offset:offset + size], shape)
            parts.append(part if dtype_of(part) == leaf_dtype else part.astype(leaf_dtype))
            offset += size
        return tree_unflatten(treedef, parts)
    return flat, unravel
