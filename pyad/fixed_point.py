"""The fixed-point operator: ``fixed_point(f, a, x0)`` solves x = f(a, x) by iteration.

It is differentiable in ``a`` and in anything ``f`` closes over, in forward and
reverse mode, nested to any order, with memory that does not grow with the number
of iterations.

Design
======
``f`` may close over values being differentiated (boxed at live tags) that
fixed_point cannot see, so it is not a Primitive with positional arguments.
Instead it treats ``h(x) = f(a, x)`` as a function of x alone that closes over
everything (``a`` included) and peels the levels of differentiation off one tag
at a time, as a primitive's dispatch does:

1. **Probe.** Evaluate h once at the (plain) starting point; the newest live tag
   T among the output's boxes is the level to handle.  None: every value is
   plain and the fixed point is found by plain iteration (no tape, no tangents,
   constant memory), checking ``max|x_{k+1} - x_k| <= tol * max(1, max|x_{k+1}|)``.

2. **Primal.** ``h_T`` is h with T *suspended* (``tag.live = False`` while it
   runs): the boxes of T inside h, wherever they hide, read as constants, so h_T
   computes the primal of h at T without recording or pushing anything at T.
   The primal fixed point x_p = fixed_point(h_T) is found recursively (it may
   still be boxed at older tags).  ``a`` itself is visible, so its layer at T is
   peeled off before h_T runs: on the common path (only ``a`` differentiated)
   the iteration then computes on plain values instead of dispatching on
   suspended boxes at every operation; suspension still covers whatever f
   closes over.

3. **Derivative at T** by the implicit function theorem, x = h(x; θ):
   dx = (I - J)⁻¹ ∂h/∂θ dθ with J = ∂h_T/∂x at x_p.  Evaluate z = h(x_p) with T
   live: z's T-part is exactly ∂h/∂θ dθ (through ``a`` and every closed-over
   box of T), since x_p carries nothing at T.

   * forward T: ż is z's tangent; the tangent of the result solves the linear
     fixed point t = ż + J t, where J t is a ``jvp`` of h_T at x_p (batched
     tangents pass through).  The result is Dual(x_p, t, T).
   * reverse T: the result is recorded on T's tape as one node whose input is z.
     Its VJP (Christianson's two-phase method) solves the adjoint fixed point
     w = x̄ + Jᵀ w, with Jᵀ w a sweep of one tape of h_T at x_p (recorded once
     per pullback, swept once per iteration), and hands w to z: T's sweep then
     carries it back through h's own recorded operations to ``a`` and to every
     closed-over value, giving (∂h/∂θ)ᵀ w.
   * x one number (a float or a 0-d array): J is one number too, and Jᵀ = J.
     One forward pass of h_T at x_p finds it (on the older tags, so it stays
     differentiable), and each iteration of either linear fixed point is then
     one multiplication instead of a jvp or a tape sweep.

   Both linear fixed points are solved by this same operator (recursively), so
   their dependence on the older tags — through x_p, ż or x̄, and the
   closed-over values — is differentiated in turn: that is what makes
   second and third derivatives, in every forward/reverse nesting, exact.

Cost: each level of differentiation doubles the number of fixed-point solves
(primal + tangent/adjoint), so n nested derivatives take 2ⁿ solves; each solve
iterates on plain values.  The tangent and adjoint iterations converge at the
rate of the primal one (the spectral radius of J).

Forward mode here converges the primal first and the tangent second rather than
iterating both together; the fixed point reached is the same.  Taylor mode
(``diffn``) is declined with ``TaylorUnsupported``, on which ``diffn`` falls back
to nested forward mode.
"""
from __future__ import annotations

import functools
import numbers
from typing import Any, Callable, Optional

import numpy as _np

from ._core.box import Box, Dual, TapeVar, LazyVar, innermost, lift_dead, shape_of, ndim_of, dtype_of
from ._core.batching import per_example
from ._core.pytree import tree_flatten, tree_unflatten
from ._core.transforms import push_forward, pull_back, zeros_for, as_float_leaf
from .operators import _one_like
from .backend import namespace

__all__ = ['fixed_point', 'FixedPointError']


class FixedPointError(RuntimeError):
    """fixed_point did not converge within max_iter iterations."""


