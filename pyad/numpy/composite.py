"""NumPy functions written with pyad.numpy's own: no rules of their own, so their
derivatives (to any order, in either mode) are those of the pieces.

They are here so that ``pyad.numpy.diff(x)`` exists and so that NumPy's function of
the same name, given a traced value, dispatches here (see ``_protocol``) instead of
raising.  Parameters keep NumPy's names and defaults.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple, Union
from ..typing import Array, ArrayLike, Axis, DTypeLike, Shape
import numpy as _np

from .._core.batching import per_example

from .._core.box import Box, innermost, shape_of, ndim_of
from .._core.batching import holds_batch, one_example, per_example
from ..backend import (namespace, on_device_of, to_numpy, is_dask, any_true, known_on_client,
                       DaskUnsupported)
from ._batching import normalize_axis
from .elementwise import where as _where
from .manipulation import (concatenate, ravel, reshape, sort, take, flip, swapaxes,
                           moveaxis, expand_dims, stack, broadcast_to, astype, pad)
from .creation import listed
from .reductions import sum, mean, max, min, cumsum, cumprod
from .complexes import conj, real


def _arr(a):
    """A list or number as an array (traced values and arrays as they are; a list
    holding traced values is stacked differentiably)."""
    if isinstance(a, Box) or hasattr(a, 'shape'):
        return a
    return listed(a) if isinstance(a, (list, tuple)) else _np.asarray(a)


def _along(a, axis, sl):
    """a[..., sl, ...] with sl at axis."""
    return a[(slice(None),) * axis + (sl,)]


def _as_edge(v, a, axis):
    """prepend/append values, broadcast to a's shape with length 1 along axis."""
    shape = list(shape_of(a))
    if ndim_of(v) == 0:
        shape[axis] = 1
        if isinstance(v, (int, float)):      # a Python number takes a's dtype (float32 stays)
            dtype = _np.result_type(innermost(a))
            return _np.full(shape, v, dtype=dtype if dtype.kind == 'f' else None)
        return broadcast_to(v, tuple(shape))
    return v


def diff(a: ArrayLike, n: int = 1, axis: int = -1, prepend: Optional[ArrayLike] = None,
         append: Optional[ArrayLike] = None) -> Array:
    """numpy.diff."""
    a = _arr(a)
    if n < 0:
        raise ValueError(f'diff: order must be non-negative but got {n}')
    if n == 0:
        return a
    axis = normalize_axis(axis, ndim_of(a), 'diff: axis')
    parts = [a]
    if prepend is not None:
        parts.insert(0, _as_edge(prepend, a, axis))
    if append is not None:
        parts.append(_as_edge(append, a, axis))
    if len(parts) > 1:
        a = concatenate(parts, axis=axis)
    for _ in range(n):
        a = _along(a, axis, slice(1, None)) - _along(a, axis, slice(None, -1))
    return a


def ediff1d(ary: ArrayLike, to_end: Optional[ArrayLike] = None,
            to_begin: Optional[ArrayLike] = None) -> Array:
    """numpy.ediff1d."""
    ary = _arr(ary)
    to_end = None if to_end is None else _arr(to_end)
    to_begin = None if to_begin is None else _arr(to_begin)
    d = diff(ravel(ary))
    parts = [ravel(v) if ndim_of(v) else reshape(v, (1,))
             for v in (to_begin,) if v is not None] + [d] + \
            [ravel(v) if ndim_of(v) else reshape(v, (1,)) for v in (to_end,) if v is not None]
    return concatenate(parts) if len(parts) > 1 else d


def append(arr: ArrayLike, values: ArrayLike, axis: Axis = None) -> Array:
    """numpy.append."""
    arr, values = _arr(arr), _arr(values)
    if axis is None:
        return concatenate([ravel(arr), ravel(values)])
    return concatenate([arr, values], axis=axis)


def average(a: ArrayLike, axis: Axis = None, weights: Optional[ArrayLike] = None,
            returned: bool = False, *, keepdims: bool = False) -> Union[Array, Tuple[Array, Array]]:
    """numpy.average."""
    a = _arr(a)
    weights = None if weights is None else _arr(weights)
    if weights is None:
        avg = mean(a, axis=axis, keepdims=keepdims)
        if returned:
            count = _np.prod(shape_of(a)) if axis is None else _count(shape_of(a), axis)
            return avg, _np.full(shape_of(avg), float(count))
        return avg
    if shape_of(weights) != shape_of(a):
        if axis is None or ndim_of(weights) != 1:
            raise TypeError('average: 1D weights need an axis; otherwise weights must have '
                            "a's shape")
        axis_ = normalize_axis(axis, ndim_of(a), 'average: axis')
        shape = [1] * ndim_of(a)
        shape[axis_] = shape_of(weights)[0]
        weights = reshape(weights, tuple(shape))
    total = sum(weights * 1.0 + 0.0 * a, axis=axis, keepdims=keepdims)
    avg = sum(a * weights, axis=axis, keepdims=keepdims) / total
    return (avg, total) if returned else avg


def _count(shape, axis):
    axes = axis if isinstance(axis, tuple) else (axis,)
    n = 1
    for ax in axes:
        n *= shape[ax]
    return n


