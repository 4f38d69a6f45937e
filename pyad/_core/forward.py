"""Forward mode: tagged dual numbers.

A primitive applied to duals of tag T computes its result on the primals and its
tangent with the primitive's JVP rule.  The tangent of a dual has shape
``batch + primal.shape``: batch is () for a single direction and (B,) when B
directions are pushed at once (one pass for a whole Jacobian or Hessian).

A tangent is held as ``k * t`` (``Dual.k``, a Python float not yet applied), so
that the tangent of ``-x``, ``3 * x`` or ``x * x`` costs no pass of its own:
a primitive whose ``partials`` trait says its partial derivatives are
constants times arrays at hand gets its tangent from them (``lazy_tangent``);
any other JVP rule is linear in its tangents, so with one factor shared by all
of them it runs on the unscaled ones and its result carries the factor on.
Factors stay within the bounds of factors.py (``dual``).
"""
from .. import backend
from .box import Dual, apply_inner, scale, shape_of
from .config import settings
from .factors import fits

_ndarray = backend.ndarray


def process(prim, args, params, tag):
    # (one and two arguments unpacked inline: the hot path of scalar code; a
    # dual at this tag is the only argument whose ``tag`` is this tag)
    if len(args) == 1:
        a = args[0]
        primals, tangents, ks = (a.primal,), (a.t,), (a.k,)
    elif len(args) == 2:
        a, b = args
        if getattr(b, 'tag', None) is not tag:
            primals, tangents, ks = (a.primal, b), (a.t, None), (a.k, 1.0)
        elif getattr(a, 'tag', None) is not tag:
            primals, tangents, ks = (a, b.primal), (None, b.t), (1.0, b.k)
        else:
            primals, tangents, ks = (a.primal, b.primal), (a.t, b.t), (a.k, b.k)
    else:
        primals, tangents, ks = _unpack(args, tag)
    ans = apply_inner(prim, primals, params)
    if prim.traits.partials is not None and type(ans) is not float and settings.fast:
        lazy = lazy_tangent(prim, tangents, ks, ans, primals, params)
        if lazy is not None:
            t, k = lazy
            return ans if t is None else Dual(ans, t, tag) if k == 1.0 else dual(ans, t, tag, k)
    k = 1.0
    if (ks[0], ks[-1]) != (1.0, 1.0):       # a factor not applied yet (see _unpack)
        tangents, k = _common_factor(tangents, ks)
    out = prim.apply_jvp(tangents, ans, primals, params)
    if out is None:
        return ans
    if prim.multiple_results:
        return _duals(ans, out, tag, k)
    return Dual(ans, out, tag) if k == 1.0 else dual(ans, out, tag, k)


def _unpack(args, tag):
    """(primals, tangents, factors) of three or more arguments at tag (None, 1.0: a
    constant), with every factor applied (a rare case; process reads the first
    and the last factor only)."""
    primals, tangents, ks = [], [], []
    for a in args:
        if type(a) is Dual and a.tag is tag:
            primals.append(a.primal)
            tangents.append(a.t)
            ks.append(a.k)
        else:
            primals.append(a)
            tangents.append(None)
            ks.append(1.0)
    if ks.count(1.0) != len(ks):
        tangents = [t if t is None or kj == 1.0 else scale(t, kj) for t, kj in zip(tangents, ks)]
        ks = [1.0] * len(ks)
    return primals, tangents, ks


def _duals(answers, out, tag, k):
    """The results of a primitive with several: a dual for each one with a tangent."""
    return type(answers)(a if t is None else dual(a, t, tag, k) for a, t in zip(answers, out))


def _common_factor(tangents, ks):
    """(tangents, k): tangents sharing the one factor k (1.0 where none is lazy)."""
    k = None
    for t, ki in zip(tangents, ks):
        if t is not None:
            if k is None:
                k = ki
            elif ki != k:
                k = False
    if k is None or k == 1.0:
        return tangents, 1.0
    if k is not False:
        return tangents, k
    # factors that differ: bring each to the first one's (bounded: see factors.py)
    k = next(ki for t, ki in zip(tangents, ks) if t is not None)
    return [t if t is None or kj == k else scale(t, kj / k) for t, kj in zip(tangents, ks)], k


def lazy_tangent(prim, tangents, ks, ans, primals, params):
    """(t, k) with k * t the tangent of ans, from the ``partials`` trait, or None
    where it does not apply (0-d answers, broadcasting, partials that are not a
    constant times an array, three or more tangents)."""
    if type(ans) is Dual and type(ans.primal) is float:
        return None                     # (nested scalar code: the plain rules are cheaper)
    terms = _partial_terms(prim, tangents, ks, ans, primals, params)
    if terms is None or len(terms) > 2:
        return None
    if len(terms) == 1:
        t, k, arr = terms[0]
        return (t if arr is None else arr * t), k
    (t0, k0, a0), (t1, k1, a1) = terms
    if t0 is t1 and a0 is a1:                       # x * x, x + x
        return (t0 if a0 is None else a0 * t0), k0 + k1
    if a0 is None and a1 is None and (k0 == k1 or k0 == -k1):
        return (t0 + t1 if k0 == k1 else t0 - t1), k0
    return None


def _partial_terms(prim, tangents, ks, ans, primals, params):
    """[(tangent, factor, array)] per tangent: its share is factor * array * tangent."""
    shape = ans.shape if type(ans) is _ndarray else shape_of(ans)
    if not shape:
        return None                     # scalar code: the plain rules are cheaper
    if ans.dtype.kind == 'c':
        return None                     # (a real argument's share is a real part: plain rules)
    terms = []
    for i, t in enumerate(tangents):
        if t is None:
            continue
        p = primals[i]
        if (p.shape if type(p) is _ndarray else shape_of(p)) != shape:
            return None
        part = prim.traits.partials(ans, primals, params, i)
        if part is None:
            return None
        terms.append((t, ks[i] * float(part[0]), part[1]))
    return terms


def dual(primal, t, tag, k=1.0):
    """Dual(primal, k * t), the factor applied at once where it would leave the
    bounds of factors.py (or in reference mode)."""
    if k != 1.0 and not (settings.fast and fits(k, getattr(t, 'dtype', None))):
        t, k = scale(t, k), 1.0
    return Dual(primal, t, tag, k)

