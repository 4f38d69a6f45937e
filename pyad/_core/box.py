"""Box: the common base of a dual number and a tape variable.

A box wraps a primal value at one tag.  The primal may itself be a box at an
older tag: nesting of operators is nesting of boxes.  Arithmetic on boxes goes
through pyad's primitives; the operator table is filled in by ``pyad.numpy``
(the core knows nothing about NumPy functions).
"""
import dis
import numbers
import sys
from typing import Any, Tuple

from .. import backend


BOX_TYPES = set()                           # every kind of box (filled below)
BOX_OR_ARRAY_TYPES = {backend.ndarray}      # ... and NumPy arrays


class Box:
    __slots__ = ('primal', 'tag')
    # NumPy must hand mixed operations (ndarray * box) to the box.
    __array_priority__ = 1000.0

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        BOX_TYPES.add(cls)
        BOX_OR_ARRAY_TYPES.add(cls)

    # -- array-like metadata, read off the innermost value ------------------------
    @property
    def shape(self):
        return shape_of(peek(self))

    @property
    def ndim(self):
        return len(shape_of(peek(self)))

    @property
    def size(self):
        n = 1
        for d in shape_of(peek(self)):
            n *= d
        return n

    @property
    def dtype(self):
        return dtype_of(self)

    def __len__(self):
        shape = self.shape
        if not shape:
            raise TypeError('len() of a 0-d (scalar) traced value')
        return shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self):
        return bool(innermost(self))

    def __float__(self):
        if _stored_into_an_array():
            raise TypeError(STORE_ERROR)
        raise TypeError(
            'float() of a traced value would drop its derivative. Use pyad.numpy '
            'functions instead of the math module, or pyad.stop_gradient(x) if the '
            'derivative is meant to be dropped.')

    def __int__(self):
        return int(innermost(self))

    def __index__(self):
        raise TypeError('a traced (differentiated) value cannot be used as an index')

    def __complex__(self):
        if _stored_into_an_array():
            raise TypeError(STORE_ERROR)
        raise TypeError(
            'complex() of a traced value would drop its derivative. Use pyad.numpy '
            'functions on complex arrays instead (x * 1j, pyad.numpy.astype(x, complex)), '
            'or pyad.stop_gradient(x) if the derivative is meant to be dropped.')

    def __hash__(self):
        return id(self)

    def __repr__(self):
        return f'{type(self).__name__}({self.primal!r}, tag={self.tag.id})'


STORE_ERROR = (
    'pyad: a[i] = x stores a traced value x (one being differentiated) into a plain NumPy '
    'array, which holds numbers only, so the derivative would be lost (NumPy may report this as '
    '"setting an array element with a sequence"). Build the array from the traced values '
    'instead: pyad.numpy.stack([...]) or pyad.numpy.array([...]) of the entries, '
    'pyad.numpy.where(mask, x, a), or pyad.numpy.concatenate of the pieces; or store '
    'pyad.stop_gradient(x) if the derivative is meant to be dropped.')
_STORE_SUBSCR = dis.opmap.get('STORE_SUBSCR')


def _stored_into_an_array():
    """Whether the line that asks a box for a number is an item assignment, a[i] = x:
    NumPy converts x by float() there and replaces the error with one of its own
    (kept as the cause), so the error raised here must name the assignment."""
    try:
        frame = sys._getframe(2)            # the caller of __float__ (NumPy is C code)
        return frame.f_code.co_code[frame.f_lasti] == _STORE_SUBSCR
    except (AttributeError, IndexError, ValueError):
        return False


class Dual(Box):
    """Forward mode: (primal, tangent) at one tag.  The tangent is never a symbolic
    zero here (a value with a zero tangent is not wrapped at all); it has shape
    ``batch + primal.shape`` where batch is () or (B,) for batched directions.

    The tangent is held as ``k * t``: a constant factor k (a Python float) that has
    not been applied yet, so that the tangent of ``-x`` or ``3 * x`` or ``x * x``
    (2 x t) costs no pass of its own over an array (see _core/forward.py).
    Reading ``tangent`` applies the factor, once."""
    __slots__ = ('t', 'k')

    def __init__(self, primal, tangent, tag, k=1.0):
        self.primal = primal
        self.t = tangent
        self.k = k
        self.tag = tag

    @property
    def tangent(self):
        if self.k != 1.0:
            self.t = scale(self.t, self.k)
            self.k = 1.0
        return self.t


def scale(t, k):
    """k * t for a tangent t and a Python float k, keeping t's dtype (a float32
    tangent stays float32)."""
    dtype = getattr(t, 'dtype', None)
    if dtype is not None and not isinstance(t, Box) and getattr(dtype, 'kind', None) == 'f':
        return t * dtype.type(k)
    return t * k


class TapeVar(Box):
    """Reverse mode: a primal value and its slot on its tag's tape."""
    __slots__ = ('index',)

    def __init__(self, primal, tag, index):
        self.primal = primal
        self.tag = tag
        self.index = index


class BatchBox(Box):
    """vmap: a value with a batch axis, at one tag of mode 'batch'.  ``primal`` is
    the whole batch, the batch axis first; the box stands for one example, so its
    ``shape`` is the primal's without that axis (see _core/batching.py)."""
    __slots__ = ()

    def __init__(self, primal, tag):
        self.primal = primal
        self.tag = tag

    @property
    def shape(self):
        return tuple(shape_of(self.primal))[1:]

    @property
    def dtype(self):
        return dtype_of(self.primal)

    def __bool__(self):
        raise TypeError(
            'vmap: a batched value was used as a Python bool (an if, while, and/or on a value '
            'that differs between examples); use pyad.numpy.where to choose per example')

    def __int__(self):
        raise TypeError('vmap: int() of a batched value (it differs between examples)')


