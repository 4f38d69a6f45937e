"""Elementwise functions and their rules.

An elementwise function's derivative is diagonal, so one linear map serves as
both its JVP and its VJP: ``lin(c, ans, *args)`` multiplies a (co)tangent ``c``,
already of shape batch + ans.shape, by the partial derivative.  The factories
below add the broadcasting (``expand_to`` forward, ``unbroadcast`` backward).

On Python floats (and NumPy float64 scalars) the implementations call the
``math`` module: scalar code stays Python-fast and float64.
"""
from __future__ import annotations

from typing import Optional, Protocol
from ..typing import Array, ArrayLike, BinaryFunction, UnaryFunction
import math
import operator as _operator

import numpy as _np
import scipy.special as _sps

from .._core.primitive import Primitive
from .._core.traits import Traits
from . import complexes as _complex
from .._core.box import shape_of, innermost, dtype_of, LazyVar
from ..backend import namespace, scipy_special, wrap_like, is_dask
from ._batching import expand_to, unbroadcast, _SCALARS, scalar_of_broadcast, is_plain_array

_SCALAR = (float, _np.float64)


def _scalar_fast(np_fn, math_fn):
    if math_fn is None:
        return np_fn

    def impl(x):
        if type(x) in _SCALAR:
            try:
                out = math_fn(x)
            except (ValueError, OverflowError, ZeroDivisionError):
                pass   # NumPy's answer (inf, nan) and warning instead of an exception
            else:
                # a NumPy scalar in, a NumPy scalar out (as NumPy would give)
                return out if type(x) is float or type(out) is not float else _np.float64(out)
        return np_fn(x)
    impl.__name__ = np_fn.__name__
    impl.__doc__ = getattr(np_fn, '__doc__', None)
    return impl


# ----------------------------------------------------------------- traits
# What the rules promise (pyad.Traits, see pyad/_core/traits.py), declared with
# each primitive below.  Every ufunc's VJP returns g itself, views, or new arrays.
_UFUNC = Traits(fresh=True)


def _weak_number(c, ans):
    """c is a constant number that, times an array like ans, keeps its dtype."""
    if type(c) is float or type(c) is int:
        return True
    return type(c) in _SCALARS and c.dtype == dtype_of(ans)


def _shaped_like(x, ans):
    return shape_of(x) == shape_of(ans)


def _constant_partials(*constants):
    """add, subtract, negative, positive: ∂ans/∂x_i is a constant."""
    def partials(ans, primals, params, i):
        return constants[i], None
    return partials


def _multiply_partials(ans, xy, params, i):
    other = xy[1 - i]
    if _weak_number(other, ans):
        return float(other), None
    return (1.0, other) if _shaped_like(other, ans) else None


def _scaled_multiply_partials(ans, xy, params, i):
    other = xy[1 - i]
    return (float(params['scale']), other) if _shaped_like(other, ans) else None


def _divide_partials(ans, xy, params, i):
    y = xy[1]
    if i == 0 and _weak_number(y, ans) and y != 0:
        return 1.0 / float(y), None
    return None


def _power_partials(ans, xy, params, i):
    y = xy[1]
    if i == 0 and type(y) in (int, float) and y == 2:
        return 2.0, xy[0]
    return None


def _defer_same(primals, params):
    """The answer's (shape, dtype) for plain float arrays of one shape and dtype (or
    pending values) with Python numbers: what reverse mode may defer."""
    shape = dtype = None
    for p in primals:
        t = type(p)
        if t is float or t is int:
            continue
        if t is not _np.ndarray and t is not LazyVar:
            return None
        sh, dt = shape_of(p), dtype_of(p)
        if shape is None:
            shape, dtype = sh, dt
        elif sh != shape or dt != dtype:
            return None
    if shape is None or dtype.kind != 'f':
        return None
    return shape, dtype


_LINEAR = _UFUNC.but(reads='shapes', defer=_defer_same)
_READS_ANS = _UFUNC.but(reads='ans')            # rules of the form c * f(ans)
_PRODUCT = _UFUNC.but(reads='other', defer=_defer_same)


def unary(name, np_fn, lin, math_fn=None, traits=_UFUNC) -> UnaryFunction:
    prim = Primitive(name, _scalar_fast(np_fn, math_fn), traits=traits)
    prim.def_jvp(lin)             # (t, ans, x): the same diagonal map both ways
    prim.def_vjp(_unary_reverse_rule(lin))
    return prim


def _rebroadcast(r, g, s):
    """``r``, computed from ``s``, the one value of the scalar broadcast ``g``, laid
    out as g is (batch + ans.shape): still a (read-only) broadcast when r is a scalar."""
    if r is s or r is None:            # (None: a symbolic zero)
        return g if r is s else None
    t = type(r)
    if t is float or t is int or t is _np.ndarray and r.ndim == 0 or isinstance(r, _np.generic):
        one = _np.array(r, dtype=g.dtype if t is float or t is int else None)
        view = _np.ndarray(g.shape, one.dtype, one, 0, (0,) * g.ndim)
        view.setflags(write=False)      # (not .flags.writeable: that caches a little per call)
        return view
    from .manipulation import broadcast_to
    return broadcast_to(r, shape_of(g))


