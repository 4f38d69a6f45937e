"""Derivatives of the modified Bessel functions I_v(x) and K_v(x) in their real order
v, on plain float64 NumPy values (the primitives in ``special.py`` wrap them).

``order_derivative(n, v, x, kind)`` is ∂ⁿ/∂vⁿ of iv, ive (I_v e^{-x}), kv or kve
(K_v e^{x}), for x > 0.  K's is its integral K_v(x) = ∫₀^∞ e^{-x cosh t} cosh(vt) dt
differentiated under the integral sign (tⁿ cosh or sinh(vt): integrands of one sign),
by Gauss-Legendre quadrature.  I's comes from three representations, each used where
it keeps its accuracy:

* the power series I_u(x) = Σ_k (x/2)^{2k+u} / (k! Γ(k+u+1)), for u >= 0 and x small
  next to u² (no cancellation there: every term and every derivative of a term has one
  sign); its terms are exp(h_k(u)), and ∂ⁿ exp(h) = exp(h) Bₙ(h', h'', ...) with the
  complete Bell polynomials, h' = log(x/2) - ψ(k+u+1), h⁽ᵐ⁾ = -ψ⁽ᵐ⁻¹⁾(k+u+1);
* Schläfli's integral, for u >= 0 elsewhere,
  I_u(x) = (1/π)∫₀^π e^{x cos t} cos(ut) dt - (sin uπ/π)∫₀^∞ e^{-x cosh t - ut} dt,
  differentiated under the integral signs and summed by Gauss-Legendre quadrature
  over the range where the integrands are not negligible;
* the reflection I_{-u} = I_u + (2/π) sin(uπ) K_u for negative orders, with
  K_u(x) = ∫₀^∞ e^{-x cosh t} cosh(ut) dt, whose u-derivatives (t^m cosh or sinh(ut)
  under the integral) have integrands of one sign.
"""
import math

import numpy as np
from scipy import special as _sps

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(96)
_NEGLIGIBLE = 80.0          # integrands are cut where they fall below e^-80 of the peak


def _bell(derivs):
    """The complete Bell polynomial B_n of derivs = [h', h'', ..., h⁽ⁿ⁾]: the factor
    by which the n-th derivative of exp(h) exceeds exp(h)."""
    b = [np.ones_like(derivs[0]) if derivs else 1.0]
    for m in range(len(derivs)):
        b.append(sum(math.comb(m, j) * b[m - j] * derivs[j] for j in range(m + 1)))
    return b[-1]


def _series(n, u, x, scaled):
    """∂ⁿI_u(x)/∂uⁿ by the power series (u >= 0, x > 0)."""
    terms = int(np.ceil(np.max(x, initial=0.0))) + 40
    k = np.arange(terms, dtype=float).reshape((terms,) + (1,) * u.ndim)
    z = k + u + 1.0
    log_half = np.log(0.5 * x)
    h = (2.0 * k + u) * log_half - _sps.gammaln(z) - _sps.gammaln(k + 1.0)
    if scaled:
        h = h - x
    derivs = [log_half - _sps.digamma(z)]
    derivs += [-_sps.polygamma(m - 1, z) for m in range(2, n + 1)]
    return np.sum(np.exp(h) * _bell(derivs[:n]), axis=0)


def _gauss(lo, hi, integrand):
    """∫_lo^hi integrand(t) dt elementwise, lo and hi arrays of the values' shape."""
    half = 0.5 * (hi - lo)
    shape = (len(_NODES),) + (1,) * np.ndim(lo)
    t = lo + half * (_NODES.reshape(shape) + 1.0)
    return half * np.sum(_WEIGHTS.reshape(shape) * integrand(t), axis=0)


def _tail_end(u, x, n):
    """A T with e^{-x cosh t + u t} t^n below e^-_NEGLIGIBLE of its peak beyond t = T."""
    peak = np.arcsinh(np.maximum(u, 1.0) / x)       # where x sinh t = max(u, 1)
    end = peak + 1.0
    for _ in range(6):          # x (cosh T - cosh peak) >= (u + n) (T - peak) + margin
        need = (_NEGLIGIBLE + (u + n) * (end - peak)) / x + np.cosh(peak)
        end = np.maximum(end, np.arccosh(need))
    return end


def _exp_cosh(x, t, shift):
    """e^{-x (cosh t + shift)}: shift 0 for K, 1 for the scaled I's e^{-x} folded in,
    -1 for the scaled K's e^{x}."""
    return np.exp(-x * (np.cosh(t) + shift))


def _k_derivative(m, u, x, shift):
    """∂ᵐK_u(x)/∂uᵐ = ∫₀^∞ tᵐ e^{-x cosh t} (cosh or sinh)(ut) dt, times e^{-x shift}."""
    kind = np.cosh if m % 2 == 0 else np.sinh
    end = _tail_end(np.abs(u), x, m)
    return _gauss(np.zeros_like(end), end,
                  lambda t: t ** m * kind(u * t) * _exp_cosh(x, t, shift))


