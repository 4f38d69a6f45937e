"""Linear algebra as intrinsic primitives, over stacks of matrices ``(..., m, n)``.

Every function here works like its ``numpy.linalg`` (or ``scipy.linalg``)
namesake on plain arrays and is differentiable to any order, in forward and
reverse mode: each primitive's JVP and VJP rules are written with pyad
primitives (``matmul``, ``solve``, ``expm``, ...), so Hessians through them work.
Stacks broadcast as in NumPy, and the rules accept the leading batch axes of
batched tangents and cotangents (``jacfwd``, ``jacrev``, ``hessian``).

=====================  ==============================================================
function               derivative notes
=====================  ==============================================================
solve(a, b)            dX = -A⁻¹ dA X + A⁻¹ dB.  ``b`` is a vector when it is 1-D
                       (NumPy 2 semantics), else a stack of matrices.
solve_symmetric(a, b)  Cholesky based, for symmetric positive definite ``a``; the
                       function of (A + Aᵀ)/2, so its derivative in A is symmetric.
cholesky(a)            the lower factor L of (A + Aᵀ)/2 (symmetrized, as in JAX;
                       (A + Aᴴ)/2 for complex A).
cho_solve(c, b)        solve (L Lᵀ) X = B given the factor (``c`` or ``(c, lower)``).
solve_triangular       reads only the ``lower`` (or upper) triangle of ``a``;
                       ``trans`` 0/'N', 1/'T' or 2/'C' (Aᴴ: Aᵀ for real values).
complex matrices       every function but solve_banded (docs/linalg.md): the
                       holomorphic ones (inv, solve, det, expm, sqrtm, Sylvester,
                       triangular solves) keep their real rules; cholesky, eigh,
                       svd, qr, pinv, slogdet use conjugate transposes.
inv, slogdet           at a singular matrix the derivative (A⁻¹) does not exist:
                       the rules raise ``LinAlgError``.  ``slogdet``'s value there is
                       NumPy's (0, -inf); its sign has no derivative (forward mode
                       raises even where only the sign is used: take the sign of
                       ``stop_gradient(a)``).
det                    the derivative is the adjugate, defined at every matrix (the
                       zero matrix included) and differentiable to every order.
pinv(a)                valid where the rank is constant (full rank, in practice);
                       singular values below ``rcond`` are treated as zero.
eig(a)                 general (non-symmetric) matrices: complex eigenvalues and
                       eigenvectors normalized as LAPACK does (unit norm, largest
                       entry real), differentiated as such; defined for distinct
                       eigenvalues (see ``eig``).
eigh(a, UPLO)          eigenvalues ascending, of (A + Aᵀ)/2 (UPLO None, the default)
                       or of the 'L'/'U' triangle (NumPy).  The derivative of the
                       eigenvectors is undefined for repeated eigenvalues (it has
                       1/(λⱼ - λᵢ) terms: inf/nan result).  Eigenvectors are unique
                       up to sign; derivatives follow LAPACK's choice.
svd(a)                 reduced (``full_matrices=False`` only).  The derivatives of U
                       and Vᵀ are undefined for repeated (and, when m != n, zero)
                       singular values; those of the singular values are fine.
qr(a)                  reduced; differentiable for m >= n and full column rank.
norm(x, ord, axis)     vector (1, 2, inf, -inf, p) and matrix ('fro', 'nuc', 1, -1,
                       2, -2, inf, -inf) norms.  Not differentiable at 0 (2-norms)
                       or at ties (inf norms: the derivative is split evenly).
matrix_power(a, n)     repeated squaring; n < 0 through ``inv``.
expm(a)                derivative by the block identity
                       expm([[A, E], [0, A]]) = [[expm A, L(A, E)], [0, expm A]],
                       with expm itself, so it nests to any order.
sqrtm(a)               principal real square root; dX solves X dX + dX X = dA.
solve_sylvester(a,b,q) A X + X B = Q; its derivatives are Sylvester solves again.
solve_banded((l,u),    SciPy's band storage; derivatives are banded solves with A and
  ab, b)               Aᵀ, and the gradient in ab lies on the band.
lstsq(a, b)            NumPy's (x, residuals, rank, s); x is ``pinv(a) @ b``;
                       assumes full rank (the derivative of a rank-deficient
                       solution does not exist).
=====================  ==============================================================

Errors name the function: a non-square or mismatched input raises ``ValueError``
with the shapes, a singular (or not positive definite) matrix raises
``LinAlgError`` (``numpy.linalg.LinAlgError``) from the function that hit it.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Tuple, Union
from .typing import Array, ArrayLike, Axis

import numpy as _np

from ._core.primitive import Primitive
from ._core.box import Box, innermost, shape_of, ndim_of, dtype_of
from ._core.pytree import tree_flatten
from .backend import namespace, scipy_linalg, wrap_like, to_numpy, is_dask, DaskUnsupported
from .numpy._batching import align, unbroadcast_shape, normalize_axis, real_for
from .numpy.products import matmul
from .numpy.manipulation import swapaxes, reshape, expand_dims, moveaxis
from .numpy.reductions import sum as _sum
from .numpy.elementwise import sqrt, absolute, power, reciprocal, equal, not_equal, where
from .numpy.complexes import conj, real, imag

LinAlgError = _np.linalg.LinAlgError

class SlogdetResult(NamedTuple):
    sign: Array
    logabsdet: Array


class EighResult(NamedTuple):
    eigenvalues: Array
    eigenvectors: Array


class EigResult(NamedTuple):
    eigenvalues: Array
    eigenvectors: Array


class SVDResult(NamedTuple):
    U: Array
    S: Array
    Vh: Array


class QRResult(NamedTuple):
    Q: Array
    R: Array


class LstsqResult(NamedTuple):
    x: Array
    residuals: Array
    rank: int
    s: Array

__all__ = ['solve', 'solve_symmetric', 'cholesky', 'cho_solve', 'solve_triangular', 'inv',
           'pinv', 'det', 'slogdet', 'eig', 'eigvals', 'eigh', 'svd', 'qr', 'norm',
           'matrix_power', 'expm', 'lstsq', 'sqrtm', 'solve_sylvester', 'solve_banded',
           'LinAlgError']


# ================================================================== helpers
def _mT(x):
    return swapaxes(x, -1, -2)


def _sym(x):
    return (x + _mT(x)) * 0.5


def _is_complex(x):
    return _np.dtype(dtype_of(x)).kind == 'c'


def _cj(x):
    """conj(x) for a complex x; a real x as it is (no extra operation on real paths)."""
    return conj(x) if _is_complex(x) else x


def _mH(x):
    """The conjugate transpose of the last two axes (the transpose for real values)."""
    return _cj(_mT(x))


def _herm(x):
    """The Hermitian part (X + Xᴴ)/2 (the symmetric part for real values)."""
    return (x + _mH(x)) * 0.5


def _lapack(name, fn, *args, **kwargs):
    """Call a LAPACK-backed routine; a LinAlgError says which pyad function failed."""
    try:
        return fn(*args, **kwargs)
    except _np.linalg.LinAlgError as e:
        raise LinAlgError(f'{name}: {e}') from e


def _solve_stack(name, xp, a, b):
    """xp.linalg.solve over stacks.  NumPy broadcasts the leading axes of a and b;
    CuPy wants them equal, so they are broadcast here first."""
    if xp is not _np and a.shape[:-2] != b.shape[:-2]:
        lead = _np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a = xp.broadcast_to(a, lead + a.shape[-2:])
        b = xp.broadcast_to(b, lead + b.shape[-2:])
    return _lapack(name, xp.linalg.solve, a, b)


def _plain_sym(a):
    """(A + Aᴴ)/2 on plain arrays (Hermitian part; symmetric for real A)."""
    at = a.swapaxes(-1, -2)
    return (a + (at.conj() if a.dtype.kind == 'c' else at)) * 0.5


def _masks(like, n):
    """Boolean masks (n, n) on like's device: identity, lower (incl. diagonal), strictly lower."""
    xp = namespace(like)
    eye = xp.eye(n, dtype=bool)
    lower = xp.tri(n, dtype=bool)
    return eye, lower, xp.tri(n, k=-1, dtype=bool)


def _diag(x):
    """The diagonal of the last two axes (square), as (..., n)."""
    eye = _masks(x, shape_of(x)[-1])[0]
    return _sum(x * eye, axis=-1)


def _trace(x):
    eye = _masks(x, shape_of(x)[-1])[0]
    return _sum(x * eye, axis=(-2, -1))


def _diag_embed(v):
    """(..., n) -> (..., n, n) with v on the diagonal."""
    eye = _masks(v, shape_of(v)[-1])[0]
    return expand_dims(v, -2) * eye


