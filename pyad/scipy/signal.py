"""Differentiable ``scipy.signal``: ``convolve`` (and ``correlate``), 1-d and n-d.

Convolution is bilinear, so its derivatives are convolutions again: the tangent
of ``full(x, y)`` is ``full(ẋ, y) + full(x, ẏ)``, and a cotangent g pulls back to
``x`` as the part of ``full(g, flip(y))`` that lies under x (a correlation).  One
primitive computes the full convolution; ``'same'`` and ``'valid'`` are slices of
it, as SciPy defines them.
"""
from __future__ import annotations

from typing import Literal

import numpy as _np

from .._core.box import shape_of, ndim_of
from .._core.primitive import Primitive
from ..backend import namespace
from ..numpy.manipulation import flip, reshape
from ..typing import Array, ArrayLike

__all__ = ['convolve', 'correlate']

_MODES = ('full', 'same', 'valid')


def _signal_module(x):
    if namespace(x) is _np:
        import scipy.signal
        return scipy.signal
    import cupyx.scipy.signal
    return cupyx.scipy.signal


def _full_impl(x, y, method):
    return _signal_module(x).convolve(x, y, mode='full', method=method)


def _lifted(v, bnd):
    """v with bnd leading axes of length 1, to convolve against a batch of bnd axes."""
    return v if bnd == 0 else reshape(v, (1,) * bnd + tuple(shape_of(v)))


def _window(v, starts, lengths):
    """v[..., starts[i]:starts[i]+lengths[i], ...] over its last len(starts) axes."""
    lead = ndim_of(v) - len(starts)
    index = (slice(None),) * lead + tuple(slice(s, s + n) for s, n in zip(starts, lengths))
    return v[index]


def _pullback(g, ans, other, own_shape):
    """The cotangent of one factor of full(x, y) = ans: the correlation of g with the
    other factor, read where the factor lies."""
    bnd = ndim_of(g) - ndim_of(ans)
    corr = _full(g, _lifted(flip(other), bnd), method='auto')
    starts = [n - 1 for n in shape_of(other)]
    return _window(corr, starts, own_shape)


_full = Primitive('convolve', _full_impl)
_full.def_jvp(
    lambda t, ans, x, y, method: _full(t, _lifted(y, ndim_of(t) - ndim_of(x)), method=method),
    lambda t, ans, x, y, method: _full(_lifted(x, ndim_of(t) - ndim_of(y)), t, method=method))
_full.def_vjp(
    lambda g, ans, x, y, method: _pullback(g, ans, y, shape_of(x)),
    lambda g, ans, x, y, method: _pullback(g, ans, x, shape_of(y)))


def _as_array(v):
    if hasattr(v, 'shape'):
        return v
    return _np.asarray(v, dtype=float)


def _check(name, in1, in2, mode, method):
    s1, s2 = tuple(shape_of(in1)), tuple(shape_of(in2))
    if mode not in _MODES:
        raise ValueError(f"{name}: mode must be 'full', 'same' or 'valid', got {mode!r}")
    if method not in ('auto', 'direct', 'fft'):
        raise ValueError(f"{name}: method must be 'auto', 'direct' or 'fft', got {method!r}")
    if len(s1) != len(s2):
        raise ValueError(f'{name}: in1 and in2 must have the same number of dimensions, '
                         f'got shapes {s1} and {s2}')
    if not s1:
        raise ValueError(f'{name}: the inputs must be at least 1-d, got scalars')
    if 0 in s1 or 0 in s2:
        raise ValueError(f'{name}: the inputs must not be empty, got shapes {s1} and {s2}')
    if mode == 'valid' and not (all(a >= b for a, b in zip(s1, s2))
                                or all(b >= a for a, b in zip(s1, s2))):
        raise ValueError(f"{name}: for mode 'valid' one input must be at least as large as "
                         f"the other in every dimension, got shapes {s1} and {s2}")
    return s1, s2


def convolve(in1: ArrayLike, in2: ArrayLike, mode: Literal['full', 'same', 'valid'] = 'full',
             method: Literal['auto', 'direct', 'fft'] = 'auto') -> Array:
    """scipy.signal.convolve: the n-dimensional convolution of in1 and in2 (of the
    same number of dimensions), ``mode`` 'full', 'same' (the size of in1, centred)
    or 'valid' (where one input covers the other entirely).  Differentiable in both
    inputs, to any order."""
    in1, in2 = _as_array(in1), _as_array(in2)
    s1, s2 = _check('convolve', in1, in2, mode, method)
    full = _full(in1, in2, method=method)
    if mode == 'full':
        return full
    full_shape = [a + b - 1 for a, b in zip(s1, s2)]
    if mode == 'same':
        want = s1
    else:
        want = [abs(a - b) + 1 for a, b in zip(s1, s2)]
    starts = [(f - w) // 2 for f, w in zip(full_shape, want)]
    return _window(full, starts, want)


def correlate(in1: ArrayLike, in2: ArrayLike, mode: Literal['full', 'same', 'valid'] = 'full',
              method: Literal['auto', 'direct', 'fft'] = 'auto') -> Array:
    """scipy.signal.correlate for real inputs: the convolution with in2 reversed along
    every axis."""
    in1, in2 = _as_array(in1), _as_array(in2)
    _check('correlate', in1, in2, mode, method)
    return convolve(in1, flip(in2), mode=mode, method=method)
