"""Batching rules of pyad's primitives, registered with the core (_core/batching.py).

Every rule receives the arguments with the batch axis first where batched (one
example's value where not) and returns the result for the whole batch, batch
axis first.  Rules are written with pyad primitives, so a batched computation
is differentiable in turn (``grad(vmap(f))``).  The families:

- elementwise (broadcasting) primitives: a batched argument of lower rank than
  the others gets unit axes after its batch axis, and the primitive runs as is;
- primitives with an axis (reductions, cumulative sums, softmax, sparsemax...):
  the axis moves past the batch axis;
- primitives linear in their batched arguments (reshapes, indexing, sums,
  concatenation, a solve in its right-hand side...): their JVP rule, which takes
  tangents with a leading batch axis, computes the batch, the batched values
  standing in for tangents;
- matrix functions over stacks (pyad.linalg, matmul, einsum): the batch is one
  more stack axis (an extra subscript for einsum);
- the rest falls back to a loop over the examples (``FALLBACK``, listed in the
  docs: a few internal primitives of SparseK attention and two whole-array
  predicates).
"""
from . import backend
from ._core import batching
from ._core.batching import loop
from ._core.box import Box, BatchBox, shape_of, ndim_of, dtype_of
from ._core.primitive import Primitive, bind
from importlib import import_module
from .numpy.manipulation import reshape, broadcast_to, expand_dims, stack, moveaxis, pad

# the modules themselves (some share a name with a function of their package)
_mp, _red, _idx, _prod, _la, _sm, _sp, _att, _bidx, _fft = (import_module('pyad.' + m) for m in (
    'numpy.manipulation', 'numpy.reductions', 'numpy.indexing', 'numpy.products', 'linalg',
    'nn.softmax', 'nn.sparse', 'nn.attention', 'numpy._batched_index', 'numpy.fft'))

batching._STACK.append(stack)


# ------------------------------------------------------------------- helpers
def _rank(v, batched):
    """The rank of one example of argument v."""
    try:
        return ndim_of(v) - (1 if batched else 0)
    except AttributeError:
        return 0


def _lift_rank(v, rank, target):
    """Batched v (batch axis first, example rank ``rank``) with unit axes after the
    batch axis up to example rank ``target``, so that it broadcasts like one
    example against the unbatched arguments."""
    if rank >= target:
        return v
    s = tuple(shape_of(v))
    return reshape(v, s[:1] + (1,) * (target - rank) + s[1:])


def _full_batch(v, batched, size):
    """v with a batch axis of ``size`` (broadcast where it had none)."""
    if batched:
        return v
    s = tuple(shape_of(v))
    return broadcast_to(v, (size,) + s)


def _shift(axis, rank):
    """Axis (int, tuple, or None for all) of one example as an axis of the batch."""
    if axis is None:
        return tuple(range(1, rank + 1))
    if isinstance(axis, tuple):
        return tuple(_shift(a, rank) for a in axis)
    return axis + 1 if axis >= 0 else axis + rank + 1   # non-negative: rules shift it on


# ------------------------------------------------------------- the families
def elementwise(prim, values, batched, params, size):
    ranks = [_rank(v, b) for v, b in zip(values, batched)]
    top = max(ranks)
    args = [_lift_rank(v, r, top) if b else v for v, b, r in zip(values, batched, ranks)]
    return prim(*args, **params)


def linear(prim, values, batched, params, size):
    """For a primitive linear in its batched arguments jointly (the others held
    fixed): its JVP rule with the batched values as a batch of tangents."""
    tangents = []
    primals = []
    for v, b in zip(values, batched):
        tangents.append(v if b else None)
        primals.append(_stand_in(v, b) if b else v)
    ans = prim.impl(*[_plain(p) for p in primals], **params)
    out = prim.apply_jvp(tangents, ans, primals, params)
    if prim.multiple_results:
        return tuple(_zeros_batch(a, size) if o is None else o for o, a in zip(out, ans))
    return _zeros_batch(ans, size) if out is None else out


