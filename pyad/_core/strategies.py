"""How a record's cotangent reaches its arguments: one strategy per primitive,
chosen once from its traits (traits.py) when the primitive is made.

A strategy is ``strategy(adjoints, record, g, k, owned)``: the record's adjoint
is ``k * g`` (``owned``: the sweep may write into g); it adds each argument's
share into ``adjoints`` (adjoints.py).  A primitive has one for array
cotangents and one for others (numbers, boxes at a higher order), chosen once
from its traits.  The fast strategies decline, record by record, to ``plain``
where their conditions do not hold; in reference mode every record takes
``plain``.
"""
import sys

from .. import backend
from .box import Box, shape_of
from .config import settings
from .stub import Stub, StubRead
from .traits import TraitError
from .adjoints import ZERO

_ndarray = backend.ndarray
_ARRAY_OR_STUB = frozenset((_ndarray, Stub))


def plain(acc, record, g, k, g_owned):
    """The primitive's VJP rules, k kept on their (linear) results."""
    prim, ans, primals, params, positions, slots = record
    cotangents = None
    if prim.vjp_joint is None and not params and acc.fast:
        try:    # one or two arguments, no parameters: the rules called directly
            # (apply_vjp's general call, with argument lists, is the reference's)
            rules = prim.vjps
            if len(primals) == 1:
                cotangents = (rules[0](g, ans, primals[0]),)
            elif len(primals) == 2:
                x, y = primals
                if len(positions) == 2:
                    cotangents = rules[0](g, ans, x, y), rules[1](g, ans, x, y)
                else:
                    cotangents = (rules[positions[0]](g, ans, x, y),)
        except (TypeError, IndexError):
            cotangents = None           # (apply_vjp says what was missing)
    if cotangents is None:
        cotangents = prim.apply_vjp(g, ans, primals, params, positions)
    if type(g) is _ndarray:
        return _add_array_cotangents(acc, prim, cotangents, slots, g, k, g_owned, ans, primals)
    col = acc.col
    for slot, c in zip(slots, cotangents):      # a scalar, or a box at a higher order
        if c is not None:
            if col[slot] is None and k == 1.0 and type(c) is not _ndarray:
                col[slot] = c                   # (Adjoints.add's first case, inline)
            else:
                acc.add(slot, c, k)


def _add_array_cotangents(acc, prim, cotangents, slots, g, k, g_owned, ans, primals):
    """Cotangents of a plain array g: owned by the sweep where the rule is fresh and
    they are new arrays (checked as they come in the strict mode)."""
    fresh = prim.traits.fresh
    for i in range(len(slots)):
        c = cotangents[i]
        if c is not None:
            owned = fresh and _fresh(c, g, g_owned, ans, primals, cotangents)
            if owned and settings.validate and c is not g:
                _check_fresh(prim, c, cotangents)
            acc.add(slots[i], c, k, owned)
        c = None


def partial_derivatives(acc, record, g, k, g_owned):
    """Elementwise partials that are a constant c times an array at hand (or c
    alone), for an array cotangent g: a constant costs no pass (c joins the lazy
    factor), an array one product, and none when g is a scalar broadcast (the VJP
    of a sum)."""
    prim, ans, primals, params, positions, slots = record
    parts = _partials(prim, g, ans, primals, params, positions)
    if parts is None:
        return plain(acc, record, g, k, g_owned)
    s = None
    alone = len(slots) == 1
    for slot, (c, arr) in zip(slots, parts):
        if arr is None:
            acc.add(slot, g, k * c, g_owned and alone)
            continue
        if s is None:
            s = backend.scalar_of_broadcast(g)
        if s is not None:
            acc.lend(slot, arr, k * c * float(s))
        else:
            acc.add(slot, g * arr, k * c, True)


def _partials(prim, g, ans, primals, params, positions):
    """[(c, arr)] for the positions, or None where the partials strategy does not apply."""
    if type(ans) not in _ARRAY_OR_STUB:
        return None
    shape, dtype = ans.shape, ans.dtype
    if g.shape != shape or g.dtype != dtype or dtype.kind != 'f':
        return None
    rule = prim.traits.partials
    parts = []
    for i in positions:
        p = primals[i]
        if (p.shape if type(p) is _ndarray else shape_of(p)) != shape:
            return None                 # broadcast: the rule unbroadcasts
        part = rule(ans, primals, params, i)
        if part is None:
            return None
        c, arr = part
        if arr is not None and (type(arr) is not _ndarray or arr.shape != shape or
                                arr.dtype != dtype):
            if type(arr) is Stub:
                raise StubRead('its partials read a value the tape did not keep')
            return None
        parts.append((c if type(c) is float else float(c), arr))
    return parts


def add_into(acc, record, g, k, g_owned):
    """Indexing: add g into the argument's adjoint buffer at the index, instead of
    scattering it into new zeros and summing those."""
    prim, ans, primals, params, positions, slots = record
    if k != 1.0 and g_owned and type(g) is _ndarray and g.dtype.kind == 'f':
        g *= k          # scaled where it lies, not into a temporary
        k = 1.0
    if not isinstance(g, Box):
        slot = slots[0]
        rule = prim.traits.add_into
        buf = acc.writable(slot)
        if buf is ZERO:
            buf = rule(None, g, ans, primals, params, k)
            if buf is not None:
                acc.put(slot, buf)
                return
        elif buf is not None and rule(buf, g, ans, primals, params, k) is not None:
            return
    plain(acc, record, g, k, g_owned)


def projection(acc, record, g, k, g_owned):
    """One result of a record with several: its adjoint joins the record's list."""
    _, answers, _, _, (index,), (parent,) = record
    acc.put_part(parent, index, len(answers), g, k, g_owned)


def choose(traits):
    """The reverse strategies of a primitive with these traits: (one for a plain
    array cotangent, one for any other: a number, a box at a higher order)."""
    if traits.partials is not None:
        return (partial_derivatives, plain)
    if traits.add_into is not None:
        return (add_into, add_into)
    return REFERENCE


REFERENCE = (plain, plain)              # every record, in the reference mode
PROJECT = (projection, projection)      # one result of a record with several


def false_reads(prim, err):
    """The error for a VJP rule that read a value its primitive does not declare."""
    return TraitError(
        f'pyad primitive {prim.name!r} declares reads={prim.traits.reads!r}, but {err} '
        f'(its VJP rules read more than that: declare what they read)')


def _check_fresh(prim, c, cotangents):
    """A new array a fresh rule returns is held by nothing but the rule's results
    (a CPython reference count: those, plain's name for it, the name here and
    getrefcount's argument)."""
    held = sys.getrefcount(c) - (3 + sum(d is c for d in cotangents))
    if held > 0:
        raise TraitError(f'pyad primitive {prim.name!r} declares fresh=True, but its VJP rule '
                         f'returned an array that something else holds (a buffer it keeps, '
                         f'a constant): the sweep would write into it')


def _fresh(c, g, g_owned, ans, primals, cotangents):
    """Whether c, returned by the rule of a ``fresh`` primitive, is an array that
    only the sweep holds: not a view, not an input of the rule (unless g, owned),
    not handed to two arguments."""
    if type(c) is not _ndarray or c.base is not None:
        return False
    if c is g:
        return bool(g_owned) and len(cotangents) == 1
    if c is ans:
        return False
    for p in primals:
        if c is p:
            return False
    n = 0
    for d in cotangents:
        if d is c:
            n += 1
        elif getattr(d, 'base', None) is c:
            return False
    return n == 1
