"""Concrete tracing: run a function once on tracers and record what it does.

A ``Tracer`` carries the concrete value the function would have seen (a NumPy or
CuPy array, a NumPy scalar or a Python number) and the number of the variable
that holds it in the program being recorded.  Every array-library call made on
tracers -- NumPy's functions and ufuncs through ``__array_function__`` and
``__array_ufunc__``, the array methods and operators, and the namespace pyad's
rules get from ``pyad.backend.namespace`` -- computes on the concrete values and
appends one ``Node`` to the ``Recording``.  What does not touch a tracer is not
recorded: it is a constant of the program (folded at trace time).

Python control flow on a traced value (``bool``, ``int``, ``float``, an index)
gets the concrete answer, and a guard that checks it again when the program
runs.  What cannot be replayed raises ``JitError`` naming the user's line.
"""
import dis
import math
import operator
import os
import sys
import threading

import numpy

from .. import backend


class JitError(TypeError):
    """Something the function does cannot be compiled by pyad.jit."""


_PYAD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NUMPY_DIR = os.path.dirname(os.path.abspath(numpy.__file__))


def user_line(depth=2):
    """'file.py:12 in f': the innermost frame outside pyad and the array libraries."""
    frame = sys._getframe(depth)
    first = None
    while frame is not None:
        path = frame.f_code.co_filename
        where = f'{path}:{frame.f_lineno} in {frame.f_code.co_name}'
        if first is None:
            first = where
        if not (path.startswith(_PYAD_DIR) or path.startswith(_NUMPY_DIR)
                or path.startswith('<frozen') or path.startswith('<pyad.jit')
                or 'site-packages' in path):
            return where
        frame = frame.f_back
    return first or '<unknown>'


# ---------------------------------------------------------------------- the record
class Var:
    """A variable of the recorded program (its number), as it appears in args."""
    __slots__ = ('n',)

    def __init__(self, n):
        self.n = n

    def __repr__(self):
        return f'v{self.n}'


class Node:
    """One recorded operation.

    ``kind`` is 'call' (fn(*args, **kwargs)), 'method' (args[0].<fn>(...)),
    'attr' (args[0].<fn>), 'getitem' (args[0][args[1]]), 'setitem'
    (args[0][args[1]] = args[2]) or 'guard' (fn is the check, args[1] the value
    seen).  ``args``/``kwargs`` are templates in which a ``Var`` stands for a
    traced value; ``outs`` is a list of output variable numbers (``multi``: fn
    returned a tuple of them, of type ``multi``); ``writes``: variables the node
    writes into in place."""
    __slots__ = ('kind', 'fn', 'args', 'kwargs', 'outs', 'multi', 'writes', 'line')

    def __init__(self, kind, fn, args, kwargs, outs, multi, writes, line):
        self.kind = kind
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.outs = outs
        self.multi = multi
        self.writes = writes
        self.line = line


class Recording:
    """The program recorded by one trace."""

    def __init__(self, xp):
        self.xp = xp                    # the array library of the inputs
        self.nodes = []
        self.count = 0
        self.nbytes = {}                # variable -> the size of its value
        self.meta = {}                  # variable -> (shape, dtype) of a plain ndarray
        self.scalars = set()            # variables holding a float64 number
        self.constants = {}             # variable -> value: computed from no input, never written
        self.inputs = []                # variable numbers of the inputs
        self.input_tracers = []
        self.done = False               # the trace has returned: its tracers are constants
        self.pending_error = None       # a JitError that a library may have replaced
        self.aliases = {}               # variable -> (its operand's value, its own value)
        self.copies = set()             # aliases that must be copies (written in place)
        self.labels = {}                # function_key -> its name in the program (devices)
        self.lock = threading.RLock()

    def new_var(self, value, constant=False):
        n = self.count
        self.count += 1
        self.nbytes[n] = getattr(value, 'nbytes', 0)
        if type(value) is numpy.ndarray:
            self.meta[n] = (value.shape, value.dtype)
        elif type(value) is float or type(value) is numpy.float64:
            self.scalars.add(n)
        if constant:
            self.constants[n] = value
        return n

    def written(self, value):
        """``value`` is written in place: no value sharing its memory is a constant."""
        if not hasattr(value, 'shape'):
            return
        for n, pair in self.aliases.items():
            if any(may_share_memory(v, value) for v in pair):
                self.copies.add(n)
        for n, c in list(self.constants.items()):
            if hasattr(c, 'shape') and may_share_memory(c, value):
                del self.constants[n]


