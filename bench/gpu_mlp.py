"""GPU benchmark: the MLP value-and-gradient of W1 on CuPy, pyad against hand-written
CuPy backprop (the ratio), at W1's size (784-512-512-10, batch 256: small for a GPU,
so per-call overhead shows) and at a size that fills one (wide layers, a large
batch), float32 and float64; pyad + NumPy on the CPU beside it.

    python3 bench/gpu_mlp.py [--width 4096] [--batch 8192] [--rounds 20] [--no-cpu]

Needs CuPy and a GPU; says so and exits 0 where either is missing (CI has neither).
Every pyad gradient is checked against the hand-written backprop before timing.
"""
import argparse
import os
import sys
import time

os.environ.setdefault('OMP_NUM_THREADS', str(os.cpu_count() or 1))

import numpy as onp                                          # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import pyad                                                  # noqa: E402
import pyad.numpy as pnp                                     # noqa: E402
from w1_mlp import numpy_value_and_grad                      # noqa: E402


def loss(params, X, Y):
    W1, b1, W2, b2, W3, b3 = params
    h1 = pnp.tanh(X @ W1 + b1)
    h2 = pnp.tanh(h1 @ W2 + b2)
    z = h2 @ W3 + b3
    return pnp.mean(pnp.logsumexp(z, axis=1) - pnp.sum(Y * z, axis=1))


def make(xp, sizes, batch, dtype, seed=0):
    rng = onp.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append(xp.asarray((rng.standard_normal((fan_in, fan_out)) / onp.sqrt(fan_in)).astype(dtype)))
        params.append(xp.asarray((0.1 * rng.standard_normal(fan_out)).astype(dtype)))
    X = xp.asarray(rng.standard_normal((batch, sizes[0])).astype(dtype))
    Y = xp.asarray(onp.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], batch)])
    return tuple(params), X, Y


def timed(fn, sync, rounds):
    fn()
    sync()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--width', type=int, default=4096)
    ap.add_argument('--batch', type=int, default=8192)
    ap.add_argument('--rounds', type=int, default=20)
    ap.add_argument('--no-cpu', action='store_true', help='skip the pyad + NumPy (CPU) column')
    args = ap.parse_args()
    try:
        import cupy
        cupy.cuda.runtime.getDeviceCount()
    except Exception as e:          # no CuPy, or no device: nothing to measure here
        print(f'gpu_mlp: skipped, no usable CuPy/GPU ({type(e).__name__}: {e})')
        return 0
    name = cupy.cuda.runtime.getDeviceProperties(0)['name']
    name = name.decode() if isinstance(name, bytes) else name
    print(f'device: {name}; CuPy {cupy.__version__}; medians of {args.rounds} calls after a warm-up')
    print('| MLP, batch | dtype | hand-written CuPy | pyad + CuPy | ratio | pyad + NumPy (CPU) | GPU speed-up |')
    print('|---|---|---|---|---|---|---|')
    vg = pyad.value_and_grad(loss)
    sync = cupy.cuda.Device().synchronize
    configs = [((784, 512, 512, 10), 256), ((1024, args.width, args.width, 1024), args.batch)]
    for sizes, batch in configs:
        for dtype in (onp.float32, onp.float64):
            gpu = make(cupy, sizes, batch, dtype)
            v_hand, g_hand = numpy_value_and_grad(*gpu, xp=cupy)
            v_gpu, g_gpu = vg(*gpu)
            assert all(type(g).__module__.startswith('cupy') and g.dtype == dtype for g in g_gpu)
            tol = 2e-3 if dtype == onp.float32 else 1e-9
            for a, b in zip(g_hand, g_gpu):
                onp.testing.assert_allclose(cupy.asnumpy(a), cupy.asnumpy(b), rtol=tol, atol=tol)
            t_hand = timed(lambda: numpy_value_and_grad(*gpu, xp=cupy), sync, args.rounds)
            t_gpu = timed(lambda: vg(*gpu), sync, args.rounds)
            cpu_cells = ['—', '—']
            if not args.no_cpu:
                cpu = make(onp, sizes, batch, dtype)
                v_cpu, g_cpu = vg(*cpu)
                for a, b in zip(g_cpu, g_gpu):
                    onp.testing.assert_allclose(a, cupy.asnumpy(b), rtol=tol, atol=tol)
                t_cpu = timed(lambda: vg(*cpu), lambda: None, max(1, min(args.rounds, 3)))
                cpu_cells = [f'{t_cpu * 1e3:.1f} ms', f'{t_cpu / t_gpu:.0f}x']
            print(f'| {"-".join(map(str, sizes))}, {batch} | {onp.dtype(dtype).name} | '
                  f'{t_hand * 1e3:.2f} ms | {t_gpu * 1e3:.2f} ms | {t_gpu / t_hand:.2f}x | '
                  + ' | '.join(cpu_cells) + ' |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
