"""Shared helpers of pyad.nn: argument checks in the user's terms, masks, counts."""
import numpy as _onp

from .._core.box import Box, innermost, shape_of, ndim_of, dtype_of
from ..backend import namespace
from ..numpy._batching import normalize_axis, normalize_axes


def as_float_array(x, name, complex_ok=False):
    """x as an array of a float dtype (ints and lists become float64), or of a complex
    dtype where ``complex_ok``; boxes pass.  A complex x elsewhere is refused (a cast
    would drop its imaginary part)."""
    kinds = 'fc' if complex_ok else 'f'
    if isinstance(x, Box):
        if dtype_of(x).kind not in kinds:
            raise TypeError(f'{name}: expected a floating-point array, got dtype {dtype_of(x)}')
        return x
    xp = namespace(x)
    x = xp.asarray(x)
    if x.dtype.kind == 'c' and not complex_ok:
        raise TypeError(f'{name}: complex values are not supported (got dtype {x.dtype}); '
                        f'take the real part, the modulus or the two parts first')
    if x.dtype.kind not in kinds:
        x = x.astype(xp.float64)
    return x


def check_axis(fn, x, axis):
    n = ndim_of(x)
    if n == 0:
        raise ValueError(f'{fn}: expected an array with at least one dimension, got a scalar')
    try:
        ax = normalize_axis(axis, n)
    except ValueError:
        raise ValueError(f'{fn}: axis {axis} is out of bounds for an array of shape '
                         f'{tuple(shape_of(x))}') from None
    if shape_of(x)[ax] == 0:
        # (NumPy would say 'zero-size array to reduction operation maximum')
        raise ValueError(f'{fn}: axis {axis} of the array of shape {tuple(shape_of(x))} has '
                         f'length 0: there is no probability distribution over no entries')
    return ax


def check_axes(fn, x, axis):
    n = ndim_of(x)
    if n == 0:
        raise ValueError(f'{fn}: expected an array with at least one dimension, got a scalar')
    try:
        return normalize_axes(axis, n)
    except ValueError as e:
        raise ValueError(f'{fn}: {e} (array of shape {tuple(shape_of(x))})') from None


def count(mask, axis, dtype):
    """Number of True entries along ``axis`` (kept), at least 1, as ``dtype``:
    a safe denominator for averages over a possibly empty set."""
    xp = namespace(mask)
    n = xp.sum(mask, axis=axis, keepdims=True)
    return xp.maximum(n, 1).astype(dtype)


def errstate():
    return _onp.errstate(invalid='ignore', divide='ignore', over='ignore')


def plain(x):
    return innermost(x)
