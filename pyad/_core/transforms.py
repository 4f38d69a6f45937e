"""The two transformations every operator is built from.

``push_forward``: run f on dual numbers of a fresh forward tag (one direction, or
a batch of B directions at once) and read the tangents of its outputs.
``pull_back``: run f on tape variables of a fresh reverse tag and return a
pullback that sweeps the tape for any output cotangent (batched too).

Both take and return flat lists of leaves; the operators handle the pytrees.
Both retire their tag when they return, whatever happens.
"""
import numbers

from .. import backend
from .box import Box, Dual, TapeVar, LazyVar, pending, innermost, lift_dead, shape_of, dtype_of
from .tags import Tag
from .reverse import Tape, sweep
from .pytree import tree_flatten, tree_unflatten, leaf_paths
from ..backend import wrap_like, namespace as _xp

_ndarray = backend.ndarray


class FunctionOutput(Exception):
    """Raised when the differentiated function returns a function, or a pytree with a
    function among its leaves (handled by the operators, which then return, in the
    place of each function, one that differentiates afresh).  ``args[0]`` is the
    output, for its structure."""


def is_function(y):
    """A leaf that is a function (not a traced value or an array, which may be callable)."""
    return callable(y) and not isinstance(y, Box) and not hasattr(y, 'dtype')


# --------------------------------------------------------------------------- inputs
_FLOAT_KINDS = ('f', 'c')      # real or complex floating point
_PYTHON_FLOATS = (float, complex)


def as_float_leaf(x, opname, what='input'):
    """Validate one leaf of an input to ``opname``; promote integers to float64."""
    if isinstance(x, Box):
        inner = innermost(x)
        if dtype_of(inner).kind not in _FLOAT_KINDS:
            raise TypeError(f'{opname}: traced {what} has non-float dtype {dtype_of(inner)}')
        return x
    t = type(x)
    if t in _PYTHON_FLOATS:
        return x
    if isinstance(x, bool) or isinstance(x, backend.bool_):
        raise TypeError(f'{opname}: {what} is a bool ({x!r}); pass a float')
    if isinstance(x, numbers.Integral):
        return float(x)
    if isinstance(x, numbers.Real) and not hasattr(x, 'dtype'):
        return float(x)
    dtype = getattr(x, 'dtype', None)
    if dtype is not None and hasattr(x, 'shape'):
        kind = dtype.kind
        if kind in _FLOAT_KINDS:
            return x
        if kind in 'iu':
            return x.astype(backend.float64)
        if kind == 'b':
            raise TypeError(f'{opname}: {what} is a boolean array; pass floats')
        raise TypeError(f'{opname}: {what} has dtype {dtype}, which cannot be differentiated; '
                        f'pass a float or an array of floats')
    raise TypeError(f'{opname}: {what} must be a float, an array of floats, or a tuple/list/dict '
                    f'of them; got {t.__name__}')


def check_not_integer(opname, x, what='the input'):
    """Integer and boolean leaves are constants: asking for their derivative is an
    error (as in JAX and autograd), which names the argument and the leaf."""
    t = type(x)
    if t is float or (t is backend.ndarray and x.dtype.kind == 'f'):
        return
    leaves, treedef = tree_flatten(x)
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, Box):
            continue            # (a traced value: as_float_leaf checks its dtype)
        kind = getattr(getattr(leaf, 'dtype', None), 'kind', None)
        if isinstance(leaf, numbers.Integral) or kind in ('i', 'u', 'b'):
            where = leaf_paths(treedef)[i]
            hint = (f'{int(leaf)}.0' if not hasattr(leaf, 'shape') or not leaf.shape
                    else 'x.astype(float)')
            raise TypeError(
                f'{opname}: {what}{" at " + where if where else ""} is '
                f'{"a boolean" if kind == "b" or isinstance(leaf, bool) else "an integer"} '
                f'({type(leaf).__name__}{", dtype " + str(leaf.dtype) if kind else ""}); '
                f'integers and booleans are constants with no derivative: pass a float '
                f'({hint}) to differentiate it, or pass it as an argument outside argnums')


