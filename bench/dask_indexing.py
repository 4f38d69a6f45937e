"""The derivative of x[idx] on Dask against the value and against pyad on NumPy:
sorted, random and few random row indices into 1,000,000 x 4 float64 in 100 row
chunks, Dask's threaded scheduler with 2 workers; x[x > 0.5] with its lazy mask; and
x[rows, cols] with 100,000 (row, col) pairs in Dask arrays.  About two minutes:
python3 bench/dask_indexing.py (with the argument mask: the last two only)"""
import sys
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
cases = [] if sys.argv[1:] == ['mask'] else [
    ('sorted', np.sort(rng.integers(0, n, n))), ('random', rng.integers(0, n, n)),
    ('1000 random', rng.integers(0, n, 1000))]
for label, idx in cases:
    f = lambda x: pnp.sum(x[idx] ** 2)      # noqa: E731
    with dask.config.set(scheduler='threads', num_workers=2):
        t = time.perf_counter(); fwd = f(x).compute(); tf = time.perf_counter() - t
        t = time.perf_counter(); g = pyad.grad(f)(x); gc = g.compute(); tg = time.perf_counter() - t
    t = time.perf_counter(); gn = pyad.grad(f)(xn); tn = time.perf_counter() - t
    print(f'{label:>12} indices: Dask value {tf:.2f} s, Dask grad (build+compute) {tg:.2f} s, '
          f'NumPy grad {tn:.2f} s, equal: {np.array_equal(gc, gn)}')

# A lazy (Dask) mask: x[x > 0] has chunks of sizes unknown until computed; its
# derivative is written block by block into x's chunks.
f = lambda x: pnp.sum(x[x > 0.5] ** 2) + pnp.mean(x[x < -0.5])      # noqa: E731
with dask.config.set(scheduler='threads', num_workers=2):
    t = time.perf_counter(); fwd = f(x).compute(); tf = time.perf_counter() - t
    t = time.perf_counter(); g = pyad.grad(f)(x); tb = time.perf_counter() - t
    t = time.perf_counter(); gc = g.compute(); tg = time.perf_counter() - t
t = time.perf_counter(); gn = pyad.grad(f)(xn); tn = time.perf_counter() - t
print(f'{"lazy mask":>12}: Dask value {tf:.2f} s, Dask grad build {tb:.3f} s + compute {tg:.2f} s, '
      f'NumPy grad {tn:.2f} s, equal: {np.allclose(gc, gn, rtol=1e-12, atol=0)}')

# Two Dask index arrays: one lazy flat index into both axes (Dask's getitem takes one)
r, c = rng.integers(0, n, 100_000), rng.integers(0, 4, 100_000)
rd, cd = da.from_array(r, chunks=10_000), da.from_array(c, chunks=10_000)
f = lambda x: pnp.sum(x[rd, cd] ** 2)      # noqa: E731
with dask.config.set(scheduler='threads', num_workers=2):
    t = time.perf_counter(); fwd = pyad.value_and_grad(f)(x)[0].compute(); tf = time.perf_counter() - t
    t = time.perf_counter(); g = pyad.grad(f)(x); tb = time.perf_counter() - t
    t = time.perf_counter(); gc = g.compute(); tg = time.perf_counter() - t
    t = time.perf_counter(); gh = pyad.grad(lambda x: pnp.sum(x[r, c] ** 2))(x).compute()
    th = time.perf_counter() - t
t = time.perf_counter(); gn = pyad.grad(lambda x: pnp.sum(x[r, c] ** 2))(xn); tn = time.perf_counter() - t
print(f'{"Dask pairs":>12}: Dask value {tf:.2f} s, Dask grad build {tb:.2f} s + compute {tg:.2f} s, '
      f'with NumPy indices {th:.2f} s, NumPy grad {tn:.2f} s, equal: {np.allclose(gc, gn, rtol=1e-12, atol=0)}')