def _unary_reverse_rule(lin):
    def rule(g, ans, x):
        if type(g) is float:
            return lin(g, ans, x)           # scalar code: nothing broadcast
        s = scalar_of_broadcast(g)
        if s is None:
            return lin(g, ans, x)
        return _rebroadcast(lin(s, ans, x), g, s)
    return rule


def _forward_rule(lin, which):
    def rule(t, ans, x, y):
        if type(ans) not in _SCALARS:         # scalars broadcast nothing
            t = expand_to(t, x if which == 0 else y, ans)
        return lin(t, ans, x, y)
    return rule


def _reverse_rule(lin, which):
    def rule(g, ans, x, y):
        if type(ans) in _SCALARS:
            return lin(g, ans, x, y)
        s = scalar_of_broadcast(g)     # the VJP of a sum: a constant partial costs no pass
        c = lin(g, ans, x, y) if s is None else _rebroadcast(lin(s, ans, x, y), g, s)
        return None if c is None else unbroadcast(c, ans, x if which == 0 else y)
    return rule


def _is_scalar(v):
    return type(v) in (float, int) or getattr(v, 'ndim', 1) == 0


def _product(k, c, x):
    """``k * c * x`` for a Python number k, in as few passes over arrays as may be:
    k multiplies a scalar factor; two arrays make one product, scaled in place."""
    if _is_scalar(c):
        return (k * c) * x
    if _is_scalar(x):
        return c * (k * x)
    if k == 1.0:
        return multiply(c, x)
    return scaled_multiply(c, x, scale=k)


def _scaled_multiply_impl(x, y, scale):
    r = x * y
    if is_plain_array(r) and r.dtype.kind == 'f':
        r *= scale                 # a fresh array: scaled where it lies
        return r
    return r * scale


# scale * x * y for a Python number scale: what the derivatives of x**2, square and
# x * x are made of (one product, not a product and a scaled copy to keep)
scaled_multiply = Primitive('scaled_multiply', _scaled_multiply_impl,
                            traits=_PRODUCT.but(partials=_scaled_multiply_partials))


def _scaled_multiply_jvp(tangents, ans, primals, params):
    tx, ty = tangents
    x, y = primals
    k = params['scale']
    if tx is not None and tx is ty and x is y:
        return scaled_multiply(tx, x, scale=2 * k)
    out = None
    if tx is not None:
        if type(ans) not in _SCALARS:
            tx = expand_to(tx, x, ans)
        out = _product(k, tx, y)
    if ty is not None:
        if type(ans) not in _SCALARS:
            ty = expand_to(ty, y, ans)
        t = _product(k, x, ty)
        out = t if out is None else out + t
    return out


def _scaled_multiply_vjp(g, ans, primals, params, positions):
    x, y = primals
    k = params['scale']
    s = None if type(ans) in _SCALARS else scalar_of_broadcast(g)
    out = []
    for i in positions:
        other = y if i == 0 else x
        if s is None:
            c = _product(k, g, other)
        else:
            c = _rebroadcast((k * s) * other, g, s)
        out.append(c if type(ans) in _SCALARS else unbroadcast(c, ans, x if i == 0 else y))
        if len(positions) == 2 and x is y:      # as in multiply's rule
            return (out[0], out[0])
    return out


scaled_multiply.def_jvp_joint(_scaled_multiply_jvp)
scaled_multiply.def_vjp_joint(_scaled_multiply_vjp)


def binary(name, impl, lin_x, lin_y, traits=_UFUNC) -> BinaryFunction:
    """``lin_x(c, ans, x, y)``: ∂ans/∂x applied to c (None: not differentiable in x)."""
    prim = Primitive(name, impl, traits=traits)
    prim.def_jvp(None if lin_x is None else _forward_rule(lin_x, 0),
                 None if lin_y is None else _forward_rule(lin_y, 1))
    prim.def_vjp(None if lin_x is None else _reverse_rule(lin_x, 0),
                 None if lin_y is None else _reverse_rule(lin_y, 1))
    return prim


def nondiff(name, impl):
    """No derivative: boxes are unwrapped and the result is a constant (as in JAX)."""
    return Primitive(name, impl, nondiff=True)


def _zero_rule(*args, **params):
    """The derivative of a piecewise-constant dependence: a symbolic zero."""
    return None


def _scalar_binary(np_fn, py_fn):
    def impl(x, y):
        if type(x) in _SCALAR and type(y) in _SCALAR:
            try:
                out = py_fn(x, y)
            except (ValueError, OverflowError, ZeroDivisionError):
                pass
            else:
                if type(out) is float and (type(x) is not float or type(y) is not float):
                    return _np.float64(out)
                return out
        return np_fn(x, y)
    impl.__name__ = np_fn.__name__
    return impl


