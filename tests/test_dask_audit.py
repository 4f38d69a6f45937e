"""The Dask audit: every public function of pyad.numpy (with pyad.numpy.fft),
pyad.linalg and pyad.nn, called with small Dask arrays chunked along their rows
(two chunks or more), under a scheduler that refuses to run.

Each function is tried with the argument patterns of the NumPy walk in
test_numpy_protocol (vectors, matrices, pairs, an integer beside an array) and,
for the row-wise mappings and the linear algebra, the shapes they take.  Where
pyad accepts a pattern on NumPy arrays, the Dask call must either give the same
values, and the same gradient and JVP of a weighted sum of its results, as lazy
Dask graphs built without computing anything -- or raise a clear error naming the
function.  A second walk feeds the functions a lazy mask's result (``x[x > c]``),
whose chunk sizes are unknown until computed.
"""
import warnings

import numpy as onp
import pytest

da = pytest.importorskip('dask.array')
import dask  # noqa: E402

import pyad  # noqa: E402
import pyad.linalg as la  # noqa: E402
import pyad.nn as nn  # noqa: E402
import pyad.numpy as pnp  # noqa: E402
from pyad import backend  # noqa: E402
from pyad.backend import DaskUnsupported  # noqa: E402
from pyad._core.box import innermost  # noqa: E402

from .test_dask import Computed, lazily, put  # noqa: E402
from .test_numpy_protocol import PATTERNS, _leaves, _scalar, _weights, _B, _C, _V, _W, _A  # noqa: E402


@pytest.fixture(autouse=True)
def synchronous():
    with dask.config.set(scheduler='synchronous'):
        yield


@pytest.fixture(autouse=True)
def values():
    """One run (as test_dask): the deferred-values twin adds nothing Dask-specific."""
    yield 'eager'


def _public(module, prefix):
    names = getattr(module, '__all__', None) or [n for n in dir(module) if not n.startswith('_')]
    return {f'{prefix}.{n}': getattr(module, n) for n in names
            if callable(getattr(module, n)) and not isinstance(getattr(module, n), type)}


FUNCTIONS = {**_public(pnp, 'numpy'), **_public(pnp.fft, 'numpy.fft'), **_public(la, 'linalg'),
             **_public(nn, 'nn')}


def _qr_invariants(a):
    """What QR fixes: Q R and the magnitudes (each column of Q and row of R may flip
    sign together, and Dask's blocked QR chooses signs of its own)."""
    q, r = la.qr(a)
    return q @ r, pnp.abs(q), pnp.abs(r)


def _svd_invariants(a):
    u, s, vt = la.svd(a)
    return (u * s) @ vt, s, pnp.abs(u), pnp.abs(vt)


# Functions whose results are defined only up to choices NumPy and Dask make
# differently: compared by what those choices leave fixed.
AS_COMPARED = {'linalg.qr': _qr_invariants, 'linalg.svd': _svd_invariants,
               'numpy.empty_like': lambda a: pnp.shape(pnp.empty_like(a)),
               # (searchsorted's first argument must be sorted: the patterns' are not)
               'numpy.searchsorted': lambda a, *rest: pnp.searchsorted(pnp.sort(a), *rest)}
FUNCTIONS.update(AS_COMPARED)

_R = onp.random.default_rng(5)
_ROWS = _R.uniform(-1, 1, (4, 5))            # rows for the row-wise mappings of pyad.nn
_SPD = onp.array([[2.13, 0.31, 0.12, 0.2], [0.31, 1.57, 0.22, 0.1],
                  [0.12, 0.22, 1.24, 0.05], [0.2, 0.1, 0.05, 1.8]])
_TALL = _R.uniform(-1, 1, (6, 3))
EXTRA_PATTERNS = [(_ROWS,), (_SPD,), (_TALL,), (_SPD, _TALL[:4])]


