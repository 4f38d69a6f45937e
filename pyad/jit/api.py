"""``pyad.jit(f)``: trace f once per input signature, then run the compiled program.

The signature of a call is the structure of its arguments (a pytree), the type,
shape and dtype of each array leaf, and the value of each leaf that is not traced
(Python ints, bools, strings, None and other hashable values: they are static).
Arrays and Python floats are traced.  Each signature keeps a few programs, one per
path through the function's value-dependent control flow; a program whose guard
fails hands over to the next, and when none fits, f is traced again.
"""
import functools
import threading
import time
import warnings

import numpy

from .._core.box import Box
from .._core.config import settings as _settings
from .._core.pytree import tree_flatten, tree_unflatten
from . import trace as _trace
from .trace import Tracer, JitError, Recording, make_tracer, Var
from .namespace import watch, rng_states, line_of_draw, register
from .codegen import generate, compile_program, Retrace
from . import derive


class _ReturnsFunction(Exception):
    """The traced function returned a function (a higher-order result): it runs
    eagerly, and the functions it returns are jitted in turn."""


_EAGER = 'eager'


def _is_function(y):
    return callable(y) and not hasattr(y, 'dtype') and not isinstance(y, (Box, Tracer))


class RetraceWarning(UserWarning):
    """A jitted function keeps being traced again (its guards keep failing)."""


class Program:
    """One compiled trace: the function, its source, and how to rebuild outputs."""
    __slots__ = ('run', 'source', 'out_treedef', 'trace_seconds', 'nodes',
                 # under an outer operator (see derive.py)
                 'split', 'backward', 'backward_source', 'n_out', 'tangent_mask',
                 'ct_kinds', 'ct_keys')

    def __init__(self, run, source, out_treedef, trace_seconds, nodes):
        self.split = False
        self.backward_source = None
        self.run = run
        self.source = source
        self.out_treedef = out_treedef
        self.trace_seconds = trace_seconds
        self.nodes = nodes


def _traced(leaf):
    """Is this input leaf traced (an array or a float) rather than static?"""
    return type(leaf) is float or (hasattr(leaf, 'dtype') and hasattr(leaf, 'shape')
                                   and not isinstance(leaf, type))


def _leaf_key(leaf):
    if _traced(leaf):
        return (type(leaf), tuple(getattr(leaf, 'shape', ())), getattr(leaf, 'dtype', None))
    try:
        hash(leaf)
    except TypeError:
        raise JitError(f'pyad.jit: an argument of type {type(leaf).__name__} is neither an '
                       f'array, a number nor hashable; jit cannot key its cache on it') from None
    return ('static', type(leaf), leaf)


_ndarray = numpy.ndarray
# NumPy's number scalars (numpy.float64(2.0), numpy.int32(3), numpy.bool_): traced,
# keyed by their type alone, as floats are
_NUMPY_SCALARS = frozenset(t for t in set(numpy.sctypeDict.values())
                           if issubclass(t, (numpy.number, numpy.bool_)))


def _simple_key(args):
    """The signature of positional arguments that are all plain ndarrays (0-d ones
    included), Python floats or NumPy scalars (the common case, keyed without
    flattening), else None."""
    key = []
    for a in args:
        t = type(a)
        if t is _ndarray:
            key.append((a.shape, a.dtype))
        elif t is float or t in _NUMPY_SCALARS:
            key.append(t)
        else:
            return None
    return tuple(key)


