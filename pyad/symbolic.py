"""Symbolic differentiation with SymPy (an optional extra: ``pip install sympy``).

DiffSharp's third module.  A Python function written against ``pyad.numpy`` is
traced with SymPy symbols, differentiated by SymPy, simplified, and compiled back
to a NumPy function::

    import pyad.numpy as np
    from pyad import symbolic

    def f(x):
        return np.sum(np.sin(x) * x ** 2)

    expr, fn = symbolic.grad(f, 3)       # 3 inputs: the symbols x0, x1, x2
    expr                                 # [x0**2*cos(x0) + 2*x0*sin(x0), ...]
    fn(np.array([0.1, 0.2, 0.3]))        # a NumPy array, through sympy.lambdify

Every operator returns a :class:`Symbolic`: a pair ``(expr, func)`` that also has
``.symbols`` (the input symbols), ``.value`` (the expression of f itself) and is
callable (``d(x) == d.func(x)``).  ``expr`` is a SymPy expression for scalar
results and a ``sympy.Array`` of shape ``out.shape + in.shape`` otherwise
(``.tomatrix()`` turns a 2-D one into a Matrix).  ``func`` takes an input of the
input's shape — or a batch of them, ``batch + in.shape`` (for a scalar input: any
array of points) — and returns ``batch + result.shape`` floats.

The input is given as: an int n (a vector of n symbols ``x0 … x{n-1}``), a shape
tuple, an example array (its shape), a SymPy symbol, or a list/array of symbols
of your own.  ``diff`` and ``diffn`` take a scalar (default: the symbol ``x``).

How tracing works
-----------------
f is called with a NumPy object array of symbols (a bare symbol for scalar
input).  Python operators (+ - * / ** @, indexing, ``x.T``) already work on
those.  For the duration of the call, the implementations of ``pyad.numpy``'s
elementwise primitives (sin, exp, log, sqrt, tanh, maximum, where, clip,
comparisons, erf, expit, ...) are swapped for dispatchers that apply the
matching SymPy function when an argument is symbolic, and run NumPy's own code
otherwise.  Reductions and shape functions (sum, mean, prod, reshape,
transpose, matmul, concatenate, getitem...) run NumPy's object-array code.

Limitations (honestly):

* Only array (or scalar) inputs, not pytrees; outputs may be scalars, arrays or
  nested lists/tuples of them (the latter are flattened in order, as an array).
* Python control flow on traced values (``if x > 0``, ``float(x)``, ``while``)
  fails: SymPy cannot decide the truth of a symbolic comparison.  Use
  ``np.where`` (traced as ``Piecewise``), ``np.maximum`` (``Max``) and friends;
  the reductions ``np.max``/``np.min`` are traced as ``Max``/``Min`` and
  ``np.logsumexp`` as ``log(Σ exp)``.
* Functions must use ``pyad.numpy`` (or operators); plain ``numpy.sin`` on an
  object array fails, and so do ``math`` functions.  Reductions other than sum,
  mean, prod, max, min and logsumexp (var, std, sorting, cumulative sums),
  linear algebra (``pyad.linalg``), ``pyad.nn``, and pyad's own operators
  called inside f are not traced.
* The swap is process-wide while a trace runs (guarded by a lock and restored
  afterwards); other threads computing on plain values meanwhile are unaffected,
  since the dispatchers fall back to NumPy for non-symbolic arguments.
* ``simplify=True`` calls ``sympy.simplify`` on every entry, which can be slow for
  large expressions; pass ``simplify=False`` to skip it.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Tuple

import numpy as _np

try:
    import sympy as _sp
except ImportError as _error:           # pragma: no cover - depends on the environment
    raise ImportError('pyad.symbolic needs SymPy: pip install sympy') from _error

__all__ = ['Symbolic', 'trace', 'tracing', 'expression', 'diff', 'diffn', 'diff2', 'grad',
           'jacobian', 'hessian', 'laplacian', 'make_symbols']


# ================================================================= sympy versions of primitives
def _exp2(x):
    return _sp.Integer(2) ** x


def _copysign(x, y):
    return _sp.Abs(x) * _sp.sign(y)


def _where(cond, x, y):
    if isinstance(cond, (bool, _np.bool_)) or cond in (_sp.true, _sp.false):
        return x if bool(cond) else y
    return _sp.Piecewise((x, cond), (y, True))


def _clip(x, lo, hi):
    if lo is not None:
        x = _sp.Max(x, lo)
    if hi is not None:
        x = _sp.Min(x, hi)
    return x


def _trunc(x):
    return _sp.sign(x) * _sp.floor(_sp.Abs(x))


_UNARY = {
    'negative': lambda x: -x, 'positive': lambda x: x, 'exp': _sp.exp, 'exp2': _exp2,
    'expm1': lambda x: _sp.exp(x) - 1, 'log': _sp.log, 'log2': lambda x: _sp.log(x, 2),
    'log10': lambda x: _sp.log(x, 10), 'log1p': lambda x: _sp.log(1 + x), 'sqrt': _sp.sqrt,
    'cbrt': _sp.cbrt, 'square': lambda x: x ** 2, 'reciprocal': lambda x: 1 / x,
    'sin': _sp.sin, 'cos': _sp.cos, 'tan': _sp.tan, 'arcsin': _sp.asin, 'arccos': _sp.acos,
    'arctan': _sp.atan, 'sinh': _sp.sinh, 'cosh': _sp.cosh, 'tanh': _sp.tanh,
    'arcsinh': _sp.asinh, 'arccosh': _sp.acosh, 'arctanh': _sp.atanh, 'absolute': _sp.Abs,
    'fabs': _sp.Abs, 'deg2rad': lambda x: x * _sp.pi / 180, 'rad2deg': lambda x: x * 180 / _sp.pi,
    'sinc': lambda x: _sp.sinc(_sp.pi * x), 'erf': _sp.erf, 'erfc': _sp.erfc,
    'erfinv': _sp.erfinv, 'expit': lambda x: 1 / (1 + _sp.exp(-x)),
    'logit': lambda x: _sp.log(x / (1 - x)), 'log_expit': lambda x: -_sp.log(1 + _sp.exp(-x)),
    'gammaln': _sp.loggamma, 'gamma': _sp.gamma, 'digamma': lambda x: _sp.polygamma(0, x),
    'sign': _sp.sign, 'floor': _sp.floor, 'ceil': _sp.ceiling, 'trunc': _trunc, 'fix': _trunc,
    'logical_not': _sp.Not, 'stop_gradient': lambda x: x,
}

_BINARY = {
    'add': lambda x, y: x + y, 'subtract': lambda x, y: x - y, 'multiply': lambda x, y: x * y,
    'divide': lambda x, y: x / y, 'power': lambda x, y: x ** y, 'maximum': _sp.Max,
    'minimum': _sp.Min, 'fmax': _sp.Max, 'fmin': _sp.Min, 'arctan2': _sp.atan2,
    'hypot': lambda x, y: _sp.sqrt(x ** 2 + y ** 2),
    'logaddexp': lambda x, y: _sp.log(_sp.exp(x) + _sp.exp(y)),
    'logaddexp2': lambda x, y: _sp.log(2 ** x + 2 ** y, 2), 'mod': _sp.Mod, 'fmod': _sp.Mod,
    'copysign': _copysign, 'xlogy': lambda x, y: x * _sp.log(y),
    'xlog1py': lambda x, y: x * _sp.log(1 + y), 'polygamma': _sp.polygamma,
    'equal': _sp.Eq, 'not_equal': _sp.Ne, 'less': _sp.Lt, 'less_equal': _sp.Le,
    'greater': _sp.Gt, 'greater_equal': _sp.Ge, 'logical_and': _sp.And,
    'logical_or': _sp.Or, 'logical_xor': _sp.Xor,
}

_TERNARY = {'where': _where, 'clip': _clip}


def _is_symbolic(a):
    if isinstance(a, _sp.Basic):
        return True
    return isinstance(a, _np.ndarray) and a.dtype == object


def _elementwise(sym_fn, nargs):
    vectorized = _np.vectorize(sym_fn, otypes=[object])

    def apply(*args):
        arrays = args[:nargs]
        if not any(isinstance(a, _np.ndarray) for a in arrays):
            return sym_fn(*arrays)
        # None (an absent clip bound) is not an array element: close over it
        present = [i for i, a in enumerate(arrays) if a is not None]
        if len(present) == nargs:
            return vectorized(*arrays)

        def partial(*xs):
            full = list(arrays)
            for i, x in zip(present, xs):
                full[i] = x
            return sym_fn(*full)
        return _np.vectorize(partial, otypes=[object])(*[arrays[i] for i in present])
    return apply


def _reduce(x, axes, keepdims, combine):
    """A reduction of an object array over ``axes`` with ``combine(list) -> expr``."""
    x = _np.asarray(x, dtype=object)
    nd = x.ndim
    axes = tuple(range(nd)) if axes is None else tuple(a % nd for a in (
        (axes,) if isinstance(axes, int) else axes)) if nd else ()
    kept = [a for a in range(nd) if a not in axes]
    moved = _np.transpose(x, kept + list(axes)) if nd else x
    outer = tuple(x.shape[a] for a in kept)
    rows = moved.reshape(outer + (-1,))
    out = _np.empty(outer, dtype=object)
    for idx in _np.ndindex(*outer):
        out[idx] = combine(list(rows[idx]))
    if keepdims:
        out = out.reshape(tuple(1 if a in axes else d for a, d in enumerate(x.shape)))
    return out if out.shape else out[()]


def _max_symbolic(x, axes, keepdims):
    return _reduce(x, axes, keepdims, lambda xs: _sp.Max(*xs))


def _min_symbolic(x, axes, keepdims):
    return _reduce(x, axes, keepdims, lambda xs: _sp.Min(*xs))


def _logsumexp_symbolic(a, b, axes, keepdims):
    if b is None:
        return _reduce(a, axes, keepdims, lambda xs: _sp.log(_sp.Add(*[_sp.exp(e) for e in xs])))
    a, b = _np.broadcast_arrays(_np.asarray(a, dtype=object), _np.asarray(b, dtype=object))
    pairs = _np.empty(a.shape, dtype=object)
    for idx in _np.ndindex(*a.shape):
        pairs[idx] = (a[idx], b[idx])
    return _reduce(pairs, axes, keepdims,
                   lambda ps: _sp.log(_sp.Add(*[w * _sp.exp(e) for e, w in ps])))


def _astype_symbolic(x, dtype):
    return x                      # a symbol has no dtype to cast to


def _symbolic_impls():
    table = {}
    for name, fn in _UNARY.items():
        table[name] = (_elementwise(fn, 1), 1)
    for name, fn in _BINARY.items():
        table[name] = (_elementwise(fn, 2), 2)
    for name, fn in _TERNARY.items():
        table[name] = (_elementwise(fn, 3), 3)
    table['astype'] = (_astype_symbolic, 1)
    table['max'] = (_max_symbolic, 1)
    table['min'] = (_min_symbolic, 1)
    table['logsumexp'] = (_logsumexp_symbolic, 2)
    return table


_IMPLS = _symbolic_impls()


def _dispatcher(original, symbolic_impl, nargs):
    def impl(*args, **params):
        if any(_is_symbolic(a) for a in args[:max(nargs, 1)]):
            return symbolic_impl(*args, **params)
        return original(*args, **params)
    impl.__name__ = getattr(original, '__name__', 'impl')
    impl.__wrapped__ = original
    return impl


def _primitives():
    """Every pyad.numpy primitive that has a SymPy counterpart, found afresh each
    time among the loaded ``pyad.numpy`` modules (so primitives added later are
    picked up; nothing is imported for the purpose)."""
    import sys
    import pyad.numpy                      # noqa: F401  (loads the namespace)
    from ._core.primitive import Primitive
    seen = {}
    for modname, mod in list(sys.modules.items()):
        if mod is None or not (modname == 'pyad.numpy' or modname.startswith('pyad.numpy.')):
            continue
        for value in list(vars(mod).values()):
            if isinstance(value, Primitive) and value.name in _IMPLS:
                seen[id(value)] = value
    return list(seen.values())


_lock = threading.RLock()
_depth = 0
_saved = []


@contextmanager
def tracing() -> Iterator[None]:
    """While active, pyad.numpy primitives accept SymPy expressions and object
    arrays of them.  Reentrant; restores the implementations on exit."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = []
            for prim in _primitives():
                sym_impl, nargs = _IMPLS[prim.name]
                _saved.append((prim, prim.impl))
                prim.impl = _dispatcher(prim.impl, sym_impl, nargs)
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
            if _depth == 0:
                for prim, impl in _saved:
                    prim.impl = impl
                _saved = []


