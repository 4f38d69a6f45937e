"""Dask arrays as a backend: the library's surface over chunked Dask arrays, on
Dask's synchronous scheduler (fast, no cluster: tests/test_dask_cluster.py runs
on a real one).

For every case: the value, grad, a JVP and a Hessian-vector product are Dask
arrays, built without computing anything (a scheduler that refuses to run is
installed while they are built), and equal to the same computation on NumPy.
Inputs are chunked along their first axis, as data are; the row-wise mappings of
pyad.nn run along the unchunked last axis.  What Dask cannot do lazily raises an
error that names the function.  Skipped when dask is not installed.
"""
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

from . import test_gpu_wide as wide  # noqa: E402

rng = onp.random.default_rng(17)


class Computed(AssertionError):
    pass


def _refuse(*args, **kwargs):
    raise Computed('a Dask graph was computed while derivatives were being built')


@pytest.fixture(autouse=True)
def synchronous():
    with dask.config.set(scheduler='synchronous'):
        yield


@pytest.fixture(autouse=True)
def values():
    """Overrides conftest's: this module runs once, with reverse mode's deferred
    values as in use (a Dask array's size is its whole logical size, so Dask values
    of any size above settings.defer_bytes are deferred here);
    test_glm_parameters_numpy_data_dask runs both ways."""
    yield 'eager'


def lazily(fn):
    """fn() with every Dask computation refused: the result must be a lazy graph."""
    with dask.config.set(scheduler=_refuse):
        return fn()


def put(x, rows=2):
    """A host array chunked along its first axis (rows at a time); 0-d as is."""
    return pyad.tree_map(lambda l: da.from_array(l, chunks=(rows,) + l.shape[1:]) if getattr(l, 'ndim', 0) else l, x)


def compare(got, want, rtol, what):
    got_leaves, want_leaves = pyad.tree_leaves(got), pyad.tree_leaves(want)
    assert len(got_leaves) == len(want_leaves), what
    for g, w in zip(got_leaves, want_leaves):
        if getattr(w, 'ndim', 0) or getattr(g, 'ndim', 0):
            assert isinstance(g, da.Array), f'{what}: a {type(g).__name__} came back, not a Dask array'
        onp.testing.assert_allclose(backend.to_numpy(g), w, rtol=rtol, atol=rtol, err_msg=what)


# ---------------------------------------------------------------------- the wide surface
# The cases of the device tests, on Dask.  Where a case needs a chunking of its own,
# or computes by design, it says so here.
ONE_CHUNK = {
    'shape ops': "Dask's reshape cannot regroup (3, 4) as (2, 6) across row chunks",
    'sort and order': 'a 1-d array split into chunks is tested in test_sort_of_a_vector_split_into_chunks',
}
COMPUTES = {
    'fixed point': 'fixed_point tests convergence at each iteration',
    'fixed point closure': 'fixed_point tests convergence at each iteration',
}
SUPPORTED = sorted(wide.CASES)


def _derivatives(f, xd):
    v = xd * 0 + 1
    return (f(xd), pyad.grad(f)(xd), pyad.jvp(f, xd, v)[1], pyad.hessianv(f)(xd, v))


def compare_derivatives(got, want, rtols):
    """got and want: (value, grad, jvp, hessianv); rtols: one tolerance, or one for each."""
    rtols = rtols if isinstance(rtols, tuple) else (rtols,) * 4
    for what, g, w, rtol in zip(['value', 'grad', 'jvp', 'hessianv'], got, want, rtols):
        compare(g, w, rtol, what)


def check_lazily(f, x, rows, rtols):
    """f's value and derivatives at x, lazily on x in Dask row chunks, against NumPy's;
    the gradient in x's dtype."""
    got = lazily(lambda: _derivatives(f, put(x, rows)))
    compare_derivatives(got, _derivatives(f, x), rtols)
    assert backend.to_numpy(got[1]).dtype == x.dtype


WIDE_RTOLS = (1e-9, 1e-8, 1e-8, 1e-7)    # value, grad, jvp, hessianv


@pytest.mark.parametrize('name', SUPPORTED)
def test_values_and_derivatives_match_numpy(name):
    f, x = wide.CASES[name]
    xd = put(x, x.shape[0] if name in ONE_CHUNK else 2)
    build = (lambda: _derivatives(f, xd)) if name in COMPUTES else (lambda: lazily(lambda: _derivatives(f, xd)))
    compare_derivatives(build(), _derivatives(f, x), WIDE_RTOLS)


# ---------------------------------------------------------------------- 2-D linear algebra
S = rng.standard_normal((4, 4)) + 4 * onp.eye(4)
TALL = rng.standard_normal((6, 3))


def _spd(m):
    return m @ m.T