# the n-th derivative of cos, by n mod 4 (exact zeros: cos(ut + nπ/2) would leave
# a rounding error of e^x times 1e-16 where the answer is e^-x, at u = 0)
_COS_DERIVATIVES = ((1.0, np.cos), (-1.0, np.sin), (-1.0, np.cos), (1.0, np.sin))


def _schlafli(n, u, x, scaled):
    """∂ⁿI_u(x)/∂uⁿ by Schläfli's integral, differentiated under the integrals."""
    shift = 1.0 if scaled else 0.0
    end = np.arccos(np.clip(1.0 - _NEGLIGIBLE / x, -1.0, 1.0))
    sign, wave = _COS_DERIVATIVES[n % 4]
    first = sign * _gauss(np.zeros_like(end), end,
                          lambda t: t ** n * wave(u * t) * np.exp(x * (np.cos(t) - shift)))
    tail = _tail_end(np.zeros_like(u), x, n)
    second = 0.0
    for j in range(n + 1):
        # ∂ⁿ[sin(uπ) e^{-ut}] = Σ_j C(n,j) π^j sin(uπ + jπ/2) (-t)^{n-j} e^{-ut}
        integral = _gauss(np.zeros_like(tail), tail,
                          lambda t: (-t) ** (n - j) * np.exp(-u * t) * _exp_cosh(x, t, shift))
        second = second + math.comb(n, j) * math.pi ** j * _sin_derivative(j, u) * integral
    return (first - second) / math.pi


def _sin_derivative(j, u):
    """sin(uπ + jπ/2), exactly 0 at the integers where it vanishes."""
    sign, wave = _COS_DERIVATIVES[(j + 3) % 4]
    return sign * wave(math.pi * u) if j % 2 else sign * _sinpi(u)


def _sinpi(u):
    """sin(πu), exactly 0 at integer u."""
    return np.where(u == np.round(u), 0.0, np.sin(math.pi * u))


def _positive(n, u, x, scaled):
    """∂ⁿI_u(x)/∂uⁿ for u >= 0, x > 0: the series where x is small next to u², else
    Schläfli's integral."""
    small = x <= np.maximum(4.0, 0.25 * u * u)
    out = np.empty(np.broadcast(u, x).shape)
    if np.any(small):
        out[small] = _series(n, u[small], x[small], scaled)
    if np.any(~small):
        out[~small] = _schlafli(n, u[~small], x[~small], scaled)
    return out


def _negative(n, u, x, scaled):
    """∂ⁿ/∂vⁿ of I_v(x) at v = -u < 0, by I_{-u} = I_u + (2/π) sin(uπ) K_u."""
    total = _positive(n, u, x, scaled)
    for j in range(n + 1):
        total = total + (2.0 / math.pi) * math.comb(n, j) * math.pi ** j \
            * _sin_derivative(j, u) * _k_derivative(n - j, u, x, 1.0 if scaled else 0.0)
    return (-1.0) ** n * total


_CHUNK = 4096               # elements at a time: the quadrature holds 96 values of each


def _i_derivative(n, v, x, scaled):
    pos = v >= 0
    out = np.empty(v.shape)
    if np.any(pos):
        out[pos] = _positive(n, v[pos], x[pos], scaled)
    if np.any(~pos):
        out[~pos] = _negative(n, -v[~pos], x[~pos], scaled)
    return out


_KINDS = {
    'iv': lambda n, v, x: _i_derivative(n, v, x, False),
    'ive': lambda n, v, x: _i_derivative(n, v, x, True),
    'kv': lambda n, v, x: _k_derivative(n, v, x, 0.0),
    'kve': lambda n, v, x: _k_derivative(n, v, x, -1.0),
}


def order_derivative(n, v, x, kind='iv'):
    """∂ⁿ/∂vⁿ (n >= 1) of iv, ive, kv or kve (``kind``) in float64, elementwise over
    broadcast v and x.  For x < 0 it is nan (the functions are complex there unless v
    is an integer, so no neighbourhood of orders is real); at x = 0, I's is 0 for v > 0
    (I_v(0) = 0 there) and nan otherwise (I_v(0) jumps at v = 0 and is infinite near the
    negative orders), K's is nan (K_v(0) is infinite)."""
    v, x = np.broadcast_arrays(np.asarray(v, dtype=np.float64), np.asarray(x, dtype=np.float64))
    shape = v.shape
    v, x = v.ravel(), x.ravel()
    out = np.full(v.shape, np.nan)
    ok = (x > 0) & np.isfinite(x) & np.isfinite(v)
    with np.errstate(all='ignore'):
        for start in range(0, len(v), _CHUNK):
            part = slice(start, start + _CHUNK)
            sel = ok[part]
            if np.any(sel):
                block = out[part]
                block[sel] = _KINDS[kind](n, v[part][sel], x[part][sel])
    if kind in ('iv', 'ive'):
        out[(x == 0) & (v > 0)] = 0.0
    return out.reshape(shape)