class Jitted:
    """A jitted function (see pyad.jit)."""

    def __init__(self, fn, *, max_programs=8, warn_after=10, static_argnums=()):
        self.fn = fn
        self.max_programs = max_programs
        self.warn_after = warn_after
        self.static_argnums = tuple(static_argnums) if not isinstance(static_argnums, int) \
            else (static_argnums,)
        self._cache = {}
        self._lock = threading.Lock()
        self.traces = 0             # how many times f was traced
        self.derived_traces = 0     # ... for the programs under an operator (derive.py)
        self._simple = not self.static_argnums
        self._warned = False
        self.helpers = {}           # its JVP and pullback, jitted (see derive.py)
        self.cotangents_seen = {}   # which outputs the sweeps gave cotangents (derive.py)
        functools.update_wrapper(self, fn)

    # -- the call ----------------------------------------------------------------
    def _split(self, args, kwargs):
        static = tuple((i, args[i]) for i in self.static_argnums if i < len(args))
        dynamic = tuple(a if i not in self.static_argnums else None for i, a in enumerate(args))
        leaves, treedef = tree_flatten((dynamic, kwargs))
        return leaves, treedef, static

    def __call__(self, *args, **kwargs):
        if not _settings.fast:
            # reference mode: compiling is a fast path, and f's own body on the plain
            # engine is its twin (check_grads compares the programs with it)
            return self.fn(*args, **kwargs)
        if not kwargs and self._simple:
            key = _simple_key(args)
            programs = self._cache.get(key, ()) if key is not None else ()
            if programs is not _EAGER and _trace.current() is None:
                for program in programs:
                    try:
                        return tree_unflatten(program.out_treedef, program.run(*args))
                    except Retrace:
                        continue
        return self._call(args, kwargs)

    def _call(self, args, kwargs):
        leaves, treedef, static = self._split(args, kwargs)
        if _trace.current() is not None or any(isinstance(l, Tracer) for l in leaves):
            # inside another trace: it records our operations
            return self.fn(*args, **kwargs)
        if any(isinstance(l, Box) for l in leaves):
            # under a derivative operator: a compiled unit with compiled derivatives
            return derive.differentiate(self, leaves, treedef, static)
        key = self._key(args, kwargs, leaves, treedef, static)
        values = [l for l in leaves if _traced(l)]
        programs = self._cache.get(key, ())
        if programs is _EAGER:
            return self._eager(args, kwargs)
        for program in programs:
            try:
                out = program.run(*values)
            except Retrace:
                continue
            return tree_unflatten(program.out_treedef, out)
        try:
            program = self._trace(args, kwargs, leaves, treedef, static)
        except _ReturnsFunction:
            with self._lock:
                self._cache[key] = _EAGER
            return self._eager(args, kwargs)
        self._store(key, program)
        return tree_unflatten(program.out_treedef, program.run(*values))

    def _eager(self, args, kwargs):
        """f itself, for a signature whose outputs include functions; those are
        returned jitted."""
        out_leaves, out_treedef = tree_flatten(self.fn(*args, **kwargs))
        return tree_unflatten(out_treedef, [jit(y) if _is_function(y) else y for y in out_leaves])

    def _key(self, args, kwargs, leaves, treedef, static):
        simple = _simple_key(args) if not kwargs and self._simple else None
        if simple is not None:
            return simple           # the same signature, in the fast path's words
        return (treedef, static, tuple(_leaf_key(l) for l in leaves))

    def _store(self, key, program, derived=False):
        """Keep a program for ``key``; ``derived``: one of the programs that run under
        an operator (counted apart: each operator, argument and cotangent pattern is a
        signature of its own, not a retrace)."""
        with self._lock:
            programs = self._cache.get(key, ())
            programs = [] if programs is _EAGER else list(programs)
            programs.insert(0, program)          # the newest path first
            del programs[self.max_programs:]
            self._cache[key] = programs
            if derived:
                self.derived_traces += 1
                return
            self.traces += 1
            if self.traces > self.warn_after and not self._warned:
                self._warned = True
                warnings.warn(
                    f'pyad.jit: {getattr(self.fn, "__name__", "the function")} has been traced '
                    f'{self.traces} times: its Python control flow depends on the values of its '
                    f'arguments (guards at the lines shown by .source()) or its signature keeps '
                    f'changing. Each new trace costs more than an eager call.', RetraceWarning,
                    stacklevel=3)

    # -- tracing -------------------------------------------------------------------
    def _trace(self, args, kwargs, leaves, treedef, static):
        start = time.perf_counter()
        recording = Recording(None)
        tracers = [input_tracer(recording, leaf) if _traced(leaf) else leaf for leaf in leaves]
        call_args, kw = arguments(treedef, tracers, static)
        states = rng_states(self.fn)
        out = run_traced(recording, lambda: self.fn(*call_args, **kw))
        if states.changed():
            where = line_of_draw(lambda: run_traced(Recording(None), lambda: self.fn(*args, **kwargs)),
                                 states)
            raise JitError(f'pyad.jit cannot compile a random number generator drawn from inside '
                           f'the function ({where}): the numbers would be frozen into the program. '
                           f'Draw them outside and pass them in (the generator is left as it was)')
        out_leaves, out_treedef = tree_flatten(out)
        template = [output_leaf(y, recording) for y in out_leaves]
        return compile_recording(recording, template, out_treedef, self.fn, start)

    # -- under an outer operator ------------------------------------------------------
    def cached(self, key, values, make):
        """(program, its flat outputs) for the derived programs (see derive.py): the
        first stored program for ``key`` whose guards pass, or a new one from ``make()``.
        None when ``key`` is marked eager."""
        programs = self._cache.get(key, ())
        if programs is _EAGER:
            return None
        for program in programs:
            try:
                flat = program.run(*values)
            except Retrace:
                continue
            _shown(self, program)
            return program, flat
        program = make()
        if program is None:
            with self._lock:
                self._cache[key] = _EAGER
            return None
        self._store(key, program, derived=True)
        _shown(self, program)
        return program, program.run(*values)

    # -- inspection ----------------------------------------------------------------
    def source(self, *args, operator=None, **kwargs):
        """The Python source of the program that runs for these arguments (traced
        first if it was not yet).  ``operator='jvp'``: of the programs that run
        when ``pyad.jvp`` differentiates the jitted function at these arguments
        (along tangents of ones); ``operator='vjp'`` (or ``'grad'``): when ``pyad.vjp``
        does and its pullback is called (with cotangents of ones) -- the forward
        program, which also returns the residuals, then the backward one."""
        if operator is None:
            return self.program(*args, **kwargs).source
        run = _DERIVATIVES.get(operator)
        if run is None:
            raise ValueError(f"pyad.jit: source(operator=...) takes 'jvp', 'vjp' or 'grad', "
                             f"got {operator!r}")
        _showing.jitted, _showing.programs = self, []
        try:
            run(lambda xs: self(*xs, **kwargs), tuple(args))
            programs = _showing.programs
        finally:
            _showing.jitted = _showing.programs = None
        if not programs:
            raise JitError(f'pyad.jit: under {operator} the function runs eagerly for these '
                           f'arguments (see "A jitted function under an operator" in the docs): '
                           f'there is no program to show')
        unique = list({id(p): p for p in programs}.values())
        return '\n\n'.join(_derived_source(p) for p in unique)

    def program(self, *args, **kwargs):
        """The compiled Program for these arguments (the one whose guards pass)."""
        leaves, treedef, static = self._split(args, kwargs)
        key = self._key(args, kwargs, leaves, treedef, static)
        values = [l for l in leaves if _traced(l)]
        programs = self._cache.get(key, ())
        if programs is _EAGER:
            raise JitError('pyad.jit: for these arguments the function returns functions, so it '
                           'runs eagerly: there is no program to show')
        for program in programs:
            try:
                program.run(*values)
            except Retrace:
                continue
            return program
        program = self._trace(args, kwargs, leaves, treedef, static)
        self._store(key, program)
        return program

    def clear(self):
        with self._lock:
            self._cache.clear()
            self.helpers.clear()
            self.cotangents_seen.clear()

    def __get__(self, obj, objtype=None):
        """A jitted method: bound to its instance (the instance is a static argument
        only if hashable, else an error names it)."""
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __repr__(self):
        return f'<pyad.jit of {getattr(self.fn, "__name__", self.fn)!r}>'


