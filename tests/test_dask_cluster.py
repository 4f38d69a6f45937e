"""pyad over Dask data on a real dask.distributed LocalCluster, started here:
2 worker processes, 1 thread each, a memory limit per worker below the size of
the data, which are generated lazily on the workers and never held whole by
any process.

* GLM losses (logistic, Poisson, least squares): value and grad in one compute,
  hessianv in another, equal to their NumPy closed forms evaluated chunk by chunk
  on the same cluster, on data larger than a worker's memory; no worker restarted;
* the graph is lean: value and gradient together read each data chunk in as many
  tasks as a hand-written loss and gradient do;
* scipy.optimize.minimize (L-BFGS-B) driven by pyad gradients over Dask data
  finds the NumPy solution;
* a small MLP trained by full-batch gradient descent over Dask data follows the
  same path as on NumPy;
* the client's peak memory while it builds and computes derivatives does not
  grow with the data;
* the lazy indexing, sorting and linear-algebra graphs (Dask index arrays, lazy
  masks, a chunked vector's sort and partition, stacks of matrices) run on the
  workers and give NumPy's derivatives.

Skipped when dask.distributed is not installed.
"""
import tracemalloc

import numpy as onp
import pytest

distributed = pytest.importorskip('dask.distributed')
da = pytest.importorskip('dask.array')
import dask  # noqa: E402

import pyad  # noqa: E402
import pyad.linalg as la  # noqa: E402
import pyad.nn as nn  # noqa: E402
import pyad.numpy as pnp  # noqa: E402
from pyad.backend import compute  # noqa: E402

MEMORY_LIMIT = 384 * 2 ** 20           # per worker (an idle worker holds 150-220 MiB of it)
ROWS, FEATURES, CHUNK = 1_050_000, 50, 25_000   # 400 MiB of features: above one worker's limit


@pytest.fixture(autouse=True)
def values():
    """Overrides conftest's (which runs every test twice): a cluster run is costly,
    and tests/test_dask.py runs the deferred mode over Dask."""
    yield 'eager'


@pytest.fixture(scope='module')
def client():
    # no spilling to disk and no pausing: the data stream through the workers, and a
    # worker that needed more than its limit is restarted (which the tests check)
    with dask.config.set({'distributed.worker.memory.target': False,
                          'distributed.worker.memory.spill': False,
                          'distributed.worker.memory.pause': False}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           memory_limit=MEMORY_LIMIT, dashboard_address=':0')
    c = distributed.Client(cluster)
    c.wait_for_workers(2)
    try:
        yield c
    finally:
        c.close()
        cluster.close()
        _settle()


def _settle():
    """Wait until the closed cluster's comms and futures are garbage, and collect
    them: reference cycles that distributed's teardown leaves behind for a moment
    would otherwise be found by the next test that counts what gc collects
    (tests/test_deferred.py)."""
    import gc
    import time
    for _ in range(20):
        time.sleep(0.1)
        if gc.collect() == 0:
            return


def lazy_data(rows, chunk, seed=0):
    """Features uniform in [-1, 1] and a linear predictor, generated on the workers."""
    rng = da.random.default_rng(seed)
    X = rng.random((rows, FEATURES), chunks=(chunk, FEATURES)) * 2.0 - 1.0
    w = onp.linspace(-1.0, 1.0, FEATURES) / onp.sqrt(FEATURES)
    u = rng.random(rows, chunks=chunk)
    return X, X @ w, u


def logistic(b, X, y):
    z = X @ b
    return pnp.sum(pnp.logaddexp(0.0, z) - y * z)


def poisson(b, X, y):
    z = X @ b
    return pnp.sum(pnp.exp(z) - y * z)


def least_squares(b, X, y):
    return 0.5 * pnp.sum((X @ b - y) ** 2)


def sigmoid(z):
    return 1.0 / (1.0 + da.exp(-z))


def _logistic_cf(X, y, b, v):
    z = X @ b
    p = 1.0 / (1.0 + onp.exp(-z))
    return onp.sum(onp.logaddexp(0.0, z) - y * z), X.T @ (p - y), X.T @ (p * (1 - p) * (X @ v))


def _poisson_cf(X, y, b, v):
    z = X @ b
    return onp.sum(onp.exp(z) - y * z), X.T @ (onp.exp(z) - y), X.T @ (onp.exp(z) * (X @ v))


def _least_squares_cf(X, y, b, v):
    z = X @ b
    return 0.5 * onp.sum((z - y) ** 2), X.T @ (z - y), X.T @ (X @ v)


GLMS = {
    # loss, labels from (eta, u), NumPy closed forms of (value, gradient, Hessian-vector product)
    'logistic': (logistic, lambda eta, u: (u < sigmoid(eta)).astype(float), _logistic_cf),
    'poisson': (poisson, lambda eta, u: da.floor(da.exp(eta) + u), _poisson_cf),
    'least squares': (least_squares, lambda eta, u: eta + u - 0.5, _least_squares_cf),
}