def _call(fn, args):
    with warnings.catch_warnings(), onp.errstate(all='ignore'):
        warnings.simplefilter('ignore')
        return fn(*args)


def _reference(fn, pattern):
    """fn's results on NumPy arrays, or None where pyad refuses the pattern (or its
    results are not finite numbers: a singular point, not the test here)."""
    try:
        out = _call(fn, pattern)
        arrays = [onp.asarray(innermost(leaf)) for leaf in _leaves(out)]
    except Exception:
        return None
    if not arrays or any(a.dtype == object or a.dtype.kind not in 'biufc' for a in arrays):
        return None
    if any(a.dtype.kind in 'fc' and not onp.all(onp.isfinite(a)) for a in arrays):
        return None
    return out


def _total(out, weights, xp):
    """The scalar whose derivatives are compared: the weighted sum of fn's results, or,
    where a result's length is known only when computed (a lazy mask's), a sum of a
    polynomial of its entries."""
    if isinstance(weights, str):
        return sum(xp.sum(leaf * (leaf + 0.5)) for leaf in _leaves(out))
    return _scalar(out, weights, xp)


def _derivatives(fn, pattern, xs, weights, tangents, out=None):
    """(value, grad, jvp) of the weighted sum of fn's results, in the arrays xs (the
    value: out, where given)."""
    at = [i for i, a in enumerate(pattern) if isinstance(a, (onp.ndarray, da.Array))]

    def call(xs):
        args = list(pattern)
        for i, v in zip(at, xs):
            args[i] = v
        return _call(fn, args)

    out = call(xs) if out is None else out
    if weights is None:
        return out, None, None
    grad = pyad.grad(lambda xs: _total(call(xs), weights, pnp))(xs)
    jvp = pyad.jvp(lambda xs: _total(call(xs), weights, pnp), (xs,), (tangents,))[1]
    return out, grad, jvp


def _dask_results(got, want, what):
    """An array result of Dask arrays is a Dask array (a NumPy one may stand beside
    it, from a NumPy argument)."""
    if any(getattr(w, 'ndim', 0) for w in _leaves(want)):
        assert any(isinstance(g, da.Array) for g in _leaves(got)), f'{what}: no Dask array came back'


def _flat(out):
    leaves = [onp.asarray(innermost(leaf)).ravel() for leaf in _leaves(out)]
    return onp.concatenate(leaves) if leaves else onp.zeros(0)


def _clear(name, e):
    short = name.split(' ')[0].split('.')[-1]
    return isinstance(e, (TypeError, ValueError, NotImplementedError, IndexError)) and short in str(e)


def _to_dask(a, to_dask):
    """NumPy arrays as Dask arrays, also in lists (select's and piecewise's)."""
    if isinstance(a, list):
        return [_to_dask(e, to_dask) for e in a]
    return to_dask(a) if isinstance(a, onp.ndarray) else a


def _unknown_lengths(out):
    return any(onp.isnan(onp.sum(getattr(leaf, 'shape', ()))) for leaf in _leaves(out))


def _build(name, pattern, build):
    """build() lazily: its result, or 'refused' for an error that names the function."""
    try:
        return lazily(build)
    except Computed:
        raise AssertionError(f'{name}{_shapes(pattern)}: a Dask graph was computed on the client')
    except Exception as e:
        assert _clear(name, e), f'{name}{_shapes(pattern)}: unclear error {e!r}'
        return 'refused'


def _references(fn, pattern, xs, weights, tangents):
    """(weights, (value, grad, jvp)) on NumPy; weights None where pyad has no
    derivative of fn on NumPy either (values only)."""
    try:
        return weights, _derivatives(fn, pattern, xs, weights, tangents)
    except Exception:
        return None, _derivatives(fn, pattern, xs, None, tangents)


