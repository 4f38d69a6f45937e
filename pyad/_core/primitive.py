"""Primitive: an implementation with its JVP rule and its VJP rule.

Calling a primitive on plain values runs the implementation and nothing else.
When any argument is boxed, dispatch finds the newest live tag among the
arguments, unwraps the boxes of that tag only, calls the primitive again on what
was inside (which may be boxed at older tags: nesting is recursion) and lets the
tag's mode (forward or reverse) wrap the result.

Rules are given per argument, autograd style, so that the derivative for an
argument that is not being differentiated is never computed:

    jvp rule for argument i:  (tangent_i, ans, *args, **params) -> tangent of ans
    vjp rule for argument i:  (cotangent, ans, *args, **params) -> cotangent of arg i

or jointly (``jvp_joint(tangents, ans, args, params)`` with ``None`` for symbolic
zero tangents; ``vjp_joint(cotangent, ans, args, params, wanted)``) where sharing
work between arguments pays.  Rules must be written with pyad primitives, so that
they are differentiable in turn.  Tangents and cotangents may carry leading batch
axes (``batch + shape``); ``pyad.numpy._batching`` has the helpers rules use.

A primitive with several results (``multiple_results=True``) returns a tuple;
its jvp returns a tuple of tangents and its vjp receives a tuple of cotangents
(``None`` for results that received none).
"""
from .box import Box, innermost
from . import forward, reverse, taylor
from .tags import FORWARD, REVERSE


class NonDifferentiableError(TypeError):
    pass