def may_share_memory(a, b):
    """Whether two arrays may share memory: never for arrays of two libraries (a
    host constant and a device array), which the libraries may refuse to compare."""
    if type(a) is not type(b) and backend.namespace(a) is not backend.namespace(b):
        return False
    return bool(numpy.may_share_memory(a, b))


_state = threading.local()


def current():
    """The recording of the trace running in this thread (None outside one)."""
    return getattr(_state, 'recording', None)


# ---------------------------------------------------------------------- templates
def _to_template(obj, trace):
    """obj with every tracer replaced by its Var (and checked to belong to this trace)."""
    t = type(obj)
    if t is Tracer or isinstance(obj, Tracer):
        if obj.rec is not trace:
            if obj.rec.done:
                return obj.value        # kept from a finished trace: a constant
            raise JitError(f'pyad.jit: a value traced in another thread or by another jitted '
                           f'function was used ({user_line(3)})')
        return Var(obj.vid)
    if t is tuple or t is list:
        return t(_to_template(o, trace) for o in obj)
    if t is dict:
        return {k: _to_template(v, trace) for k, v in obj.items()}
    if t is slice:
        return slice(_to_template(obj.start, trace), _to_template(obj.stop, trace),
                     _to_template(obj.step, trace))
    return obj


def _concrete(obj):
    """obj with every tracer replaced by its concrete value."""
    t = type(obj)
    if isinstance(obj, Tracer):
        return obj.value
    if t is tuple or t is list:
        return t(_concrete(o) for o in obj)
    if t is dict:
        return {k: _concrete(v) for k, v in obj.items()}
    if t is slice:
        return slice(_concrete(obj.start), _concrete(obj.stop), _concrete(obj.step))
    return obj


def _find_trace(objs):
    for o in objs:
        if isinstance(o, Tracer):
            if not o.rec.done:
                return o.rec
            continue
        t = type(o)
        if t is tuple or t is list:
            found = _find_trace(o)
            if found is not None:
                return found
        elif t is dict:
            found = _find_trace(o.values())
            if found is not None:
                return found
        elif t is slice:
            found = _find_trace((o.start, o.stop, o.step))
            if found is not None:
                return found
    return None


def _is_value(x):
    """A result that becomes a traced variable: an array or a number."""
    return (hasattr(x, 'dtype') and hasattr(x, 'shape')) or type(x) in (float, int, bool, complex)


def _writes(kwargs):
    """The traced arrays an ``out=`` argument names (checked: a traced value may be
    written only into a traced array)."""
    out = kwargs.get('out')
    if out is None:
        return []
    outs = out if type(out) is tuple else (out,)
    written = []
    for o in outs:
        if o is None:
            continue
        if not isinstance(o, Tracer):
            raise JitError(f'pyad.jit: a traced value is written into an array that is not '
                           f'traced (out= at {user_line(4)}): an array made outside the function '
                           f'(mutating captured arrays cannot be compiled), or made inside by '
                           f'numpy.zeros/ones/empty, which jit cannot see: make it with '
                           f'numpy.zeros_like(x) of a traced x, or compute a new array instead')
        written.append(o)
    return written


