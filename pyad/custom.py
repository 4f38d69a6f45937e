"""Custom derivative rules for Python functions, with JAX's API: ``custom_jvp``
and ``custom_vjp``.

A ``Primitive`` (pyad/_core/primitive.py) is the way to add an operation on
arrays with both rules; these decorators are for a Python function made of pyad
operations whose derivative should be computed otherwise (more stably, more
cheaply, or with residuals saved from the forward pass).

How a call is differentiated.  Like ``fixed_point``, a decorated function peels
the levels of differentiation off its arguments one tag at a time: the newest
live tag T among the arguments' leaves is handled here, and everything older
is differentiated as usual by whatever the rule computes (the rule runs on
values that may still be boxed at older tags, so rules written with pyad
operations are differentiable again: second order works).

* custom_jvp at a forward tag: the rule gets the primals and the tangents at T
  (zeros for arguments not differentiated at T); batched tangents are pushed
  one direction at a time.
* custom_jvp at a reverse tag: one record on T's tape; its VJP transposes the
  JVP rule (the rule is linear in the tangents: the VJP is a sweep of a tape of
  the rule as a function of the tangents).
* custom_vjp at a reverse tag: ``fwd`` runs once, its residuals are kept by one
  record on T's tape, and ``bwd(residuals, cotangent)`` runs in the sweep.
* custom_vjp at a forward tag: like JAX, the VJP rule cannot serve forward mode;
  pyad differentiates the function itself there (its own operations), so
  ``jacfwd`` of a custom_vjp function works and gives the function's true
  derivative, and reverse mode (``grad``, ``jacrev``, the reverse part of
  ``hessian``) uses the rule.

The function may not close over values differentiated at T (it must take them as
arguments): the record on T's tape would not know them.  pyad notices when the
function computes with such a value and raises, rather than dropping its
derivative.
"""
import contextlib
import functools
import inspect
from typing import Any, Callable, Tuple

from ._core.box import Box, Dual, TapeVar, LazyVar, lift_dead, shape_of, ndim_of
from ._core.pytree import tree_flatten, tree_unflatten
from ._core.taylor import TaylorUnsupported
from ._core.transforms import pull_back, zeros_for, cast_like, is_function
from .fixed_point import _peel_leaf as peel, _list_def as list_def

__all__ = ['custom_jvp', 'custom_vjp', 'ClosureError']


# ----------------------------------------------------------------- the levels
def newest_tag(leaves):
    """The newest live tag among the leaves, or None.  (Unlike fixed_point's probe,
    which reads values f computed, these are the caller's arguments: a value that
    escaped an operator may hold live layers under its retired one.)"""
    top = None
    for y in leaves:
        y = lift_dead(y)
        if isinstance(y, Box) and (top is None or y.tag.id > top.id):
            top = y.tag
    return top


def traced_at(leaf, tag):
    leaf = lift_dead(leaf)
    return (type(leaf) is TapeVar or type(leaf) is LazyVar) and leaf.tag is tag


class ClosureError(TypeError):
    """A custom rule or a checkpointed function closes over a value being differentiated."""


class _ClosedTape:
    """Stands in for a tape while a function runs on arguments peeled of its tag:
    anything recorded there comes from a value the function closes over."""

    def __init__(self, name):
        self.name = name

    def _refuse(self, *args, **kwargs):
        raise ClosureError(
            f'{self.name}: the function computes with a value being differentiated that '
            f'is not among its arguments (it closes over it, or reads it from a global or '
            f'an object); pass that value as an argument so that its derivative is kept')

    add = add_ext = custom = _refuse


@contextlib.contextmanager
def closed(tag, name):
    """``with closed(tag, name):`` recording on ``tag``'s tape raises (see _ClosedTape)."""
    tape = tag.tape
    tag.tape = _ClosedTape(name)
    try:
        yield
    finally:
        tag.tape = tape


def output_leaves(out, name):
    """The leaves of a function's output, checked: numbers and arrays only."""
    leaves, treedef = tree_flatten(out)
    for y in leaves:
        if is_function(y) or not (isinstance(y, (Box, int, float)) or hasattr(y, 'dtype')):
            raise TypeError(f'{name}: the function returned a {type(y).__name__} among its '
                            f'outputs; only numbers and arrays (in tuples, lists, dicts, '
                            f'dataclasses, registered pytrees) can be differentiated')
    return leaves, treedef


def _name(fun):
    return getattr(fun, '__name__', type(fun).__name__)


