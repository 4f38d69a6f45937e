"""Finite differences with the API of the operator table.

``pyad.numerical.grad(f)(x)`` approximates ``pyad.grad(f)(x)`` by central
differences; every operator of ``pyad.operators`` has its numerical twin here,
with the same name, the same curried signature, the same pytree handling and
the same result shapes (a Jacobian is ``out.shape + in.shape``, pytrees are
out-structure of in-structure), and the same ``f``-prefixed variants::

    import pyad.numerical as num
    num.grad(f)(x)                  # ∇f(x), 2n evaluations of f
    num.hessian(f, eps=1e-3)(x)     # a step of your own

Use it to check derivatives, or for functions pyad cannot trace (black boxes).

The step
--------
With ``eps=None`` (the default) the step for coordinate i is
``h_i = u ** (1 / (k + 2)) * max(1, |x_i|)``, where u is the machine epsilon of
the input's dtype and k the order of the derivative: the step that balances the
O(h²) truncation error of a central difference against its O(u / h^k) rounding
error (≈ cbrt(u) for first derivatives: 6e-6 in float64, 5e-3 in float32; u^¼
for second, u^(1/6) for fourth).  Each step is rounded so that ``x + h - x == h``
exactly.  A directional derivative along v scales the step by ``max(1, |x|∞) / |v|∞``.
``eps=h`` (a float) uses that absolute step instead, for every coordinate.

Cost and accuracy
-----------------
=====================  ===================================  ========================
operator               formula                              evaluations of f
=====================  ===================================  ========================
diff, jacobianv, gradv (f(x+hv) - f(x-hv)) / 2h             2
diffn(n)               n-th central difference              n + 1 (+1 for even n)
grad, jacobianTv       one central difference per input     2n
jacobian(T)            one central difference per input     2n
hessian                4-point mixed differences            2n²+1 (4 per pair i<j)
hessianv               4-point mixed differences along v    4n
laplacian              (f(x+h e_i) - 2f(x) + f(x-h e_i))/h² 2n + 1
curl, div, curldiv     from the numerical Jacobian          2n
=====================  ===================================  ========================

Expect about 2/3 of the available digits for first derivatives (1e-10 relative
in float64, 1e-4 in float32) and about half for second derivatives.  Float32
inputs are evaluated in float32 (the function sees the dtype it was given); the
differences are formed in float64 and the results cast back to float32.

Arrays on a GPU (CuPy): f is evaluated on the device, the differences are formed
on the host, and the results are put back on the input's device.

Limitations: the operators work on plain values (floats, arrays, pytrees of
them); they are not themselves differentiable by pyad, and unlike the AD
operators they do not handle functions that return functions.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Optional, Protocol, Tuple

import numpy as _np

from ._core.box import Box, innermost, lift_dead
from ._core.pytree import tree_flatten, tree_unflatten, tree_map
from .backend import namespace, on_device_of, to_numpy
from .typing import Array, ArrayLike, DTypeLike

__all__ = [
    'diff', 'fdiff', 'diff2', 'fdiff2', 'diffn', 'fdiffn', 'grad', 'fgrad', 'gradv', 'fgradv',
    'hessian', 'fhessian', 'hessianv', 'fhessianv', 'gradhessian', 'fgradhessian',
    'gradhessianv', 'fgradhessianv', 'laplacian', 'flaplacian', 'jacobian', 'fjacobian',
    'jacobianv', 'fjacobianv', 'jacobianT', 'fjacobianT', 'jacobianTv', 'fjacobianTv',
    'curl', 'fcurl', 'div', 'fdiv', 'curldiv', 'fcurldiv', 'value_and_grad', 'jvp', 'vjp',
    'default_step',
]



class NumericalOperator(Protocol):
    """``op(f, eps=None)``: the function that approximates the AD operator of the same
    name at its input(s) (``op(f)(x)``, or ``op(f)(x, v)`` with a direction)."""

    def __call__(self, f: Callable[..., Any],
                 eps: Optional[float] = None) -> Callable[..., Any]: ...


# ----------------------------------------------------------------- leaves and flat vectors
def _device_ref(x):
    """The first input leaf that lives outside NumPy (a CuPy array), or None."""
    return next((innermost(l) for l in tree_flatten(x)[0] if namespace(l) is not _np), None)


def _to_input_device(result, x):
    """Host (NumPy) arrays in a result moved to the device of x's arrays, if any."""
    ref = _device_ref(x)
    if ref is None:
        return result
    return tree_map(lambda r: on_device_of(r, ref) if isinstance(r, (_np.ndarray, _np.generic))
                    else r, result)