# ----------------------------------------------------------------- arithmetic
add = binary('add', _scalar_binary(_np.add, _operator.add),
             lambda c, ans, x, y: c, lambda c, ans, x, y: c,
             traits=_LINEAR.but(partials=_constant_partials(1.0, 1.0)))
subtract = binary('subtract', _scalar_binary(_np.subtract, _operator.sub),
                  lambda c, ans, x, y: c, lambda c, ans, x, y: -c,
                  traits=_LINEAR.but(partials=_constant_partials(1.0, -1.0)))
multiply = binary('multiply', _scalar_binary(_np.multiply, _operator.mul),
                  lambda c, ans, x, y: c * y, lambda c, ans, x, y: c * x,
                  traits=_PRODUCT.but(partials=_multiply_partials))


def _subtract_jvp(tangents, ans, primals, params):
    # one subtraction, rather than a negation and an addition
    tx, ty = tangents
    if type(ans) not in _SCALARS:
        if tx is not None:
            tx = expand_to(tx, primals[0], ans)
        if ty is not None:
            ty = expand_to(ty, primals[1], ans)
    if ty is None:
        return tx
    if tx is None:
        return -ty
    return tx - ty


subtract.def_jvp_joint(_subtract_jvp)


def _multiply_jvp(tangents, ans, primals, params):
    tx, ty = tangents
    x, y = primals
    if tx is not None and tx is ty and x is y:        # x * x: 2 x t
        return _product(2.0, tx, x)
    rx, ry = multiply.jvps
    out = None if tx is None else rx(tx, ans, x, y)
    if ty is not None:
        t = ry(ty, ans, x, y)
        out = t if out is None else out + t
    return out


def _multiply_vjp(g, ans, primals, params, positions):
    x, y = primals
    if type(g) is float and type(x) is float and type(y) is float:
        return [g * y if i == 0 else g * x for i in positions]     # scalar code
    rules = multiply.vjps
    if len(positions) == 2 and x is y:
        # x * x: both cotangents are g x (the two arguments may be two variables
        # holding one array, so each gets its own, the same object)
        c = rules[0](g, ans, x, y)
        return (c, c)
    return [rules[i](g, ans, x, y) for i in positions]


multiply.def_jvp_joint(_multiply_jvp)
multiply.def_vjp_joint(_multiply_vjp)
divide = binary('divide', _scalar_binary(_np.divide, _operator.truediv),
                lambda c, ans, x, y: _div(c, y), lambda c, ans, x, y: _div(-c * ans, y),
                traits=_UFUNC.but(partials=_divide_partials))
true_divide = divide


def _div(a, b):
    """a / b in a rule, where Python floats give inf or nan at a singular point as
    NumPy's float64 does (through the divide primitive), not ZeroDivisionError."""
    if type(b) is float and b == 0.0 and type(a) is float:
        return divide(a, b)
    return a / b


def _pow_dx(c, ans, x, y):
    if type(y) in (int, float) and y == 2:
        return _product(2.0, c, x)
    if type(y) in (int, float):
        # y x^(y-1) is 0 for y = 0 (x^0 is constant), also at x = 0 where x^-1 is inf
        return _zero_rule(c, ans, x, y) if y == 0 else c * (y * power(x, y - 1))
    # (the exponent is made safe too, so that the branch not taken has finite
    # derivatives of its own: a second derivative of x ** 1.0 at 0 is 0, not nan)
    zero = equal(y, 0)
    return c * where(zero, 0.0, y * power(x, where(zero, 1.0, y) - 1))


def _pow_dy(c, ans, x, y):
    # d/dy x**y = log(x) x**y; at x == 0 the limit (for y > 0) is 0, as JAX takes it.
    # (x**y is recomputed rather than read from ans: the tape keeps only the
    # arguments of a power, see power.saves)
    safe_x = where(equal(x, 0), 1.0, x)
    return c * where(equal(x, 0), 0.0, power(x, y) * log(safe_x))


def _power_impl(x, y):
    if type(x) in _SCALAR and type(y) in _SCALAR:
        if x >= 0 or float(y).is_integer():
            try:
                return x ** y
            except (OverflowError, ZeroDivisionError):
                pass
        return _np.power(x, y)      # nan (not complex) for a negative base
    # the ** operator takes NumPy's fast paths (x**2 is a square, not a pow call)
    return x ** y if hasattr(x, 'dtype') else _np.power(x, y)


power = binary('power', _power_impl, _pow_dx, _pow_dy,
               traits=_UFUNC.but(reads='args', partials=_power_partials, defer=_defer_same))
float_power = power


def _winner(c, x, y):
    # c where x beats y; at a tie the derivative is split evenly between the two
    # (masks stay boolean so that c keeps its dtype)
    return where(greater(x, y), c, where(equal(x, y), 0.5 * c, 0.0))