def record(kind, fn, args, kwargs=None, label=None):
    """Run one operation on concrete values and record it; returns traced results.
    ``label``: the name the program gives ``fn`` (a device library's function)."""
    kwargs = kwargs or {}
    trace = _find_trace(args) or _find_trace(kwargs.values()) or current()
    if trace is None:       # values kept from finished traces only: constants
        return _run(kind, fn, _concrete(args), _concrete(kwargs))
    with trace.lock:
        if label is not None:
            trace.labels[function_key(fn)] = label
        return _record(trace, kind, fn, args, kwargs)


def function_key(fn):
    """What identifies a function of a program: a ufunc's method (add.reduce) is a
    new object at each access, so it is its ufunc and its name."""
    owner = getattr(fn, '__self__', None)
    if owner is not None and hasattr(owner, 'nin') and hasattr(owner, 'nout'):
        return (id(owner), fn.__name__)
    return id(fn)


def _record(trace, kind, fn, args, kwargs):
    targs, tkwargs = _to_template(args, trace), _to_template(kwargs, trace)
    written = _writes(kwargs)
    _check_no_input_write(trace, written)
    result = _run(kind, fn, _concrete(args), _concrete(kwargs))
    line = user_line(4)
    if written:
        trace.nodes.append(Node(kind, fn, targs, tkwargs, [], None, [w.vid for w in written], line))
        for w in written:
            trace.written(w.value)
        return written[0] if len(written) == 1 else tuple(written)
    constant = all(n in trace.constants for n in _reads(targs, tkwargs))
    if isinstance(result, (tuple, list)):
        return _record_several(trace, kind, fn, targs, tkwargs, result, constant, line)
    if result is None:
        # a call for its effect (ufunc.at, put, fill): kept, in place on its arrays
        for a in args:
            if isinstance(a, Tracer):
                trace.written(a.value)
        trace.nodes.append(Node(kind, fn, targs, tkwargs, [], None, _tracer_vars(args), line))
        return None
    if not _is_value(result):
        raise JitError(f'pyad.jit: {_name(kind, fn)} returned a {type(result).__name__}, which '
                       f'jit cannot trace ({line})')
    n = trace.new_var(result, constant)
    same = None if constant or kwargs else _identity_operand(trace, fn, args, result)
    if same is not None:
        # x * 1, x - 0: the program may use x itself, unless either is written later
        trace.aliases[n] = (same.value, result)
        trace.nodes.append(Node('alias', None, (Var(same.vid),), {}, [n], None, [], line))
    else:
        trace.nodes.append(Node(kind, fn, targs, tkwargs, [n], None, [], line))
    return make_tracer(trace, n, result)


_MULTIPLY = (operator.mul, numpy.multiply)
_SUBTRACT = (operator.sub, numpy.subtract)


def _identity_operand(trace, fn, args, result):
    """The traced operand x when ``fn(*args)`` is x * 1, 1 * x or x - 0 with x a
    float ndarray of the result's shape and dtype (bit for bit x), else None."""
    if len(args) != 2 or not _is_array(result) or result.dtype.kind != 'f':
        return None
    if fn in _MULTIPLY:
        candidates = ((args[0], args[1]), (args[1], args[0]))
        neutral = 1.0
    elif fn in _SUBTRACT:
        candidates = ((args[0], args[1]),)
        neutral = 0.0
    else:
        return None
    for x, c in candidates:
        if isinstance(x, Tracer) and type(x.value) is type(result) \
                and x.value.shape == result.shape and x.value.dtype == result.dtype \
                and _is_constant(trace, c, neutral):
            return x
    return None


def _is_array(value):
    """A NumPy array (not a scalar) or another library's array."""
    t = type(value)
    return t is numpy.ndarray or (t is not float and hasattr(value, 'shape')
                                  and issubclass(tracer_class(t), DeviceTracer))


def _is_constant(trace, c, neutral):
    """c is a constant all of whose elements equal ``neutral`` (checked cheaply: a
    Python number, or an array broadcast from one element)."""
    if isinstance(c, Tracer):
        if c.vid not in trace.constants:
            return False
        c = c.value
    if type(c) in (float, int):
        return c == neutral and (neutral == 1.0 or c == 0)
    if type(c) is numpy.ndarray and c.size and not any(c.strides) and c.dtype.kind == 'f':
        return c.flat[0] == neutral and not (neutral == 0.0 and numpy.signbit(c.flat[0]))
    return False