def _stand_in(v, b):
    """Zeros shaped like one example of v (a linear rule reads only its shape)."""
    s = tuple(shape_of(v))[1:] if b else tuple(shape_of(v))
    xp = backend.namespace(v)
    return xp.broadcast_to(xp.zeros((), dtype=dtype_of(v)), s)


def _plain(v):
    """A plain value for computing one example's answer (shapes only)."""
    if isinstance(v, Box):
        return _stand_in(v, False)
    return v


def _zeros_batch(ans, size):
    xp = backend.namespace(ans)
    return xp.zeros((size,) + tuple(shape_of(ans)), dtype=dtype_of(ans))


def along(position, kind='axes'):
    """A rule for a primitive acting along an axis of argument 0, given at
    ``position`` (an int: a positional argument; a str: a parameter).  ``kind``
    'axes': an int or a tuple (None: all axes); 'axis': an int, or None for the
    flattened array (argmax).  Other batched arguments: the loop (logsumexp's
    weights excepted, which broadcast like x)."""
    def rule(prim, values, batched, params, size):
        if any(batched[1:]) and prim is not _red._logsumexp:
            return loop(prim, values, batched, params, size)
        x = values[0]
        rank = _rank(x, batched[0])
        if not batched[0]:
            x = _full_batch(x, False, size)
        values = list(values)
        params = dict(params)
        axis = values[position] if isinstance(position, int) else params[position]
        if axis is None and kind == 'axis':
            return _flat_axis(prim, x, rank, values, params, position, size)
        new = _shift(axis, rank)
        if isinstance(position, int):
            values[position] = new
        else:
            params[position] = new
        values[0] = x
        if prim is _red._logsumexp and values[1] is not None:
            values[1] = _lift_rank(values[1], _rank(values[1], batched[1]), rank) \
                if batched[1] else values[1]
        return prim(*values, **params)
    return rule


def _flat_axis(prim, x, rank, values, params, position, size):
    """axis=None (the flattened example): flatten each example, then axis 1."""
    values[0] = reshape(x, (size, -1))
    values[position] = 1
    out = prim(*values, **params)
    keep = values[position + 1] if len(values) > position + 1 else False
    if keep and rank:
        return reshape(out, (size,) + (1,) * rank)
    return out


def stacked(prim, values, batched, params, size):
    """A function over stacks of matrices of argument 0 (pyad.linalg): the batch
    axis is one more stack axis."""
    if any(batched[1:]):
        return loop(prim, values, batched, params, size)
    return prim(*values, **params)


def _solve_like(prim, values, batched, params, size):
    """solve(a, b, ...): the batch is a stack axis of a and of b (b a vector of one
    example gets a unit column, so that NumPy's rule reads it as one)."""
    a, b = values[0], values[1]
    a_rank, b_rank = _rank(a, batched[0]), _rank(b, batched[1])
    vector = batched[1] and b_rank == 1
    if vector:
        b, b_rank = expand_dims(b, -1), 2
    top = max(a_rank, b_rank)
    a = _lift_rank(a, a_rank, top) if batched[0] else a
    b = _lift_rank(b, b_rank, top) if batched[1] else b
    x = prim(a, b, *values[2:], **params)
    return x[..., 0] if vector else x


def _matmul(prim, values, batched, params, size):
    """matmul: the batch is a stack axis; a batched vector of one example becomes
    a row (x) or a column (y), dropped again from the result."""
    x, y = values
    xr, yr = _rank(x, batched[0]), _rank(y, batched[1])
    x_vec = batched[0] and xr == 1
    y_vec = batched[1] and yr == 1
    if x_vec:
        x, xr = expand_dims(x, -2), 2
    if y_vec:
        y, yr = expand_dims(y, -1), 2
    top = max(xr, yr)
    x = _lift_rank(x, xr, top) if batched[0] else x
    y = _lift_rank(y, yr, top) if batched[1] else y
    out = prim(x, y, **params)
    if y_vec:
        out = out[..., 0]
    if x_vec:
        out = out[..., 0] if y_vec else out[..., 0, :]
    return out


_LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'


