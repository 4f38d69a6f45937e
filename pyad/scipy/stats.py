"""Differentiable ``scipy.stats`` distributions: ``from pyad.scipy.stats import norm``.

Each distribution is an object with SciPy's methods and signatures (``loc`` and
``scale`` where SciPy has them), differentiable in the point and in every continuous
parameter, to any order:

==================  ==========================================================
norm                logpdf, pdf, cdf, logcdf, sf, logsf        (x, loc, scale)
t                   logpdf, pdf, cdf, logcdf, sf, logsf        (x, df, loc, scale)
beta                logpdf, pdf, cdf, logcdf, sf, logsf        (x, a, b, loc, scale)
gamma               logpdf, pdf, cdf, logcdf, sf, logsf        (x, a, loc, scale)
chi2                logpdf, pdf, cdf, logcdf, sf, logsf        (x, df, loc, scale)
poisson             logpmf, pmf, cdf, logcdf, sf, logsf        (k, mu, loc)
multivariate_normal logpdf, pdf                                (x, mean, cov)
                    cdf, logcdf          (x, mean, cov, allow_singular, lower_limit)
dirichlet           logpdf, pdf                                (x, alpha)
==================  ==========================================================

Outside the support the values are SciPy's (``-inf`` log-density, 0 or 1 for the
distribution functions) and the derivative there is zero.  ``poisson``'s ``k`` is
discrete: its derivative in ``k`` is zero (the functions are piecewise constant in k).
The distribution functions in the shape parameters (``t``'s ``df``, ``beta``'s a and b,
``gamma``'s a, ``chi2``'s df) differentiate ``betainc``/``gammainc`` in their shape
parameters (see ``pyad.scipy.special``).
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as _np

from .._core.box import innermost, shape_of
from ..backend import to_numpy
from .._core.primitive import Primitive
from ..numpy import elementwise as _ew
from ..numpy.elementwise import (exp, log, log1p, xlogy, xlog1py, where, gammaln, floor,
                                 greater, greater_equal, less, equal, logical_and)
from ..numpy.manipulation import moveaxis
from ..numpy.reductions import sum as _sum
from ..numpy._batching import expand_to, unbroadcast
from .special import betaln, betainc, gammainc, gammaincc, ndtr, log_ndtr
from . import special as _special
from ..typing import Array, ArrayLike

__all__ = ['norm', 't', 'beta', 'gamma', 'chi2', 'poisson', 'multivariate_normal',
           'dirichlet']

_LOG_2PI = math.log(2 * math.pi)
_NEG_INF = -math.inf


class _Continuous:
    """A univariate continuous distribution given its standardized log-density and
    distribution functions of z = (x - loc) / scale; the subclasses give ``_logpdf``,
    ``_cdf``, ``_sf`` (and ``_logcdf``, ``_logsf`` where they do better than log)."""
    name = ''
    shapes = ()

    def _standardize(self, x, loc, scale):
        return (x - loc) / scale

    def logpdf(self, x: ArrayLike, *args: ArrayLike, loc: ArrayLike = 0.0,
               scale: ArrayLike = 1.0) -> Array:
        args, loc, scale = self._parse('logpdf', args, loc, scale)
        return self._logpdf(self._standardize(x, loc, scale), *args) - log(scale)

    def pdf(self, x: ArrayLike, *args: ArrayLike, loc: ArrayLike = 0.0,
            scale: ArrayLike = 1.0) -> Array:
        return exp(self.logpdf(x, *args, loc=loc, scale=scale))

    def cdf(self, x: ArrayLike, *args: ArrayLike, loc: ArrayLike = 0.0,
            scale: ArrayLike = 1.0) -> Array:
        args, loc, scale = self._parse('cdf', args, loc, scale)
        return self._cdf(self._standardize(x, loc, scale), *args)

    def sf(self, x: ArrayLike, *args: ArrayLike, loc: ArrayLike = 0.0,
           scale: ArrayLike = 1.0) -> Array:
        args, loc, scale = self._parse('sf', args, loc, scale)
        return self._sf(self._standardize(x, loc, scale), *args)

    def logcdf(self, x: ArrayLike, *args: ArrayLike, loc: ArrayLike = 0.0,
               scale: ArrayLike = 1.0) -> Array:
        args, loc, scale = self._parse('logcdf', args, loc, scale)
        return self._logcdf(self._standardize(x, loc, scale), *args)

    def logsf(self, x: ArrayLike, *args: ArrayLike, loc: ArrayLike = 0.0,
              scale: ArrayLike = 1.0) -> Array:
        args, loc, scale = self._parse('logsf', args, loc, scale)
        return self._logsf(self._standardize(x, loc, scale), *args)

    def _logcdf(self, z, *args):
        return log(self._cdf(z, *args))

    def _logsf(self, z, *args):
        return log(self._sf(z, *args))

    def _parse(self, method, args, loc, scale):
        """SciPy's calling convention: the shape parameters positionally (or loc and
        scale after them, positionally too)."""
        k = len(self.shapes)
        if len(args) > k + 2:
            raise TypeError(f'{self.name}.{method}: takes x, {", ".join(self.shapes + ("loc", "scale"))}; '
                            f'got {len(args) + 1} positional arguments')
        if len(args) < k:
            missing = ', '.join(self.shapes[len(args):])
            raise TypeError(f'{self.name}.{method}: missing the shape parameter(s) {missing}')
        extra = args[k:]
        if len(extra) > 0:
            loc = extra[0]
        if len(extra) > 1:
            scale = extra[1]
        return args[:k], loc, scale

    def __repr__(self):
        return f'<pyad.scipy.stats.{self.name}>'


# ----------------------------------------------------------------- norm
class _Norm(_Continuous):
    name = 'norm'

    def _logpdf(self, z):
        return -0.5 * z * z - 0.5 * _LOG_2PI

    def _cdf(self, z):
        return ndtr(z)

    def _sf(self, z):
        return ndtr(-z)

    def _logcdf(self, z):
        return log_ndtr(z)

    def _logsf(self, z):
        return log_ndtr(-z)


# ----------------------------------------------------------------- Student's t
_stdtr = _special._scipy('stdtr')


def _t_cdf_impl(z, df):
    return _stdtr(df, z)


def _t_logpdf(z, df):
    return (gammaln(0.5 * (df + 1.0)) - gammaln(0.5 * df) - 0.5 * log(df * math.pi)
            - 0.5 * (df + 1.0) * log1p(z * z / df))


def _t_cdf_ddf(z, df):
    """∂/∂df of the t distribution function: with w = df/(df + z²),
    F = I_w(df/2, 1/2)/2 for z < 0 and 1 - I_w(df/2, 1/2)/2 above; 0 at z = 0."""
    nonzero = _ew.not_equal(z, 0.0)
    zs = where(nonzero, z, 1.0)
    w = df / (df + zs * zs)
    da = _special._betainc_shape_partials(0.5 * df, 0.5 + 0.0 * df, w)[0]
    dx = _special._beta_density(0.5 * df, 0.5, w)
    dI = 0.5 * da + dx * (zs * zs) / ((df + zs * zs) * (df + zs * zs))
    return where(nonzero, where(less(zs, 0.0), 0.5 * dI, -0.5 * dI), 0.0)


# The t distribution function as one primitive: its derivative in z is the density,
# which the composition with betainc would give as inf * 0 at z = 0.
_t_cdf = Primitive('t_cdf', _t_cdf_impl)
_t_cdf.def_jvp(lambda t, ans, z, df: expand_to(t, z, ans) * exp(_t_logpdf(z, df)),
               lambda t, ans, z, df: expand_to(t, df, ans) * _t_cdf_ddf(z, df))
_t_cdf.def_vjp(lambda g, ans, z, df: unbroadcast(g * exp(_t_logpdf(z, df)), ans, z),
               lambda g, ans, z, df: unbroadcast(g * _t_cdf_ddf(z, df), ans, df))


class _T(_Continuous):
    name = 't'
    shapes = ('df',)

    def _logpdf(self, z, df):
        return _t_logpdf(z, df)

    def _cdf(self, z, df):
        return _t_cdf(z, df)

    def _sf(self, z, df):
        return _t_cdf(-z, df)


# ----------------------------------------------------------------- beta
def _inside(z, lo, hi=None):
    """z within the support (lo, hi): the mask, and z replaced by a safe interior
    point outside it (so that no log of 0 or of a negative number is taken)."""
    mask = greater(z, lo) if hi is None else logical_and(greater(z, lo), less(z, hi))
    safe = where(mask, z, lo + 0.5 if hi is None else 0.5 * (lo + hi))
    return mask, safe


class _Beta(_Continuous):
    name = 'beta'
    shapes = ('a', 'b')

    def _logpdf(self, z, a, b):
        mask, zs = _inside(z, 0.0, 1.0)
        return where(mask, xlogy(a - 1.0, zs) + xlog1py(b - 1.0, -zs) - betaln(a, b), _NEG_INF)

    def _cdf(self, z, a, b):
        return betainc(a, b, _ew.clip(z, 0.0, 1.0) * 1.0)

    def _sf(self, z, a, b):
        # I_{1-z}(b, a) rather than 1 - I_z(a, b): accurate in the right tail
        return betainc(b, a, 1.0 - _ew.clip(z, 0.0, 1.0))


# ----------------------------------------------------------------- gamma, chi2
class _Gamma(_Continuous):
    name = 'gamma'
    shapes = ('a',)

    def _logpdf(self, z, a):
        mask, zs = _inside(z, 0.0)
        return where(mask, xlogy(a - 1.0, zs) - zs - gammaln(a), _NEG_INF)

    def _cdf(self, z, a):
        return gammainc(a, _ew.maximum(z, 0.0))

    def _sf(self, z, a):
        return gammaincc(a, _ew.maximum(z, 0.0))


class _Chi2(_Gamma):
    """chi2(df) is gamma(df/2) with twice the scale."""
    name = 'chi2'
    shapes = ('df',)

    def _standardize(self, x, loc, scale):
        return (x - loc) / (2.0 * scale)

    def _logpdf(self, z, df):
        return _Gamma._logpdf(self, z, 0.5 * df) - math.log(2.0)

    def _cdf(self, z, df):
        return _Gamma._cdf(self, z, 0.5 * df)

    def _sf(self, z, df):
        return _Gamma._sf(self, z, 0.5 * df)


# ----------------------------------------------------------------- poisson
class _Poisson:
    """Poisson(mu), shifted by loc (an integer, as in SciPy).  k is discrete: the
    derivative in k is zero."""
    name = 'poisson'

    def _k(self, k, loc):
        k = k - loc
        k_int = floor(k)            # floor has no derivative: neither has k
        return k_int, logical_and(equal(k, k_int), greater_equal(k_int, 0.0))

    def logpmf(self, k: ArrayLike, mu: ArrayLike, loc: ArrayLike = 0) -> Array:
        k_int, valid = self._k(k, loc)
        ks = where(valid, k_int, 0.0)
        return where(valid, xlogy(ks, mu) - mu - gammaln(ks + 1.0), _NEG_INF)

    def pmf(self, k: ArrayLike, mu: ArrayLike, loc: ArrayLike = 0) -> Array:
        return exp(self.logpmf(k, mu, loc))

    def cdf(self, k: ArrayLike, mu: ArrayLike, loc: ArrayLike = 0) -> Array:
        k_int, _ = self._k(k, loc)
        ks = _ew.maximum(k_int, 0.0)
        return where(less(k_int, 0.0), 0.0, gammaincc(ks + 1.0, mu))

    def sf(self, k: ArrayLike, mu: ArrayLike, loc: ArrayLike = 0) -> Array:
        k_int, _ = self._k(k, loc)
        ks = _ew.maximum(k_int, 0.0)
        return where(less(k_int, 0.0), 1.0, gammainc(ks + 1.0, mu))

    def logcdf(self, k: ArrayLike, mu: ArrayLike, loc: ArrayLike = 0) -> Array:
        return log(self.cdf(k, mu, loc))

    def logsf(self, k: ArrayLike, mu: ArrayLike, loc: ArrayLike = 0) -> Array:
        return log(self.sf(k, mu, loc))

    def __repr__(self):
        return '<pyad.scipy.stats.poisson>'


# ----------------------------------------------------------------- multivariate normal
class _MultivariateNormal:
    """N(mean, cov) over the last axis of x; cov a matrix, a vector (its diagonal) or
    a number (times the identity), as in SciPy.  The derivative in cov is that of a
    function of (cov + covᵀ)/2."""
    name = 'multivariate_normal'

    def _parts(self, x, mean, cov):
        from .. import linalg
        from ..numpy.manipulation import reshape
        xs = tuple(shape_of(x))
        d = xs[-1] if xs else 1
        if not xs:
            x = reshape(x, (1,))
        mean = 0.0 if mean is None else mean
        ms, cs = tuple(shape_of(mean)), tuple(shape_of(cov))
        if ms not in ((), (d,)):
            raise ValueError(f'multivariate_normal: mean has shape {ms}, x has {d} '
                             f'components (last axis of shape {xs})')
        r = x - mean
        if len(cs) <= 1:
            if cs not in ((), (d,)):
                raise ValueError(f'multivariate_normal: cov has shape {cs}; for x with {d} '
                                 f'components it must be a number, ({d},) or ({d}, {d})')
            mahal = _sum(r * r / cov, axis=-1)
            logdet = _sum(log(cov)) if cs else d * log(cov)
            return d, mahal, logdet
        if cs != (d, d):
            raise ValueError(f'multivariate_normal: cov has shape {cs}, x has {d} components')
        L = linalg.cholesky(cov)
        lead = tuple(shape_of(r))[:-1]
        y = linalg.solve_triangular(L, moveaxis(reshape(r, (-1, d)), -1, 0), lower=True)
        mahal = reshape(_sum(y * y, axis=0), lead)
        logdet = 2.0 * _sum(log(linalg._diag(L)), axis=-1)
        return d, mahal, logdet

    def logpdf(self, x: ArrayLike, mean: Optional[ArrayLike] = None,
               cov: ArrayLike = 1) -> Array:
        d, mahal, logdet = self._parts(x, mean, cov)
        return -0.5 * (d * _LOG_2PI + logdet + mahal)

    def pdf(self, x: ArrayLike, mean: Optional[ArrayLike] = None,
            cov: ArrayLike = 1) -> Array:
        return exp(self.logpdf(x, mean, cov))

    def cdf(self, x: ArrayLike, mean: Optional[ArrayLike] = None, cov: ArrayLike = 1,
            allow_singular: bool = False, *, maxpts: Optional[int] = None,
            abseps: float = 1e-6, releps: float = 1e-6,
            lower_limit: Optional[ArrayLike] = None, rng: int = 0) -> Array:
        """P(X <= x) for X ~ N(mean, cov), x's last axis the components (for one
        component, every entry of x is a point), as SciPy computes it: exact for one
        and two components, a randomized quasi-Monte Carlo estimate for more, made
        deterministic by the fixed integer seed ``rng`` (each point is integrated
        with a generator seeded afresh, so its value does not depend on the other
        points of x) and accurate to about ``abseps``
        (tighter than SciPy's 1e-5 by default).  Differentiable in x, mean and cov
        to any order: ∂Φ/∂x_i = φ(x_i) Φ_{d-1}(the others given x_i),
        ∂/∂mean = -∂/∂x, ∂Φ/∂cov = ½ ∂²Φ/∂x∂xᵀ (Plackett; the derivative of a
        function of (cov + covᵀ)/2).  Computed in float64; float32 input gives float32.

        ``lower_limit`` (broadcast against x) makes it P(lower_limit < X <= x), signed
        as SciPy's: negative where the limits are swapped in an odd number of
        components.  It is differentiable in lower_limit too: the derivative is that
        of the sum over the box's corners Σ ± Φ(corner) (a corner takes the lower
        limit in some components; the components whose lower limit is -inf at every
        point are left out, so the sum has 2^k terms for k finite ones).
        ``allow_singular=True`` accepts a singular (positive semidefinite) cov, with
        SciPy's values; the distribution function has no derivative there (it has
        kinks where the law is degenerate), so a derivative at a singular cov raises
        ValueError."""
        return self._cdf('cdf', x, mean, cov, allow_singular, lower_limit,
                         dict(maxpts=maxpts, abseps=abseps, releps=releps, rng=rng))

    def logcdf(self, x: ArrayLike, mean: Optional[ArrayLike] = None, cov: ArrayLike = 1,
               allow_singular: bool = False, *, maxpts: Optional[int] = None,
               abseps: float = 1e-6, releps: float = 1e-6,
               lower_limit: Optional[ArrayLike] = None, rng: int = 0) -> Array:
        """log of ``cdf`` (same arguments)."""
        return log(self._cdf('logcdf', x, mean, cov, allow_singular, lower_limit,
                             dict(maxpts=maxpts, abseps=abseps, releps=releps, rng=rng)))

    def _cdf(self, method, x, mean, cov, allow_singular, lower_limit, settings):
        from ..numpy.creation import asarray
        where_ = f'multivariate_normal.{method}'
        x, mean, cov, lower_limit = [v if v is None or hasattr(v, 'shape') or _np.isscalar(v)
                                     else asarray(v) for v in (x, mean, cov, lower_limit)]
        r, cov = self._cdf_args(where_, x, mean, cov, allow_singular)
        rng = settings['rng']
        if not isinstance(rng, (int, _np.integer)) or isinstance(rng, bool):
            raise TypeError(f'{where_}: rng must be an integer seed (the same for every '
                            f'point, so that values are deterministic); got {type(rng).__name__}')
        params = dict(maxpts=settings['maxpts'], abseps=float(settings['abseps']),
                      releps=float(settings['releps']), rng=int(rng),
                      allow_singular=bool(allow_singular))
        if lower_limit is None:
            return _normal_cdf(r, cov, **params)
        lo, hi = _box_limits(where_, lower_limit, 0.0 if mean is None else mean, r,
                             shape_of(cov)[0])
        return _normal_box(lo, hi, cov, **params)

    def _cdf_args(self, where_, x, mean, cov, allow_singular):
        """r = x - mean with the components on a last axis, and cov as a (d, d)
        symmetric positive definite (or semidefinite, where allowed) matrix; errors in
        the user's terms."""
        mean = 0.0 if mean is None else mean
        cov = _checked_cov(where_, cov, tuple(shape_of(mean)), allow_singular)
        return _components(where_, x, shape_of(cov)[0], 'x') - mean, cov

    def __repr__(self):
        return '<pyad.scipy.stats.multivariate_normal>'