# ================================================================= symbols and tracing
def _scalar_symbol(name):
    s = _sp.Symbol(name, real=True)
    return s, [s], ()


def _given_symbols(spec):
    """(symbols, flat list, shape) where spec is symbols already (a name, a SymPy
    symbol, a list or object array of SymPy expressions), else None."""
    if isinstance(spec, str):
        return _scalar_symbol(spec)
    if isinstance(spec, _sp.Symbol):
        return spec, [spec], ()
    if isinstance(spec, (list, tuple)) and spec and all(isinstance(s, _sp.Basic) for s in _np.ravel(_np.array(spec, dtype=object))):
        arr = _np.array(spec, dtype=object)
        return arr, list(arr.ravel()), arr.shape
    if isinstance(spec, _np.ndarray) and spec.dtype == object:
        return spec, list(spec.ravel()), spec.shape
    return None


def _input_shape(spec):
    """The input shape that an int, a shape tuple or an example array gives."""
    if isinstance(spec, (int, _np.integer)):
        return (int(spec),)
    if isinstance(spec, tuple):
        return tuple(int(d) for d in spec)
    if hasattr(spec, 'shape'):
        return tuple(spec.shape)
    raise TypeError(f'symbolic: give the input as an int, a shape, an example array or '
                    f'symbols, got {type(spec).__name__}')


