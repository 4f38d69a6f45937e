"""NumPy's own functions on traced values: ``__array_function__``, ``__array_ufunc__``
and ``__array__`` for boxes.

A NumPy function that meets a value being differentiated hands it here (NEP 18,
NEP 13).  Where ``pyad.numpy`` has the same function, it is called with NumPy's
arguments translated (``out=None``, ``dtype=None``, ``keepdims`` ... accepted), so
``np.sum(x ** 2)`` or ``np.linalg.solve(a, x)`` differentiate as their
``pyad.numpy`` twins do.  Anything else is computed on the plain values only when
its result holds no floating-point number (``np.shape``, ``np.argsort``,
``np.isclose``: there is no derivative to lose); otherwise it raises a TypeError
that names the NumPy function and the ``pyad.numpy`` replacement, as does turning
a traced value into a plain array (``np.asarray(x)``), which NumPy would otherwise
do by building an array of objects whose derivative is silently wrong.
"""
import inspect

import numpy as _np

from .._core.box import Box, innermost, lift_dead
from .._core.batching import holds_batch

_NO_VALUE = getattr(_np, '_NoValue', object())
_EMPTY = inspect.Parameter.empty
_VAR_POSITIONAL = inspect.Parameter.VAR_POSITIONAL
_VAR_KEYWORD = inspect.Parameter.VAR_KEYWORD
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class TracedArrayConversionError(TypeError):
    """A NumPy function was asked for a plain array from a value being differentiated."""


def _where(func):
    """'numpy.linalg.solve' for numpy.linalg.solve (NumPy functions say where they live)."""
    module = getattr(func, '__module__', None) or 'numpy'
    if module.startswith('numpy.') and module.count('.') > 1 or module.startswith('numpy._') \
            or module.startswith('numpy.lib') or module.startswith('numpy.core'):
        module = 'numpy'             # numpy._core.fromnumeric.sum is numpy.sum to a user
    if module == 'numpy' and getattr(_np.linalg, func.__name__, None) is func:
        module = 'numpy.linalg'
    if isinstance(func, _np.ufunc):
        module = 'numpy' if getattr(_np, func.__name__, None) is func else 'a ufunc'
        if module == 'a ufunc':
            import sys
            special = sys.modules.get('scipy.special')
            if special is not None and getattr(special, func.__name__, None) is func:
                module = 'scipy.special'
    return f'{module}.{func.__name__}' if module != 'a ufunc' else f'the ufunc {func.__name__}'


def _advice(func):
    name = func.__name__
    from .. import numpy as pnp
    target = getattr(pnp, name, None)
    if target is not None and target is not func:
        return f'use pyad.numpy.{name}'
    return (f'pyad.numpy has no {name}: write it with pyad.numpy functions, or wrap the '
            'argument in pyad.stop_gradient if no derivative is wanted through it')


def conversion_error(what):
    return TracedArrayConversionError(
        f'{what} was asked to turn a traced value (one being differentiated) into a plain '
        'NumPy array, which would drop its derivative. Use pyad.numpy (import pyad.numpy as '
        'np) for functions of traced values, or pyad.stop_gradient(x) if the derivative is '
        'meant to be dropped.')


def array_method(self, dtype=None, copy=None):
    """Box.__array__: NumPy's conversion to a plain array (np.asarray, np.array,
    ndarray[i] = x, np.float64(x)...)."""
    value = lift_dead(self)
    if not isinstance(value, Box):       # its operators have returned: a constant
        out = _np.asarray(value, dtype=dtype)
        return out.copy() if copy else out
    if holds_batch(value):
        raise TracedArrayConversionError(
            'NumPy (numpy.asarray, numpy.array, indexing a NumPy array, or a function that '
            'converts its input) was given a value that differs between the examples of a '
            'vmap, and cannot see its batch axis. Use pyad.numpy functions on it (to index '
            'a NumPy array by it: pyad.numpy.take(array, index, axis=0)).')
    raise conversion_error('NumPy (numpy.asarray, numpy.array or a function that converts '
                           'its input)')


