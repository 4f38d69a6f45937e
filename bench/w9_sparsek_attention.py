"""W9: SparseK attention, forward + backward, against hand-written dense causal
attention in NumPy, as the sequence grows: time, peak memory, log-log slope.

float32, batch 1, 4 heads, d = 64, budget 64 (candidates 128, chunk 64, window 0),
one thread.  pyad: ``pyad.vjp`` of ``nn.sparsek_attention`` and its pullback of a
random cotangent (gradients for q, k, v and the scores).  Dense: the n×n logits,
softmax, output and the backward by hand (dQ, dK, dV), in place where NumPy allows
(two n×n float32 arrays at the peak).  Score patterns: ``normal`` (std 1),
``flat`` (std 1e-3: a freshly initialised scorer) and ``separated`` (std 100: the
hard top-k regime).  Peak memory: tracemalloc's peak over one call (NumPy reports its
buffers to tracemalloc), the inputs excluded.

Run alone:  python3 bench/w9_sparsek_attention.py [--lengths 512 1024 ...] [--dense-max 8192]
or as part of bench/run.py (--only W9)."""
import os
import sys

if __name__ == '__main__':
    for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS',
                 'BLIS_NUM_THREADS', 'VECLIB_MAXIMUM_THREADS', 'NUMEXPR_NUM_THREADS'):
        os.environ[_var] = '1'
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import math            # noqa: E402
import time            # noqa: E402
import tracemalloc     # noqa: E402

import numpy as onp    # noqa: E402

import pyad            # noqa: E402
from pyad import nn    # noqa: E402

H, D, BUDGET = 4, 64, 64
PATTERNS = {'normal': 1.0, 'flat': 1e-3, 'separated': 100.0}
LENGTHS = [512, 1024, 2048, 4096, 8192, 16384]
QUICK_LENGTHS = [512, 1024, 2048]


def dense_forward_backward(q, k, v, g):
    """Causal softmax attention and its backward, by hand: (out, dq, dk, dv)."""
    n = q.shape[-2]
    scale = q.dtype.type(1 / math.sqrt(q.shape[-1]))
    P = q @ k.swapaxes(-1, -2)
    P *= scale
    P[..., onp.triu(onp.ones((n, n), bool), 1)] = -onp.inf
    P -= P.max(-1, keepdims=True)
    onp.exp(P, out=P)
    P /= P.sum(-1, keepdims=True)
    out = P @ v
    dv = P.swapaxes(-1, -2) @ g
    dS = g @ v.swapaxes(-1, -2)
    dS -= onp.einsum('...ij,...ij->...i', dS, P)[..., None]
    dS *= P
    del P
    dq = (dS @ k) * scale
    dk = (dS.swapaxes(-1, -2) @ q) * scale
    return out, dq, dk, dv


def sparse_forward_backward(q, k, v, u, g):
    out, pullback = pyad.vjp(lambda a: nn.sparsek_attention(*a, BUDGET), (q, k, v, u))
    return (out,) + tuple(pullback(g))


def inputs(n, scale, seed=0):
    r = onp.random.default_rng(seed)
    q, k, v, g = (r.standard_normal((1, H, n, D)).astype(onp.float32) for _ in range(4))
    u = (r.standard_normal((1, H, n)) * scale).astype(onp.float32)
    return q, k, v, u, g


def best_time(fn, repeats):
    best = float('inf')
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def peak_bytes(fn):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def slope(ns, ts):
    x, y = onp.log(onp.asarray(ns, float)), onp.log(onp.asarray(ts, float))
    return float(onp.polyfit(x, y, 1)[0])


def measure(lengths, dense_max, log=print, repeats=3):
    rows = []
    for n in lengths:
        rep = repeats if n <= 4096 else 1            # the dense baseline takes 20+ s from 8192
        row = {'n': n}
        q, k, v, u, g = inputs(n, 1.0)
        if n <= dense_max:
            ref = dense_forward_backward(q, k, v, g)
            sp = sparse_forward_backward(q, k, v, u, g)
            if n <= 2048:       # a check that the two compute the same thing where they must:
                full = nn.sparsek_attention(q, k, v, u, n)    # budget n is dense attention
                assert onp.allclose(full, ref[0], atol=2e-4), 'sparsek with budget n != dense'
            row['dense_s'] = best_time(lambda: dense_forward_backward(q, k, v, g), rep)
            row['dense_mb'] = peak_bytes(lambda: dense_forward_backward(q, k, v, g)) / 2 ** 20
        for name, sc in PATTERNS.items():
            q, k, v, u, g = inputs(n, sc)
            sparse_forward_backward(q, k, v, u, g)                       # warm-up
            row[name + '_s'] = best_time(lambda: sparse_forward_backward(q, k, v, u, g), repeats)
            if name == 'normal':
                row['sparse_mb'] = peak_bytes(lambda: sparse_forward_backward(q, k, v, u, g)) / 2 ** 20
        rows.append(row)
        log('  ' + ', '.join(f'{a}={b:.3f}' if isinstance(b, float) else f'{a}={b}' for a, b in row.items()))
    return rows