def make_symbols(spec: Any, name: str = 'x') -> Tuple[Any, List[Any], Tuple[int, ...]]:
    """(symbols as f will receive them, flat list of the symbols, input shape).

    ``spec``: an int n, a shape tuple, an example array, a SymPy symbol, or a
    list/array of symbols."""
    given = _given_symbols(spec)
    if given is not None:
        return given
    if isinstance(spec, list):
        spec = _np.asarray(spec, dtype=_np.float64)        # an example point
    shape = () if spec is None else _input_shape(spec)
    if shape == ():
        return _scalar_symbol(name)
    flat = [_sp.Symbol(name + '_'.join(str(i) for i in idx), real=True)
            for idx in _np.ndindex(*shape)]
    arr = _np.empty(len(flat), dtype=object)
    arr[:] = flat
    return arr.reshape(shape), flat, shape


def _scalar_array(e):
    arr = _np.empty((), dtype=object)
    arr[()] = e
    return arr


def _as_object_array(out):
    """The traced output as an object array of SymPy expressions."""
    if isinstance(out, _sp.MatrixBase):
        return _np.array(out.tolist(), dtype=object)
    if isinstance(out, _sp.Basic):
        return _scalar_array(out)
    if isinstance(out, (list, tuple)):
        parts = [_as_object_array(o) for o in out]
        if parts and all(p.shape == parts[0].shape for p in parts):
            return _np.stack(parts)
        return _np.concatenate([p.ravel() for p in parts]) if parts else _np.empty(0, object)
    if callable(out) and not hasattr(out, 'shape'):
        raise TypeError('symbolic: the function returned a function')
    if isinstance(out, _np.ndarray):
        return out.astype(object)
    return _scalar_array(out)


