"""Differentiable ``scipy.integrate.odeint``.

``odeint(func, y0, t, *args)`` solves dy/dt = func(y, t, *args) from y(t[0]) = y0
and returns y at every time of ``t`` (shape ``(len(t),) + y0.shape``), as SciPy's
``odeint`` does.  The result is differentiable in ``y0``, in the times ``t``, in
``args`` and in every value ``func`` closes over, in forward and reverse mode,
nested to any order.

Design
======
``func`` may close over values being differentiated that odeint cannot see, so it
is not a primitive with positional arguments: like ``pyad.fixed_point`` it peels
the levels of differentiation off one tag T at a time (the newest live tag among
y0, t and a probe of func at y0), computing the solution at T's primal level by
recursion with T *suspended* while func runs (T's boxes then read as constants):

* **forward T: sensitivities.**  s = ∂y/∂ε solves s' = J s + ∂f/∂θ θ̇ with
  s(t0) = ẏ0 - f(y0, t0) ṫ0, integrated together with y as one augmented system
  (J s by a forward pass of the suspended func, ∂f/∂θ θ̇ as the T-tangent of func
  evaluated with T live); the tangent at t_i is s(t_i) + f(y_i, t_i) ṫ_i.
* **reverse T: the adjoint method.**  One record on T's tape carries the outputs.
  Its VJP integrates the adjoint λ' = -Jᵀ λ backward together with y (the augmented
  backward ODE, restarted from the stored y(t_i) on each interval), adding the
  output cotangents at the times t_i.  The cotangent of y0 is λ(t0), that of t_i is
  ⟨ḡ_i, f(y_i, t_i)⟩ (for t0: -⟨λ(t0), f(y0, t0)⟩).  The parameters' cotangent
  ∫ λᵀ ∂f/∂θ dτ: where func reads T only through its arguments θ (its own
  closure cells holding values of T are made arguments, ``_closure_converted``),
  as μ in the same backward system, μ' = -(∂f/∂θ)ᵀ λ; where func reaches values
  of T otherwise (which odeint cannot name), as a Gauss-Legendre quadrature (5 nodes on each
  step the forward solver took): func is evaluated with T live at those nodes in
  the forward pass, and the VJP hands w_k λ(τ_k) to each evaluation, so T's
  sweep carries it to whatever func closes over.

Speed: the backward system's plain evaluations (hundreds, each a small VJP of
func) run as one pyad.jit program per VJP call (``_Compiled``), and where func can
read nothing that may change (``_state_key``) the programs of both solves are kept
across calls, the arguments being their inputs (``_shared``).

Both the augmented systems are solved by this same function, recursively, so
their dependence on older tags is differentiated in turn (a Hessian through an ODE
solve).  The plain solves use ``scipy.integrate.solve_ivp`` (DOP853) in float64;
results keep y0's dtype.  Taylor mode (``diffn``) falls back to nested forward mode.
"""
from __future__ import annotations

import hashlib
import numbers
import threading
import types
import weakref
from typing import Any, Callable, Optional

import numpy as _np

from .._core.box import Box, Dual, TapeVar, LazyVar, innermost, lift_dead, shape_of, ndim_of, dtype_of
from .._core.pytree import tree_flatten, tree_unflatten
from .._core.primitive import Primitive
from .._core.config import settings
from .._core.transforms import push_forward, pull_back, zeros_for, as_float_leaf
from ..numpy.manipulation import stack, reshape
from ..numpy.reductions import sum as _sum
from ..typing import Array, ArrayLike

__all__ = ['odeint', 'ODEintError']


class ODEintError(RuntimeError):
    """The ODE solver failed (too many steps, a step size underflow, a nan)."""


class _Context:
    __slots__ = ('rtol', 'atol', 'grid', 'want_grid')

    def __init__(self, rtol, atol):
        self.rtol, self.atol = rtol, atol
        self.want_grid = False    # keep the solver's steps (they cost a dense output)
        self.grid = None          # the step boundaries of the last plain solve, if wanted


# Gauss-Legendre nodes on (0, 1) and their weights
_GL_NODES, _GL_WEIGHTS = _np.polynomial.legendre.leggauss(5)
_GL_NODES, _GL_WEIGHTS = 0.5 * (_GL_NODES + 1.0), 0.5 * _GL_WEIGHTS


