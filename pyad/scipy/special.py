"""Differentiable ``scipy.special``: ``import pyad.scipy.special as sp``.

The functions pyad already had in ``pyad.numpy`` (``erf``, ``erfc``, ``erfinv``,
``expit``, ``logit``, ``log_expit``, ``gammaln``, ``gamma``, ``digamma``/``psi``,
``polygamma``, ``xlogy``, ``xlog1py``) are the same objects here; the rest are new.
Every derivative is written with pyad primitives, so they nest to any order.

Complex arguments, where SciPy takes them, with the complex derivative: ``erf``,
``erfc``, ``erfcx``, ``erfi``, ``dawsn``, ``wofz``, ``gamma``, ``rgamma``,
``loggamma``, ``digamma``/``psi``, ``polygamma``, ``exp1``, ``expi``, ``ndtr``,
``log_ndtr``, ``xlogy``, ``xlog1py``, ``jn``, ``iv``, ``kv``, ``kve`` (holomorphic) and ``ive``
(not holomorphic: exp(-|Re z|)).  The others refuse complex values by name.

Where no derivative exists or pyad has none:

* ``jn``, ``yn``: the order is an integer: a traced order raises
  ``NonDifferentiableError`` naming the function.
* ``kv``, ``kve`` are differentiable in the real order ``v``, to any order, by their
  integral (quadrature); nan at x <= 0.
* ``iv``, ``ive`` are differentiable in the real order ``v`` too, to any order (no
  closed form: a power series, Schläfli's integral by quadrature and the reflection
  formula, each where it is accurate, to about 1e-12 relative in float64 for
  v in [-5, 20], x in (0, 100], and ``ive`` up to x = 1e4).  At x = 0 the
  v-derivative is 0 for v > 0 and nan otherwise; for x < 0 it is nan (I_v(x) is not
  real there except at integer orders, so no real neighbourhood of orders exists).
* ``gammasgn`` is piecewise constant: its derivative is zero (as ``sign``).
* ``gammainc``, ``gammaincc`` and ``betainc`` are differentiable in their shape
  parameters through the power series of the functions (summed with as many terms as
  the values need), in float64 accuracy except where the result is close to 1 and the
  derivative tiny (absolute, not relative, accuracy there).
"""
from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Tuple, overload

import numpy as _np

from .._core.box import innermost, shape_of, dtype_of
from .._core.primitive import Primitive, NonDifferentiableError
from ..backend import scipy_special, to_numpy, namespace
from ..numpy._batching import expand_to, unbroadcast
from ..numpy import elementwise as _ew
from ..numpy.elementwise import _TWO_OVER_SQRT_PI
from ..numpy.elementwise import (erf, erfc, erfinv, expit, logit, log_expit, gammaln, gamma,
                                 digamma, psi, polygamma, xlogy, xlog1py, exp, log, log1p,
                                 where, sin, cos, sign, greater, less, logical_and)
from ..numpy.manipulation import expand_dims
from ..numpy.complexes import real
from ..numpy.reductions import sum as _sum
from ..typing import (Array, ArrayLike, BinaryFunction, TernaryFunction, UnaryFunction,
                      primitive_signature)
from . import _bessel_order

__all__ = ['erf', 'erfc', 'erfinv', 'erfcinv', 'expit', 'logit', 'log_expit', 'gammaln',
           'gamma', 'digamma', 'psi', 'polygamma', 'xlogy', 'xlog1py', 'beta', 'betaln',
           'betainc', 'gammainc', 'gammaincc', 'gammasgn', 'rgamma', 'multigammaln', 'jn',
           'yn', 'j0', 'j1', 'y0', 'y1', 'i0', 'i1', 'iv', 'ive', 'log_ndtr', 'ndtr',
           'loggamma', 'erfcx', 'erfi', 'dawsn', 'exp1', 'expi', 'wofz', 'kv', 'kve']


# ----------------------------------------------------------------- helpers
def _float_dtype(values):
    for v in values:
        dt = getattr(v, 'dtype', None)
        if dt is not None and dt.kind == 'f':
            return dt
    return None