maximum = binary('maximum', _np.maximum,
                 lambda c, ans, x, y: _winner(c, x, y), lambda c, ans, x, y: _winner(c, y, x))
minimum = binary('minimum', _np.minimum,
                 lambda c, ans, x, y: _winner(c, y, x), lambda c, ans, x, y: _winner(c, x, y))
fmax = binary('fmax', _np.fmax,
              lambda c, ans, x, y: _winner(c, x, y), lambda c, ans, x, y: _winner(c, y, x))
fmin = binary('fmin', _np.fmin,
              lambda c, ans, x, y: _winner(c, y, x), lambda c, ans, x, y: _winner(c, x, y))
arctan2 = binary('arctan2', _scalar_binary(_np.arctan2, math.atan2),
                 lambda c, ans, x, y: _div(c * y, x * x + y * y),
                 lambda c, ans, x, y: _div(-c * x, x * x + y * y))
hypot = binary('hypot', _scalar_binary(_np.hypot, math.hypot),
               lambda c, ans, x, y: _div(c * x, ans), lambda c, ans, x, y: _div(c * y, ans))


def _minus(a, b):
    """a - b, or a itself where b is the number 0."""
    return a if type(b) is float and b == 0.0 else a - b


# d/dx logaddexp(x, y) = expit(x - y): read from the inputs, not from ans, so that a
# gradient alone need not compute the value (a lazy Dask graph then skips it), and
# exact at x = +inf where exp(x - ans) is nan
# (logaddexp(0, z), a logistic loss's softplus, skips the subtraction of the 0)
logaddexp = binary('logaddexp', _np.logaddexp,
                   lambda c, ans, x, y: c * expit(_minus(x, y)),
                   lambda c, ans, x, y: c * expit(_minus(y, x)))
logaddexp2 = binary('logaddexp2', _np.logaddexp2,
                    lambda c, ans, x, y: c * exp2(x - ans), lambda c, ans, x, y: c * exp2(y - ans))
mod = binary('mod', _np.mod,
             lambda c, ans, x, y: c, lambda c, ans, x, y: -c * floor_divide(x, y))
remainder = mod
fmod = binary('fmod', _np.fmod,
              lambda c, ans, x, y: c, lambda c, ans, x, y: -c * trunc(x / y))
copysign = binary('copysign', _np.copysign,
                  lambda c, ans, x, y: c * sign(x) * sign(ans), None)
# the sign of y only selects the sign of the result: zero derivative in y
copysign.def_jvp(copysign.jvps[0], _zero_rule)
copysign.def_vjp(copysign.vjps[0], _zero_rule)


def _weak_scalars(x, y):
    """Python numbers take the other operand's float dtype (NumPy's weak scalars; SciPy's
    ufuncs would otherwise upcast a float32 array to float64)."""
    if isinstance(x, (int, float)) and getattr(y, 'dtype', None) is not None and y.dtype.kind == 'f':
        x = y.dtype.type(x)
    elif isinstance(y, (int, float)) and getattr(x, 'dtype', None) is not None and x.dtype.kind == 'f':
        y = x.dtype.type(y)
    return x, y


def _xlogy_impl(x, y):
    x, y = _weak_scalars(x, y)
    return scipy_special(x, y).xlogy(x, y)


def _xlog1py_impl(x, y):
    x, y = _weak_scalars(x, y)
    return scipy_special(x, y).xlog1py(x, y)


# ∂/∂x xlogy(x, y) = log y everywhere, x == 0 included (xlogy(x, y) = x log y for
# y > 0, whatever x): the convention xlogy(0, y) = 0 fixes the value, not the
# slope.  Unmasked, the mixed partials agree (1/y both ways) and the Hessian is
# symmetric, as in JAX.
xlogy = binary('xlogy', _xlogy_impl,
               lambda c, ans, x, y: c * log(y),
               lambda c, ans, x, y: _div(c * x, y))
xlog1py = binary('xlog1py', _xlog1py_impl,
                 lambda c, ans, x, y: c * log1p(y),
                 lambda c, ans, x, y: _div(c * x, 1.0 + y))

# ----------------------------------------------------------------- unary maths
negative = unary('negative', _np.negative, lambda c, ans, x: -c, lambda x: -x,
                 traits=_LINEAR.but(partials=_constant_partials(-1.0)))
positive = unary('positive', _np.positive, lambda c, ans, x: c, lambda x: +x,
                 traits=_LINEAR.but(partials=_constant_partials(1.0), defer=None))
exp = unary('exp', _np.exp, lambda c, ans, x: c * ans, math.exp,
            traits=_READS_ANS.but(partials=lambda ans, x, params, i: (1.0, ans)))
exp2 = unary('exp2', _np.exp2, lambda c, ans, x: c * ans * math.log(2.0), lambda x: 2.0 ** x)
expm1 = unary('expm1', _np.expm1, lambda c, ans, x: c * (ans + 1.0), math.expm1,
              traits=_READS_ANS)