def odeint(func: Callable[..., Any], y0: ArrayLike, t: ArrayLike, *args: Any,
           rtol: Optional[float] = None, atol: Optional[float] = None,
           **options: Any) -> Array:
    """scipy.integrate.odeint: y at the times ``t`` of dy/dt = func(y, t, *args),
    y(t[0]) = y0.  ``t`` is a monotone sequence (increasing or decreasing).  func
    must be written with pyad.numpy (it is called with traced values).  The extra
    arguments go positionally (as in JAX) or as ``args=(...)`` (as in SciPy and
    autograd); ``tfirst=True`` calls func(t, y, *args).  rtol and atol (default
    1.49012e-8, SciPy's) are the local error tolerances of the solver (DOP853):
    derivatives are accurate to about the same tolerances."""
    args, tfirst = _options(args, options)
    rtol = 1.49012e-8 if rtol is None else rtol
    atol = 1.49012e-8 if atol is None else atol
    if not callable(func):
        raise TypeError(f'odeint: func must be a function func(y, t, *args), got '
                        f'{type(func).__name__}')
    y0 = as_float_leaf(y0 if isinstance(y0, Box) or hasattr(y0, 'shape') or isinstance(y0, float)
                       else _np.asarray(y0, dtype=float), 'odeint', 'y0')
    ts = _times(t)
    if not (rtol > 0 and atol > 0):
        raise ValueError(f'odeint: rtol and atol must be positive, got {rtol!r} and {atol!r}')
    system = _make_system(func, tuple(shape_of(y0)), tfirst)
    system.top = True
    ctx = _Context(float(rtol), float(atol))
    states = _solve(system, tuple(args), [y0], ts, ctx)
    return stack([s[0] for s in states])


def _make_system(func, shape, tfirst):
    """system(a, [y], τ) = [func(y, τ, *a)] (func(τ, y, *a) with tfirst), checked."""
    def system(a, ys, tau):
        out = func(tau, ys[0], *a) if tfirst else func(ys[0], tau, *a)
        if isinstance(out, (list, tuple)):
            from ..numpy.creation import array
            out = array(out)
        if not (isinstance(out, (Box, numbers.Number)) or hasattr(out, 'shape')):
            raise TypeError(f'odeint: func returned a {type(out).__name__}, not an array')
        if tuple(shape_of(out)) != shape:
            raise ValueError(f'odeint: func(y, t) returned shape {tuple(shape_of(out))} for y '
                             f'of shape {shape}; they must match')
        return [lift_dead(out)]

    system.user = (func, tfirst, (), 0)  # what func is, for sharing compiled programs
    system.shape = shape
    return system


def _closure_converted(system, a, tag):
    """(system, a) with the cells of func's closure that hold values of T turned
    into extra arguments (so that their cotangent joins the backward system), or
    None where func's own cells hold none.  A value of T reached otherwise (a
    global, an object, a function in a cell) is left to the quadrature."""
    if not getattr(system, 'top', False):    # odeint's own, not a level's wrapper of it
        return None
    func, tfirst = system.user[:2]
    if type(func) is not types.FunctionType or not func.__closure__:
        return None
    cells = func.__closure__
    held = [i for i, c in enumerate(cells) if _filled(c)
            and any(_on_tape(v, tag) for v in _leaves(c.cell_contents))]
    if not held:
        return None
    converted_system = _make_system(_with_cells(func, held, 2 + len(a)), system.shape, tfirst)
    converted_system.user = (func, tfirst, tuple(held), 2 + len(a))   # those cells are inputs
    return converted_system, tuple(a) + tuple(cells[i].cell_contents for i in held)


def _with_cells(func, held, given):
    """func taking, after its ``given`` arguments, the values of its cells at the
    positions ``held`` (func's own values there are not kept)."""
    cells = [types.CellType() if i in held else c for i, c in enumerate(func.__closure__)]
    parts = (func.__code__, func.__globals__, func.__name__, func.__defaults__)
    kwdefaults = func.__kwdefaults__

    def converted(*values):
        new = list(cells)
        for i, v in zip(held, values[given:]):
            new[i] = types.CellType(v)
        f = types.FunctionType(*parts, tuple(new))
        f.__kwdefaults__ = kwdefaults
        return f(*values[:given])
    return converted


def _rebuilt(system):
    """odeint's system of func again, from what system says func is: for a program
    kept across calls, which must hold neither a level nor its tape."""
    func, tfirst, held, given = system.user
    rebuilt = _make_system(_with_cells(func, held, given) if held else func, system.shape, tfirst)
    rebuilt.user = None
    return rebuilt


def _flatten_args(a):
    """The leaves of the arguments and their treedef; where pyad's pytrees cannot
    order them (a dict whose keys do not sort), each argument is one leaf (what
    such an argument holds then stays unnamed)."""
    if a is None:                       # the systems odeint makes close over theirs
        return tree_flatten(None)
    try:
        return tree_flatten(tuple(a))
    except TypeError:
        return list(a), tree_flatten(tuple(range(len(a))))[1]


def _leaves(tree):
    try:
        return tree_flatten(tree)[0]
    except TypeError:
        return []


