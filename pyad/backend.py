"""The array library behind a value: NumPy, or CuPy for arrays that live on a GPU.

pyad never chooses a device itself: CuPy arrays in give CuPy arrays out.  Rules
create arrays with ``*_like`` functions or through ``namespace(x)``, never with a
hard-coded ``numpy.zeros``, so every primitive runs where its inputs live.
"""
import numpy

from ._core.box import innermost

_cupy = None
_cupy_checked = False


def cupy_module():
    """The cupy module if it is installed and imports, else None."""
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy  # noqa: F401
            _cupy = cupy
        except Exception:   # not installed, or no driver: NumPy only
            _cupy = None
    return _cupy


def namespace(*values):
    """The array module (numpy or cupy) for these values."""
    for v in values:
        v = innermost(v)
        mod = type(v).__module__
        if mod.startswith('cupy'):
            return cupy_module()
    return numpy


def scipy_special(*values):
    """scipy.special or cupyx.scipy.special, to match the values."""
    if namespace(*values) is numpy:
        import scipy.special
        return scipy.special
    import cupyx.scipy.special
    return cupyx.scipy.special


def scipy_linalg(*values):
    if namespace(*values) is numpy:
        import scipy.linalg
        return scipy.linalg
    import cupyx.scipy.linalg
    return cupyx.scipy.linalg


def is_array(x):
    """True for NumPy or CuPy arrays and scalars (not for Python numbers)."""
    return hasattr(x, 'dtype') and hasattr(x, 'shape')


def to_numpy(x):
    """A host (NumPy) copy of x, whichever device it is on."""
    x = innermost(x)
    if type(x).__module__.startswith('cupy'):
        return x.get()
    return numpy.asarray(x)


def wrap_like(out, *refs):
    """``out`` as the array type of the first ndarray subclass among ``refs``.

    Some library routines (scipy.linalg, numpy.where, broadcast_to) return a plain
    ``numpy.ndarray`` for an ndarray subclass input; implementations pass their
    results through this so that an array type that comes in goes out (NumPy
    scalars from 0-d results included).  For plain ndarrays and CuPy arrays it
    returns ``out`` unchanged."""
    for r in refs:
        r = innermost(r)
        cls = type(r)
        if cls is numpy.ndarray or not isinstance(r, numpy.ndarray):
            continue
        if type(out) is cls:
            return out
        if isinstance(out, (numpy.ndarray, numpy.generic)):
            return numpy.asarray(out).view(cls)
        return out
    return out