def check_pattern(name, fn, pattern, to_dask, dtype=onp.float64, pending=None):
    """'lazy', 'refused', or None where pyad takes no such pattern on NumPy (the
    pattern's floating-point arrays, weights and tangents in dtype).  The lazy
    results are compared at once, or, given a list ``pending``, left there (the
    arguments of _compare) to be computed with others in one pass."""
    pattern = tuple(_as_dtype(a, dtype) for a in pattern)
    want_out = _reference(fn, pattern)
    if want_out is None:
        return None
    dask_pattern = tuple(_to_dask(a, to_dask) for a in pattern)
    got_out = _build(name, pattern, lambda: _call(fn, dask_pattern))
    if isinstance(got_out, str):
        return got_out
    xs = tuple(a for a in pattern if isinstance(a, onp.ndarray))
    inexact = any(onp.asarray(innermost(leaf)).dtype.kind in 'fc' for leaf in _leaves(want_out))
    weights = ('polynomial' if _unknown_lengths(got_out) else
               [_as_dtype(w, dtype) for w in _weights(want_out)]) if inexact else None
    tangents = tuple(onp.random.default_rng(3).standard_normal(a.shape).astype(dtype) for a in xs)
    weights, want = _references(fn, pattern, xs, weights, tangents)
    dask_xs = tuple(a for a in dask_pattern if isinstance(a, da.Array))
    got = _build(name + ' (in a derivative)', pattern,
                 lambda: _derivatives(fn, dask_pattern, dask_xs, weights, tangents, got_out))
    if isinstance(got, str):
        return got
    compare = (f'{name}{_shapes(pattern)}', got, want, want_out, onp.dtype(dtype))
    if pending is None:
        _compare(*compare)
    else:
        pending.append(compare)
    return 'lazy'


# (float32: Dask sums block by block, NumPy pairwise, in a different order)
TOLERANCE = {onp.dtype(onp.float64): 1e-9, onp.dtype(onp.float32): 2e-5}


def _as_dtype(a, dtype):
    """A floating-point NumPy array (also in a list) in dtype; the rest as it is."""
    if isinstance(a, list):
        return [_as_dtype(e, dtype) for e in a]
    return a.astype(dtype) if isinstance(a, onp.ndarray) and a.dtype.kind == 'f' else a


def _compare(what, got, want, want_out, dtype, computed=None):
    """got (value, grad, jvp) from Dask arrays: Dask arrays, of want's dtypes and equal
    to want from NumPy's (computed: got computed already, in a pass with others)."""
    for part, g in zip(('value', 'grad', 'jvp'), got):
        _dask_results(g, want_out if part == 'value' else g, f'{what}: {part}')
    got = _computed(got) if computed is None else computed    # one pass for the three
    for part, g, w in zip(('value', 'grad', 'jvp'), got, want):
        if w is not None:
            # (None == a dtype is dtype(None) == float64: compared only where both are dtypes)
            assert all(a == b for a, b in zip(_dtypes(g), _dtypes(w)) if a is not None and b is not None), \
                f'{what}: {part}: dtypes {_dtypes(g)}, on NumPy {_dtypes(w)}'
            # (a gradient has the dtype of its floating-point argument)
            assert part != 'grad' or all(d is None or d == dtype for d in _dtypes(g)), \
                f'{what}: grad of {_dtypes(g)}'
            onp.testing.assert_allclose(_flat(g), _flat(w), rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype],
                                        err_msg=f'{what}: {part}')


def _computed(tree):
    """tree's Dask arrays computed in one pass, as backend.compute, but without Dask's
    graph optimizations (fusing, culling): the same tasks' results, a third sooner on
    these small graphs."""
    (out,) = dask.compute(tree, optimize_graph=False)
    return out


def _dtypes(out):
    """The floating-point dtypes of out's leaves, None for the others (a boolean ufunc
    given a float out= array: NumPy writes into it, Dask cannot)."""
    dtypes = [onp.result_type(innermost(leaf)) for leaf in _leaves(out)]
    return [d if d.kind in 'fc' else None for d in dtypes]