LINALG_2D = {
    'solve': (lambda m: pnp.sum(la.solve(m, onp.ones((4, 2))) ** 2), S),
    'solve vector': (lambda m: pnp.sum(la.solve(m, onp.ones(4)) ** 2), S),
    'solve_symmetric': (lambda m: pnp.sum(la.solve_symmetric(_spd(m), onp.ones((4, 1))) ** 2), S),
    'cholesky': (lambda m: pnp.sum(la.cholesky(_spd(m)) ** 2), S),
    'cho_solve': (lambda m: pnp.sum(la.cho_solve(la.cholesky(_spd(m)), onp.ones((4, 1))) ** 2), S),
    'solve_triangular': (lambda m: pnp.sum(la.solve_triangular(m, onp.ones((4, 1)), lower=True) ** 2), S),
    'inv': (lambda m: pnp.sum(la.inv(m) ** 2), S),
    'qr': (lambda m: pnp.sum(la.qr(m).R ** 2) + pnp.sum(la.qr(m).Q[:, 0] * la.qr(m).R[0, 0]), TALL),
    'svd': (lambda m: pnp.sum(la.svd(m).S ** 3), TALL),
    'norm': (lambda m: la.norm(m, 'fro') + la.norm(m[:, 0]), TALL),
}


@pytest.mark.parametrize('name', sorted(LINALG_2D))
def test_linalg_of_one_matrix_matches_numpy(name):
    f, x = LINALG_2D[name]
    check_lazily(f, x, 2, WIDE_RTOLS)


def test_dense_hessian_and_jacobian_in_a_dask_input():
    # the core seeds the identity with eye (not by writing into zeros), so a Dask
    # input takes hessian and jacfwd too, lazily
    x = onp.array([0.5, 1.0, 2.0, -1.0])
    H = pyad.hessian(lambda v: pnp.sum(v ** 3))(put(x))
    assert isinstance(H, da.Array)
    onp.testing.assert_allclose(H.compute(), onp.diag(6.0 * x), rtol=1e-12)
    J = pyad.jacfwd(lambda v: pnp.sin(v) * 2.0)(put(x))
    onp.testing.assert_allclose(onp.asarray(J), onp.diag(2.0 * onp.cos(x)), rtol=1e-12)


SINGULAR = onp.array([[1.0, 2.0, 0.5], [2.0, 4.0, 1.0], [0.0, 1.0, 3.0]])      # rank 2
RANK2 = rng.standard_normal((5, 2)) @ rng.standard_normal((2, 4))
STACK = rng.standard_normal((8, 3, 3)) + 3 * onp.eye(3)
TALL64 = rng.standard_normal((6, 4))
WHAT_DASK_LACKS = {    # name -> (f, x, chunk rows)
    'det of a singular matrix': (lambda m: la.det(m) + la.det(m * m), SINGULAR, 3),
    'pinv of a rank-deficient matrix': (lambda m: pnp.sum(la.pinv(m) ** 2), RANK2, 2),
    'lstsq of tall data': (lambda m: pnp.sum(la.lstsq(m[:, :3], m[:, 3]).x ** 2)
                           + pnp.sum(la.lstsq(m[:, :3], m[:, 3:]).residuals), TALL64, 2),
    'lstsq of tall data in row chunks': (lambda m: pnp.sum(la.lstsq(m[:, :3], m[:, 3]).x ** 2),
                                         rng.standard_normal((40, 4)), 10),
    'det, slogdet, eigh, expm of a stack': (lambda m: pnp.sum(la.det(m)) + pnp.sum(la.slogdet(m).logabsdet)
                                            + pnp.sum(la.eigh(wide._spd(m)).eigenvalues)
                                            + pnp.sum(la.expm(m / 8) ** 2), STACK, 3),
}


@pytest.mark.parametrize('name', sorted(WHAT_DASK_LACKS))
@pytest.mark.parametrize('dtype', [onp.float64, onp.float32])
def test_linear_algebra_dask_lacks_runs_matrix_by_matrix(name, dtype):
    f, x, rows = WHAT_DASK_LACKS[name]
    x = x.astype(dtype)
    check_lazily(f, x, rows, 1e-7 if dtype == onp.float64 else 1e-3)   # float32 adjugate: cancellation


def test_pinv_of_tall_data_stays_in_row_chunks():
    a = rng.standard_normal((40, 3))
    p = lazily(lambda: la.pinv(put(a, 10)))
    assert p.chunks[1] == (10, 10, 10, 10)        # Dask's tall-and-skinny SVD, not one block
    onp.testing.assert_allclose(p.compute(), onp.linalg.pinv(a), rtol=1e-10)