def _sympify(arr):
    flat = [_sp.sympify(e) for e in arr.ravel()]
    out = _np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(arr.shape)


def trace(f: Callable[..., Any], x: Any = None,
          name: str = 'x') -> Tuple[_np.ndarray, Any, List[Any], Tuple[int, ...]]:
    """(the output of f as an object array of SymPy expressions, the input symbols
    as f received them, the flat list of symbols, the input shape)."""
    args, flat, shape = make_symbols(x, name)
    with tracing():
        try:
            out = f(args)
        except TypeError as error:
            if 'relational' in str(error) or 'truth value' in str(error):
                raise TypeError(f'symbolic: the function branches on a traced value ({error}); '
                                f'use pyad.numpy.where instead of if/else') from error
            raise
    return _sympify(_as_object_array(out)), args, flat, shape


# ================================================================= results
class Symbolic(tuple):
    """``(expr, func)``, with ``.symbols``, ``.value`` (f's own expression) and
    ``.shape`` (the result's); calling it calls ``func``."""

    def __new__(cls, expr, func, symbols, value, shape):
        self = super().__new__(cls, (expr, func))
        self.symbols = symbols
        self.value = value
        self.shape = shape
        return self

    @property
    def expr(self) -> Any:
        """The derivative (or f's expression) as SymPy: an expression or a sympy.Array."""
        return self[0]

    @property
    def func(self) -> Callable[[Any], Any]:
        """The derivative compiled to a NumPy function of x."""
        return self[1]

    def __call__(self, x: Any) -> Any:
        return self[1](x)

    def __repr__(self):
        return f'Symbolic({self[0]!r})'