def _shapes(pattern):
    return '(' + ', '.join(str(a.shape) if isinstance(a, onp.ndarray) else repr(a) for a in pattern) + ')'


def patterns(name):
    """The NumPy walk's patterns; the row-wise mappings and the linear algebra also
    take wider rows, larger and tall matrices."""
    if name in FEW_PATTERNS:
        return FEW_PATTERNS[name]
    if name.startswith(('nn.', 'linalg.')):
        return PATTERNS + EXTRA_PATTERNS
    # (the symmetric positive definite _A matters to linear algebra only)
    return [p for p in PATTERNS if not any(a is _A for a in p)]


# entmax_bisect's bisection builds a graph of many steps: its rows, once (the device
# tests' cases in test_dask check it further); and the arguments of the functions
# that take none of the walk's patterns (their domains, shapes, axes, subscripts)
_HALF = _V / 2
FEW_PATTERNS = {
    'nn.entmax_bisect': [(_ROWS,)],
    'numpy.arccos': [(_HALF,)], 'numpy.arcsin': [(_HALF,)], 'numpy.arctanh': [(_HALF,)],
    'numpy.erfinv': [(_HALF,)], 'numpy.logit': [(_HALF,)], 'numpy.arccosh': [(_V + 1,)],
    'numpy.polygamma': [(1, _V)], 'numpy.astype': [(_B, onp.float32)],
    'numpy.reshape': [(_B, (9,)), (_ROWS, (2, 10)), (_SPD, (2, 8))],
    'numpy.swapaxes': [(_B, 0, 1)], 'numpy.tensordot': [(_B, _B), (_B, _C, 1)], 'numpy.moveaxis': [(_ROWS, 0, 1)],
    'numpy.broadcast_to': [(_C, (2, 3))], 'numpy.einsum': [('ij,jk->ik', _A, _B), ('ij->j', _ROWS)],
    'numpy.take_along_axis': [(_B, onp.argsort(_B, axis=1), 1), (_V, onp.argsort(_V), 0)],
    'numpy.interp': [(_V, onp.array([0.0, 0.5, 1.0, 1.5]), _W)],
    'numpy.insert': [(_V, 1, 0.5), (_B, 1, _C, 0)], 'numpy.digitize': [(_V, onp.array([0.4, 0.8]))],
    'numpy.bincount': [(onp.array([0, 1, 1, 3]),), (onp.array([0, 1, 1, 3]), _V)],
    'numpy.dsplit': [(_B.reshape(3, 1, 3), 3)],
    'numpy.select': [([_V > 0.5, _V < 0.4], [_V, _W])],
    'numpy.piecewise': [(_V, [_V > 0.5], [lambda x: x * 2, 0.0])],
    'linalg.solve_sylvester': [(_A, _B, _B)], 'linalg.solve_banded': [((1, 1), _B, _C)],
}
# No array argument to make a Dask array of (shapes, dtypes, sizes), or not a function of
# arrays alone (updates, layers and attention, with their own Dask coverage in test_dask)
NO_ARRAY_ARGUMENT = {
    'numpy.arange', 'numpy.diag_indices', 'numpy.empty', 'numpy.eye', 'numpy.fft.fftfreq',
    'numpy.fft.rfftfreq', 'numpy.full', 'numpy.identity', 'numpy.indices', 'numpy.ones',
    'numpy.promote_types', 'numpy.result_type', 'numpy.tri', 'numpy.tril_indices',
    'numpy.triu_indices', 'numpy.zeros', 'numpy.at', 'nn.dense_attention',
    'nn.sliding_window_attention', 'nn.sparsek_attention', 'nn.sparsek_layer',
    'nn.sparsek_layer_init', 'nn.sparsek_scores'}


