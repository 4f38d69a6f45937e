"""The array libraries the device tests run on.

* ``strict-cpu``: a stand-in for a GPU library that runs everywhere (CI too).
  ``Strict`` arrays live in NumPy memory but refuse, as CuPy does, any
  arithmetic or library call that mixes in a NumPy (host) array; pyad reaches
  them through their own namespace (registered with ``pyad.backend.register``),
  whose functions return Strict arrays, as CuPy's return device arrays.  A rule
  that builds a constant with ``numpy`` instead of ``namespace(x)``, or a
  routine that evaluates the user's function on host copies, fails here.
* ``cupy``: CuPy on a GPU, where one is present (skipped otherwise).
"""
import types

import numpy as onp
import pytest

from pyad import backend


class HostArrayMixed(TypeError):
    pass


def _walk(obj):
    if isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _walk(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _walk(o)
    else:
        yield obj


def _refuse_host(name, *objs):
    for o in _walk(objs):
        if type(o) is onp.ndarray:
            raise HostArrayMixed(f'{name}: a host (NumPy) array of shape {o.shape} was mixed '
                                 f'into device (Strict) arithmetic')


def _unwrap(obj):
    if isinstance(obj, Strict):
        return obj.view(onp.ndarray)
    if isinstance(obj, list):
        return [_unwrap(o) for o in obj]
    if isinstance(obj, tuple) and not hasattr(obj, '_fields'):
        return tuple(_unwrap(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _unwrap(v) for k, v in obj.items()}
    return obj


def _wrap(obj):
    """Results become device arrays; NumPy scalars become 0-d ones (as in CuPy)."""
    if type(obj) is onp.ndarray:
        return obj.view(Strict)
    if isinstance(obj, onp.generic) and not isinstance(obj, onp.bool_):
        return onp.asarray(obj).view(Strict)
    if isinstance(obj, list):
        return [_wrap(o) for o in obj]
    if isinstance(obj, tuple):
        items = [_wrap(o) for o in obj]
        return type(obj)(*items) if hasattr(obj, '_fields') else tuple(items)
    return obj


def _foreign(obj):
    """Another type with its own ufunc handling (pyad's boxes): Strict defers to it."""
    return not isinstance(obj, onp.ndarray) and hasattr(type(obj), '__array_ufunc__') \
        and type(obj).__array_ufunc__ is not None and not isinstance(obj, onp.generic)


class Strict(onp.ndarray):
    """A device-array stand-in (see the module docstring)."""

    def __array_finalize__(self, obj):
        pass

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if any(_foreign(i) for i in inputs):
            return NotImplemented       # e.g. a traced value: its own type takes over
        _refuse_host(f'{ufunc.__name__}', inputs, kwargs)
        r = getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs))
        if kwargs.get('out') is not None:
            return kwargs['out'][0] if len(kwargs['out']) == 1 else kwargs['out']
        return _wrap(r)

    def __array_function__(self, func, types_, args, kwargs):
        if any(not issubclass(t, onp.ndarray) for t in types_):
            return NotImplemented
        _refuse_host(func.__name__, args, kwargs)
        return _wrap(func(*_unwrap(args), **_unwrap(kwargs)))

    def __getitem__(self, index):
        _refuse_host('indexing', index)
        return _wrap(super().__getitem__(_unwrap(index)))

    def get(self):
        return self.view(onp.ndarray).copy()


# functions that take host data by design (moving it to the device)
_TAKES_HOST = {'asarray', 'array', 'asanyarray', 'ascontiguousarray'}


class _Namespace:
    """A module whose functions take and return Strict arrays."""

    def __init__(self, mod):
        self._mod = mod

    def __getattr__(self, name):
        a = getattr(self._mod, name)
        if isinstance(a, types.ModuleType):
            return _Namespace(a)
        if isinstance(a, (type, onp.ufunc)) or not callable(a):
            return a            # dtypes, constants; ufuncs dispatch to Strict themselves

        def call(*args, **kwargs):
            if name not in _TAKES_HOST:
                _refuse_host(f'{self._mod.__name__}.{name}', args, kwargs)
            return _wrap(a(*_unwrap(args), **_unwrap(kwargs)))
        call.__name__ = name
        return call


def _register_strict():
    import scipy.linalg
    import scipy.special
    xp = _Namespace(onp)
    backend.register(Strict, xp, special=_Namespace(scipy.special), linalg=_Namespace(scipy.linalg))
    return xp


STRICT_NAMESPACE = _register_strict()


class Device:
    def __init__(self, name, xp):
        self.name, self.xp = name, xp

    def put(self, x):
        """A host array (or a pytree of them) moved to this device."""
        import pyad
        return pyad.tree_map(lambda l: self.xp.asarray(l) if hasattr(l, 'shape') else l, x)

    def owns(self, x):
        return backend.namespace(x) is self.xp and hasattr(x, 'shape') and type(x) is not onp.ndarray

    def __repr__(self):
        return self.name


def _gpu_cupy():
    """(cupy, None) where CuPy can use a GPU, else (None, why not)."""
    try:
        import cupy
    except Exception as e:       # not installed, or no driver
        return None, f'CuPy is not available: {e}'
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None, 'no CUDA device'
        cupy.zeros(1).sum().get()
    except Exception as e:       # no device, broken install
        return None, f'CuPy cannot use a GPU here: {e}'
    return cupy, None


cupy, WHY_NO_GPU = _gpu_cupy()
STRICT = Device('strict-cpu', STRICT_NAMESPACE)
DEVICES = [pytest.param(STRICT, id='strict-cpu'),
           pytest.param(Device('cupy', cupy), id='cupy',
                        marks=pytest.mark.skipif(cupy is None, reason=str(WHY_NO_GPU)))]
