"""Peak memory of reverse mode through a long loop, with and without
``pyad.checkpoint``.

The loop: n steps of h <- h + 0.01 tanh(a * h) on a state of d float64 values,
then the loss sum(h^2); ``pyad.grad`` with respect to (h0, a).  Without
checkpointing the tape keeps every step's values (O(n) states); with the loop cut
into segments of k steps, each segment checkpointed, the tape keeps one state per
segment and the sweep recomputes one segment at a time: about n/k + k states
(k = √n: 2√n).  Peak memory is measured with tracemalloc (NumPy reports its
arrays to it), in MiB and in states (d float64 values each).

Nested: ``pyad.grad`` in a of sum(g_a ** 2), g_a = ``pyad.grad`` of the loss in
a: reverse over reverse, where the outer tape records the whole inner forward
pass and inner sweep unless the checkpointed segments are checkpointed at the
outer level too.  "hessianv" rows: ``pyad.hessianv`` of the loss in h, reverse over
forward (the forward level's tangents pushed through each segment, checkpointed on
the reverse level under it).

    python bench/checkpoint_memory.py            # n = 10^4, d = 1000 (~2 min)
    python bench/checkpoint_memory.py --quick    # n = 2500 (nested: 250)
"""
import argparse
import gc
import math
import time
import tracemalloc

import numpy as onp

import pyad
import pyad.numpy as pnp


def step(h, a):
    return h + 0.01 * pnp.tanh(a * h)


def run_steps(h, a, steps):
    for _ in range(steps):
        h = step(h, a)
    return h


def loss_fn(n, k):
    """The loss over n steps, the loop cut into checkpointed segments of k steps
    (k = None: no checkpointing)."""
    if k is None:
        return lambda h, a: pnp.sum(run_steps(h, a, n) ** 2)
    segment = pyad.checkpoint(run_steps)

    def loss(h, a):
        done = 0
        while done < n:
            h = segment(h, a, min(k, n - done))
            done += k
        return pnp.sum(h ** 2)
    return loss


def nested_fn(n, k, h0):
    """a -> the gradient in a of sum(grad of the loss in a, squared)."""
    inner = pyad.grad(loss_fn(n, k), argnums=1)
    outer = pyad.grad(lambda a: pnp.sum(inner(h0, a) ** 2))
    return lambda h, a: (outer(a),)


def hessianv_fn(n, k, v):
    """h -> the Hessian of the loss in h times v: reverse over forward."""
    return lambda h, a: (pyad.hessianv(lambda h: loss_fn(n, k)(h, a))(h, v),)


def measure(n, d, k, nested=False):
    rng = onp.random.default_rng(0)
    h0, a = rng.standard_normal(d), rng.standard_normal(d)
    if nested == 'hessianv':
        g = hessianv_fn(n, k, rng.standard_normal(d))
    elif nested:
        g = nested_fn(n, k, h0)
    else:
        g = pyad.grad(loss_fn(n, k), argnums=(0, 1))
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    result = g(h0, a)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, peak, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--d', type=int, default=1000)
    args = parser.parse_args()
    sizes = [2500] if args.quick else [2500, 10_000]
    state = args.d * 8
    print(f'state: d = {args.d} float64 = {state / 1024:.1f} KiB')
    print('| n | checkpoint every | peak (MiB) | peak (states) | time (s) | '
          'gradient vs plain (max rel. diff.) |')
    print('|---:|---:|---:|---:|---:|---:|')
    rows = ([(n, False) for n in sizes] + [(n // 10, True) for n in sizes]
            + [(n // 10, 'hessianv') for n in sizes])
    for n, nested in rows:
        label = f'{n} {"hessianv" if nested == "hessianv" else "nested"}' if nested else f'{n}'
        plain, peak, seconds = measure(n, args.d, None, nested)
        print(f'| {label} | none | {peak / 2**20:.1f} | {peak / state:.0f} | {seconds:.2f} | - |',
              flush=True)
        for k in sorted({int(math.isqrt(n)), n // 10}):
            got, peak, seconds = measure(n, args.d, k, nested)
            err = max(float(onp.max(onp.abs(x - y)) / onp.max(onp.abs(y)))
                      for x, y in zip(got, plain))
            print(f'| {label} | {k} | {peak / 2**20:.1f} | {peak / state:.0f} | {seconds:.2f} | '
                  f'{err:.1e} |', flush=True)


if __name__ == '__main__':
    main()