def _options(args, options):
    """The extra arguments and tfirst from SciPy's keywords; other SciPy options
    (LSODA's) are refused by name."""
    tfirst = bool(options.pop('tfirst', False))
    if 'args' in options:
        extra = options.pop('args')
        if args:
            raise TypeError('odeint: give the extra arguments positionally or as args=, '
                            'not both')
        args = tuple(extra) if isinstance(extra, (tuple, list)) else (extra,)
    if options:
        raise TypeError(f'odeint: the option(s) {", ".join(sorted(options))} are not '
                        f'supported (pyad solves with DOP853; rtol, atol, args and tfirst are)')
    return tuple(args), tfirst


def _times(t):
    """The output times as a list of scalars (boxed where t is), checked monotone."""
    plain = _np.asarray(innermost(t) if isinstance(t, Box) else t)
    if plain.ndim != 1 or plain.size == 0:
        raise ValueError(f'odeint: t must be a non-empty 1-d sequence of times, got shape '
                         f'{plain.shape}')
    if plain.dtype.kind not in 'fiu':
        raise TypeError(f'odeint: t must be real numbers, got dtype {plain.dtype}')
    steps = _np.diff(plain.astype(float))
    if not (_np.all(steps > 0) or _np.all(steps < 0)):
        raise ValueError('odeint: t must be strictly increasing or strictly decreasing')
    if isinstance(t, Box):
        return [t[i] for i in range(plain.size)]
    return [float(v) for v in plain]


# ------------------------------------------------------------------ the recursion
def _newest_tag(values):
    top = None
    for y in values:
        if isinstance(y, Box) and y.tag.live and (top is None or y.tag.id > top.id):
            top = y.tag
    return top


def _suspend(system, tag):
    def suspended(a, ys, tau):
        was = tag.live
        tag.live = False
        try:
            return system(a, ys, tau)
        finally:
            tag.live = was
    suspended.user = getattr(system, 'user', None)
    suspended.shape = getattr(system, 'shape', None)
    return suspended


def _peel(v, tag):
    if isinstance(v, Box):
        v = lift_dead(v)
        if isinstance(v, Box) and v.tag is tag:
            return lift_dead(v.primal)
        return v
    if isinstance(v, (tuple, list)):
        return type(v)(_peel(u, tag) for u in v)
    return v


class _AsNewest:
    """``with _AsNewest(tag):`` the tag ranks above every other while the block runs.

    The sensitivity system evaluates func with T live at states that may be boxed at
    tags made after T (an older level's forward or reverse pass through the system):
    its answer would then carry T's layer inside theirs.  With T ranked newest,
    every primitive peels T's layer first (the states carry none: they are T's
    primal level), so the answer's outer layer is T's and splits into primal and
    tangent, each carrying the newer layers as they should.

    T is also made live while the block runs: an older reverse level sweeps (and
    calls the system) after T's operator has returned.  T is a forward tag (no
    tape), and nothing boxed at T leaves the block: the caller splits it at once."""

    def __init__(self, tag):
        self.tag = tag
        self.saved = (tag.id, tag.live)

    def __enter__(self):
        from .._core import tags
        with tags._counter_lock:
            self.tag.id = next(tags._counter)
        self.tag.live = True
        return self

    def __exit__(self, *exc):
        self.tag.id, self.tag.live = self.saved
        return False


def _tangent_at(v, tag):
    return v.tangent if type(v) is Dual and v.tag is tag else None


def _primal_at(v, tag):
    return lift_dead(v.primal) if isinstance(v, Box) and v.tag is tag else v


def _solve(system, a, y0, ts, ctx):
    """The state (a list of leaves) at each time of ts, for y' = system(a, y, τ)."""
    if getattr(system, 'answers_plain', False):
        # what the system closes over is known to hold no live tag: only y0 and ts can
        tag = _newest_tag(list(y0) + list(ts))
    else:
        probe = system(a, y0, ts[0])
        tag = _newest_tag(list(probe) + list(y0) + list(ts))
        if tag is None and isinstance(system, _Compiled):
            system.answers_plain = True
    if tag is None:
        return _integrate(system, a, y0, ts, ctx)
    if tag.mode not in ('forward', 'reverse'):
        from .._core.taylor import TaylorUnsupported
        raise TaylorUnsupported('odeint')
    converted = _closure_converted(system, a, tag) if tag.mode == 'reverse' else None
    if converted is not None:
        system, a = converted
    level = _Level(system, a, y0, ts, tag, ctx)
    return level.forward() if tag.mode == 'forward' else level.reverse()


def _scale_by(f, tdot):
    """f times a time tangent tdot (shape batch): f of shape y, result batch + y."""
    if tdot is None:
        return None
    nd = ndim_of(f)
    if ndim_of(tdot) and nd:
        tdot = reshape(tdot, tuple(shape_of(tdot)) + (1,) * nd)
    return tdot * f