def _simplify(arr, simplify):
    if not simplify:
        return arr
    out = _np.empty(arr.size, dtype=object)
    out[:] = [_sp.simplify(e) for e in arr.ravel()]
    return out.reshape(arr.shape)


def _as_sympy(arr):
    if arr.shape == ():
        return arr[()]
    return _sp.Array(arr.tolist(), arr.shape)


def _compile(arr, flat_symbols, in_shape):
    """A NumPy function of x (in_shape, or batch + in_shape) giving batch + arr.shape."""
    exprs = list(arr.ravel())
    lam = _sp.lambdify(flat_symbols, exprs, modules='numpy')
    out_shape = arr.shape
    n_in = len(flat_symbols)

    def func(x):
        x = _np.asarray(x, dtype=_np.float64)
        nd = len(in_shape)
        if x.ndim < nd or tuple(x.shape[x.ndim - nd:]) != tuple(in_shape):
            raise ValueError(f'symbolic: expected an input of shape {in_shape} (or a batch of '
                             f'them, batch + {in_shape}), got {x.shape}')
        batch = x.shape[:x.ndim - nd]
        columns = x.reshape(batch + (n_in,))
        values = lam(*[columns[..., i] for i in range(n_in)])
        values = [_np.broadcast_to(_np.asarray(v, dtype=_np.float64), batch) for v in values]
        result = (_np.stack(values, axis=-1) if values else _np.zeros(batch + (0,)))
        result = result.reshape(batch + out_shape)
        return result if result.shape else float(result)
    func.__doc__ = f'Compiled by sympy.lambdify from {len(exprs)} expression(s).'
    return func


def _finish(derivative, flat_symbols, in_shape, value, simplify):
    derivative = _simplify(derivative, simplify)
    return Symbolic(_as_sympy(derivative), _compile(derivative, flat_symbols, in_shape),
                    flat_symbols, _as_sympy(value), derivative.shape)


