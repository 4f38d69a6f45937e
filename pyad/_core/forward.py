"""Forward mode: tagged dual numbers.

A primitive applied to duals of tag T computes its result on the primals and its
tangent with the primitive's JVP rule.  The tangent of a dual has shape
``batch + primal.shape``: batch is () for a single direction and (B,) when B
directions are pushed at once (one pass for a whole Jacobian or Hessian).
"""
from .box import Dual, apply_inner


def process(prim, args, params, tag):
    n = len(args)
    if n == 1:
        a = args[0]
        primals = (a.primal,)
        tangents = (a.tangent,)
    elif n == 2:
        a, b = args
        if type(a) is Dual and a.tag is tag:
            if type(b) is Dual and b.tag is tag:
                primals, tangents = (a.primal, b.primal), (a.tangent, b.tangent)
            else:
                primals, tangents = (a.primal, b), (a.tangent, None)
        else:
            primals, tangents = (a, b.primal), (None, b.tangent)
    else:
        primals = []
        tangents = []
        for a in args:
            if type(a) is Dual and a.tag is tag:
                primals.append(a.primal)
                tangents.append(a.tangent)
            else:
                primals.append(a)
                tangents.append(None)
    ans = apply_inner(prim, primals, params)
    out_tangent = prim.apply_jvp(tangents, ans, primals, params)
    if prim.multiple_results:
        if out_tangent is None:
            return ans
        return type(ans)(a if t is None else Dual(a, t, tag)
                         for a, t in zip(ans, out_tangent))
    if out_tangent is None:
        return ans
    return Dual(ans, out_tangent, tag)


def unpack(value, tag):
    """(primal, tangent) of ``value`` at ``tag``; tangent None when not wrapped there."""
    if type(value) is Dual and value.tag is tag:
        return value.primal, value.tangent
    return value, None