def _inner(g, f):
    """⟨g, f⟩ over f's axes, g of shape batch + f.shape."""
    nd = ndim_of(f)
    if nd == 0:
        return g * f
    return _sum(g * f, axis=tuple(range(ndim_of(g) - nd, ndim_of(g))))


def _add(u, v):
    if u is None:
        return v
    return u if v is None else u + v


def _batch(derivs, primals):
    for d, p in zip(derivs, primals):
        if d is not None:
            return tuple(shape_of(d)[:ndim_of(d) - ndim_of(p)])
    return None


class _Level:
    """One level of differentiation (tag T) of an ODE solve."""

    def __init__(self, system, a, y0, ts, tag, ctx):
        self.system, self.a, self.tag, self.ctx = system, a, tag, ctx
        self.y0, self.ts = y0, ts
        self.primal_system = _suspend(system, tag)
        self.a_p = _peel(a, tag)
        self.y0_p = [_peel(v, tag) for v in y0]
        self.ts_p = [_peel(v, tag) for v in ts]
        self.n = len(y0)
        self.treedef = tree_flatten([0.0] * self.n)[1]

    def f(self, ys, tau):
        return self.primal_system(self.a_p, ys, tau)

    # -------------------------------------------------------------- forward
    def forward(self):
        tag = self.tag
        tdot = [_tangent_at(v, tag) for v in self.ts]
        s0 = self._initial_sensitivity(tdot[0])
        if s0 is None:
            return _solve(self.primal_system, self.a_p, self.y0_p, self.ts_p, self.ctx)
        states = _solve(self._sensitivity_system, None, self.y0_p + s0, self.ts_p, self.ctx)
        return [self._output(state, tau, td) for state, tau, td in zip(states, self.ts_p, tdot)]

    def _initial_sensitivity(self, tdot0):
        """s(t0) = ẏ0 - f(y0, t0) ṫ0, or None where nothing depends on T."""
        tag = self.tag
        y0dot = [_tangent_at(v, tag) for v in self.y0]
        z0 = self.system(self.a, self.y0_p, self.ts_p[0])        # T live: θ̇'s batch
        batch = _batch(y0dot + [_tangent_at(v, tag) for v in z0], self.y0 + self.y0)
        ts_dot = [_tangent_at(v, tag) for v in self.ts]
        if batch is None:
            batch = next((tuple(shape_of(d)) for d in ts_dot if d is not None), None)
        if batch is None:
            return None
        f0 = [_primal_at(v, tag) for v in z0]
        s0 = [_add(d, None if tdot0 is None else -_scale_by(fi, tdot0))
              for d, fi in zip(y0dot, f0)]
        return [zeros_for(p, batch) if s is None else s for s, p in zip(s0, self.y0_p)]

    def _output(self, state, tau, tdot):
        """Dual(y, s + f(y, t) ṫ) at one output time."""
        ys, ss = state[:self.n], state[self.n:]
        if tdot is not None:
            ss = [s + _scale_by(fi, tdot) for s, fi in zip(ss, self.f(ys, tau))]
        return [Dual(y, s, self.tag) for y, s in zip(ys, ss)]

    def _sensitivity_system(self, _, state, tau):
        """[y; s]' = [f(y); J s + ∂f/∂θ θ̇]."""
        n, tag = self.n, self.tag
        ys, ss = state[:n], state[n:]
        with _AsNewest(tag):
            z = self.system(self.a, ys, tau)             # T live: its tangent is ∂f/∂θ θ̇
        fy = [_primal_at(v, tag) for v in z]
        js = push_forward(lambda xs: self.f(xs, tau), ys, self.treedef, ss, 'odeint')[2]
        ds = [_add(j, _tangent_at(v, tag)) for j, v in zip(js, z)]
        ds = [zeros_for(s) if d is None else d for d, s in zip(ds, ss)]
        return [lift_dead(v) for v in fy + ds]

    # -------------------------------------------------------------- reverse
    def reverse(self):
        tag = self.tag
        arg_leaves, self.arg_def = _flatten_args(self.a)
        self.arg_leaves_p = [_peel(v, tag) for v in arg_leaves]
        if self._closes_over_tag():
            self.params = []
            self.layout = (self.n, self.arg_def, ())
            return self._reverse_by_quadrature()
        # func reads T's values only through its arguments: their cotangent is
        # integrated with the adjoint, as a third part of the backward state
        self.params = [i for i, v in enumerate(arg_leaves) if _on_tape(v, tag)]
        self.layout = (self.n, self.arg_def, tuple(self.params))
        outputs = _solve(self.primal_system, self.a_p, self.y0_p, self.ts_p, self.ctx)
        inputs, kinds = self._traced_inputs([], [arg_leaves[i] for i in self.params])
        if not inputs:
            return outputs
        where = {'t': list(range(len(outputs))), 'nodes': []}
        sweep = _Adjoint(self, outputs, self.ts_p, where, [])
        return self._record(inputs, kinds, outputs, sweep)

    def _closes_over_tag(self):
        """Does func read a value of T other than through y, t and its arguments?"""
        probe = self.system(self.a_p, self.y0_p, self.ts_p[0])
        return any(_on_tape(v, self.tag) for v in probe)

    def _reverse_by_quadrature(self):
        """The parameters' cotangent as a quadrature over the forward solver's steps
        (for values func closes over, which odeint cannot name)."""
        ctx = self.ctx
        ctx.want_grid = True
        try:
            _solve(self.primal_system, self.a_p, self.y0_p, self.ts_p, ctx)   # the step grid
        finally:
            ctx.want_grid = False
        times, where, weights = self._nodes(ctx.grid)
        states = _solve(self.primal_system, self.a_p, self.y0_p, times, ctx)
        outputs = [states[k] for k in where['t']]
        # func at the quadrature nodes with T live: recorded on T's tape
        nodes = [(k, w, self.system(self.a, states[k], times[k]))
                 for k, w in zip(where['nodes'], weights)]
        inputs, kinds = self._traced_inputs(nodes, [])
        if not inputs:
            return outputs
        return self._record(inputs, kinds, outputs, _Adjoint(self, outputs, times, where, nodes))

    def _record(self, inputs, kinds, outputs, sweep):
        n = self.n

        def vjp(cotangents):
            return sweep(cotangents, kinds)

        flat = [v for state in outputs for v in state]
        boxed = self.tag.tape.custom(self.tag, inputs, flat, vjp, 'odeint')
        return [boxed[i * n:(i + 1) * n] for i in range(len(outputs))]

    def _traced_inputs(self, nodes, params):
        """The variables of T's tape the outputs depend on, and what each is:
        ('node', j, leaf), ('arg', j, None), ('y0', i, None) or ('t', i, None)."""
        found = [(('node', j, i), v) for j, (_, _, z) in enumerate(nodes)
                 for i, v in enumerate(z)]
        found += [(('arg', j, None), v) for j, v in enumerate(params)]
        found += [(('y0', i, None), v) for i, v in enumerate(self.y0)]
        found += [(('t', i, None), v) for i, v in enumerate(self.ts)]
        found = [(kind, lift_dead(v)) for kind, v in found if _on_tape(v, self.tag)]
        return [v for _, v in found], [kind for kind, _ in found]

    def _nodes(self, grid):
        """All the times of the second solve (the outputs and, between them, the
        quadrature nodes of each step, affine in the interval's end points), where
        the outputs and nodes are among them, and the nodes' weights."""
        ts = self.ts_p
        plain = [float(innermost(t)) for t in ts]
        times, out_index, node_index, weights = [ts[0]], [0], [], []
        grid = _np.asarray(grid, dtype=float)
        for i in range(len(ts) - 1):
            lo, hi = plain[i], plain[i + 1]
            inside = grid[(grid - lo) * (hi - lo) > 0]
            inside = inside[(hi - inside) * (hi - lo) > 0]
            cuts = _np.concatenate([[0.0], _np.sort((inside - lo) / (hi - lo)), [1.0]])
            span = ts[i + 1] - ts[i]
            for c0, c1 in zip(cuts[:-1], cuts[1:]):
                for u, w in zip(_GL_NODES, _GL_WEIGHTS):
                    node_index.append(len(times))
                    times.append(ts[i] + span * float(c0 + (c1 - c0) * u))
                    weights.append(span * float((c1 - c0) * w))
            out_index.append(len(times))
            times.append(ts[i + 1])
        return times, {'t': out_index, 'nodes': node_index}, weights

    def _adjoint_system(self, _, state, tau):
        """[y; λ; μ]' integrated backward (μ: the traced arguments' cotangent, none on
        the quadrature path)."""
        return _adjoint_rates(self.primal_system, self.layout, self.arg_leaves_p, state, tau)


