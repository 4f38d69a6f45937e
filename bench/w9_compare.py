"""W9 side by side: SparseK attention forward + backward (the three score patterns of
bench/w9_sparsek_attention.py) for the pyad tree at PATH, or the dense baseline, at one n:
wall and CPU time (best of 3; dense: 1 call from n = 8192) and tracemalloc peak.

To compare two versions, export the older one and run both in turn:
    git archive <commit> pyad | tar -x -C /tmp/old
    python3 bench/w9_compare.py /tmp/old old 2048; python3 bench/w9_compare.py . new 2048
    python3 bench/w9_compare.py . dense 2048"""
import os
import sys

for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ[_var] = '1'
sys.path.insert(0, os.path.abspath(sys.argv[1]))
sys.path.insert(1, os.path.dirname(os.path.abspath(__file__)))

import time                          # noqa: E402

import pyad                          # noqa: E402
import w9_sparsek_attention as w9    # noqa: E402


def best(fn, repeats):
    wall = cpu = float('inf')
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return wall, cpu


def main(path, label, n):
    assert pyad.__file__.startswith(os.path.abspath(path)), pyad.__file__
    if label == 'dense':
        q, k, v, u, g = w9.inputs(n, 1.0)
        fn = lambda: w9.dense_forward_backward(q, k, v, g)           # noqa: E731
        runs = [('normal', fn, 3 if n <= 4096 else 1)]
    else:
        runs = []
        for name, sc in w9.PATTERNS.items():
            q, k, v, u, g = w9.inputs(n, sc)
            fn = (lambda q, k, v, u, g: lambda: w9.sparse_forward_backward(q, k, v, u, g))(q, k, v, u, g)
            fn()                                                     # warm-up
            runs.append((name, fn, 3))
    for name, fn, repeats in runs:
        wall, cpu = best(fn, repeats)
        print(f'{label} n={n} {name}: wall {wall:.3f} s, cpu {cpu:.3f} s, '
              f'peak {w9.peak_bytes(fn) / 2 ** 20:.0f} MiB', flush=True)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
