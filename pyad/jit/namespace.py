"""What pyad's rules see as the array library of a traced value, and the checks
that run while a function is traced.

``namespace(tracer)`` (pyad.backend) gives a ``RecordingNamespace``: the array
library's own functions, which reach the tracers through NumPy's protocols,
except that functions making new arrays (``zeros``, ``empty``, ``eye``,
``asarray``...) are recorded even when no argument is traced: a buffer the
function fills must be made afresh at each call, not folded into a constant
that every call (and every thread) would share.
"""
import builtins
import functools
import random as _random
import os
import sys
import threading
import types

import numpy

from .. import backend
from .trace import Tracer, JitError, record, current, user_line, _find_trace

_CREATION = {'zeros', 'ones', 'empty', 'full', 'eye', 'identity', 'arange', 'linspace', 'tri',
             'zeros_like', 'ones_like', 'empty_like', 'full_like', 'asarray', 'array',
             'ascontiguousarray', 'copy'}


class RecordingNamespace:
    """The array module ``xp`` for traced values (see the module's docstring)."""

    def __init__(self, xp, special=None, linalg=None):
        self._xp = xp
        self.__name__ = xp.__name__
        self.linalg = _Sub(xp.linalg) if linalg is None else linalg
        if special is not None:
            self.special = special

    def __getattr__(self, name):
        value = getattr(self._xp, name)
        if name in _CREATION and callable(value):
            value = _recorded(value)
        setattr(self, name, value)      # looked up once per name
        return value