def test_a_stack_keeps_its_chunks_and_lstsq_its_rank_lazy():
    d = lazily(lambda: la.det(put(STACK, 3)))
    assert d.chunks == ((3, 3, 2),)
    onp.testing.assert_allclose(d.compute(), onp.linalg.det(STACK), rtol=1e-12)
    a, b = rng.standard_normal((9, 3)), rng.standard_normal(9)
    got = lazily(lambda: la.lstsq(put(a, 3), put(b, 3)))
    want = onp.linalg.lstsq(a, b, rcond=None)
    assert isinstance(got.rank, da.Array) and isinstance(got.residuals, da.Array)
    for g, w in zip(backend.compute(tuple(got)), want):
        onp.testing.assert_allclose(g, w, rtol=1e-10)


def test_matrices_in_uneven_chunks_are_factored_in_equal_blocks():
    b = rng.standard_normal((5, 5)) + 5 * onp.eye(5)
    x = put(b, 2)                                           # rows in chunks (2, 2, 1)
    onp.testing.assert_allclose(la.inv(x).compute(), onp.linalg.inv(b), rtol=1e-12)
    onp.testing.assert_allclose(la.cholesky(_spd(x)).compute(), onp.linalg.cholesky(b @ b.T), rtol=1e-12)
    g = pyad.grad(lambda m: pnp.sum(la.solve(m, onp.ones(5)) ** 2))(x)
    onp.testing.assert_allclose(g.compute(), pyad.grad(lambda m: pnp.sum(la.solve(m, onp.ones(5)) ** 2))(b),
                                rtol=1e-10)


@pytest.mark.parametrize('rows', [2, 3])
def test_slogdet_derivative_at_a_singular_dask_matrix_raises_when_computed(rows):
    # the check needs the values: it happens when the derivative is computed
    stack = onp.stack([SINGULAR, SINGULAR + onp.eye(3)]) if rows == 3 else SINGULAR
    g = lazily(lambda: pyad.grad(lambda m: pnp.sum(la.slogdet(m).logabsdet))(put(stack, rows)))
    with pytest.raises(onp.linalg.LinAlgError, match='(?i)singular'):
        g.compute()


def test_cholesky_of_a_dask_matrix_is_lower_as_in_numpy():
    a = _spd(S)
    L = la.cholesky(put(a))
    assert isinstance(L, da.Array)
    onp.testing.assert_allclose(L.compute(), onp.linalg.cholesky(a), rtol=1e-12)


# ---------------------------------------------------------------------- data Dask, parameters NumPy
@pytest.mark.parametrize('mode', ['eager', 'deferred'])
def test_glm_parameters_numpy_data_dask(mode):
    if mode == 'eager':
        return _glm_parameters_numpy_data_dask()
    from pyad._core.config import configured
    with configured(defer_bytes=0):        # every deferrable value deferred (conftest's mode)
        _glm_parameters_numpy_data_dask()


def _glm_parameters_numpy_data_dask():
    X = rng.standard_normal((40, 3))
    y = (rng.random(40) < 0.5).astype(float)
    beta = onp.array([0.3, -0.2, 0.1])

    def loss(b, X, y):
        z = X @ b
        return pnp.sum(pnp.logaddexp(0.0, z) - y * z)

    Xd, yd = put(X, 10), put(y, 10)
    value, g = lazily(lambda: pyad.value_and_grad(lambda b: loss(b, Xd, yd))(beta))
    assert isinstance(g, da.Array) and g.shape == (3,)
    # what the user asks for NumPy gets: one compute for both
    value, g = backend.compute((value, g))
    assert type(g) is onp.ndarray and isinstance(value, (float, onp.floating, onp.ndarray))
    v_ref, g_ref = pyad.value_and_grad(lambda b: loss(b, X, y))(beta)
    onp.testing.assert_allclose(g, g_ref, rtol=1e-12)
    onp.testing.assert_allclose(value, v_ref, rtol=1e-12)
    p = 1 / (1 + onp.exp(-X @ beta))
    onp.testing.assert_allclose(g, X.T @ (p - y), rtol=1e-12)       # the closed form
    hv = backend.compute(pyad.hessianv(lambda b: loss(b, Xd, yd))(beta, onp.ones(3)))
    onp.testing.assert_allclose(hv, X.T @ (p * (1 - p) * (X @ onp.ones(3))), rtol=1e-12)
    H = backend.compute(pyad.hessian(lambda b: loss(b, Xd, yd))(beta))
    onp.testing.assert_allclose(H, (X.T * (p * (1 - p))) @ X, rtol=1e-12)