# ----------------------------------------------------------------- multivariate normal cdf
def _components(where_, x, d, name):
    """x with the d components on its last axis (one component: every entry a point)."""
    from ..numpy.manipulation import reshape
    xs = tuple(shape_of(x))
    if d == 1 and (not xs or xs[-1] != 1):
        return reshape(x, xs + (1,))
    if not xs or xs[-1] != d:
        raise ValueError(f'{where_}: {name} has shape {xs}; its last axis must have the '
                         f'{d} components')
    return x


def _box_limits(where_, lower_limit, mean, r, d):
    """lower_limit - mean and x - mean broadcast to one shape (points + (d,))."""
    from ..numpy.manipulation import broadcast_to
    lo = _components(where_, lower_limit, d, 'lower_limit') - mean
    try:
        shape = _np.broadcast_shapes(tuple(shape_of(lo)), tuple(shape_of(r)))
    except ValueError:
        raise ValueError(f'{where_}: lower_limit of shape {tuple(shape_of(lower_limit))} '
                         f'does not broadcast against x of shape {tuple(shape_of(r))}') from None
    return broadcast_to(lo * 1.0, shape), broadcast_to(r * 1.0, shape)


def _is_singular(cov):
    """Whether a (stack of) plain symmetric matrices is singular to working accuracy."""
    plain = _np.asarray(to_numpy(innermost(cov)), dtype=_np.float64)
    eig = _np.linalg.eigvalsh(plain)
    return bool(_np.any(eig[..., 0] <= plain.shape[-1] * 1e-14 * _np.abs(eig[..., -1])))