def _walk(name, cases, dtype=onp.float64):
    """check_pattern over (fn, pattern) cases: the outcomes, and the failures by case."""
    outcomes, failures, pending, at = [], {}, [], []
    for i, (fn, pattern) in enumerate(cases):
        try:
            outcomes.append(check_pattern(name, fn, pattern, lambda a: put(a, 2), dtype, pending))
        except AssertionError as e:
            failures[i] = str(e)
        at += [i] * (len(pending) - len(at))
    # the lazy results of every case computed in one pass (one by one where one fails)
    try:
        computed = _computed([p[1] for p in pending])
    except Exception:
        computed = [None] * len(pending)
    for i, compare, done in zip(at, pending, computed):
        try:
            _compare(*compare, computed=done)
        except AssertionError as e:
            failures[i] = str(e)
    return outcomes, failures


def audit(name):
    return _walk(name, [(FUNCTIONS[name], p) for p in patterns(name)])


@pytest.mark.parametrize('name', sorted(FUNCTIONS))
def test_function_on_dask_is_lazy_and_equal_or_refused_by_name(name):
    outcomes, failures = audit(name)
    assert not failures, failures
    # every function meets Dask arrays in at least one pattern, or takes none
    assert (set(outcomes) != {None}) != (name in NO_ARRAY_ARGUMENT), outcomes


# ---------------------------------------------------------------------- unknown lengths
# A lazy mask's result (x[x > c]) has chunks whose lengths are known only when
# computed: each function meets one, of a vector and of the rows of a matrix.
_X8 = _R.uniform(-1, 1, 8)
_X63 = _R.uniform(-1, 1, (6, 3))


def _of_masked_vector(fn):
    return lambda x, *rest: fn(x[x > -0.2], *rest)


def _of_masked_rows(fn):
    return lambda x, *rest: fn(x[x[:, 0] > -0.2], *rest)


MASKED = [(_of_masked_vector, (_X8,)), (_of_masked_rows, (_X63,)), (_of_masked_rows, (_X63, 1))]


def audit_unknown_lengths(name):
    fn = FUNCTIONS[name]
    return _walk(name, [(masked(fn), p) for masked, p in MASKED])


NOT_WALKED = {'numpy.searchsorted': 'its first argument must be sorted, and sort refuses '
                                     'unknown lengths by name (walked as numpy.sort)',
              'numpy.shape': "an unknown length is nan, as in Dask's shape",
              'numpy.size': "an unknown length is nan, as in Dask's size",
              'numpy.empty_like': "an unknown length is nan, as in Dask's shape"}


@pytest.mark.parametrize('name', sorted(n for n in FUNCTIONS if n.startswith('numpy.')
                                        and n not in NOT_WALKED))
def test_function_of_a_lazy_masks_result(name):
    outcomes, failures = audit_unknown_lengths(name)
    assert not failures, failures


def test_refusals_name_the_function_and_what_to_do():
    x = put(_X8, 2)
    rows = put(_X63, 2)
    picked = rows[rows[:, 0] > -0.2]
    with pytest.raises(DaskUnsupported, match=r'pyad\.numpy\.ravel \(also flatten\) needs the lengths'
                                              r'.*compute_chunk_sizes'):
        lazily(lambda: pnp.flatten(picked))
    with pytest.raises(DaskUnsupported, match=r'pyad\.numpy\.split: indices_or_sections .*known on '
                                              r'the client'):
        lazily(lambda: pnp.split(x, put(onp.array([2, 4]))))
    with pytest.raises(DaskUnsupported, match=r'pyad\.linalg\.eigvals: Dask has no lazy eig'):
        lazily(lambda: la.eigvals(put(_B)))
    # NumPy's own, re-exported, name themselves too
    with pytest.raises(DaskUnsupported, match=r'pyad\.numpy\.unique needs the lengths.*compute_chunk_sizes'):
        lazily(lambda: pnp.unique(picked))
    # a value that is lazy, whose derivative needs the unknown length: refused when traced,
    # naming the function called (not the one it calls: nancumprod calls cumprod)
    with pytest.raises(DaskUnsupported, match=r'pyad\.numpy\.nancumprod: its derivative needs the length '
                                              r'of axis 0 .*compute_chunk_sizes.*its value alone is lazy'):
        lazily(lambda: pyad.grad(lambda v: pnp.sum(pnp.nancumprod(v[v > -0.2])))(x))
    assert isinstance(lazily(lambda: pnp.nancumprod(x[x > -0.2])), da.Array)
    # prod's first derivative over the unknown axis is lazy; its second is refused by name
    with pytest.raises(DaskUnsupported, match=r'pyad\.numpy\.prod: differentiating .* its derivative .*'
                                              r'compute_chunk_sizes'):
        lazily(lambda: pyad.hessian(lambda v: pnp.prod(v[v > -0.2]))(x))
    # once the lengths are computed, the same call is lazy again
    picked.compute_chunk_sizes()
    assert isinstance(lazily(lambda: pnp.ravel(picked)), da.Array)