def test_a_sums_cotangent_is_a_view_per_block_not_a_pass():
    """The cotangent of a sum over Dask data (the gradient's seed spread over the
    blocks) is a read-only broadcast view in each block, made in the task that uses
    it: no chunk-sized array of ones, no multiply by the seed."""
    x = put(rng.standard_normal(40), 10)
    for g in (da.ones((), chunks=()) * 3.0, onp.float64(3.0), onp.ones((1,)) * 3.0):
        spread = backend.dask_broadcast_like(g, x)
        assert spread.chunks == x.chunks
        probe = spread.map_blocks(lambda b: onp.array([b.strides[0], b.flags.writeable, b[0]], float),
                                  chunks=(3,), dtype=float)
        onp.testing.assert_array_equal(probe.compute(scheduler='sync').reshape(-1, 3),
                                       [[0.0, 0.0, 3.0]] * 4)
    graph = pyad.grad(lambda b: pnp.sum(pnp.logaddexp(0.0, x * b)))(1.5).__dask_graph__()
    assert not any(name.startswith('mul') and any(d.startswith('ones') for d in deps)
                   for name, deps in graph.dependencies.items()), graph.dependencies


def test_float32_data_give_float32_derivatives():
    X = put(rng.standard_normal((20, 3)).astype(onp.float32), 5)
    b = onp.ones(3, dtype=onp.float32)
    g = backend.compute(pyad.grad(lambda b: pnp.sum(pnp.tanh(X @ b)))(b))
    assert g.dtype == onp.float32


def test_compute_leaves_other_leaves_alone():
    tree = {'a': da.ones(3, chunks=1), 'b': onp.zeros(2), 'c': 1.5}
    out = backend.compute(tree)
    assert type(out['a']) is onp.ndarray and out['b'] is tree['b'] and out['c'] == 1.5


def test_namespace_of_dask_values_is_the_dask_backend():
    x = put(onp.ones((4, 2)))
    assert backend.is_dask(x) and not backend.is_dask(onp.ones(2))
    assert backend.namespace(x) is backend.dask_namespace()
    assert backend.namespace(onp.ones(2), x) is backend.dask_namespace()
    assert type(backend.to_numpy(x)) is onp.ndarray


# ---------------------------------------------------------------------- row-wise mappings
@pytest.mark.parametrize('mapping', ['softmax', 'log_softmax', 'sparsemax', 'entmax15', 'sparsek'])
def test_row_wise_mappings_along_the_unchunked_axis(mapping):
    z = rng.standard_normal((12, 5))
    fn = {'sparsek': lambda z: nn.sparsek(z, 2)}.get(mapping, getattr(nn, mapping))
    f = lambda z: pnp.sum(fn(z) * z ** 2)        # noqa: E731
    zd = put(z, 4)
    out = lazily(lambda: fn(zd))
    assert isinstance(out, da.Array) and out.chunks[0] == (4, 4, 4)
    onp.testing.assert_allclose(out.compute(), fn(z), atol=1e-12)
    g = lazily(lambda: pyad.grad(f)(zd))
    onp.testing.assert_allclose(g.compute(), pyad.grad(f)(z), atol=1e-10)
    jv = lazily(lambda: pyad.jvp(f, zd, zd * 0 + 1)[1])
    onp.testing.assert_allclose(jv.compute(), pyad.jvp(f, z, onp.ones_like(z))[1], atol=1e-10)


# ---------------------------------------------------------------------- clear errors
VECTOR_WITH_TIES = onp.array([3.0, 1.0, 2.0, 1.0, 5.0, -1.0, 2.0, 2.0, 0.5, 7.0, 1.0])


@pytest.mark.parametrize('dtype', [onp.float64, onp.float32])
def test_sort_of_a_vector_split_into_chunks(dtype):
    x = VECTOR_WITH_TIES.astype(dtype)
    xd = da.from_array(x, chunks=3)
    xp = backend.dask_namespace()
    order, ordered = lazily(lambda: (xp.argsort(xd), xp.sort(xd)))
    assert order.chunks == ordered.chunks == ((3, 3, 3, 2),)
    onp.testing.assert_array_equal(order.compute(), onp.argsort(x, kind='stable'))
    onp.testing.assert_array_equal(ordered.compute(), onp.sort(x))
    gathered = lazily(lambda: pnp.take_along_axis(xd, order, 0))
    onp.testing.assert_array_equal(gathered.compute(), onp.sort(x))
    w = onp.linspace(-1.0, 2.0, x.size).astype(dtype)
    f = lambda x: pnp.sum(pnp.sort(pnp.sin(x) * x) ** 2 * w)      # noqa: E731
    v = onp.linspace(0.5, 1.5, x.size).astype(dtype)

    def derivatives(x, v):
        return (*pyad.value_and_grad(f)(x), pyad.jvp(f, x, v)[1], pyad.hessianv(f)(x, v))

    got = lazily(lambda: derivatives(xd, da.from_array(v, chunks=4)))
    compare_derivatives(got, derivatives(x, v), 1e-5 if dtype == onp.float32 else 1e-10)
    assert backend.to_numpy(got[1]).dtype == dtype