def _require_regular(cov, params):
    if params.get('allow_singular') and _is_singular(cov):
        raise ValueError('multivariate_normal.cdf: cov is singular (allow_singular=True): the '
                         'distribution function has no derivative there; differentiate at a '
                         'positive definite cov (or wrap the arguments in pyad.stop_gradient)')


def _checked_cov(where_, cov, mean_shape, allow_singular=False):
    """cov (a matrix, its diagonal or a number) as a (d, d) matrix, d found as SciPy
    finds it (from cov, else from mean, else 1); a traced cov stays traced."""
    from ..numpy.manipulation import diag, broadcast_to
    cs = tuple(shape_of(cov))
    d = cs[0] if cs else (mean_shape[-1] if mean_shape else 1)
    if cs in ((), (d,)):
        cov = diag(broadcast_to(cov * 1.0, (d,)))
    if tuple(shape_of(cov)) != (d, d) or mean_shape not in ((), (d,)):
        raise ValueError(f'{where_}: cov has shape {cs} and mean shape {mean_shape}; '
                         f'for {d} components they must be (d, d) (or (d,), or a number) '
                         f'and (d,) (or a number)')
    plain = _np.asarray(to_numpy(innermost(cov)), dtype=_np.float64)   # (a stack under vmap)
    if not _np.allclose(plain, _np.swapaxes(plain, -1, -2)):
        raise ValueError(f'{where_}: cov must be symmetric')
    eig = _np.linalg.eigvalsh(plain)
    if allow_singular:
        if _np.any(eig < -d * 1e-12 * _np.max(_np.abs(eig))):
            raise ValueError(f'{where_}: cov must be positive semidefinite')
    elif _np.any(eig <= 0):
        raise ValueError(f'{where_}: cov must be symmetric positive definite (pass '
                         f'allow_singular=True for a singular one)')
    return cov


