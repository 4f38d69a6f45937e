"""Building arrays from values that may be traced: ``array`` and ``asarray``."""
import numpy as _np

from .._core.box import Box, dtype_of


def _contains_box(obj):
    if isinstance(obj, Box):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_contains_box(o) for o in obj)
    return False


def _leaf_dtypes(obj, out):
    if isinstance(obj, (list, tuple)):
        for o in obj:
            _leaf_dtypes(o, out)
    elif hasattr(obj, 'dtype') or isinstance(obj, Box):
        out.append(dtype_of(obj))
    elif isinstance(obj, complex):      # a Python complex beside traced values
        out.append(_np.dtype(_np.complex128))
    return out


def _build(obj, dtype):
    """Stack nested lists; plain Python numbers take the dtype of the arrays and
    traced values beside them (so float32 stays float32, as with NumPy's weak scalars)."""
    from .manipulation import stack
    if isinstance(obj, (list, tuple)):
        return stack([_build(o, dtype) for o in obj])
    if isinstance(obj, Box) or hasattr(obj, 'dtype'):
        return obj
    return _np.asarray(obj, dtype=dtype)


def array(obj, dtype=None):
    """numpy.array; nested lists holding traced values are stacked differentiably."""
    if _contains_box(obj):
        dtypes = _leaf_dtypes(obj, [])
        weak = _np.result_type(*dtypes) if dtypes else _np.dtype(_np.float64)
        if weak.kind not in 'fc':
            weak = _np.dtype(_np.float64)
        out = _build(obj, weak)
        if dtype is not None:
            from .manipulation import astype
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
