"""Forward mode: tagged dual numbers.

A primitive applied to duals of tag T computes its result on the primals and its
tangent with the primitive's JVP rule.  The tangent of a dual has shape
``batch + primal.shape``: batch is () for a single direction and (B,) when B
directions are pushed at once (one pass for a whole Jacobian or Hessian).
"""
from .box import Dual, apply_inner, scale


def process(prim, args, params, tag):
    n = len(args)
    if n == 1:
        a = args[0]
        primals = (a.primal,)
        tangents = (a.t,)
        ks = (a.k,)
    elif n == 2:
        a, b = args
        if type(a) is Dual and a.tag is tag:
            if type(b) is Dual and b.tag is tag:
                primals, tangents, ks = (a.primal, b.primal), (a.t, b.t), (a.k, b.k)
            else:
                primals, tangents, ks = (a.primal, b), (a.t, None), (a.k, 1.0)
        else:
            primals, tangents, ks = (a, b.primal), (None, b.t), (1.0, b.k)
    else:
        primals = []
        tangents = []
        ks = []
        for a in args:
            if type(a) is Dual and a.tag is tag:
                primals.append(a.primal)
                tangents.append(a.t)
                ks.append(a.k)
            else:
                primals.append(a)
                tangents.append(None)
                ks.append(1.0)
    ans = apply_inner(prim, primals, params)
    lazy = prim.jvp_lazy
    if lazy is not None:
        # a rule that keeps a constant factor lazily: (tangent, factor), or None
        out = lazy(tangents, ks, ans, primals, params)
        if out is not None:
            t, k = out
            return ans if t is None else Dual(ans, t, tag, k)
    if n <= 2 and ks[0] == 1.0 and ks[-1] == 1.0:
        k = 1.0                 # (the common case, without a call)
    else:
        k = shared_factor(tangents, ks)
    if k is None:
        # factors that differ: bring the others to the first one's (a JVP rule is
        # linear in all its tangents jointly, not in each one with its own factor)
        k = next(ki for t, ki in zip(tangents, ks) if t is not None)
        if k == 0.0:
            tangents = [t if t is None or kj == 1.0 else scale(t, kj)
                        for t, kj in zip(tangents, ks)]
            k = 1.0
        else:
            tangents = [t if t is None or kj == k else scale(t, kj / k)
                        for t, kj in zip(tangents, ks)]
    # (a JVP rule is linear in its tangents: with one shared factor k it runs on
    # the unscaled tangents and its result carries k on)
    out_tangent = prim.apply_jvp(tangents, ans, primals, params)
    if prim.multiple_results:
        if out_tangent is None:
            return ans
        return type(ans)(a if t is None else Dual(a, t, tag, k)
                         for a, t in zip(ans, out_tangent))
    if out_tangent is None:
        return ans
    return Dual(ans, out_tangent, tag, k)


def shared_factor(tangents, ks):
    """The factor that all the tangents present share, or None where they differ."""
    k = None
    for t, ki in zip(tangents, ks):
        if t is not None:
            if k is None:
                k = ki
            elif ki != k:
                return None
    return 1.0 if k is None else k


def unpack(value, tag):
    """(primal, tangent) of ``value`` at ``tag``; tangent None when not wrapped there."""
    if type(value) is Dual and value.tag is tag:
        return value.primal, value.tangent
    return value, None