_PRIMAL = Box.primal          # the slot itself, for LazyVar, whose primal is a property


class Pending:
    """A value not computed yet (see _core/reverse.py: deferred values).  ``thunk``
    is (prim, args, params, errstate) until the value is first asked for, then
    None; args are plain values or other Pending values.  The shape and dtype are
    known without computing it (the primitive's ``defer`` trait says them, and
    they are checked when the value is computed); ``depth`` is the length of the
    chain of pending values it hangs on.  It refers to no tag or tape, so that a
    tape may hold it without a reference cycle."""
    __slots__ = ('thunk', 'value', 'shape', 'dtype', 'depth')

    def __init__(self, thunk, shape, dtype, depth):
        self.thunk = thunk
        self.value = None
        self.shape = shape
        self.dtype = dtype
        self.depth = depth

    def get(self):
        if self.thunk is not None:
            prim, args, params, err = self.thunk
            args = [a.get() if type(a) is Pending else a for a in args]
            # under the floating-point settings of the call that recorded it
            value = backend.with_float_errors(err, prim.impl, *args, **params)
            if tuple(value.shape) != tuple(self.shape) or value.dtype != self.dtype:
                from .traits import TraitError
                raise TraitError(
                    f'pyad primitive {prim.name!r}: its defer trait said the answer has shape '
                    f'{tuple(self.shape)} and dtype {self.dtype}, but it has shape '
                    f'{tuple(value.shape)} and dtype {value.dtype}')
            self.value = value
            self.thunk = None
        return self.value


class LazyVar(TapeVar):
    """A tape variable whose value may not have been computed yet: ``node``, a
    Pending value, until the variable's value is read (then None).  Reading
    ``primal`` computes the value (once); a value nothing ever reads is never
    computed.  Its shape and dtype are read off the node."""
    __slots__ = ('node',)

    def __init__(self, node, tag, index):
        self.node = node
        self.tag = tag
        self.index = index

    @property
    def primal(self):
        node = self.node
        if node is not None:
            _PRIMAL.__set__(self, node.get())
            self.node = None
        return _PRIMAL.__get__(self)


def pending(x):
    """Whether x is a LazyVar whose value has not been computed yet."""
    return type(x) is LazyVar and x.node is not None and x.node.thunk is not None


def innermost(x):
    """The plain value under every layer of boxes."""
    while isinstance(x, Box):
        x = x.primal
    return x


def apply_inner(prim, primals, params):
    """A primitive on the values inside one level of boxes: through dispatch again
    when some are still boxed (at older tags), else straight to the implementation."""
    for p in primals:
        if isinstance(p, Box):
            return prim(*primals, **params)
    return prim.impl(*primals, **params)


def lift_dead(x):
    """Strip the layers of x whose tags have retired: such values are constants."""
    while isinstance(x, Box) and not x.tag.live:
        x = x.primal
    return x


def shape_of(x: Any) -> Tuple[int, ...]:
    t = type(x)
    if t is Dual or t is TapeVar:       # (most values: one layer over an array or a float)
        x = x.primal
        t = type(x)
    if t is _ndarray:
        return x.shape
    if t is float:
        return ()
    if t is Dual or t is TapeVar or t is LazyVar:
        x = peek(x)
        t = type(x)
        if t is float:
            return ()
        if t is LazyVar:
            return x.node.shape
    try:
        return x.shape
    except AttributeError:
        if isinstance(x, numbers.Number):
            return ()
        raise


def ndim_of(x: Any) -> int:
    if type(x) is _ndarray:
        return x.ndim
    return len(shape_of(x))


def peek(x):
    """The value under every layer of boxes, or a pending LazyVar on the way (whose
    shape and dtype are known without computing it), or a BatchBox on the way
    (whose shape is one example's)."""
    while isinstance(x, Box):
        if type(x) is LazyVar and x.node is not None or type(x) is BatchBox:
            return x
        x = x.primal
    return x


def dtype_of(x: Any) -> Any:
    t = type(x)
    if t is Dual or t is TapeVar:       # (most values: one layer over an array or a float)
        x = x.primal
        t = type(x)
    if t is _ndarray:
        return x.dtype
    if t is float:
        return _float64
    x = peek(x)
    if type(x) is LazyVar:
        return x.node.dtype
    if type(x) is float:
        return _float64
    try:
        return x.dtype
    except AttributeError:
        return backend.result_type(x)


_float64 = backend.float64
_ndarray = backend.ndarray


def install_methods(table):
    """Attach operator methods (``__add__``, ``sum``, ``T``...) to every box."""
    for name, value in table.items():
        if not isinstance(value, (property, type(install_methods))):
            value = _as_method(value)      # a Primitive is not a descriptor
        setattr(Box, name, value)


def _as_method(fn):
    from .primitive import Primitive, bind
    if isinstance(fn, Primitive):
        # self is boxed, so skip the Primitive's plain-value check
        def method(self, other=_UNARY):
            if other is _UNARY:
                return bind(fn, (self,), _NO_PARAMS)
            return bind(fn, (self, other), _NO_PARAMS)
        return method

    def method(self, *args):
        return fn(self, *args)
    return method


_NO_PARAMS = {}
_UNARY = object()      # marks a unary operator call (-x) in _as_method

backend.register_box_type(Box)