_showing = threading.local()


def _shown(jitted, program):
    """Note a derived program that ran, while ``jitted.source(operator=...)`` asks."""
    if getattr(_showing, 'jitted', None) is jitted:
        _showing.programs.append(program)


def _derived_source(program):
    if not program.split:
        return program.source
    return ('# the forward program: outputs and residuals\n' + program.source
            + '\n\n# the backward program: residuals and cotangents -> adjoints\n'
            + program.backward_source)


def _ones(tree):
    from .. import tree_map
    return tree_map(lambda leaf: numpy.ones_like(leaf) if hasattr(leaf, 'dtype') else 1.0, tree)


def _show_jvp(f, args):
    from ..operators import jvp
    jvp(f, (args,), (_ones(args),))


def _show_vjp(f, args):
    from ..operators import vjp
    out, pullback = vjp(f, args)
    pullback(_ones(out))


_DERIVATIVES = {'jvp': _show_jvp, 'vjp': _show_vjp, 'grad': _show_vjp}


def input_tracer(recording, value):
    """A new input variable of the recording, holding ``value``: its tracer."""
    register()
    n = recording.new_var(value)
    recording.inputs.append(n)
    tracer = make_tracer(recording, n, value)
    recording.input_tracers.append(tracer)
    return tracer


def arguments(treedef, leaves, static):
    """The positional and keyword arguments of a call, from the leaves of its
    non-static arguments and the static ones."""
    return with_static(tree_unflatten(treedef, leaves), static)