class _Context:
    __slots__ = ('tol', 'max_iter', 'auto_tol')

    def __init__(self, tol, max_iter, auto_tol=False):
        self.tol = tol
        self.max_iter = max_iter
        self.auto_tol = auto_tol      # the default tol: loosened to the iterates' dtype


@per_example
def fixed_point(f: Callable[[Any, Any], Any], a: Any, x0: Any, *, tol: Optional[float] = None,
                max_iter: int = 1000) -> Any:
    """The x with x = f(a, x), found by iterating x ← f(a, x) from ``x0``.

    ``a`` and ``x`` may be floats, arrays or pytrees of them.  The result is
    differentiable in ``a`` and in every value ``f`` closes over, in forward and
    reverse mode, to any order (it does not depend on x0).  ``tol`` is relative:
    iteration stops when max|x_{k+1} - x_k| <= tol * max(1, max|x_{k+1}|); its
    default is 1e-10 for float64 and 100 ulp (about 1e-5) for float32.  No
    convergence within ``max_iter`` iterations raises FixedPointError with the
    last residual.  The derivative assumes the iteration is a contraction at the
    fixed point (spectral radius of ∂f/∂x below 1), as convergence does.
    """
    if not callable(f):
        raise TypeError(f'fixed_point: f must be a function f(a, x), got {type(f).__name__}')
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f'fixed_point: max_iter must be a positive integer, got {max_iter!r}')
    leaves, treedef = tree_flatten(x0)
    if not leaves:
        raise ValueError('fixed_point: x0 has no leaves')
    x0_leaves = [as_float_leaf(innermost(l), 'fixed_point', 'x0') for l in leaves]
    auto_tol = tol is None
    if auto_tol:
        tol = _default_tol(x0_leaves)
    elif not tol > 0:
        raise ValueError(f'fixed_point: tol must be positive, got {tol!r}')
    shapes = [tuple(shape_of(l)) for l in x0_leaves]

    # h(a, xs) = f(a, x) on flat leaves; ``a`` is an argument so that a level of
    # differentiation can be peeled off it (see _peel)
    if treedef.kind == 'leaf':
        shape = shapes[0]

        def h(a, xs):                   # the common case, one array: no pytree work
            out = f(a, xs[0])
            if type(out) is float:
                if not shape:
                    return [out]
            elif isinstance(out, Box) or (hasattr(out, 'shape') and not isinstance(out, (tuple, list, dict))):
                if tuple(shape_of(out)) == shape:
                    return [lift_dead(out)]
            return check(out)
    else:
        def h(a, xs):
            return check(f(a, tree_unflatten(treedef, xs)))

    def check(out):
        out_leaves, out_def = tree_flatten(out)
        if out_def != treedef:
            raise ValueError(f'fixed_point: f(a, x) returned structure {out_def}, but x0 has '
                             f'structure {treedef}; they must match')
        for y, s in zip(out_leaves, shapes):
            if not (isinstance(y, (Box, numbers.Number)) or hasattr(y, 'shape')):
                raise TypeError(f'fixed_point: f(a, x) returned a {type(y).__name__}, not a '
                                f'number or an array')
            if tuple(shape_of(y)) != s:
                raise ValueError(f'fixed_point: f(a, x) returned a leaf of shape '
                                 f'{tuple(shape_of(y))} for x of shape {s}; they must match')
        return [lift_dead(y) for y in out_leaves]

    ctx = _Context(float(tol), int(max_iter), auto_tol)
    return tree_unflatten(treedef, _solve(h, a, x0_leaves, ctx, 'fixed_point'))


def _default_tol(leaves):
    eps = max(float(_np.finfo(_np.dtype(dtype_of(l))).eps) for l in leaves)
    return max(1e-10, 100 * eps)


# ------------------------------------------------------------------ the recursion
# A map is h(a, xs) -> list of leaves, each with its layers at retired tags lifted
# (they are constants).  ``a`` is what the solver may peel a tag off: the user's
# ``a`` for the primal map, None for the tangent and adjoint maps, which close
# over what they need.

def _newest_tag(leaves):
    top = None
    for y in leaves:
        if isinstance(y, Box) and y.tag.live and (top is None or y.tag.id > top.id):
            top = y.tag
    return top


