"""A jitted function called under a derivative operator: one compiled unit, whose
derivatives are compiled programs too.

Like a custom rule (pyad/custom.py), the call peels the newest live tag T off its
arguments and handles that level:

* T is a forward tag: the program of ``x, t -> jvp(f, x, t)`` (traced once per
  signature of the primals and tangents, batched tangents included) computes the
  outputs and their tangents, which are returned as duals at T.
* T is a reverse tag: the program of ``x, ct -> (f(x), vjp(f, x)(ct))`` is traced
  once per signature and cut where the sweep begins into a forward program that
  returns f's outputs and the residuals, and a backward program that takes the
  residuals and the cotangents (see residuals.py; a scalar output's cotangent is
  traced as the constant 1 that grad passes, and the backward program checks it).
  The forward program runs now; one record on T's tape keeps the residuals, and
  the backward program runs in the sweep.  Other cotangents (not 1 for a scalar
  output; another shape or dtype: jacrev's batched rows) run a joint program
  traced for them, which recomputes the forward part.

Where the values peeled at T are still differentiated at older tags (second and
higher order: ``hessian``, ``grad(grad(...))``), f's JVP and pullback are jitted
functions themselves, called on those values: each is compiled under the older
operators in turn.  Under Taylor mode or vmap, and where f cannot be traced under
the operator (it closes over a value being differentiated, returns functions,
draws random numbers, ...), f runs eagerly: the answer of pyad's operators without
jit.  A guard that fails in the backward program hands that call to a joint
program traced for it.
"""
import time

import numpy

from .. import backend
from .._core.box import Box, Dual, lift_dead
from .._core.pytree import tree_flatten, tree_unflatten
from .._core.transforms import push_forward, pull_back, FunctionOutput
from ..custom import newest_tag, traced_at, closed, ClosureError
from ..fixed_point import _peel_leaf as peel, _list_def as list_def
from . import api
from .residuals import split
from .trace import JitError, Recording, Var
from .namespace import rng_states


_UNTRACEABLE = (JitError, ClosureError, FunctionOutput)


def differentiate(jitted, leaves, treedef, static):
    """The call of ``jitted`` on these argument leaves, some boxed."""
    tag = newest_tag(leaves)
    if tag is None:             # boxes of retired operators only: constants
        args, kw = api.arguments(treedef, [lift_dead(l) for l in leaves], static)
        return jitted(*args, **kw)
    if tag.mode not in ('forward', 'reverse'):
        return _eager(jitted, leaves, treedef, static)      # Taylor mode, vmap
    primals = [peel(l, tag) for l in leaves]
    unit = _Unit(jitted, tag, leaves, primals, treedef, static)
    out = unit.forward() if tag.mode == 'forward' else unit.reverse()
    return _eager(jitted, leaves, treedef, static) if out is None else out


def _eager(jitted, leaves, treedef, static):
    args, kw = api.arguments(treedef, leaves, static)
    return jitted.fn(*args, **kw)


def _ones_like(value):
    """The cotangent a trace is made with: ones shaped and typed like the output (a
    NumPy scalar's as the 0-d array that the sweep hands over)."""
    if type(value) is float:
        return 1.0
    if type(value) is numpy.ndarray or isinstance(value, numpy.generic):
        return numpy.ones(numpy.shape(value), value.dtype)
    # another library's array (CuPy, a registered type): ones made by it, on its device
    return backend.namespace(value).ones(value.shape, value.dtype)


def _canonical(ct):
    """A cotangent in the form the traces take (a NumPy scalar as a 0-d array)."""
    return numpy.asarray(ct) if isinstance(ct, numpy.generic) else ct