def ptp(a: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Array:
    """numpy.ptp: max - min."""
    return max(a, axis=axis, keepdims=keepdims) - min(a, axis=axis, keepdims=keepdims)


def quantile(a: ArrayLike, q: ArrayLike, axis: Axis = None, keepdims: bool = False,
             method: str = 'linear') -> Array:
    """numpy.quantile (method 'linear', NumPy's default): the sorted values,
    interpolated linearly; differentiable in a and in q."""
    a = _arr(a)
    if method != 'linear':
        raise NotImplementedError(f"quantile: only method='linear' is supported, got {method!r}")
    if axis is None:
        s = sort(ravel(a))
        axis_ = 0
    else:
        axis_ = normalize_axis(axis, ndim_of(a), 'quantile: axis')
        s = moveaxis(sort(a, axis=axis_), axis_, -1)
    n = shape_of(s)[-1]
    if holds_batch(q):
        raise NotImplementedError('quantile: under vmap, q must be the same for every example '
                                  '(in_axes None for it)')
    qv = _np.asarray(innermost(known_on_client('quantile', 'q', q)), dtype=float)
    if _np.any(qv < 0) or _np.any(qv > 1):
        raise ValueError('quantile: quantiles must be in the range [0, 1]')
    pos = qv * (n - 1)
    lo = _np.floor(pos).astype(int)
    hi = _np.minimum(lo + 1, n - 1)
    if isinstance(q, Box):
        frac = q * (n - 1) - lo          # differentiable in q too
    else:
        dtype = _np.result_type(innermost(a))
        frac = _np.asarray(pos - lo, dtype=dtype if dtype.kind == 'f' else _np.float64)
    s_lo, s_hi = take(s, lo, axis=-1), take(s, hi, axis=-1)
    if ndim_of(lo) > 0:               # q an array: NumPy puts its axes first
        s_lo, s_hi = moveaxis(s_lo, -1, 0), moveaxis(s_hi, -1, 0)
        frac = reshape(frac, shape_of(lo) + (1,) * (ndim_of(s_lo) - ndim_of(lo)))
    out = s_lo + (s_hi - s_lo) * frac
    if keepdims:
        k = ndim_of(lo)
        if axis is None:
            out = reshape(out, shape_of(out)[:k] + (1,) * ndim_of(a))
        else:
            out = expand_dims(out, k + axis_)
    return out


def percentile(a: ArrayLike, q: ArrayLike, axis: Axis = None, keepdims: bool = False,
               method: str = 'linear') -> Array:
    """numpy.percentile (method 'linear')."""
    known_on_client('percentile', 'q', q)
    return quantile(a, q / 100.0 if isinstance(q, Box) else _np.asarray(q) / 100.0,
                    axis=axis, keepdims=keepdims, method=method)


def median(a: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Array:
    """numpy.median."""
    return quantile(a, 0.5, axis=axis, keepdims=keepdims)


def cumulative_sum(x: ArrayLike, axis: Axis = None, dtype: DTypeLike = None,
                   include_initial: bool = False) -> Array:
    """numpy.cumulative_sum."""
    return _cumulative('cumulative_sum', cumsum, 0.0, x, axis, dtype, include_initial)


def cumulative_prod(x: ArrayLike, axis: Axis = None, dtype: DTypeLike = None,
                    include_initial: bool = False) -> Array:
    """numpy.cumulative_prod."""
    return _cumulative('cumulative_prod', cumprod, 1.0, x, axis, dtype, include_initial)


def _cumulative(name, fn, initial, x, axis, dtype, include_initial):
    if axis is None:
        if ndim_of(x) > 1:
            raise ValueError(f'{name}: axis must be given for arrays of more than one dimension')
        axis = 0
    axis = normalize_axis(axis, ndim_of(x), f'{name}: axis')
    out = fn(x, axis=axis)
    if dtype is not None:
        out = astype(out, dtype)
    if include_initial:
        shape = list(shape_of(out))
        shape[axis] = 1
        first = _np.full(shape, initial, dtype=_np.result_type(innermost(out)))
        out = concatenate([first, out], axis=axis)
    return out


def copy(a: ArrayLike, order: str = 'K', subok: bool = False) -> Array:
    """numpy.copy: a traced value is never written into, so it is its own copy."""
    if isinstance(a, Box) or is_dask(a):       # (nor is a Dask array)
        return a
    return _np.copy(a, order=order, subok=subok)




def _vector_axis(v, axis, name):
    """The axis of v holding its vectors, checked: 2 or 3 components."""
    if ndim_of(v) == 0:
        raise ValueError(f'cross: {name} is a scalar; it must hold 2- or 3-vectors')
    axis = normalize_axis(axis, ndim_of(v), f'cross: axis{name}')
    if shape_of(v)[axis] not in (2, 3):
        raise ValueError(f'cross: incompatible dimensions for cross product (dimension must '
                         f'be 2 or 3): {name} has vectors of {shape_of(v)[axis]} along axis{name}')
    return axis


def _cross_axes(a, b, axisa, axisb):
    """cross's vector axes, checked, and the shape the other axes broadcast to."""
    axisa, axisb = _vector_axis(a, axisa, 'a'), _vector_axis(b, axisb, 'b')
    rest_a = tuple(n for i, n in enumerate(shape_of(a)) if i != axisa)
    rest_b = tuple(n for i, n in enumerate(shape_of(b)) if i != axisb)
    try:
        return axisa, axisb, _np.broadcast_shapes(rest_a, rest_b)
    except ValueError:
        raise ValueError(f'cross: the vectors of a (shape {rest_a} of them) and of b '
                         f'(shape {rest_b}) cannot be broadcast together') from None


def _product_minus(p, q, r, s):
    """p * q - r * s, a missing factor (the zero third component of a 2-vector)
    dropping its term."""
    first = None if p is None or q is None else p * q
    second = None if r is None or s is None else r * s
    if second is None:
        return first
    return -second if first is None else first - second


def cross(a: ArrayLike, b: ArrayLike, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: Axis = None) -> Array:
    """numpy.cross: vectors of 2 or 3 components along ``axisa`` of a and ``axisb`` of b
    (``axis`` sets all three axes), broadcast over the other axes.  Two 2-vectors give
    the z component alone; otherwise the 3-vectors of the result lie along ``axisc``
    (a 2-vector is one of 3 with zero z)."""
    a, b = _arr(a), _arr(b)
    if axis is not None:
        axisa = axisb = axisc = axis
    axisa, axisb, rest = _cross_axes(a, b, axisa, axisb)
    x, y = shape_of(a)[axisa], shape_of(b)[axisb]
    if x == 3 or y == 3:
        axisc = normalize_axis(axisc, len(rest) + 1, 'cross: axisc')
        if x == y == 3 and isinstance(a, _np.ndarray) and isinstance(b, _np.ndarray):
            return _np.cross(a, b, axisa=axisa, axisb=axisb, axisc=axisc)   # plain: NumPy's
    a, b = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)
    a0, a1, a2 = (a[..., i] if i < x else None for i in range(3))
    b0, b1, b2 = (b[..., i] if i < y else None for i in range(3))
    z = _product_minus(a0, b1, a1, b0)
    if x == y == 2:
        return z
    c = stack([_product_minus(a1, b2, a2, b1), _product_minus(a2, b0, a0, b2), z], axis=-1)
    return moveaxis(c, -1, axisc)


def trapezoid(y: ArrayLike, x: Optional[ArrayLike] = None, dx: ArrayLike = 1.0,
              axis: int = -1) -> Array:
    """numpy.trapezoid."""
    y = _arr(y)
    x = None if x is None else _arr(x)
    axis = normalize_axis(axis, ndim_of(y), 'trapezoid: axis')
    if x is None:
        d = dx
    else:
        d = diff(x) if ndim_of(x) == 1 else diff(x, axis=axis)
        if ndim_of(x) == 1 and ndim_of(y) > 1:
            shape = [1] * ndim_of(y)
            shape[axis] = shape_of(d)[0]
            d = reshape(d, tuple(shape))
    mid = (_along(y, axis, slice(1, None)) + _along(y, axis, slice(None, -1))) / 2.0
    return sum(mid * d, axis=axis)


def rot90(m: ArrayLike, k: int = 1, axes: Any = (0, 1)) -> Array:
    """numpy.rot90."""
    k %= 4
    a0, a1 = axes
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a0), a1)
    if k == 1:
        return swapaxes(flip(m, a1), a0, a1)
    return flip(swapaxes(m, a0, a1), a1)