def _check_square(name, a, what='a'):
    s = tuple(shape_of(a))
    if len(s) < 2:
        raise ValueError(f'{name}: {what} must be a (stack of) square matrices, got shape {s}')
    if s[-1] != s[-2]:
        raise ValueError(f'{name}: {what} must be square in its last two axes, got shape {s}')
    return s[-1]


def _check_matrix(name, a, what='a'):
    s = tuple(shape_of(a))
    if len(s) < 2:
        raise ValueError(f'{name}: {what} must be a (stack of) matrices, got shape {s}')


def _as_array(x):
    """Python numbers and lists become arrays (boxes and arrays pass through)."""
    if isinstance(x, Box) or hasattr(x, 'shape'):
        return x
    if isinstance(x, (list, tuple)):
        from .numpy.creation import listed
        x = listed(x)              # a list of traced values is stacked differentiably
        if isinstance(x, Box) or x.dtype.kind in 'fc':
            return x
    x = _np.asarray(x)
    return x if x.dtype.kind in 'fc' else x.astype(float)    # (integers: floats)


def _rhs(name, a, b, n):
    """NumPy 2 semantics of a right-hand side: a vector when 1-D (returned as (n, 1)
    with a flag), else a stack of matrices whose stack broadcasts against a's."""
    bs = tuple(shape_of(b))
    sa = tuple(shape_of(a))
    if len(bs) == 0:
        raise ValueError(f'{name}: b must be a vector or a matrix, got a scalar')
    if len(bs) == 1:
        if bs[0] != n:
            raise ValueError(f'{name}: a has shape {sa} but b has shape {bs}: '
                             f'b must have {n} entries')
        return expand_dims(b, -1), True
    if bs[-2] != n:
        raise ValueError(f'{name}: a has shape {sa} but b has shape {bs}: '
                         f'b must have {n} rows (axis -2)')
    try:
        _np.broadcast_shapes(sa[:-2], bs[:-2])
    except ValueError:
        raise ValueError(f'{name}: the stacks of a {sa} and b {bs} do not broadcast') from None
    return b, False


def _out(x, vector):
    return reshape(x, tuple(shape_of(x)[:-1])) if vector else x


def _unbroadcast_matrix(g, ans_stack, x):
    """Sum a cotangent of shape batch + ans_stack + core down to batch + x.shape."""
    core = tuple(shape_of(x)[-2:])
    return unbroadcast_shape(g, tuple(ans_stack) + core, tuple(shape_of(x)))


def _stack_of(x):
    return tuple(shape_of(x)[:-2])


def _vjp_from_jvp(jvp, a, cotangents):
    """The VJP of a linear map given by its JVP rule ``t -> jvp(t)``: pyad's own
    reverse mode transposes it (the rule is written with pyad primitives), with
    the batch of the cotangents pulled through in one sweep."""
    from ._core.transforms import pull_back
    from ._core.transforms import zeros_for
    leaf = zeros_for(a)
    _, out_def, pullback = pull_back(lambda t: jvp(t), [leaf], tree_flatten(leaf)[1],
                                     'linalg VJP')
    cts = list(cotangents) if isinstance(cotangents, tuple) else [cotangents]
    return pullback(cts)[0]


# ================================================================== triangular solve
def _tri_impl(a, b, lower, trans):
    xp = namespace(a, b)
    if a.ndim == 2:
        # one solve for every right-hand side: a batch of them (batched cotangents)
        # is folded into the columns
        n, k = b.shape[-2], b.shape[-1]
        lead = b.shape[:-2]
        bb = xp.moveaxis(b, -2, 0).reshape(n, -1) if lead else b
        x = _tri_2d(xp, a, bb, lower, trans)
        if lead:
            x = xp.moveaxis(x.reshape((n,) + lead + (k,)), 0, -2)
    else:
        # a stack of triangles: the batched LU solve of the masked triangle (the
        # triangular structure saves little at the sizes stacks come in)
        tri = xp.tril(a) if lower else xp.triu(a)
        if trans:
            tri = xp.swapaxes(tri, -1, -2)
        x = _solve_stack('solve_triangular', xp, tri, b)
    return wrap_like(x, a, b)


def _tri_2d(xp, a, b, lower, trans):
    if xp is _np:
        # LAPACK's trtrs directly: scipy.linalg.solve_triangular costs milliseconds
        # per call in recent SciPy
        from scipy.linalg import lapack
        trtrs, = lapack.get_lapack_funcs(('trtrs',), (a, b))
        x, info = trtrs(a, b, lower=int(lower), trans=int(trans))
        if info > 0:
            raise LinAlgError(f'solve_triangular: singular matrix (zero diagonal entry {info})')
        return x
    return scipy_linalg(a, b).solve_triangular(a, b, lower=lower, trans=trans)


def _tri_mask(a, lower):
    eye, low, _ = _masks(a, shape_of(a)[-1])
    return low if lower else low.T


def _tri_jvp_a(t, ans, a, b, lower, trans):
    ta = align(t, a, ans) * _tri_mask(a, lower)
    if trans:
        ta = _mT(ta)
    return -_tri(a, matmul(ta, ans), lower=lower, trans=trans)


def _tri_jvp_b(t, ans, a, b, lower, trans):
    return _tri(a, align(t, b, ans), lower=lower, trans=trans)


def _tri_vjp(g, ans, primals, params, positions):
    a, b = primals
    lower, trans = params['lower'], params['trans']
    gb = _tri(a, g, lower=lower, trans=1 - trans)
    out = []
    for i in positions:
        if i == 1:
            out.append(real_for(unbroadcast_shape(gb, shape_of(ans), shape_of(b)), b, ans))
        else:
            ga = matmul(gb, _mT(ans)) if not trans else matmul(ans, _mT(gb))
            ga = -(ga * _tri_mask(a, lower))
            out.append(real_for(_unbroadcast_matrix(ga, _stack_of(ans), a), a, ans))
    return out


# (holomorphic in a and b: trans is a plain transpose, and the conjugate transpose
# of solve_triangular(..., trans='C') is the transpose of conj(a))
_tri = Primitive('solve_triangular', _tri_impl, complex_rules=True)
_tri.def_jvp(_tri_jvp_a, _tri_jvp_b)
_tri.def_vjp_joint(_tri_vjp)


_TRANS = {0: 0, 1: 1, 2: 1, 'N': 0, 'T': 1, 'C': 1}


def solve_triangular(a: ArrayLike, b: ArrayLike, trans: int = 0, lower: bool = False,
                     unit_diagonal: bool = False) -> Array:
    """scipy.linalg.solve_triangular, over stacks: solve op(A) X = B reading only the
    lower (``lower=True``) or upper triangle of ``a``; ``trans`` 0/'N' (A), 1/'T' (Aᵀ)
    or 2/'C' (Aᴴ, which is Aᵀ for a real A).  Complex matrices too."""
    name = 'solve_triangular'
    a, b = _as_array(a), _as_array(b)
    n = _check_square(name, a)
    if unit_diagonal:
        raise NotImplementedError(f'{name}: unit_diagonal = True is not supported')
    if trans not in _TRANS:
        raise ValueError(f"{name}: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")
    b2, vector = _rhs(name, a, b, n)
    if trans in (2, 'C'):
        a = _cj(a)
    return _out(_tri(a, b2, lower=bool(lower), trans=_TRANS[trans]), vector)


# ================================================================== solve
def _solve_impl(a, b):
    xp = namespace(a, b)
    if a.ndim == 2 and b.ndim > 2:
        n, k = b.shape[-2], b.shape[-1]
        lead = b.shape[:-2]
        bb = xp.moveaxis(b, -2, 0).reshape(n, -1)
        x = _lapack('solve', xp.linalg.solve, a, bb)
        return wrap_like(xp.moveaxis(x.reshape((n,) + lead + (k,)), 0, -2), a, b)
    return wrap_like(_solve_stack('solve', xp, a, b), a, b)


def _solve_jvp_a(t, ans, a, b):
    return -_solve(a, matmul(align(t, a, ans), ans))


def _solve_jvp_b(t, ans, a, b):
    return _solve(a, align(t, b, ans))


def _solve_vjp(g, ans, primals, params, positions):
    a, b = primals
    gb = _solve(_mT(a), g)
    out = []
    for i in positions:
        if i == 1:
            out.append(real_for(unbroadcast_shape(gb, shape_of(ans), shape_of(b)), b, ans))
        else:
            out.append(real_for(_unbroadcast_matrix(-matmul(gb, _mT(ans)), _stack_of(ans), a),
                                a, ans))
    return out


# (holomorphic: the same rules hold for complex matrices, see docs/complex.md)
_solve = Primitive('solve', _solve_impl, complex_rules=True)
_solve.def_jvp(_solve_jvp_a, _solve_jvp_b)
_solve.def_vjp_joint(_solve_vjp)