class TracedFlagsError(AttributeError):
    """x.flags of a value being differentiated (an AttributeError, so that
    ``hasattr(x, 'flags')`` still tells arrays from boxes)."""


def no_flags(self):
    """Box.flags, read by ``numpy.isfortran`` and code that checks an array's layout."""
    raise TracedFlagsError(
        'x.flags (read by numpy.isfortran, among others): a traced value (one being '
        'differentiated) has no memory layout of its own. Read the layout of the plain '
        'value inside, pyad.stop_gradient(x), which is what pyad computes on.')


# ------------------------------------------------------------------ the tables
def _adapters():
    """NumPy functions whose pyad.numpy twin has another name or other defaults."""
    from .. import numpy as pnp
    from .. import linalg as pla
    la = _np.linalg

    def linalg_diagonal(x, offset=0):
        return pnp.diagonal(x, offset, -2, -1)

    def linalg_trace(x, offset=0, dtype=None):
        return pnp.trace(x, offset, -2, -1, dtype)

    # NumPy reads one triangle of the matrix (pyad.linalg: the symmetric part), so
    # its derivative in the other triangle is zero: build the symmetric matrix
    # NumPy sees, then differentiate that
    def triangle(a, uplo):
        if uplo not in ('L', 'U'):
            raise ValueError(f"UPLO must be 'L' or 'U', not {uplo!r}")
        if uplo == 'U':
            a = pnp.swapaxes(a, -1, -2)
        return pnp.tril(a) + pnp.swapaxes(pnp.tril(a, -1), -1, -2)

    def linalg_eigvalsh(a, UPLO='L'):
        return pla.eigh(triangle(a, UPLO))[0]

    def linalg_eigh(a, UPLO='L'):
        return pla.eigh(triangle(a, UPLO))

    def linalg_cholesky(a, upper=False):
        low = pla.cholesky(triangle(a, 'L'))
        return pnp.swapaxes(low, -1, -2) if upper else low

    def linalg_lstsq(a, b, rcond=None):
        out = pla.lstsq(a, b, rcond)
        if isinstance(out, tuple):
            return out
        # NumPy's 4-tuple (x, residuals, rank, singular values), not x alone
        _, residuals, rank, _ = _np.linalg.lstsq(innermost(a), innermost(b), rcond=rcond)
        m, n = pnp.shape(a)[-2:]
        if rank == n and m > n:
            r = pnp.matmul(a, out) - b
            residuals = pnp.sum(r * r, axis=0)
            if pnp.ndim(b) == 1:
                residuals = pnp.reshape(residuals, (1,))
        return out, residuals, rank, pla.svd(a, compute_uv=False)

    def linalg_svd(a, full_matrices=True, compute_uv=True, hermitian=False):
        m, n = pnp.shape(a)[-2:]
        if m == n:                  # full and reduced are the same for a square matrix
            full_matrices = False
        return pla.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)

    def where(condition, x=None, y=None):
        if x is None and y is None:            # np.where(c) is np.nonzero(c): integers
            return _np.nonzero(innermost(condition))
        return pnp.where(condition, x, y)

    def linalg_svdvals(x):
        return pla.svd(x, compute_uv=False)

    def linalg_cond(x, p=None):
        if p is None or p == 2 or p == -2:
            s = pla.svd(x, compute_uv=False)
            big, small = s[..., 0], s[..., -1]
            return small / big if p == -2 else big / small
        return pla.norm(x, p, (-2, -1)) * pla.norm(pla.inv(x), p, (-2, -1))

    def linalg_multi_dot(arrays):
        out = arrays[0]
        for a in arrays[1:]:
            out = pnp.matmul(out, a)
        return out

    def linalg_vecdot(x1, x2, axis=-1):
        return pnp.sum(x1 * x2, axis=axis)

    def linalg_vector_norm(x, axis=None, keepdims=False, ord=2):
        return pla.norm(x if axis is not None or pnp.ndim(x) == 1 else pnp.ravel(x),
                        ord, axis, keepdims)

    def linalg_matrix_norm(x, keepdims=False, ord='fro'):
        return pla.norm(x, ord, (-2, -1), keepdims)

    table = {
        la.diagonal: linalg_diagonal, la.trace: linalg_trace, la.eigvalsh: linalg_eigvalsh,
        la.eigh: linalg_eigh, la.svd: linalg_svd, la.cond: linalg_cond,
        la.cholesky: linalg_cholesky, la.lstsq: linalg_lstsq,
        _np.where: where, la.svdvals: linalg_svdvals, la.multi_dot: linalg_multi_dot,
        la.vecdot: linalg_vecdot, la.vector_norm: linalg_vector_norm,
        la.matrix_norm: linalg_matrix_norm, la.matmul: pnp.matmul,
        la.matrix_transpose: pnp.matrix_transpose, la.tensordot: pnp.tensordot,
        la.outer: pnp.outer, la.cross: pnp.cross,
    }
    return {k: v for k, v in table.items() if k is not None}