def _einsum(prim, values, batched, params, size):
    subscripts = params['subscripts']
    ins, out = subscripts.split('->')
    used = set(subscripts)
    letter = next(c for c in _LETTERS if c not in used)
    ins = [letter + s if b else s for s, b in zip(ins.split(','), batched)]
    params = dict(params, subscripts=','.join(ins) + '->' + letter + out)
    return prim(*values, **params)


def _concatenate(prim, values, batched, params, size):
    parts = [_full_batch(v, b, size) for v, b in zip(values, batched)]
    return prim(*parts, axis=_shift(params['axis'], 0))


def _pad(prim, values, batched, params, size):
    if any(batched[1:]):
        return loop(prim, values, batched, params, size)
    x, widths, value = values
    return prim(x, ((0, 0),) + tuple(widths), value, **params)


def _reshape(prim, values, batched, params, size):
    x, shape = values
    return prim(x, (size,) + tuple(shape), **params)


def _broadcast_to(prim, values, batched, params, size):
    x, shape = values
    x = _lift_rank(x, _rank(x, True), len(shape))
    return prim(x, (size,) + tuple(shape), **params)


def _transpose(prim, values, batched, params, size):
    x, axes = values
    rank = _rank(x, True)
    axes = tuple(range(rank))[::-1] if axes is None else axes
    return prim(x, (0,) + tuple(a % rank + 1 for a in axes), **params)


def _split(prim, values, batched, params, size):
    x, bounds, axis = values
    return prim(x, bounds, axis + 1, **params)


def _getitem(prim, values, batched, params, size):
    if batched[1]:
        return loop(prim, values, batched, params, size)
    return _idx.take_batched(values[0], values[1], 1)


def _sparsek(prim, values, batched, params, size):
    if batched[1]:
        return loop(prim, values, batched, params, size)
    return along('axis')(prim, values, batched, params, size)


# ------------------------------------------------- into and out of a batch
# A function run one example at a time under vmap (batching.per_example) takes
# example i of an argument that newer operators (grad inside the vmap) have boxed,
# and turns the stacked results into a batch again, through four linear
# primitives whose rules are each other: their derivatives go into and out of the
# batch with them.  The two that make a batch stop dispatch at the vmap's tag:
# the batch box must sit under the newer boxes and over the older ones.

def _newest_live_id(x):
    top = 0
    while isinstance(x, Box):
        if x.tag.live and x.tag.id > top:
            top = x.tag.id
        x = x.primal
    return top


class _MakesBatch(Primitive):
    __slots__ = ()
    __doc__ = Primitive.__dict__['__doc__']

    def __call__(self, x, **params):
        if _newest_live_id(x) > params['tag'].id:
            return bind(self, (x,), params)
        return self.impl(x, **params)


def _take_example_rule(prim, values, batched, params, tag):
    if params['tag'] is tag:
        return values[0][params['i']]
    return BatchBox(prim(values[0], **params), tag)      # another vmap: passes through


def _put_example_impl(c, i, tag, size):
    if batching.holds_batch(c) and any(type(b) is BatchBox and b.tag is tag
                                       for b in batching._layers(c)):
        raise NotImplementedError('vmap: a derivative computed one example at a time came '
                                  'back batched; differentiate outside the vmap instead')
    return BatchBox(pad(expand_dims(c, 0), ((i, size - 1 - i),) + ((0, 0),) * ndim_of(c)),
                    tag)


def _unbatch_impl(c, tag, size, ndim):
    """A value that is the same for every example, as the stacked batch (batch axis
    ``ndim`` from the end, after the leading axes of batched derivatives)."""
    xp = backend.namespace(c)
    s = tuple(shape_of(c))
    pos = len(s) - ndim
    return xp.broadcast_to(xp.expand_dims(xp.asarray(c), pos), s[:pos] + (size,) + s[pos:])


def _unbatch_rule(prim, values, batched, params, tag):
    if params['tag'] is tag:
        v = values[0]
        return moveaxis(v, 0, ndim_of(v) - 1 - params['ndim'])
    return BatchBox(prim(values[0], **params), tag)