def _scipy(fname):
    """The scipy.special (cupyx) function on plain values, keeping a float32 input's
    dtype (Python numbers are weak, as in NumPy)."""
    def impl(*args):
        out = getattr(scipy_special(*args), fname)(*args)
        if all(type(v) in (float, int) for v in args):
            return float(out)           # weak, as the Python numbers were
        dt = _float_dtype(args)
        if dt is not None and getattr(out, 'dtype', dt) != dt:
            out = out.astype(dt) if hasattr(out, 'astype') else dt.type(out)
        return out
    impl.__name__ = fname
    return impl


@overload
def _elementwise(name: str, impl: Callable[..., Any], lins: Tuple[Any]) -> UnaryFunction: ...


@overload
def _elementwise(name: str, impl: Callable[..., Any],
                 lins: Tuple[Any, Any]) -> BinaryFunction: ...


@overload
def _elementwise(name: str, impl: Callable[..., Any],
                 lins: Tuple[Any, Any, Any]) -> TernaryFunction: ...


def _elementwise(name: str, impl: Callable[..., Any], lins: Tuple[Any, ...]) -> Any:
    """An elementwise primitive of any number of broadcasting arguments;
    ``lins[i](c, ans, *args)`` applies ∂ans/∂args[i] to c (None: no derivative), or a
    pair (forward, reverse) of such maps where the two differ (a function that is not
    holomorphic in a complex argument: reverse is the transpose under Re Σ g t).
    (A checker sees a function of len(lins) arrays; help() shows the arguments as the
    rules name them.)"""
    prim = Primitive(name, impl)
    prim.__signature__ = primitive_signature(prim, names=_argument_names(lins))

    def forward(i, lin):
        lin = lin[0] if isinstance(lin, tuple) else lin
        return lambda t, ans, *args: lin(expand_to(t, args[i], ans), ans, *args)

    def reverse(i, lin):
        lin = lin[1] if isinstance(lin, tuple) else lin
        return lambda g, ans, *args: unbroadcast(lin(g, ans, *args), ans, args[i])

    prim.def_jvp(*[None if l is None else forward(i, l) for i, l in enumerate(lins)])
    prim.def_vjp(*[None if l is None else reverse(i, l) for i, l in enumerate(lins)])
    return prim


def _argument_names(lins):
    """The names of the arguments, as the first rule of the form
    ``lambda c, ans, a, b: ...`` calls them (else x1, x2, ...)."""
    for lin in lins:
        lin = lin[0] if isinstance(lin, tuple) else lin
        params = list(inspect.signature(lin).parameters.values()) if lin is not None else []
        if len(params) == len(lins) + 2 and all(p.kind == p.POSITIONAL_OR_KEYWORD
                                                for p in params):
            return [p.name for p in params[2:]]
    return [f'x{i + 1}' for i in range(len(lins))]


def _integer_order(name):
    def rule(c, ans, *args):
        raise NonDifferentiableError(
            f'{name}: the order n is an integer and has no derivative; pass a constant '
            f'(or wrap it in pyad.stop_gradient)')
    return rule


# ----------------------------------------------------------------- gamma family
_PI = math.pi

betaln = _elementwise('betaln', _scipy('betaln'), (
    lambda c, ans, a, b: c * (digamma(a) - digamma(a + b)),
    lambda c, ans, a, b: c * (digamma(b) - digamma(a + b))))
beta = _elementwise('beta', _scipy('beta'), (
    lambda c, ans, a, b: c * ans * (digamma(a) - digamma(a + b)),
    lambda c, ans, a, b: c * ans * (digamma(b) - digamma(a + b))))
_gammasgn = _ew.nondiff('gammasgn', _scipy('gammasgn'))
_gammasgn.__signature__ = primitive_signature(_gammasgn, names=['x'])
gammasgn: UnaryFunction = _gammasgn


