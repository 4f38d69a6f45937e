"""Taylor mode: truncated Taylor series pushed through a function in one pass.

``diffn(n, f)(x)`` by nesting forward mode n times costs about 3^n primitive
applications; pushing the series x(t) = x + t through f instead costs O(n^2)
arithmetic per primitive.  A Jet at tag T holds a value and its normalised
Taylor coefficients x_1 .. x_n (x_k = x^(k)(0) / k!), ``None`` for a zero one.

Primitives may carry a ``taylor`` rule ``(primals, series, ans, params, n) ->
[y_1 .. y_n]`` (``series[i]`` is None for an argument that is not a jet); the
rules for the elementary functions are recurrences (``pyad.numpy._taylor``).
A primitive without one is handled by ``generic_rule``: its coefficients are the
derivatives in t of prim(x(t)) at t = 0, computed by nested forward mode on that
one primitive, which is always right and slower.  Rules use pyad primitives, so
a Jet may hold boxes of older tags (Taylor mode nests inside any other mode).
"""
from .box import Box, apply_inner
from .pytree import tree_flatten


class Jet(Box):
    __slots__ = ('coeffs',)

    def __init__(self, primal, coeffs, tag):
        self.primal = primal
        self.coeffs = coeffs
        self.tag = tag


class TaylorUnsupported(Exception):
    """Raised for primitives that Taylor mode cannot push a series through; the
    caller then falls back to nested forward mode."""


def process(prim, args, params, tag):
    primals = []
    series = []
    for a in args:
        if type(a) is Jet and a.tag is tag:
            primals.append(a.primal)
            series.append(a.coeffs)
        else:
            primals.append(a)
            series.append(None)
    if prim.multiple_results:
        raise TaylorUnsupported(prim.name)
    ans = apply_inner(prim, primals, params)
    rule = prim.taylor or generic_rule
    coeffs = rule(primals, series, ans, params, tag.order, prim)
    if all(c is None for c in coeffs):
        return ans
    return Jet(ans, tuple(coeffs), tag)


# ---------------------------------------------------------------- rule helpers
def full_series(primal, coeffs, n):
    """[x_0, x_1, .., x_n] with None for zero coefficients (and for a constant)."""
    if coeffs is None:
        return [primal] + [None] * n
    return [primal] + list(coeffs)


def add_terms(terms):
    """The sum of the terms that are not None (None if all are)."""
    total = None
    for t in terms:
        if t is not None:
            total = t if total is None else total + t
    return total


def linear_rule(primals, series, ans, params, n, prim):
    """For primitives linear in their traced arguments: y_k = L(x_k), by the JVP rule."""
    out = []
    for k in range(n):
        tangents = [None if s is None else s[k] for s in series]
        if all(t is None for t in tangents):
            out.append(None)
        else:
            out.append(prim.apply_jvp(tangents, ans, primals, params))
    return out


def bilinear_rule(primals, series, ans, params, n, prim):
    """For B(x, y) bilinear (multiply, matmul): the Cauchy product
    c_k = sum_j B(x_j, y_{k-j})."""
    if series[0] is None or series[1] is None:
        return linear_rule(primals, series, ans, params, n, prim)
    a = full_series(primals[0], series[0], n)
    b = full_series(primals[1], series[1], n)
    return [add_terms(prim(a[j], b[k - j], **params)
                      if a[j] is not None and b[k - j] is not None else None
                      for j in range(k + 1))
            for k in range(1, n + 1)]


def generic_rule(primals, series, ans, params, n, prim):
    """y_k = (1/k!) d^k/dt^k prim(x(t)) at t = 0, by nested forward mode."""
    from .transforms import push_forward
    from .pytree import tree_flatten as _flatten
    leaf_def = _flatten(0.0)[1]

    def along(t):
        args = []
        for p, s in zip(primals, series):
            if s is not None:
                power = t
                for c in s:
                    if c is not None:
                        p = p + c * power
                    power = power * t
            args.append(p)
        return prim(*args, **params)

    def derivative(g):
        def dg(t):
            values, _, tangents = push_forward(g, [t], leaf_def, [1.0], prim.name)
            return tangents[0] if tangents[0] is not None else 0.0 * values[0]
        return dg

    out = []
    g = along
    factorial = 1.0
    for k in range(1, n + 1):
        g = derivative(g)
        factorial *= k
        d = g(0.0)
        out.append(d / factorial)
    return out


def push_taylor(f, leaf, order, opname):
    """f(leaf + t) as a truncated Taylor series in t: (value, [y_1 .. y_order]) for
    every output leaf (None for zero coefficients).  Raises TaylorUnsupported."""
    from .tags import Tag
    from .transforms import call, check_output_leaf, lift_dead
    with Tag('taylor', order=order) as tag:
        x = Jet(leaf, (1.0,) + (None,) * (order - 1), tag)     # x(t) = x + t
        out = call(f, x, opname)
        out_leaves, out_def = tree_flatten(out)
        results = []
        for y in out_leaves:
            y = lift_dead(check_output_leaf(y, opname))
            if type(y) is Jet and y.tag is tag:
                results.append((y.primal, list(y.coeffs)))
            else:
                results.append((y, [None] * order))
    return out_def, results