def _require_scalar_output(name, value):
    if value.shape != ():
        raise TypeError(f'symbolic.{name} requires a function with a scalar output, but it '
                        f'returned shape {value.shape}; use symbolic.jacobian')


def _require_scalar_input(name, shape):
    if shape != ():
        raise ValueError(f'symbolic.{name} differentiates functions of a scalar, got input '
                         f'shape {shape}; use symbolic.grad or symbolic.jacobian')


def expression(f: Callable[..., Any], x: Any = None, *, simplify: bool = False) -> Symbolic:
    """f itself, traced: (expr, func)."""
    value, _, flat, shape = trace(f, x)
    return _finish(value, flat, shape, value, simplify)


def diffn(n: int, f: Callable[..., Any], x: Any = None, *, simplify: bool = True) -> Symbolic:
    """The n-th derivative of f: R -> R^m (any output shape) in the scalar x."""
    if int(n) != n or n < 0:
        raise ValueError(f'symbolic.diffn: the order must be a non-negative integer, got {n!r}')
    value, _, flat, shape = trace(f, x)
    _require_scalar_input('diffn', shape)
    d = _np.vectorize(lambda e: _sp.diff(e, flat[0], int(n)) if n else e, otypes=[object])(value) \
        if value.size else value
    d = _np.asarray(d, dtype=object).reshape(value.shape)
    return _finish(d, flat, shape, value, simplify)


def diff(f: Callable[..., Any], x: Any = None, *, simplify: bool = True) -> Symbolic:
    """f'(x) for scalar x: ``expr, func = symbolic.diff(f)``."""
    return diffn(1, f, x, simplify=simplify)


def diff2(f: Callable[..., Any], x: Any = None, *, simplify: bool = True) -> Symbolic:
    return diffn(2, f, x, simplify=simplify)


def jacobian(f: Callable[..., Any], x: Any, *, simplify: bool = True) -> Symbolic:
    """The Jacobian, shape out.shape + in.shape."""
    value, _, flat, shape = trace(f, x)
    out = _np.empty(value.shape + (len(flat),), dtype=object)
    for idx in _np.ndindex(*value.shape):
        for j, s in enumerate(flat):
            out[idx + (j,)] = _sp.diff(value[idx], s)
    return _finish(out.reshape(value.shape + tuple(shape)), flat, shape, value, simplify)


def grad(f: Callable[..., Any], x: Any, *, simplify: bool = True) -> Symbolic:
    """The gradient of a scalar function, shape in.shape."""
    value, _, flat, shape = trace(f, x)
    _require_scalar_output('grad', value)
    e = value[()]
    out = _np.empty(len(flat), dtype=object)
    out[:] = [_sp.diff(e, s) for s in flat]
    return _finish(out.reshape(shape), flat, shape, value, simplify)


def hessian(f: Callable[..., Any], x: Any, *, simplify: bool = True) -> Symbolic:
    """The Hessian of a scalar function, shape in.shape + in.shape."""
    value, _, flat, shape = trace(f, x)
    _require_scalar_output('hessian', value)
    e = value[()]
    n = len(flat)
    first = [_sp.diff(e, s) for s in flat]
    out = _np.empty((n, n), dtype=object)
    for i in range(n):
        for j in range(i, n):
            out[i, j] = out[j, i] = _sp.diff(first[i], flat[j])
    return _finish(out.reshape(tuple(shape) + tuple(shape)), flat, shape, value, simplify)


def laplacian(f: Callable[..., Any], x: Any, *, simplify: bool = True) -> Symbolic:
    """Σ ∂²f/∂x_i², a scalar expression."""
    value, _, flat, shape = trace(f, x)
    _require_scalar_output('laplacian', value)
    e = value[()]
    total = _sp.Add(*[_sp.diff(e, s, 2) for s in flat])
    return _finish(_scalar_array(total), flat, shape, value, simplify)