def _rgamma_slope(x):
    """d/dx 1/Γ(x), finite everywhere: -ψ(x)/Γ(x) for x >= 1/2, and below through the
    reflection 1/Γ(x) = sin(πx) Γ(1-x) / π, which has no pole at 0, -1, -2, ..."""
    low = less(real(x), 0.5)              # (complex z: by its real part)
    xr = where(low, 1.0 - x, 0.5)          # 1 - x >= 1/2 where used
    xh = where(low, 1.0, x)
    reflected = gamma(xr) * (cos(_PI * x) - sin(_PI * x) * digamma(xr) / _PI)
    return where(low, reflected, -rgamma(xh) * digamma(xh))


rgamma = _elementwise('rgamma', _scipy('rgamma'), (lambda c, ans, x: c * _rgamma_slope(x),))


def multigammaln(a: ArrayLike, d: int) -> Array:
    """scipy.special.multigammaln(a, d): log of the multivariate gamma function of
    dimension d (an integer), differentiable in a (which must exceed (d - 1)/2)."""
    if isinstance(d, bool) or int(d) != d or d < 1:
        raise ValueError(f'multigammaln: d must be a positive integer, got {d!r}')
    d = int(d)
    plain = _np.asarray(to_numpy(innermost(a)))
    if _np.any(plain <= 0.5 * (d - 1)):
        raise ValueError(f'multigammaln: a must be greater than (d - 1)/2 = {0.5 * (d - 1)}')
    out = 0.25 * d * (d - 1) * math.log(_PI)
    for j in range(d):
        out = out + gammaln(a - 0.5 * j)
    return out


# ----------------------------------------------------------------- error functions
_SQRT_PI_2 = 0.5 * math.sqrt(_PI)
erfcinv = _elementwise('erfcinv', _scipy('erfcinv'),
                       (lambda c, ans, y: -c * _SQRT_PI_2 * exp(ans * ans),))
_LOG_SQRT_2PI = 0.5 * math.log(2 * _PI)
ndtr = _elementwise('ndtr', _scipy('ndtr'),
                    (lambda c, ans, x: c * exp(-0.5 * x * x - _LOG_SQRT_2PI),))
# d/dx log Φ(x) = φ(x)/Φ(x), as exp(log φ - log Φ): no underflow far in the left tail
log_ndtr = _elementwise('log_ndtr', _scipy('log_ndtr'),
                        (lambda c, ans, x: c * exp(-0.5 * x * x - _LOG_SQRT_2PI - ans),))


# holomorphic: each rule is f'(z), right for complex z as for real x
loggamma = _elementwise('loggamma', _scipy('loggamma'), (lambda c, ans, x: c * digamma(x),))
erfcx = _elementwise('erfcx', _scipy('erfcx'),
                     (lambda c, ans, x: c * (2.0 * x * ans - _TWO_OVER_SQRT_PI),))
erfi = _elementwise('erfi', _scipy('erfi'),
                    (lambda c, ans, x: c * (_TWO_OVER_SQRT_PI * exp(x * x)),))
dawsn = _elementwise('dawsn', _scipy('dawsn'), (lambda c, ans, x: c * (1.0 - 2.0 * x * ans),))
exp1 = _elementwise('exp1', _scipy('exp1'), (lambda c, ans, x: -c * (exp(-x) / x),))
expi = _elementwise('expi', _scipy('expi'), (lambda c, ans, x: c * (exp(x) / x),))
_wofz = _elementwise('wofz', _scipy('wofz'),
                     (lambda c, ans, z: c * (_TWO_OVER_SQRT_PI * 1j - 2.0 * z * ans),))


def wofz(z: ArrayLike) -> Array:
    """scipy.special.wofz(z) = exp(-z²) erfc(-iz), the Faddeeva function: complex
    values only (a real z is taken as complex, as SciPy does), holomorphic."""
    from ..numpy.manipulation import astype
    if not hasattr(z, 'shape'):
        z = complex(z) if isinstance(z, (int, float, complex)) else _np.asarray(z)
    kind = _np.dtype(dtype_of(z)).kind
    if kind in 'biuf':
        z = astype(z, _np.complex64 if dtype_of(z) == _np.float32 else _np.complex128)
    elif kind != 'c':
        raise TypeError(f'wofz: expected numbers, got dtype {dtype_of(z)}')
    return _wofz(z)