def _suspend(h, tag):
    """h with ``tag`` dead while it runs: its boxes there read as constants (and h,
    lifting its results while the tag is dead, returns none of them)."""
    def suspended(a, xs):
        was = tag.live
        tag.live = False
        try:
            return h(a, xs)
        finally:
            tag.live = was
    return suspended


def _peel(a, tag):
    """``a`` with the layer of ``tag`` taken off its leaves.  The suspended map would
    read that layer as a constant anyway; taking it off beforehand spares f a
    dispatch on a suspended box at every operation.  Anything not recognised
    (a leaf boxed otherwise, a container that is not a pytree) is left to the
    suspension."""
    if isinstance(a, Box):
        return _peel_leaf(a, tag)
    if type(a) in _CONTAINERS or isinstance(a, tuple):
        leaves, treedef = tree_flatten(a)
        peeled = [_peel_leaf(l, tag) for l in leaves]
        if any(p is not l for p, l in zip(peeled, leaves)):
            return tree_unflatten(treedef, peeled)
    return a


_CONTAINERS = (tuple, list, dict)


def _peel_leaf(leaf, tag):
    if isinstance(leaf, Box):
        leaf = lift_dead(leaf)
        if isinstance(leaf, Box) and leaf.tag is tag:
            return lift_dead(leaf.primal)
    return leaf


def _unsupported_level(tag):
    if tag.mode == 'batch':
        raise NotImplementedError(
            'fixed_point: f closes over a value that differs between the examples of a vmap; '
            'pass it in a (fixed_point then runs one example at a time under vmap)')
    # Taylor mode (diffn): its operator falls back to nested forward mode
    from ._core.taylor import TaylorUnsupported
    raise TaylorUnsupported('fixed_point')


def _solve(h, a, x0, ctx, what, y=None):
    """Leaves x with x = h(a, x): plain iteration, or one level of tags peeled off.
    ``y``: h(a, x0) if the caller has it already."""
    if y is None:
        y = h(a, x0)
    tag = _newest_tag(y)
    if tag is None:
        return _iterate(h, a, x0, y, ctx, what)
    if tag.mode not in ('forward', 'reverse'):
        _unsupported_level(tag)
    h_primal = _suspend(h, tag)
    a_primal = _peel(a, tag)
    # h_primal(x0) is the probe's value one level in: no need to evaluate it again
    first = [lift_dead(v.primal) if isinstance(v, Box) and v.tag is tag else v for v in y]
    x_p = _solve(h_primal, a_primal, x0, ctx, what, first)
    z = h(a, x_p)
    if tag.mode == 'forward':
        return _forward_level(h_primal, a_primal, x_p, z, tag, ctx)
    return _reverse_level(h_primal, a_primal, x_p, z, tag, ctx)


@functools.lru_cache(maxsize=None)
def _list_def(n):
    return tree_flatten([0.0] * n)[1]


_LEAF_DEF = tree_flatten(0.0)[1]


def _batch_of(derivs, primals):
    for d, p in zip(derivs, primals):
        if d is not None:
            return tuple(shape_of(d)[:ndim_of(d) - ndim_of(p)])
    return ()


def _fill(derivs, primals):
    """The derivatives as a list, zeros (of the common batch shape) for the Nones."""
    if all(d is not None for d in derivs):
        return list(derivs)
    batch = _batch_of(derivs, primals)
    return [zeros_for(p, batch) if d is None else d for d, p in zip(derivs, primals)]


def _linearize(h_primal, a, x_p, transpose):
    """ws -> J ws (``transpose``: Jᵀ ws) with J = ∂h_T/∂x at x_p; None for a zero part."""
    if len(x_p) == 1 and not shape_of(x_p[0]):
        # x is one number, so J is one number (and Jᵀ = J): one forward pass finds it,
        # and each iteration of the linear fixed point is then a multiplication
        def h_1(x):
            return h_primal(a, [x])[0]
        _, _, (jac,) = push_forward(h_1, x_p, _LEAF_DEF, [_one_like(x_p[0])], 'fixed_point')
        if jac is None:
            return lambda ws: [None]
        return lambda ws: [jac * ws[0]]

    def h_x(xs):
        return h_primal(a, xs)
    treedef = _list_def(len(x_p))
    if transpose:
        return pull_back(h_x, x_p, treedef, 'fixed_point')[2]
    return lambda ws: push_forward(h_x, x_p, treedef, ws, 'fixed_point')[2]