X63 = rng.standard_normal((6, 3))
COLUMN_IDX = onp.array([[2], [0], [1], [1], [0], [2]])
INTEGER_INDEXING = {    # name -> (f, chunk rows); each reads x of shape (6, 3)
    'rows, repeated': (lambda x: pnp.sum(x[onp.array([0, 2, 2, 5])] ** 2), 2),
    'rows, a 2-d index': (lambda x: pnp.sum(pnp.take(x, onp.array([[0, 5], [2, 2]]), axis=0) ** 3), 2),
    'rows, a list, negative': (lambda x: pnp.sum(pnp.sin(x[[-1, 0, -1]])), 4),
    'columns, repeated': (lambda x: pnp.sum(x[:, [2, 0, 2]] * x), 2),
    'a slice and an index': (lambda x: pnp.sum(x[1:5, [0, 2]] ** 2), 2),
    'take along rows': (lambda x: pnp.sum(pnp.take(x, onp.array([5, 0, 3, 3]), axis=0) ** 3), 2),
    'take flattened': (lambda x: pnp.sum(pnp.take(x, onp.array([0, 7, 7, 17])) ** 2), 6),
    'take_along_axis along rows': (lambda x: pnp.sum(pnp.take_along_axis(x, COLUMN_IDX, axis=1) ** 3), 2),
    'take_along_axis down columns': (lambda x: pnp.sum(
        pnp.take_along_axis(x, onp.array([[5, 0, 1], [5, 5, 2]]), axis=0) ** 3), 2),
    'a 1-d NumPy mask of rows': (lambda x: pnp.sum(x[onp.array([1, 0, 1, 1, 0, 1], bool)] ** 3), 2),
    'masks of later axes': (lambda x: pnp.sum(pnp.cos(x[1:, :, None][:, :, onp.array([True])]))
                                          + pnp.sum(x[:, onp.array([False, True, True])] ** 2), 2),
    'an index after an integer and a slice': (lambda x: pnp.sum(x[:, [2, 2, 0]][1:3] ** 3), 2),
    'sort rows': (lambda x: pnp.sum(pnp.sort(x * x, axis=1) * onp.array([1.0, 2.0, 3.0])), 2),
    'sort columns, chunked': (lambda x: pnp.sum(pnp.sort(pnp.sin(x), axis=0) ** 2 * onp.arange(6.0)[:, None]), 2),
}


@pytest.mark.parametrize('name', sorted(INTEGER_INDEXING))
@pytest.mark.parametrize('dtype', [onp.float64, onp.float32])
def test_integer_array_indexing_and_sorting_derivatives(name, dtype):
    f, rows = INTEGER_INDEXING[name]
    check_lazily(f, X63.astype(dtype), rows, 1e-5 if dtype == onp.float32 else 1e-10)


KRON = {
    'data by a NumPy block': (lambda x: pnp.sum(pnp.kron(x, onp.array([[1.0, -2.0], [0.5, 3.0]])) ** 2), 2),
    'two Dask blocks': (lambda x: pnp.sum(pnp.sin(pnp.kron(x[:2], x[2:5, :2]))), 2),
    'a vector and a matrix': (lambda x: pnp.sum(pnp.kron(x[:, 0], x[:2]) ** 3), 4),
}


@pytest.mark.parametrize('name', sorted(KRON))
@pytest.mark.parametrize('dtype', [onp.float64, onp.float32])
def test_kron_of_dask_arrays(name, dtype):
    f, rows = KRON[name]
    check_lazily(f, X63.astype(dtype), rows, 1e-5 if dtype == onp.float32 else 1e-10)


def test_kron_value_is_numpys():
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((2, 5))
    out = lazily(lambda: pnp.kron(put(a), put(b, 1)))
    assert isinstance(out, da.Array)
    onp.testing.assert_allclose(out.compute(), onp.kron(a, b), rtol=1e-14)


def test_integer_array_index_derivative_stays_in_the_chunks_of_the_indexed_axis():
    # the cotangent of x[idx] is added chunk by chunk of x's axis: the block of rows
    # 0..1 needs only the part of the cotangent that lands there
    x = put(rng.standard_normal((8, 2)), 2)
    g = pyad.grad(lambda x: pnp.sum(x[onp.array([7, 0, 1, 7])] ** 2))(x)
    assert g.chunks[0] == (2, 2, 2, 2)
    want = onp.zeros((8, 2))
    xn = backend.to_numpy(x)
    onp.add.at(want, [7, 0, 1, 7], 2 * xn[[7, 0, 1, 7]])
    onp.testing.assert_allclose(g.compute(), want, rtol=1e-12)