take_example = Primitive('vmap_take_example', lambda x, i, tag: x)
put_example = _MakesBatch('vmap_put_example', _put_example_impl)
batch_of = _MakesBatch('vmap_batch_of', lambda s, tag, ndim: BatchBox(s, tag))
unbatch = Primitive('vmap_unbatch', _unbatch_impl)

take_example.def_jvp(lambda t, ans, x, i, tag: take_example(t, i=i, tag=tag))
take_example.def_vjp(lambda g, ans, x, i, tag: put_example(g, i=i, tag=tag, size=tag.size))
put_example.def_jvp(lambda t, ans, c, **p: put_example(t, **p))
put_example.def_vjp(lambda g, ans, c, i, tag, size: take_example(g, i=i, tag=tag))
batch_of.def_jvp(lambda t, ans, s, tag, ndim: batch_of(moveaxis(t, -(ndim + 1), 0), tag=tag,
                                                        ndim=ndim))
batch_of.def_vjp(lambda g, ans, s, tag, ndim: unbatch(g, tag=tag, size=tag.size, ndim=ndim))
unbatch.def_jvp(lambda t, ans, c, **p: unbatch(t, **p))
unbatch.def_vjp(lambda g, ans, c, tag, size, ndim: batch_of(moveaxis(g, -(ndim + 1), 0),
                                                             tag=tag, ndim=ndim))
batching._EXAMPLES.extend((take_example, batch_of))
EXAMPLE_PRIMITIVES = (take_example, put_example, batch_of, unbatch)


# ------------------------------------------------------------- the registry
ELEMENTWISE = [
    'absolute', 'add', 'arccos', 'arccosh', 'arcsin', 'arcsinh', 'arctan', 'arctan2', 'arctanh',
    'clip', 'cos', 'cosh', 'deg2rad', 'digamma', 'divide', 'erf', 'erfc', 'erfinv', 'exp', 'exp2',
    'expit', 'expm1', 'fabs', 'gamma', 'gammaln', 'hypot', 'log', 'log10', 'log1p', 'log2',
    'log_expit', 'logit', 'multiply', 'negative', 'polygamma', 'positive', 'power', 'rad2deg',
    'reciprocal', 'scaled_multiply', 'sin', 'sinc_derivative', 'sinh', 'sqrt', 'square',
    'subtract', 'tan', 'tanh', 'where', 'xlog1py', 'xlogy', 'astype', 'stop_gradient',
    'cbrt', 'ceil', 'copysign', 'equal', 'fix', 'floor', 'floor_divide', 'fmax', 'fmin', 'fmod',
    'greater', 'greater_equal', 'heaviside', 'isclose', 'isfinite', 'isinf', 'isnan', 'less',
    'less_equal', 'logaddexp', 'logaddexp2', 'logical_and', 'logical_not', 'logical_or',
    'logical_xor', 'maximum', 'minimum', 'mod', 'not_equal', 'rint', 'round', 'sign', 'signbit',
    'sinc', 'trunc',
    # complex parts, and SciPy's special functions and distributions (pyad.scipy)
    'real', 'imag', 'conj', 'angle', 'beta', 'betaln', 'betainc', 'gammainc', 'gammaincc',
    'gammasgn', 'rgamma', 'i0', 'i1', 'iv', 'ive', 'j0', 'j1', 'jn', 'y0', 'y1', 'yn',
    'erfcinv', 'ndtr', 'log_ndtr', 't_cdf', 'loggamma', 'erfcx', 'erfi', 'dawsn', 'exp1',
    'expi', 'wofz', 'iv_order_derivative', 'ive_order_derivative', 'kv', 'kve',
    'kv_order_derivative', 'kve_order_derivative',
]

LINEAR = [_idx.scatter_add]

STACKED = [_la._cholesky, _la._det, _la._eigh, _la._expm, _la._inv, _la._pinv, _la._qr,
           _la._slogdet, _la._svd, _la._eig, _la._sqrtm]