def _adjoint_rates(system, layout, arg_leaves, state, tau):
    """[f(y); -Jᵀλ; -(∂f/∂θ)ᵀλ] for y' = f(y, τ) = system(args, y, τ), the state
    being [y; λ; μ] and θ the arguments' leaves at the positions ``params``;
    ``layout`` = (n, the arguments' treedef, params)."""
    n, arg_def, params = layout
    ys, lam, mu = state[:n], state[n:2 * n], state[2 * n:]

    def f(xs):
        leaves = list(arg_leaves)
        for i, p in zip(params, xs[n:]):
            leaves[i] = p
        return system(tree_unflatten(arg_def, leaves), xs[:n], tau)

    treedef = tree_flatten([0.0] * (n + len(params)))[1]
    fy, _, pullback = pull_back(f, list(ys) + [arg_leaves[i] for i in params], treedef,
                                'odeint')
    back = pullback(list(lam))
    rates = [zeros_for(s) if b is None else -b for b, s in zip(back, list(lam) + list(mu))]
    return [lift_dead(v) for v in list(fy) + rates]


def _on_tape(v, tag):
    """Is v a variable of T's tape (under layers of retired tags)?"""
    v = lift_dead(v)
    return type(v) in (TapeVar, LazyVar) and v.tag is tag