# ----------------------------------------------------------------- Bessel functions
jn: BinaryFunction = _elementwise('jn', _scipy('jv'), (
    _integer_order('jn'), lambda c, ans, n, x: c * (0.5 * (jn(n - 1, x) - jn(n + 1, x)))))
yn: BinaryFunction = _elementwise('yn', _scipy('yn'), (
    _integer_order('yn'), lambda c, ans, n, x: c * (0.5 * (yn(n - 1, x) - yn(n + 1, x)))))
j0 = _elementwise('j0', _scipy('j0'), (lambda c, ans, x: -c * j1(x),))
j1 = _elementwise('j1', _scipy('j1'), (lambda c, ans, x: c * (0.5 * (j0(x) - jn(2, x))),))
y0 = _elementwise('y0', _scipy('y0'), (lambda c, ans, x: -c * y1(x),))
y1 = _elementwise('y1', _scipy('y1'), (lambda c, ans, x: c * (0.5 * (y0(x) - yn(2, x))),))


def _order_derivative_impl(kind):
    """∂ⁿ/∂vⁿ of iv, ive, kv or kve (``kind``) on plain values, computed in float64 on
    the host; a float32 input gives float32, Python numbers a float."""
    def impl(v, x, n):
        if any(_np.iscomplexobj(a) for a in (v, x)):
            raise TypeError(f'{kind}: the derivative in the order v is implemented for real '
                            f'v and x only; pass a constant order for complex x (or wrap it '
                            f'in pyad.stop_gradient)')
        out = _bessel_order.order_derivative(n, to_numpy(v), to_numpy(x), kind)
        if all(type(a) in (float, int) for a in (v, x)):
            return float(out)
        dt = _float_dtype((v, x)) or _np.dtype(_np.float64)
        xp = namespace(v, x)
        return xp.asarray(out.astype(dt, copy=False)) if xp is not _np else out.astype(dt)
    impl.__name__ = f'{kind}_order_derivative'
    return impl


def _order_derivative(kind, x_rule):
    """The primitive ∂ⁿ/∂vⁿ f(v, x) (n a constant integer) of f = kind: its own
    derivative in v is the next one, in x ``x_rule(d, c, ans, v, x, n)`` with d this
    primitive (the recurrence of f in x holds for every order, so for its
    v-derivatives)."""
    prim = _elementwise(f'{kind}_order_derivative', _order_derivative_impl(kind), (
        lambda c, ans, v, x, n: c * prim(v, x, n + 1),
        lambda c, ans, v, x, n: x_rule(prim, c, ans, v, x, n),
        None))
    return prim


_iv_order = _order_derivative('iv', lambda d, c, ans, v, x, n: c * (
    0.5 * (d(v - 1, x, n) + d(v + 1, x, n))))
_ive_order = _order_derivative('ive', lambda d, c, ans, v, x, n: c * (
    0.5 * (d(v - 1, x, n) + d(v + 1, x, n)) - sign(x) * ans))
_kv_order = _order_derivative('kv', lambda d, c, ans, v, x, n: -c * (
    0.5 * (d(v - 1, x, n) + d(v + 1, x, n))))
# kve = kv e^x
_kve_order = _order_derivative('kve', lambda d, c, ans, v, x, n: c * (
    ans - 0.5 * (d(v - 1, x, n) + d(v + 1, x, n))))
iv: BinaryFunction = _elementwise('iv', _scipy('iv'), (
    lambda c, ans, v, x: c * _iv_order(v, x, 1),
    lambda c, ans, v, x: c * (0.5 * (iv(v - 1, x) + iv(v + 1, x)))))