def rollaxis(a: ArrayLike, axis: int, start: ArrayLike = 0) -> Array:
    """numpy.rollaxis."""
    n = ndim_of(a)
    axis = normalize_axis(axis, n, 'rollaxis: axis')
    if start < 0:
        start += n
    if start > axis:
        start -= 1
    return moveaxis(a, axis, start) if axis != start else a


def polyval(p: ArrayLike, x: ArrayLike) -> Array:
    """numpy.polyval: Horner's scheme."""
    y = 0.0 * x
    for c in (p if isinstance(p, (list, tuple)) else [p[i] for i in range(shape_of(p)[0])]):
        y = y * x + c
    return y


@per_example
def interp(x: ArrayLike, xp: ArrayLike, fp: ArrayLike, left: Optional[ArrayLike] = None,
           right: Optional[ArrayLike] = None, period: Optional[ArrayLike] = None) -> Array:
    """numpy.interp: piecewise-linear interpolation, differentiable in x, xp and fp
    (one-sided at the knots)."""
    x, xp, fp = _arr(x), _arr(xp), _arr(fp)
    if is_dask(x) or is_dask(xp):
        raise DaskUnsupported('pyad.numpy.interp: x and xp must be known on the client (each x '
                              'is placed among the knots there); fp may be a Dask array')
    if period is not None:
        return interp(*_periodic(x, xp, fp, period))
    xv, xpv = to_numpy(x), to_numpy(xp)
    if xpv.ndim != 1 or _np.ndim(innermost(fp)) != 1 or len(xpv) != len(innermost(fp)):
        raise ValueError('interp: xp and fp must be 1-D sequences of the same length')
    n = len(xpv)
    if n == 1:
        y = 0.0 * x + take(fp, 0)
    else:
        i = _np.clip(_np.searchsorted(xpv, xv, side='right'), 1, n - 1)   # in [xp[i-1], xp[i]]
        x0, x1 = take(xp, i - 1), take(xp, i)
        y0, y1 = take(fp, i - 1), take(fp, i)
        y = y0 + (x - x0) / (x1 - x0) * (y1 - y0)
    lo = take(fp, 0) if left is None else left
    hi = take(fp, n - 1) if right is None else right
    device = innermost(y)
    return _where(on_device_of(xv < xpv[0], device), lo,
                  _where(on_device_of(xv > xpv[-1], device), hi, y))


def _periodic(x, xp, fp, period):
    """interp's arguments for a period: everything taken modulo the period, the
    knots sorted and extended by one period on each side (as NumPy does)."""
    from .elementwise import mod
    period = abs(float(innermost(period)))
    if period == 0:
        raise ValueError('interp: period must be a non-zero value')
    x, xp = mod(x, period), mod(xp, period)
    order = _np.argsort(to_numpy(xp), kind='stable')
    xp, fp = take(xp, order), take(fp, order)
    return (x, concatenate([xp[-1:] - period, xp, xp[:1] + period]),
            concatenate([fp[-1:], fp, fp[:1]]))


@per_example
def _cov_weights(fweights, aweights, x, dtype):
    """cov's observation weights (fweights * aweights; None for none), checked."""
    n = shape_of(x)[1]
    w = None
    for name, weights in (('fweights', fweights), ('aweights', aweights)):
        if weights is None:
            continue
        weights = _arr(weights)
        plain = to_numpy(weights)
        if plain.ndim != 1 or plain.shape[0] != n:
            raise ValueError(f'cov: {name} must be 1-D with one weight per observation ({n}), '
                             f'got shape {plain.shape}')
        if _np.any(plain < 0):
            raise ValueError(f'cov: {name} cannot be negative')
        if name == 'fweights':
            if not _np.all(plain == _np.around(plain)):
                raise TypeError('cov: fweights must be integers')
            weights = on_device_of(_np.asarray(plain, dtype=dtype), innermost(x))   # counts
        w = weights if w is None else w * weights
    return w


