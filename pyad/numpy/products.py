"""Products: matmul, and the products built on it."""
import numpy as _np

from .._core.primitive import Primitive
from .._core.box import shape_of, ndim_of
from ._batching import unbroadcast_shape
from .shape import reshape, swapaxes, transpose


def _matmul_impl(x, y):
    return _np.matmul(x, y)


def _as_matrices(x, y):
    """NumPy's promotion of 1-D operands: x (k,) -> (1, k), y (k,) -> (k, 1).
    Returns the promoted shapes and the shape of their product."""
    xs, ys = tuple(shape_of(x)), tuple(shape_of(y))
    xs2 = (1,) + xs if len(xs) == 1 else xs
    ys2 = ys + (1,) if len(ys) == 1 else ys
    stack = _np.broadcast_shapes(xs2[:-2], ys2[:-2])
    return xs2, ys2, tuple(stack) + (xs2[-2], ys2[-1])


def _promote(t, bnd, shape2, out_ndim2):
    """A batched (co)tangent reshaped to batch + shape2, with size-1 stack axes
    inserted after the batch so that it broadcasts against an out_ndim2 product."""
    batch = tuple(shape_of(t)[:bnd])
    return reshape(t, batch + (1,) * (out_ndim2 - len(shape2)) + tuple(shape2))


# Fast paths below keep a batch of B directions in ONE matrix product against a
# 2-D operand, instead of a stack of B small products (or matrix-vector products).

def _matmul_jvp_x(t, ans, x, y):
    bnd = ndim_of(t) - ndim_of(x)
    if bnd == 0:
        return matmul(t, y)
    if ndim_of(y) == 2:
        ts = shape_of(t)
        r = matmul(reshape(t, (-1, ts[-1])), y)
        return reshape(r, tuple(ts[:bnd]) + tuple(shape_of(ans)))
    xs2, ys2, out2 = _as_matrices(x, y)
    r = matmul(_promote(t, bnd, xs2, len(out2)), reshape(y, ys2))
    return reshape(r, tuple(shape_of(t)[:bnd]) + tuple(shape_of(ans)))


def _matmul_jvp_y(t, ans, x, y):
    bnd = ndim_of(t) - ndim_of(y)
    if bnd == 0:
        return matmul(x, t)
    if ndim_of(x) == 2 and ndim_of(y) == 1:
        return matmul(t, transpose(x))        # (B.., k) @ (k, n)
    xs2, ys2, out2 = _as_matrices(x, y)
    r = matmul(reshape(x, xs2), _promote(t, bnd, ys2, len(out2)))
    return reshape(r, tuple(shape_of(t)[:bnd]) + tuple(shape_of(ans)))


def _matmul_vjp_x(g, ans, x, y):
    xn, yn = ndim_of(x), ndim_of(y)
    bnd = ndim_of(g) - ndim_of(ans)
    if xn == 2 and yn == 2:
        if bnd == 0:
            return matmul(g, transpose(y))
        gs = shape_of(g)
        r = matmul(reshape(g, (-1, gs[-1])), transpose(y))
        return reshape(r, tuple(gs[:bnd]) + tuple(shape_of(x)))
    if xn == 2 and yn == 1:
        from .shape import expand_dims
        return expand_dims(g, -1) * y          # outer products, batched
    xs2, ys2, out2 = _as_matrices(x, y)
    batch = tuple(shape_of(g)[:bnd])
    g2 = reshape(g, batch + out2)
    r = matmul(g2, swapaxes(reshape(y, ys2), -1, -2))
    r = unbroadcast_shape(r, out2[:-2] + xs2[-2:], xs2)
    return reshape(r, batch + tuple(shape_of(x)))


def _matmul_vjp_y(g, ans, x, y):
    xn, yn = ndim_of(x), ndim_of(y)
    bnd = ndim_of(g) - ndim_of(ans)
    if bnd == 0 and xn == 2 and yn == 2:
        return matmul(transpose(x), g)
    if xn == 2 and yn == 1:
        return matmul(g, x)                    # (B.., n) @ (n, k)
    xs2, ys2, out2 = _as_matrices(x, y)
    batch = tuple(shape_of(g)[:bnd])
    g2 = reshape(g, batch + out2)
    r = matmul(swapaxes(reshape(x, xs2), -1, -2), g2)
    r = unbroadcast_shape(r, out2[:-2] + ys2[-2:], ys2)
    return reshape(r, batch + tuple(shape_of(y)))


_matmul = Primitive('matmul', _matmul_impl)
_matmul.def_jvp(_matmul_jvp_x, _matmul_jvp_y)
_matmul.def_vjp(_matmul_vjp_x, _matmul_vjp_y)


def matmul(x1, x2):
    """numpy.matmul (the ``@`` operator), over stacks of matrices too."""
    s1, s2 = shape_of(x1), shape_of(x2)
    if not s1 or not s2:
        raise ValueError('matmul: scalar operands are not allowed, use * instead')
    k1 = s1[-1]
    k2 = s2[-2] if len(s2) >= 2 else s2[0]
    if k1 != k2:
        raise ValueError(f'matmul: shapes {tuple(s1)} and {tuple(s2)} are not aligned: '
                         f'{k1} (last axis of the first) != {k2} (contracted axis of the second)')
    return _matmul(x1, x2)


__all__ = ['matmul']
