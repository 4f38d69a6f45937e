"""Primitive: an implementation with its JVP rule, its VJP rule and its traits.

This is pyad's public way to add a function with derivatives of your own (see
docs/writing-primitives.md): ``pyad.Primitive(name, impl, traits=...)``, then
``def_jvp``/``def_vjp`` (a rule per argument) or ``def_jvp_joint``/``def_vjp_joint``.

Calling a primitive on plain values runs the implementation and nothing else.
When any argument is boxed, dispatch finds the newest live tag among the
arguments, unwraps the boxes of that tag only, calls the primitive again on what
was inside (which may be boxed at older tags: nesting is recursion) and lets the
tag's mode (forward, reverse or Taylor) wrap the result.

Rules, per argument (autograd style: the derivative for an argument that is not
being differentiated is never computed):

    jvp rule for argument i:  (tangent_i, ans, *args, **params) -> tangent of ans
    vjp rule for argument i:  (cotangent, ans, *args, **params) -> cotangent of arg i

or joint, where sharing work between arguments pays:
``jvp_joint(tangents, ans, args, params)`` with None for symbolic zero tangents,
``vjp_joint(cotangent, ans, args, params, positions)`` -> one cotangent per
position.  Rules must be written with pyad primitives (``pyad.numpy``), so that
they are differentiable in turn.  Tangents and cotangents may carry leading
batch axes (``batch + shape``).  Every differentiable primitive needs both rules
(a primitive with none is declared ``nondiff=True``, and its result is a
constant).

A primitive with several results (``multiple_results=True``) returns a tuple;
its jvp returns a tuple of tangents and its vjp receives a tuple of cotangents
(None for results that received none).

``traits`` (a ``pyad.Traits``) declares what the rules promise so that the
engine may take a faster path: see pyad/_core/traits.py.  They are checked when
the primitive is made, and ``pyad.testing.check_grads`` compares every result
with the reference mode, which ignores them.
"""
import weakref
from typing import Any, Callable, Optional, Tuple

from .box import Box, BatchBox
from . import forward, reverse, taylor, strategies, batching
from .tags import FORWARD, REVERSE, BATCH
from .traits import Traits, PLAIN


class NonDifferentiableError(TypeError):
    pass


_WITH_TRAITS = weakref.WeakSet()
_ALL = weakref.WeakSet()


def all_primitives():
    """Every live primitive (for the checks: each needs a batching rule, say)."""
    return list(_ALL)


def primitives_with_traits():
    """Every live primitive that declares speed traits (for the checks)."""
    return list(_WITH_TRAITS)


_CLASS_DOC = """A function with derivatives: ``Primitive(name, impl, traits=Traits(...))``.

    ``impl`` computes on plain values (NumPy or CuPy arrays, Python numbers);
    positional arguments may be differentiated, keyword arguments are parameters.
    Attach the rules, written with pyad primitives (``pyad.numpy``) so that they
    are differentiable in turn:

        prim.def_jvp(rule_0, rule_1, ...)   rule_i(tangent_i, ans, *args, **params)
        prim.def_vjp(rule_0, rule_1, ...)   rule_i(cotangent, ans, *args, **params)

    or ``def_jvp_joint(rule(tangents, ans, args, params))`` and
    ``def_vjp_joint(rule(cotangent, ans, args, params, positions))``.  Tangents
    and cotangents may carry a leading batch axis.  ``nondiff=True``: no
    derivative (the result is a constant); ``multiple_results=True``: impl returns
    a tuple; ``complex_rules=True``: the rules are right for complex values too
    (JAX's convention, docs/complex.md), else complex operands are refused.
    ``traits`` (pyad.Traits) are promises that buy speed, checked when
    the primitive is made and by pyad.testing.check_grads.  Calling the primitive
    on plain values runs impl; on values being differentiated it records or
    pushes derivatives.  See docs/writing-primitives.md.
    """


class _Doc:
    """``__doc__``: the class's documentation, or an instance's own (a primitive
    documents the function it implements)."""

    def __get__(self, obj, cls):
        return _CLASS_DOC if obj is None else obj._doc

    def __set__(self, obj, value):
        obj._doc = value