class _Leaf:
    """How to rebuild one input leaf from a slice of the flat float64 vector."""
    __slots__ = ('shape', 'dtype', 'size', 'is_float', 'ref')

    def __init__(self, leaf, name):
        leaf = lift_dead(leaf)
        if isinstance(leaf, Box):
            raise TypeError(f'numerical.{name}: the input is being differentiated by pyad; '
                            f'finite differences are not traced (use pyad.{name} for derivatives '
                            f'that nest, or pyad.stop_gradient to differentiate a constant)')
        self.is_float = isinstance(leaf, (int, float)) and not isinstance(leaf, bool)
        if isinstance(leaf, bool) or isinstance(leaf, _np.bool_):
            raise TypeError(f'numerical.{name}: the input is a bool; pass floats')
        self.ref = leaf if namespace(leaf) is not _np else None     # a device array
        arr = _np.asarray(to_numpy(leaf))
        if arr.dtype.kind in 'iub' or self.is_float:
            arr = arr.astype(_np.float64)
        if arr.dtype.kind != 'f':
            raise TypeError(f'numerical.{name}: input leaves must be real floats, got dtype {arr.dtype}')
        self.shape = arr.shape
        self.dtype = arr.dtype
        self.size = arr.size

    def build(self, flat):
        if self.is_float:
            return float(flat[0])
        value = _np.asarray(flat, dtype=self.dtype).reshape(self.shape)
        if self.ref is not None:
            return on_device_of(value, self.ref)
        return value if self.shape else value[()]


class _Input:
    """A pytree input as a flat float64 vector and the way back."""

    def __init__(self, x, name):
        leaves, self.treedef = tree_flatten(x)
        self.leaves = [_Leaf(l, name) for l in leaves]
        self.sizes = [l.size for l in self.leaves]
        self.n = sum(self.sizes)
        parts = [_np.asarray(to_numpy(innermost(l)), dtype=_np.float64).ravel() for l in leaves]
        self.flat = _np.concatenate(parts) if parts else _np.zeros(0)
        dtypes = [l.dtype for l in self.leaves]
        self.dtype = (_np.dtype(_np.float32) if dtypes and all(d == _np.float32 for d in dtypes)
                      else _np.result_type(*dtypes) if dtypes else _np.dtype(_np.float64))
        if self.dtype.kind != 'f' or self.dtype.itemsize < 4:
            self.dtype = _np.dtype(_np.float64) if self.dtype.kind != 'f' else self.dtype

    def build(self, flat):
        out, offset = [], 0
        for leaf in self.leaves:
            out.append(leaf.build(flat[offset:offset + leaf.size]))
            offset += leaf.size
        return tree_unflatten(self.treedef, out)

    def round_flat(self, flat):
        """The flat vector as the function will see it (rounded to each leaf's dtype)."""
        out, offset = [], 0
        for leaf in self.leaves:
            out.append(_np.asarray(flat[offset:offset + leaf.size], dtype=leaf.dtype)
                       .astype(_np.float64))
            offset += leaf.size
        return _np.concatenate(out) if out else flat

    def split(self, flat, tail=()):
        """A flat (n,) + tail array as a pytree of blocks leaf.shape + tail."""
        out, offset = [], 0
        for leaf in self.leaves:
            out.append(flat[offset:offset + leaf.size].reshape(leaf.shape + tuple(tail)))
            offset += leaf.size
        return out


def _output(y, name):
    """(leaves as float64 arrays, treedef, a template to cast results back)."""
    leaves, treedef = tree_flatten(y)
    arrays = []
    for leaf in leaves:
        inner = innermost(leaf)
        if callable(inner) and not hasattr(inner, 'dtype'):
            raise TypeError(f'numerical.{name}: the function returned a function; numerical '
                            f'operators need array (or pytree) outputs')
        arr = _np.asarray(to_numpy(inner))
        if arr.dtype == object:
            raise TypeError(f'numerical.{name}: the function returned a {type(inner).__name__}; '
                            f'numerical operators work on plain floats and arrays (pyad.numerical '
                            f'is not traced by pyad\'s operators)')
        arrays.append(arr)
    return arrays, treedef


