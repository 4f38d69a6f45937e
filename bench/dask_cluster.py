"""DASK: GLM gradients over Dask arrays on a dask.distributed LocalCluster.

Same cluster (2 worker processes, 1 thread each), same data, persisted on the
workers (fitting in memory, so that NumPy can run it too):

* pyad's gradient of the logistic loss over Dask data against dask-glm's
  hand-written gradient for the same loss (``dask_glm.families.Logistic``);
  target ≤ 1.3× its time;
* the loss and gradient together (one ``dask.compute``, one pass over the data)
  against dask-glm's loss and gradient computed together;
* pyad's gradient on the same data as NumPy arrays in this one process;

and, on a second cluster whose workers have a small memory limit, the peak
memory of any worker while pyad computes the loss and gradient of a dataset
generated lazily at ≥ 4× one worker's limit.

    python3 bench/run.py --only DASK            (or: python3 bench/dask_cluster.py)
"""
import os
import sys
import threading
import time

import numpy as onp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import pyad                        # noqa: E402
import pyad.numpy as pnp           # noqa: E402
from harness import Impl, measure, table, NOT_INSTALLED   # noqa: E402

N, D, CHUNK = 1_000_000, 50, 100_000          # 400 MB of float64 features
N_QUICK = 200_000
BIG_LIMIT_MIB = 384                           # per worker, for the memory run (idle: 150-220 MiB)
BIG_ROWS, BIG_CHUNK = 4_000_000, 25_000       # 1.6 GB of features (+ labels)


def logistic_loss(beta, X, y):
    """The negative log-likelihood dask-glm's Logistic family computes."""
    z = X @ beta
    return pnp.sum(pnp.logaddexp(0.0, z) - y * z)


def cluster(memory_limit):
    """2 worker processes; no spilling to disk and no pausing: a worker that needs more
    than its limit is restarted by its nanny (and the run says so)."""
    import dask
    from dask.distributed import LocalCluster, Client
    with dask.config.set({'distributed.worker.memory.target': False,
                          'distributed.worker.memory.spill': False,
                          'distributed.worker.memory.pause': False}):
        c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                         memory_limit=memory_limit, dashboard_address=':0')
    client = Client(c)
    client.wait_for_workers(2)
    return c, client


def worker_memory(client):
    return client.run(lambda dask_worker: dask_worker.monitor.get_process_memory())


class PeakSampler:
    """Polls every worker's process memory (RSS) while a computation runs."""

    def __init__(self, client, period=0.05):
        self.client, self.period, self.peak = client, period, 0
        self._stop = threading.Event()

    def __enter__(self):
        def poll():
            while not self._stop.is_set():
                try:
                    self.peak = max([self.peak] + list(worker_memory(self.client).values()))
                except Exception:      # noqa: BLE001 (a worker restarting: try again)
                    pass
                self._stop.wait(self.period)
        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _data(n, chunk, seed=0):
    import dask.array as da
    rng = da.random.default_rng(seed)
    X = rng.standard_normal((n, D), chunks=(chunk, D))
    w = onp.linspace(-1.0, 1.0, D) / onp.sqrt(D)
    y = (rng.random(n, chunks=chunk) < 1.0 / (1.0 + da.exp(-(X @ w)))).astype(onp.float64)
    return X, y