log = unary('log', _np.log, lambda c, ans, x: _div(c, x), math.log)
log2 = unary('log2', _np.log2, lambda c, ans, x: _div(c, x * math.log(2.0)), math.log2)
log10 = unary('log10', _np.log10, lambda c, ans, x: _div(c, x * math.log(10.0)), math.log10)
log1p = unary('log1p', _np.log1p, lambda c, ans, x: _div(c, 1.0 + x), math.log1p)
sqrt = unary('sqrt', _np.sqrt, lambda c, ans, x: _div(c * 0.5, ans), math.sqrt, traits=_READS_ANS)
cbrt = unary('cbrt', _np.cbrt, lambda c, ans, x: _div(c, 3.0 * ans * ans), traits=_READS_ANS)
square = unary('square', _np.square, lambda c, ans, x: _product(2.0, c, x), lambda x: x * x,
               traits=_UFUNC.but(reads='args', partials=lambda ans, x, params, i: (2.0, x[0]),
                                 defer=_defer_same))
reciprocal = unary('reciprocal', _np.reciprocal, lambda c, ans, x: -c * ans * ans,
                   lambda x: 1.0 / x, traits=_READS_ANS)
sin = unary('sin', _np.sin, lambda c, ans, x: c * cos(x), math.sin)
cos = unary('cos', _np.cos, lambda c, ans, x: -c * sin(x), math.cos)
tan = unary('tan', _np.tan, lambda c, ans, x: c * (1.0 + ans * ans), math.tan)
arcsin = unary('arcsin', _np.arcsin, lambda c, ans, x: _div(c, sqrt(1.0 - x * x)), math.asin)
arccos = unary('arccos', _np.arccos, lambda c, ans, x: _div(-c, sqrt(1.0 - x * x)), math.acos)
arctan = unary('arctan', _np.arctan, lambda c, ans, x: c / (1.0 + x * x), math.atan)
sinh = unary('sinh', _np.sinh, lambda c, ans, x: c * cosh(x), math.sinh)
cosh = unary('cosh', _np.cosh, lambda c, ans, x: c * sinh(x), math.cosh)
def _tanh_lin(c, ans, x):
    if type(c) is _np.ndarray and type(ans) is _np.ndarray and c.shape == ans.shape and \
            c.dtype == ans.dtype and ans.dtype.kind == 'f':
        # plain arrays: c (1 - ans²) in one new array, worked on in place
        t = ans * ans
        _np.subtract(1.0, t, out=t)
        t *= c
        return t
    return c * (1.0 - ans * ans)


tanh = unary('tanh', _np.tanh, _tanh_lin, math.tanh, traits=_READS_ANS)
arcsinh = unary('arcsinh', _np.arcsinh, lambda c, ans, x: c / sqrt(x * x + 1.0), math.asinh)
arccosh = unary('arccosh', _np.arccosh, lambda c, ans, x: _div(c, sqrt(x * x - 1.0)), math.acosh)
arctanh = unary('arctanh', _np.arctanh, lambda c, ans, x: _div(c, 1.0 - x * x), math.atanh)
absolute = unary('absolute', _np.absolute, lambda c, ans, x: c * sign(x), abs)
abs = absolute


def _complex_or_real(complex_rule, real_rule):
    def rule(c, ans, x):
        return complex_rule(c, ans, x) if dtype_of(x).kind == 'c' else real_rule(c, ans, x)
    return rule