class _Unit:
    """One call at one tag: its primals, their signature, the traced function."""

    def __init__(self, jitted, tag, leaves, primals, treedef, static):
        self.jitted, self.tag, self.leaves = jitted, tag, leaves
        self.primals, self.treedef, self.static = primals, treedef, static
        self.positions = [i for i, p in enumerate(primals) if api._traced(p)]
        self.values = [primals[i] for i in self.positions]
        self.key = (treedef, static, tuple(api._leaf_key(p) for p in primals))
        self.name = getattr(jitted.fn, '__name__', 'f')

    def call_f(self, dk):
        args, kw = api.with_static(dk, self.static)
        return self.jitted.fn(*args, **kw)

    def _trace(self, build):
        """Trace ``build(recording, tracers)`` (the tracers in place of the traced
        primals): (its result, the recording, the start time), or None when f
        cannot be traced under the operator."""
        start = time.perf_counter()
        recording = Recording(None)
        states = rng_states(self.jitted.fn)
        try:
            tracers = list(self.primals)
            for i, v in zip(self.positions, self.values):
                tracers[i] = api.input_tracer(recording, v)
            traced = api.run_traced(recording, lambda: build(recording, tracers))
        except _UNTRACEABLE + (api._ReturnsFunction,):
            return None
        finally:
            drew = states.changed()
            if drew:
                states.restore()
        # random numbers drawn inside would be frozen into the program: f runs
        # eagerly, drawing them (the generators as they were before the trace)
        return None if drew else (traced, recording, start)

    def helper(self, kind, extra, fn):
        """The jitted function ``fn`` (a JVP or a pullback of f at this signature),
        made once: called on values differentiated at older tags, it is compiled
        under those operators in turn (second and higher order)."""
        key = (kind, self.key, extra)
        helpers = self.jitted.helpers
        found = helpers.get(key)
        if found is None:
            fn.__name__ = f'{api._identifier(self.name)}_{kind}'
            found = helpers.setdefault(key, api.jit(fn))
        return found

    def _nested(self):
        return any(isinstance(p, Box) for p in self.primals)

    # -- forward mode ---------------------------------------------------------------
    def forward(self):
        tangents = [lift_dead(leaf.tangent) if leaf is not p else None
                    for leaf, p in zip(map(lift_dead, self.leaves), self.primals)]
        given = [t for t in tangents if t is not None]
        if self._nested() or any(isinstance(t, Box) for t in given):
            mask = tuple(t is not None for t in tangents)
            out, touts = self.helper('jvp', mask, self._jvp_function(mask))(self.primals, given)
            out_leaves, out_def = tree_flatten(out)
            return tree_unflatten(out_def, self._duals(out_leaves, touts))
        key = ('jvp', self.key, tuple(None if t is None else api._leaf_key(t) for t in tangents))
        found = self.jitted.cached(key, self.values + given, lambda: self._jvp_program(tangents))
        if found is None:
            return None
        program, flat = found
        touts = iter(flat[program.n_out:])
        touts = [next(touts) if has else None for has in program.tangent_mask]
        return tree_unflatten(program.out_treedef, self._duals(flat[:program.n_out], touts))

    def _duals(self, out_leaves, tangents):
        return [y if t is None else Dual(y, t, self.tag) for y, t in zip(out_leaves, tangents)]

    def _jvp_function(self, mask):
        def jvp(primals, given):
            ts = iter(given)
            tangents = [next(ts) if m else None for m in mask]
            out, out_def, touts = push_forward(self.call_f, primals, self.treedef, tangents,
                                               self.name)
            return tree_unflatten(out_def, out), touts
        return jvp

    def _jvp_program(self, tangents):
        def build(recording, tracers):
            ts = [None if t is None else api.input_tracer(recording, t) for t in tangents]
            out, out_def, touts = push_forward(self.call_f, tracers, self.treedef, ts, self.name)
            template = [api.output_leaf(y, recording) for y in out + touts if y is not None]
            return template, out_def, [t is not None for t in touts]
        traced = self._trace(build)
        if traced is None:
            return None
        (out, out_def, mask), recording, start = traced
        program = _compile(recording, out, out_def, self.jitted.fn, start)
        program.n_out, program.tangent_mask = len(mask), mask
        return program

    # -- reverse mode ---------------------------------------------------------------
    def reverse(self):
        traced = [i for i, leaf in enumerate(self.leaves) if traced_at(leaf, self.tag)]
        if self._nested():
            return self._nested_reverse(traced)
        present = self.jitted.cotangents_seen.get((self.key, tuple(traced)))
        key = ('vjp', self.key, tuple(traced), present)
        found = self.jitted.cached(key, self.values, lambda: self._vjp_program(traced, present))
        if found is None:
            return None
        program, flat = found
        if program.split:
            outs, residuals = flat[:program.n_out], flat[program.n_out:]
        else:
            outs, residuals = flat, None
        if not outs:
            return tree_unflatten(program.out_treedef, outs)
        vjp = _Pullback(self, traced, outs, program, residuals)
        return tree_unflatten(program.out_treedef, self._record(traced, outs, vjp))

    def _record(self, traced, outs, vjp):
        """One record on the tag's tape (whose vjp keeps this unit, but not the
        tape's variables among the arguments)."""
        inputs = [lift_dead(self.leaves[i]) for i in traced]
        self.leaves = None
        return self.tag.tape.custom(self.tag, inputs, outs, vjp, f'jit({self.name})')

    def _nested_reverse(self, traced):
        """The primals are differentiated at older tags: f's outputs by the jitted
        function itself (compiled under those operators), the sweep's call by the
        jitted pullback."""
        args, kw = api.arguments(self.treedef, self.primals, self.static)
        out_leaves, out_def = tree_flatten(self.jitted(*args, **kw))
        if not out_leaves:
            return tree_unflatten(out_def, out_leaves)
        pullback, primals = self.pullback(traced), self.primals
        return tree_unflatten(out_def, self._record(traced, out_leaves,
                                                    lambda cts: pullback(primals, list(cts))))

    def pullback(self, traced):
        """The jitted ``(primal leaves, cotangents) -> adjoints of the traced leaves``."""
        def pullback(primals, cts):
            return self._pull_back(traced, primals)(cts, last=True)
        return self.helper('pullback', tuple(traced), pullback)

    def _pull_back(self, traced, primals):
        def g(xs):
            full = list(primals)
            for i, x in zip(traced, xs):
                full[i] = x
            return self.call_f(tree_unflatten(self.treedef, full))
        xs = [primals[i] for i in traced]
        return pull_back(g, xs, list_def(len(xs)), self.name)[2]

    def _joint(self, traced, cotangents=None, present=None):
        """build() of x, ct -> (f(x), pullback(ct)); cotangents: given values (None:
        ones like the outputs, made while tracing, for the outputs that ``present``
        says get one -- all, if None)."""
        def build(recording, tracers):
            xs = [tracers[i] for i in traced]

            def g(xs_):
                full = list(tracers)
                for i, x in zip(traced, xs_):
                    full[i] = x
                return self.call_f(tree_unflatten(self.treedef, full))
            with closed(self.tag, f'pyad.jit of {self.name}'):
                out, out_def, pullback = pull_back(g, xs, list_def(len(xs)), self.name)
            mark = len(recording.nodes)         # the sweep's nodes follow
            if cotangents is None:
                cts, kinds = _default_cotangents(out, present)
            else:
                cts = cotangents
                kinds = [None if c is None else 'input' for c in cts]
            ct_tracers = [api.input_tracer(recording, c) if k == 'input' else c
                          for c, k in zip(cts, kinds)]
            grads = pullback(ct_tracers, last=True)
            return _Joint(out=[api.output_leaf(y, recording) for y in out], out_def=out_def,
                          grads=[api.output_leaf(g, recording) for g in grads], mark=mark,
                          ct_vars=[t.vid for t, k in zip(ct_tracers, kinds) if k == 'input'],
                          ct_kinds=kinds,
                          ct_keys=[api._leaf_key(c) for c in cts if c is not None])
        return build

    def _vjp_program(self, traced, present):
        found = self._trace(self._joint(traced, present=present))
        if found is None:
            return None
        joint, recording, start = found
        parts = split(recording, joint.out, joint.grads, joint.ct_vars, joint.mark)
        if parts is None:       # f's own program, and a joint one for the sweep
            args, kw = api.arguments(self.treedef, self.primals, self.static)
            try:
                program = _Plain(self.jitted.program(*args, **kw))
            except _UNTRACEABLE:
                return None
        else:
            forward, residuals, backward = parts
            program = _compile(forward, joint.out + [Var(n) for n in residuals], joint.out_def,
                               self.jitted.fn, start)
            backward_program = _compile(backward, joint.grads, None, self.jitted.fn, start)
            program.backward = backward_program.run
            program.backward_source = backward_program.source
            program.split = True
        program.n_out = len(joint.out)
        program.ct_kinds, program.ct_keys = joint.ct_kinds, joint.ct_keys
        return program

    def joint_program(self, traced, cts):
        found = self._trace(self._joint(traced, cts))
        if found is None:
            return None
        joint, recording, start = found
        return _compile(recording, joint.grads, None, self.jitted.fn, start)