def _forward_level(h_primal, a, x_p, z, tag, ctx):
    zdot = [y.tangent if type(y) is Dual and y.tag is tag else None for y in z]
    if all(t is None for t in zdot):
        return x_p
    zdot = _fill(zdot, x_p)
    jvp = _linearize(h_primal, a, x_p, transpose=False)

    def tangent_map(_, ws):               # t -> ż + J t
        return [lift_dead(zd if j is None else zd + j) for zd, j in zip(zdot, jvp(ws))]

    t = _solve(tangent_map, None, [innermost(d) for d in zdot], ctx, 'fixed_point (tangent)')
    return [Dual(p, ti, tag) for p, ti in zip(x_p, t)]


def _reverse_level(h_primal, a, x_p, z, tag, ctx):
    traced = [i for i, y in enumerate(z) if type(y) in (TapeVar, LazyVar) and y.tag is tag]
    if not traced:
        return x_p

    def adjoint(g):
        gs = _fill(g, x_p)
        vjp = _linearize(h_primal, a, x_p, transpose=True)

        def adjoint_map(_, ws):           # w -> x̄ + Jᵀ w
            return [lift_dead(gi if j is None else gi + j) for gi, j in zip(gs, vjp(ws))]

        w = _solve(adjoint_map, None, [innermost(c) for c in gs], ctx, 'fixed_point (adjoint)')
        return [w[i] for i in traced]

    # One record on T's tape: its inputs the traced leaves of z, its values x_p
    # (nothing below T is recorded), its VJP the adjoint solve
    return tag.tape.custom(tag, [z[i] for i in traced], list(x_p), adjoint, 'fixed_point')


# ------------------------------------------------------------------ plain iteration
def _max_abs(v):
    if isinstance(v, (float, int, complex)):
        return abs(v)
    if not shape_of(v):
        return float(abs(v))        # (the modulus of a complex number)
    if v.size == 0:
        return 0.0
    return float(namespace(v).abs(v).max())


_INF = float('inf')
_NAN = float('nan')


def _residual(x, y, what):
    """(max|y - x|, max(1, max|y|)) over the leaves, which must be plain values."""
    for leaf in y:
        if isinstance(leaf, Box):
            raise RuntimeError(f'{what}: f returned a value being differentiated at a level '
                               f'not seen at the starting point (tag {leaf.tag.id}); '
                               f'f must depend on the same values at every x')
    residuals = [_max_abs(yi - xi) for yi, xi in zip(y, x)]
    sizes = [_max_abs(yi) for yi in y]
    # (max() skips a nan that is not first: say nan whichever leaf holds it)
    residual = _NAN if any(r != r for r in residuals) else max(residuals)
    scale = _NAN if any(v != v for v in sizes) else max([1.0] + sizes)
    return residual, scale


def _iterate(h, a, x, y, ctx, what):
    tol = ctx.tol
    if ctx.auto_tol and not (len(y) == 1 and type(y[0]) is float):
        # x0 = 0.0 with float32 values inside f iterates in float32: its tolerance
        tol = max(tol, _default_tol(y))
    for _ in range(ctx.max_iter):
        if len(y) == 1 and isinstance(y[0], float):     # one number: plain arithmetic
            size = abs(y[0])
            residual = abs(y[0] - x[0])
            scale = size if size > 1.0 else 1.0
        else:
            residual, scale = _residual(x, y, what)
        x = y
        if not scale < _INF:
            # inf or nan in the iterate: inf <= tol * inf would pass for convergence
            raise FixedPointError(f'{what}: the iteration produced '
                                  f'{"nan" if scale != scale else "inf"} (diverged)')
        if residual <= tol * scale:
            return x
        if residual != residual:
            raise FixedPointError(f'{what}: the iteration produced nan (diverged)')
        y = h(a, x)
    raise FixedPointError(f'{what}: no convergence within max_iter={ctx.max_iter} iterations '
                          f'(last residual {residual:.3g}, tolerance {tol:.3g} x '
                          f'{scale:.3g})')