def _cov_divisor(w, w_sum, aweights, ddof, n):
    if w is None:
        return float(n - ddof)
    if ddof == 0:
        return w_sum
    if aweights is None:
        return w_sum - ddof
    return w_sum - ddof * sum(w * _arr(aweights)) / w_sum


def cov(m: ArrayLike, y: Optional[ArrayLike] = None, rowvar: bool = True, bias: bool = False,
        ddof: Optional[int] = None, fweights: Optional[ArrayLike] = None,
        aweights: Optional[ArrayLike] = None, *, dtype: DTypeLike = None) -> Array:
    """numpy.cov, with frequency and analytic weights (differentiable in m, y and
    aweights; fweights are integer counts)."""
    m = _arr(m)
    y = None if y is None else _arr(y)

    def rows(a):                     # variables as rows
        if ndim_of(a) == 1:
            return reshape(a, (1, -1))
        return a if rowvar else swapaxes(a, 0, 1)
    x = rows(m)
    if y is not None:
        x = concatenate([x, rows(y)], axis=0)
    if dtype is not None:
        x = astype(x, dtype)
    n = shape_of(x)[1]
    ddof = (0 if bias else 1) if ddof is None else ddof
    float_dtype = _np.result_type(innermost(x), 1.0)
    w = _cov_weights(fweights, aweights, x, float_dtype if float_dtype.kind == 'f' else float)
    if w is None:
        xc = x - mean(x, axis=1, keepdims=True)
        c = (xc @ conj(swapaxes(xc, 0, 1))) / float(n - ddof)
    else:
        w_sum = sum(w)
        xc = x - reshape(sum(x * w, axis=1) / w_sum, (-1, 1))
        c = (xc @ conj(swapaxes(xc * w, 0, 1))) / _cov_divisor(w, w_sum, aweights, ddof, n)
    if shape_of(c) == (1, 1):
        return reshape(c, ())
    return c


def corrcoef(x: ArrayLike, y: Optional[ArrayLike] = None, rowvar: bool = True, *,
             dtype: DTypeLike = None) -> Array:
    """numpy.corrcoef."""
    c = cov(x, y, rowvar, dtype=dtype)
    if ndim_of(c) == 0:
        return c / c
    from .manipulation import diagonal
    from .elementwise import sqrt
    d = sqrt(real(diagonal(c)))          # (real: a complex c has a real diagonal)
    return c / (reshape(d, (-1, 1)) * reshape(d, (1, -1)))


def convolve(a: ArrayLike, v: ArrayLike, mode: str = 'full') -> Array:
    """numpy.convolve of two 1-D arrays."""
    a, v = _arr(a), _arr(v)
    a, v = ravel(a), ravel(v)
    n, m = shape_of(a)[0], shape_of(v)[0]
    if n == 0 or m == 0:
        raise ValueError('convolve: a and v must not be empty')
    if m > n:
        a, v, n, m = v, a, m, n
    ap = pad(a, m - 1)
    full = None
    for j in range(m):
        term = v[j] * ap[m - 1 - j:m - 1 - j + n + m - 1]
        full = term if full is None else full + term
    if mode == 'full':
        return full
    if mode == 'same':
        start = (m - 1) // 2
        return full[start:start + n]
    if mode == 'valid':
        return full[m - 1:n]
    raise ValueError(f"convolve: mode must be 'full', 'same' or 'valid', not {mode!r}")


def correlate(a: ArrayLike, v: ArrayLike, mode: str = 'valid') -> Array:
    """numpy.correlate of two 1-D arrays (v conjugated, as NumPy does)."""
    a, v = _arr(a), _arr(v)
    a, v = ravel(a), conj(ravel(v))
    if shape_of(v)[0] > shape_of(a)[0]:          # NumPy swaps, and reverses the result
        return flip(convolve(v, flip(a, 0), mode), 0)
    return convolve(a, flip(v, 0), mode)




# ===================================================================== more of NumPy
def where(condition: ArrayLike, x: Optional[ArrayLike] = None,
          y: Optional[ArrayLike] = None) -> Array:
    """numpy.where: ``where(c, x, y)`` chooses elementwise (differentiable in x and
    y); ``where(c)`` alone is ``nonzero(c)``, a tuple of index arrays."""
    if x is None and y is None:
        return _np.nonzero(innermost(condition))
    if x is None or y is None:
        raise ValueError('where: either both or neither of x and y should be given')
    return _where(condition, x, y)


def _condition(c, name):
    c = innermost(c)
    if not hasattr(c, 'dtype'):
        c = _np.asarray(c)
    if c.dtype != bool:
        raise TypeError(f'{name}: conditions must be boolean arrays, got dtype {c.dtype}')
    return c


@per_example
def select(condlist: Sequence[ArrayLike], choicelist: Sequence[ArrayLike],
           default: ArrayLike = 0) -> Array:
    """numpy.select: the choice of the first true condition, elementwise (default
    where none is); differentiable in the choices and the default."""
    if len(condlist) != len(choicelist):
        raise ValueError(f'select: condlist has {len(condlist)} entries but choicelist has '
                         f'{len(choicelist)}; they must be of the same length')
    if not condlist:
        raise ValueError('select: an empty condition list is not possible')
    conditions = [_condition(c, 'select') for c in condlist]
    choices = [_arr(c) for c in choicelist]
    dtype = _np.result_type(*[innermost(c) for c in choices])
    shape = _np.broadcast_shapes(*[shape_of(a) for a in conditions + choices],
                                 shape_of(_arr(default)))
    out = default if isinstance(default, Box) or hasattr(default, 'dtype') else dtype.type(default)
    for c, choice in zip(reversed(conditions), reversed(choices)):
        out = _where(c, choice, out)
    return broadcast_to(astype(out, dtype) if dtype.kind == 'f' else out, shape)