def _flat_output(arrays):
    return (_np.concatenate([a.astype(_np.float64).ravel() for a in arrays])
            if arrays else _np.zeros(0))


def _cast(value, dtype, scalar_float=False):
    """A float64 result in the working dtype (a Python float for float inputs and outputs)."""
    value = _np.asarray(value)
    if scalar_float and value.shape == ():
        return float(value)
    value = value.astype(dtype)
    return value if value.shape else value[()]


def _out_dtype(inp, out_arrays=()):
    dtypes = [inp.dtype] + [a.dtype for a in out_arrays if a.dtype.kind == 'f']
    return (_np.dtype(_np.float32) if all(d == _np.float32 for d in dtypes)
            else _np.dtype(_np.float64))


# ----------------------------------------------------------------- steps
def default_step(x: ArrayLike, order: int = 1, dtype: DTypeLike = None) -> Array:
    """The default central-difference step for an ``order``-th derivative at x
    (an array): ``u ** (1/(order+2)) * max(1, |x|)``, elementwise, u the machine
    epsilon of ``dtype`` (x's dtype by default)."""
    x = _np.asarray(x)
    dtype = _np.dtype(dtype if dtype is not None else (x.dtype if x.dtype.kind == 'f' else _np.float64))
    base = float(_np.finfo(dtype).eps) ** (1.0 / (order + 2))
    return base * _np.maximum(1.0, _np.abs(x.astype(_np.float64)))


def _steps(inp, order, eps):
    """Per-coordinate steps, rounded so that (x + h) - x == h in each leaf's dtype."""
    if eps is None:
        parts, offset = [], 0
        for leaf in inp.leaves:
            parts.append(default_step(inp.flat[offset:offset + leaf.size], order, leaf.dtype))
            offset += leaf.size
        h = _np.concatenate(parts) if parts else _np.zeros(0)
    else:
        if not eps > 0:
            raise ValueError(f'numerical: the step eps must be positive, got {eps!r}')
        h = _np.full(inp.n, float(eps))
    return inp.round_flat(inp.flat + h) - inp.flat


def _direction_step(inp, v, order, eps):
    """One step along the direction v (flat float64)."""
    vmax = float(_np.max(_np.abs(v), initial=0.0))
    if vmax == 0.0:
        return None
    if eps is not None:
        if not eps > 0:
            raise ValueError(f'numerical: the step eps must be positive, got {eps!r}')
        return float(eps)
    base = float(_np.finfo(inp.dtype).eps) ** (1.0 / (order + 2))
    return base * max(1.0, float(_np.max(_np.abs(inp.flat), initial=0.0))) / vmax


def _direction(name, inp, v):
    vleaves, vdef = tree_flatten(v)
    if vdef != inp.treedef:
        raise ValueError(f'numerical.{name}: the direction v has structure {vdef}, but the '
                         f'input has structure {inp.treedef}')
    parts = []
    for leaf, vl in zip(inp.leaves, vleaves):
        a = _np.asarray(to_numpy(innermost(vl)), dtype=_np.float64)
        if a.shape != leaf.shape:
            raise ValueError(f'numerical.{name}: the direction v has shape {a.shape} but the '
                             f'input has shape {leaf.shape}; they must match')
        parts.append(a.ravel())
    return _np.concatenate(parts) if parts else _np.zeros(0)


# ----------------------------------------------------------------- the function, flattened
class _Function:
    """f on flat float64 vectors, counting nothing, remembering the output structure."""

    def __init__(self, f, inp, name):
        self.f, self.inp, self.name = f, inp, name
        self.treedef = self.arrays = None

    def __call__(self, flat):
        arrays, treedef = _output(self.f(self.inp.build(flat)), self.name)
        if self.treedef is None:
            self.treedef, self.arrays = treedef, arrays
        elif treedef != self.treedef:
            raise ValueError(f'numerical.{self.name}: the function returned outputs of different '
                             f'structures at nearby points ({self.treedef} and {treedef})')
        return _flat_output(arrays)

    def at_x(self):
        """f(x) as the function returns it, and its flat float64 vector."""
        y0 = self.f(self.inp.build(self.inp.flat))
        arrays, self.treedef = _output(y0, self.name)
        self.arrays = arrays
        return y0, _flat_output(arrays)

    def value(self, flat_value):
        """The output pytree for a flat float64 output vector (at x: the real f(x))."""
        out, offset = [], 0
        for a in self.arrays:
            part = flat_value[offset:offset + a.size].reshape(a.shape)
            out.append(part)
            offset += a.size
        return out