def _mvn_box_impl(lo, hi, cov, maxpts, abseps, releps, rng, allow_singular=False):
    """P(lo < Y <= hi), Y ~ N(0, cov), over the last axis of hi (d >= 2; lo None for
    -inf), in float64, by SciPy's randomized quasi-Monte Carlo integration with a
    fixed seed."""
    from scipy.stats import multivariate_normal as _scipy_mvn
    hi = _np.asarray(to_numpy(hi))
    cov = _np.asarray(to_numpy(cov), dtype=_np.float64)
    d = hi.shape[-1]
    flat = hi.reshape(-1, d).astype(_np.float64)
    lows = ([None] * len(flat) if lo is None
            else _np.asarray(to_numpy(lo), dtype=_np.float64).reshape(-1, d))
    # one point at a time, each with a generator seeded afresh: a point's value does
    # not depend on the other points of the call (nor on a vmap batch)
    vals = [_scipy_mvn.cdf(point, _np.zeros(d), cov, allow_singular, maxpts=maxpts,
                           abseps=abseps, releps=releps, lower_limit=low, rng=rng)
            for point, low in zip(flat, lows)]
    return _np.asarray(vals, dtype=_np.float64).reshape(hi.shape[:-1]).astype(hi.dtype)


def _mvn_cdf_impl(r, cov, **params):
    """Φ(r; 0, cov) over the last axis of r (d >= 2), as the box below r."""
    return _mvn_box_impl(None, r, cov, **params)