def _positional(fun, args, kwargs, name):
    """kwargs bound to f's positional parameters (as JAX does for custom rules)."""
    if not kwargs:
        return args
    try:
        bound = inspect.signature(fun).bind(*args, **kwargs)
    except (TypeError, ValueError) as e:
        raise TypeError(f'{name}: cannot pass these keyword arguments positionally: {e}') from None
    if bound.kwargs:
        raise TypeError(f'{name}: keyword-only arguments ({", ".join(bound.kwargs)}) are '
                        f'not supported by custom rules; pass them positionally or close over '
                        f'them (if they are not differentiated)')
    return bound.args


def _batch_shape(tangents, primals):
    for t, p in zip(tangents, primals):
        if t is not None:
            return tuple(shape_of(t))[:ndim_of(t) - ndim_of(p)]
    return ()


class _Split:
    """One call's arguments: the ``nondiff_argnums`` ones (``static``, passed to the
    rules first, never differentiated) and the others (``dyn``)."""

    def __init__(self, args, nondiff_argnums, name):
        for i in nondiff_argnums:
            if not -len(args) <= i < len(args):
                raise TypeError(f'{name}: nondiff_argnums names argument {i}, but it was '
                                f'called with {len(args)} positional arguments')
        fixed = {i % len(args) for i in nondiff_argnums}
        self.args = args
        self.positions = [i for i in range(len(args)) if i not in fixed]
        self.static = tuple(args[i] for i in sorted(fixed))
        self.dyn = tuple(args[i] for i in self.positions)

    def full(self, dyn):
        """All the arguments, with ``dyn`` in place of the differentiable ones."""
        args = list(self.args)
        for i, value in zip(self.positions, dyn):
            args[i] = value
        return args


class _Custom:
    """What custom_jvp and custom_vjp share: the wrapper, the dispatch on levels."""
    kind = 'custom'

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Tuple[int, ...] = ()) -> None:
        if not callable(fun):
            raise TypeError(f'{self.kind} decorates a function, got {type(fun).__name__}')
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.name = f'{self.kind} function {_name(fun)}'
        if isinstance(nondiff_argnums, int):
            nondiff_argnums = (nondiff_argnums,)
        self.nondiff_argnums = tuple(int(i) for i in nondiff_argnums)

    def __get__(self, obj, cls):            # as a method: bound like a function
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._check_rules()
        args = tuple(_positional(self.fun, args, kwargs, self.name))
        call = _Split(args, self.nondiff_argnums, self.name)
        leaves, treedef = tree_flatten(call.dyn)
        tag = newest_tag(leaves)
        if tag is None:
            return self.fun(*args)
        if tag.mode == 'taylor':
            raise TaylorUnsupported(self.name)     # diffn falls back to nested forward mode
        primals = [peel(leaf, tag) for leaf in leaves]
        if tag.mode == 'forward':
            return self._forward(call, tag, leaves, primals, treedef)
        traced = [i for i, leaf in enumerate(leaves) if traced_at(leaf, tag)]
        return self._reverse(call, tag, leaves, primals, treedef, traced)

    def _record(self, tag, leaves, traced, out, vjp):
        """One record on tag's tape: the outputs, depending on the traced leaves."""
        out_leaves, out_def = output_leaves(out, self.name)
        if not out_leaves:
            return out
        variables = tag.tape.custom(tag, [lift_dead(leaves[i]) for i in traced], out_leaves,
                                    vjp, _name(self.fun))
        return tree_unflatten(out_def, variables)