def _piecewise_conditions(x, condlist, n):
    """piecewise's conditions as boolean arrays of x's shape, one per function."""
    if _np.isscalar(condlist) or (not isinstance(condlist[0], (list, _np.ndarray, Box))
                                  and not is_dask(condlist[0]) and ndim_of(x) != 0):
        condlist = [condlist]           # one condition, as NumPy reads it
    xp = namespace(x)
    conditions = [xp.broadcast_to(xp.asarray(_condition(c, 'piecewise')), shape_of(x))
                  for c in condlist]
    if n == len(conditions) + 1:        # the last function: where no condition holds
        rest = xp.ones(shape_of(x), dtype=bool)
        for c in conditions:
            rest = rest & ~c
        conditions.append(rest)
    elif n != len(conditions):
        raise ValueError(f'piecewise: with {len(conditions)} condition(s), funclist must have '
                         f'{len(conditions)} or {len(conditions) + 1} entries, got {n}')
    return conditions


@per_example
def piecewise(x: ArrayLike, condlist: Union[ArrayLike, Sequence[ArrayLike]],
              funclist: Sequence[Any], *args: Any, **kw: Any) -> Array:
    """numpy.piecewise: the k-th function of funclist (called with args and kw)
    on the entries of x where the k-th condition holds; later conditions win, an
    extra function covers the entries no condition holds for, and a number is a
    constant.  Each function sees only its own entries, as in NumPy, so a function
    undefined elsewhere (sqrt of the negative entries) costs no NaN derivative."""
    from .updates import at
    x = _arr(x)
    if is_dask(x) or any(is_dask(c) for c in (condlist if isinstance(condlist, list) else [condlist])):
        raise DaskUnsupported('pyad.numpy.piecewise: each function sees only its own entries, '
                              'which Dask arrays give only with lengths unknown until computed; '
                              'use pyad.numpy.where(condition, f(x), g(x)) on Dask arrays')
    out = namespace(x).zeros(shape_of(x), dtype=_np.result_type(innermost(x)))
    for c, f in zip(_piecewise_conditions(x, condlist, len(funclist)), funclist):
        if not c.any():
            continue
        value = f(x[c], *args, **kw) if callable(f) else f
        out = at(out)[c].set(value)
    return out


def _on_axis(v, axis, nd):
    """A 1-D v shaped to broadcast along axis of an nd-dimensional array."""
    shape = [1] * nd
    shape[axis] = -1
    return reshape(v, tuple(shape))


def _gradient_uniform(f, axis, h, edge_order):
    """Second-order central differences inside, one-sided at the edges, spacing h."""
    inner = (_along(f, axis, slice(2, None)) - _along(f, axis, slice(None, -2))) / (2.0 * h)
    if edge_order == 1:
        first = (_along(f, axis, slice(1, 2)) - _along(f, axis, slice(0, 1))) / h
        last = (_along(f, axis, slice(-1, None)) - _along(f, axis, slice(-2, -1))) / h
    else:
        def p(i):
            return _along(f, axis, slice(i, i + 1 if i != -1 else None))
        first = (-1.5 * p(0) + 2.0 * p(1) - 0.5 * p(2)) / h
        last = (0.5 * p(-3) - 2.0 * p(-2) + 1.5 * p(-1)) / h
    return concatenate([first, inner, last], axis=axis)


def _gradient_coordinates(f, axis, coords, edge_order):
    """The same for points at the coordinates coords (second order inside, as NumPy)."""
    nd = ndim_of(f)
    dx = diff(coords)

    def d(i):
        return _on_axis(dx[i:i + 1] if i != -1 else dx[-1:], axis, nd)

    def p(i):
        return _along(f, axis, slice(i, i + 1 if i != -1 else None))
    hd, hs = _on_axis(dx[:-1], axis, nd), _on_axis(dx[1:], axis, nd)
    inner = (-hs / (hd * (hd + hs)) * _along(f, axis, slice(None, -2))
             + (hs - hd) / (hd * hs) * _along(f, axis, slice(1, -1))
             + hd / (hs * (hd + hs)) * _along(f, axis, slice(2, None)))
    if edge_order == 1:
        first = (p(1) - p(0)) / d(0)
        last = (p(-1) - p(-2)) / d(-1)
    else:
        a, b = d(0), d(1)
        first = (-(2.0 * a + b) / (a * (a + b)) * p(0) + (a + b) / (a * b) * p(1)
                 - a / (b * (a + b)) * p(2))
        a, b = d(-2), d(-1)
        last = (b / (a * (a + b)) * p(-3) - (a + b) / (a * b) * p(-2)
                + (2.0 * b + a) / (b * (a + b)) * p(-1))
    return concatenate([first, inner, last], axis=axis)


def _spacing(h):
    """A spacing of gradient: a plain scalar as a Python float (weak: float32 stays
    float32, as in NumPy), an array or traced value as it is."""
    if isinstance(h, Box) or getattr(h, 'ndim', 0) > 0:
        return h
    return _np.asarray(h) if isinstance(h, (list, tuple)) else float(h)


def _gradient_spacings(varargs, axes, f):
    if not varargs:
        return [1.0] * len(axes)
    if len(varargs) == 1 and ndim_of(_arr(varargs[0])) == 0:
        return [_spacing(varargs[0])] * len(axes)
    if len(varargs) != len(axes):
        raise TypeError(f'gradient: give one spacing for all axes or one per axis '
                        f'({len(axes)}), got {len(varargs)}')
    out = []
    for ax, h in zip(axes, varargs):
        h = _spacing(h)
        if ndim_of(h) == 1 and shape_of(h)[0] != shape_of(f)[ax]:
            raise ValueError(f'gradient: the coordinates for axis {ax} have length '
                             f'{shape_of(h)[0]}, the array {shape_of(f)[ax]}')
        if ndim_of(h) > 1:
            raise ValueError('gradient: a spacing must be a scalar or 1-D coordinates')
        out.append(h)
    return out


