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
import random as _random
import sys

import numpy

from .. import backend
from .trace import Tracer, CupyTracer, JitError, record, current, user_line

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
    cupy = backend.cupy_module()
    if cupy is not None:
        import cupyx.scipy.special
        import cupyx.scipy.linalg
        backend.register(CupyTracer, RecordingNamespace(cupy), special=cupyx.scipy.special,
                         linalg=cupyx.scipy.linalg, in_place=True)


# ---------------------------------------------------------------------- what cannot be traced
_IO = {builtins.print: 'print', builtins.open: 'open', builtins.input: 'input'}
_RANDOM_TYPES = (numpy.random.Generator, numpy.random.RandomState, numpy.random.BitGenerator,
                 _random.Random)


def _refused(func):
    """What a called function does that a compiled program could not repeat (or None)."""
    name = _IO.get(func) if type(func).__hash__ is not None else None
    if name is not None:
        return f'{name}() (input/output runs once, when the function is traced)'
    owner = getattr(func, '__self__', None)
    if isinstance(owner, _RANDOM_TYPES) or owner is numpy.random:
        return (f'a random number generator ({getattr(func, "__name__", "?")}): numbers drawn '
                f'inside would be frozen into the program. Draw them outside and pass them in')
    return None


def _profile(frame, event, arg):
    if event == 'c_call':
        why = _refused(arg)
    elif event == 'call':
        module = frame.f_globals.get('__name__')
        why = (f'a random number generator ({frame.f_code.co_name}): numbers drawn inside would be '
               f'frozen into the program. Draw them outside and pass them in') \
            if module == 'random' else None
    else:
        return
    if why is not None:
        sys.setprofile(None)
        raise JitError(f'pyad.jit cannot compile {why} ({user_line(2)})')


class watch:
    """``with watch():`` the checks above, in this thread, while a function is traced."""

    def __enter__(self):
        self.previous = sys.getprofile()
        sys.setprofile(_profile)

    def __exit__(self, *exc):
        sys.setprofile(self.previous)
        return False


# Generators of NumPy draw through Cython code that no profiler sees: their state is
# compared before and after the trace instead (the generators the function can reach
# through its closures and globals, NumPy's global one and Python's).
_GENERATOR_TYPES = (numpy.random.Generator, numpy.random.RandomState)


def _generators(fn, depth=4, seen=None):
    seen = set() if seen is None else seen
    if id(fn) in seen or depth == 0:
        return []
    seen.add(id(fn))
    if isinstance(fn, _GENERATOR_TYPES):
        return [fn]
    found = []
    for c in _reachable(fn):
        if callable(c) or isinstance(c, _GENERATOR_TYPES):
            found += _generators(c, depth - 1, seen)
    return found


def _reachable(fn):
    """What a function refers to: its closure, the globals it names, what it wraps."""
    out = []
    code = getattr(fn, '__code__', None)
    if code is not None:
        out += [c.cell_contents for c in (fn.__closure__ or ()) if _filled(c)]
        g = fn.__globals__
        out += [g[n] for n in code.co_names if n in g]
    if not isinstance(fn, type):
        out += [getattr(fn, a) for a in ('func', '__wrapped__', 'fn', '__self__') if hasattr(fn, a)]
    return out


def _filled(cell):
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def _state(g):
    return g.bit_generator.state if isinstance(g, numpy.random.Generator) else g.get_state(legacy=False)


def _set_state(g, state):
    if isinstance(g, numpy.random.Generator):
        g.bit_generator.state = state
    else:
        g.set_state(state)


class rng_states:
    """The states of the generators ``fn`` can reach, to tell whether it drew from one."""

    def __init__(self, fn):
        self.generators = _generators(fn) + [numpy.random.mtrand._rand]
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