def _scalar(name, fn, inp, instead):
    arrays = fn.arrays
    if fn.treedef.kind != 'leaf' or arrays[0].shape != ():
        raise TypeError(f'numerical.{name} requires a function with a real scalar output, but it '
                        f'returned {_describe(fn)}; for vector-valued functions use {instead}')


def _describe(fn):
    if fn.treedef.kind != 'leaf':
        return f'a {fn.treedef.kind} with {len(fn.arrays)} leaves'
    return f'an array of shape {fn.arrays[0].shape}'


# ----------------------------------------------------------------- currying
def _op1(name: str) -> Callable[[Callable[..., Any]], NumericalOperator]:
    def decorate(impl):
        def op(f: Callable[..., Any], eps: Optional[float] = None) -> Callable[..., Any]:
            if not callable(f):
                raise TypeError(f'numerical.{name} expects a function, got {type(f).__name__}; '
                                f'call it as numerical.{name}(f)(x)')

            def apply(x, *args, **kwargs):
                g = f if not (args or kwargs) else (lambda x_: f(x_, *args, **kwargs))
                return _to_input_device(impl(g, x, eps), x)
            apply.__name__ = f'numerical.{name}({getattr(f, "__name__", "f")})'
            return apply
        op.__name__ = impl.__name__
        op.__doc__ = impl.__doc__
        return op
    return decorate


def _op2(name: str) -> Callable[[Callable[..., Any]], NumericalOperator]:
    def decorate(impl):
        def op(f: Callable[..., Any], eps: Optional[float] = None) -> Callable[..., Any]:
            if not callable(f):
                raise TypeError(f'numerical.{name} expects a function, got {type(f).__name__}; '
                                f'call it as numerical.{name}(f)(x, v)')

            def apply(x, v):
                return _to_input_device(impl(f, x, v, eps), x)
            apply.__name__ = f'numerical.{name}({getattr(f, "__name__", "f")})'
            return apply
        op.__name__ = impl.__name__
        op.__doc__ = impl.__doc__
        return op
    return decorate


# ----------------------------------------------------------------- first order, directional
def _along(name, f, x, v, eps):
    """(f(x), (f(x + h v) - f(x - h v)) / 2h) as pytrees."""
    inp = _Input(x, name)
    vflat = _direction(name, inp, v)
    fn = _Function(f, inp, name)
    y0, _ = fn.at_x()
    dtype = _out_dtype(inp, fn.arrays)
    h = _direction_step(inp, vflat, 1, eps)
    if h is None:
        d = _np.zeros(sum(a.size for a in fn.arrays))
    else:
        d = (fn(inp.flat + h * vflat) - fn(inp.flat - h * vflat)) / (2.0 * h)
    blocks = [_cast(b, dtype, _is_float_tree(inp) and a.shape == ())
              for b, a in zip(fn.value(d), fn.arrays)]
    return y0, tree_unflatten(fn.treedef, blocks), fn


def _is_float_tree(inp):
    return all(l.is_float for l in inp.leaves)


@_op2('jacobianv')
def fjacobianv(f, x, v, eps=None):
    """(f(x), J(x) v) by one central difference along v."""
    y0, d, _ = _along('jacobianv', f, x, v, eps)
    return y0, d


@_op2('jacobianv')
def jacobianv(f, x, v, eps=None):
    """J(x) v by one central difference along v (2 evaluations)."""
    return _along('jacobianv', f, x, v, eps)[1]


def jvp(f: Callable[..., Any], x: Any, v: Any,
        eps: Optional[float] = None) -> Tuple[Any, Any]:
    """``jvp(f, primals, tangents) -> (f(*primals), J·tangents)`` by finite differences,
    with ``pyad.jvp``'s forms: a tuple (or list) of f's arguments and one of tangents,
    or a single argument that is not a tuple, ``jvp(f, x, v)``."""
    if isinstance(x, (tuple, list)):
        if not isinstance(v, (tuple, list)) or len(v) != len(x):
            raise TypeError(f'numerical.jvp: primals is a {type(x).__name__} of {len(x)} '
                            f'arguments, so tangents must be a tuple of {len(x)} tangents')
        return fjacobianv(lambda xs: f(*xs), eps)(tuple(x), tuple(v))
    return fjacobianv(f, eps)(x, v)