def _record_several(trace, kind, fn, targs, tkwargs, result, constant, line):
    if not all(_is_value(r) for r in result):
        raise JitError(f'pyad.jit: {_name(kind, fn)} returned {type(result).__name__} of '
                       f'non-array values, which jit cannot trace ({line})')
    outs = [trace.new_var(r, constant) for r in result]
    trace.nodes.append(Node(kind, fn, targs, tkwargs, outs, type(result), [], line))
    wrapped = [make_tracer(trace, n, r) for n, r in zip(outs, result)]
    if type(result) is list:
        return wrapped
    return type(result)(*wrapped) if hasattr(result, '_fields') else tuple(wrapped)


def _reads(targs, tkwargs):
    from .codegen import vars_in
    return vars_in(tkwargs, vars_in(targs, []))


def _tracer_vars(args):
    out = []
    for a in args:
        if isinstance(a, Tracer):
            out.append(a.vid)
    return out


def _check_no_input_write(trace, written):
    for w in written:
        for t in trace.input_tracers:
            v = t.value
            if hasattr(v, 'shape') and hasattr(w.value, 'shape') \
                    and may_share_memory(v, w.value):
                raise JitError(f'pyad.jit: the function writes into its own input '
                               f'({user_line(5)}); jit requires the inputs to be left unchanged')


def _name(kind, fn):
    if kind == 'call':
        return getattr(fn, '__name__', repr(fn))
    return f'.{fn}' if kind != 'getitem' else 'indexing'


def _run(kind, fn, args, kwargs):
    if kind == 'call':
        return fn(*args, **kwargs)
    if kind == 'method':
        return getattr(args[0], fn)(*args[1:], **kwargs)
    if kind == 'attr':
        return getattr(args[0], fn)
    if kind == 'getitem':
        return args[0][args[1]]
    if kind == 'setitem':
        args[0][args[1]] = args[2]
        return None
    raise AssertionError(kind)


def same_value(value, seen):
    """The check of a guard on a whole value (see Tracer.__array__)."""
    return (getattr(value, 'shape', ()) == getattr(seen, 'shape', ())
            and bool(numpy.array_equal(value, seen)))


def _called_from_pyad():
    frame = sys._getframe(2)
    return frame.f_code.co_filename.startswith(_PYAD_DIR)


_STORE_SUBSCR = dis.opmap['STORE_SUBSCR']


def _storing_into_plain_array():
    """Is the caller's caller's current instruction ``a[i] = value`` (NumPy converting
    a traced value to write it into a plain array)?"""
    frame = sys._getframe(3)
    return frame.f_code.co_code[frame.f_lasti] == _STORE_SUBSCR


def guard(tracer, check, seen):
    """Record that ``check(value) == seen`` must hold again when the program runs."""
    trace = tracer.rec
    if trace.done:
        return seen
    if _storing_into_plain_array():
        # NumPy replaces this error with its own; the trace raises it in the end
        trace.pending_error = JitError(f'pyad.jit: a traced value is written into an array made outside the '
                       f'function ({user_line(3)}); mutating captured arrays cannot be compiled: '
                       f'build a new array instead (pyad.numpy.where, concatenate, .at[])')
        raise trace.pending_error
    with trace.lock:
        trace.nodes.append(Node('guard', check, (Var(tracer.vid), seen), {}, [], None, [],
                                user_line(3)))
    return seen


# ---------------------------------------------------------------------- the tracer
def make_tracer(trace, n, value):
    t = type(value)
    cls = Tracer if t is numpy.ndarray or t is float else tracer_class(t)
    t = cls.__new__(cls)
    t.value = value
    t.vid = n
    t.rec = trace
    return t


