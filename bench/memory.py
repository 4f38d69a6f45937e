"""Memory: (a) repeated ``pyad.grad`` calls leave nothing behind (tracemalloc
snapshots after a warm-up, before and after 10^4 calls); (b) the peak memory of
differentiating a 10^6-operation scalar chain, as a multiple of the memory of
the chain's values (the same chain on Python floats, every value kept in a list).
"""
import gc
import math
import time
import tracemalloc

import numpy as onp

import pyad
import pyad.numpy as pnp

CHAIN_STEPS_FULL = 500_000      # 2 ops per step: 10^6 operations
CHAIN_STEPS_QUICK = 50_000
WARMUP = 1000


def fmt_bytes(n):
    for unit, size in (('GiB', 2 ** 30), ('MiB', 2 ** 20), ('KiB', 2 ** 10)):
        if abs(n) >= size:
            return f'{n / size:.2f} {unit}'
    return f'{n:.0f} B'


def _diff(after, before):
    filt = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__)]
    stats = after.filter_traces(filt).compare_to(before.filter_traces(filt), 'lineno')
    return sum(st.size_diff for st in stats), sum(st.count_diff for st in stats), stats


def _growth(fn, calls):
    """Snapshots before, after the first tenth of the calls, and after all: a leak
    grows with the number of calls; a cache (NumPy's, pyad's) fills once."""
    early = max(1, calls // 10)
    gc.collect()
    tracemalloc.start()
    try:
        s0 = tracemalloc.take_snapshot()
        for _ in range(early):
            fn()
        gc.collect()
        s1 = tracemalloc.take_snapshot()
        for _ in range(calls - early):
            fn()
        gc.collect()
        s2 = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    g_early, _, _ = _diff(s1, s0)
    total, blocks, stats = _diff(s2, s0)
    late, _, late_stats = _diff(s2, s1)
    rate = (total - g_early) / (calls - early)
    top = [st for st in late_stats if st.size_diff > 0][:3]
    return dict(early=g_early, early_calls=early, total=total, blocks=blocks, rate=rate, top=top)


def chain(x, steps, sin):
    y = x
    for _ in range(steps):
        y = sin(y) + x
    return y


def chain_values(x, steps):
    values = [x]
    y = x
    for _ in range(steps):
        s = math.sin(y)
        y = s + x
        values.append(s)
        values.append(y)
    return values


def chain_derivative(x, steps):
    y, dy = x, 1.0
    for _ in range(steps):
        y, dy = math.sin(y) + x, math.cos(y) * dy + 1.0
    return dy


def _peak(fn):
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return peak, out


def run(ctx):
    report, settings, log = ctx.report, ctx.settings, ctx.log
    quick = settings.quick
    calls = 2_000 if quick else 10_000
    rng = onp.random.default_rng(9)
    x10 = rng.uniform(-1, 1, 10)
    f = lambda x: pnp.sum(pnp.sin(x) * pnp.exp(x)) + 0.5 * pnp.sum(x * x)   # noqa: E731
    scalar = lambda t: pnp.sin(t) * pnp.exp(t) + t * t                       # noqa: E731
    cases = [('pyad.grad(f)(x), f: R¹⁰ → R', lambda: pyad.grad(f)(x10)),
             ('pyad.grad(g)(t), g: R → R on a Python float', lambda: pyad.grad(scalar)(0.3)),
             ('pyad.hessian(f)(x)', lambda: pyad.hessian(f)(x10))]
    lines = ['| repeated call | calls | growth after the first tenth | growth after all | '
             'growth rate (last 9/10) | top sites of late growth (if any) | result |',
             '|---|---|---|---|---|---|---|']
    all_ok = True
    worst = 0
    for name, fn in cases:
        for _ in range(WARMUP):           # warm-up: caches (NumPy's small-array caches fill slowly)
            fn()
        m = _growth(fn, calls)
        ok = m['rate'] < 1.0          # bytes per call: a leak of one float per 24 calls fails
        all_ok &= ok
        worst = max(worst, m['rate'])
        sites = '; '.join(f'{st.traceback[0].filename.split("/")[-1]}:{st.traceback[0].lineno} '
                          f'+{fmt_bytes(st.size_diff)}' for st in m['top']) if not ok else ''
        lines.append(f'| {name} | {calls} | {fmt_bytes(m["early"])} ({m["early_calls"]} calls) | '
                     f'{fmt_bytes(m["total"])} ({m["blocks"]:+d} blocks) | {m["rate"]:.2f} B/call | '
                     f'{sites} | {"ok" if ok else "GROWS"} |')
        log(f'  memory growth {name}: {fmt_bytes(m["total"])} over {calls} calls, '
            f'{m["rate"]:.2f} B/call after the first tenth')
    report.target('MEMORY', f'{calls} repeated grad calls leave no growth',
                  f'{worst:.2f} B/call (worst of {len(cases)} cases; pass < 1 B/call)', all_ok)

    steps = CHAIN_STEPS_QUICK if quick else CHAIN_STEPS_FULL
    ops = 2 * steps
    x0 = 0.5
    g = pyad.grad(lambda x: chain(x, steps, pnp.sin))
    t0 = time.perf_counter()
    got = g(x0)
    untraced_time = time.perf_counter() - t0
    want = chain_derivative(x0, steps)
    if not math.isclose(float(got), want, rel_tol=1e-9):
        raise AssertionError(f'chain derivative {got} != {want}')
    peak_grad, _ = _peak(lambda: g(x0))
    peak_values, vals = _peak(lambda: chain_values(x0, steps))
    n_values = len(vals)
    del vals
    ratio = peak_grad / peak_values
    raw = peak_grad / (8 * n_values)
    lines2 = ['| quantity | value |', '|---|---|',
              f'| operations (sin, + per step) | {ops:,} |',
              f'| time of pyad.grad (without tracemalloc) | {untraced_time:.2f} s '
              f'({untraced_time / ops * 1e6:.2f} µs/op) |',
              f'| peak memory of pyad.grad (tracemalloc) | {fmt_bytes(peak_grad)} '
              f'({peak_grad / ops:.0f} B/op) |',
              f'| memory of the values: the same chain on Python floats, every value kept in a list '
              f'(tracemalloc peak) | {fmt_bytes(peak_values)} ({peak_values / n_values:.0f} B/value) |',
              f'| **ratio: differentiation / values** | **{ratio:.2f}×** |',
              f'| ratio to the values as raw float64 (8 B each) | {raw:.1f}× |']
    log(f'  chain of {ops} ops: peak {fmt_bytes(peak_grad)}, values {fmt_bytes(peak_values)}, ratio {ratio:.2f}')
    report.target('MEMORY', f'a {ops:,}-operation chain differentiates within 2× the memory of its values',
                  f'{ratio:.2f}× ({fmt_bytes(peak_grad)} vs {fmt_bytes(peak_values)})', ratio <= 2.0)
    report.section('MEMORY', 'Memory',
                   f'(a) tracemalloc snapshots (after gc.collect()) following {WARMUP} warm-up calls: '
                   f'before, after the first tenth of {calls} calls and after all of them. A cache '
                   f'(NumPy\'s or pyad\'s) fills once, a leak grows with the calls: the growth rate '
                   f'over the last nine tenths must stay under 1 byte per call.\n\n' + '\n'.join(lines) +
                   f'\n\n(b) `pyad.grad` of the scalar chain y ← sin(y) + x repeated {steps:,} times '
                   f'on a Python float x (checked against the hand-written derivative).'
                   f'{" (--quick: a tenth of the full chain.)" if quick else ""}\n\n' + '\n'.join(lines2))
