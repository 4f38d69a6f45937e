"""softmax, log_softmax and logsumexp along any axis (or axes).

Each is one primitive with a JVP and a VJP rule written with pyad operations, so
that they can be differentiated again.  The implementations subtract the maximum
(stable for large inputs); ``-inf`` entries (masked) get probability 0; a row
that is entirely ``-inf`` gives softmax 0 everywhere, log_softmax and logsumexp
``-inf``, and derivatives without NaN.  NaN inputs give NaN.  Over an empty axis,
softmax and log_softmax are empty and logsumexp is ``-inf`` (the log of an empty sum).

Complex inputs are accepted, as SciPy's and JAX's functions accept them: the three
are holomorphic and the rules below hold as they are (no conjugation, see
docs/complex.md).  The values are SciPy's: logsumexp is the principal branch of the
log of the complex sum (the shift is the largest real part), log_softmax is
(x - m) - log(sum(exp(x - m))) with m the largest entry in NumPy's order (real part,
then imaginary), which may differ from x - logsumexp(x) by a multiple of 2πi.

The rules, with y = softmax(x) along the axes:

* softmax:      J t = y * (t - sum(y * t))            (symmetric: the VJP is the same)
* log_softmax:  J t = t - sum(y * t),  Jᵀ g = g - y * sum(g)
* logsumexp:    J t = sum(y * t),      Jᵀ g = g * y
"""
from __future__ import annotations

from ..typing import Array, ArrayLike, Axis
from .._core.primitive import Primitive
from ..backend import namespace
from ..numpy import reductions as _red
from ..numpy._batching import batch_ndim, shift_axes
from .. import numpy as pnp
from ._util import as_float_array, check_axes, errstate


def _safe_max(x, axes, real=False):
    """The maximum over ``axes`` (kept), replaced by 0 where it is not finite (a
    fully masked row, or +inf): subtracting it then never makes a NaN by itself.
    ``real``: the maximum of the real parts (for the principal branch of a complex log)."""
    xp = namespace(x)
    if x.size == 0:         # (max has no identity): softmax is then empty, logsumexp -inf
        return xp.zeros(xp.sum(x, axis=axes, keepdims=True).shape, dtype=x.dtype)
    with errstate():
        m = xp.max(x.real if real else x, axis=axes, keepdims=True)
    return xp.where(xp.isfinite(m), m, 0)


def _softmax_impl(x, axes):
    xp = namespace(x)
    with errstate():
        e = xp.exp(x - _safe_max(x, axes))
        s = xp.sum(e, axis=axes, keepdims=True)
        return xp.where(s == 0, 0, e / s).astype(e.dtype, copy=False)


def _log_softmax_impl(x, axes):
    xp = namespace(x)
    with errstate():
        lse = _logsumexp_impl(x, axes, True, principal=False)
        return xp.where(lse == -xp.inf, -xp.inf, x - lse).astype(x.dtype, copy=False)


def _logsumexp_impl(x, axes, keepdims, principal=True):
    xp = namespace(x)
    with errstate():
        m = _safe_max(x, axes, real=principal and x.dtype.kind == 'c')
        out = xp.log(xp.sum(xp.exp(x - m), axis=axes, keepdims=True)) + m
    if not keepdims:
        out = xp.squeeze(out, axis=axes)
    return out.astype(x.dtype, copy=False) if hasattr(out, 'astype') else out


def _softmax_lin(c, ans, x, axes):
    ax = shift_axes(axes, batch_ndim(c, x))
    return ans * (c - _red.sum(ans * c, axis=ax, keepdims=True))


_softmax = Primitive('softmax', _softmax_impl, complex_rules=True)
_softmax.def_jvp(_softmax_lin)
_softmax.def_vjp(_softmax_lin)

_log_softmax = Primitive('log_softmax', _log_softmax_impl, complex_rules=True)
_log_softmax.def_jvp(lambda t, ans, x, axes: t - _red.sum(
    pnp.exp(ans) * t, axis=shift_axes(axes, batch_ndim(t, x)), keepdims=True))
_log_softmax.def_vjp(lambda g, ans, x, axes: g - pnp.exp(ans) * _red.sum(
    g, axis=shift_axes(axes, batch_ndim(g, ans)), keepdims=True))

_logsumexp = Primitive('logsumexp', _logsumexp_impl, complex_rules=True)
_logsumexp.def_jvp(lambda t, ans, x, axes, keepdims: _red.sum(
    _softmax(x, axes=axes) * t, axis=shift_axes(axes, batch_ndim(t, x)), keepdims=keepdims))
_logsumexp.def_vjp(lambda g, ans, x, axes, keepdims: _red.restore_reduced(
    g, ans, x, axes, keepdims) * _softmax(x, axes=axes))


def softmax(x: ArrayLike, axis: int = -1) -> Array:
    """exp(x) / sum(exp(x)) along ``axis`` (an int, a tuple of ints, or None for all).

    Stable for large inputs; ``-inf`` entries get 0; an all ``-inf`` row gives zeros."""
    x = as_float_array(x, 'softmax', complex_ok=True)
    return _softmax(x, axes=check_axes('softmax', x, axis))


def log_softmax(x: ArrayLike, axis: int = -1) -> Array:
    """x - logsumexp(x) along ``axis``; ``-inf`` where x is ``-inf`` (and on all ``-inf`` rows)."""
    x = as_float_array(x, 'log_softmax', complex_ok=True)
    return _log_softmax(x, axes=check_axes('log_softmax', x, axis))


def logsumexp(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Array:
    """log(sum(exp(x))) over ``axis`` (None: all axes), computed stably; ``-inf`` for a
    reduction over ``-inf`` entries only.  Its gradient is softmax(x)."""
    x = as_float_array(x, 'logsumexp', complex_ok=True)
    return _logsumexp(x, axes=check_axes('logsumexp', x, axis), keepdims=bool(keepdims))


__all__ = ['softmax', 'log_softmax', 'logsumexp']