_METADATA = {'shape', 'ndim', 'size', 'result_type', 'iscomplexobj', 'isrealobj', 'can_cast',
             'min_scalar_type', 'broadcast_shapes', 'isscalar', 'iscomplex_obj'}


def _binop(op, swap=False):
    def method(self, other):
        if not _operand(other):
            return NotImplemented
        return record('call', op, (other, self) if swap else (self, other))
    method.__name__ = f'__{"r" if swap else ""}{op.__name__}__'
    return method


def _unop(op):
    def method(self):
        return record('call', op, (self,))
    return method


def _inplace(ufunc, op):
    """``x += y``: in place on a traced array (as NumPy does), a new value otherwise."""
    def method(self, other):
        if not _operand(other):
            return NotImplemented
        if _writable(self):
            return _record_library(self, ufunc, (self, other), {'out': self})
        return record('call', op, (self, other))
    return method


def _writable(t):
    return hasattr(t.value, 'flags') and getattr(t.value, 'ndim', 0) > 0


def _operand(x):
    from .._core.box import Box
    return not isinstance(x, Box)


_IN_PLACE_METHODS = {'fill', 'put', 'sort', 'partition', 'resize', 'itemset'}


def _method(name):
    def method(self, *args, **kwargs):
        if name in _IN_PLACE_METHODS and not self.rec.done:
            _check_no_input_write(self.rec, [self])
        return record('method', name, (self,) + args, kwargs)
    method.__name__ = name
    return method


def _attribute(name):
    return property(lambda self: record('attr', name, (self,)))