def run(ctx):
    report, settings = ctx.report, ctx.settings
    try:
        import dask
        from dask.distributed import wait
        from dask_glm.families import Logistic
    except ImportError as e:
        report.section('DASK', 'DASK: GLM gradients on a Dask cluster',
                       f'Skipped: {e} (pip install -e ".[dask]").')
        report.target('DASK', 'gradient ≤ 1.3× dask-glm', NOT_INSTALLED, None)
        return
    n = N_QUICK if settings.quick else N
    compute = pyad.backend.compute
    beta = onp.linspace(-0.5, 0.5, D) / 10

    # ---- timing: data persisted on the workers, NumPy copy in this process
    c, client = cluster('2GiB')
    try:
        X, y = _data(n, CHUNK)
        X, y = client.persist([X, y])
        wait([X, y])
        Xn, yn = X.compute(), y.compute()
        grad = pyad.grad(lambda b: logistic_loss(b, X, y))
        vgrad = pyad.value_and_grad(lambda b: logistic_loss(b, X, y))
        grad_np = pyad.grad(lambda b: logistic_loss(b, Xn, yn))
        glm_g = lambda: Logistic.pointwise_gradient(beta, X, y).compute()          # noqa: E731
        glm_vg = lambda: dask.compute(Logistic.pointwise_loss(beta, X, y),           # noqa: E731
                                      Logistic.pointwise_gradient(beta, X, y))
        ref_vg = dask.compute(Logistic.pointwise_loss(beta, X, y), Logistic.pointwise_gradient(beta, X, y))
        impls = [Impl('dask-glm gradient (hand-written)', glm_g),
                 Impl('pyad grad over Dask', lambda: compute(grad(beta))),
                 Impl('dask-glm loss + gradient, one dask.compute', glm_vg, reference=ref_vg),
                 Impl('pyad value_and_grad over Dask, one compute', lambda: compute(vgrad(beta)),
                      reference=ref_vg),
                 Impl('pyad grad on NumPy, one process', lambda: grad_np(beta))]
        base = 'dask-glm gradient (hand-written)'
        res = measure(settings, impls, base, rtol=1e-9, atol=1e-8, log=ctx.log, title='DASK grad')
        # a graph's tasks, to show what one pass is
        (g_opt,) = dask.optimize(grad(beta))
        (glm_opt,) = dask.optimize(Logistic.pointwise_gradient(beta, X, y))
        tasks = f'{len(g_opt.__dask_graph__())} tasks (dask-glm: {len(glm_opt.__dask_graph__())})'
        del Xn, yn
    finally:
        client.close()
        c.close()

    # ---- memory: data generated lazily at >= 4x one worker's limit, never persisted
    rows = BIG_ROWS // 5 if settings.quick else BIG_ROWS
    c, client = cluster(f'{BIG_LIMIT_MIB}MiB')
    try:
        X, y = _data(rows, BIG_CHUNK, seed=1)
        limit = BIG_LIMIT_MIB * 2 ** 20
        nbytes = X.nbytes + y.nbytes
        idle = max(worker_memory(client).values())
        restarts_before = set(client.scheduler_info()['workers'])
        t0 = time.perf_counter()
        with PeakSampler(client) as peak:
            value, g = compute(pyad.value_and_grad(lambda b: logistic_loss(b, X, y))(beta))
        t_big = time.perf_counter() - t0
        same_workers = set(client.scheduler_info()['workers']) == restarts_before
        # dask-glm's loss and gradient, each its own pass (a graph with both reductions of a
        # hand-written formula keeps chunks for the second and does not fit these workers)
        onp.testing.assert_allclose(g, Logistic.pointwise_gradient(beta, X, y).compute(), rtol=1e-9, atol=1e-8)
        onp.testing.assert_allclose(value, Logistic.pointwise_loss(beta, X, y).compute(), rtol=1e-9)
    finally:
        client.close()
        c.close()

    mib = 2 ** 20
    text = (f'Logistic loss, n = {n:,} rows × {D} features (float64, {n * D * 8 / 1e6:.0f} MB), chunks of '
            f'{CHUNK:,} rows, persisted on a LocalCluster of 2 worker processes × 1 thread. '
            f'pyad: `pyad.backend.compute(pyad.grad(loss)(beta))`, parameters NumPy, data Dask; '
            f'the gradient graph (optimised) has {tasks}. Every result checked against dask-glm.\n\n'
            + table(res, base) +
            f'\n\n### Peak worker memory\n\nData generated lazily, never persisted: {rows:,} × {D} features + '
            f'labels = {nbytes / mib:,.0f} MiB, {nbytes / limit:.1f}× one worker\'s memory limit of '
            f'{BIG_LIMIT_MIB} MiB (2 workers). pyad value and gradient in one compute: {t_big:.1f} s; '
            f'peak worker memory (RSS, sampled every 50 ms) {peak.peak / mib:.0f} MiB '
            f'(an idle worker: {idle / mib:.0f} MiB); no worker restarted: {same_workers}.')
    report.section('DASK', 'DASK: GLM gradients on a Dask cluster', text)
    r = res['pyad grad over Dask']
    if r.timed:
        ratio = r.ratios[base]
        report.target('DASK', 'gradient ≤ 1.3× dask-glm\'s hand-written gradient',
                      f'{ratio:.2f}×', ratio <= 1.3)
    else:
        report.target('DASK', 'gradient ≤ 1.3× dask-glm\'s hand-written gradient', r.status, False)
    report.target('DASK', f'data {nbytes / limit:.1f}× a worker\'s limit: peak worker memory below the limit',
                  f'{peak.peak / mib:.0f} MiB of {BIG_LIMIT_MIB} MiB',
                  (peak.peak < limit and same_workers) if nbytes >= 4 * limit else None)


if __name__ == '__main__':
    import run as _run
    sys.exit(_run.main(['--only', 'DASK', '--out', os.path.join(HERE, 'DASK_RESULTS.md')] + sys.argv[1:]))