def _check_uplo(uplo):
    if uplo != 'L':
        raise TypeError("numpy.linalg.eigh: pyad reads the lower triangle only (UPLO='L')")


_FUNCTIONS = None


def _functions():
    """NumPy function -> its pyad.numpy twin (or None: compute on plain values)."""
    global _FUNCTIONS
    if _FUNCTIONS is None:
        from .. import numpy as pnp
        from .. import linalg as pla
        table = {}
        for name in dir(pnp):
            if name.startswith('_'):
                continue
            ours, theirs = getattr(pnp, name), getattr(_np, name, None)
            # (NumPy's own, only with errors that name it, is no twin: as NumPy's own)
            own = ours is theirs or getattr(ours, '__wrapped__', None) is theirs
            if callable(theirs) and not own and not isinstance(theirs, type):
                table[theirs] = ours
        for name in pla.__all__:
            theirs = getattr(_np.linalg, name, None)
            if callable(theirs) and not isinstance(theirs, type):
                table[theirs] = getattr(pla, name)
        for name in pnp.fft.__all__:
            theirs = getattr(_np.fft, name)
            if theirs is not getattr(pnp.fft, name):
                table[theirs] = getattr(pnp.fft, name)
        table.update(_adapters())
        _FUNCTIONS = table
    return _FUNCTIONS


_UFUNCS = None


def _ufuncs():
    """NumPy (and scipy.special) ufunc -> its pyad.numpy twin."""
    global _UFUNCS
    if _UFUNCS is None:
        from .. import numpy as pnp
        from . import products
        table = {}
        for name in dir(pnp):
            theirs = getattr(_np, name, None)
            if isinstance(theirs, _np.ufunc) and not name.startswith('_'):
                table[theirs] = getattr(pnp, name)
        try:
            import scipy.special as sps
        except ImportError:          # pragma: no cover - SciPy is a dependency
            sps = None
        if sps is not None:
            for name in ('erf', 'erfc', 'erfinv', 'expit', 'logit', 'log_expit', 'gammaln',
                         'gamma', 'digamma', 'psi', 'xlogy', 'xlog1py'):
                theirs = getattr(sps, name, None)
                if isinstance(theirs, _np.ufunc):
                    table[theirs] = getattr(pnp, name)
        table[_np.matmul] = products.matmul
        table[_np.conjugate] = pnp.conj
        table[_np.true_divide] = pnp.divide
        for name in ('vecdot', 'matvec', 'vecmat'):
            theirs = getattr(_np, name, None)
            if isinstance(theirs, _np.ufunc):
                table[theirs] = _GUFUNCS[name]
        _UFUNCS = table
    return _UFUNCS


def _vecdot(x1, x2):
    from .. import numpy as pnp
    return pnp.sum(pnp.conj(x1) * x2, axis=-1)      # (NumPy's vecdot conjugates x1)


def _matvec(a, v):
    from .. import numpy as pnp
    return pnp.matmul(a, pnp.expand_dims(v, -1))[..., 0]