class _Adjoint:
    """The VJP of one reverse level: the adjoint λ (and μ, the traced arguments'
    cotangent) integrated backward from the last time, λ jumping by the output
    cotangents at each t_i, read at the quadrature nodes if any."""

    def __init__(self, level, outputs, times, where, nodes):
        self.level, self.outputs, self.times, self.where = level, outputs, times, where
        self.nodes = nodes
        self.node_of_time = {k: j for j, (k, _, _) in enumerate(nodes)}

    def __call__(self, cotangents, kinds):
        n = self.level.n
        gs = [cotangents[i * n:(i + 1) * n] for i in range(len(self.outputs))]
        batch = _batch([g for gi in gs for g in gi], [v for o in self.outputs for v in o])
        if batch is None:
            return [None] * len(kinds)
        self.timed = {j for kind, j, _ in kinds if kind == 't'}
        lam, mu, node_ct, t_ct = self._sweep(gs, batch)
        return [self._cotangent(kind, j, leaf, lam, mu, node_ct, t_ct)
                for kind, j, leaf in kinds]

    def _sweep(self, gs, batch):
        """λ(t0) (with ḡ_0 added), μ(t0), λ at the nodes, the times' cotangents."""
        level = self.level
        lam = [zeros_for(p, batch) for p in self.outputs[-1]]
        mu = [zeros_for(level.arg_leaves_p[i], batch) for i in level.params]
        system = _Compiled(level)     # one compiled right-hand side for every interval
        node_ct, t_ct = {}, {}
        for i in range(len(self.outputs) - 1, 0, -1):
            lam = [l if g is None else l + g for l, g in zip(lam, gs[i])]
            t_ct[i] = self._time_cotangent(gs[i], i, 1.0)
            lam, mu = self._interval(system, i, lam, mu, node_ct)
        # the cotangent of t0 takes λ(t0) before ḡ_0 is added; that of y0 after
        t_ct[0] = self._time_cotangent(lam, 0, -1.0)
        lam = [l if g is None else l + g for l, g in zip(lam, gs[0])]
        return lam, mu, node_ct, t_ct

    def _cotangent(self, kind, j, leaf, lam, mu, node_ct, t_ct):
        if kind == 'node':        # the quadrature weight times λ at the node
            return self.nodes[j][1] * node_ct[j][leaf] if j in node_ct else None
        if kind == 'arg':
            return mu[j]
        return lam[j] if kind == 'y0' else t_ct.get(j)

    def _time_cotangent(self, gs, i, sign):
        """sign ⟨g, f(y_i, t_i)⟩, or None for no cotangent (or t_i not traced)."""
        if i not in self.timed or all(g is None for g in gs):
            return None
        fs = self.level.f(self.outputs[i], self.level.ts_p[i])
        total = sum_or_none([None if g is None else _inner(g, fi) for g, fi in zip(gs, fs)])
        return total if sign > 0 else -total

    def _interval(self, system, i, lam, mu, node_ct):
        """λ and μ at t_{i-1} from t_i, through the nodes between (λ there stored in
        node_ct)."""
        n, pos = self.level.n, self.where['t']
        span = list(range(pos[i], pos[i - 1] - 1, -1))
        back = _solve(system, None, list(self.outputs[i]) + list(lam) + list(mu),
                      [self.times[k] for k in span], self.level.ctx)
        for k, state in zip(span, back):
            if k in self.node_of_time:
                node_ct[self.node_of_time[k]] = state[n:2 * n]
        return back[-1][n:2 * n], back[-1][2 * n:]


class _Compiled:
    """A level's adjoint system, whose plain evaluations the solver runs as one
    pyad.jit program.

    A program folds in, as constants, what the system closes over that is not being
    differentiated when it is traced, so it is only valid while the same tags are
    live: it is made for one VJP call (whose nested solves restore every tag they
    touch), and only ``_integrate`` runs it, with plain values, after ``_solve``
    found no live tag in the system's answer.  Wrapped in any other system (a
    nested level), it is just the eager system.  For the same reason, once its answer
    at a plain state held no live tag, later solves of the call need not probe it
    again.  The arguments' values are inputs
    of the program; where func can read nothing else that may change (see
    ``_state_key``), the program is shared by later calls of odeint with the same
    func (see ``_shared``)."""

    def __init__(self, level):
        self.level = level
        self.programs = {}
        self.answers_plain = False     # its answer at plain values held no live tag

    def __call__(self, a, state, tau):
        return self.level._adjoint_system(a, state, tau)

    def flat(self, shapes):
        """A function (flat state, τ) -> flat rate, or None where it runs eagerly."""
        level = self.level
        if shapes not in self.programs:
            shared = _shared(level.system, level.arg_leaves_p, ('adjoint', shapes, level.layout),
                             lambda: _jit_rate(_rebuilt(level.system), level.layout, shapes))
            self.programs[shapes] = shared or (
                _jit_rate(level.primal_system, level.layout, shapes), None)
        program, forget = self.programs[shapes]

        def failed():
            self.programs[shapes] = (None, None)
            if forget is not None:
                forget()
        return _guarded(program, level.arg_leaves_p, failed)