def gradient(f: ArrayLike, *varargs: ArrayLike, axis: Axis = None, edge_order: int = 1) -> Union[Array, List[Array]]:
    """numpy.gradient: central differences inside, one-sided differences of order
    edge_order (1 or 2) at the edges, for unit, scalar or coordinate spacings;
    differentiable in f and in the spacings."""
    f = _arr(f)
    nd = ndim_of(f)
    if nd == 0:
        raise ValueError('gradient: the array must have at least one dimension')
    if edge_order not in (1, 2):
        raise ValueError(f"gradient: edge_order must be 1 or 2, got {edge_order}")
    single = isinstance(axis, (int, _np.integer))
    axes = tuple(range(nd)) if axis is None else tuple(
        normalize_axis(a, nd, 'gradient: axis') for a in ((axis,) if single else axis))
    out = []
    for ax, h in zip(axes, _gradient_spacings(varargs, axes, f)):
        if shape_of(f)[ax] < edge_order + 1:
            raise ValueError(f'gradient: axis {ax} has {shape_of(f)[ax]} points; at least '
                             f'edge_order + 1 = {edge_order + 1} are needed')
        if ndim_of(h) == 0:
            out.append(_gradient_uniform(f, ax, h, edge_order))
        else:
            out.append(_gradient_coordinates(f, ax, h, edge_order))
    return out[0] if len(out) == 1 else out


@per_example
def nan_to_num(x: ArrayLike, copy: bool = True, nan: ArrayLike = 0.0,
               posinf: Optional[ArrayLike] = None, neginf: Optional[ArrayLike] = None) -> Array:
    """numpy.nan_to_num: NaN and infinities replaced by numbers (whose derivative is
    zero); the derivative is 1 at the finite entries."""
    x = _arr(x)
    dtype = _np.result_type(innermost(x))
    if dtype.kind != 'f':
        return x
    big = _np.finfo(dtype).max
    xp = namespace(x)
    plain = xp.asarray(innermost(x))
    out = x
    for mask, value in ((xp.isnan(plain), nan), (plain == _np.inf, big if posinf is None else posinf),
                        (plain == -_np.inf, -big if neginf is None else neginf)):
        if any_true(mask):
            out = _where(mask, dtype.type(value), out)
    return out


@per_example
def partition(a: ArrayLike, kth: Union[int, Sequence[int]], axis: int = -1,
              kind: str = 'introselect', order: Optional[str] = None) -> Array:
    """numpy.partition: the entries rearranged as NumPy's partition puts them (the
    kth in its sorted place); the derivative follows the entries."""
    if order is not None:
        raise NotImplementedError('partition: order =  (structured arrays) is not supported')
    from .manipulation import take_along_axis
    a = _arr(a)
    if axis is None:
        a, axis = ravel(a), 0
    plain = innermost(a)
    return take_along_axis(a, namespace(plain).argpartition(plain, kth, axis=axis), axis)


def dsplit(ary: ArrayLike, indices_or_sections: Union[int, Sequence[int]]) -> List[Array]:
    """numpy.dsplit: split along the third axis."""
    from .manipulation import _split_common
    if ndim_of(ary) < 3:
        raise ValueError('dsplit only works on arrays of 3 or more dimensions')
    return _split_common('dsplit', ary, indices_or_sections, 2, True)


def compress(condition: ArrayLike, a: ArrayLike, axis: Axis = None) -> Array:
    """numpy.compress: the slices of a where condition (1-D, maybe shorter) holds."""
    a = _arr(a)
    if is_dask(condition):
        return _lazy_compress(condition, a, axis)
    c = _condition(_np.asarray(innermost(condition)).astype(bool), 'compress')
    if c.ndim != 1:
        raise ValueError('compress: condition must be a 1-d array')
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis(axis, ndim_of(a), 'compress: axis')
    if len(c) > shape_of(a)[axis]:
        raise IndexError(f'compress: condition has {len(c)} entries, more than the '
                         f'{shape_of(a)[axis]} along axis {axis}')
    return take(a, _np.nonzero(c)[0], axis=axis)


def _lazy_compress(condition, a, axis):
    """compress by a Dask condition: a lazy mask of the axis (as ``x[:, mask]``), so
    it must be as long as the axis (a shorter one would need its length computed)."""
    c = innermost(condition)
    if c.ndim != 1:
        raise ValueError('compress: condition must be a 1-d array')
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis(axis, ndim_of(a), 'compress: axis')
    if c.shape[0] != shape_of(a)[axis]:
        raise DaskUnsupported(f'pyad.numpy.compress: a Dask condition must be as long as axis '
                              f'{axis} ({shape_of(a)[axis]}), not {c.shape[0]}')
    return a[(slice(None),) * axis + (c.astype(bool),)]


