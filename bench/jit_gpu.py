"""pyad.jit on a GPU: the small JIT workloads of bench/jit_small.py -- logistic
regression value and gradient, a Newton step, a hypergradient through SGD, an HMC
leapfrog trajectory -- on CuPy arrays: eager pyad, jitted pyad and hand-written
CuPy (jit_small.py's hand-written functions, on CuPy's namespace).

    python3 bench/jit_gpu.py [--rounds 50] [--device cupy|strict]

Prints a Markdown table of median times per call (after a warm-up call, which
for the jitted rows traces) and their ratios.  Every pyad result is checked
against the hand-written one before timing.  Needs CuPy and a GPU; where either
is missing it says so in one line and exits 0.  ``--device strict`` runs the same
code on the test suite's strict CPU stand-in for a device library (a smoke test:
its times mean nothing).
"""
import argparse
import os
import statistics
import sys
import time

import numpy as onp

_HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (os.path.dirname(_HERE), _HERE):          # pyad and tests/; jit_small
    if _path not in sys.path:
        sys.path.insert(0, _path)
import pyad                                                  # noqa: E402
import pyad.numpy as pnp                                     # noqa: E402
from pyad import backend                                     # noqa: E402
import jit_small as S                                        # noqa: E402


def logistic(xp):
    w, X, y, lam = S.logistic_problem()
    w, X, y = xp.asarray(w), xp.asarray(X), xp.asarray(y)
    vg = pyad.value_and_grad(lambda w: S.logistic_loss(w, X, y, lam, pnp))
    return vg, pyad.jit(vg), lambda w: S.logistic_hand(w, X, y, lam, xp), (w,)


def newton(xp):
    w, X, y, lam = S.newton_problem()
    w, X, y = xp.asarray(w), xp.asarray(X), xp.asarray(y)
    step = S.newton_pyad(X, y, lam)
    return step, pyad.jit(step), lambda w: S.newton_hand(w, X, y, lam, xp), (w,)


def hypergradient(xp):
    log_lam, *data = S.hypergradient_problem()
    A, b, Av, bv = [xp.asarray(a) for a in data]
    hg = pyad.grad(lambda t: S.sgd_validation_loss(t, A, b, Av, bv, pnp))
    return hg, pyad.jit(hg), lambda t: S.hypergradient_hand(t, A, b, Av, bv, xp), (log_lam,)


def hmc(xp):
    q0, p0, P = [xp.asarray(a) for a in S.hmc_problem()]
    grad_u = pyad.grad(lambda q: S.neg_log_density(q, P, pnp))
    traj = lambda q, p: S.leapfrog(q, p, grad_u)                      # noqa: E731
    hand = lambda q, p: S.leapfrog(q, p, lambda q: S.neg_log_density_grad(q, P))  # noqa: E731
    return traj, pyad.jit(traj), hand, (q0, p0)


WORKLOADS = [
    ('(a) logistic regression value and gradient, 100 × 10', logistic),
    ('(b) Newton step, d = 50 (200 samples)', newton),
    ('(c) hypergradient through 30 SGD steps, d = 20', hypergradient),
    ('(d) HMC leapfrog trajectory, 20 steps, 10-d', hmc),
]


def _check(name, xp, got, expected):
    got, expected = pyad.tree_leaves(got), pyad.tree_leaves(expected)
    for g, e in zip(got, expected):
        if hasattr(g, 'shape') and backend.namespace(g) is not xp:
            raise AssertionError(f'{name}: a {type(g).__name__} result, not an array of {xp.__name__}')
        onp.testing.assert_allclose(backend.to_numpy(g), backend.to_numpy(e), rtol=1e-9,
                                    atol=1e-12, err_msg=name)


def _median(fn, args, sync, rounds):
    fn(*args)
    sync()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn(*args)
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run(xp, sync, rounds):
    """[(workload, eager s, jitted s, hand-written s)], each pyad result checked
    against the hand-written one (on xp's arrays) first."""
    rows = []
    for name, make in WORKLOADS:
        eager, jitted, hand, args = make(xp)
        expected = hand(*args)
        _check(f'{name}, eager', xp, eager(*args), expected)
        _check(f'{name}, jitted', xp, jitted(*args), expected)
        _check(f'{name}, jitted again', xp, jitted(*args), expected)
        rows.append((name,) + tuple(_median(fn, args, sync, rounds) for fn in (eager, jitted, hand)))
    return rows


def table(rows, library):
    us = lambda s: f'{s * 1e6:,.0f} µs'                  # noqa: E731
    out = [f'| workload | pyad eager | pyad jit | hand-written {library} | eager / hand | '
           f'jit / hand | jit / eager |', '|---|---|---|---|---|---|---|']
    for name, e, j, h in rows:
        out.append(f'| {name} | {us(e)} | {us(j)} | {us(h)} | {e / h:.2f} | {j / h:.2f} | '
                   f'{j / e:.2f} |')
    return '\n'.join(out)


def _cupy():
    """(cupy, None) where CuPy can use a GPU, else (None, why not)."""
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None, 'no CUDA device'
        cupy.zeros(1).sum().get()
    except Exception as e:          # not installed, no driver, no device
        return None, f'{type(e).__name__}: {e}'
    return cupy, None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--rounds', type=int, default=50)
    ap.add_argument('--device', choices=('cupy', 'strict'), default='cupy')
    args = ap.parse_args(argv)
    if args.device == 'strict':
        from tests.devices import STRICT
        print(table(run(STRICT.xp, lambda: None, args.rounds), 'strict stand-in'))
        return 0
    cupy, why = _cupy()
    if cupy is None:
        print(f'jit_gpu: needs CuPy and a GPU, skipped ({why})')
        return 0
    name = cupy.cuda.runtime.getDeviceProperties(0)['name']
    name = name.decode() if isinstance(name, bytes) else name
    print(f'device: {name}; CuPy {cupy.__version__}; medians of {args.rounds} calls after a '
          f'warm-up (the jitted rows trace there), float64\n')
    print(table(run(cupy, cupy.cuda.Device().synchronize, args.rounds), 'CuPy'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
