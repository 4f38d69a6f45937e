"""The differentiable NumPy namespace: ``import pyad.numpy as np``.

On plain arrays every function here does what NumPy does (a primitive with no
boxed argument calls its implementation directly).  On values being
differentiated it records or propagates derivatives.  Names that have no
derivative to speak of (dtypes, constants, array creation from shapes) are
NumPy's own, re-exported so that this module can stand in for ``numpy``.
"""
import numpy as _onp

from .elementwise import *          # noqa: F401,F403
from .manipulation import *                # noqa: F401,F403
from .reductions import *           # noqa: F401,F403
from .indexing import *             # noqa: F401,F403
from .products import *             # noqa: F401,F403
from .composite import *            # noqa: F401,F403
from .nanfunctions import *         # noqa: F401,F403
from .updates import *              # noqa: F401,F403
from ._arraytype import ndarray, is_array    # noqa: F401
from .complexes import *            # noqa: F401,F403
from . import elementwise as _ew
from . import manipulation as _shape
from . import reductions as _red
from . import indexing as _idx
from . import products as _prod
from .._core.box import install_methods as _install_methods, innermost as _innermost
from .._core.primitive import bind as _bind
from .creation import *             # noqa: F401,F403
from . import _taylor               # noqa: F401  (registers the Taylor-mode rules)
from . import fft                   # noqa: F401  (pyad.numpy.fft, as numpy.fft)
from . import _protocol
from .updates import at as _at

# NumPy names with nothing to differentiate
from numpy import (  # noqa: F401
    pi, e, inf, nan, newaxis, euler_gamma,
    float16, float32, float64, int8, int16, int32, int64, uint8, bool_, dtype, finfo, iinfo,
    shape, ndim, result_type, promote_types,
    zeros, ones, empty, full, eye, identity, arange,
    tri, indices, diag_indices, tril_indices, triu_indices, random,
    bincount, isscalar,
    complex64, complex128,
)
from ._plain import (size, isrealobj, argsort, searchsorted, digitize,  # noqa: F401
                     argwhere, nonzero, flatnonzero, count_nonzero, meshgrid, unique)  # noqa: F401  (NumPy's, lazy on Dask arrays)


# --------------------------------------------------------------------- box methods
def _reverse(fn):
    from .._core.primitive import Primitive, bind
    if isinstance(fn, Primitive):
        empty = {}

        def reflected(self, other):
            return bind(fn, (other, self), empty)
        return reflected
    return lambda self, other: fn(other, self)


def _operand(fn):
    """The operator method of a binary Primitive (a complex operand is refused by
    dispatch where the primitive's rules are for real values only)."""
    def method(self, other):
        return _bind(fn, (self, other), _NO_PARAMS)
    return method


def _method_reshape(self, *shape, order='C'):
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    return _shape.reshape(self, shape, order=order)


def _method_transpose(self, *axes):
    if not axes:
        return _shape.transpose(self)
    if len(axes) == 1 and not isinstance(axes[0], int):
        axes = axes[0]
    return _shape.transpose(self, axes)


_NO_PARAMS = {}


def _mul(self, other):
    # x * x is square(x): one product in each derivative rule (2 x c), not two
    if other is self:
        return _bind(_ew.square, (self,), _NO_PARAMS)
    return _bind(_ew.multiply, (self, other), _NO_PARAMS)


def _getitem(self, idx):
    if type(idx) is int:
        return _bind(_idx.getitem_element, (self, (idx,)), _NO_PARAMS)
    idx = _idx.normalize_index(idx)
    if _idx.is_batched_index(idx):
        return _idx.batched_getitem(self, idx)
    steps = _idx.dask_mask_steps(idx, _idx.ndim_of(self))
    if steps is not None:       # a Dask mask beside other indices: lazy steps
        return _idx.index_in_steps(self, steps)
    return _bind(_idx.getitem, (self, idx), _NO_PARAMS)


def _setitem(self, idx, value):
    raise TypeError('pyad: in-place assignment (x[i] = v) to a value being differentiated is '
                    'not supported; use a functional update, which returns a new array: '
                    'x = x.at[i].set(v) (also .add, .multiply, .min, .max; '
                    'pyad.numpy.at(x)[i].set(v) for plain arrays too)')


def _no_out(name, out):
    if out is not None:
        raise TypeError(f'x.{name}(out=...): a traced value cannot be written into an array; '
                        f'use the returned value')