# ----------------------------------------------------------------- custom_jvp
class custom_jvp(_Custom):
    """A function with a custom forward-mode rule, as JAX's ``jax.custom_jvp``.

    Define the rule with ``@f.defjvp``: ``rule(primals, tangents) -> (primal_out,
    tangent_out)``, primals and tangents being tuples of f's positional arguments
    and their tangents (zeros for arguments not differentiated).  The rule must be
    linear in the tangents and written with pyad operations; reverse mode
    transposes it, and every operator (any nesting) uses it.  Arguments named in
    ``nondiff_argnums`` (functions, flags, shapes) are never differentiated and are
    passed to the rule first: ``rule(*nondiff_args, primals, tangents)``, as in JAX.

    >>> import pyad, pyad.numpy as np
    >>> @pyad.custom_jvp
    ... def log1pexp(x):
    ...     return np.log1p(np.exp(x))
    >>> @log1pexp.defjvp
    ... def log1pexp_jvp(primals, tangents):
    ...     (x,), (t,) = primals, tangents
    ...     return log1pexp(x), t / (1.0 + np.exp(-x))      # stable for large x
    >>> float(pyad.grad(log1pexp)(1000.0))
    1.0
    """
    kind = 'custom_jvp'

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Tuple[int, ...] = ()) -> None:
        super().__init__(fun, nondiff_argnums)
        self.jvp = None

    def defjvp(self, jvp: Callable[..., Any]) -> Callable[..., Any]:
        """Set the rule ``jvp(primals, tangents) -> (primal_out, tangent_out)``; returns it."""
        if not callable(jvp):
            raise TypeError(f'{self.name}: defjvp takes a function, got {type(jvp).__name__}')
        self.jvp = jvp
        return jvp

    def _check_rules(self):
        if self.jvp is None:
            raise TypeError(f'{self.name} has no rule: define one with @{_name(self.fun)}.defjvp')

    def _rule(self, call, treedef, primals, tangents):
        """(out leaves, out treedef, tangent leaves) of the rule at flat primals/tangents."""
        result = self.jvp(*call.static, tree_unflatten(treedef, primals),
                          tree_unflatten(treedef, tangents))
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise TypeError(f'{self.name}: the JVP rule must return a pair '
                            f'(primal_out, tangent_out), got {type(result).__name__}')
        out, tout = result
        out_leaves, out_def = output_leaves(out, self.name)
        t_leaves, t_def = tree_flatten(tout)
        if t_def != out_def:
            raise ValueError(f'{self.name}: the JVP rule returned a tangent of structure '
                             f'{t_def} for an output of structure {out_def}')
        for y, t in zip(out_leaves, t_leaves):
            if tuple(shape_of(t)) != tuple(shape_of(y)):
                raise ValueError(f'{self.name}: the JVP rule returned a tangent of shape '
                                 f'{tuple(shape_of(t))} for an output of shape '
                                 f'{tuple(shape_of(y))}')
        return out_leaves, out_def, t_leaves

    def _forward(self, call, tag, leaves, primals, treedef):
        tangents = [lift_dead(l).tangent if lift_dead(l) is not p else None
                    for l, p in zip(leaves, primals)]
        batch = _batch_shape(tangents, primals)
        if not batch:
            out, out_def, touts = self._rule(call, treedef, primals, _zeros(tangents, primals))
        else:                       # one direction at a time, stacked
            runs = [self._rule(call, treedef, primals,
                               _zeros([None if t is None else t[b] for t in tangents], primals))
                    for b in range(batch[0])]
            out, out_def = runs[0][0], runs[0][1]
            touts = [_stack([run[2][k] for run in runs], out[k]) for k in range(len(out))]
        _check_level(out + touts, tag, self.name)
        duals = [Dual(y, cast_like(t, y), tag) for y, t in zip(out, touts)]
        return tree_unflatten(out_def, duals)

    def _reverse(self, call, tag, leaves, primals, treedef, traced):
        with closed(tag, self.name):
            out = self.fun(*call.full(tree_unflatten(treedef, primals)))

        def vjp(cotangents):
            # the rule is linear in the tangents: its transpose is a sweep
            def linear(ts):
                full = [zeros_for(p) for p in primals]
                for i, t in zip(traced, ts):
                    full[i] = t
                return self._rule(call, treedef, primals, full)[2]
            seeds = [zeros_for(primals[i]) for i in traced]
            _, _, pullback = pull_back(linear, seeds, list_def(len(seeds)), self.name)
            return pullback(list(cotangents), last=True)
        return self._record(tag, leaves, traced, out, vjp)


def _stack(rows, primal):
    """Rows of a batched derivative stacked (None: zero rows; all None: a zero)."""
    if all(r is None for r in rows):
        return None
    from . import numpy as pnp
    return pnp.stack([zeros_for(primal) if r is None else r for r in rows])


def _zeros(tangents, primals):
    return [zeros_for(p) if t is None else t for t, p in zip(tangents, primals)]


def _check_level(leaves, tag, name):
    """Under a forward tag, a rule that closes over a value differentiated at that
    tag returns values still wrapped at it: refused, like recording under closed()."""
    for y in leaves:
        y = lift_dead(y)
        if isinstance(y, Box) and y.tag is tag:
            _ClosedTape(name).add()