def resize(a: ArrayLike, new_shape: Shape) -> Array:
    """numpy.resize: a's entries repeated in order to fill new_shape."""
    a = ravel(_arr(a))
    known_on_client('resize', 'new_shape', new_shape)
    shape = (new_shape,) if isinstance(new_shape, (int, _np.integer)) else tuple(new_shape)
    n = int(_np.prod(shape, dtype=_np.intp))
    size = shape_of(a)[0]
    if n and not size:
        raise ValueError('resize: cannot fill a non-empty shape from an empty array')
    if n == 0:
        return reshape(a[:0], shape)
    reps = -(-n // size)
    return reshape(concatenate([a] * reps)[:n] if reps > 1 else a[:n], shape)


@per_example
def histogram(a: ArrayLike, bins: ArrayLike = 10, range: Optional[ArrayLike] = None,
              density: Optional[bool] = None, weights: Optional[ArrayLike] = None) -> Tuple[Array, Array]:
    """numpy.histogram.  The counts of a are piecewise constant in a (derivative 0);
    they are differentiable in traced weights, and the bin edges that NumPy computes
    from a's minimum and maximum are differentiable in those."""
    a = _arr(a)
    plain = innermost(a)
    w_plain = None if weights is None else innermost(weights)
    counts, edges = namespace(plain).histogram(plain, innermost(bins), range,
                                               weights=w_plain)
    if isinstance(a, Box) and isinstance(bins, (int, _np.integer)) and range is None \
            and plain.size:
        edges = _data_edges(a, int(bins))
    if isinstance(weights, Box):
        counts = _weighted_counts(plain, weights, to_numpy(edges), len(counts))
    if density:
        counts = counts / sum(counts) / diff(edges)
    return counts, edges


def _data_edges(a, bins):
    """histogram's edges from a's minimum and maximum, differentiable in those."""
    from .creation import linspace
    lo, hi = min(a), max(a)
    if float(innermost(lo)) == float(innermost(hi)):
        lo, hi = lo - 0.5, hi + 0.5          # NumPy's range for equal values
    return linspace(lo, hi, bins + 1)


def _weighted_counts(plain, weights, edges, n):
    """The sum of the weights in each bin: NumPy's bins (the last one closed)."""
    from .updates import at
    values = to_numpy(plain).ravel()
    index = _np.searchsorted(edges, values, side='right') - 1
    index[values == edges[-1]] = n - 1
    inside = _np.nonzero((index >= 0) & (index < n))[0]
    flat_w = ravel(broadcast_to(weights, shape_of(plain)))
    zeros = namespace(plain).zeros(n, dtype=_np.result_type(innermost(weights)))
    return at(zeros)[index[inside]].add(take(flat_w, inside))


# ===================================================================== edits, polynomials
def _layout(func, arr, *args, axis=None):
    """The entries of func(arr, ...) (numpy.delete, insert) as ids: k >= 0 for arr's
    flat entry k, -1 - k for the k-th flat entry of the inserted values.  NumPy
    computes the layout, so every index rule of NumPy's function holds."""
    ids = _np.arange(int(_np.prod(shape_of(arr), dtype=_np.intp))).reshape(shape_of(arr))
    return func(ids, *args, axis=axis)


def delete(arr: ArrayLike, obj: ArrayLike, axis: Axis = None) -> Array:
    """numpy.delete: arr without the entries obj names (along axis, or flattened)."""
    arr = _arr(arr)
    ids = _layout(_np.delete, arr, obj, axis=axis)
    return reshape(take(ravel(arr), ids.ravel()), ids.shape)


def insert(arr: ArrayLike, obj: ArrayLike, values: ArrayLike, axis: Axis = None) -> Array:
    """numpy.insert: values inserted before the indices obj; differentiable in arr
    and in values (a value NumPy broadcasts to several places gets all their
    derivatives)."""
    arr, values = _arr(arr), _arr(values)
    n_values = int(_np.prod(shape_of(values), dtype=_np.intp))
    marks = -1 - _np.arange(n_values).reshape(shape_of(values))
    layout = _layout(_np.insert, arr, obj, marks, axis=axis)
    ids = layout.ravel()
    dtype = _np.result_type(innermost(arr))
    if dtype.kind == 'f' and isinstance(values, Box) and values.dtype != dtype:
        values = astype(values, dtype)
    from_arr = take(ravel(arr), _np.where(ids >= 0, ids, 0))
    from_values = take(ravel(values), _np.where(ids < 0, -1 - ids, 0)) if n_values else from_arr
    out = _where(on_device_of(ids >= 0, from_arr), from_arr, from_values)
    return reshape(out, layout.shape)


def extract(condition: ArrayLike, arr: ArrayLike) -> Array:
    """numpy.extract: the entries of arr where condition (flattened) holds."""
    if is_dask(condition):      # a lazy mask of the flattened array
        return _lazy_compress(ravel(condition), ravel(_arr(arr)), 0)
    c = _np.ravel(_np.asarray(innermost(condition))).astype(bool)
    return take(ravel(_arr(arr)), _np.nonzero(c)[0])


@per_example
def trim_zeros(filt: ArrayLike, trim: str = 'fb') -> Array:
    """numpy.trim_zeros of a 1-D array: the leading and/or trailing zeros removed."""
    filt = _arr(filt)
    if is_dask(filt):
        raise DaskUnsupported('pyad.numpy.trim_zeros: the length of the result depends on the '
                              'values; Dask arrays are refused (trim a computed array, or mask '
                              'lazily: x[x != 0])')
    nonzero = _np.nonzero(to_numpy(filt) != 0)[0]
    if not nonzero.size:
        return filt[:0]
    trim = trim.lower()
    start = int(nonzero[0]) if 'f' in trim else 0
    stop = int(nonzero[-1]) + 1 if 'b' in trim else shape_of(filt)[0]
    return filt[start:stop]


def vander(x: ArrayLike, N: Optional[int] = None, increasing: bool = False) -> Array:
    """numpy.vander: the columns are powers of x (decreasing unless increasing)."""
    x = _arr(x)
    if ndim_of(x) != 1:
        raise ValueError('vander: x must be a one-dimensional array')
    n = shape_of(x)[0] if N is None else int(N)
    dtype = _np.result_type(innermost(x), 1.0)
    powers = _np.arange(n, dtype=dtype)
    if not increasing:
        powers = powers[::-1].copy()
    from .elementwise import power
    return power(reshape(x, (-1, 1)), on_device_of(powers, innermost(x)))


def _coefficients(p, name):
    p = _arr(p)
    if ndim_of(p) != 1:
        raise ValueError(f'{name}: the coefficients must be a one-dimensional array')
    return p


def polyder(p: ArrayLike, m: ArrayLike = 1) -> Array:
    """numpy.polyder of a coefficient array: the m-th derivative's coefficients."""
    p = _coefficients(p, 'polyder')
    if m < 0:
        raise ValueError('polyder: order of derivative must be positive (see polyint)')
    for _ in range(m):
        n = shape_of(p)[0] - 1
        if n <= 0:
            return p[:1] * 0.0
        p = p[:-1] * on_device_of(_np.arange(n, 0, -1, dtype=_np.result_type(innermost(p), 1.0)),
                                  innermost(p))
    return p


def _constant_like(c, like):
    """c as an array on like's device (a traced c as it is)."""
    return c if isinstance(c, Box) else on_device_of(to_numpy(c), innermost(like))


def polyint(p: ArrayLike, m: ArrayLike = 1, k: Optional[int] = None) -> Array:
    """numpy.polyint of a coefficient array: m antiderivatives, integration
    constants k (zeros by default; differentiable in k too)."""
    p = _coefficients(p, 'polyint')
    if m < 0:
        raise ValueError('polyint: order of integral must be positive (see polyder)')
    k = [0.0] * m if k is None else (list(k) if isinstance(k, (list, tuple)) or ndim_of(_arr(k))
                                       else [k] * m)
    if len(k) < m:
        raise ValueError('polyint: k must be a scalar or a rank-1 array of length 1 or > m')
    dtype = _np.result_type(innermost(p), 1.0)
    for i in range(m):
        n = shape_of(p)[0]
        p = concatenate([p / on_device_of(_np.arange(n, 0, -1, dtype=dtype), innermost(p)),
                         reshape(astype(_constant_like(k[i], p), dtype), (1,))])
    return p


@per_example
def unwrap(p: ArrayLike, discont: Optional[ArrayLike] = None, axis: int = -1, *,
           period: ArrayLike = 2 * _np.pi) -> Array:
    """numpy.unwrap: p plus the multiples of period NumPy adds (constants, so the
    derivative is the identity)."""
    p = _arr(p)
    plain = innermost(p)
    unwrapped = namespace(plain).unwrap(plain, discont=discont, axis=axis, period=period)
    if not isinstance(p, Box):
        return unwrapped
    from .manipulation import stop_gradient
    return unwrapped + (p - stop_gradient(p))


def modf(x: ArrayLike) -> Tuple[Array, Array]:
    """numpy.modf: (fractional part, integral part); the derivative is in the
    fractional part (1), the integral part is piecewise constant."""
    from .elementwise import trunc
    x = _arr(x)
    whole = trunc(x)
    return x - whole, whole


def divmod(x1: ArrayLike, x2: ArrayLike) -> Tuple[Array, Array]:
    """numpy.divmod: (floor_divide(x1, x2), mod(x1, x2))."""
    from .elementwise import floor_divide, mod
    return floor_divide(x1, x2), mod(x1, x2)


def _power_of_two(exponent, like):
    """2 ** exponent in like's float dtype, exactly."""
    plain = innermost(like)
    dtype = _np.result_type(plain, 1.0)
    xp = namespace(plain)
    return xp.ldexp(xp.ones((), dtype=dtype), xp.asarray(innermost(exponent)))


def ldexp(x1: ArrayLike, x2: ArrayLike) -> Array:
    """numpy.ldexp: x1 * 2 ** x2 for integer x2 (differentiable in x1)."""
    x1 = _arr(x1)
    if _np.result_type(innermost(x2)).kind not in 'iub':
        raise TypeError('ldexp: the exponent x2 must be integers')
    return x1 * _power_of_two(x2, x1)


@per_example
def frexp(x: ArrayLike) -> Tuple[Array, Array]:
    """numpy.frexp: (mantissa, exponent) with x = mantissa * 2 ** exponent; the
    mantissa's derivative is 2 ** -exponent, the exponent is an integer."""
    x = _arr(x)
    plain = innermost(x)
    _, exponent = namespace(plain).frexp(plain)
    return x * _power_of_two(-exponent, x), exponent


def vecdot(x1: ArrayLike, x2: ArrayLike, axis: int = -1) -> Array:
    """numpy.vecdot of real vectors: sum(x1 * x2, axis)."""
    return sum(_arr(x1) * _arr(x2), axis=axis)


def matvec(x1: ArrayLike, x2: ArrayLike) -> Array:
    """numpy.matvec: matrix-vector products over the last axes."""
    from .products import matmul
    return matmul(_arr(x1), expand_dims(_arr(x2), -1))[..., 0]


def vecmat(x1: ArrayLike, x2: ArrayLike) -> Array:
    """numpy.vecmat of real vectors: vector-matrix products over the last axes."""
    from .products import matmul
    return matmul(expand_dims(_arr(x1), -2), _arr(x2))[..., 0, :]


__all__ = ['interp', 'cov', 'corrcoef', 'convolve', 'correlate', 'diff', 'ediff1d', 'append',
           'average', 'ptp', 'quantile', 'percentile', 'median', 'cumulative_sum',
           'cumulative_prod', 'copy', 'cross', 'trapezoid', 'rot90', 'rollaxis',
           'polyval', 'where', 'select', 'piecewise', 'gradient', 'nan_to_num', 'partition',
           'dsplit', 'compress', 'resize', 'histogram', 'delete', 'insert', 'extract',
           'trim_zeros', 'vander', 'polyder', 'polyint', 'unwrap', 'modf', 'divmod', 'ldexp',
           'frexp', 'vecdot', 'matvec', 'vecmat']