def _normal_cdf(r, cov, **params):
    """Φ(r; 0, cov) over the last axis of r, written with pyad operations: exact
    (ndtr) for one dimension, the primitive below for more, nothing for none."""
    d = shape_of(cov)[0]
    if d == 0:
        return 1.0
    if d == 1 and not (params.get('allow_singular') and _is_singular(cov)):
        return ndtr(r[..., 0] / _ew.sqrt(cov[0, 0]))
    return _mvn_cdf(r, cov, **params)          # (d = 1 singular: a step, SciPy's values)


def _given(r, cov, given):
    """The density of r_given and the law of the other components given r_given
    (the point shifted by the regression on r_given, the Schur complement)."""
    from .. import linalg
    from ..numpy.manipulation import transpose
    d = shape_of(cov)[0]
    g = _np.array(given)
    k = _np.array([j for j in range(d) if j not in given], dtype=int)
    cgg, ckg = cov[g][:, g], cov[k][:, g]
    w = linalg.solve(cgg, transpose(ckg))                       # (given, kept)
    shifted = r[..., k] - r[..., g] @ w
    schur = cov[k][:, k] - ckg @ w
    return exp(multivariate_normal.logpdf(r[..., g], None, cgg)), shifted, schur


def _mvn_cdf_grad(r, cov, **params):
    """∂Φ(r; 0, cov)/∂r_i = φ(r_i) Φ_{d-1}(the others given r_i), with pyad operations
    (differentiable in turn, in r and in cov)."""
    from ..numpy.manipulation import stack
    _require_regular(cov, params)
    parts = []
    for i in range(shape_of(cov)[0]):
        dens, shifted, schur = _given(r, cov, [i])
        parts.append(dens * _normal_cdf(shifted, schur, **params))
    return stack(parts, axis=-1)