def solve(a: ArrayLike, b: ArrayLike) -> Array:
    """numpy.linalg.solve: X with A X = B, over broadcast stacks.  ``b`` of shape
    (n,) is a vector (the result has shape (..., n)); otherwise (..., n, k)."""
    a, b = _as_array(a), _as_array(b)
    n = _check_square('solve', a)
    b2, vector = _rhs('solve', a, b, n)
    return _out(_solve(a, b2), vector)


# ================================================================== symmetric positive definite
def _cholesky_plain(name, a):
    xp = namespace(a)
    try:
        return xp.linalg.cholesky(_plain_sym(a))
    except _np.linalg.LinAlgError as e:
        raise LinAlgError(f'{name}: the matrix is not positive definite ({e})') from e


def _solve_sym_impl(a, b):
    L = _cholesky_plain('solve_symmetric', a)
    y = _tri_impl(L, b, True, 0)
    return wrap_like(_tri_impl(L.conj() if L.dtype.kind == 'c' else L, y, True, 1), a, b)


def _solve_sym_jvp_a(t, ans, a, b):
    return -_solve_sym(a, matmul(_herm(align(t, a, ans)), ans))


def _solve_sym_jvp_b(t, ans, a, b):
    return _solve_sym(a, align(t, b, ans))


def _solve_sym_vjp(g, ans, primals, params, positions):
    # (complex A: H = (A + Aᴴ)/2 is Hermitian, and H⁻ᵀ = conj(H)⁻¹ transposes the solve)
    a, b = primals
    gb = _solve_sym(_cj(a), g)
    out = []
    for i in positions:
        if i == 1:
            out.append(real_for(unbroadcast_shape(gb, shape_of(ans), shape_of(b)), b, ans))
        else:
            ga = _unbroadcast_matrix(-_herm(matmul(gb, _mT(ans))), _stack_of(ans), a)
            out.append(real_for(ga, a, ans))
    return out


_solve_sym = Primitive('solve_symmetric', _solve_sym_impl, complex_rules=True)
_solve_sym.def_jvp(_solve_sym_jvp_a, _solve_sym_jvp_b)
_solve_sym.def_vjp_joint(_solve_sym_vjp)


def solve_symmetric(a: ArrayLike, b: ArrayLike) -> Array:
    """Solve A X = B for symmetric (complex: Hermitian) positive definite A by a
    Cholesky factorization.

    A is used through (A + Aᴴ)/2, so the derivative in A is symmetric (Hermitian).
    DiffSharp's Newton step:
    ``g, H = pyad.gradhessian(f)(x); x - pyad.linalg.solve_symmetric(H, g)``.
    A matrix that is not positive definite raises LinAlgError."""
    a, b = _as_array(a), _as_array(b)
    n = _check_square('solve_symmetric', a)
    b2, vector = _rhs('solve_symmetric', a, b, n)
    return _out(_solve_sym(a, b2), vector)


def _cholesky_impl(a):
    return wrap_like(_cholesky_plain('cholesky', a), a)


def _phi(x):
    """The lower triangle of x with its diagonal halved (and, complex, made real: L's
    diagonal is real, and so is its derivative's)."""
    eye, _, strict = _masks(x, shape_of(x)[-1])
    if _is_complex(x):
        return x * strict + (real(x) * eye) * 0.5
    return x * strict + (x * eye) * 0.5


def _cholesky_jvp(t, L, a):
    s = _herm(t)
    x = _tri(L, s, lower=True, trans=0)                 # L⁻¹ S
    x = _tri(L, _mH(x), lower=True, trans=0)            # L⁻¹ S L⁻ᴴ
    return matmul(L, _phi(x))


def _cholesky_vjp(g, L, a):
    # the transpose of _cholesky_jvp under Re Σ g t: Φ and the Hermitian part are
    # their own transposes, t -> L⁻¹ t L⁻ᴴ transposes to g -> L⁻ᵀ g conj(L)⁻¹
    p = _phi(matmul(_mT(L), g))
    y = _tri(L, p, lower=True, trans=1)                 # L⁻ᵀ P
    m = _mT(_tri(_cj(L), _mT(y), lower=True, trans=1))  # L⁻ᵀ P conj(L)⁻¹
    return _herm(m)


_cholesky = Primitive('cholesky', _cholesky_impl, complex_rules=True)
_cholesky.def_jvp(_cholesky_jvp)
_cholesky.def_vjp(_cholesky_vjp)


def cholesky(a: ArrayLike) -> Array:
    """numpy.linalg.cholesky: the lower-triangular L with L Lᴴ = (A + Aᴴ)/2 (L Lᵀ =
    (A + Aᵀ)/2 for a real A), its diagonal real and positive.  A matrix that is not
    positive definite raises LinAlgError."""
    a = _as_array(a)
    _check_square('cholesky', a)
    return _cholesky(a)


def cho_solve(c_and_lower: Tuple[ArrayLike, bool], b: ArrayLike) -> Array:
    """scipy.linalg.cho_solve: solve A X = B given A's Cholesky factor.  Pass the
    factor ``c`` (lower triangular, as ``cholesky`` returns) or ``(c, lower)``.
    A complex factor stands for A = L Lᴴ (or Uᴴ U)."""
    if isinstance(c_and_lower, tuple):
        c, lower = c_and_lower
    else:
        c, lower = c_and_lower, True
    c, b = _as_array(c), _as_array(b)
    n = _check_square('cho_solve', c, 'the factor c')
    b2, vector = _rhs('cho_solve', c, b, n)
    if lower:     # A = L Lᴴ
        y = _tri(c, b2, lower=True, trans=0)
        x = _tri(_cj(c), y, lower=True, trans=1)
    else:         # A = Uᴴ U
        y = _tri(_cj(c), b2, lower=False, trans=1)
        x = _tri(c, y, lower=False, trans=0)
    return _out(x, vector)


# ================================================================== inv, det, slogdet
def _inv_impl(a):
    return wrap_like(_lapack('inv', namespace(a).linalg.inv, a), a)


_inv = Primitive('inv', _inv_impl, complex_rules=True)
_inv.def_jvp(lambda t, ans, a: -matmul(matmul(ans, t), ans))
_inv.def_vjp(lambda g, ans, a: -matmul(matmul(_mT(ans), g), _mT(ans)))


def inv(a: ArrayLike) -> Array:
    """numpy.linalg.inv, over stacks.  A singular matrix raises LinAlgError."""
    a = _as_array(a)
    _check_square('inv', a)
    return _inv(a)


def _det_impl(a):
    return wrap_like(namespace(a).linalg.det(a), a)


def _expand2(x):
    s = tuple(shape_of(x))
    return reshape(x, s + (1, 1))


def _invertible(a):
    """Whether det(A) A⁻¹ may stand for the adjugate of every matrix of the stack:
    condition number below 1/√eps (decided on the values, a constant choice).  A Dask
    matrix's values are unknown until computed: it takes the adjugate, which holds
    for every matrix."""
    x = innermost(a)
    if is_dask(x):
        return False
    xp = namespace(x)
    n = shape_of(x)[-1]
    if n == 0:
        return True
    limit = 1.0 / _np.sqrt(_np.finfo(_np.dtype(dtype_of(x))).eps)
    with _np.errstate(all='ignore'):
        try:
            sv = xp.linalg.svd(x, compute_uv=False)
        except _np.linalg.LinAlgError:
            return False
        return bool(xp.all(sv[..., -1] * limit > sv[..., 0]))