def closed_forms(cf, X, y, b, v):
    """The NumPy closed forms, chunk by chunk on the workers, summed: one pass,
    one small output per chunk."""
    d = X.shape[1]

    def block(Xb, yb):
        value, g, hv = cf(Xb, yb[:, 0], b, v)
        return onp.concatenate([[value], g, hv])[None, :]

    parts = da.map_blocks(block, X, y[:, None], dtype=X.dtype,
                          chunks=((1,) * X.numblocks[0], (2 * d + 1,)))
    total = compute(parts.sum(axis=0))
    return total[0], total[1:d + 1], total[d + 1:]


@pytest.mark.parametrize('name', sorted(GLMS))
def test_glm_value_grad_hessianv_on_data_larger_than_a_worker(client, name):
    loss, labels, cf = GLMS[name]
    X, eta, u = lazy_data(ROWS, CHUNK)
    y = labels(eta, u)
    assert X.nbytes > MEMORY_LIMIT
    workers = set(client.scheduler_info()['workers'])
    b = onp.linspace(0.2, -0.2, FEATURES)
    v = onp.cos(onp.arange(FEATURES))
    f = lambda b: loss(b, X, y)        # noqa: E731
    value, g = compute(pyad.value_and_grad(f)(b))       # one pass over the data
    hv = compute(pyad.hessianv(f)(b, v))
    assert type(g) is onp.ndarray and g.shape == (FEATURES,) and type(hv) is onp.ndarray
    for got, want, what in zip((value, g, hv), closed_forms(cf, X, y, b, v), ('value', 'grad', 'hessianv')):
        onp.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-8, err_msg=f'{name} {what}')
    assert set(client.scheduler_info()['workers']) == workers, 'a worker was restarted'


def _readers_per_chunk(collections, X):
    """How many tasks of the optimised graph of ``collections`` read each chunk of X."""
    (opt,) = dask.optimize(collections)
    graph = {}
    for c in pyad.tree_leaves(opt):
        graph.update(dict(c.__dask_graph__()))
    keys = set(dask.core.flatten(X.__dask_keys__()))
    counts = dict.fromkeys(keys, 0)
    for key, task in graph.items():
        for dep in dask.core.get_dependencies(graph, key):
            if dep in counts:
                counts[dep] += 1
    return counts


def test_value_and_gradient_read_each_chunk_twice_like_a_hand_written_gradient():
    X = da.random.default_rng(3).random((4000, 5), chunks=(1000, 5)).persist(scheduler='synchronous')
    y = da.ones(4000, chunks=1000)
    b = onp.full(5, 0.1)
    ours = _readers_per_chunk(pyad.value_and_grad(lambda b: logistic(b, X, y))(b), X)
    z = X @ b
    hand = _readers_per_chunk(((da.logaddexp(0, z) - y * z).sum(), X.T @ (sigmoid(z) - y)), X)
    assert len(ours) == 4 and ours == hand


def test_lbfgs_with_pyad_gradients_over_dask(client):
    from scipy.optimize import minimize
    X, eta, u = lazy_data(20_000, 5_000, seed=1)
    y = (u < sigmoid(eta)).astype(float)
    X, y = client.persist([X, y])
    Xn, yn = X.compute(), y.compute()

    def objective(X, y):
        loss = lambda b: logistic(b, X, y) / 20_000 + 1e-3 * pnp.sum(b ** 2)    # noqa: E731
        vg = pyad.value_and_grad(loss)
        return lambda b: compute(vg(b))

    calls = []

    def counted(fn):
        def f(b):
            calls.append(1)
            value, g = fn(b)
            assert type(g) is onp.ndarray
            return float(value), g
        return f

    res = minimize(counted(objective(X, y)), onp.zeros(FEATURES), jac=True, method='L-BFGS-B')
    ref = minimize(objective(Xn, yn), onp.zeros(FEATURES), jac=True, method='L-BFGS-B')
    assert res.success and ref.success
    onp.testing.assert_allclose(res.x, ref.x, rtol=1e-6, atol=1e-8)
    assert onp.abs(res.jac).max() < 1e-4 and len(calls) == res.nfev