class _Sub:
    """A sub-namespace (linalg) whose functions reach tracers by the protocols."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        return getattr(self._module, name)


class DeviceNamespace:
    """The array module (or its scipy.special, scipy.linalg counterpart) of a library
    other than NumPy, for its traced values: each function called with a traced
    argument -- and each function making a new array, traced argument or not -- is
    recorded as one call of the library's own function on the concrete values.
    Nothing relies on the library dispatching to tracers (CuPy's functions do not):
    the program calls the functions the rules named, on the device's arrays.
    Functions of metadata (``shape``, ``result_type``) and calls of untraced values
    alone run at once (their results are constants)."""

    def __init__(self, module, label):
        self._module = module
        self._label = label

    def __getattr__(self, name):
        value = getattr(self._module, name)
        if isinstance(value, types.ModuleType) or type(value) is type(self._module):
            # a sub-namespace (linalg, fft), a module or the library's own namespace type
            value = DeviceNamespace(value, self._label)
        elif _is_ufunc(value):
            value = _DeviceUfunc(value, self._label)
        elif callable(value) and not isinstance(value, type) and name not in _METADATA:
            value = _device_function(value, name, self._label, name in _CREATION)
        setattr(self, name, value)      # looked up once per name
        return value


_METADATA = {'shape', 'ndim', 'size', 'result_type', 'iscomplexobj', 'isrealobj', 'can_cast',
             'min_scalar_type', 'broadcast_shapes', 'isscalar', 'promote_types', 'issubdtype',
             'errstate', 'get_array_module', 'finfo', 'iinfo', 'dtype'}


def _is_ufunc(value):
    """A ufunc (NumPy's, or another library's: CuPy's have nin and nout too)."""
    return isinstance(value, numpy.ufunc) or (
        callable(value) and hasattr(value, 'nin') and hasattr(value, 'nout'))


def _device_function(fn, name, label, creation):
    def call(*args, **kwargs):
        if current() is None or not creation and _find_trace(args) is None \
                and _find_trace(kwargs.values()) is None:
            return fn(*args, **kwargs)
        return record('call', fn, args, kwargs, label=f'{label}_{name}')
    call.__name__ = name
    call.__wrapped__ = fn
    return call


class _DeviceUfunc:
    """A ufunc of a device library: its call and its methods (reduce, at, outer...)
    recorded as those of the library's ufunc."""

    def __init__(self, ufunc, label):
        self._ufunc = ufunc
        self._label = label
        self.__name__ = ufunc.__name__
        self._call = _device_function(ufunc, ufunc.__name__, label, False)

    def __call__(self, *args, **kwargs):
        return self._call(*args, **kwargs)

    def __getattr__(self, name):
        value = getattr(self._ufunc, name)
        if callable(value):
            value = _device_function(value, f'{self.__name__}_{name}', self._label, False)
        setattr(self, name, value)
        return value


def _recorded(fn):
    def call(*args, **kwargs):
        if current() is None:
            return fn(*args, **kwargs)
        return record('call', fn, args, kwargs)
    call.__name__ = fn.__name__
    call.__wrapped__ = fn
    return call


_registered = []


def register():
    """Make pyad.backend hand tracers a recording namespace (once, at the first
    trace: until then eager pyad's namespace lookups see no registered type)."""
    if _registered:
        return
    _registered.append(True)
    import scipy.special
    import scipy.linalg
    backend.register(Tracer, RecordingNamespace(numpy), special=scipy.special,
                     linalg=scipy.linalg, in_place=True)
    # the tracers of other libraries' arrays (CuPy, registered types) are
    # registered with a DeviceNamespace when their first value is traced
    # (trace.tracer_class)


# ---------------------------------------------------------------------- what cannot be traced
# Input/output: while a trace runs, the builtins print, open and input are guards
# that refuse in a thread that is tracing and pass through in any other (no
# profiler hook: it would cost a Python call per call and return of the traced
# code, and displace a user's profiler).  Random draws: the states of the
# generators the function can reach are compared before and after the trace.
_IO = ('print', 'open', 'input')
_io_lock = threading.Lock()
_io_watchers = [0]
_io_originals = {}


def _refusing(name, original):
    def call(*args, **kwargs):
        recording = current()
        if recording is not None and not recording.done:
            raise JitError(f'pyad.jit cannot compile {name}() (input/output runs once, when the '
                           f'function is traced) ({user_line(2)})')
        return original(*args, **kwargs)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = original.__doc__
    call.__wrapped__ = original
    return call


class watch:
    """``with watch():`` input/output refused in this thread while a function is
    traced (the builtins are put back when the last trace in any thread ends)."""

    def __enter__(self):
        with _io_lock:
            if _io_watchers[0] == 0:
                for name in _IO:
                    original = getattr(builtins, name)
                    guard = _refusing(name, original)
                    _io_originals[name] = original, guard
                    setattr(builtins, name, guard)
            _io_watchers[0] += 1

    def __exit__(self, *exc):
        with _io_lock:
            _io_watchers[0] -= 1
            if _io_watchers[0] == 0:
                for name in _IO:
                    original, guard = _io_originals.pop(name)
                    if getattr(builtins, name) is guard:    # else replaced since: kept
                        setattr(builtins, name, original)
        return False


# NumPy's generators draw through Cython methods that no profiler sees and whose
# types cannot be patched: their states (and those of Python's random module) are
# compared before and after the trace instead.  The generators are found by
# following what the function refers to: its closure, the globals and attributes
# its code names (in nested functions too), defaults, partial arguments, bound
# instances, the attributes of objects and the items of containers -- to any
# depth, within a budget of objects visited.
_GENERATOR_TYPES = (numpy.random.Generator, numpy.random.RandomState, _random.Random)
_BUDGET = 20000          # objects looked at, numbers and arrays included
_LEAVES = (str, bytes, int, float, complex, bool, type(None), numpy.ndarray, numpy.generic)
_LIBRARIES = ('pyad', 'numpy', 'scipy', 'builtins', 'cupy', 'dask')


def _generators(fn):
    found, seen, names = [], set(), set()
    todo, modules = [fn], []
    for _ in range(_BUDGET):
        if not (todo or modules):
            break
        # modules last: only the names that the code seen so far reads are followed
        obj = todo.pop() if todo else modules.pop()
        if id(obj) in seen or isinstance(obj, _LEAVES):
            continue
        if isinstance(obj, types.ModuleType) and todo:
            modules.append(obj)
            continue
        seen.add(id(obj))
        if isinstance(obj, _GENERATOR_TYPES):
            found.append(obj)
        else:
            todo += _reachable(obj, names)
    return found


_WRAPPING = ('__wrapped__', 'fn', 'func')


def _reachable(obj, names):
    """What ``obj`` refers to that could hold a generator (``names``: the global
    and attribute names read by the code seen so far, which this adds to).  Read
    without getattr: no __getattr__ of a user's object or lazy module runs."""
    if isinstance(obj, (tuple, list, set, frozenset)):
        return list(obj)
    if isinstance(obj, (dict, types.MappingProxyType)):
        return list(obj.values())
    if isinstance(obj, types.ModuleType):
        return [_attributes(obj).get(n) for n in names] if _users(obj) else []
    if isinstance(obj, types.FunctionType):
        return _function_refs(obj, names)
    if isinstance(obj, types.MethodType):
        return [obj.__self__, obj.__func__]
    if isinstance(obj, types.BuiltinMethodType):
        return [obj.__self__]
    if isinstance(obj, functools.partial):
        return [obj.func, obj.args, obj.keywords]
    attributes = _attributes(obj)
    if _users(obj) if isinstance(obj, type) else not _from_library(type(obj)):
        # a user's class, or an object that is not an array library's: its attributes
        return list(attributes.values()) + _slots(obj)
    return [attributes.get(a) for a in _WRAPPING]


def _attributes(obj):
    try:
        found = object.__getattribute__(obj, '__dict__')
    except (AttributeError, TypeError):
        return {}
    return found if isinstance(found, (dict, types.MappingProxyType)) else {}


def _slots(obj):
    out = []
    for cls in type(obj).__mro__:
        slots = _attributes(cls).get('__slots__', ())
        for slot in (slots,) if type(slots) is str else slots:
            descriptor = _attributes(cls).get(slot)
            if isinstance(descriptor, types.MemberDescriptorType):
                try:
                    out.append(descriptor.__get__(obj))
                except AttributeError:
                    pass
    return out


def _function_refs(fn, names):
    codes = [fn.__code__]
    for c in codes:
        names.update(c.co_names)
        codes += [k for k in c.co_consts if isinstance(k, types.CodeType)]
    out = [c.cell_contents for c in (fn.__closure__ or ()) if _filled(c)]
    out += [fn.__defaults__, fn.__kwdefaults__, fn.__dict__]
    if _users(fn):
        g = fn.__globals__
        out += [g[n] for c in codes for n in c.co_names if n in g]
    return out


def _module_name(obj):
    name = obj.__name__ if isinstance(obj, types.ModuleType) else obj.__module__
    return name.split('.')[0] if type(name) is str else ''


def _from_library(cls):
    """Is this class pyad's or an array library's (whose objects hold no user data
    but in the attributes of _WRAPPING)?"""
    return _module_name(cls) in _LIBRARIES


_users_modules = {}


def _users(obj):
    """Is this module, class or function the user's own code: not Python's standard
    library, not an installed package (whose globals are not followed)?"""
    top = _module_name(obj)
    found = _users_modules.get(top)
    if found is None:
        module = sys.modules.get(top)
        path = getattr(module, '__file__', None) or ''
        found = top not in _LIBRARIES and top not in _STANDARD and (
            top == '__main__' or bool(path) and not path.startswith(_STANDARD_DIR)
            and 'site-packages' not in path and 'dist-packages' not in path)
        _users_modules[top] = found
    return found


_STANDARD = frozenset(getattr(sys, 'stdlib_module_names', ())) | {'builtins', ''}
_STANDARD_DIR = os.path.dirname(os.__file__)


def _filled(cell):
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def _state(g):
    if isinstance(g, numpy.random.Generator):
        return g.bit_generator.state
    if isinstance(g, _random.Random):
        return g.getstate()
    return g.get_state(legacy=False)


def _set_state(g, state):
    if isinstance(g, numpy.random.Generator):
        g.bit_generator.state = state
    elif isinstance(g, _random.Random):
        g.setstate(state)
    else:
        g.set_state(state)


class rng_states:
    """The states of the generators ``fn`` can reach, to tell whether it drew from one."""

    def __init__(self, fn):
        found = _generators(fn) + [numpy.random.mtrand._rand, _random._inst]
        self.generators = list({id(g): g for g in found}.values())
        self.states = [_state(g) for g in self.generators]

    def changed(self):
        return [g for g, s in zip(self.generators, self.states) if not _same_state(_state(g), s)]

    def restore(self):
        for g, s in zip(self.generators, self.states):
            _set_state(g, s)


def _same_state(a, b):
    if type(a) is dict:
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if hasattr(a, 'shape'):
        return numpy.array_equal(a, b)
    return a == b


def line_of_draw(run, states):
    """Run ``run()`` again, line by line, to find the line after which a generator's
    state changed (the states are restored before and after)."""
    states.restore()
    found, last = [], [None]

    def tracer(frame, event, arg):
        if event in ('line', 'return') and not found:
            if states.changed() and last[0] is not None:
                found.append(last[0])
            last[0] = f'{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}'
        return tracer
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        run()
    except Exception:
        pass
    finally:
        sys.settrace(previous)
        states.restore()
    return found[0] if found else 'the line could not be told'