def _vecmat(v, a):
    from .. import numpy as pnp
    return pnp.matmul(pnp.expand_dims(v, -2), a)[..., 0, :]


_GUFUNCS = {'vecdot': _vecdot, 'matvec': _matvec, 'vecmat': _vecmat}

# NumPy functions that write into one of their arguments: a traced value there has
# nowhere to go
_IN_PLACE = frozenset({'copyto', 'place', 'put', 'putmask', 'put_along_axis',
                       'fill_diagonal'})


# ------------------------------------------------------------------ arguments
def _signature(fn):
    from .._core.primitive import Primitive
    if isinstance(fn, Primitive):
        fn = fn.impl
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _is_default(value, default):
    if value is default or value is _NO_VALUE:
        return True
    if default is _EMPTY or default is _NO_VALUE:
        return value is None
    try:
        return type(value) is type(default) and bool(value == default)
    except Exception:        # an array compared with a default: not a default
        return False


def _unsupported(where, name, value, target):
    if name == 'out':
        return TypeError(
            f'{where}(..., out=...) on a traced value: the result cannot be written into '
            f'a plain array without losing its derivative; use the returned value '
            f'({target}) instead of out=')
    return TypeError(f'{where} on a traced value: the argument {name}={value!r} is not '
                     f'supported by {target}')


def _translate_unmatched(where, target, args, kwargs):
    """No signature to match (a builtin): the arguments as they are, less a default
    out= or dtype=."""
    if any(not _is_default(v, None) for k, v in kwargs.items() if k in ('out', 'dtype')):
        raise _unsupported(where, 'out' if 'out' in kwargs else 'dtype',
                           kwargs.get('out', kwargs.get('dtype')), target)
    return args, {k: v for k, v in kwargs.items() if k not in ('out', 'dtype')}, None


_ALIASES = {'min': 'a_min', 'max': 'a_max'}


class _Call:
    """pyad's call being built from NumPy's, one NumPy parameter at a time: positional
    while our parameters are filled in order, by keyword after that."""

    def __init__(self, where, target, theirs, ours):
        self.where, self.target = where, target
        self.ours = list(ours.parameters.values())
        self.names = {q.name: q for q in self.ours}
        self.their_names = set(theirs.parameters)
        self.var_keyword = any(q.kind is _VAR_KEYWORD for q in self.ours)
        self.args, self.kwargs, self.cast = [], {}, None
        self.positional = True

    def add(self, i, p, given, value):
        if p.kind is _VAR_POSITIONAL:
            self._var_positional(given, value)
        elif p.kind is _VAR_KEYWORD:
            self._var_keyword(given, value)
        else:
            self._named(i, p, given, value)

    def _var_positional(self, given, value):
        if value and not self.positional:
            raise TypeError(f'{self.where}: cannot pass these arguments to {self.target}')
        self.args.extend(value if given else ())
        self.positional = any(q.kind is _VAR_POSITIONAL for q in self.ours)

    def _var_keyword(self, given, value):
        for k, v in (value if given else {}).items():
            if k in self.names or self.var_keyword:
                self.kwargs[k] = v
            elif not _is_default(v, None):
                raise _unsupported(self.where, k, v, self.target)

    def _target_name(self, i, p):
        """Our name for NumPy's parameter p (the i-th), or None."""
        q = self.names.get(p.name)
        if q is not None and q.kind not in (_VAR_POSITIONAL, _VAR_KEYWORD):
            return p.name
        alias = _ALIASES.get(p.name)
        if alias in self.names:
            return alias
        if i < len(self.ours):
            q = self.ours[i]
            if q.kind in _POSITIONAL and q.name not in self.their_names:
                return q.name       # the same parameter under another name (a / x, shape / newshape)
        return None

    def _named(self, i, p, given, value):
        name = self._target_name(i, p)
        if name == 'out' or (name is None and p.name == 'out'):
            if given and not _is_default(value, None) and value != (None,):
                raise _unsupported(self.where, 'out', value, self.target)
            self.positional = False
        elif name is None:
            self._unmatched(p, given, value)
        else:
            self._matched(name, given, value)

    def _unmatched(self, p, given, value):
        if p.name == 'dtype' and given and value is not None:
            self.cast = value
        elif given and not _is_default(value, p.default):
            raise _unsupported(self.where, p.name, value, self.target)
        self.positional = False

    def _matched(self, name, given, value):
        q = self.names[name]
        if value is _NO_VALUE or (not given and (value is _EMPTY or _is_default(value, q.default))):
            self.positional = False      # NumPy's default is ours: leave it out
        elif self.positional and q.kind in _POSITIONAL and self.ours.index(q) == len(self.args):
            self.args.append(value)
        else:
            self.positional = False
            self.kwargs[name] = value