# ----------------------------------------------------------------- custom_vjp
class custom_vjp(_Custom):
    """A function with a custom reverse-mode rule, as JAX's ``jax.custom_vjp``.

    Define the rules with ``f.defvjp(fwd, bwd)``: ``fwd(*args) -> (output,
    residuals)`` runs in the forward pass, and the residuals (any pytree) are kept
    for ``bwd(residuals, cotangent) -> tuple of one cotangent per argument`` (None
    for an argument's zero), which runs in the reverse sweep.  Written with pyad
    operations, bwd is differentiated in turn (grad of grad, hessian).  In forward
    mode pyad differentiates the function itself (JAX refuses); see the module
    notes.  Arguments named in ``nondiff_argnums`` are never differentiated: fwd
    gets every argument, ``bwd(*nondiff_args, residuals, g)`` returns cotangents for
    the others only, as in JAX.

    >>> import pyad, pyad.numpy as np
    >>> @pyad.custom_vjp
    ... def clip_gradient(x):
    ...     return x
    >>> def fwd(x):
    ...     return x, None
    >>> def bwd(residuals, g):
    ...     return (np.clip(g, -1.0, 1.0),)
    >>> clip_gradient.defvjp(fwd, bwd)
    >>> float(pyad.grad(lambda x: 5.0 * clip_gradient(x))(2.0))
    1.0
    """
    kind = 'custom_vjp'

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Tuple[int, ...] = ()) -> None:
        super().__init__(fun, nondiff_argnums)
        self.fwd = self.bwd = None

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> None:
        """Set ``fwd(*args) -> (output, residuals)`` and ``bwd(residuals, g) -> grads``."""
        for what, rule in (('fwd', fwd), ('bwd', bwd)):
            if not callable(rule):
                raise TypeError(f'{self.name}: defvjp takes two functions (fwd, bwd); '
                                f'{what} is a {type(rule).__name__}')
        self.fwd, self.bwd = fwd, bwd

    def _check_rules(self):
        if self.fwd is None:
            raise TypeError(f'{self.name} has no rules: define them with '
                            f'{_name(self.fun)}.defvjp(fwd, bwd)')

    def _forward(self, call, tag, leaves, primals, treedef):
        return self.fun(*call.args)

    def _reverse(self, call, tag, leaves, primals, treedef, traced):
        args = tree_unflatten(treedef, primals)
        with closed(tag, self.name):
            result = self.fwd(*call.full(args))
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise TypeError(f'{self.name}: fwd must return a pair (output, residuals), got '
                            f'{type(result).__name__}')
        out, residuals = result
        out_def = tree_flatten(out)[1]

        out_leaves = tree_flatten(out)[0]

        def bwd(cotangents):
            ct = tree_unflatten(out_def, _zeros(cotangents, out_leaves))
            return self._flat_grads(self.bwd(*call.static, residuals, ct), args, traced)

        def vjp(cotangents):
            batch = _batch_shape(cotangents, out_leaves)
            if not batch:
                return bwd(cotangents)
            # batched cotangents (jacrev, hessian): bwd is called once per row
            rows = [bwd([None if c is None else c[b] for c in cotangents])
                    for b in range(batch[0])]
            return [_stack([row[k] for row in rows], primals[i]) for k, i in enumerate(traced)]
        return self._record(tag, leaves, traced, out, vjp)

    def _flat_grads(self, grads, args, traced):
        """bwd's result as one cotangent per traced leaf of the arguments (None for
        zero); the cotangents of arguments not differentiated are not read."""
        if not isinstance(grads, (tuple, list)) or len(grads) != len(args):
            raise TypeError(f'{self.name}: bwd must return a tuple with one cotangent per '
                            f'argument ({len(args)}), got {_describe(grads)}')
        flat = []
        wanted = set(traced)
        for i, (g, arg) in enumerate(zip(grads, args)):
            arg_leaves, arg_def = tree_flatten(arg)
            if g is None:
                flat += [None] * len(arg_leaves)
                continue
            g_leaves, g_def = tree_flatten(g)
            if g_def != arg_def:
                raise ValueError(f'{self.name}: bwd returned for argument {i} a cotangent of '
                                 f'structure {g_def}, but the argument has structure {arg_def}')
            start = len(flat)
            flat += [self._cotangent(g_leaf, a, i, start + k in wanted)
                     for k, (g_leaf, a) in enumerate(zip(g_leaves, arg_leaves))]
        return [flat[i] for i in traced]

    def _cotangent(self, g, arg, i, wanted):
        if not wanted or g is None:
            return None
        if tuple(shape_of(g)) != tuple(shape_of(arg)):
            raise ValueError(f'{self.name}: bwd returned for argument {i} a cotangent of shape '
                             f'{tuple(shape_of(g))}, but the argument has shape '
                             f'{tuple(shape_of(arg))}')
        return cast_like(g, arg)


def _describe(x):
    if isinstance(x, (tuple, list)):
        return f'a {type(x).__name__} of length {len(x)}'
    return f'a {type(x).__name__}'