class Primitive:
    __slots__ = ('name', 'impl', 'jvps', 'vjps', 'jvp_joint', 'vjp_joint', 'vjp_add_into', 'taylor',
                 'jvp_lazy', 'defer',
                 'saves', 'vjp_fresh', 'vjp_scale', 'vjp_partial', 'nondiff', 'multiple_results',
                 '__doc__', '__weakref__')

    def __init__(self, name, impl, *, nondiff=False, multiple_results=False, doc=None):
        self.name = name
        self.impl = impl
        self.jvps = None
        self.vjps = None
        self.jvp_joint = None
        self.vjp_joint = None
        # optional forward-mode rule that keeps a constant factor lazily:
        # jvp_lazy(tangents, factors, ans, primals, params) -> (t, k), the tangent
        # of the result being k * t, or None to decline (then the JVP rule runs).
        # The tangent of argument i is factors[i] * tangents[i] (None: zero)
        self.jvp_lazy = None
        # optional, reverse mode: defer(primals, params, traced) -> (shape, dtype)
        # of the answer, found without computing it, or None.  A primitive with
        # one may have its answer deferred on large arrays (see _core/reverse.py);
        # primals may then hold pending LazyVars, whose shape and dtype shape_of
        # and dtype_of read; traced: the positions being differentiated.  Only for
        # an implementation that is a pure function of its arguments, and where
        # the VJP rules of the traced positions do not read the answer
        self.defer = None
        # optional reverse-mode shortcut for argument 0: add_into(buf, g, ans, primals,
        # params, k) adds k times the cotangent g into buf in place (buf None: into
        # fresh zeros) and returns buf, or None to decline (then the VJP rule runs)
        self.vjp_add_into = None
        # optional Taylor-mode rule (see _core/taylor.py); None: the generic one
        self.taylor = None
        # what the VJP rules read besides shapes and dtypes, so that the tape keeps
        # only that (see _core/reverse.py): None (everything: the default), 'args'
        # (the arguments, not the answer), 'ans' (the answer only), 'other' (two
        # arguments, the rule of each reads only the other one: a product), or
        # 'shapes' (nothing but shapes and dtypes: sums, negation, reshapes)
        self.saves = None
        # True when every array the VJP rules return is either the cotangent they
        # were given, a view, one of the primals or the answer, or a new array
        # that nothing else holds: the sweep may then sum later contributions
        # into such a new array in place
        self.vjp_fresh = False
        # optional: vjp_scale(ans, primals, positions) -> one Python number per
        # position such that each argument's cotangent is that number times the
        # result's (no broadcasting involved), or None where that does not hold
        # (see the sweep in _core/reverse.py)
        self.vjp_scale = None
        # optional, for elementwise primitives: vjp_partial(g, ans, primals,
        # params, positions) -> one (k, arr, fresh) per position such that the
        # cotangent of that argument is k * arr, for a plain array cotangent g,
        # or None to decline.
        # Either arr is g times a partial derivative, computed in one pass (fresh:
        # a new array), or, when g is a scalar broadcast, arr is an array the
        # record already holds (an argument or the answer) and costs no pass at
        # all (the sweep never writes into it nor returns it as it is)
        self.vjp_partial = None
        self.nondiff = nondiff
        self.multiple_results = multiple_results
        self.__doc__ = doc if doc is not None else getattr(impl, '__doc__', None)

    def def_jvp(self, *rules):
        """One rule per positional argument (``None``: not differentiable there)."""
        self.jvps = rules
        return self

    def def_vjp(self, *rules):
        self.vjps = rules
        return self

    def def_jvp_joint(self, rule):
        self.jvp_joint = rule
        return self

    def def_vjp_joint(self, rule):
        self.vjp_joint = rule
        return self

    def __call__(self, *args, **params):
        for a in args:
            if isinstance(a, Box):
                return bind(self, args, params)
        return self.impl(*args, **params)

    # -- rule application (used by the forward and reverse modes) ---------------
    def apply_jvp(self, tangents, ans, primals, params):
        if self.jvp_joint is not None:
            return self.jvp_joint(tangents, ans, primals, params)
        rules = self.jvps
        if rules is None:
            raise self._missing('JVP (forward-mode)')
        out = None
        for i, t in enumerate(tangents):
            if t is None:
                continue
            rule = rules[i] if i < len(rules) else None
            if rule is None:
                raise self._not_differentiable_in(i)
            ti = rule(t, ans, *primals, **params)
            if ti is None:
                continue
            out = ti if out is None else out + ti
        return out

    def apply_vjp(self, cotangent, ans, primals, params, positions):
        """Cotangents for the argument ``positions`` (a tuple of indices)."""
        if self.vjp_joint is not None:
            return self.vjp_joint(cotangent, ans, primals, params, positions)
        rules = self.vjps
        if rules is None:
            raise self._missing('VJP (reverse-mode)')
        try:
            if len(positions) == 1:
                return (rules[positions[0]](cotangent, ans, *primals, **params),)
            return [rules[i](cotangent, ans, *primals, **params) for i in positions]
        except (TypeError, IndexError):
            for i in positions:       # say which argument has no rule, if that was it
                if i >= len(rules) or rules[i] is None:
                    raise self._not_differentiable_in(i) from None
            raise

    def _missing(self, which):
        return NotImplementedError(f'pyad primitive {self.name!r} has no {which} rule')

    def _not_differentiable_in(self, i):
        return NonDifferentiableError(
            f'{self.name} is not differentiable with respect to its argument {i}; '
            f'wrap that argument in pyad.stop_gradient if no derivative is wanted')

    def __repr__(self):
        return f'<pyad primitive {self.name}>'


def bind(prim, args, params):
    """Apply ``prim`` to arguments some of which are boxed."""
    top = None
    for a in args:
        if isinstance(a, Box):
            tag = a.tag
            if not tag.live:
                return _bind_lifted(prim, args, params)
            if top is None or tag.id > top.id:
                top = tag
    if prim.nondiff:
        return prim.impl(*[innermost(a) for a in args], **params)
    if not params:
        params = _NO_PARAMS     # one shared empty dict: the tape keeps params per record
    if top.mode is FORWARD:
        return forward.process(prim, args, params, top)
    if top.mode is REVERSE:
        return reverse.process(prim, args, params, top)
    return taylor.process(prim, args, params, top)


_NO_PARAMS = {}


def _bind_lifted(prim, args, params):
    """Slow path: some boxes belong to retired tags; they are constants, so strip
    those layers and dispatch again."""
    lifted = []
    for a in args:
        while isinstance(a, Box) and not a.tag.live:
            a = a.primal
        lifted.append(a)
    return prim(*lifted, **params)


def primitive(name=None, *, nondiff=False, multiple_results=False):
    """Decorator: turn an implementation function into a Primitive."""
    def wrap(impl):
        return Primitive(name or impl.__name__, impl, nondiff=nondiff,
                         multiple_results=multiple_results)
    return wrap
