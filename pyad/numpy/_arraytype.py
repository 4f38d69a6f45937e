"""``pyad.numpy.ndarray`` and ``pyad.is_array``: recognising arrays, traced or not.

Code written for NumPy often asks ``isinstance(x, np.ndarray)``, which is False for
a value being differentiated (a box around the array).  ``pyad.numpy.ndarray`` is
NumPy's class for everything but ``isinstance`` and ``issubclass``, which also
accept traced values (as ``isinstance(x, jax.Array)`` accepts JAX's tracers).
"""
from __future__ import annotations

from ..typing import Array, ArrayLike
import numpy as _np

from .. import backend
from .._core.box import Box


def is_array(x: ArrayLike) -> bool:
    """True for an array: a NumPy (or CuPy, Dask, or registered) array, or a value being
    differentiated, whatever its shape.  False for Python numbers, lists and NumPy
    scalars (``np.float64(1.0)``), as ``isinstance(x, numpy.ndarray)`` is."""
    if isinstance(x, (Box, _np.ndarray)) or backend.is_registered(x) or backend.is_dask(x):
        return True
    cupy = backend.cupy_module()
    return cupy is not None and isinstance(x, cupy.ndarray)


class _ArrayType(type):
    def __instancecheck__(cls, x):
        return is_array(x)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, (Box, _np.ndarray))

    def __call__(cls, *args, **kwargs):
        return _np.ndarray(*args, **kwargs)       # building one is NumPy's


class ndarray(metaclass=_ArrayType):
    """numpy.ndarray, whose ``isinstance`` also accepts traced values: code written
    as ``isinstance(x, np.ndarray)`` keeps working under ``import pyad.numpy as np``."""


ndarray.__module__ = 'pyad.numpy'

__all__ = ['ndarray', 'is_array']