@_op2('gradv')
def fgradv(f, x, v, eps=None):
    """(f(x), ∇f(x)·v) for a scalar function."""
    y0, d, fn = _along('gradv', f, x, v, eps)
    _scalar('gradv', fn, None, 'jacobianv')
    return y0, d


@_op2('gradv')
def gradv(f, x, v, eps=None):
    """∇f(x)·v for a scalar function (2 evaluations)."""
    return fgradv(f, eps)(x, v)[1]


def _scalar_input(name, x):
    leaves, treedef = tree_flatten(x)
    if treedef.kind != 'leaf' or _np.shape(innermost(leaves[0])) != ():
        raise ValueError(f'numerical.{name} differentiates functions of a scalar; use '
                         f'jacobianv(f)(x, v) or gradv for array inputs')


def _unit(x):
    inner = innermost(x)
    return 1.0 if not hasattr(inner, 'dtype') else _np.ones((), dtype=inner.dtype)[()]


@_op1('diff')
def fdiff(f, x, eps=None):
    """(f(x), f'(x)) for scalar x by a central difference (f may return any pytree)."""
    _scalar_input('diff', x)
    y0, d, _ = _along('diff', f, x, _unit(x), eps)
    return y0, d


@_op1('diff')
def diff(f, x, eps=None):
    """f'(x) for scalar x by a central difference (2 evaluations)."""
    return fdiff(f, eps)(x)[1]


def fdiffn(n: int, f: Callable[..., Any], eps: Optional[float] = None) -> Callable[..., Any]:
    """(f(x), f⁽ⁿ⁾(x)) by the n-th central difference
    Σ_k (-1)^k C(n, k) f(x + (n/2 - k) h) / hⁿ, whose error is O(h²); the step
    grows with n (u^(1/(n+2)) · max(1, |x|) by default)."""
    if int(n) != n or n < 0:
        raise ValueError(f'numerical.diffn: the order n must be a non-negative integer, got {n!r}')
    n = int(n)
    if not callable(f):
        raise TypeError(f'numerical.diffn expects a function, got {type(f).__name__}')

    def apply(x, *args, **kwargs):
        g = f if not (args or kwargs) else (lambda x_: f(x_, *args, **kwargs))
        _scalar_input('diffn', x)
        inp = _Input(x, 'diffn')
        fn = _Function(g, inp, 'diffn')
        y0, f0 = fn.at_x()
        if n == 0:
            return y0, y0
        dtype = _out_dtype(inp, fn.arrays)
        h = float(_steps(inp, n, eps)[0])
        total = _np.zeros_like(f0)
        for k in range(n + 1):
            offset = (n / 2.0 - k) * h
            value = f0 if offset == 0 else fn(inp.flat + offset)
            total = total + (-1) ** k * math.comb(n, k) * value
        d = total / h ** n
        blocks = [_cast(b, dtype, _is_float_tree(inp) and a.shape == ())
                  for b, a in zip(fn.value(d), fn.arrays)]
        return _to_input_device((y0, tree_unflatten(fn.treedef, blocks)), x)
    apply.__name__ = f'numerical.diffn[{n}]({getattr(f, "__name__", "f")})'
    return apply


def diffn(n: int, f: Callable[..., Any], eps: Optional[float] = None) -> Callable[..., Any]:
    """The n-th derivative of f at scalar x by the n-th central difference
    (n + 1 evaluations; use n <= 4: the rounding error grows like u / hⁿ)."""
    fn = fdiffn(n, f, eps)

    def apply(x, *args, **kwargs):
        return fn(x, *args, **kwargs)[1]
    apply.__name__ = fn.__name__
    return apply


def fdiff2(f: Callable[..., Any], eps: Optional[float] = None) -> Callable[..., Any]:
    """(f(x), f''(x))."""
    return fdiffn(2, f, eps)


def diff2(f: Callable[..., Any], eps: Optional[float] = None) -> Callable[..., Any]:
    """f''(x) by (f(x+h) - 2 f(x) + f(x-h)) / h²."""
    return diffn(2, f, eps)