def test_mlp_trained_full_batch_over_dask(client):
    rng = onp.random.default_rng(0)
    n, d, h, k = 3000, 8, 16, 3
    Xn = rng.standard_normal((n, d))
    Yn = onp.eye(k)[onp.argmax(Xn[:, :k] + 0.3 * rng.standard_normal((n, k)), axis=1)]
    X, Y = client.persist([da.from_array(Xn, chunks=(750, d)), da.from_array(Yn, chunks=(750, k))])
    params0 = {'W1': rng.standard_normal((d, h)) / onp.sqrt(d), 'b1': onp.zeros(h),
               'W2': rng.standard_normal((h, k)) / onp.sqrt(h), 'b2': onp.zeros(k)}

    def loss(p, X, Y):
        hidden = pnp.tanh(X @ p['W1'] + p['b1'])
        return pnp.mean(nn.softmax_cross_entropy(hidden @ p['W2'] + p['b2'], Y))

    def train(X, Y, steps=15, lr=0.5):
        p, curve = params0, []
        vg = pyad.value_and_grad(lambda p: loss(p, X, Y))
        for _ in range(steps):
            value, g = compute(vg(p))
            curve.append(float(value))
            p = {name: p[name] - lr * g[name] for name in p}
        return p, curve

    p, curve = train(X, Y)
    p_ref, curve_ref = train(Xn, Yn)
    assert all(type(v) is onp.ndarray for v in p.values())
    onp.testing.assert_allclose(curve, curve_ref, rtol=1e-10)
    for name in p:
        onp.testing.assert_allclose(p[name], p_ref[name], rtol=1e-9, atol=1e-12)
    assert curve[-1] < 0.8 * curve[0]


def test_client_memory_does_not_grow_with_the_data(client):
    """The tape holds graphs, not data: building the value, gradient and
    Hessian-vector product of the same graph shape (same number of chunks) over 10x
    more data costs the client no more memory, and computing them brings no copy of
    the data into the client.

    The two are traced apart: building is pyad's work alone, while computing also
    runs this process's scheduler, whose bookkeeping (worker heartbeats, memory
    events from the earlier tests' workloads) varies by megabytes from run to run."""
    b = onp.full(FEATURES, 0.05)
    v = onp.ones(FEATURES)

    def peaks(rows):
        X, eta, u = lazy_data(rows, rows // 20, seed=2)
        y = (u < sigmoid(eta)).astype(float)
        f = lambda b: logistic(b, X, y)       # noqa: E731
        tracemalloc.start()
        try:
            lazy = (pyad.value_and_grad(f)(b), pyad.hessianv(f)(b, v))
            build = tracemalloc.get_traced_memory()[1]
            tracemalloc.reset_peak()
            compute(lazy)
            return build, tracemalloc.get_traced_memory()[1], X.nbytes
        finally:
            tracemalloc.stop()

    peaks(10_000)                       # warm-up: imports, caches
    runs = [(peaks(20_000), peaks(200_000)) for _ in range(2)]
    small_bytes, large_bytes = runs[0][0][2], runs[0][1][2]
    assert large_bytes == 10 * small_bytes and large_bytes > 50 * 2 ** 20
    small_build = min(s[0] for s, _ in runs)
    large_build, large_compute = (min(l[i] for _, l in runs) for i in (0, 1))
    # building: under 1 MiB more for 72 MiB more data (about 0.6 MiB in all)
    assert large_build < small_build + 2 ** 20, runs
    # computing: the scheduler's few MiB, far from the 80 MiB a copy of the data takes
    assert large_compute < large_bytes / 4, runs


def test_lazy_indexing_sorting_and_linear_algebra_graphs_run_on_the_workers(client):
    """Small data (the graphs, not the sizes, are under test), built without computing
    and computed on the cluster in one pass, against pyad on NumPy."""
    rng = onp.random.default_rng(5)
    xn = rng.standard_normal((400, 4))
    rows = rng.integers(-400, 400, 300)
    stack = rng.standard_normal((6, 3, 3)) + 3 * onp.eye(3)
    w = onp.linspace(-1.0, 1.0, 400)

    def losses(x, idx, s):
        return {
            'two Dask indices and None': lambda x: pnp.sum(x[idx, None, idx % 4] ** 3),
            'a 2-d Dask index': lambda x: pnp.sum(pnp.sin(x[idx.reshape(30, 10)])),
            'a lazy mask': lambda x: pnp.sum(x[x > 0.2] ** 2) + pnp.mean(x[:, x[0] > -1.0]),
            'sort and partition of a chunked vector': lambda x: (
                pnp.sum(pnp.sort(x[:, 0] * x[:, 1]) * w) + pnp.sum(pnp.partition(x[:, 2], 100)[:100] ** 2)),
            'a stack of matrices': lambda x: pnp.sum(la.slogdet(s * x[0, 0]).logabsdet)
                                             + pnp.sum(la.solve(s, s[:, :, :1] * x[1, 1]) ** 2),
        }

    def derivatives(x, idx, s):
        return {name: pyad.value_and_grad(f)(x) for name, f in losses(x, idx, s).items()}

    xd = da.from_array(xn, chunks=(100, 4))
    idx_d = da.from_array(rows, chunks=100)
    with dask.config.set(scheduler=_never):
        lazy = derivatives(xd, idx_d, da.from_array(stack, chunks=(2, 3, 3)))
    got = compute(lazy)
    want = derivatives(xn, rows, stack)
    for name in want:
        for g, w_ in zip(got[name], want[name]):
            onp.testing.assert_allclose(g, w_, rtol=1e-9, atol=1e-12, err_msg=name)


def _never(*args, **kwargs):
    raise AssertionError('a Dask graph was computed while derivatives were being built')