X435 = rng.standard_normal((4, 3, 5))
DASK_ROWS = onp.array([5, 0, 2, 2, -1])
SEVERAL_INDICES = {    # name -> (f, x, chunks, index arrays made Dask arrays in the Dask run)
    'rows and columns, repeated': (lambda x, i: pnp.sum(
        x[onp.array([0, 2, 2, 5]), onp.array([1, 0, 0, 2])] ** 3), X63, (2, 3), None),
    'an integer and an index': (lambda x, i: pnp.sum(x[0, onp.array([2, 0, 2])] ** 3), X63, (2, 3), None),
    'slices, integers and indices': (lambda x, i: pnp.sum(x[1:5, onp.array([2, 0, 2])] ** 3)
                                     + pnp.sum(pnp.cos(x[-1, [1, 1]])), X63, (2, 2), None),
    'an integer, a slice, a 2-d index': (lambda x, i: pnp.sum(pnp.sin(
        x[0, :, onp.array([[1, 4], [4, 0]])])), X435, (2, 3, 2), None),
    'broadcast indices around a slice': (lambda x, i: pnp.sum(
        x[onp.array([[3], [0]]), 1:, onp.array([1, 4, 4])] ** 3), X435, (2, 2, 2), None),
    'adjacent indices after a slice': (lambda x, i: pnp.sum(
        x[:, onp.array([2, 0]), onp.array([4, 4])] ** 3), X435, (3, 2, 2), None),
    'a Dask index of rows': (lambda x, i: pnp.sum(x[i] ** 3), X63, (2, 3), DASK_ROWS),
    'a Dask index of columns': (lambda x, i: pnp.sum(pnp.sin(x[1:, :, i])), X435, (2, 2, 2),
                                onp.array([4, 0, 4, -2])),
    'a Dask index beside an integer': (lambda x, i: pnp.sum(x[i, 0] ** 3) + pnp.sum(x[1, i % 3] ** 2),
                                       X63, (2, 2), DASK_ROWS),
    'an integer, a slice, a Dask index': (lambda x, i: pnp.sum(
        pnp.sin(x[0, :, i]) * onp.arange(3.0)), X435, (2, 2, 2), onp.array([4, 0, 4, -2])),
    'two Dask indices': (lambda x, i: pnp.sum(x[i, i % 3] ** 3), X63, (2, 2), DASK_ROWS),
    'two Dask indices around a slice': (lambda x, i: pnp.sum(pnp.sin(x[i % 4, 1:, i]) * onp.arange(2.0)),
                                        X435, (2, 2, 2), onp.array([4, 0, 4, -2])),
    'a 2-d Dask index': (lambda x, i: pnp.sum(x[i] ** 3 * onp.arange(3.0)), X63, (2, 2),
                         onp.array([[5, 0], [2, 2], [-1, 3]])),
    'a 2-d Dask index of columns': (lambda x, i: pnp.sum(pnp.sin(x[1:, :, i]) * onp.arange(3.0)[:, None, None]),
                                    X435, (2, 2, 2), onp.array([[4, 0], [2, 2], [-1, 3]])),
    'Dask indices around None': (lambda x, i: pnp.sum(x[i, None, i % 3] ** 3), X63, (2, 2), DASK_ROWS),
    'integer arrays around None': (lambda x, i: pnp.sum(
        x[onp.array([0, 5, 5]), None, onp.array([1, 2, 2])] ** 3), X63, (2, 2), None),
    'integer arrays, None and a slice': (lambda x, i: pnp.sum(pnp.sin(
        x[:, onp.array([0, 1, 1]), None, onp.array([1, 2, 4])]) * onp.arange(4.0)[None, :, None]),
        X435, (2, 2, 2), None),
    'an index and None': (lambda x, i: pnp.sum(pnp.sin(x[0, None, onp.array([1, 2, 2])]) * onp.arange(3.0))
                          + pnp.sum(x[[0, 2, 2], None] ** 3), X63, (2, 2), None),
    'a NumPy mask of two axes': (lambda x, i: pnp.sum(x[X63 > 0.3] ** 3), X63, (2, 2), None),
    'a NumPy mask of two of three axes': (lambda x, i: pnp.sum(pnp.sin(x[:, X435[0] > 0]) ** 3), X435,
                                          (2, 2, 2), None),
    'a Dask mask of every axis': (lambda x, i: pnp.sum(x[x > 0.3] ** 3) + pnp.var(x[x < 0]), X63, (2, 2), None),
    'a Dask mask of rows': (lambda x, i: pnp.sum(pnp.sin(x[x[:, 0] > 0]) * onp.arange(3.0)), X63, (2, 2), None),
    'a Dask mask of columns': (lambda x, i: pnp.sum(pnp.mean(x[:, x[0] > -0.5], axis=1) ** 2), X63, (2, 2), None),
    'a Dask mask of two of three axes': (lambda x, i: pnp.sum(pnp.sin(x[x[:, :, 0] > 0]) ** 2), X435,
                                         (2, 2, 2), None),
    'a Dask mask beside a slice and an integer': (lambda x, i: pnp.sum(pnp.sin(x[1:, x[0] > 0]) ** 2)
                                                  + pnp.sum(x[4, x[0] > 0] ** 3), X63, (2, 2), None),
    'Ellipsis and None with a Dask index and mask': (lambda x, i: pnp.sum(pnp.sin(x[None, ..., i % 5]) ** 2)
                                                     + pnp.sum(pnp.sin(x[x[:, 0, 0] > -0.5, ..., 0, None]) ** 2),
                                                     X435, (2, 2, 2), onp.array([4, 0, 4, -2])),
    'a Dask mask and integers apart': (lambda x, i: pnp.sum(pnp.sin(x[1, :, x[0, 0] > 0]) * onp.arange(3.0))
                                       + pnp.sum(x[x[:, 0, 0] > 0, :, 3] ** 3), X435, (2, 2, 2), None),
}