def _default_cotangents(out, present):
    """(cotangents, kinds) a reverse-mode trace is made with: for each output of f,
    ones ('input' of the program; 'one', folded in, for a scalar), or None where
    the output is a constant ('constant') or gets no cotangent ('absent': an aux
    output, as the sweeps so far have shown)."""
    cts, kinds = [], []
    for k, y in enumerate(out):
        if not isinstance(y, api.Tracer):
            cts.append(None)
            kinds.append('constant')
        elif present is not None and not present[k]:
            cts.append(None)
            kinds.append('absent')
        else:
            cts.append(_ones_like(y.value))
            kinds.append('one' if getattr(cts[-1], 'shape', ()) == () else 'input')
    return cts, kinds


class _Joint:
    """What the trace of f and its pullback gives: output and gradient templates,
    where the sweep's nodes begin, and how the cotangents were made ('input': an
    input of the program; 'one': a scalar output's cotangent folded as 1, which the
    backward program then requires)."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


class _Plain:
    """f's own program as the forward part of a call whose trace could not be split."""

    def __init__(self, program):
        self.run = program.run
        self.out_treedef = program.out_treedef
        self.source = program.source
        self.split = False


class _Pullback:
    """The sweep's call: the backward program on the residuals, or a joint program
    for other cotangents, or (cotangents differentiated at older tags) f eagerly."""

    def __init__(self, unit, traced, outs, program, residuals):
        self.unit, self.traced, self.outs = unit, traced, outs
        self.program, self.residuals = program, residuals

    def __call__(self, cotangents):
        cts = [lift_dead(c) for c in cotangents]
        if any(isinstance(c, Box) for c in cts):
            return self._boxed(cts)
        if self.program.split:
            grads = self._backward(cts)
            if grads is not None:
                return grads
        return self._joint(cts)

    def _backward(self, cts):
        """The backward program on the residuals, if the cotangents have the
        signature it was traced for and its guards pass; else None."""
        program = self.program
        kinds = program.ct_kinds
        if any((c is None) != (k == 'absent') for c, k in zip(cts, kinds) if k != 'constant'):
            # the outputs that get a cotangent are not those traced: the next trace
            # takes these (a symbolic zero is not a zero: 0 * inf would be nan)
            unit = self.unit
            unit.jitted.cotangents_seen[(unit.key, tuple(self.traced))] = \
                tuple(c is not None for c in cts)
            return None
        if any(k == 'one' and c != 1 for c, k in zip(cts, kinds)):
            return None
        full = [_canonical(c) for c, k in zip(cts, kinds) if k == 'input']
        keys = [api._leaf_key(_canonical(c)) for c, k in zip(cts, kinds) if k in ('one', 'input')]
        if keys != program.ct_keys:
            return None
        try:
            return list(program.backward(*self.unit.values, *self.residuals, *full))
        except api.Retrace:
            return None

    def _joint(self, cts):
        """A program of f and its pullback traced for these cotangents."""
        unit = self.unit
        given = [None if k == 'constant' else _canonical(c)
                 for c, k in zip(cts, self.program.ct_kinds)]
        key = ('vjp-ct', unit.key, tuple(self.traced),
               tuple(None if c is None else api._leaf_key(c) for c in given))
        found = unit.jitted.cached(key, unit.values + [c for c in given if c is not None],
                                   lambda: unit.joint_program(self.traced, given))
        if found is None:       # f cannot be traced for these cotangents: eagerly
            return unit._pull_back(self.traced, unit.primals)(cts, last=True)
        return list(found[1])

    def _boxed(self, cts):
        """Cotangents differentiated at older tags: the jitted pullback, compiled
        under those operators."""
        return list(self.unit.pullback(self.traced)(self.unit.primals, cts))


def _compile(recording, template, out_treedef, fn, start):
    program = api.compile_recording(recording, template, out_treedef, fn, start)
    program.split = False
    return program