def private(x):
    """A copy of a caller's array, for what outlives the call that was given it (a
    pullback's tape) and for the caller's v and u: results must not alias them, and
    the caller may write into them later.  (A NumPy scalar is immutable: kept.)"""
    copy = getattr(x, 'copy', None)
    if copy is None or not getattr(x, 'ndim', 0) and not hasattr(x, 'flags'):
        return x
    return copy()


def lock(leaves):
    """Make the caller's writable plain arrays among ``leaves`` read-only while f
    runs (f writing into its own input would change what the tape and the rules
    read: NumPy raises at such a write), which is cheaper than copying every input
    at every call.  Returns the arrays locked, for ``unlock``."""
    locked = []
    for x in leaves:
        if type(x) is _ndarray and x.flags.writeable:
            x.setflags(write=False)     # (not flags.writeable = ...: that keeps a little per call)
            locked.append(x)
    return locked


def unlock(locked):
    for x in locked:
        x.setflags(write=True)


def unaliased(y, leaves):
    """An output of f that is one of its input arrays (or a view of one) is copied:
    a result never shares memory with the caller's arrays."""
    if type(y) is float or isinstance(y, Box) or not hasattr(y, 'flags'):
        return y                # not a plain array (a number is immutable; a traced
        # value's own level checks its value; reading a box's flags raises)
    base = y.base
    for x in leaves:
        if y is x or (base is not None and (base is x or base is getattr(x, 'base', x))):
            return y.copy()
    return y


def flatten_input(x, opname, what='input', copy=False):
    """The leaves of x, validated (``copy``: as copies of the caller's arrays)."""
    leaves, treedef = tree_flatten(x)
    leaves = [as_float_leaf(l, opname, what) for l in leaves]
    return ([private(l) for l in leaves] if copy else leaves), treedef


def check_output_leaf(y, opname):
    if isinstance(y, Box):
        return y
    if isinstance(y, numbers.Number) or hasattr(y, 'dtype'):
        return y
    raise TypeError(f'{opname}: the function returned a {type(y).__name__}, which is not a '
                    f'number, an array, or a tuple/list/dict of them')


def call(f, x, opname):
    """f(x), with the higher-order and None cases caught."""
    out = f(x)
    if out is None:
        raise TypeError(f'{opname}: the function returned None (is a return statement missing?)')
    if callable(out) and is_function(out):
        raise FunctionOutput(out)
    if isinstance(out, (tuple, list, dict)) and any(is_function(y) for y in tree_flatten(out)[0]):
        raise FunctionOutput(out)
    return out


# ---------------------------------------------------------------------- shape helpers
def zeros_for(value, batch=()):
    """Plain zeros shaped like ``batch + value.shape``, in value's dtype and library."""
    inner = innermost(value)
    shape = tuple(batch) + tuple(shape_of(value))     # (one example's, under vmap)
    if not shape and not hasattr(inner, 'dtype'):
        return 0.0                      # a Python number: its derivative is a float
    dtype = dtype_of(inner)
    if dtype.kind != 'f' and dtype.kind != 'c':
        dtype = backend.float64   # the derivative of an integer constant
    return wrap_like(_xp(inner).zeros(shape, dtype=dtype), inner)


def cast_like(value, ref):
    """Cast a derivative to the dtype of the value it belongs to (no silent upcast)."""
    if value is None:
        return None
    if type(value) is _ndarray and type(ref) is _ndarray and value.dtype == ref.dtype:
        return value                    # (the common case, without lookups)
    want = dtype_of(ref)
    have = dtype_of(value)
    if have == want:
        return value
    if have.kind == 'c' and want.kind != 'c' and not isinstance(value, Box):
        # the derivative of a real value is real: with the pairing Re(Σ g t) of a
        # cotangent g and a real tangent t, only the real part of g acts
        value = _xp(value).real(value) if getattr(value, 'ndim', 0) else value.real
    if isinstance(value, Box):
        return value.astype(want)       # (a box's astype: a differentiable cast)
    if type(innermost(ref)) is float and not shape_of(value):
        return float(value)
    return _xp(value).asarray(value).astype(want)