@pytest.mark.parametrize('name', sorted(SEVERAL_INDICES))
@pytest.mark.parametrize('dtype', [onp.float64, onp.float32])
def test_derivatives_of_integer_indices_masks_and_dask_indices(name, dtype):
    f, x, chunks, idx = SEVERAL_INDICES[name]
    x = x.astype(dtype)
    xd = da.from_array(x, chunks=chunks)
    idx_d = None if idx is None else da.from_array(idx, chunks=2)
    v = onp.linspace(-1.0, 1.0, x.size).reshape(x.shape).astype(dtype)

    def derivatives(x, idx, v):
        g = lambda x: f(x, idx)       # noqa: E731
        return (*pyad.value_and_grad(g)(x), pyad.jvp(g, x, v)[1], pyad.hessianv(g)(x, v))

    got = lazily(lambda: derivatives(xd, idx_d, da.from_array(v, chunks=chunks)))
    compare_derivatives(got, derivatives(x, idx, v), 1e-5 if dtype == onp.float32 else 1e-10)
    assert backend.to_numpy(got[1]).dtype == dtype


def test_a_dask_index_out_of_bounds_raises_when_computed():
    g = lazily(lambda: pyad.grad(lambda x: pnp.sum(x[da.from_array(onp.array([0, 6]))] ** 2))(put(X63)))
    with pytest.raises(IndexError, match='index 6 is out of bounds for axis 0 with size 6'):
        g.compute()


def test_dask_indices_out_of_bounds_raise_when_computed():
    x = put(X63)
    rows = da.from_array(onp.array([0, 5, 2]), chunks=2)
    value, g = lazily(lambda: pyad.value_and_grad(lambda x: pnp.sum(x[rows, rows] ** 2))(x))
    for each in (value, g):
        with pytest.raises(IndexError, match='index 5 is out of bounds for axis 1 with size 3'):
            each.compute()
    with pytest.raises(IndexError, match=r'shape mismatch: .* \(3,\) \(2,\)'):
        pyad.grad(lambda x: pnp.sum(x[rows, da.from_array(onp.array([0, 1]))]))(x)
    with pytest.raises(IndexError, match='out of bounds'):       # NumPy indices: checked at once
        pyad.grad(lambda x: pnp.sum(x[[0, 2], [1, 7]] ** 2))(x)


def test_a_lazy_mask_keeps_its_sizes_unknown_and_its_derivative_in_the_chunks_of_x():
    x = put(X63)
    y = lazily(lambda: x[x > 0])
    assert onp.isnan(y.shape[0]) and len(y.chunks[0]) == 3          # one chunk per chunk of x
    onp.testing.assert_array_equal(y.compute(), X63[X63 > 0])
    g = lazily(lambda: pyad.grad(lambda x: pnp.sum(x[x > 0] ** 2))(x))
    assert g.chunks == x.chunks
    onp.testing.assert_allclose(g.compute(), 2 * X63 * (X63 > 0), rtol=1e-12)


LAZY_INDEX_HESSIANS = {    # f(x, i) -> the Dask index i, or its NumPy value
    'a lazy mask': lambda x, i: pnp.sum(x[x > 0.3] ** 3) + pnp.sum(pnp.sin(x[1, None, x[0] > 0])),
    'two Dask indices': lambda x, i: pnp.sum(x[i, i % 4] ** 3),
    'a 0-d Dask index': lambda x, i: pnp.sum(x[i[0]] ** 3),
}