class Primitive:
    __slots__ = ('name', 'impl', 'jvps', 'vjps', 'jvp_joint', 'vjp_joint', 'taylor', 'traits',
                 'reverse', 'nondiff', 'multiple_results', 'complex_rules', '_doc', '__weakref__',
                 '__signature__')      # for help() and inspect, where the library sets one
    __doc__ = _Doc()

    def __init__(self, name: str, impl: Callable[..., Any], *, traits: Optional[Traits] = None,
                 nondiff: bool = False, multiple_results: bool = False,
                 doc: Optional[str] = None, complex_rules: bool = False) -> None:
        if traits is None:
            traits = PLAIN
        elif not isinstance(traits, Traits):
            raise TypeError(f'pyad primitive {name!r}: traits must be a pyad.Traits, '
                            f'got {type(traits).__name__}')
        traits.validate(name, multiple_results, nondiff)
        if traits != PLAIN:
            _WITH_TRAITS.add(self)
        _ALL.add(self)
        self.name = name
        self.impl = impl
        self.jvps = None
        self.vjps = None
        self.jvp_joint = None
        self.vjp_joint = None
        self.taylor = None          # optional Taylor-mode rule (see _core/taylor.py)
        self.traits = traits
        self.reverse = strategies.choose(traits)    # the sweep's strategy, chosen once
        self.nondiff = nondiff
        self.multiple_results = multiple_results
        # whether the rules are right for complex values (JAX's convention, see
        # docs/complex.md); a primitive without is refused complex operands
        self.complex_rules = complex_rules
        self.__doc__ = doc if doc is not None else getattr(impl, '__doc__', None)

    def def_jvp(self, *rules: Optional[Callable[..., Any]]) -> 'Primitive':
        """One rule per positional argument (``None``: not differentiable there)."""
        self.jvps = rules
        return self

    def def_vjp(self, *rules: Optional[Callable[..., Any]]) -> 'Primitive':
        self.vjps = rules
        return self

    def def_jvp_joint(self, rule: Callable[..., Any]) -> 'Primitive':
        self.jvp_joint = rule
        return self

    def def_vjp_joint(self, rule: Callable[..., Any]) -> 'Primitive':
        self.vjp_joint = rule
        return self

    def __call__(self, *args: Any, **params: Any) -> Any:
        for a in args:
            if isinstance(a, Box):
                return bind(self, args, params)
        return self.impl(*args, **params)

    # -- rule application (used by the forward and reverse modes) ---------------
    def apply_jvp(self, tangents: Tuple[Any, ...], ans: Any, primals: Tuple[Any, ...],
                  params: dict) -> Any:
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

    def apply_vjp(self, cotangent: Any, ans: Any, primals: Tuple[Any, ...], params: dict,
                  positions: Tuple[int, ...]) -> Tuple[Any, ...]:
        """Cotangents for the argument ``positions`` (a tuple of indices)."""
        if self.vjp_joint is not None:
            return self.vjp_joint(cotangent, ans, primals, params, positions)
        rules = self.vjps
        try:
            if len(positions) == 1:
                return (rules[positions[0]](cotangent, ans, *primals, **params),)
            return [rules[i](cotangent, ans, *primals, **params) for i in positions]
        except (TypeError, IndexError):
            if rules is None:
                raise self._missing('VJP (reverse-mode)') from None
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
        return _bind_nondiff(prim, args, params)
    if not prim.complex_rules:
        _refuse_complex(prim.name, args)
    if not params:
        params = _NO_PARAMS     # one shared empty dict: the tape keeps params per record
    if top.mode is FORWARD:
        return forward.process(prim, args, params, top)
    if top.mode is REVERSE:
        if params or len(args) > 2 or prim.multiple_results:
            return top.tape.add_ext(prim, args, params, top)
        return top.tape.add(prim, args, top)
    if top.mode is BATCH:
        return batching.process(prim, args, params, top)
    return taylor.process(prim, args, params, top)


def _bind_nondiff(prim, args, params):
    """A primitive without derivatives: every layer of differentiation is stripped
    (the result is a constant), but not the batch axes of a vmap."""
    plain = []
    top = None
    for a in args:
        while isinstance(a, Box) and not (type(a) is BatchBox and a.tag.live):
            a = a.primal
        if type(a) is BatchBox and (top is None or a.tag.id > top.id):
            top = a.tag
        plain.append(a)
    if top is None:
        return prim.impl(*plain, **params)
    return batching.process(prim, plain, params, top)


_NO_PARAMS = {}


def _refuse_complex(name, args):
    """Raise when a complex value (traced or not) is among the arguments of a
    primitive whose rules are for real values."""
    for a in args:
        t = type(a)
        if t is float or t is int:
            continue
        if t is complex or getattr(getattr(a, 'dtype', None), 'kind', None) == 'c':
            raise complex_unsupported(name)


def complex_unsupported(name):
    """The error for a complex operand of a primitive whose rules are for real values."""
    return TypeError(f'{name} does not support complex values while differentiating (its '
                     f'derivative rules are for real numbers); the functions that do are '
                     f'listed in docs/complex.md.  Carry the real and imaginary parts as two '
                     f'real arrays, or use pyad.numpy.real/imag/abs before it.')


def _bind_lifted(prim, args, params):
    """Slow path: some boxes belong to retired tags; they are constants, so strip
    those layers and dispatch again."""
    lifted = []
    for a in args:
        while isinstance(a, Box) and not a.tag.live:
            a = a.primal
        lifted.append(a)
    return prim(*lifted, **params)


def primitive(name: Optional[str] = None, *, traits: Optional[Traits] = None, nondiff: bool = False,
              multiple_results: bool = False,
              complex_rules: bool = False) -> Callable[[Callable[..., Any]], 'Primitive']:
    """Decorator: turn an implementation function into a Primitive."""
    def wrap(impl):
        return Primitive(name or impl.__name__, impl, traits=traits, nondiff=nondiff,
                         multiple_results=multiple_results, complex_rules=complex_rules)
    return wrap
