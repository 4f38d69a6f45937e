"""W6: sparsemax forward, and forward + backward (vector-Jacobian product), on a
1024×4096 float32 batch (rows along the last axis).

Baseline: hand-written NumPy sparsemax (sort, cumsum, threshold) and its
backward on the support S: dz = s ⊙ (g − Σ_S g / |S|)."""
import numpy as onp

import pyad
from common import pyad_lookup
from harness import Impl, measure, table, NOT_INSTALLED

ROWS, COLS = 1024, 4096


def np_sparsemax(z):
    m = z.shape[-1]
    srt = -onp.sort(-z, axis=-1)
    cs = onp.cumsum(srt, axis=-1)
    ranks = onp.arange(1, m + 1, dtype=z.dtype)
    K = onp.sum(1 + ranks * srt > cs, axis=-1, keepdims=True)
    tau = (onp.take_along_axis(cs, K - 1, axis=-1) - 1) / K.astype(z.dtype)
    return onp.maximum(z - tau, 0)


def np_sparsemax_vjp(p, g):
    s = p > 0
    mean = onp.sum(onp.where(s, g, 0), axis=-1, keepdims=True) / onp.sum(s, axis=-1, keepdims=True).astype(g.dtype)
    return onp.where(s, g - mean, 0)


def np_forward_backward(z, g):
    p = np_sparsemax(z)
    return p, np_sparsemax_vjp(p, g)


def run(ctx):
    report, settings, peers = ctx.report, ctx.settings, ctx.peers
    rng = onp.random.default_rng(6)
    z = rng.standard_normal((ROWS, COLS)).astype(onp.float32) * 3
    g = rng.standard_normal((ROWS, COLS)).astype(onp.float32)
    sm, why = pyad_lookup('nn.sparsemax')
    have = sm is not None
    tol = dict(rtol=1e-4, atol=1e-5)

    fwd = [Impl('numpy sparsemax', lambda: np_sparsemax(z), dtype=onp.float32)]
    fb = [Impl('numpy forward + backward', lambda: np_forward_backward(z, g), dtype=onp.float32)]
    if have:
        fwd.append(Impl('pyad.nn.sparsemax', lambda: sm(z), dtype=onp.float32))

        def pyad_fb():
            p, pullback = pyad.vjp(sm, z)
            return p, pullback(g)
        fb.append(Impl('pyad vjp(sparsemax) + pullback', pyad_fb, dtype=onp.float32))
    else:
        fwd.append(Impl('pyad.nn.sparsemax', why))
        fb.append(Impl('pyad vjp(sparsemax) + pullback', why))
    if peers.torch:
        torch = peers.torch
        tz, tg = peers.tensor(z), peers.tensor(g)
        ranks = torch.arange(1, COLS + 1, dtype=torch.float32)

        def tsm(x):
            srt, _ = torch.sort(x, dim=-1, descending=True)
            cs = torch.cumsum(srt, dim=-1)
            K = torch.sum(1 + ranks * srt > cs, dim=-1, keepdim=True)
            tau = (torch.gather(cs, -1, K - 1) - 1) / K.to(x.dtype)
            return torch.clamp(x - tau, min=0)

        def tfb():
            x = tz.detach().requires_grad_(True)
            p = tsm(x)
            return p, torch.autograd.grad(p, x, tg)[0]
        note = 'the same algorithm in torch ops, differentiated by autograd'
        fwd.append(Impl('torch eager (sort-based)', lambda: tsm(tz), note=note))
        fb.append(Impl('torch eager (sort-based) + autograd', tfb, note=note))
    else:
        fwd.append(Impl('torch eager (sort-based)', NOT_INSTALLED))
        fb.append(Impl('torch eager (sort-based) + autograd', NOT_INSTALLED))
    res_f = measure(settings, fwd, 'numpy sparsemax', log=ctx.log, title='W6 forward', **tol)
    res_b = measure(settings, fb, 'numpy forward + backward', log=ctx.log, title='W6 fwd+bwd', **tol)
    note = '' if have else f'\n\n**pyad: {why}.**'
    report.section('W6', 'W6: sparsemax',
                   f'{ROWS}×{COLS} float32, sparsemax along rows; forward + backward is one '
                   f'vector-Jacobian product with a random cotangent. Baseline: hand-written NumPy.'
                   f'{note}\n\n### forward\n\n' + table(res_f, 'numpy sparsemax') +
                   '\n\n### forward + backward\n\n' + table(res_b, 'numpy forward + backward'))
    r = res_b['pyad vjp(sparsemax) + pullback']
    label = 'forward+backward ≤ 1.2× hand-written NumPy'
    if r.timed:
        v = r.ratios['numpy forward + backward']
        report.target('W6', label, f'{v:.2f}×', v <= 1.2)
    else:
        report.target('W6', label, r.status, None if not have else False)