@pytest.mark.parametrize('name', sorted(LAZY_INDEX_HESSIANS))
def test_dense_hessians_through_lazy_indices(name):
    # hessian and jacfwd seed NumPy identity tangents, which meet the Dask index in
    # the forward sweep: they are indexed as Dask arrays, never by computing the index
    f = LAZY_INDEX_HESSIANS[name]
    x = rng.standard_normal((6, 4))
    rows = onp.array([5, 0, 2, 2, -1])
    rows_d = da.from_array(rows, chunks=2)
    H, J = lazily(lambda: (pyad.hessian(lambda x: f(x, rows_d))(put(x)),
                           pyad.jacfwd(pyad.grad(lambda x: f(x, rows_d)))(put(x))))
    want = pyad.hessian(lambda x: f(x, rows))(x)
    compare(H, want, 1e-10, 'hessian')
    compare(J, want, 1e-10, 'jacfwd of grad')


def test_masks_and_indices_dask_cannot_place_are_refused():
    x = put(X435)
    m = x[:, 0, 0] > 0

    def grad_of(index):
        return pyad.grad(lambda x: pnp.sum(x[index(x)]))(x)
    with pytest.raises(DaskUnsupported, match='one mask'):
        grad_of(lambda x: (m, slice(None), x[0, 0] > 0))
    with pytest.raises(DaskUnsupported, match='one mask'):
        grad_of(lambda x: (m, slice(None), onp.array([0, 1])))
    with pytest.raises(IndexError, match=r'boolean index of shape \(4, 3\) does not match'):
        grad_of(lambda x: (slice(None), (x > 0)[:, :, 0]))
    # a cotangent of x[mask] whose chunks along the masked axis are not x[mask]'s
    mask = x > 0
    y = x.reshape(-1)[mask.reshape(-1)]
    with pytest.raises(DaskUnsupported, match='cannot be matched to the mask'):
        backend.dask_scatter_add(X435.shape, X435.dtype, (mask,), da.concatenate([y, y]))


VECTOR_WITHOUT_TIES = onp.array([3.0, 1.5, 2.0, 1.0, 5.0, -1.0, 2.5, 0.0, 0.5, 7.0, 1.25])


@pytest.mark.parametrize('dtype', [onp.float64, onp.float32])
def test_partition_of_a_vector_split_into_chunks(dtype):
    x = VECTOR_WITHOUT_TIES.astype(dtype)
    xd = da.from_array(x, chunks=3)
    for kth in (0, 4, 10):
        got = lazily(lambda: pnp.partition(xd, kth)).compute()
        assert got[kth] == onp.partition(x, kth)[kth]
        assert (got[:kth] <= got[kth]).all() and (got[kth:] >= got[kth]).all()
        onp.testing.assert_array_equal(onp.sort(got), onp.sort(x))
    # a function of the kth entry and of the sets on either side, as NumPy leaves their order open
    f = lambda x: (pnp.sum(pnp.partition(pnp.sin(x) * x, 4)[:4] ** 2)      # noqa: E731
                   + pnp.partition(x * x, 6)[6] ** 3 + pnp.sum(pnp.exp(pnp.partition(x, 3)[4:])))
    v = onp.linspace(0.5, 1.5, x.size).astype(dtype)

    def derivatives(x, v):
        return (*pyad.value_and_grad(f)(x), pyad.jvp(f, x, v)[1], pyad.hessianv(f)(x, v))

    got = lazily(lambda: derivatives(xd, da.from_array(v, chunks=4)))
    rtol = 1e-5 if dtype == onp.float32 else 1e-10
    for what, g, want in zip(['value', 'grad', 'jvp', 'hessianv'], got, derivatives(x, v)):
        compare(g, want, rtol, what)
    assert backend.to_numpy(got[1]).dtype == dtype
    rows = rng.standard_normal((6, 5)).astype(dtype)        # rows in chunks: NumPy's, block by block
    onp.testing.assert_array_equal(lazily(lambda: pnp.partition(put(rows), 2)).compute(),
                                   onp.partition(rows, 2))


def test_linear_algebra_without_a_lazy_dask_routine_is_refused_by_name():
    with pytest.raises(DaskUnsupported, match=r'pyad\.linalg\.eig: Dask has no lazy eig.*x\.compute\(\)'):
        la.eig(put(S))
    with pytest.raises(TypeError, match=r'sqrtm: only NumPy arrays are supported'):
        la.sqrtm(put(_spd(S)))


def test_numpy_functions_without_a_dask_counterpart_are_refused():
    xp = backend.dask_namespace()
    with pytest.raises(DaskUnsupported, match=r'numpy\.kron has no lazy Dask counterpart'):
        xp.kron
    assert xp.finfo(onp.float32).eps == onp.finfo(onp.float32).eps   # metadata passes through