def _translate(where, func, fn, target, args, kwargs):
    """NumPy's call (args, kwargs) of func as a call of pyad's fn: (args, kwargs, dtype),
    dtype being a dtype to cast the result to (NumPy's dtype= where fn takes none)."""
    theirs, ours = _signature(func), _signature(fn)
    if theirs is None or ours is None:
        return _translate_unmatched(where, target, args, kwargs)
    try:
        bound = theirs.bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f'{where}: {e}') from None
    call = _Call(where, target, theirs, ours)
    for i, p in enumerate(theirs.parameters.values()):
        call.add(i, p, p.name in bound.arguments, bound.arguments.get(p.name, p.default))
    return call.args, call.kwargs, call.cast


def _cast(result, dtype):
    if dtype is None:
        return result
    from .manipulation import astype
    dtype = _np.dtype(dtype)
    if dtype.kind != 'f':
        raise TypeError(f'pyad: dtype={dtype} would drop the derivative of a traced value')
    return astype(result, dtype)


def _unboxed(obj):
    if isinstance(obj, Box):
        return innermost(obj)
    if type(obj) in (list, tuple):
        return type(obj)(_unboxed(o) for o in obj)
    if type(obj) is dict:
        return {k: _unboxed(v) for k, v in obj.items()}
    return obj


def _has_inexact(obj):
    """Whether a result holds a floating-point (or complex) number anywhere."""
    if isinstance(obj, (bool, int, str, bytes, type(None), _np.dtype, type)):
        return False
    if isinstance(obj, (float, complex)):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_has_inexact(o) for o in obj)
    if isinstance(obj, dict):
        return any(_has_inexact(o) for o in obj.values())
    dtype = getattr(obj, 'dtype', None)
    if dtype is not None:
        return dtype.kind in 'fcO'
    return True           # anything else (an iterator, an object): not known to be safe


def _plain(where, func, args, kwargs):
    """A NumPy function with no pyad twin: computed on the plain values when its
    result has no derivative to lose (integers, booleans, shapes)."""
    name = getattr(func, '__name__', '')
    if name in _IN_PLACE:
        raise TypeError(f'{where} writes into an array in place, which cannot hold a traced '
                        'value; build a new array instead (pyad.numpy.where, concatenate, '
                        'stack)')
    out = kwargs.get('out')
    if out is not None and out != (None,):
        raise _unsupported(where, 'out', out, 'pyad.numpy')
    result = func(*_unboxed(args), **_unboxed(kwargs))
    if _has_inexact(result):
        raise TypeError(f'{where} on a traced value (one being differentiated) would drop its '
                        f'derivative: {_advice(func)}')
    return result


# ------------------------------------------------------------------ the protocols
def array_function(self, func, types, args, kwargs):
    """Box.__array_function__ (NEP 18)."""
    where = _where(func)
    fn = _functions().get(func)
    if fn is None:
        return _plain(where, func, args, kwargs)
    from .._core.primitive import Primitive
    if isinstance(fn, Primitive) and fn.nondiff:       # pyad's answer is a constant too
        out = kwargs.get('out')
        if out is not None:
            raise _unsupported(where, 'out', out, 'pyad.numpy')
        return func(*_unboxed(args), **_unboxed(kwargs))
    target = 'pyad.' + ('linalg.' if getattr(fn, '__module__', '') == 'pyad.linalg' else 'numpy.') \
        + getattr(fn, '__name__', func.__name__)
    call_args, call_kwargs, cast = _translate(where, func, fn, target, args, kwargs)
    if isinstance(fn, Primitive) and call_kwargs:
        raise _unsupported(where, next(iter(call_kwargs)), next(iter(call_kwargs.values())),
                           target)
    return _cast(fn(*call_args, **call_kwargs), cast)