# ----------------------------------------------------------------- Jacobians
def _jacobian_matrix(name, f, x, eps):
    """(f(x), the (m, n) Jacobian in float64, fn, inp)."""
    inp = _Input(x, name)
    fn = _Function(f, inp, name)
    y0, f0 = fn.at_x()
    h = _steps(inp, 1, eps)
    J = _np.empty((f0.size, inp.n))
    for i in range(inp.n):
        e = _np.zeros(inp.n)
        e[i] = h[i]
        J[:, i] = (fn(inp.flat + e) - fn(inp.flat - e)) / (2.0 * h[i])
    return y0, J, fn, inp


def _assemble(matrix, out_arrays, out_treedef, inp, dtype):
    """An (m, n) matrix as out-structure of in-structure blocks out.shape + in.shape."""
    rows, offset = [], 0
    scalar_float = _is_float_tree(inp)
    for a in out_arrays:
        part = matrix[offset:offset + a.size]            # (size_out, n)
        blocks, col = [], 0
        for leaf in inp.leaves:
            block = part[:, col:col + leaf.size].reshape(a.shape + leaf.shape)
            blocks.append(_cast(block, dtype, scalar_float and block.shape == ()))
            col += leaf.size
        rows.append(tree_unflatten(inp.treedef, blocks))
        offset += a.size
    return tree_unflatten(out_treedef, rows)


@_op1('jacobian')
def fjacobian(f, x, eps=None):
    """(f(x), J(x)); J has shape out.shape + in.shape (pytrees: out structure of in structure)."""
    y0, J, fn, inp = _jacobian_matrix('jacobian', f, x, eps)
    return y0, _assemble(J, fn.arrays, fn.treedef, inp, _out_dtype(inp, fn.arrays))


@_op1('jacobian')
def jacobian(f, x, eps=None):
    """J(x) by one central difference per input coordinate (2n evaluations)."""
    return fjacobian(f, eps)(x)[1]


@_op1('jacobianT')
def fjacobianT(f, x, eps=None):
    """(f(x), J(x)ᵀ) of shape in.shape + out.shape (single array input and output)."""
    y0, J, fn, inp = _jacobian_matrix('jacobianT', f, x, eps)
    if inp.treedef.kind != 'leaf' or fn.treedef.kind != 'leaf':
        raise TypeError('numerical.jacobianT: only for a single array input and output; '
                        'use jacobian for pytrees')
    out_shape, in_shape = fn.arrays[0].shape, inp.leaves[0].shape
    JT = J.T.reshape(in_shape + out_shape)
    return y0, _cast(JT, _out_dtype(inp, fn.arrays), _is_float_tree(inp) and JT.shape == ())


@_op1('jacobianT')
def jacobianT(f, x, eps=None):
    return fjacobianT(f, eps)(x)[1]


def _grad_flat(name, g, inp, eps):
    """∇g at inp.flat for g: flat -> float, by central differences."""
    h = _steps(inp, 1, eps)
    out = _np.empty(inp.n)
    for i in range(inp.n):
        e = _np.zeros(inp.n)
        e[i] = h[i]
        out[i] = (g(inp.flat + e) - g(inp.flat - e)) / (2.0 * h[i])
    return out


def _leaf_results(inp, flat, dtype, tail=()):
    scalar_float = _is_float_tree(inp)
    return tree_unflatten(inp.treedef, [_cast(b, dtype, scalar_float and b.shape == ())
                                        for b in inp.split(flat, tail)])


@_op2('jacobianTv')
def fjacobianTv(f, x, v, eps=None):
    """(f(x), J(x)ᵀ v) as the gradient of x -> <v, f(x)> (2n evaluations)."""
    inp = _Input(x, 'jacobianTv')
    fn = _Function(f, inp, 'jacobianTv')
    y0, _ = fn.at_x()
    vleaves, vdef = tree_flatten(v)
    if vdef != fn.treedef:
        raise ValueError(f'numerical.jacobianTv: the cotangent v has structure {vdef}, but the '
                         f'output has structure {fn.treedef}')
    vflat = _flat_output([_np.broadcast_to(_np.asarray(innermost(vl), dtype=_np.float64), a.shape)
                          for vl, a in zip(vleaves, fn.arrays)])
    g = _grad_flat('jacobianTv', lambda z: float(vflat @ fn(z)), inp, eps)
    return y0, _leaf_results(inp, g, _out_dtype(inp, fn.arrays))


@_op2('jacobianTv')
def jacobianTv(f, x, v, eps=None):
    """J(x)ᵀ v by finite differences."""
    return fjacobianTv(f, eps)(x, v)[1]