# ive(v, z) = iv(v, z) exp(-|Re z|): not holomorphic for complex z, so its rule in z
# is a pair: forward c ive'(z) - sign(Re z) ive Re(c), reverse the transpose of that
# under Re Σ g t (the same formula for real x)
def _ive_slope(v, x):
    return 0.5 * (ive(v - 1, x) + ive(v + 1, x))


ive: BinaryFunction = _elementwise('ive', _scipy('ive'), (
    lambda c, ans, v, x: c * _ive_order(v, x, 1),
    (lambda c, ans, v, x: c * _ive_slope(v, x) - sign(real(x)) * ans * real(c),
     lambda g, ans, v, x: g * _ive_slope(v, x) - real(sign(real(x)) * g * ans))))
kv: BinaryFunction = _elementwise('kv', _scipy('kv'), (
    lambda c, ans, v, x: c * _kv_order(v, x, 1),
    lambda c, ans, v, x: -c * (0.5 * (kv(v - 1, x) + kv(v + 1, x)))))
# kve(v, z) = kv(v, z) e^z: holomorphic in z, as kv
kve: BinaryFunction = _elementwise('kve', _scipy('kve'), (
    lambda c, ans, v, x: c * _kve_order(v, x, 1),
    lambda c, ans, v, x: c * (ans - 0.5 * (kve(v - 1, x) + kve(v + 1, x)))))
i0 = _elementwise('i0', _scipy('i0'), (lambda c, ans, x: c * i1(x),))
i1 = _elementwise('i1', _scipy('i1'), (lambda c, ans, x: c * (0.5 * (i0(x) + iv(2, x))),))


# ----------------------------------------------------------------- incomplete gamma
def _series_length(log_term, tol=-45.0, start=32, cap=1 << 17):
    """The number of terms after which the terms ``exp(log_term(n))`` (n a NumPy
    vector of indices, broadcast against the values) fall below e^tol times the
    largest: doubled until the tail is negligible everywhere."""
    n = start
    while n < cap:
        idx = _np.arange(n, dtype=float).reshape((n,) + (1,) * log_term.ndim)
        lt = log_term.terms(idx)
        peak = _np.max(lt, axis=0)
        tail = lt[-1]
        ok = ~_np.isfinite(peak) | (tail < peak + tol)
        if _np.all(ok):
            return n
        n *= 2
    raise ValueError(f'{log_term.name}: the arguments are too large for the series of '
                     f'the derivative in the shape parameter(s) (more than {cap} terms)')


class _LogTerms:
    """Plain-NumPy log-magnitudes of a series' terms, to size the series."""

    def __init__(self, name, fn, *values):
        self.name = name
        self.fn = fn
        self.values = _np.broadcast_arrays(*[_np.asarray(to_numpy(innermost(v)), dtype=float)
                                             for v in values])
        self.ndim = self.values[0].ndim

    def terms(self, n):
        with _np.errstate(all='ignore'):
            return self.fn(n, *self.values)


def _gammainc_log_terms(n, a, x):
    from scipy.special import gammaln as g
    return (a + n) * _np.log(_np.where(x > 0, x, 1.0)) - g(a + n + 1)  # x = 0: not summed


def _indices(n, like):
    """The indices 0..n-1 on a new leading axis, as floats of like's dtype."""
    dt = dtype_of(like) if _np.dtype(dtype_of(like)).kind == 'f' else _np.float64
    xp = namespace(innermost(like)) if hasattr(innermost(like), 'shape') else _np
    return xp.arange(n, dtype=dt).reshape((n,) + (1,) * len(shape_of(like)))


def _gammainc_da(a, x):
    """∂/∂a of the regularized lower incomplete gamma P(a, x), from its series
    P = Σ exp((a+n) log x - x - lnΓ(a+n+1)): Σ of the terms times (log x - ψ(a+n+1))."""
    ab = a + 0.0 * x
    xb = x + 0.0 * a
    n = _indices(_series_length(_LogTerms('gammainc', _gammainc_log_terms, ab, xb)), ab)
    pos = greater(xb, 0.0)
    xs = where(pos, xb, 1.0)
    logx = expand_dims(log(xs), 0)
    an = expand_dims(ab, 0) + n
    terms = exp(an * logx - expand_dims(xs, 0) - gammaln(an + 1.0))
    return where(pos, _sum(terms * (logx - digamma(an + 1.0)), axis=0), 0.0)


