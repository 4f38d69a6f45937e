"""The derivative of x[idx] on Dask against the value and against pyad on NumPy:
sorted, random and few random row indices into 1,000,000 x 4 float64 in 100 row
chunks, Dask's threaded scheduler with 2 workers.  About a minute:
python3 bench/dask_indexing.py"""
import time

import numpy as np
import dask
import dask.array as da

import pyad
import pyad.numpy as pnp

rng = np.random.default_rng(0)
n = 1_000_000
xn = rng.standard_normal((n, 4))
x = da.from_array(xn, chunks=(10_000, 4))
for label, idx in [('sorted', np.sort(rng.integers(0, n, n))), ('random', rng.integers(0, n, n)),
                   ('1000 random', rng.integers(0, n, 1000))]:
    f = lambda x: pnp.sum(x[idx] ** 2)      # noqa: E731
    with dask.config.set(scheduler='threads', num_workers=2):
        t = time.perf_counter(); fwd = f(x).compute(); tf = time.perf_counter() - t
        t = time.perf_counter(); g = pyad.grad(f)(x); gc = g.compute(); tg = time.perf_counter() - t
    t = time.perf_counter(); gn = pyad.grad(f)(xn); tn = time.perf_counter() - t
    print(f'{label:>12} indices: Dask value {tf:.2f} s, Dask grad (build+compute) {tg:.2f} s, '
          f'NumPy grad {tn:.2f} s, equal: {np.array_equal(gc, gn)}')