def vjp(f: Callable[..., Any], x: Any,
        eps: Optional[float] = None) -> Tuple[Any, Callable[[Any], Any]]:
    """``vjp(f, x) -> (f(x), pullback)`` by finite differences (each pullback costs 2n)."""
    y0 = f(x)
    return y0, lambda u: jacobianTv(f, eps)(x, u)


# ----------------------------------------------------------------- gradients
def _scalar_function(name, f, x, instead='jacobian'):
    inp = _Input(x, name)
    fn = _Function(f, inp, name)
    y0, f0 = fn.at_x()
    _scalar(name, fn, inp, instead)
    return y0, float(f0[0]), fn, inp, _out_dtype(inp, fn.arrays)


@_op1('grad')
def fgrad(f, x, eps=None):
    """(f(x), ∇f(x)) for a real scalar function."""
    y0, _, fn, inp, dtype = _scalar_function('grad', f, x)
    g = _grad_flat('grad', lambda z: float(fn(z)[0]), inp, eps)
    return y0, _leaf_results(inp, g, dtype)


@_op1('grad')
def grad(f, x, eps=None):
    """∇f(x) by one central difference per input coordinate (2n evaluations)."""
    return fgrad(f, eps)(x)[1]


value_and_grad = fgrad


def _hessian_flat(fn, inp, f0, eps):
    """The dense Hessian (n, n) in float64: second differences on the diagonal,
    4-point mixed differences off it."""
    h = _steps(inp, 2, eps)
    n = inp.n
    F = lambda z: float(fn(z)[0])
    H = _np.empty((n, n))
    base = inp.flat
    for i in range(n):
        ei = _np.zeros(n)
        ei[i] = h[i]
        H[i, i] = (F(base + ei) - 2.0 * f0 + F(base - ei)) / (h[i] * h[i])
        for j in range(i + 1, n):
            ej = _np.zeros(n)
            ej[j] = h[j]
            H[i, j] = H[j, i] = (F(base + ei + ej) - F(base + ei - ej)
                                 - F(base - ei + ej) + F(base - ei - ej)) / (4.0 * h[i] * h[j])
    return H


def _hessian_tree(H, inp, dtype):
    """(n, n) as in-structure of in-structure blocks leaf_i.shape + leaf_j.shape."""
    class _Out:
        pass
    arrays = []
    for leaf in inp.leaves:
        a = _Out()
        a.size, a.shape = leaf.size, leaf.shape
        arrays.append(a)
    return _assemble(H, arrays, inp.treedef, inp, dtype)


@_op1('gradhessian')
def fgradhessian(f, x, eps=None):
    """(f(x), ∇f(x), ∇²f(x))."""
    y0, f0, fn, inp, dtype = _scalar_function('gradhessian', f, x, 'jacobian')
    g = _grad_flat('gradhessian', lambda z: float(fn(z)[0]), inp, eps)
    H = _hessian_flat(fn, inp, f0, eps)
    return y0, _leaf_results(inp, g, dtype), _hessian_tree(H, inp, dtype)


@_op1('gradhessian')
def gradhessian(f, x, eps=None):
    """(∇f(x), ∇²f(x))."""
    return fgradhessian(f, eps)(x)[1:]


@_op1('hessian')
def fhessian(f, x, eps=None):
    """(f(x), ∇²f(x))."""
    y0, f0, fn, inp, dtype = _scalar_function('hessian', f, x, 'jacobian')
    return y0, _hessian_tree(_hessian_flat(fn, inp, f0, eps), inp, dtype)


@_op1('hessian')
def hessian(f, x, eps=None):
    """∇²f(x) by second differences (2n² + 1 evaluations)."""
    return fhessian(f, eps)(x)[1]


def _hessianv_flat(fn, inp, vflat, eps):
    """H v by 4-point mixed differences along e_i and v (4n evaluations)."""
    n = inp.n
    hv = _np.zeros(n)
    k = _direction_step(inp, vflat, 2, eps)
    if k is None:
        return hv
    h = _steps(inp, 2, eps)
    F = lambda z: float(fn(z)[0])
    base = inp.flat
    for i in range(n):
        ei = _np.zeros(n)
        ei[i] = h[i]
        kv = k * vflat
        hv[i] = (F(base + ei + kv) - F(base + ei - kv)
                 - F(base - ei + kv) + F(base - ei - kv)) / (4.0 * h[i] * k)
    return hv