def _gamma_density(a, x):
    """∂/∂x P(a, x) = x^(a-1) e^(-x) / Γ(a) (0 at x = 0 for a > 1)."""
    return exp(xlogy(a - 1.0, x) - x - gammaln(a))


gammainc = _elementwise('gammainc', _scipy('gammainc'), (
    lambda c, ans, a, x: c * _gammainc_da(a, x),
    lambda c, ans, a, x: c * _gamma_density(a, x)))
gammaincc = _elementwise('gammaincc', _scipy('gammaincc'), (
    lambda c, ans, a, x: -c * _gammainc_da(a, x),
    lambda c, ans, a, x: -c * _gamma_density(a, x)))


# ----------------------------------------------------------------- incomplete beta
def _betainc_log_terms(n, a, b, x):
    from scipy.special import gammaln as g
    x = _np.where((x > 0) & (x < 1), x, 0.5)        # the ends are not summed
    swap = x > (a + 1.0) / (a + b + 2.0)
    a, b, x = _np.where(swap, b, a), _np.where(swap, a, b), _np.where(swap, 1.0 - x, x)
    return g(a + b + n) - g(a + 1.0 + n) + n * _np.log(x)


def _betainc_partials(a, b, x, n):
    """(∂I/∂a, ∂I/∂b) of I_x(a, b) = x^a (1-x)^b / (a B(a,b)) Σ (a+b)_n/(a+1)_n x^n,
    for 0 < x < 1 where the series converges fast (x below (a+1)/(a+b+2))."""
    logx, log1mx = log(x), log1p(-x)
    ea, eb = expand_dims(a, 0), expand_dims(b, 0)
    s = ea + eb + n
    log_terms = (expand_dims(a * logx + b * log1mx - log(a) - betaln(a, b)
                             - gammaln(a + b) + gammaln(a + 1.0), 0)
                 + gammaln(s) - gammaln(ea + 1.0 + n) + n * expand_dims(logx, 0))
    terms = exp(log_terms)
    # (ψ(a+1) - 1/a = ψ(a) and the ψ(a+b) terms cancel)
    da = expand_dims(logx, 0) + digamma(s) - digamma(ea + 1.0 + n)
    db = expand_dims(log1mx - digamma(b), 0) + digamma(s)
    return _sum(terms * da, axis=0), _sum(terms * db, axis=0)


def _betainc_shape_partials(a, b, x):
    """(∂I/∂a, ∂I/∂b), with I_x(a, b) = 1 - I_{1-x}(b, a) where x is large; zero at
    x = 0 and x = 1."""
    ab, bb, xb = a + 0.0 * b + 0.0 * x, b + 0.0 * a + 0.0 * x, x + 0.0 * a + 0.0 * b
    n = _indices(_series_length(_LogTerms('betainc', _betainc_log_terms, ab, bb, xb)), xb)
    inside = logical_and(greater(xb, 0.0), less(xb, 1.0))
    xs = where(inside, xb, 0.5)
    swap = greater(xs, (ab + 1.0) / (ab + bb + 2.0))
    p, q, z = where(swap, bb, ab), where(swap, ab, bb), where(swap, 1.0 - xs, xs)
    dp, dq = _betainc_partials(p, q, z, n)
    da = where(swap, -dq, dp)
    db = where(swap, -dp, dq)
    return where(inside, da, 0.0), where(inside, db, 0.0)


def _beta_density(a, b, x):
    return exp(xlogy(a - 1.0, x) + xlog1py(b - 1.0, -x) - betaln(a, b))