# NumPy's order of arguments: x.sum(axis, dtype, out, keepdims)
def _method_sum(self, axis=None, dtype=None, out=None, keepdims=False):
    _no_out('sum', out)
    return _red.sum(self, axis, keepdims, dtype)


def _method_mean(self, axis=None, dtype=None, out=None, keepdims=False):
    _no_out('mean', out)
    m = _red.mean(self, axis, keepdims)
    return m if dtype is None else _shape.astype(m, dtype)


def _method_astype(self, dtype, order='K', casting='unsafe', subok=True, copy=True):
    return _shape.astype(self, dtype)


def _method_round(self, decimals=0, out=None):
    _no_out('round', out)
    return _ew.round(self, decimals)


def _method_view(self, dtype=None, type=None):
    if (dtype is None or _onp.dtype(dtype) == self.dtype) and type is None:
        return self
    raise TypeError('x.view(dtype) of a traced value would reinterpret its bytes, which has '
                    'no derivative; use x.astype(dtype) to convert its values')


def _no_tolist(self):
    raise TypeError('x.tolist() of a traced value would turn it into Python floats and drop '
                    'its derivative. Keep it an array, or iterate over it (list(x) gives the '
                    'traced entries), or use pyad.stop_gradient(x).tolist() if the '
                    'derivative is meant to be dropped.')


def _no_bytes(self, *args, **kwargs):
    raise TypeError('the bytes of a traced value have no derivative: use '
                    'pyad.stop_gradient(x) first if the derivative is meant to be dropped')


def _in_place(name, instead):
    def method(self, *args, **kwargs):
        raise TypeError(f'pyad: x.{name}() changes x in place, which a value being '
                        f'differentiated cannot do; {instead}')
    return method


def _plain_method(name):
    """A method with an integer or boolean result: NumPy's, on the plain values."""
    def method(self, *args, **kwargs):
        return getattr(_innermost(self), name)(*args, **kwargs)
    return method