class Tracer:
    """A value of the function being traced: its concrete value and its variable."""
    __slots__ = ('value', 'vid', 'rec')
    __array_priority__ = 500.0      # above ndarray's, below pyad's boxes

    # -- metadata is static: part of the signature ------------------------------
    @property
    def shape(self):
        return numpy.shape(self.value) if not hasattr(self.value, 'shape') else self.value.shape

    @property
    def dtype(self):
        v = self.value
        return v.dtype if hasattr(v, 'dtype') else numpy.result_type(v)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def flags(self):
        return self.value.flags

    @property
    def base(self):
        """The input this value is a view of (so that pyad copies an output that
        would alias an input), else None."""
        v = self.value
        if getattr(v, 'base', None) is None:
            return None
        for t in self.rec.input_tracers:
            if hasattr(t.value, 'shape') and may_share_memory(v, t.value):
                return t
        return None

    @property
    def strides(self):
        return self.value.strides

    def __len__(self):
        shape = self.shape
        if not shape:
            raise TypeError('len() of a 0-d traced value')
        return shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self):
        return f'Tracer(v{self.vid}, shape={self.shape}, dtype={self.dtype})'

    def __hash__(self):
        return id(self)

    # -- control flow: the concrete answer, and a guard ---------------------------
    def __bool__(self):
        return guard(self, bool, bool(self.value))

    def __int__(self):
        return guard(self, int, int(self.value))

    def __index__(self):
        return guard(self, operator.index, operator.index(self.value))

    def __float__(self):
        return guard(self, float, float(self.value))

    def __complex__(self):
        return guard(self, complex, complex(self.value))

    def __array__(self, dtype=None, copy=None):
        """NumPy's conversion to a plain array.  Asked for by user code (writing a
        traced value into an array made outside the function, numpy.asarray of it)
        it is an error; asked for by pyad's own code (which reads a value to decide
        how to compute), the program is specialised to this value, guarded."""
        if self.rec.done:
            return numpy.asarray(self.value, dtype=dtype)
        if not _called_from_pyad():
            raise JitError(f'pyad.jit: a traced value was turned into a plain array '
                           f'({user_line(2)}): written into an array made outside the function '
                           f'(mutating captured arrays cannot be compiled), or numpy.asarray of '
                           f'it. Use array functions on it instead (pyad.numpy, numpy functions '
                           f'and methods), and build new arrays rather than writing into '
                           f'captured ones')
        value = self.value
        snapshot = value.copy() if hasattr(value, 'copy') else value
        guard(self, same_value, snapshot)
        out = numpy.asarray(value, dtype=dtype)
        return out.copy() if copy else out

    # -- the protocols -------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if not all(_operand(x) for x in inputs):
            return NotImplemented
        fn = ufunc if method == '__call__' else getattr(ufunc, method)
        if method == 'at' and isinstance(inputs[0], Tracer):
            _check_no_input_write(inputs[0].rec, [inputs[0]])
        elif method == 'at':
            raise JitError(f'pyad.jit: {ufunc.__name__}.at writes traced values into an array '
                           f'made outside the function ({user_line(2)}); mutating captured '
                           f'arrays cannot be compiled: build a new array instead')
        if method == '__call__' and type(self.value) is float and len(inputs) == 1 and not kwargs:
            math_fn = _eager_math(sys._getframe(1), self)
            if math_fn is not None:
                return record('call', math_fn, inputs)
        return _record_library(self, fn, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if not all(issubclass(t, (Tracer, numpy.ndarray)) or issubclass(tracer_class(t), DeviceTracer)
                   for t in types):
            return NotImplemented       # (a device library's constants are ours to handle)
        if func.__name__ in _METADATA:
            return func(*_concrete(args), **_concrete(kwargs))
        if func is numpy.sum or func is numpy.mean:
            reduced = _as_add_reduce(func, args, kwargs)
            if reduced is not None:
                return reduced
        return _record_library(self, func, args, kwargs)

    def __getitem__(self, index):
        if type(index) is tuple and _element_read(self, index):
            # pyad's x[i] of a float64 array: a Python float, as eager pyad makes it
            return record('method', 'item', (self,) + index)
        return record('getitem', None, (self, index))

    def __setitem__(self, index, value):
        if not _writable(self):
            raise JitError(f'pyad.jit: item assignment into a traced scalar ({user_line(2)})')
        trace = self.rec
        with trace.lock:
            _check_no_input_write(trace, [self])
            trace.nodes.append(Node('setitem', None, _to_template((self, index, value), trace),
                                    {}, [], None, [self.vid], user_line(2)))
            self.value[_concrete(index)] = _concrete(value)
            trace.written(self.value)

    __add__, __radd__ = _binop(operator.add), _binop(operator.add, True)
    __sub__, __rsub__ = _binop(operator.sub), _binop(operator.sub, True)
    __mul__, __rmul__ = _binop(operator.mul), _binop(operator.mul, True)
    __truediv__, __rtruediv__ = _binop(operator.truediv), _binop(operator.truediv, True)
    __floordiv__, __rfloordiv__ = _binop(operator.floordiv), _binop(operator.floordiv, True)
    __mod__, __rmod__ = _binop(operator.mod), _binop(operator.mod, True)
    __pow__, __rpow__ = _binop(operator.pow), _binop(operator.pow, True)
    __matmul__, __rmatmul__ = _binop(operator.matmul), _binop(operator.matmul, True)
    __and__, __rand__ = _binop(operator.and_), _binop(operator.and_, True)
    __or__, __ror__ = _binop(operator.or_), _binop(operator.or_, True)
    __xor__, __rxor__ = _binop(operator.xor), _binop(operator.xor, True)
    __lt__, __le__ = _binop(operator.lt), _binop(operator.le)
    __gt__, __ge__ = _binop(operator.gt), _binop(operator.ge)
    __eq__, __ne__ = _binop(operator.eq), _binop(operator.ne)
    __neg__, __pos__ = _unop(operator.neg), _unop(operator.pos)
    __abs__, __invert__ = _unop(operator.abs), _unop(operator.invert)
    __iadd__ = _inplace(numpy.add, operator.add)
    __isub__ = _inplace(numpy.subtract, operator.sub)
    __imul__ = _inplace(numpy.multiply, operator.mul)
    __itruediv__ = _inplace(numpy.true_divide, operator.truediv)

    T = _attribute('T')
    real = _attribute('real')
    imag = _attribute('imag')
    mT = _attribute('mT')


for _name_ in ('sum', 'mean', 'prod', 'max', 'min', 'std', 'var', 'argmax', 'argmin', 'all', 'any',
               'reshape', 'transpose', 'swapaxes', 'squeeze', 'ravel', 'flatten', 'astype', 'copy',
               'conj', 'conjugate', 'clip', 'cumsum', 'cumprod', 'dot', 'diagonal', 'trace',
               'round', 'nonzero', 'repeat', 'take', 'sort', 'argsort', 'view', 'item',
               'fill', 'put', 'tolist', 'get'):
    setattr(Tracer, _name_, _method(_name_))


def _as_add_reduce(func, args, kwargs):
    """numpy.sum and numpy.mean of a float ndarray as the ufunc calls they make
    (numpy.add.reduce, then a division by the count): the same operations, so
    the same bits, without their Python-level argument handling (~5 us each)."""
    x = args[0]
    if len(args) > 2 or not isinstance(x, Tracer) or type(x.value) is not numpy.ndarray \
            or x.value.dtype.kind != 'f' or not set(kwargs) <= {'axis', 'keepdims'}:
        return None
    axis = args[1] if len(args) == 2 else kwargs.get('axis')
    keepdims = bool(kwargs.get('keepdims', False))
    total = record('call', numpy.add.reduce, (x,), {'axis': axis, 'keepdims': keepdims})
    if func is numpy.sum:
        return total
    shape = x.value.shape
    axes = range(len(shape)) if axis is None else (axis if type(axis) is tuple else (axis,))
    count = 1
    for a in axes:
        count *= shape[a]
    if count == 0:
        return None
    return record('call', operator.truediv, (total, count))


_pyad_code = {}


def _pyad_functions():
    """The code of pyad's x[i] (element) and of its elementwise functions' scalar
    path, which the trace follows as eager pyad does (Python floats, math)."""
    if not _pyad_code:
        from ..numpy import indexing, elementwise
        _pyad_code['element'] = indexing._getitem_element_impl.__code__
        _pyad_code['math'] = elementwise._scalar_fast(numpy.sin, math.sin).__code__
    return _pyad_code


def _element_read(tracer, index):
    """Is this pyad's x[i] of a float64 NumPy array, all of its axes indexed by ints?"""
    v = tracer.value
    return (type(v) is numpy.ndarray and v.dtype == numpy.float64 and len(index) == v.ndim
            and all(type(i) is int for i in index)
            and sys._getframe(2).f_code is _pyad_functions()['element'])


MATH_ERRORS = (ValueError, OverflowError, ZeroDivisionError)


def _eager_math(frame, tracer):
    """The math module's function that eager pyad's scalar path (frame) would
    have used on the Python float value of ``tracer`` (None: it would have used
    NumPy's -- because the value is outside the math function's domain, which a
    guard then checks again)."""
    if frame.f_code is not _pyad_functions()['math']:
        return None
    math_fn = frame.f_locals.get('math_fn')
    try:
        math_fn(tracer.value)
    except MATH_ERRORS:
        trace = tracer.rec
        with trace.lock:
            trace.nodes.append(Node('guard', outside_domain(math_fn), (Var(tracer.vid), True),
                                    {}, [], None, [], user_line(3)))
        return None
    return math_fn


_domain_checks = {}


def outside_domain(math_fn):
    """A function telling whether ``math_fn`` raises for a value (NumPy's answer,
    inf or nan, is then what eager pyad gives)."""
    check = _domain_checks.get(math_fn)
    if check is None:
        def check(x):
            try:
                math_fn(x)
            except MATH_ERRORS:
                return True
            return False
        check.__name__ = f'{math_fn.__name__}_outside_domain'
        check = _domain_checks.setdefault(math_fn, check)
    return check


class DeviceTracer(Tracer):
    """A tracer whose concrete value is an array of another library than NumPy
    (CuPy, or a type registered with pyad.backend.register).  One subclass per
    library, made by ``tracer_class``: its ``library`` is that library's module,
    and pyad's rules reach it through a namespace that records every call of the
    library's own functions (see namespace.DeviceNamespace), so that the program
    calls them -- never NumPy's -- on the device's arrays."""
    __slots__ = ()
    library = None          # the array module
    special = None          # its scipy.special counterpart
    label = ''              # how the program's source names its functions


_tracer_classes = {}
_classes_lock = threading.Lock()


def tracer_class(value_type):
    """The tracer type for a concrete value of this type: Tracer for NumPy's arrays
    and scalars and Python numbers, a DeviceTracer subclass for a CuPy array or an
    array type registered with pyad.backend (made and registered once per library)."""
    cls = _tracer_classes.get(value_type)
    if cls is None:
        with _classes_lock:
            cls = _tracer_classes.get(value_type)
            if cls is None:
                cls = _tracer_classes[value_type] = _new_tracer_class(value_type)
    return cls


def _library_of(value_type):
    """(module, scipy.special and scipy.linalg counterparts, label) of the array
    library of a type that is neither NumPy's nor a Python number, or None."""
    if value_type.__module__.startswith('cupy'):
        cupy = backend.cupy_module()
        import cupyx.scipy.special
        import cupyx.scipy.linalg
        return cupy, cupyx.scipy.special, cupyx.scipy.linalg, 'cupy'
    entry = backend.registered(value_type)
    if entry is None or issubclass(value_type, Tracer) or \
            (isinstance(value_type, type) and issubclass(value_type, numpy.generic)):
        return None
    xp, special, linalg = entry
    return xp, special, linalg, value_type.__name__.lower()


def _new_tracer_class(value_type):
    found = _library_of(value_type)
    if found is None:
        return Tracer
    xp, special, linalg, label = found
    for cls in _tracer_classes.values():        # one class per library
        if cls is not Tracer and cls.library is xp:
            return cls
    from .namespace import DeviceNamespace
    cls = type(f'{label.capitalize()}Tracer', (DeviceTracer,),
               {'__slots__': (), 'library': xp, 'special': special, 'label': label,
                '__module__': __name__})
    backend.register(cls, DeviceNamespace(xp, label),
                     special=None if special is None else DeviceNamespace(special, label),
                     linalg=None if linalg is None else DeviceNamespace(linalg, label),
                     in_place=True)
    return cls


def _record_library(tracer, fn, args, kwargs):
    """Record fn (a NumPy function or ufunc, reached by the array protocols) as the
    array library of the tracer's value has it: for another library's arrays, the
    program calls the library's own."""
    if type(tracer) is Tracer:
        return record('call', fn, args, kwargs)
    cls = type(tracer)
    twin = _twin(cls, fn)
    return record('call', twin, args, kwargs, label=f'{cls.label}_{_function_name(fn)}')


def _function_name(fn):
    owner = getattr(fn, '__self__', None)
    if isinstance(owner, numpy.ufunc):
        return f'{owner.__name__}_{fn.__name__}'
    return getattr(fn, '__name__', 'fn')


_SUBMODULES = ('linalg', 'fft')


def _twin(cls, fn):
    xp = cls.library
    name = getattr(fn, '__name__', None)
    module = getattr(fn, '__module__', '') or ''
    owner = getattr(fn, '__self__', None)           # ufunc.reduce and friends
    if isinstance(owner, numpy.ufunc):
        ufunc = getattr(xp, owner.__name__, None) or getattr(cls.special, owner.__name__, None)
        twin = getattr(ufunc, name, None)
    else:
        where = xp
        for sub in _SUBMODULES:
            if sub in module.split('.'):
                where = getattr(xp, sub)
        twin = getattr(where, name, None) if name else None
        if twin is None and cls.special is not None:
            twin = getattr(cls.special, name, None)
    if twin is None:
        raise JitError(f'pyad.jit: {name} has no counterpart in {cls.label} ({user_line(4)})')
    return twin
