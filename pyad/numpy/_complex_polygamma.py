"""ψ⁽ⁿ⁾(z) for complex z (SciPy's polygamma is real for n >= 1), on plain NumPy values.

ψ⁽ⁿ⁾(z) = (-1)ⁿ⁺¹ n! Σ_k 1/(z + k)ⁿ⁺¹: the recurrence ψ⁽ⁿ⁾(z) = ψ⁽ⁿ⁾(z + 1) +
(-1)ⁿ⁺¹ n!/zⁿ⁺¹ moves z to Re z >= 20, where the asymptotic series
ψ⁽ⁿ⁾(w) ~ (-1)ⁿ⁺¹ [(n-1)!/wⁿ + n!/(2wⁿ⁺¹) + Σ_k B₂ₖ (2k+n-1)!/((2k)! w²ᵏ⁺ⁿ)]
is accurate to double precision with a dozen terms (n = 0: SciPy's digamma).
"""
import math

import numpy as np

_SHIFT_TO = 20.0
# B_2, B_4, ..., B_24
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510,
              43867 / 798, -174611 / 330, 854513 / 138, -236364091 / 2730)


def _one_order(n, z):
    from scipy.special import digamma
    if n == 0:
        return digamma(z)
    sign = (-1.0) ** (n + 1)
    w = np.array(z, dtype=np.complex128, copy=True)
    total = np.zeros_like(w)
    with np.errstate(all='ignore'):
        steps = int(max(0.0, math.ceil(_SHIFT_TO - np.min(w.real, initial=_SHIFT_TO))))
        for _ in range(steps):
            low = w.real < _SHIFT_TO
            total = total + np.where(low, 1.0 / w ** (n + 1), 0.0)
            w = np.where(low, w + 1.0, w)
        series = math.factorial(n - 1) / w ** n + 0.5 * math.factorial(n) / w ** (n + 1)
        for k, b in enumerate(_BERNOULLI, start=1):
            coef = b * math.factorial(2 * k + n - 1) / math.factorial(2 * k)
            series = series + coef / w ** (2 * k + n)
        return sign * (series + math.factorial(n) * total)


def complex_polygamma(n, z):
    """scipy.special.polygamma(n, z) for complex z (n integers >= 0, broadcast)."""
    n, z = np.broadcast_arrays(np.asarray(n), np.asarray(z))
    if np.any(n < 0) or np.any(n != np.round(n)):
        raise ValueError('polygamma: the order n must be a non-negative integer')
    out = np.empty(z.shape, dtype=np.complex128)
    for order in np.unique(n):
        sel = n == order
        out[sel] = _one_order(int(order), z[sel])
    dtype = np.result_type(z.dtype, np.complex64)
    return out.astype(dtype) if out.ndim else dtype.type(out[()])