def _compiled(system, a, shapes):
    """The right-hand side (flat state, τ) -> flat rate as a compiled program, or None
    to evaluate the system eagerly: the adjoint system of a VJP call, or func itself
    where its program can be shared."""
    if isinstance(system, _Compiled):
        return system.flat(shapes)
    if getattr(system, 'user', None) is None:
        return None
    leaves, arg_def = _flatten_args(a)
    shared = _shared(system, leaves, ('forward', shapes, arg_def),
                     lambda: _jit_forward(_rebuilt(system), arg_def, shapes))
    return None if shared is None else _guarded(shared[0], leaves, shared[1])


def _guarded(program, arg_leaves, failed):
    """program(flat, τ, *arg_leaves), or None (after calling failed) where it raises:
    what pyad.jit cannot compile runs eagerly, and an error of func's own is raised
    there again.  A func whose control flow keeps sending pyad.jit back to tracing
    (its guards failing) runs eagerly after _MAX_TRACES traces."""
    if program is None:
        return None
    # NumPy scalars as 0-d arrays (the same types to NumPy): pyad.jit's quick
    # signature check takes arrays and floats
    inputs = [_np.asarray(v) if isinstance(v, _np.generic) else v for v in arg_leaves]
    off = []

    def run(flat, tau):
        if off:
            return None
        try:
            out = program(flat, _np.asarray(tau) if isinstance(tau, _np.generic) else tau,
                          *inputs)
        except Exception:
            out = None
        if out is None or program.traces > _MAX_TRACES:
            off.append(True)
            failed()
        return out
    return run


_MAX_TRACES = 16


_SHARED = weakref.WeakKeyDictionary()      # func's code -> {key: program}, newest last
_SHARED_LOCK = threading.Lock()
_SHARED_PER_FUNC = 8


def _shared(system, arg_leaves, key, build):
    """(the program of func for key, kept across calls of odeint (None: it failed
    before, func runs eagerly), a function that marks it failed), or None where func
    or its arguments do not allow sharing: an argument being differentiated, or
    something func reads that may change."""
    user = getattr(system, 'user', None)
    if user is None or any(isinstance(v, Box) for v in arg_leaves):
        return None
    state = _state_key(user[0], skip=user[2])
    if state is None:
        return None
    key = (state, user[1]) + key
    with _SHARED_LOCK:
        # by code: a func made afresh at each call (a lambda) finds its programs
        table = _SHARED.setdefault(user[0].__code__, {})
        program = table.pop(key, None) or build()
        table[key] = program
        while len(table) > _SHARED_PER_FUNC:
            del table[next(iter(table))]

    def forget():                 # it failed: eager from now on, without a new trace
        with _SHARED_LOCK:
            table[key] = _EAGER
    return (None if program is _EAGER else program), forget


class _Eager:
    """The program of a func that pyad.jit could not compile."""


_EAGER = _Eager()


def _split(flat, shapes):
    bounds = _np.cumsum([0] + [int(_np.prod(s)) for s in shapes])
    return [reshape(flat[lo:hi], s) for lo, hi, s in zip(bounds[:-1], bounds[1:], shapes)]


def _pack(leaves, bounds):
    """The leaves of a rate as one flat float64 array."""
    flat = _np.empty(bounds[-1])
    for v, lo, hi in zip(leaves, bounds[:-1], bounds[1:]):
        flat[lo:hi] = v.ravel() if getattr(v, 'ndim', 0) > 1 else v
    return flat


def _jit_forward(system, arg_def, shapes):
    from ..jit import jit

    def rate(flat, tau, *arg_leaves):
        return list(system(tree_unflatten(arg_def, list(arg_leaves)), _split(flat, shapes), tau))

    return jit(rate, warn_after=10 ** 9)


def _jit_rate(system, layout, shapes):
    from ..jit import jit

    def rate(flat, tau, *arg_leaves):
        return _adjoint_rates(system, layout, arg_leaves, _split(flat, shapes), tau)

    return jit(rate, warn_after=10 ** 9)


