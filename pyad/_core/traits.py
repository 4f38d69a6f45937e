"""Traits: what a primitive promises about its rules, so that the engine may take
a faster path.  Declared once, when the primitive is made, and checked then.

Every trait is optional; a primitive with none is always right (its plain
rules run).  A false trait would make derivatives wrong, so each one is also
*validated by comparison*: the reference mode (``pyad.testing.reference()``)
ignores them all, and ``pyad.testing.check_grads`` compares the fast result
with the reference one, with every stub and deferral forced.

reads     what the VJP rules read besides shapes and dtypes, so that the tape
          keeps only that: 'all' (the default), 'args' (the arguments, not the
          answer), 'ans' (the answer only), 'other' (two arguments, the rule of
          each reading only the other one: a product), 'shapes' (nothing).
fresh     every array the VJP rules return is the cotangent they were given, a
          view, one of the primals or the answer, or a new array nothing else
          holds: the sweep may then sum later contributions into a new one.
partials  elementwise primitives whose partial derivatives are a constant times
          an array at hand: ``partials(ans, primals, params, i) -> (c, arr)``
          with ∂ans/∂(argument i) = c * arr elementwise, ``arr`` None for the
          constant c alone (add: (1, None); x * y: (1, y); exp: (1, ans)), or
          None where that does not hold.  It states linearity once and both
          modes use it: no pass at all for a constant partial (the factor is
          kept lazily), one product for an array.
defer     ``defer(primals, params) -> (shape, dtype)`` of the answer without
          computing it, or None: reverse mode may then leave the answer
          uncomputed until something reads it (see reverse.py).  Only for an
          implementation that is a pure function of its arguments whose VJP
          rules do not read the answer (reads 'args', 'other' or 'shapes').
add_into  ``add_into(buf, g, ans, primals, params, k) -> buf or None``: adds
          k * (the cotangent of argument 0 for g) into the adjoint buffer buf in
          place (None: into fresh zeros), or declines; for indexing, whose plain
          rule would scatter into a new array of zeros.
"""
from typing import Any, Callable, Optional

READS = ('all', 'args', 'ans', 'other', 'shapes')
_DEFERRABLE_READS = ('args', 'other', 'shapes')


class TraitError(ValueError):
    """A trait declaration that cannot be right (raised when the primitive is made),
    or a trait found false (raised by the checks)."""


class Traits:
    """A primitive's speed traits (see the module documentation).

    ``Traits(reads='ans', fresh=True)``; ``traits.but(reads='args')`` is a copy
    with some changed, for families of primitives that share most of theirs."""
    __slots__ = ('reads', 'fresh', 'partials', 'defer', 'add_into')

    def __init__(self, *, reads: str = 'all', fresh: bool = False,
                 partials: Optional[Callable[..., Any]] = None,
                 defer: Optional[Callable[..., Any]] = None,
                 add_into: Optional[Callable[..., Any]] = None) -> None:
        self.reads = reads
        self.fresh = fresh
        self.partials = partials
        self.defer = defer
        self.add_into = add_into

    def but(self, **changes: Any) -> 'Traits':
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        return Traits(**values)

    def validate(self, name: str, multiple_results: bool = False, nondiff: bool = False) -> None:
        """Raise TraitError, naming the primitive, for a declaration that cannot hold."""
        def fail(msg):
            raise TraitError(f'pyad primitive {name!r}: {msg}')
        if self.reads not in READS:
            fail(f'reads={self.reads!r} is not one of {", ".join(map(repr, READS))}')
        if type(self.fresh) is not bool:
            fail(f'fresh={self.fresh!r} must be True or False')
        for trait in ('partials', 'defer', 'add_into'):
            value = getattr(self, trait)
            if value is not None and not callable(value):
                fail(f'{trait} must be a function or None, got {type(value).__name__}')
        if self.defer is not None and self.reads not in _DEFERRABLE_READS:
            fail(f'defer needs VJP rules that do not read the answer (reads= one of '
                 f'{", ".join(map(repr, _DEFERRABLE_READS))}), but reads={self.reads!r}')
        if multiple_results and (self.partials or self.defer or self.add_into):
            fail('a primitive with several results cannot declare partials, defer or add_into')
        if nondiff and self != PLAIN:
            fail('a non-differentiable primitive has no rules, so no traits')

    def __eq__(self, other):
        return isinstance(other, Traits) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = object.__hash__

    def __repr__(self):
        parts = [f'{n}={getattr(self, n)!r}' for n in self.__slots__
                 if getattr(self, n) != getattr(PLAIN, n)]
        return f'Traits({", ".join(parts)})'


PLAIN = Traits()