betainc = _elementwise('betainc', _scipy('betainc'), (
    lambda c, ans, a, b, x: c * _betainc_shape_partials(a, b, x)[0],
    lambda c, ans, a, b, x: c * _betainc_shape_partials(a, b, x)[1],
    lambda c, ans, a, b, x: c * _beta_density(a, b, x)))


# The functions whose rules hold for complex values (holomorphic: g f'(z), no
# conjugation; ive: a rule pair of its own, above), and which SciPy computes for complex
# arguments.  The real-only functions refuse complex operands.
for _prim in (ndtr, log_ndtr, rgamma, loggamma, erfcx, erfi, dawsn, exp1, expi, _wofz, jn, iv,
              ive, kv, kve):
    _prim.complex_rules = True
del _prim

_DOCS = {
    'beta': 'scipy.special.beta(a, b), differentiable in a and b.',
    'betaln': 'scipy.special.betaln(a, b), differentiable in a and b.',
    'betainc': 'scipy.special.betainc(a, b, x), the regularized incomplete beta function, '
               'differentiable in a, b (by its series) and x.',
    'gammainc': 'scipy.special.gammainc(a, x), the regularized lower incomplete gamma '
                'function, differentiable in a (by its series) and x.',
    'gammaincc': 'scipy.special.gammaincc(a, x) = 1 - gammainc(a, x), differentiable in a and x.',
    'gammasgn': 'scipy.special.gammasgn(x), the sign of Γ(x): derivative zero.',
    'rgamma': 'scipy.special.rgamma(x) = 1/Γ(x), differentiable everywhere (the zeros at '
              '0, -1, -2, ... included).',
    'erfcinv': 'scipy.special.erfcinv(y), differentiable.',
    'loggamma': 'scipy.special.loggamma(z), log Γ(z) (the principal branch for complex z; '
                'nan for real x < 0, as SciPy): derivative digamma(z), complex z too.',
    'erfcx': 'scipy.special.erfcx(z) = exp(z²) erfc(z), differentiable, complex z too.',
    'erfi': 'scipy.special.erfi(z) = -i erf(iz), differentiable, complex z too.',
    'dawsn': "scipy.special.dawsn(z), Dawson's integral, differentiable, complex z too.",
    'exp1': 'scipy.special.exp1(z), the exponential integral E₁: derivative -exp(-z)/z, '
            'complex z too.',
    'expi': 'scipy.special.expi(z), the exponential integral Ei: derivative exp(z)/z, '
            'complex z too.',
    'ndtr': 'scipy.special.ndtr(x), the standard normal distribution function, differentiable.',
    'log_ndtr': 'scipy.special.log_ndtr(x), differentiable (finite far in the left tail).',
    'jn': 'scipy.special.jn(n, x), Bessel J of integer order n: differentiable in x; a traced '
          'n raises NonDifferentiableError.',
    'yn': 'scipy.special.yn(n, x), Bessel Y of integer order n: differentiable in x; a traced '
          'n raises NonDifferentiableError.',
    'j0': 'scipy.special.j0(x), differentiable.', 'j1': 'scipy.special.j1(x), differentiable.',
    'y0': 'scipy.special.y0(x), differentiable.', 'y1': 'scipy.special.y1(x), differentiable.',
    'i0': 'scipy.special.i0(x), differentiable.', 'i1': 'scipy.special.i1(x), differentiable.',
    'iv': 'scipy.special.iv(v, x), modified Bessel I of real order: differentiable in v '
          '(for x > 0; nan at x < 0, and at x = 0 unless v > 0) and in x.',
    'ive': 'scipy.special.ive(v, x) = iv(v, x) exp(-|x|): differentiable in v (for x > 0) '
           'and in x.',
    'kv': 'scipy.special.kv(v, x), modified Bessel K of real order: differentiable in v '
          '(for x > 0; nan at x <= 0) and in x, complex x too.',
    'kve': 'scipy.special.kve(v, x) = kv(v, x) exp(x): differentiable in v (for x > 0) and '
           'in x, complex x too.',
}
for _name, _doc in _DOCS.items():
    globals()[_name].__doc__ = _doc
del _name, _doc