def with_static(dynamic_kw, static):
    """(args, kwargs) from the pair (non-static positional arguments, kwargs)."""
    dynamic, kw = dynamic_kw
    call_args = list(dynamic)
    for i, value in static:
        call_args[i] = value
    return call_args, kw


def compile_recording(recording, template, out_treedef, fn, start):
    name = _identifier(getattr(fn, '__name__', 'f'))
    source, globals_ = generate(recording, template, name)
    run = compile_program(source, globals_, name)
    return Program(run, source, out_treedef, time.perf_counter() - start, len(recording.nodes))


def run_traced(recording, run):
    previous = _trace.current()
    _trace._state.recording = recording
    try:
        with watch():
            return run()
    except Exception as e:
        if recording.pending_error is not None and e is not recording.pending_error:
            raise recording.pending_error from e
        raise
    finally:
        _trace._state.recording = previous
        recording.done = True


def output_leaf(y, recording):
    if isinstance(y, Tracer):
        if y.rec is not recording:
            raise JitError('pyad.jit: the function returned a traced value of another trace')
        return Var(y.vid)
    if _is_function(y):
        raise _ReturnsFunction()
    if isinstance(y, Box):
        raise JitError('pyad.jit: the function returned a value being differentiated by an '
                       'operator outside it: a jitted function may not close over such a value '
                       '(pass it as an argument instead)')
    return y


def _identifier(name):
    name = ''.join(c if c.isalnum() or c == '_' else '_' for c in name)
    return name if name and not name[0].isdigit() and name != 'lambda' else 'f_' + name


def jit(fn: 'object' = None, *, static_argnums: 'int | tuple[int, ...] | list[int]' = (),
        max_programs: int = 8, warn_after: int = 10) -> 'Jitted':
    """Compile ``fn``: on its first call for an input signature, trace it into a
    straight-line program of array-library calls; on later calls run that program.

    ``fn`` may be any function of arrays, floats and pytrees of them, including pyad's
    operators (``jit(grad(f))``, ``jit(hessian(f))``).  ``static_argnums``: positional
    arguments that are not traced (their values are part of the signature).
    ``max_programs``: programs kept per signature (one per path through value-dependent
    control flow); ``warn_after``: traces after which a RetraceWarning is given.
    ``jit(f).source(*args)`` shows the program as Python source."""
    if fn is None:
        return functools.partial(jit, static_argnums=static_argnums, max_programs=max_programs,
                                 warn_after=warn_after)
    if not callable(fn):
        raise TypeError(f'pyad.jit: expected a function, got {type(fn).__name__}')
    return Jitted(fn, static_argnums=static_argnums, max_programs=max_programs,
                  warn_after=warn_after)