_methods = {
    '__add__': _operand(_ew.add), '__radd__': _reverse(_ew.add),
    '__sub__': _operand(_ew.subtract), '__rsub__': _reverse(_ew.subtract),
    '__mul__': _mul, '__rmul__': _reverse(_ew.multiply),
    '__truediv__': _operand(_ew.divide), '__rtruediv__': _reverse(_ew.divide),
    '__floordiv__': _operand(_ew.floor_divide), '__rfloordiv__': _reverse(_ew.floor_divide),
    '__mod__': _operand(_ew.mod), '__rmod__': _reverse(_ew.mod),
    '__pow__': _operand(_ew.power), '__rpow__': _reverse(_ew.power),
    '__matmul__': _prod.matmul, '__rmatmul__': _reverse(_prod.matmul),
    '__neg__': _ew.negative, '__pos__': _ew.positive, '__abs__': _ew.absolute,
    '__lt__': _ew.less, '__le__': _ew.less_equal, '__gt__': _ew.greater,
    '__ge__': _ew.greater_equal, '__eq__': _ew.equal, '__ne__': _ew.not_equal,
    '__getitem__': _getitem, '__setitem__': _setitem,
    'at': property(lambda self: _at(self)),
    # NumPy's own functions on traced values (see _protocol.py)
    '__array_ufunc__': _protocol.array_ufunc, '__array_function__': _protocol.array_function,
    '__array__': _protocol.array_method, 'flags': property(_protocol.no_flags),
    'T': property(lambda self: _shape.transpose(self)),
    'mT': property(lambda self: _shape.matrix_transpose(self)),
    'reshape': _method_reshape, 'transpose': _method_transpose,
    'ravel': lambda self: _shape.ravel(self), 'flatten': lambda self: _shape.ravel(self),
    'squeeze': lambda self, axis=None: _shape.squeeze(self, axis),
    'swapaxes': lambda self, a, b: _shape.swapaxes(self, a, b),
    'astype': _method_astype, 'round': _method_round, '__round__': _method_round,
    'copy': lambda self, order='C': self,       # a traced value is never written into
    '__copy__': lambda self: self, '__deepcopy__': lambda self, memo: self,
    'view': _method_view, 'tolist': _no_tolist,
    'tobytes': _no_bytes, 'tofile': _no_bytes, 'dump': _no_bytes, 'dumps': _no_bytes,
    'fill': _in_place('fill', 'use pyad.numpy.full_like(x, value)'),
    'put': _in_place('put', 'use x.at[indices].set(values)'),
    'resize': _in_place('resize', 'use pyad.numpy.resize(x, shape) or x.reshape(shape)'),
    'partition': _in_place('partition', 'use pyad.numpy.partition(x, kth), which returns a '
                           'partitioned copy'),
    'itemset': _in_place('itemset', 'use x.at[index].set(value)'),
    'setflags': _in_place('setflags', 'traced values are never written into'),
    'nbytes': property(lambda self: self.size * self.dtype.itemsize),
    'itemsize': property(lambda self: self.dtype.itemsize),
    'flat': property(lambda self: _shape.ravel(self)),
    '__contains__': lambda self, value: bool((_innermost(self) == _innermost(value)).any()),
    '__divmod__': lambda self, other: (self // other, self % other),
    '__rdivmod__': lambda self, other: (other // self, other % self),
    'compress': lambda self, condition, axis=None: _extra_call('compress', condition, self,
                                                                axis),
    'sum': _method_sum, 'mean': _method_mean,
    'dot': lambda self, other: _extra_call('dot', self, other),
    'clip': lambda self, a_min=None, a_max=None: _ew.clip(self, a_min, a_max),
    'conj': lambda self: conj(self), 'conjugate': lambda self: conj(self),
    'real': property(lambda self: real(self)), 'imag': property(lambda self: imag(self)),
    'item': lambda self: _no_item(self),
    'sort': lambda self, *a, **k: _no_inplace_sort(self),
}


def _no_item(self):
    raise TypeError('x.item() of a traced value would drop its derivative. Keep it an '
                    'array (x[()] or x.reshape(())), or use pyad.stop_gradient(x) if the '
                    'derivative is meant to be dropped.')


def _no_inplace_sort(self):
    raise TypeError('pyad: x.sort() sorts in place, which a value being differentiated '
                    'cannot do; use pyad.numpy.sort(x), which returns a sorted copy')


def _extra_call(name, *args, **kwargs):
    return globals()[name](*args, **kwargs)


for _name in ('prod', 'max', 'min', 'var', 'std', 'cumsum', 'cumprod', 'trace',
              'diagonal', 'take', 'repeat', 'any', 'all', 'argmax', 'argmin', 'nonzero'):
    _methods[_name] = (lambda name: lambda self, *a, **k: _extra_call(name, self, *a, **k))(_name)
for _name in ('argsort', 'argpartition', 'searchsorted'):
    _methods[_name] = _plain_method(_name)

_install_methods(_methods)

# help() and inspect show each primitive's own arguments, annotated
from ..typing import primitive_signature as _primitive_signature
from .._core.primitive import Primitive as _Primitive
for _value in list(globals().values()):
    if isinstance(_value, _Primitive) and not hasattr(_value, '__signature__'):
        _value.__signature__ = _primitive_signature(
            _value, 'bool' if _value.name in ('allclose', 'array_equal') else 'Array')


# A Dask array whose lengths are unknown until computed (x[x > 0]) meets functions
# that need them: their errors name the function (pyad.backend.names_unknown_lengths)
def _plain_python_function(value):
    """A function of pyad's own (not a primitive, a class, or NumPy's), not yet guarded."""
    return (callable(value) and not isinstance(value, (type, _Primitive))
            and (getattr(value, '__module__', None) or '').startswith('pyad')
            and not getattr(value, '__wrapped_unknown_lengths__', False))


def _guard_unknown_lengths(namespace, prefix):
    from ..backend import names_unknown_lengths
    names = {}              # one wrapper for each function: aliases (max, amax) stay aliases
    for name in list(getattr(namespace, '__all__', None) or dir(namespace)):
        value = getattr(namespace, name)
        if not name.startswith('_') and _plain_python_function(value):
            names.setdefault(id(value), (value, []))[1].append(name)
    for value, aliases in names.values():
        own = value.__name__ if value.__name__ in aliases else aliases[0]
        others = [a for a in aliases if a != own]
        called = prefix + own + (f' (also {", ".join(others)})' if others else '')
        checked = names_unknown_lengths(called, value)
        checked.__wrapped_unknown_lengths__ = True
        for name in aliases:
            setattr(namespace, name, checked)


_guard_unknown_lengths(__import__('sys').modules[__name__], '')
_guard_unknown_lengths(fft, 'fft.')