def _shift_nodes(n):
    """n interpolation nodes c_k (away from [-1, 1]) and the Lagrange weights w_k of
    the value at 0: p(0) = Σ w_k p(c_k ρ) for any polynomial p of degree < n."""
    nodes = [(1.5 + k // 2) * (1 if k % 2 == 0 else -1) for k in range(n)]
    weights = []
    for k, ck in enumerate(nodes):
        w = 1.0
        for j, cj in enumerate(nodes):
            if j != k:
                w *= cj / (cj - ck)
        weights.append(w)
    return nodes, weights


def _adjugate(a):
    """adj(A) = det(A) A⁻¹ continued to singular A, differentiable to every order.

    adj(A + tI) is a polynomial of degree n - 1 in t; at |t| >= 1.5 ||A||_F the
    matrix A + tI is invertible (condition number at most 5), so adj(A) is the
    Lagrange interpolant at t = 0 of n values det(A + tI) (A + tI)⁻¹ there, built
    from det and inv (whose rules take the invertible branch: no recursion)."""
    if _invertible(a):
        return _expand2(_det(a)) * _inv(a)
    x = innermost(a)
    xp = namespace(x)
    n = shape_of(x)[-1]
    dtype = _np.dtype(dtype_of(x))
    with _np.errstate(all='ignore'):
        rho = xp.sqrt(xp.sum(x * x, axis=(-2, -1)))          # ||A||_F >= spectral radius
    rho = xp.where(xp.isfinite(rho) & (rho > 0), rho, 1)[..., None, None]
    eye = xp.eye(n, dtype=dtype)
    nodes, weights = _shift_nodes(n)
    total = 0.0
    for c, w in zip(nodes, weights):
        shifted = a + wrap_like((rho * dtype.type(c) * eye).astype(dtype), x)
        total = total + _expand2(_det(shifted)) * _inv(shifted) * dtype.type(w)
    return total


def _det_jvp(t, ans, a):
    if _invertible(a):
        return ans * _trace(_solve(a, t))
    return _sum(_mT(_adjugate(a)) * t, axis=(-2, -1))       # tr(adj(A) dA)


def _det_vjp(g, ans, a):
    if _invertible(a):
        return _expand2(g * ans) * _mT(_inv(a))
    return _expand2(g) * _mT(_adjugate(a))


_det = Primitive('det', _det_impl, complex_rules=True)      # (holomorphic)
_det.def_jvp(_det_jvp)
_det.def_vjp(_det_vjp)


def det(a: ArrayLike) -> Array:
    """numpy.linalg.det, over stacks.  d det(A) = tr(adj(A) dA): det(A) tr(A⁻¹ dA)
    for a well-conditioned A, else the adjugate continued to singular matrices (see
    ``_adjugate``), so derivatives of every order exist everywhere."""
    a = _as_array(a)
    _check_square('det', a)
    return _det(a)


def _slogdet_impl(a):
    sign, logabsdet = namespace(a).linalg.slogdet(a)
    return wrap_like(sign, a), wrap_like(logabsdet, a)


def _require_regular(sign):
    """log|det A| is -inf at a singular matrix and has no derivative there (it would
    be A⁻ᵀ): say so in slogdet's terms rather than let inv or solve fail."""
    sign = innermost(sign)
    if is_dask(sign):
        # unknown until computed; an exactly singular matrix (sign 0) then makes the
        # inverse in the derivative raise LinAlgError when it is computed
        return
    xp = namespace(sign)
    singular = xp.asarray(sign) == 0
    if not bool(singular.any()):
        return
    where = ''
    if singular.ndim:
        index = tuple(int(i) for i in xp.argwhere(singular)[0])
        where = f' (the matrix at index {index} of the stack)'
    raise LinAlgError(
        f'slogdet: the derivative of logabsdet at a singular matrix{where} does not exist: '
        'log|det A| is -inf there (sign 0, as NumPy returns) and its derivative A⁻ᵀ is '
        'unbounded nearby. Differentiate det(A) instead (its derivative, the adjugate, '
        'exists at every matrix), or keep A away from singular matrices (e.g. A + eps I). '
        '(Forward mode computes it even where only the sign is used: the sign, which has no '
        'derivative, is slogdet(pyad.stop_gradient(A)).sign.)')


def _slogdet_jvp(t, ans, a):
    _require_regular(ans[0])
    tau = _trace(_solve(a, t))                  # d log det A = tr(A⁻¹ dA)
    if not _is_complex(a):
        return None, tau
    # a complex A: log|det A| moves by Re τ, its phase (the sign) by i Im τ
    return ans[0] * (1j * imag(tau)), real(tau)


def _slogdet_vjp(g, ans, a):
    g_sign, g_log = g
    if not _is_complex(a):
        g_sign = None                           # (a real sign has no derivative)
    if g_log is None and g_sign is None:
        return None
    _require_regular(ans[0])
    # the transpose of t -> (sign i Im τ, Re τ): g_log Re τ - Im(g_sign sign) Im τ
    # = Re(c τ) with c = g_log + i Im(g_sign sign), and τ = tr(A⁻¹ t) transposes to A⁻ᵀ
    c = 0.0 if g_log is None else g_log
    if g_sign is not None:
        c = c + 1j * imag(g_sign * ans[0])
    return _expand2(c) * _mT(_inv(a))


_slogdet = Primitive('slogdet', _slogdet_impl, multiple_results=True, complex_rules=True)
_slogdet.def_jvp(_slogdet_jvp)
_slogdet.def_vjp(_slogdet_vjp)


def slogdet(a: ArrayLike) -> SlogdetResult:
    """numpy.linalg.slogdet: (sign, log|det A|).  A real ``sign`` has no derivative;
    that of ``logabsdet`` is A⁻ᵀ.  For a complex A, ``sign`` is det A / |det A| and
    moves with the phase: d sign = sign · i Im tr(A⁻¹ dA), d logabsdet = Re tr(A⁻¹ dA).
    At a singular matrix the value is NumPy's (0, -inf), and asking for the
    derivative there raises LinAlgError (it does not exist); ``det``'s derivative
    exists everywhere."""
    a = _as_array(a)
    _check_square('slogdet', a)
    return SlogdetResult(*_slogdet(a))


# ================================================================== pinv, lstsq
def _pinv_impl(a, rcond):
    return wrap_like(namespace(a).linalg.pinv(a, rcond=rcond), a)


def _full_rank_sides(a, rcond):
    """(rows, cols): whether every matrix of the stack has rank m (A A⁺ = I) and rank n
    (A⁺ A = I), read from the plain values with numpy.linalg.pinv's cutoff."""
    plain = to_numpy(innermost(a))
    m, n = plain.shape[-2:]
    if plain.size == 0:
        return False, False
    s = _np.linalg.svd(plain, compute_uv=False)
    rank = _np.sum(s > rcond * s[..., :1], axis=-1)
    return bool(_np.all(rank == m)), bool(_np.all(rank == n))


def _projector_weights(a, rcond):
    """Per side, None where the projector term of the derivative is exactly zero (full
    rank), 1 where it is needed; for a Dask stack, whose ranks are unknown until
    computed, a lazy 0/1 factor per matrix (shape (..., 1, 1)) that drops the term
    where the matrix has full rank."""
    x = innermost(a)
    if not is_dask(x):
        full_rows, full_cols = _full_rank_sides(a, rcond)
        return (None if full_rows else 1), (None if full_cols else 1)
    m, n = x.shape[-2:]
    rank = _rank(namespace(x).linalg.svd(x, compute_uv=False), rcond)
    return tuple((rank < k).astype(x.dtype)[..., None, None] for k in (m, n))


def _rank(s, cutoff):
    """The number of singular values ``s`` (descending, last axis) above ``cutoff``
    times the largest."""
    if s.shape[-1] == 0:
        return s.sum(axis=-1).astype(int)
    return (s > cutoff * s[..., :1]).sum(axis=-1)


def _weighted(term, weight):
    return term if isinstance(weight, int) else term * weight


def _pinv_jvp(t, p, a, rcond):
    # dA⁺ = -A⁺ dA A⁺ + A⁺A⁺ᴴ dAᴴ (I - A A⁺) + (I - A⁺ A) dAᴴ A⁺ᴴ A⁺ (Golub & Pereyra;
    # ᴴ is ᵀ for real A).  A projector that is exactly zero at full rank is dropped
    # rather than computed: its rounding (eps cond A), multiplied by A⁺A⁺ᴴ (cond² A),
    # would swamp the result.
    rows, cols = _projector_weights(a, rcond)
    tT = _mH(t)
    out = -matmul(matmul(p, t), p)
    if rows is not None:
        x = tT - matmul(matmul(tT, a), p)                    # dAᴴ (I - A A⁺)
        out = out + _weighted(matmul(matmul(p, _mH(p)), x), rows)
    if cols is not None:
        y = matmul(matmul(tT, _mH(p)), p)                    # dAᴴ A⁺ᴴ A⁺
        out = out + _weighted(y - matmul(p, matmul(a, y)), cols)   # (I - A⁺ A) y
    return out


# (complex: the VJP transposes the JVP under Re Σ g t, by pyad's reverse mode)
_pinv = Primitive('pinv', _pinv_impl, complex_rules=True)
_pinv.def_jvp(_pinv_jvp, None)
_pinv.def_vjp(lambda g, p, a, rcond: _vjp_from_jvp(lambda t: _pinv_jvp(t, p, a, rcond), a, g),
              None)


def pinv(a: ArrayLike, rcond: Optional[float] = None) -> Array:
    """numpy.linalg.pinv, over stacks (m, n).  The derivative (Golub & Pereyra) holds
    where the rank is constant: in practice, for full-rank matrices."""
    a = _as_array(a)
    _check_matrix('pinv', a)
    if rcond is None:
        m, n = shape_of(a)[-2:]
        rcond = max(m, n) * float(_np.finfo(_np.dtype(dtype_of(a))).eps)
    return _pinv(a, float(rcond))




def lstsq(a: ArrayLike, b: ArrayLike, rcond: Optional[float] = None) -> LstsqResult:
    """numpy.linalg.lstsq: ``x, residuals, rank, s = lstsq(a, b)``, as NumPy returns.

    x minimises ||A x - b|| (the minimum-norm one when A is wide), as ``pinv(a) @ b``;
    residuals are the squared 2-norms of the columns of A x - b, shape (k,) ((1,) for
    a vector b), and empty unless A is tall with full column rank; rank (an int, no
    derivative) counts the singular values above ``rcond`` times the largest
    (``rcond=None``: machine precision times max(M, N), as NumPy); s are the singular
    values.  Stacks (..., M, N) work too (rank is then an array).  The derivative
    assumes A has full rank: that of a rank-deficient solution does not exist."""
    a, b = _as_array(a), _as_array(b)
    _check_matrix('lstsq', a)
    m, n = shape_of(a)[-2:]
    bs = tuple(shape_of(b))
    if len(bs) == 0 or (len(bs) == 1 and bs[0] != m) or (len(bs) > 1 and bs[-2] != m):
        raise ValueError(f'lstsq: a has shape {tuple(shape_of(a))} but b has shape {bs}: '
                         f'b must have {m} rows')
    eps = float(_np.finfo(_np.dtype(dtype_of(a))).eps)
    cutoff = max(m, n) * eps if rcond is None else float(rcond)
    p = pinv(a, cutoff)
    vector = len(bs) == 1
    x = _out(matmul(p, expand_dims(b, -1)), True) if vector else matmul(p, b)
    s = svd(a, compute_uv=False)
    plain_s = innermost(s)
    if is_dask(plain_s):
        # the rank is unknown until computed: a lazy 0-d (or stacked) count, and the
        # residuals of every tall A (as dask.array.linalg.lstsq returns them)
        rank = _rank(plain_s, cutoff)
        tall_full_rank = m > n
    else:
        rank = _rank(_np.asarray(plain_s), cutoff)
        rank = int(rank) if _np.ndim(rank) == 0 else rank
        tall_full_rank = m > n and _np.all(rank == n)
    if tall_full_rank:
        residuals = _residuals(a, x, b, vector)
    else:
        rdtype = _np.finfo(_np.dtype(dtype_of(a))).dtype         # (real for complex a)
        residuals = wrap_like(namespace(innermost(a)).zeros((0,), dtype=rdtype), innermost(a))
    return LstsqResult(x, residuals, rank, s)


def _residuals(a, x, b, vector):
    """Σ |A x - b|² over each column (real, as NumPy's, for complex values too)."""
    r = (matmul(a, expand_dims(x, -1))[..., 0] if vector else matmul(a, x)) - b
    r2 = real(r * conj(r)) if _is_complex(r) else r * r
    return _sum(r2, axis=-1, keepdims=True) if vector else _sum(r2, axis=-2)


# ================================================================== eigh
def _eigh_impl(a):
    w, v = namespace(a).linalg.eigh(_plain_sym(a))
    return wrap_like(w, a), wrap_like(v, a)


def _eig_gap_inverse(w):
    """F with F_ij = 1/(w_j - w_i) off the diagonal and 0 on it."""
    n = shape_of(w)[-1]
    eye = _masks(w, n)[0]
    diff = expand_dims(w, -2) - expand_dims(w, -1)
    return reciprocal(diff + eye) * ~eye


def _eigh_jvp(t, ans, a):
    # (complex: Vᴴ dV has a zero diagonal, the gauge where each column's phase
    # does not move to first order; see eigh)
    w, v = ans
    vsv = matmul(_mH(v), matmul(_herm(t), v))
    dw = _diag(vsv)
    if _is_complex(dw):
        dw = real(dw)
    dv = matmul(v, _eig_gap_inverse(w) * vsv)
    return dw, dv


def _eigh_vjp(g, ans, a):
    # the transpose of _eigh_jvp under Re Σ g t: t -> Vᴴ t V transposes to
    # g -> conj(V) g Vᵀ, the Hermitian part to itself
    w, v = ans
    gw, gv = g
    inner = None
    if gw is not None:
        inner = _diag_embed(gw)
    if gv is not None:
        term = _eig_gap_inverse(w) * matmul(_mT(v), gv)
        inner = term if inner is None else inner + term
    if inner is None:
        return None
    return _herm(matmul(matmul(_cj(v), inner), _mT(v)))


_eigh = Primitive('eigh', _eigh_impl, multiple_results=True, complex_rules=True)
_eigh.def_jvp(_eigh_jvp)
_eigh.def_vjp(_eigh_vjp)


# ================================================================== eig (general matrices)
def _eig_impl(a):
    xp = namespace(a)
    if not hasattr(xp.linalg, 'eig'):
        raise TypeError(f'eig: {xp.__name__}.linalg has no general eigendecomposition; '
                        f'move the matrix to NumPy first')
    w, v = xp.linalg.eig(a)
    # (a real matrix: NumPy's real LAPACK routine, and so its order of the
    # eigenvalues, with results made complex: their dtype does not depend on them)
    cdtype = _np.result_type(a.dtype, _np.complex64)
    return wrap_like(w.astype(cdtype), a), wrap_like(v.astype(cdtype), a)


def _eig_gaps(w):
    """F with F[i, j] = 1 / (w_j - w_i) off the diagonal, 0 on it (inf or nan where
    two eigenvalues coincide: the eigenvectors' derivative does not exist there)."""
    eye = _masks(w, shape_of(w)[-1])[0]
    gaps = expand_dims(w, -2) - expand_dims(w, -1)
    return where(eye, 0.0, reciprocal(where(eye, 1.0, gaps)))


def _largest(v):
    """A constant boolean mask of each column's largest entry (in modulus), which
    LAPACK makes real (and positive for a complex matrix); and that entry, real."""
    x = innermost(v)
    xp = namespace(x)
    k = xp.argmax(xp.abs(x), axis=-2)
    mask = xp.arange(x.shape[-2])[:, None] == k[..., None, :]
    return mask, real(_sum(v * mask, axis=-2, keepdims=True))


def _eig_jvp(tangents, ans, primals, params):
    (t,), (w, v) = tangents, ans
    e = matmul(matmul(_inv(v), t), v)          # dA in the eigenbasis
    dv = matmul(v, _eig_gaps(w) * e)
    # each column keeps its unit norm (no real part along v) ...
    dv = dv - v * real(_sum(conj(v) * dv, axis=-2, keepdims=True))
    # ... and its largest entry stays real (a turn i θ v fixes the imaginary part)
    mask, top = _largest(v)
    dv = dv - v * (1j * imag(_sum(dv * mask, axis=-2, keepdims=True)) / top)
    return _diag(e), dv


def _eig_vjp(g, ans, primals, params, positions):
    # the transpose of _eig_jvp, step by step backwards, under the pairing Re Σ g t
    # of docs/complex.md
    (gw, gv), (w, v) = g, ans
    ge = None
    if gv is not None:
        mask, top = _largest(v)
        gv = gv + mask * (-1j * imag(_sum(gv * v, axis=-2, keepdims=True)) / top)
        gv = gv - conj(v) * real(_sum(gv * v, axis=-2, keepdims=True))
        ge = _eig_gaps(w) * matmul(_mT(v), gv)
    if gw is not None:
        ge = _diag_embed(gw) if ge is None else ge + _diag_embed(gw)
    return [real_for(matmul(matmul(_mT(_inv(v)), ge), _mT(v)), primals[0], w)]


_eig = Primitive('eig', _eig_impl, multiple_results=True, complex_rules=True)
_eig.def_jvp_joint(_eig_jvp)
_eig.def_vjp_joint(_eig_vjp)


def eig(a: ArrayLike) -> EigResult:
    """numpy.linalg.eig of a general square matrix (or stack): ``(w, v)`` with
    A v[:, j] = w[j] v[:, j], NumPy's values but always complex (complex64 for
    float32 input, as JAX), the columns of v of unit 2-norm.

    An eigenvector is defined only up to a factor.  NumPy (LAPACK's geev) scales
    each column to unit 2-norm with its largest entry (in modulus) real, and the
    derivative of v is that of this choice: each column keeps its norm and its
    largest entry stays real.  For a complex matrix that entry is also positive,
    so v itself is differentiable (where the largest entry is unique).  For a
    real matrix LAPACK leaves each column's sign to the algorithm, and it may flip
    under a tiny change of A: differentiate functions that do not depend on it
    (|v_ij|, v_j v_jᵀ, v_j v_jᴴ, |u·v_j|, the eigenvalues).  Derivatives exist
    where the eigenvalues are distinct: where two coincide, the eigenvectors'
    derivative has a 1/(w_j - w_i) term (inf or nan), while symmetric functions of
    the eigenvalues (their sum, the determinant) keep theirs."""
    a = _as_array(a)
    _check_square('eig', a)
    return EigResult(*_eig(a))


def eigvals(a: ArrayLike) -> Array:
    """numpy.linalg.eigvals: the eigenvalues of ``eig`` (complex)."""
    if is_dask(a):
        raise DaskUnsupported('pyad.linalg.eigvals: Dask has no lazy eig; compute a small matrix '
                              'to NumPy first (x.compute())')
    return eig(a)[0]


def _from_triangle(a, uplo):
    """The symmetric (complex: Hermitian) matrix whose lower ('L') or upper ('U')
    triangle is a's; as LAPACK, the imaginary part of a complex diagonal is ignored."""
    n = shape_of(a)[-1]
    eye, lower, strict = _masks(innermost(a), n)
    if uplo == 'U':
        a = _mH(a)
    if _is_complex(a):
        part = where(strict, a, 0.0)
        return part + where(eye, real(a), 0.0) + _mH(part)
    return where(lower, a, 0.0) + _mT(where(strict, a, 0.0))


def eigh(a: ArrayLike, UPLO: Optional[str] = None) -> EighResult:
    """numpy.linalg.eigh: (eigenvalues ascending, eigenvectors as columns), of a real
    symmetric or complex Hermitian matrix (the eigenvalues are real).

    ``UPLO=None`` (the default, as JAX's ``symmetrize_input=True``): of the Hermitian
    part (A + Aᴴ)/2 (symmetric for real A), so the derivative in A is Hermitian.
    ``UPLO='L'`` or ``'U'``: NumPy's reading of one triangle only (the other is
    ignored, and gets a zero derivative).  The two agree on Hermitian matrices.  The
    derivative of the eigenvectors is undefined when eigenvalues repeat (the rules
    divide by their differences: inf/nan).

    Eigenvectors are unique up to a sign (real) or a phase e^{iθ} (complex), left
    to LAPACK.  The derivative of V is the one that keeps each column's phase:
    Vᴴ dV has a zero diagonal (JAX's choice).  Differentiate functions that do not
    depend on the phases (|V|, projectors v vᴴ, the eigenvalues)."""
    a = _as_array(a)
    _check_square('eigh', a)
    if UPLO is not None:
        if UPLO not in ('L', 'U'):
            raise ValueError(f"eigh: UPLO must be 'L', 'U' or None, got {UPLO!r}")
        a = _from_triangle(a, UPLO)
    return EighResult(*_eigh(a))


# ================================================================== svd
def _svd_impl(a):
    u, s, vh = namespace(a).linalg.svd(a, full_matrices=False)
    return wrap_like(u, a), wrap_like(s, a), wrap_like(vh, a)


def _svd_jvp(t, ans, a):
    # (complex: ᵀ becomes ᴴ; the phases of the columns are fixed by Im(v_jᴴ dv_j) = 0,
    # the diagonal of Uᴴ dA V's imaginary part going to U; see svd)
    u, s, vh = ans
    v = _mH(vh)
    m, n = shape_of(a)[-2:]
    ds_mat = matmul(matmul(_mH(u), t), v)           # Uᴴ dA V, (k, k)
    ds = _diag(ds_mat)
    k = shape_of(s)[-1]
    eye = _masks(s, k)[0]
    s_row = expand_dims(s, -2)                      # s_j
    s_col = expand_dims(s, -1)                      # s_i
    f = reciprocal((s_row + s_col) * (s_row - s_col) + eye) * ~eye
    dss = s_row * ds_mat
    sds = s_col * ds_mat
    du = matmul(u, f * (dss + _mH(dss)))
    dv = matmul(v, f * (sds + _mH(sds)))
    if _is_complex(ds):
        du = du + u * (1j * imag(expand_dims(ds, -2)) / s_row)
        ds = real(ds)
    if m > n:
        dav = matmul(t, v)
        du = du + (dav - matmul(u, matmul(_mH(u), dav))) / s_row
    if n > m:
        dau = matmul(_mH(t), u)
        dv = dv + (dau - matmul(v, matmul(vh, dau))) / s_row
    return du, ds, _mH(dv)


# (complex: the VJP transposes the JVP under Re Σ g t, by pyad's reverse mode)
_svd = Primitive('svd', _svd_impl, multiple_results=True, complex_rules=True)
_svd.def_jvp(_svd_jvp)
_svd.def_vjp(lambda g, ans, a: _vjp_from_jvp(lambda t: _svd_jvp(t, ans, a), a, g))


def svd(a: ArrayLike, full_matrices: bool = False, compute_uv: bool = True) -> Union[Array, SVDResult]:
    """numpy.linalg.svd, reduced only: (U, S, Vh) with S descending, or S alone
    with ``compute_uv=False``.  The derivatives of U and Vh are undefined for
    repeated singular values (and for zero ones when m != n); those of S are fine
    for distinct singular values.

    Complex matrices too.  A pair of singular vectors (u_j, v_j) is unique up to a
    common sign (real) or phase e^{iθ} (complex), left to LAPACK; the derivative
    keeps v_j's phase (Im(v_jᴴ dv_j) = 0) and puts the rest on u_j.  Functions of
    u_j v_jᴴ, |U|, |V| and S do not depend on this choice."""
    a = _as_array(a)
    _check_matrix('svd', a)
    if full_matrices:
        raise NotImplementedError('svd: only full_matrices=False is differentiable in pyad; '
                                  'pass full_matrices=False')
    out = SVDResult(*_svd(a))
    return out if compute_uv else out.S


# ================================================================== qr
def _qr_impl(a):
    q, r = namespace(a).linalg.qr(a, mode='reduced')
    return wrap_like(q, a), wrap_like(r, a)


def _qr_jvp(t, ans, a):
    q, r = ans
    m, n = shape_of(a)[-2:]
    if m < n:
        raise NotImplementedError(f'qr: the derivative is implemented for m >= n only, '
                                  f'got a matrix of shape {(m, n)}')
    dx_rinv = _mT(_tri(r, _mT(t), lower=False, trans=1))        # dA R⁻¹
    qt_dx_rinv = matmul(_mH(q), dx_rinv)
    eye, _, strict = _masks(r, n)
    low = qt_dx_rinv * strict
    do = low - _mH(low)                                         # skew-symmetric (-Hermitian)
    if _is_complex(do):
        # R's diagonal stays real (LAPACK's): Qᴴ dQ takes the diagonal's imaginary part
        do = do + 1j * imag(qt_dx_rinv) * eye
    dq = matmul(q, do - qt_dx_rinv) + dx_rinv
    dr = matmul(qt_dx_rinv - do, r)
    return dq, dr


# (complex: the VJP transposes the JVP under Re Σ g t, by pyad's reverse mode)
_qr = Primitive('qr', _qr_impl, multiple_results=True, complex_rules=True)
_qr.def_jvp(_qr_jvp)
_qr.def_vjp(lambda g, ans, a: _vjp_from_jvp(lambda t: _qr_jvp(t, ans, a), a, g))


def qr(a: ArrayLike, mode: str = 'reduced') -> Union[Array, QRResult]:
    """numpy.linalg.qr, reduced: (Q, R) with Q (..., m, k), R (..., k, n).
    Differentiable for m >= n with full column rank.  Complex matrices too: R's
    diagonal is real (LAPACK's Householder convention, its signs those of NumPy's
    result), and the derivative keeps it real, which fixes Q's phases."""
    a = _as_array(a)
    _check_matrix('qr', a)
    if mode != 'reduced':
        raise NotImplementedError(f"qr: only mode='reduced' is supported, got {mode!r}")
    return QRResult(*_qr(a))


# ================================================================== expm
def _expm_impl(a):
    sl = scipy_linalg(a)
    if a.ndim > 2 and namespace(a) is not _np and not is_dask(a):
        # cupyx.scipy.linalg.expm takes one matrix: the stack one by one
        xp = namespace(a)
        flat = a.reshape((-1,) + a.shape[-2:])
        return xp.stack([sl.expm(m) for m in flat]).reshape(a.shape)
    return wrap_like(sl.expm(a), a)


def _frechet(a, e):
    """L(A, E), the Fréchet derivative of expm at A along E: the upper-right block
    of expm([[A, E], [0, A]]), with E possibly batched (leading axes)."""
    n = shape_of(a)[-1]
    xp = namespace(a)
    dtype = dtype_of(a)
    eye = xp.eye(n, dtype=dtype)
    zero = xp.zeros((n, n), dtype=dtype)
    top = xp.concatenate([eye, zero], axis=0)       # [I; 0], (2n, n)
    bottom = xp.concatenate([zero, eye], axis=0)    # [0; I]
    block = (matmul(matmul(top, a), top.T) + matmul(matmul(bottom, a), bottom.T)
             + matmul(matmul(top, e), bottom.T))
    return matmul(matmul(top.T, _expm(block)), bottom)


# (holomorphic: the same rules hold for complex matrices)
_expm = Primitive('expm', _expm_impl, complex_rules=True)
_expm.def_jvp(lambda t, ans, a: _frechet(a, t))
_expm.def_vjp(lambda g, ans, a: _frechet(_mT(a), g))


def expm(a: ArrayLike) -> Array:
    """scipy.linalg.expm, over stacks.  Its derivative is the Fréchet derivative,
    computed by the block identity with expm itself (so it nests to any order).
    Complex matrices too (expm is holomorphic)."""
    a = _as_array(a)
    _check_square('expm', a)
    return _expm(a)


# ================================================================== Sylvester, sqrtm
def _each_matrix(fn, *stacks):
    """fn applied matrix by matrix over stacks (..., m, n) whose leading axes broadcast."""
    lead = _np.broadcast_shapes(*[v.shape[:-2] for v in stacks])
    xp = namespace(stacks[-1])
    flat = [xp.broadcast_to(v, lead + v.shape[-2:]).reshape((-1,) + v.shape[-2:])
            for v in stacks]
    out = [fn(*ms) for ms in zip(*flat)]
    if not out:
        return xp.zeros(lead + stacks[-1].shape[-2:], stacks[-1].dtype)
    out = xp.stack(out)
    return out.reshape(lead + out.shape[1:])


def _sylvester_impl(a, b, q):
    dtype = _np.result_type(a, b, q)
    sl = scipy_linalg(a)
    out = _each_matrix(lambda ma, mb, mq: _lapack('solve_sylvester', sl.solve_sylvester,
                                                  ma, mb, mq), a, b, q)
    return wrap_like(out.astype(dtype, copy=False), q)


def _sylvester_vjp(g, x, primals, params, positions):
    a, b, q = primals
    y = _sylvester(_mT(a), _mT(b), g)              # Aᵀ Y + Y Bᵀ = G
    out = {0: lambda: -matmul(y, _mT(x)), 1: lambda: -matmul(_mT(x), y), 2: lambda: y}
    return [real_for(_unbroadcast_matrix(out[i](), _stack_of(x), primals[i]), primals[i], x)
            for i in positions]


# (holomorphic in a, b and q: plain transposes, for complex matrices too)
_sylvester = Primitive('solve_sylvester', _sylvester_impl, complex_rules=True)
# A X + X B = Q:  A dX + dX B = dQ - dA X - X dB
_sylvester.def_jvp(lambda t, x, a, b, q: _sylvester(a, b, -matmul(t, x)),
                   lambda t, x, a, b, q: _sylvester(a, b, -matmul(x, t)),
                   lambda t, x, a, b, q: _sylvester(a, b, t))
_sylvester.def_vjp_joint(_sylvester_vjp)


def solve_sylvester(a: ArrayLike, b: ArrayLike, q: ArrayLike) -> Array:
    """scipy.linalg.solve_sylvester: the X with A X + X B = Q, for A (m, m), B (n, n)
    and Q (m, n).  Differentiable in all three; the derivative exists where the
    solution is unique (no eigenvalue of A is minus one of B's)."""
    a, b, q = _as_array(a), _as_array(b), _as_array(q)
    m = _check_square('solve_sylvester', a)
    n = _check_square('solve_sylvester', b, 'b')
    _check_matrix('solve_sylvester', q, 'q')
    shapes = [tuple(shape_of(v)) for v in (a, b, q)]
    if any(len(s) != 2 for s in shapes):
        raise ValueError(f'solve_sylvester: a, b and q must be matrices, got shapes '
                         f'{shapes[0]}, {shapes[1]} and {shapes[2]}')
    if shapes[2] != (m, n):
        raise ValueError(f'solve_sylvester: a is {shapes[0]} and b is {shapes[1]}, so q must '
                         f'be ({m}, {n}), got {shapes[2]}')
    _numpy_only('solve_sylvester', a, b, q)
    return _sylvester(a, b, q)


def _sqrtm_one(m):
    import scipy.linalg
    root = scipy.linalg.sqrtm(m)
    if _np.iscomplexobj(root) and not _np.iscomplexobj(m):
        if _np.max(_np.abs(root.imag), initial=0.0) > 1e3 * _np.finfo(m.dtype).eps * \
                max(1.0, _np.max(_np.abs(root.real), initial=0.0)):
            raise ValueError('sqrtm: the matrix has no real square root (an eigenvalue is '
                             'negative).  A complex matrix gets its complex principal root, '
                             'but a negative eigenvalue lies on the branch cut of the square '
                             'root, where the root has no derivative')
        root = root.real
    return root


def _numpy_only(name, *values):
    """SciPy computes it: a CuPy (or other) array is refused in the user's terms."""
    for v in values:
        if namespace(innermost(v)) is not _np:
            raise TypeError(f'{name}: only NumPy arrays are supported (SciPy computes it), '
                            f'got {type(innermost(v)).__module__} arrays')


def _sqrtm_impl(a):
    return _each_matrix(_sqrtm_one, a).astype(a.dtype, copy=False)


# (holomorphic: the same rules hold for complex matrices)
_sqrtm = Primitive('sqrtm', _sqrtm_impl, complex_rules=True)
# X X = A:  X dX + dX X = dA, and its transpose for the VJP
_sqrtm.def_jvp(lambda t, x, a: _sylvester(x, x, t))
_sqrtm.def_vjp(lambda g, x, a: _sylvester(_mT(x), _mT(x), g))


def sqrtm(a: ArrayLike) -> Array:
    """scipy.linalg.sqrtm: the principal square root X (X X = A) of a matrix, or of
    each matrix of a stack: of a real matrix with a real one (no negative
    eigenvalue), or of a complex matrix (complex result).  Its derivative solves
    the Sylvester equation X dX + dX X = dA; it does not exist at a singular A."""
    a = _as_array(a)
    _check_square('sqrtm', a)
    _numpy_only('sqrtm', a)
    return _sqrtm(a)


# ================================================================== banded solve
def _banded_impl(ab, b, lower, upper):
    import scipy.linalg
    n = ab.shape[-1]
    flat = b.reshape(n, -1)
    x = _lapack('solve_banded', scipy.linalg.solve_banded, (lower, upper), ab, flat)
    return x.reshape(b.shape).astype(_np.result_type(ab, b), copy=False)


def _band_gather(lower, upper, n):
    """Index arrays (rows r, columns j) of the band storage: ab[r, j] = A[r + j - upper, j];
    ``row`` is that row of A (clipped) and ``inside`` whether it exists."""
    r = _np.arange(lower + upper + 1)[:, None]
    j = _np.arange(n)[None, :]
    row = r + j - upper
    inside = (row >= 0) & (row < n)
    return _np.clip(row, 0, n - 1), _np.broadcast_to(j, row.shape), inside


def _band_solve(ab, rhs, lower, upper, bnd):
    """x with A x = rhs for rhs of shape batch + b.shape (bnd batch axes)."""
    if bnd == 0:
        return _banded(ab, rhs, lower=lower, upper=upper)
    lead = list(range(bnd))
    moved = moveaxis(rhs, lead, [ndim_of(rhs) - bnd + i for i in lead])
    x = _banded(ab, moved, lower=lower, upper=upper)
    return moveaxis(x, [ndim_of(x) - bnd + i for i in lead], lead)


def _band_times(tab, x, lower, upper):
    """(T x) for T the banded matrix stored in tab (batch + (l+u+1, n)) and x of b's
    shape (n, ...): Σ_r tab[r, i + u - r] x[i + u - r]."""
    n = shape_of(x)[0]
    r = _np.arange(lower + upper + 1)[:, None]
    i = _np.arange(n)[None, :]
    col = i + upper - r
    inside = (col >= 0) & (col < n)
    col = _np.clip(col, 0, n - 1)
    rows = _np.broadcast_to(r, col.shape)
    x2 = reshape(x, (n, -1))
    terms = expand_dims(tab[..., rows, col] * inside, -1) * x2[col]
    return reshape(_sum(terms, axis=-3), tuple(shape_of(tab)[:-2]) + tuple(shape_of(x)))


def _banded_vjp(g, x, primals, params, positions):
    ab, b = primals
    lower, upper = params['lower'], params['upper']
    n = shape_of(ab)[-1]
    bnd = ndim_of(g) - ndim_of(x)
    # Aᵀ in band storage (lower and upper swapped): abᵀ[r, j] = ab[l + u - r, j + r - l]
    r = _np.arange(lower + upper + 1)[:, None]
    j = _np.arange(n)[None, :]
    col = j + r - lower
    inside = (col >= 0) & (col < n)
    ab_t = ab[lower + upper - r + 0 * col, _np.clip(col, 0, n - 1)] * inside
    y = _band_solve(ab_t, g, upper, lower, bnd)
    out = []
    for i in positions:
        if i == 1:
            out.append(real_for(y, b, x))
            continue
        # ∂/∂A = -Y Xᵀ, read on the band: -Σ_k Y[r + j - u, k] X[j, k]
        row, cols, band = _band_gather(lower, upper, n)
        y2 = reshape(y, tuple(shape_of(y)[:bnd]) + (n, -1))
        x2 = reshape(x, (n, -1))
        out.append(real_for(-_sum(y2[..., row, :] * x2[cols], axis=-1) * band, ab, x))
    return out


_banded = Primitive('solve_banded', _banded_impl, complex_rules=True)     # (holomorphic)
_banded.def_jvp(
    lambda t, x, ab, b, lower, upper: _band_solve(
        ab, -_band_times(t, x, lower, upper), lower, upper, ndim_of(t) - ndim_of(ab)),
    lambda t, x, ab, b, lower, upper: _band_solve(ab, t, lower, upper, ndim_of(t) - ndim_of(b)))
_banded.def_vjp_joint(_banded_vjp)


def solve_banded(l_and_u: Tuple[int, int], ab: ArrayLike, b: ArrayLike) -> Array:
    """scipy.linalg.solve_banded: solve A x = b for a banded A given in SciPy's band
    storage ``ab`` ((l + u + 1, n), ``ab[u + i - j, j] = A[i, j]``).  b is (n,) or
    (n, ...).  Differentiable in ab (on its band; the unused corners get zero) and
    in b; real or complex (holomorphic: the same rules, with plain transposes)."""
    try:
        lower, upper = (int(v) for v in l_and_u)
    except (TypeError, ValueError):
        raise TypeError(f'solve_banded: l_and_u must be a pair of integers (l, u), got '
                        f'{l_and_u!r}') from None
    ab, b = _as_array(ab), _as_array(b)
    s, bs = tuple(shape_of(ab)), tuple(shape_of(b))
    if lower < 0 or upper < 0 or len(s) != 2 or s[0] != lower + upper + 1:
        raise ValueError(f'solve_banded: ab must have shape (l + u + 1, n) = '
                         f'({lower + upper + 1}, n) for (l, u) = ({lower}, {upper}), got {s}')
    if not bs or bs[0] != s[1]:
        raise ValueError(f'solve_banded: ab has shape {s}, so b must have {s[1]} rows, '
                         f'got shape {bs}')
    _numpy_only('solve_banded', ab, b)
    return _banded(ab, b, lower=lower, upper=upper)


# ================================================================== matrix_power
def matrix_power(a: ArrayLike, n: int) -> Array:
    """numpy.linalg.matrix_power: A**n for an integer n by repeated squaring;
    n < 0 uses inv(A), n == 0 gives the identity (a constant)."""
    a = _as_array(a)
    _check_square('matrix_power', a)
    if isinstance(n, bool) or int(n) != n:
        raise TypeError(f'matrix_power: the exponent must be an integer, got {n!r}')
    n = int(n)
    if n == 0:
        inner = innermost(a)
        xp = namespace(inner)
        eye = xp.eye(shape_of(a)[-1], dtype=dtype_of(a))
        return wrap_like(xp.broadcast_to(eye, tuple(shape_of(a))).copy(), inner)
    if n < 0:
        a = inv(a)
        n = -n
    result = None
    base = a
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


# ================================================================== norm
def _extreme_impl(x, axis, kind):
    xp = namespace(x)
    return wrap_like((xp.max if kind == 'max' else xp.min)(x, axis=axis), x)


def _extreme_weights(ans, x, axis):
    """Where x attains its extreme along axis, with ties sharing evenly: a constant."""
    hit = equal(x, expand_dims(ans, axis))
    count = hit.sum(axis=axis, keepdims=True)
    return hit / count.astype(dtype_of(x))


def _extreme_jvp(t, ans, x, axis, kind):
    bnd = ndim_of(t) - ndim_of(x)
    return _sum(t * _extreme_weights(ans, x, axis), axis=axis + bnd)


def _extreme_vjp(g, ans, x, axis, kind):
    return expand_dims(g, axis - ndim_of(x)) * _extreme_weights(ans, x, axis)


_extreme = Primitive('norm_extreme', _extreme_impl)
_extreme.def_jvp(_extreme_jvp, None, None)
_extreme.def_vjp(_extreme_vjp, None, None)


def _vector_norm(x, ord, axis):
    if ord is None or ord == 2:
        return sqrt(_sum(x * x, axis=axis))
    if ord == 1:
        return _sum(absolute(x), axis=axis)
    if ord == _np.inf:
        return _extreme(absolute(x), axis, 'max')
    if ord == -_np.inf:
        return _extreme(absolute(x), axis, 'min')
    if ord == 0:     # the count of nonzeros: a constant
        return not_equal(x, 0).sum(axis=axis).astype(dtype_of(x))
    if isinstance(ord, str):
        raise ValueError(f'norm: invalid norm order {ord!r} for vectors')
    p = float(ord)
    return power(_sum(power(absolute(x), p), axis=axis), 1.0 / p)


def _matrix_norm(x, ord):
    """Norm over the last two axes."""
    if ord is None or ord == 'fro':
        return sqrt(_sum(x * x, axis=(-2, -1)))
    if ord == 'nuc':
        return _sum(svd(x).S, axis=-1)
    if ord in (2, -2):
        s = svd(x).S
        k = shape_of(s)[-1]
        return s[..., 0] if ord == 2 else s[..., k - 1]
    if ord in (1, -1):
        cols = _sum(absolute(x), axis=-2)
        return _extreme(cols, ndim_of(cols) - 1, 'max' if ord == 1 else 'min')
    if ord in (_np.inf, -_np.inf):
        rows = _sum(absolute(x), axis=-1)
        return _extreme(rows, ndim_of(rows) - 1, 'max' if ord > 0 else 'min')
    raise ValueError(f'norm: invalid norm order {ord!r} for matrices')


def _spectral(ord, axis, nd):
    """A matrix norm read off the singular values (2, -2, 'nuc')."""
    pair = isinstance(axis, (tuple, list)) and len(axis) == 2 or axis is None and nd == 2
    return pair and ord in (2, -2, 'nuc')


def norm(x: ArrayLike, ord: Optional[Union[int, float, str]] = None, axis: Axis = None,
         keepdims: bool = False) -> Array:
    """numpy.linalg.norm: vector norms (ord None/2, 1, inf, -inf, 0, any p) along an
    int axis, matrix norms ('fro', 'nuc', 2, -2, 1, -1, inf, -inf) over a pair of
    axes.  2-norms are not differentiable at 0; inf/max norms split the derivative
    evenly between tied entries."""
    x = _as_array(x)
    nd = ndim_of(x)
    if dtype_of(x).kind == 'c' and not _spectral(ord, axis, nd):
        x = absolute(x)     # every other norm of a complex x is that norm of |x|
    if axis is None:
        if ord is None:
            out = sqrt(_sum(x * x))
            return reshape(out, (1,) * nd) if keepdims else out
        if nd == 1:
            axis = 0
        elif nd == 2:
            axis = (0, 1)
        else:
            raise ValueError(f'norm: give axis for an order-{ord!r} norm of an array of shape '
                             f'{tuple(shape_of(x))}')
    if isinstance(axis, (tuple, list)) and len(axis) == 1:
        axis = axis[0]
    if isinstance(axis, (tuple, list)):
        if len(axis) != 2:
            raise ValueError(f'norm: axis must be an int or a pair of ints, got {axis!r}')
        r = normalize_axis(axis[0], nd)
        c = normalize_axis(axis[1], nd)
        if r == c:
            raise ValueError(f'norm: duplicate axes {axis!r}')
        moved = moveaxis(x, (r, c), (nd - 2, nd - 1))
        out = _matrix_norm(moved, ord)
        if keepdims:
            shape = list(shape_of(x))
            shape[r] = shape[c] = 1
            out = reshape(out, tuple(shape))
        return out
    ax = normalize_axis(axis, nd)
    out = _vector_norm(x, ord, ax)
    if keepdims:
        shape = list(shape_of(x))
        shape[ax] = 1
        out = reshape(out, tuple(shape))
    return out


# make ``pyad.numpy.linalg`` available as soon as pyad.linalg is imported
from .numpy import linalg as _numpy_linalg   # noqa: E402,F401