def _mvn_cdf_hessian(r, cov, **params):
    """∂²Φ/∂r_i∂r_j = φ₂(r_i, r_j) Φ_{d-2}(the others given both) for i ≠ j; on the
    diagonal, from differentiating φ(r_i) Φ_{d-1}(...) in r_i:
    -r_i/σ_ii ∂_iΦ - Σ_{j≠i} σ_ij/σ_ii ∂²_ijΦ.  Shape r.shape + (d,)."""
    from ..numpy.manipulation import stack
    d = shape_of(cov)[0]
    grad = _mvn_cdf_grad(r, cov, **params)
    h = {}
    for i in range(d):
        for j in range(i + 1, d):
            dens, shifted, schur = _given(r, cov, [i, j])
            h[i, j] = h[j, i] = dens * _normal_cdf(shifted, schur, **params)
    for i in range(d):
        h[i, i] = -(r[..., i] * grad[..., i])
        for j in range(d):
            if j != i:
                h[i, i] = h[i, i] - cov[i, j] * h[i, j]
        h[i, i] = h[i, i] / cov[i, i]
    return stack([stack([h[i, j] for j in range(d)], axis=-1) for i in range(d)], axis=-2)


def _cov_cotangent(g, ans, r, cov, **params):
    """Plackett's identity: ∂Φ/∂cov = ½ ∂²Φ/∂r∂rᵀ (for a function of the symmetric
    part of cov), summed over the points."""
    from ..numpy._batching import batch_ndim
    bnd = batch_ndim(g, ans)
    h = 0.5 * _expand_last(_expand_last(g)) * _mvn_cdf_hessian(r, cov, **params)
    lead = tuple(range(bnd, bnd + len(shape_of(ans))))
    return _sum(h, axis=lead) if lead else h


