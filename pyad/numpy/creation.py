"""Building arrays from values that may be traced: ``array`` and ``asarray``."""
import numpy as _np

from .._core.box import Box


def _contains_box(obj):
    if isinstance(obj, Box):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_contains_box(o) for o in obj)
    return False


def _build(obj):
    from .shape import stack
    if isinstance(obj, (list, tuple)):
        return stack([_build(o) for o in obj])
    return obj


def array(obj, dtype=None):
    """numpy.array; nested lists holding traced values are stacked differentiably."""
    if _contains_box(obj):
        out = _build(obj)
        if dtype is not None:
            from .shape import astype
            out = astype(out, dtype)
        return out
    return _np.array(obj, dtype=dtype)


def asarray(obj, dtype=None):
    """numpy.asarray; a traced value is returned as it is."""
    if isinstance(obj, Box) and dtype is None:
        return obj
    if _contains_box(obj) or isinstance(obj, Box):
        return array(obj, dtype)
    return _np.asarray(obj, dtype=dtype)


__all__ = ['array', 'asarray']
