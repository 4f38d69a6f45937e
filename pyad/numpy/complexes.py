"""Complex numbers: ``real``, ``imag``, ``conj``, ``angle``, the complex rule of
``abs``, and the tests ``iscomplex``, ``iscomplexobj``, ``real_if_close``.

pyad follows JAX's convention (see docs/complex.md): a tangent is pushed as a
complex number, and a cotangent ``g`` of a value ``y`` pairs with a tangent
``t`` of y as ``Re(Σ g t)`` (no conjugation).  A VJP rule is then the transpose
of the JVP under that pairing: holomorphic functions keep their real rules
(``g f'(z)``), and the few that are not holomorphic (conj, real, imag, abs,
angle) conjugate or rotate the cotangent, as below.  The gradient of a real
function of a complex z is then ``∂f/∂x - i ∂f/∂y``, the number JAX returns.
"""
from __future__ import annotations

from ..typing import Array, ArrayLike, UnaryFunction
import numpy as _np

from .._core.primitive import Primitive
from .._core.box import Box, innermost, dtype_of
from .._core.traits import Traits

_VIEWS = Traits(reads='shapes', fresh=True)


def _is_complex(x):
    return dtype_of(x).kind == 'c'


def _real_impl(x):
    return _np.real(x) if hasattr(x, 'dtype') else x.real


def _imag_impl(x):
    return _np.imag(x) if hasattr(x, 'dtype') else x.imag


def _conj_impl(x):
    return _np.conj(x)


def _to_complex_like(g, x):
    """A real cotangent g as the complex kind of x."""
    from .manipulation import astype
    return astype(g, dtype_of(x))


def _real_vjp(g, ans, x):
    # ans = Re(x): g Re(t) = Re(g t), so x's cotangent is g itself (as a complex)
    return _to_complex_like(g, x) if _is_complex(x) else g


def _imag_jvp(t, ans, x):
    return imag(t) if _is_complex(x) else None


def _imag_vjp(g, ans, x):
    # ans = Im(x): g Im(t) = Re(-i g t)
    return _to_complex_like(g, x) * -1j if _is_complex(x) else None


_real = Primitive('real', _real_impl, traits=_VIEWS, complex_rules=True,
                  doc='numpy.real: the real part (a real array).')
_real.def_jvp(lambda t, ans, x: _real(t))
_real.def_vjp(_real_vjp)

_imag = Primitive('imag', _imag_impl, complex_rules=True,
                  doc='numpy.imag: the imaginary part (a real array; zeros for a real x).')
_imag.def_jvp(_imag_jvp)
_imag.def_vjp(_imag_vjp)

_conj = Primitive('conj', _conj_impl, traits=Traits(reads='shapes'), complex_rules=True,
                  doc='numpy.conj: the complex conjugate (x itself for a real x).')
_conj.def_jvp(lambda t, ans, x: _conj(t))
# Re(g conj(t)) = Re(conj(g) t)
_conj.def_vjp(lambda g, ans, x: _conj(g))

# the public names, typed for a checker as the functions they are
real: UnaryFunction = _real
imag: UnaryFunction = _imag
conj: UnaryFunction = _conj
conjugate = conj


def _angle_impl(x):
    return _np.angle(x)


def _angle_jvp(t, ans, x):
    # d arg(x) = Im(dx / x) (no derivative for a real x: the angle is 0 or π)
    return imag(t / x) if _is_complex(x) else None


def _angle_vjp(g, ans, x):
    # g Im(t / x) = Re(-i g t / x)
    return (_to_complex_like(g, x) * -1j) / x if _is_complex(x) else None


_angle = Primitive('angle', _angle_impl, complex_rules=True)
_angle.def_jvp(_angle_jvp)
_angle.def_vjp(_angle_vjp)


def angle(z: ArrayLike, deg: bool = False) -> Array:
    """numpy.angle: the argument of a complex number (radians, or degrees with
    ``deg``); its derivative is Im(dz / z), undefined (inf or nan) at z = 0, and 0
    for a real z."""
    a = _angle(z)
    return a * (180.0 / _np.pi) if deg else a


def _unit_conj(x, ans):
    """conj(x) / |x|, 0 where x = 0 (abs is not differentiable there; 0 is JAX's
    choice for real x, kept here for complex x: there conj(x) / 1 = 0)."""
    from .elementwise import where, equal
    return conj(x) / where(equal(ans, 0), 1.0, ans)


def abs_jvp(t, ans, x):
    """The tangent of |x| for a complex x: Re(conj(x) t) / |x|."""
    return real(_unit_conj(x, ans) * t)


def abs_vjp(g, ans, x):
    """The cotangent of a complex x from that of |x|: g conj(x) / |x|."""
    return g * _unit_conj(x, ans)


def iscomplexobj(x: ArrayLike) -> Array:
    """numpy.iscomplexobj: whether x has a complex dtype (traced values too)."""
    return _is_complex(x) if isinstance(x, Box) else _np.iscomplexobj(x)


def iscomplex(x: ArrayLike) -> Array:
    """numpy.iscomplex: where the imaginary part is non-zero (booleans, no derivative)."""
    return _np.iscomplex(innermost(x))


def real_if_close(a: ArrayLike, tol: int = 100) -> Array:
    """numpy.real_if_close: the real part when every imaginary part is within
    ``tol`` machine epsilons of 0 (decided on the value; the derivative is that of
    ``real(a)`` then, of ``a`` otherwise)."""
    if not _is_complex(a):
        return a
    inner = innermost(a)
    if tol > 1:
        tol = tol * _np.finfo(dtype_of(inner)).eps
    if _np.all(_np.abs(_np.imag(inner)) < tol):
        return real(a)
    return a


__all__ = ['real', 'imag', 'conj', 'conjugate', 'angle', 'iscomplex', 'iscomplexobj',
           'real_if_close']