@_op2('gradhessianv')
def fgradhessianv(f, x, v, eps=None):
    """(f(x), ∇f(x), ∇²f(x) v)."""
    y0, f0, fn, inp, dtype = _scalar_function('gradhessianv', f, x, 'jacobianv')
    vflat = _direction('gradhessianv', inp, v)
    g = _grad_flat('gradhessianv', lambda z: float(fn(z)[0]), inp, eps)
    hv = _hessianv_flat(fn, inp, vflat, eps)
    return y0, _leaf_results(inp, g, dtype), _leaf_results(inp, hv, dtype)


@_op2('gradhessianv')
def gradhessianv(f, x, v, eps=None):
    return fgradhessianv(f, eps)(x, v)[1:]


@_op2('hessianv')
def fhessianv(f, x, v, eps=None):
    """(f(x), ∇²f(x) v)."""
    y0, f0, fn, inp, dtype = _scalar_function('hessianv', f, x, 'jacobianv')
    vflat = _direction('hessianv', inp, v)
    return y0, _leaf_results(inp, _hessianv_flat(fn, inp, vflat, eps), dtype)


@_op2('hessianv')
def hessianv(f, x, v, eps=None):
    """∇²f(x) v without a dense Hessian (4n evaluations)."""
    return fhessianv(f, eps)(x, v)[1]


@_op1('laplacian')
def flaplacian(f, x, eps=None):
    """(f(x), the trace of the Hessian)."""
    y0, f0, fn, inp, dtype = _scalar_function('laplacian', f, x, 'jacobian')
    h = _steps(inp, 2, eps)
    total = 0.0
    for i in range(inp.n):
        e = _np.zeros(inp.n)
        e[i] = h[i]
        total += (float(fn(inp.flat + e)[0]) - 2.0 * f0 + float(fn(inp.flat - e)[0])) / (h[i] * h[i])
    return y0, _cast(total, dtype, _is_float_tree(inp))


@_op1('laplacian')
def laplacian(f, x, eps=None):
    """Σ_i ∂²f/∂x_i² by second differences (2n + 1 evaluations)."""
    return flaplacian(f, eps)(x)[1]


# ----------------------------------------------------------------- vector calculus
def _square(name, f, x, eps, need3):
    leaves, treedef = tree_flatten(x)
    if treedef.kind != 'leaf' or _np.ndim(innermost(leaves[0])) != 1:
        raise ValueError(f'numerical.{name} needs a vector input')
    y0, J, fn, inp = _jacobian_matrix(name, f, x, eps)
    n = inp.n
    if fn.treedef.kind != 'leaf' or fn.arrays[0].shape != (n,):
        raise ValueError(f'numerical.{name} needs f: R^n -> R^n, but f maps shape ({n},) to '
                         f'{_describe(fn)}')
    if need3 and n != 3:
        raise ValueError(f'numerical.{name} is defined for f: R^3 -> R^3, got n = {n}')
    return y0, J, _out_dtype(inp, fn.arrays)


def _curl(J, dtype):
    return _cast(_np.array([J[2, 1] - J[1, 2], J[0, 2] - J[2, 0], J[1, 0] - J[0, 1]]), dtype)


@_op1('curl')
def fcurl(f, x, eps=None):
    """(f(x), ∇×f(x)) for f: R³ -> R³."""
    y0, J, dtype = _square('curl', f, x, eps, True)
    return y0, _curl(J, dtype)


@_op1('curl')
def curl(f, x, eps=None):
    return fcurl(f, eps)(x)[1]


@_op1('div')
def fdiv(f, x, eps=None):
    """(f(x), ∇·f(x)) for f: Rⁿ -> Rⁿ."""
    y0, J, dtype = _square('div', f, x, eps, False)
    return y0, _cast(_np.trace(J), dtype)


@_op1('div')
def div(f, x, eps=None):
    return fdiv(f, eps)(x)[1]


@_op1('curldiv')
def fcurldiv(f, x, eps=None):
    """(f(x), ∇×f(x), ∇·f(x)) from one numerical Jacobian."""
    y0, J, dtype = _square('curldiv', f, x, eps, True)
    return y0, _curl(J, dtype), _cast(_np.trace(J), dtype)


@_op1('curldiv')
def curldiv(f, x, eps=None):
    return fcurldiv(f, eps)(x)[1:]