@pytest.mark.parametrize('index', [
    1, (slice(None), 1), (slice(None), -1, None), (Ellipsis, slice(1, 3)), (slice(None), None, slice(None, None, -2)),
    (slice(None), [0, 2, 2]), (slice(None), onp.array([True, False, True])), (slice(None), slice(2, 0, -1))],
    ids=repr)
def test_indexing_the_rows_picked_by_a_lazy_mask(index):
    """Along the known axis of x[mask]'s rows, indexing's derivatives (scattered into
    zeros of each block's own shape) are lazy and equal NumPy's."""
    def f(rows):
        picked = rows[rows[:, 0] > -0.2]
        if index == 1:
            return pnp.sum(pnp.take(picked, [2, 0, 2], axis=1) ** 3)
        return pnp.sum(picked[index] ** 3)

    tangent = onp.linspace(-1, 1, _X63.size).reshape(_X63.shape)
    got = lazily(lambda: (pyad.grad(f)(put(_X63, 2)), pyad.jvp(f, (put(_X63, 2),), (tangent,))[1]))
    want = (pyad.grad(f)(_X63), pyad.jvp(f, (_X63,), (tangent,))[1])
    for g, w in zip(backend.compute(got), want):
        onp.testing.assert_allclose(g, w, rtol=1e-12)


@pytest.mark.parametrize('zeros', [(), (3,), (3, 6)], ids=lambda z: f'{len(z)} zeros')
def test_products_of_a_lazy_masks_result_with_zeros(zeros):
    """prod's derivative over a length unknown until computed, as the products of the
    entries before and after each (no division): exact at one zero and at two."""
    v = onp.linspace(0.6, 1.5, 10)
    v[list(zeros)] = 0.0
    rows = onp.stack([v, v[::-1]], axis=1)

    def f(x):
        picked = x[x < 1.05] if x.ndim == 1 else x[x[:, 0] < 1.05]
        return pnp.prod(picked) + pnp.sum(pnp.prod(picked, axis=0) ** 2)

    for a in (v, rows):
        tangent = onp.linspace(-1, 1, a.size).reshape(a.shape)
        got = lazily(lambda: (f(put(a, 3)), pyad.grad(f)(put(a, 3)), pyad.jvp(f, (put(a, 3),), (tangent,))[1]))
        want = (f(a), pyad.grad(f)(a), pyad.jvp(f, (a,), (tangent,))[1])
        for g, w in zip(backend.compute(got), want):
            onp.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)