_UFUNC_NEUTRAL = {'where': True, 'casting': 'same_kind', 'order': 'K', 'subok': True,
                  'signature': None, 'dtype': None, 'axes': None, 'axis': None,
                  'keepdims': False}


def _check_ufunc_keywords(where, ufunc, method, kwargs):
    """Refuse out= and any keyword that would change the result from pyad's (removes out)."""
    out = kwargs.pop('out', None)
    if out is not None and any(o is not None for o in out):
        raise _unsupported(where, 'out', out, f'pyad.numpy.{ufunc.__name__}')
    for k, v in kwargs.items():
        if method != '__call__' and k in ('keepdims', 'axis', 'initial'):
            continue            # reduce / accumulate read these
        if not _is_default(v, _UFUNC_NEUTRAL.get(k, _EMPTY)):
            raise _unsupported(where, k, v, f'pyad.numpy.{ufunc.__name__}')


def array_ufunc(self, ufunc, method, *inputs, **kwargs):
    """Box.__array_ufunc__ (NEP 13): ndarray + x, np.exp(x), scipy.special.expit(x)."""
    fn = (_UFUNCS or _ufuncs()).get(ufunc)
    if method == '__call__' and not kwargs and fn is not None:
        return fn(*inputs)          # the common case (ndarray * x), kept short
    where = _where(ufunc)
    cast = kwargs.pop('dtype', None)
    _check_ufunc_keywords(where, ufunc, method, kwargs)
    if method == '__call__':
        if fn is None:
            return _plain(where, ufunc, inputs, {})
        return _cast(fn(*inputs), cast)
    if method in ('reduce', 'accumulate', 'outer') and fn is not None:
        return _cast(_ufunc_method(where, ufunc, method, inputs, kwargs), cast)
    if method == 'at':
        raise TypeError(f'{where}.at writes into an array in place, which cannot hold a traced '
                        'value; build a new array instead (pyad.numpy.where, concatenate)')
    try:
        return _plain(f'{where}.{method}', getattr(ufunc, method), inputs, kwargs)
    except TypeError:
        raise TypeError(f'{where}.{method} on a traced value is not supported by pyad; '
                        f'{_advice(ufunc)}') from None


def _ufunc_method(where, ufunc, method, inputs, kwargs):
    from .. import numpy as pnp
    name = ufunc.__name__
    if method == 'outer':
        a, b = inputs
        a = pnp.reshape(a, tuple(pnp.shape(a)) + (1,) * pnp.ndim(b))
        return _ufuncs()[ufunc](a, b)
    (x,) = inputs
    axis = kwargs.get('axis', 0)
    keepdims = kwargs.get('keepdims', False)
    if kwargs.get('initial', _NO_VALUE) not in (_NO_VALUE, None) or kwargs.get('where', True) is not True:
        raise _unsupported(f'{where}.{method}', 'initial' if 'initial' in kwargs else 'where',
                           kwargs.get('initial', kwargs.get('where')), 'pyad.numpy')
    if method == 'reduce':
        reductions = {'add': pnp.sum, 'multiply': pnp.prod, 'maximum': pnp.max,
                      'minimum': pnp.min, 'fmax': pnp.max, 'fmin': pnp.min}
        if name in reductions:
            return reductions[name](x, axis=axis, keepdims=keepdims)
    else:
        accumulations = {'add': pnp.cumsum, 'multiply': pnp.cumprod}
        if name in accumulations:
            return accumulations[name](x, axis=axis)
    raise TypeError(f'{where}.{method} on a traced value is not supported by pyad; '
                    'write it with pyad.numpy functions')