def render(rows):
    head = ('| n | dense s | sparse normal s | flat s | separated s | normal / dense | '
            'dense peak MiB | sparse peak MiB |\n|---|---|---|---|---|---|---|---|')
    lines = [head]
    for r in rows:
        d = r.get('dense_s')
        lines.append(f"| {r['n']} | {d:.3f} | " if d else f"| {r['n']} | not run | ")
        lines[-1] += (f"{r['normal_s']:.3f} | {r['flat_s']:.3f} | {r['separated_s']:.3f} | "
                      + (f"{r['normal_s'] / d:.2f}× | {r['dense_mb']:.0f} | " if d else '– | – | ')
                      + f"{r['sparse_mb']:.0f} |")
    ns = [r['n'] for r in rows]
    slopes = {p: slope(ns, [r[p + '_s'] for r in rows]) for p in PATTERNS} if len(ns) > 1 else {}
    text = '\n'.join(lines)
    if slopes:
        text += '\n\nlog-log slope of the sparse time over n: ' + ', '.join(
            f'{p} {s:.2f}' for p, s in slopes.items())
    return text, slopes


def targets(rows, slopes):
    """(label, measured, passed) for the targets of bench/README.md."""
    by = {r['n']: r for r in rows}
    out = []
    for n, label, bound in [(2048, 'fwd+bwd ≤ 1× dense at n = 2048', 1.0),
                            (8192, 'fwd+bwd ≤ 0.3× dense at n = 8192', 0.3)]:
        r = by.get(n)
        if r and r.get('dense_s'):
            ratio = max(r[p + '_s'] for p in PATTERNS) / r['dense_s']
            out.append((label + ' (worst pattern)', f'{ratio:.2f}×', ratio <= bound))
        else:
            out.append((label, 'not measured', None))
    mem = [(r['n'], r['sparse_mb'] / r['dense_mb']) for r in rows if r['n'] >= 1024 and r.get('dense_mb')]
    if mem:
        out.append(('peak memory < dense from n = 1024', ', '.join(f'{n}: {m:.2f}×' for n, m in mem),
                    all(m < 1 for _, m in mem)))
    if slopes:
        out.append(('log-log slope ≤ 1.2 (normal, flat, separated)',
                    ', '.join(f'{s:.2f}' for s in slopes.values()), all(s <= 1.2 for s in slopes.values())))
    return out


def run(ctx):
    lengths = QUICK_LENGTHS if ctx.settings.quick else LENGTHS
    rows = measure(lengths, dense_max=8192, log=ctx.log)
    text, slopes = render(rows)
    ctx.report.section('W9', 'W9: SparseK attention vs dense attention', __doc__.split('\n\n')[0]
                       + '\n\n' + text)
    for label, measured, passed in targets(rows, slopes):
        ctx.report.target('W9', label, measured, passed)


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--lengths', type=int, nargs='+', default=LENGTHS)
    ap.add_argument('--dense-max', type=int, default=8192,
                    help='largest n for the dense baseline (n = 16384 needs ~9 GiB)')
    ap.add_argument('--out', default='', help='also write the table and targets to this Markdown file')
    args = ap.parse_args(argv)
    t0 = time.time()
    load = os.getloadavg() if hasattr(os, 'getloadavg') else None
    rows = measure(args.lengths, args.dense_max)
    text, slopes = render(rows)
    lines = [f'{"PASS" if passed else ("FAIL" if passed is False else "----")}  {label}: {measured}'
             for label, measured, passed in targets(rows, slopes)]
    print(text + '\n\n' + '\n'.join(lines))
    if args.out:
        import platform
        with open(args.out, 'w') as fh:
            fh.write(f'# W9: SparseK attention vs dense causal attention\n\n{__doc__.split(chr(10) * 2)[1]}\n\n'
                     f'Command: `python3 bench/w9_sparsek_attention.py {" ".join(argv or sys.argv[1:])}`; '
                     f'{platform.processor() or platform.machine()}, NumPy {onp.__version__}, '
                     f'{time.time() - t0:.0f} s, load average before {load}. Times are the best of '
                     f'3 calls (dense: 1 call from n = 8192), wall clock, on a shared machine.\n\n'
                     + text + '\n\n```\n' + '\n'.join(lines) + '\n```\n')


if __name__ == '__main__':
    main()
