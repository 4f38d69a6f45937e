"""W8: the gradient through a fixed point: Heron's iteration x ← (x + a/x)/2
converges to √a; d√a/da = 1/(2√a), at a = 2.

pyad.fixed_point(f, a, x0, tol=, max_iter=) differentiates by the implicit
function theorem; for comparison every library also differentiates through the
unrolled iteration (a fixed number of steps, enough to converge from x0 = 1)."""
import math

import pyad
from common import pyad_lookup
from harness import Impl, measure, table, NOT_INSTALLED

A0, X0 = 2.0, 1.0
STEPS = 6          # from x0 = 1, Heron reaches √2 to machine precision in 5 steps


def heron(a, x):
    return 0.5 * (x + a / x)


def unrolled(a):
    x = X0
    for _ in range(STEPS):
        x = heron(a, x)
    return x


def run(ctx):
    report, settings, peers = ctx.report, ctx.settings, ctx.peers
    ref = 1.0 / (2.0 * math.sqrt(A0))
    impls = [Impl('closed form 1/(2√a)', lambda: 1.0 / (2.0 * math.sqrt(A0)))]
    fixed_point, why = pyad_lookup('fixed_point')
    have = fixed_point is not None
    if have:
        g = pyad.grad(lambda a: fixed_point(heron, a, X0, tol=1e-12, max_iter=100))
        impls.append(Impl('pyad grad(fixed_point)', lambda: g(A0)))
    else:
        impls.append(Impl('pyad grad(fixed_point)', why))
    gu = pyad.grad(unrolled)
    impls.append(Impl(f'pyad grad, unrolled {STEPS} steps', lambda: gu(A0)))
    if peers.autograd:
        ag = peers.autograd.grad(unrolled)
        impls.append(Impl('autograd grad, unrolled', lambda: ag(A0)))
    else:
        impls.append(Impl('autograd grad, unrolled', NOT_INSTALLED))
    if peers.jax:
        jax, jnp = peers.jax, peers.jnp
        ja = jnp.asarray(A0)
        jg = jax.grad(unrolled)
        jjg = jax.jit(jg)
        impls.append(Impl('jax eager grad, unrolled', peers.jax_ready(lambda: jg(ja))))
        impls.append(Impl('jax jit grad, unrolled', peers.jax_ready(lambda: jjg(ja))))
    else:
        impls += [Impl('jax eager grad, unrolled', NOT_INSTALLED),
                  Impl('jax jit grad, unrolled', NOT_INSTALLED)]
    if peers.torch:
        torch = peers.torch

        def tg():
            a = torch.tensor(A0, dtype=torch.float64, requires_grad=True)
            return torch.autograd.grad(unrolled(a), a)[0]
        impls.append(Impl('torch eager grad, unrolled', tg))
    else:
        impls.append(Impl('torch eager grad, unrolled', NOT_INSTALLED))
    base = 'closed form 1/(2√a)'
    res = measure(settings, impls, base, reference=ref, rtol=1e-9, atol=0, log=ctx.log, title='W8')
    note = '' if have else f'\n\n**pyad: {why}.**'
    report.section('W8', 'W8: gradient through a fixed point',
                   f'd/da of the fixed point of x = (x + a/x)/2 (√a) at a = {A0}, x0 = {X0}. '
                   f'Checked against 1/(2√a).{note}\n\n' + table(res, base))
    r = res['pyad grad(fixed_point)']
    label = 'grad through fixed_point ≤ 100 µs'
    if r.timed:
        report.target('W8', label, f'{r.median * 1e6:.0f} µs', r.median <= 100e-6)
    else:
        report.target('W8', label, r.status, None if not have else False)