# |z| of a complex z: Re(conj(z) t) / |z| forward, g conj(z) / |z| backward
absolute.def_jvp(_complex_or_real(_complex.abs_jvp, absolute.jvps[0]))
absolute.def_vjp(_complex_or_real(_complex.abs_vjp, absolute.vjps[0]))
fabs = unary('fabs', _np.fabs, lambda c, ans, x: c * sign(x), math.fabs)
deg2rad = unary('deg2rad', _np.deg2rad, lambda c, ans, x: c * (math.pi / 180.0), math.radians)
rad2deg = unary('rad2deg', _np.rad2deg, lambda c, ans, x: c * (180.0 / math.pi), math.degrees)
radians = deg2rad
degrees = rad2deg
def _sinc_derivative_impl(x, n):
    """The n-th derivative (n >= 1) of sinc(x) = sin(πx)/(πx), accurate at and near 0.

    With s(u) = sin(u)/u and u = πx, sinc⁽ⁿ⁾(x) = πⁿ s⁽ⁿ⁾(u).  For |u| < 2 the power
    series s(u) = Σ (-1)^k u^{2k} / (2k+1)! differentiated n times (no cancellation:
    the quotient (cos πx - sinc x)/x loses all digits for |x| < 1e-8); elsewhere the
    recurrence from u s = sin u:  u s⁽ⁿ⁾ + n s⁽ⁿ⁻¹⁾ = sin(u + nπ/2)."""
    xp = namespace(x)
    scalar = type(x) in (float, int)
    xa = xp.asarray(x, dtype=_np.float64 if scalar else None)
    # (complex z too: the series and the recurrence hold for complex u, with |u|)
    dtype = xa.dtype if xa.dtype.kind in 'fc' else _np.dtype(_np.float64)
    u = (xa * math.pi).astype(dtype)
    small = xp.abs(u) < 2
    # the series, in float64 coefficients: term k contributes for 2k >= n
    us = xp.where(small, u, 0).astype(dtype)
    series = xp.zeros_like(us)
    for k in range((n + 1) // 2, (n + 1) // 2 + 16):
        coeff = (-1) ** k * math.factorial(2 * k) / (math.factorial(2 * k - n)
                                                      * math.factorial(2 * k + 1))
        series = series + dtype.type(coeff) * us ** (2 * k - n)
    # the recurrence, on the entries away from 0
    ul = xp.where(small, 2, u).astype(dtype)
    deriv = xp.sin(ul) / ul
    for m in range(1, n + 1):
        deriv = (xp.sin(ul + m * (math.pi / 2)) - m * deriv) / ul
    out = xp.where(small, series, deriv) * dtype.type(math.pi ** n)
    out = out.astype(dtype)
    if scalar:
        return float(out)
    return out[()] if out.ndim == 0 and not hasattr(x, 'shape') else out


# (holomorphic, as sinc: the rules g * f'(z) hold for complex values)
_sinc_derivative = Primitive('sinc_derivative', _sinc_derivative_impl, complex_rules=True)
_sinc_derivative.def_jvp(lambda t, ans, x, n: t * _sinc_derivative(x, n + 1), None)
_sinc_derivative.def_vjp(lambda g, ans, x, n: g * _sinc_derivative(x, n + 1), None)
sinc = unary('sinc', _np.sinc, lambda c, ans, x: c * _sinc_derivative(x, 1))
sinc.complex_rules = True       # holomorphic: its rule is right for complex values


# ----------------------------------------------------------------- scipy.special
def _special(fname):
    def impl(x):
        return getattr(scipy_special(x), fname)(x)
    impl.__name__ = fname
    impl.__doc__ = getattr(_sps, fname).__doc__
    return impl


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
erf = unary('erf', _special('erf'), lambda c, ans, x: c * _TWO_OVER_SQRT_PI * exp(-x * x), math.erf)
erfc = unary('erfc', _special('erfc'), lambda c, ans, x: -c * _TWO_OVER_SQRT_PI * exp(-x * x), math.erfc)
erfinv = unary('erfinv', _special('erfinv'),
               lambda c, ans, x: c * (0.5 * math.sqrt(math.pi)) * exp(ans * ans))
# expit'(x) = expit(x) expit(-x): 1 - expit(x) would round to 0 for x > 37 (float64)
expit = unary('expit', _special('expit'), lambda c, ans, x: c * ans * expit(-x))
logit = unary('logit', _special('logit'), lambda c, ans, x: _div(c, x * (1.0 - x)))
# log_expit'(x) = 1 - expit(x) = expit(-x) (1 - exp(ans) underflows to 0 for x > 37)
log_expit = unary('log_expit', _special('log_expit'), lambda c, ans, x: c * expit(-x))
gammaln = unary('gammaln', _special('gammaln'), lambda c, ans, x: c * digamma(x), math.lgamma)
gamma = unary('gamma', _special('gamma'), lambda c, ans, x: c * ans * digamma(x), math.gamma)


def _polygamma_impl(n, x):
    if _np.iscomplexobj(x):
        from ._complex_polygamma import complex_polygamma     # SciPy's is real for n >= 1
        from ..backend import to_numpy
        out = complex_polygamma(to_numpy(n), to_numpy(x))
        return out if namespace(x) is _np else namespace(x).asarray(out)
    xp = namespace(x)
    if xp is not _np and not is_dask(x):
        n = xp.asarray(n)       # cupyx's polygamma takes the order as an array
    out = scipy_special(x).polygamma(n, x)
    dtype = getattr(x, 'dtype', None)
    if dtype is not None and dtype.kind == 'f' and getattr(out, 'dtype', dtype) != dtype:
        # scipy computes in float64 whatever x is: keep x's dtype (DESIGN invariant 7)
        out = out.astype(dtype) if hasattr(out, 'astype') else dtype.type(out)
    return out


# polygamma(n, x): n is an integer order, not differentiable
_polygamma = Primitive('polygamma', _polygamma_impl)
_polygamma.def_jvp(None, lambda t, ans, n, x: t * _polygamma(n + 1, x))
_polygamma.def_vjp(None, lambda g, ans, n, x: g * _polygamma(n + 1, x))
polygamma: BinaryFunction = _polygamma
digamma = unary('digamma', _special('digamma'), lambda c, ans, x: c * polygamma(1, x))
psi = digamma

# ----------------------------------------------------------------- piecewise
def _where_impl(cond, x, y):
    return wrap_like(_np.where(cond, x, y), x, y)


where = Primitive('where', _where_impl)
# the condition only selects: a traced (float) condition has a zero derivative
where.def_jvp(_zero_rule,
              lambda t, ans, cond, x, y: where(cond, expand_to(t, x, ans), 0.0),
              lambda t, ans, cond, x, y: where(cond, 0.0, expand_to(t, y, ans)))
where.def_vjp(_zero_rule,
              lambda g, ans, cond, x, y: unbroadcast(where(cond, g, 0.0), ans, x),
              lambda g, ans, cond, x, y: unbroadcast(where(cond, 0.0, g), ans, y))


def _clip_impl(x, a_min, a_max):
    return _np.clip(x, a_min, a_max)


def _clip_mask(x, a_min, a_max):
    # boolean masks, so that the (co)tangent keeps its dtype
    if a_min is None:
        return less_equal(x, a_max)
    if a_max is None:
        return greater_equal(x, a_min)
    return logical_and(greater_equal(x, a_min), less_equal(x, a_max))


def _clip_bound_mask(x, bound, side):
    return less(x, bound) if side == 'min' else greater(x, bound)


_clip = Primitive('clip', _clip_impl)
_clip.def_jvp(lambda t, ans, x, lo, hi: expand_to(t, x, ans) * _clip_mask(x, lo, hi),
              lambda t, ans, x, lo, hi: expand_to(t, lo, ans) * _clip_bound_mask(x, lo, 'min'),
              lambda t, ans, x, lo, hi: expand_to(t, hi, ans) * _clip_bound_mask(x, hi, 'max'))
_clip.def_vjp(lambda g, ans, x, lo, hi: unbroadcast(g * _clip_mask(x, lo, hi), ans, x),
              lambda g, ans, x, lo, hi: unbroadcast(g * _clip_bound_mask(x, lo, 'min'), ans, lo),
              lambda g, ans, x, lo, hi: unbroadcast(g * _clip_bound_mask(x, hi, 'max'), ans, hi))


def clip(a: ArrayLike, a_min: Optional[ArrayLike] = None,
         a_max: Optional[ArrayLike] = None) -> Array:
    """numpy.clip; the derivative is 1 inside [a_min, a_max] and flows to the bound outside."""
    if a_min is None and a_max is None:
        raise ValueError('clip: give a_min, a_max, or both')
    return _clip(a, a_min, a_max)


# ----------------------------------------------------------------- no derivative
class _Round(Protocol):
    def __call__(self, a: ArrayLike, /, decimals: int = 0) -> Array: ...


class _Close(Protocol):
    def __call__(self, a: ArrayLike, b: ArrayLike, /, rtol: float = 1e-05, atol: float = 1e-08,
                 equal_nan: bool = False) -> Array: ...


class _AllClose(Protocol):
    def __call__(self, a: ArrayLike, b: ArrayLike, /, rtol: float = 1e-05, atol: float = 1e-08,
                 equal_nan: bool = False) -> bool: ...


class _ArrayEqual(Protocol):
    def __call__(self, a1: ArrayLike, a2: ArrayLike, /, equal_nan: bool = False) -> bool: ...


sign: UnaryFunction = nondiff('sign', _np.sign)
floor: UnaryFunction = nondiff('floor', _np.floor)
ceil: UnaryFunction = nondiff('ceil', _np.ceil)
trunc: UnaryFunction = nondiff('trunc', _np.trunc)
rint: UnaryFunction = nondiff('rint', _np.rint)
round: _Round = nondiff('round', _np.round)
around = round
fix: UnaryFunction = nondiff('fix', _np.fix)
floor_divide: BinaryFunction = nondiff('floor_divide', _np.floor_divide)
heaviside: BinaryFunction = nondiff('heaviside', _np.heaviside)
equal: BinaryFunction = nondiff('equal', _np.equal)
not_equal: BinaryFunction = nondiff('not_equal', _np.not_equal)
less: BinaryFunction = nondiff('less', _np.less)
less_equal: BinaryFunction = nondiff('less_equal', _np.less_equal)
greater: BinaryFunction = nondiff('greater', _np.greater)
greater_equal: BinaryFunction = nondiff('greater_equal', _np.greater_equal)
isnan: UnaryFunction = nondiff('isnan', _np.isnan)
isinf: UnaryFunction = nondiff('isinf', _np.isinf)
isfinite: UnaryFunction = nondiff('isfinite', _np.isfinite)
signbit: UnaryFunction = nondiff('signbit', _np.signbit)
logical_and: BinaryFunction = nondiff('logical_and', _np.logical_and)
logical_or: BinaryFunction = nondiff('logical_or', _np.logical_or)
logical_not: UnaryFunction = nondiff('logical_not', _np.logical_not)
logical_xor: BinaryFunction = nondiff('logical_xor', _np.logical_xor)
isclose: _Close = nondiff('isclose', _np.isclose)
allclose: _AllClose = nondiff('allclose', _np.allclose)


def _array_equal(a1, a2, equal_nan=False):
    """numpy.array_equal; of Dask arrays, a lazy 0-d boolean (the shapes, known here,
    compared first)."""
    if not (is_dask(a1) or is_dask(a2)):
        return _np.array_equal(a1, a2, equal_nan=equal_nan)
    if _np.shape(a1) != _np.shape(a2):
        return False
    same = a1 == a2
    if equal_nan and _np.result_type(a1, a2).kind in 'fc':
        xp = namespace(a1, a2)
        same = same | (xp.isnan(a1) & xp.isnan(a2))
    return namespace(same).all(same)



array_equal: _ArrayEqual = nondiff('array_equal', _array_equal)

# The primitives whose rules hold for complex values as they are (holomorphic
# functions: the VJP g f'(z) needs no conjugation in JAX's convention, see
# complexes.py), or with a complex branch of their own (absolute).  The others
# refuse a complex operand with an error naming them.
for _prim in (add, subtract, multiply, scaled_multiply, divide, power, negative, positive,
              exp, exp2, expm1, log, log2, log10, log1p, sqrt, square, reciprocal, sin, cos,
              tan, arcsin, arccos, arctan, sinh, cosh, tanh, arcsinh, arccosh, arctanh,
              absolute, where, erf, erfc, gamma, digamma, polygamma, xlogy, xlog1py):
    _prim.complex_rules = True

UFUNCS = {
    'add': add, 'subtract': subtract, 'multiply': multiply, 'divide': divide,
    'true_divide': divide, 'power': power, 'float_power': power, 'maximum': maximum,
    'minimum': minimum, 'fmax': fmax, 'fmin': fmin, 'arctan2': arctan2, 'hypot': hypot,
    'logaddexp': logaddexp, 'logaddexp2': logaddexp2, 'remainder': mod, 'fmod': fmod,
    'copysign': copysign, 'negative': negative, 'positive': positive, 'exp': exp,
    'exp2': exp2, 'expm1': expm1, 'log': log, 'log2': log2, 'log10': log10,
    'log1p': log1p, 'sqrt': sqrt, 'cbrt': cbrt, 'square': square,
    'reciprocal': reciprocal, 'sin': sin, 'cos': cos, 'tan': tan, 'arcsin': arcsin,
    'arccos': arccos, 'arctan': arctan, 'sinh': sinh, 'cosh': cosh, 'tanh': tanh,
    'arcsinh': arcsinh, 'arccosh': arccosh, 'arctanh': arctanh, 'absolute': absolute,
    'fabs': fabs, 'deg2rad': deg2rad, 'rad2deg': rad2deg, 'sign': sign, 'floor': floor,
    'ceil': ceil, 'trunc': trunc, 'rint': rint, 'floor_divide': floor_divide,
    'equal': equal, 'not_equal': not_equal, 'less': less, 'less_equal': less_equal,
    'greater': greater, 'greater_equal': greater_equal, 'isnan': isnan, 'isinf': isinf,
    'isfinite': isfinite, 'signbit': signbit, 'logical_and': logical_and,
    'logical_or': logical_or, 'logical_not': logical_not, 'logical_xor': logical_xor,
    'heaviside': heaviside,
}

# written out, so that type checkers see the names (UFUNCS's keys and the others)
__all__ = [
    'abs', 'absolute', 'add', 'allclose', 'arccos', 'arccosh', 'arcsin', 'arcsinh', 'arctan',
    'arctan2', 'arctanh', 'around', 'array_equal', 'cbrt', 'ceil', 'clip', 'copysign', 'cos',
    'cosh', 'deg2rad', 'degrees', 'digamma', 'divide', 'equal', 'erf', 'erfc', 'erfinv', 'exp',
    'exp2', 'expit', 'expm1', 'fabs', 'fix', 'float_power', 'floor', 'floor_divide', 'fmax',
    'fmin', 'fmod', 'gamma', 'gammaln', 'greater', 'greater_equal', 'heaviside', 'hypot',
    'isclose', 'isfinite', 'isinf', 'isnan', 'less', 'less_equal', 'log', 'log10', 'log1p',
    'log2', 'log_expit', 'logaddexp', 'logaddexp2', 'logical_and', 'logical_not', 'logical_or',
    'logical_xor', 'logit', 'maximum', 'minimum', 'mod', 'multiply', 'negative', 'not_equal',
    'polygamma', 'positive', 'power', 'psi', 'rad2deg', 'radians', 'reciprocal', 'remainder',
    'rint', 'round', 'sign', 'signbit', 'sin', 'sinc', 'sinh', 'sqrt', 'square', 'subtract',
    'tan', 'tanh', 'true_divide', 'trunc', 'xlog1py', 'xlogy']
# where: the primitive of three arrays; pyad.numpy.where (composite.py) also takes one