def identity_seeds(leaves, total=None):
    """Split the identity of size total = Σ leaf sizes into one batched seed per leaf:
    seed i has shape (total,) + leaf_i.shape."""
    sizes = [_size(l) for l in leaves]
    n = sum(sizes) if total is None else total
    seeds = []
    offset = 0
    for leaf, size in zip(leaves, sizes):
        inner = innermost(leaf)
        xp = _xp(inner)
        block = backend.identity_rows(xp, n, size, offset, dtype_of(inner))
        seeds.append(wrap_like(block.reshape((n,) + tuple(shape_of(leaf))), inner))
        offset += size
    return seeds


def _size(x):
    n = 1
    for d in shape_of(x):
        n *= d
    return n


# ----------------------------------------------------------------- the two passes
def push_forward(f, leaves, treedef, tangents, opname):
    """Evaluate f at ``leaves`` pushing ``tangents`` (one per leaf; None for zero).

    Returns (out_leaves, out_treedef, out_tangents) with None for zero tangents.
    Every tangent must have the same batch prefix ((), or (B,)).
    """
    locked = lock(leaves)
    try:
        with Tag('forward') as tag:
            duals = [leaf if t is None else Dual(leaf, t, tag) for leaf, t in zip(leaves, tangents)]
            out = call(f, tree_unflatten(treedef, duals), opname)
            out_leaves, out_treedef = tree_flatten(out)
            primals = []
            out_tangents = []
            for y in out_leaves:
                y = lift_dead(check_output_leaf(y, opname))
                if type(y) is Dual and y.tag is tag:
                    primals.append(unaliased(y.primal, leaves))
                    out_tangents.append(cast_like(y.tangent, y.primal))
                else:
                    primals.append(unaliased(y, leaves))
                    out_tangents.append(None)
    finally:
        if locked:
            unlock(locked)
    return primals, out_treedef, out_tangents


def pull_back(f, leaves, treedef, opname, lazy=False):
    """Evaluate f at ``leaves`` on a fresh tape.

    Returns (out_leaves, out_treedef, pullback) where ``pullback(cotangents)`` takes
    one cotangent per output leaf (None for zero; all with the same batch prefix)
    and returns one adjoint per input leaf (None where no cotangent arrived).
    ``lazy``: an output leaf whose value was deferred is returned as it is (a
    pending LazyVar: its shape and dtype known, its value computed only if read,
    see ``value``), for an operator that may not need the value of f at all.
    """
    tape = Tape()
    locked = lock(leaves)
    try:
        with Tag('reverse', tape) as tag:
            variables = [tape.input(leaf, tag) for leaf in leaves]
            out = call(f, tree_unflatten(treedef, variables), opname)
            out_leaves, out_treedef = tree_flatten(out)
            primals = []
            out_slots = []
            for y in out_leaves:
                y = lift_dead(check_output_leaf(y, opname))
                if (type(y) is TapeVar or type(y) is LazyVar) and y.tag is tag:
                    primals.append(y if lazy and pending(y) else unaliased(y.primal, leaves))
                    out_slots.append(y.index)
                else:
                    primals.append(unaliased(y, leaves))
                    out_slots.append(None)
    finally:
        if locked:
            unlock(locked)
    in_slots = [v.index for v in variables]

    def pullback(cotangents, last=False):
        """``last``: no further call will follow (the tape may drop its values)."""
        seeds = [(s, c) for s, c in zip(out_slots, cotangents) if s is not None]
        adjoints = sweep(tape, seeds, in_slots, last)
        return [cast_like(a, leaf) for a, leaf in zip(adjoints, leaves)]

    return primals, out_treedef, pullback


def value(y):
    """The value of an output leaf that pull_back(lazy=True) returned (computing it
    if it was deferred)."""
    return y.primal if type(y) is LazyVar else y