def _cov_tangent(t, ans, r, cov, **params):
    """The tangent of Φ from a tangent t of cov: ½ Σ_ij ∂²Φ/∂r_i∂r_j t_ij, at every point."""
    from ..numpy._batching import batch_ndim
    from ..numpy.manipulation import reshape
    bnd = batch_ndim(t, cov)
    ts = tuple(shape_of(t))
    t = reshape(t, ts[:bnd] + (1,) * len(shape_of(ans)) + ts[bnd:])
    return 0.5 * _sum(t * _mvn_cdf_hessian(r, cov, **params), axis=(-2, -1))


def _normal_box(lo, hi, cov, **params):
    """P(lo < Y <= hi), Y ~ N(0, cov), over the last axis (lo and hi of one shape)."""
    d = shape_of(cov)[0]
    if d == 1 and not (params.get('allow_singular') and _is_singular(cov)):
        scale = _ew.sqrt(cov[0, 0])
        return ndtr(hi[..., 0] / scale) - ndtr(lo[..., 0] / scale)
    return _mvn_box(lo, hi, cov, **params)


def _box_corners(lo, hi):
    """The corners of the box (lo, hi] that the sum Σ ± Φ(corner) needs:
    (in_lower, sign, corner, finite) with in_lower a NumPy mask of the components that
    take the lower limit, and finite None, or where the box has a corner there at all
    (every chosen lower limit finite), when some points have -inf limits and others not."""
    from itertools import combinations
    plain = _np.asarray(to_numpy(innermost(lo)))
    d = plain.shape[-1]
    finite_anywhere = [i for i in range(d) if _np.any(_np.isfinite(plain[..., i]))]
    is_finite = _ew.isfinite(lo)
    safe_lo = where(is_finite, lo, 0.0)
    for k in range(len(finite_anywhere) + 1):
        for chosen in combinations(finite_anywhere, k):
            in_lower = _np.zeros(d, dtype=bool)
            in_lower[list(chosen)] = True
            finite = None
            if k and not _np.all(_np.isfinite(plain[..., list(chosen)])):
                finite = _ew.equal(_sum(where(is_finite, in_lower * 1.0, 0.0), axis=-1), k)
            yield in_lower, (-1) ** k, where(in_lower, safe_lo, hi), finite


def _box_term(term, sign, finite):
    term = term if finite is None else where(finite, term, 0.0)
    return -term if sign < 0 else term


def _box_jvp(tangents, ans, args, params):
    t_lo, t_hi, t_cov = tangents
    lo, hi, cov = args
    out = None
    for in_lower, sign, corner, finite in _box_corners(lo, hi):
        term = None
        if t_lo is not None or t_hi is not None:
            t = ((0.0 if t_hi is None else t_hi * ~in_lower)
                 + (0.0 if t_lo is None else t_lo * in_lower))
            term = _sum(t * _mvn_cdf_grad(corner, cov, **params), axis=-1)
        if t_cov is not None:
            dc = _cov_tangent(t_cov, ans, corner, cov, **params)
            term = dc if term is None else term + dc
        term = _box_term(term, sign, finite)
        out = term if out is None else out + term
    return out