# (primitive, position of its axis: an argument's index or a parameter's name, kind)
ALONG = [
    (_red._sum, 1, 'axes'), (_red._mean, 1, 'axes'), (_red._prod, 1, 'axes'),
    (_red._max, 1, 'axes'), (_red._min, 1, 'axes'), (_red._var, 1, 'axes'),
    (_red._std, 1, 'axes'), (_red._logsumexp, 2, 'axes'), (_red._any, 1, 'axes'),
    (_red._all, 1, 'axes'), (_red._argmax, 1, 'axis'), (_red._argmin, 1, 'axis'),
    (_red._cumsum, 1, 'axis'), (_red._rcumsum, 1, 'axis'), (_red._cumprod, 1, 'axis'),
    (_sm._softmax, 'axes', 'axes'), (_sm._log_softmax, 'axes', 'axes'),
    (_sm._logsumexp, 'axes', 'axes'), (_sp._sparsemax, 'axis', 'axis'),
    (_sp._entmax15, 'axis', 'axis'), (_sp._entmax_bisect, 'axis', 'axis'),
    (_la._extreme, 1, 'axis'), (_bidx.argsort, 1, 'axis'),
    (_fft._fftn, 'axes', 'axes'), (_fft._rfftn, 'axes', 'axes'), (_fft._irfftn, 'axes', 'axes'),
]

OTHERS = [
    (_prod._matmul, _matmul), (_prod._einsum, _einsum), (_mp._concatenate, _concatenate),
    (_mp._pad, _pad), (_mp._reshape, _reshape), (_mp._broadcast_to, _broadcast_to),
    (_mp._transpose, _transpose), (_mp._split, _split), (_idx.getitem, _getitem),
    (_idx.getitem_element, _getitem), (_sp._sparsek, _sparsek), (_sp._topk_mask, _sparsek),
    (_la._solve, _solve_like), (_la._solve_sym, _solve_like), (_la._tri, _solve_like),
]

# computed one example at a time (see the module's docstring)
FALLBACK = [_att._attend, _att._gather, _att._scatter, _la._sylvester, _la._banded]
# the same, for primitives of modules imported later (pyad.scipy), by name
FALLBACK_NAMES = ('convolve', 'multivariate_normal_box')
_WHOLE_ARRAY = ('allclose', 'array_equal')       # a bool per example, by the loop
# primitives that already map over the leading axes of their first argument
# (pyad.scipy's, by name): the batch axis is one more of them; a batch of the
# other arguments (a stack of covariances) is computed one example at a time
LEADING_AXES_NAMES = ('multivariate_normal_cdf',)


def leading_axes(prim, values, batched, params, size):
    if any(batched[1:]):
        return loop(prim, values, batched, params, size)
    return prim(*values, **params)


def _ufunc_rule(prim):
    """A primitive added later whose implementation is a ufunc (NumPy's, SciPy's
    special functions), or named in ELEMENTWISE (pyad.scipy's, made when that is
    imported), is elementwise."""
    import numpy
    elementwise_by_name = prim.name in ELEMENTWISE and prim.name not in FALLBACK_NAMES
    if prim.name in LEADING_AXES_NAMES:
        return leading_axes
    return elementwise if isinstance(prim.impl, numpy.ufunc) or elementwise_by_name else None


def _register_all():
    from ._core.primitive import all_primitives
    names = set(ELEMENTWISE)
    for prim in all_primitives():       # pyad's own, made when pyad was imported
        if prim.name in names:
            batching.register(prim, elementwise)
        elif prim.name in _WHOLE_ARRAY:
            FALLBACK.append(prim)
    for prim in LINEAR:
        batching.register(prim, linear)
    for prim in STACKED:
        batching.register(prim, stacked)
    for prim, position, kind in ALONG:
        batching.register(prim, along(position, kind))
    for prim, rule in OTHERS:
        batching.register(prim, rule)
    batching.infer_with(_ufunc_rule)
    batching.register(take_example, _take_example_rule, tagged=True)
    batching.register(unbatch, _unbatch_rule, tagged=True)
    batching.register(put_example, elementwise)     # (never batched at its own tag)
    batching.register(batch_of, elementwise)


_register_all()
