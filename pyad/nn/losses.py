"""Losses built on the mappings of pyad.nn (compositions of primitives, so every
derivative, to any order, comes from their rules)."""
from __future__ import annotations

from ..typing import Array, ArrayLike
from .._core.box import shape_of, dtype_of, innermost
from .._core.batching import holds_batch
from ..backend import namespace
from ..numpy import reductions as _red
from .. import numpy as pnp
from ._util import as_float_array, check_axis
from .softmax import log_softmax
from .sparse import sparsemax


def _as_distribution(fn, target, z, axis):
    """target as an array of z's shape: integer labels (z's shape without axis) are
    one-hot encoded along axis; a float array must have z's shape."""
    t = innermost(target)
    xp = namespace(t)
    t = xp.asarray(t)
    zshape = tuple(shape_of(z))
    if t.dtype.kind in 'iu':
        row_shape = zshape[:axis] + zshape[axis + 1:]
        tshape = tuple(shape_of(target)) if holds_batch(target) else tuple(t.shape)
        if tshape != row_shape:
            raise ValueError(f'{fn}: integer labels must have shape {row_shape} (z of shape '
                             f'{zshape} without axis {axis}), got {tshape}')
        m = zshape[axis]
        if t.size and (t.min() < 0 or t.max() >= m):
            raise ValueError(f'{fn}: labels must lie in [0, {m}), got values in '
                             f'[{int(t.min())}, {int(t.max())}]')
        classes = xp.arange(m).reshape((1,) * axis + (m,) + (1,) * (len(zshape) - axis - 1))
        if holds_batch(target):     # labels that differ between the examples of a vmap
            return pnp.astype(pnp.equal(pnp.expand_dims(target, axis), classes), dtype_of(z))
        onehot = xp.expand_dims(t, axis) == classes
        return onehot.astype(dtype_of(z))
    if tuple(shape_of(target)) != zshape:
        raise ValueError(f'{fn}: a target distribution must have the shape of z, {zshape}, '
                         f'got {tuple(shape_of(target))}')
    return target


def sparsemax_loss(z: ArrayLike, target: ArrayLike, axis: int = -1) -> Array:
    """The sparsemax loss (Martins & Astudillo 2016), a Fenchel-Young loss:
    L(z, y) = z·p - ||p||²/2 - z·y + ||y||²/2 with p = sparsemax(z), one value per row.

    ``target``: integer labels (z's shape without ``axis``) or distributions (z's
    shape).  L >= 0, L = 0 iff sparsemax(z) = y, and dL/dz = sparsemax(z) - y."""
    z = as_float_array(z, 'sparsemax_loss')
    axis = check_axis('sparsemax_loss', z, axis)
    y = _as_distribution('sparsemax_loss', target, z, axis)
    p = sparsemax(z, axis)
    # z·(p - y) with masked (-inf) entries of z contributing nothing
    zm = pnp.where(pnp.logical_and(pnp.isinf(z), pnp.less(z, 0)), 0.0, z)
    return _red.sum(zm * (p - y) - 0.5 * (p * p - y * y), axis=axis)


def softmax_cross_entropy(logits: ArrayLike, labels: ArrayLike, axis: int = -1) -> Array:
    """-log softmax(logits)[label] per row; ``labels`` integer (logits' shape without
    ``axis``) or distributions (the shape of logits)."""
    logits = as_float_array(logits, 'softmax_cross_entropy')
    axis = check_axis('softmax_cross_entropy', logits, axis)
    y = _as_distribution('softmax_cross_entropy', labels, logits, axis)
    logp = log_softmax(logits, axis)
    # 0 * (-inf) would be NaN on masked classes the target gives no mass
    used = pnp.not_equal(y, 0)
    return -_red.sum(pnp.where(used, y * pnp.where(used, logp, 0.0), 0.0), axis=axis)


__all__ = ['sparsemax_loss', 'softmax_cross_entropy']