def _box_vjp(g, ans, args, params, positions):
    lo, hi, cov = args
    out = [None, None, None]
    for in_lower, sign, corner, finite in _box_corners(lo, hi):
        gs = _box_term(g, sign, finite)
        if 0 in positions or 1 in positions:
            grad = _expand_last(gs) * _mvn_cdf_grad(corner, cov, **params)
            parts = [grad * in_lower, grad * ~in_lower]
        else:
            parts = [None, None]
        if 2 in positions:
            parts.append(_cov_cotangent(gs, ans, corner, cov, **params))
        for i in positions:
            out[i] = parts[i] if out[i] is None else out[i] + parts[i]
    return [out[i] for i in positions]


def _expand_last(g):
    from ..numpy.manipulation import expand_dims
    return expand_dims(g, -1)


# The distribution function as one primitive in r = x - mean and cov (the integration
# settings are parameters): its derivatives are made of pyad operations and of this
# primitive in fewer dimensions, so every order works.
_mvn_cdf = Primitive('multivariate_normal_cdf', _mvn_cdf_impl)
_mvn_cdf.def_jvp(lambda t, ans, r, cov, **p: _sum(t * _mvn_cdf_grad(r, cov, **p), axis=-1),
                 lambda t, ans, r, cov, **p: _cov_tangent(t, ans, r, cov, **p))
_mvn_cdf.def_vjp(lambda g, ans, r, cov, **p: _expand_last(g) * _mvn_cdf_grad(r, cov, **p),
                 _cov_cotangent)
# The probability of a box (lo, hi]: SciPy's value, the derivatives of the sum over
# its corners Σ ± Φ(corner) (those of the primitive above at each corner).
_mvn_box = Primitive('multivariate_normal_box', _mvn_box_impl)
_mvn_box.def_jvp_joint(_box_jvp)
_mvn_box.def_vjp_joint(_box_vjp)


# ----------------------------------------------------------------- dirichlet
class _Dirichlet:
    """Dirichlet(alpha) with SciPy's layout: the components of x along its first axis,
    K of them, or K - 1 (the last is then 1 minus their sum)."""
    name = 'dirichlet'

    def logpdf(self, x: ArrayLike, alpha: ArrayLike) -> Array:
        from ..numpy.manipulation import concatenate, expand_dims
        xs, als = tuple(shape_of(x)), tuple(shape_of(alpha))
        if len(als) != 1:
            raise ValueError(f'dirichlet: alpha must be a vector, got shape {als}')
        k = als[0]
        if not xs or xs[0] not in (k, k - 1):
            raise ValueError(f'dirichlet: x has shape {xs}; its first axis must have '
                             f'{k} or {k - 1} entries (alpha has {k})')
        if xs[0] == k - 1:
            x = concatenate([x, expand_dims(1.0 - _sum(x, axis=0), 0)], axis=0)
        plain = _np.asarray(to_numpy(innermost(x)))
        if _np.any(plain <= 0) or _np.any(plain >= 1) or \
                _np.any(_np.abs(plain.sum(axis=0) - 1.0) > 1e-6 * k):
            raise ValueError('dirichlet: each x must lie in the open simplex (entries in '
                             '(0, 1) summing to 1)')
        a = alpha if len(xs) == 1 else _reshape_column(alpha, len(xs))
        return _sum(xlogy(a - 1.0, x), axis=0) - (_sum(gammaln(alpha)) - gammaln(_sum(alpha)))

    def pdf(self, x: ArrayLike, alpha: ArrayLike) -> Array:
        return exp(self.logpdf(x, alpha))

    def __repr__(self):
        return '<pyad.scipy.stats.dirichlet>'


def _reshape_column(a, ndim):
    from ..numpy.manipulation import reshape
    return reshape(a, tuple(shape_of(a)) + (1,) * (ndim - 1))


norm = _Norm()
t = _T()
beta = _Beta()
gamma = _Gamma()
chi2 = _Chi2()
poisson = _Poisson()
multivariate_normal = _MultivariateNormal()
dirichlet = _Dirichlet()