def test_concatenation_along_a_known_axis_of_rows_picked_by_a_lazy_mask():
    """Columns of one x[mask] (their blocks line up): concatenated lazily, their
    derivatives too; along the unknown axis the value is lazy (Dask appends the
    blocks), and the derivative, which splits the cotangent where each array starts,
    is refused by name."""
    def f(rows):
        picked = rows[rows[:, 0] > -0.2]
        both = pnp.concatenate([picked, pnp.sin(picked[:, :2])], axis=1)
        return pnp.sum(both * pnp.cumsum(both, axis=1))

    got = lazily(lambda: (f(put(_X63, 2)), pyad.grad(f)(put(_X63, 2)),
                          pyad.jvp(f, (put(_X63, 2),), (onp.ones_like(_X63),))[1]))
    want = (f(_X63), pyad.grad(f)(_X63), pyad.jvp(f, (_X63,), (onp.ones_like(_X63),))[1])
    for g, w in zip(backend.compute(got), want):
        onp.testing.assert_allclose(g, w, rtol=1e-12)
    rows = put(_X63, 2)
    on_top = lazily(lambda: pnp.concatenate([rows[rows[:, 0] > -0.2], rows[:2]], axis=0))
    onp.testing.assert_array_equal(backend.compute(on_top), onp.concatenate([_X63[_X63[:, 0] > -0.2], _X63[:2]]))
    with pytest.raises(DaskUnsupported, match=r'pyad\.numpy\.concatenate: its derivative needs the length '
                                              r'of axis 0 .*compute_chunk_sizes'):
        lazily(lambda: pyad.grad(lambda r: pnp.sum(pnp.concatenate([r[r[:, 0] > -0.2], r[:2]])))(rows))


def test_cumulative_sums_and_products_over_an_empty_chunk():
    """A lazy mask may empty a chunk between others: the running sums and products
    (and their derivatives, the sums from the end) carry over it."""
    v = onp.linspace(0.5, 1.6, 12)
    x = put(v, 4)
    keep = (v < 0.75) | (v > 1.25)            # chunks of 3, 0 and 4 entries

    def f(x):
        y = x[(x < 0.75) | (x > 1.25)]
        return pnp.sum(pnp.cumsum(y) ** 2 * y)

    def g(rows):
        picked = rows[rows[:, 0] > 1.0]
        return pnp.sum(pnp.cumprod(picked, axis=1) * pnp.cumsum(picked, axis=1))

    rows = onp.stack([v, v[::-1], v * 0.5], axis=1)
    for fn, a in ((f, v), (g, rows)):
        got = lazily(lambda: (fn(put(a, 4)), pyad.grad(fn)(put(a, 4))))
        want = (fn(a), pyad.grad(fn)(a))
        for gv, wv in zip(backend.compute(got), want):
            onp.testing.assert_allclose(gv, wv, rtol=1e-12)
    for cumulative in (pnp.cumsum, pnp.cumprod):
        onp.testing.assert_allclose(backend.compute(lazily(lambda: cumulative(x[keep]))),
                                    cumulative(v[keep]), rtol=1e-12)


# float32: a family each (elementwise, reductions and running ones, sorting, products,
# manipulation, transforms, linear algebra, row-wise mappings), over the walk's
# patterns and a lazy mask's result: dtypes as on NumPy, gradients in float32
FLOAT32 = ['numpy.exp', 'numpy.tanh', 'numpy.sum', 'numpy.var', 'numpy.max', 'numpy.prod',
           'numpy.cumsum', 'numpy.cumprod', 'numpy.sort', 'numpy.matmul', 'numpy.dot', 'numpy.flip',
           'numpy.diff', 'numpy.trapezoid', 'numpy.logsumexp', 'numpy.fft.rfft', 'numpy.fft.irfft',
           'linalg.solve', 'linalg.cholesky', 'linalg.det', 'nn.softmax', 'nn.sparsemax']


@pytest.mark.parametrize('name', FLOAT32)
def test_float32_on_dask_keeps_dtypes_and_equals_numpy(name):
    fn = FUNCTIONS[name]
    cases = [(fn, p) for p in patterns(name)]
    if name.startswith('numpy.'):
        cases += [(masked(fn), p) for masked, p in MASKED]
    outcomes, failures = _walk(name, cases, onp.float32)
    assert not failures, failures
    assert 'lazy' in outcomes, outcomes
