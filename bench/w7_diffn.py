"""W7: the n-th derivative of f(x) = sin(x)·exp(x) at a scalar, n = 1..6, by
nesting the scalar derivative (pyad.diffn).  Closed form:
f⁽ⁿ⁾(x) = 2^(n/2) eˣ sin(x + nπ/4)."""
import math

import pyad
import pyad.numpy as pnp
from harness import Impl, measure, fmt_time, NOT_INSTALLED

X0 = 0.7
ORDERS = range(1, 7)


def closed(n, x=X0):
    return 2 ** (n / 2) * math.exp(x) * math.sin(x + n * math.pi / 4)


def nest(grad, f, n):
    for _ in range(n):
        f = grad(f)
    return f


NAMES = ['closed form (math)', 'pyad diffn', 'pyad nested diff', 'autograd nested grad',
         'jax eager nested grad', 'jax jit nested grad', 'torch nested autograd.grad']


def _peer_impls(peers, n):
    """The peers' n-th derivatives (their scalar grad nested n times)."""
    impls = []
    if peers.autograd:
        anp = peers.anp
        ag = nest(peers.autograd.grad, lambda x: anp.sin(x) * anp.exp(x), n)
        impls.append(Impl(NAMES[3], lambda ag=ag: ag(X0)))
    else:
        impls.append(Impl(NAMES[3], NOT_INSTALLED))
    if peers.jax:
        jax, jnp = peers.jax, peers.jnp
        jg = nest(jax.grad, lambda x: jnp.sin(x) * jnp.exp(x), n)
        jjg = jax.jit(jg)
        jx = jnp.asarray(X0)
        impls.append(Impl(NAMES[4], peers.jax_ready(lambda jg=jg: jg(jx))))
        impls.append(Impl(NAMES[5], peers.jax_ready(lambda jjg=jjg: jjg(jx))))
    else:
        impls += [Impl(NAMES[4], NOT_INSTALLED), Impl(NAMES[5], NOT_INSTALLED)]
    if peers.torch:
        torch = peers.torch

        def tdn(n=n):
            x = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
            y = torch.sin(x) * torch.exp(x)
            for _ in range(n):
                (y,) = torch.autograd.grad(y, x, create_graph=True)
            return y
        impls.append(Impl(NAMES[6], tdn))
    else:
        impls.append(Impl(NAMES[6], NOT_INSTALLED))
    return impls


def _cell(r):
    if r.timed:
        return fmt_time(r.median)
    if r.status == NOT_INSTALLED:
        return NOT_INSTALLED
    return r.status[:60]


def run(ctx):
    report, settings, peers = ctx.report, ctx.settings, ctx.peers
    f = lambda x: pnp.sin(x) * pnp.exp(x)       # noqa: E731
    rows = []
    n6 = None
    for n in ORDERS:
        dn = pyad.diffn(n, f)
        nested = nest(pyad.diff, f, n)
        impls = [Impl(NAMES[0], lambda n=n: closed(n)),
                 Impl(NAMES[1], lambda: dn(X0)),
                 Impl(NAMES[2], lambda: nested(X0))] + _peer_impls(peers, n)
        res = measure(settings, impls, NAMES[0], rtol=1e-10, atol=1e-12, log=ctx.log, title=f'W7 n={n}')
        rows.append((n, res))
        if n == 6:
            n6 = res['pyad diffn']
    header = '| n | ' + ' | '.join(NAMES) + ' |'
    lines = [header, '|' + '---|' * (len(NAMES) + 1)]
    for n, res in rows:
        lines.append(f'| {n} | ' + ' | '.join(_cell(res[name]) for name in NAMES) + ' |')
    comp = ['| n | jax jit first call (trace + compile) |', '|---|---|']
    for n, res in rows:
        r = res.get('jax jit nested grad')
        comp.append(f'| {n} | {fmt_time(r.first) if r is not None and r.first else "—"} |')
    report.section('W7', 'W7: n-th derivative by nesting',
                   f'f(x) = sin(x)·exp(x) at x = {X0}; median time per call of the n-th derivative. '
                   f'pyad diffn = `pyad.diffn(n, f)(x)`; pyad nested diff = `diff(diff(...(f)))(x)`; '
                   f'the peers nest their scalar grad n times. Every result is checked against '
                   f'2^(n/2) eˣ sin(x + nπ/4).\n\n' + '\n'.join(lines) + '\n\n' + '\n'.join(comp))
    label = 'n = 6 in ≤ 1 ms'
    if n6 is not None and n6.timed:
        report.target('W7', label, fmt_time(n6.median), n6.median <= 1e-3)
    else:
        report.target('W7', label, n6.status if n6 is not None else 'not run', False)