# what func may read for its program to be shared: values that cannot change under
# it (numbers, strings, tuples of them), arrays (by identity and contents), the modules of
# pyad, NumPy, SciPy and math, and functions that read only such values in turn
_STABLE_MODULES = frozenset(('pyad', 'numpy', 'scipy', 'math', 'cmath'))
_SCALARS = (bool, int, float, complex, str, bytes, type(None))


def _state_key(fn, depth=4, skip=()):
    """A key for everything the plain function fn can read (its code, closure cells
    but those at the positions ``skip``, defaults, and the globals its code names),
    or None where it may read something that can change without changing the key
    (an object, a list, another module)."""
    if type(fn) is not types.FunctionType or depth == 0:
        return None
    values = [c.cell_contents if _filled(c) else _EMPTY_CELL
              for i, c in enumerate(fn.__closure__ or ()) if i not in skip]
    values += list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values())
    names = sorted(name for name in _names(fn.__code__) if name in fn.__globals__)
    values += [fn.__globals__[name] for name in names]
    parts = [fn.__code__, fn.__globals__.get('__name__'), tuple(skip), tuple(names)]
    for v in values:
        part = 'empty cell' if v is _EMPTY_CELL else _value_key(v, depth)
        if part is None:
            return None
        parts.append(part)
    return tuple(parts)


_EMPTY_CELL = object()


def _names(code):
    """The global names a code object (and the code nested in it) may read."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _filled(cell):
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def _value_key(v, depth):
    if isinstance(v, _SCALARS):
        return (type(v), v)
    if type(v) is tuple:
        parts = [_value_key(u, depth) for u in v]
        return None if any(p is None for p in parts) else tuple(parts)
    if type(v) is _np.ndarray and v.dtype.kind in 'biufc':
        # by identity (a program may hold the array itself) and by contents (what it
        # held when the program was traced)
        digest = hashlib.blake2b(_np.ascontiguousarray(v).tobytes(), digest_size=16).digest()
        return (id(v), v.dtype.str, v.shape, digest)
    if isinstance(v, types.ModuleType):
        return v if v.__name__.partition('.')[0] in _STABLE_MODULES else None
    if isinstance(v, (types.BuiltinFunctionType, _np.ufunc, Primitive)):
        return v
    if type(v) is types.FunctionType:
        if (v.__module__ or '').partition('.')[0] in _STABLE_MODULES:
            return v
        return _state_key(v, depth - 1)
    return None


def sum_or_none(values):
    out = None
    for v in values:
        out = _add(out, v)
    return out


# ------------------------------------------------------------------ plain solve
def _integrate(system, a, y0, ts, ctx):
    from scipy.integrate import solve_ivp
    plain_t = [float(t) for t in ts]
    if len(plain_t) == 1:
        ctx.grid = _np.asarray(plain_t)
        return [list(y0)]
    shapes = [tuple(shape_of(v)) for v in y0]
    sizes = [int(_np.prod(s)) for s in shapes]
    dtypes = [dtype_of(v) if hasattr(v, 'dtype') else None for v in y0]
    start = _np.concatenate([_np.ravel(_np.asarray(v, dtype=float)) for v in y0])
    splits = _np.cumsum(sizes)[:-1]
    bounds = [0] + [int(b) for b in _np.cumsum(sizes)]

    def unflatten(flat):
        return [p.reshape(s) for p, s in zip(_np.split(flat, splits), shapes)]

    def eager(tau, flat):
        out = system(a, unflatten(flat), tau)
        for leaf in out:
            if isinstance(leaf, Box):
                raise RuntimeError(f'odeint: func returned a value being differentiated at a '
                                   f'level not seen at the first time (tag {leaf.tag.id}); '
                                   f'func must depend on the same values at every (y, t)')
        return out

    # compiled programs are a fast path: the reference mode runs the system eagerly
    compiled = _compiled(system, a, tuple(shapes)) if settings.fast else None

    def rhs(tau, flat):
        rate = None if compiled is None else compiled(flat, tau)
        return _pack(eager(tau, flat) if rate is None else rate, bounds)

    sol = solve_ivp(rhs, (plain_t[0], plain_t[-1]), start, method='DOP853', t_eval=plain_t,
                    rtol=ctx.rtol, atol=ctx.atol, dense_output=ctx.want_grid)
    if not sol.success or not _np.all(_np.isfinite(sol.y)):
        raise ODEintError(f'odeint: the solver failed: {sol.message}')
    ctx.grid = sol.sol.ts if ctx.want_grid else None
    out = []
    for i in range(len(plain_t)):
        leaves = unflatten(sol.y[:, i])
        out.append([_cast(v, dt, y) for v, dt, y in zip(leaves, dtypes, y0)])
    out[0] = list(y0)
    return out


def _cast(v, dtype, like):
    if dtype is None:
        return float(v)
    return v.astype(dtype)
