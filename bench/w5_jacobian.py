"""W5: Jacobian of tanh(W x), W 300×300, by forward and reverse mode.
Closed form: (1 − tanh²(W x))[:, None] * W."""
import numpy as onp

import pyad
import pyad.numpy as pnp
from harness import Impl, measure, table, NOT_INSTALLED

N = 300


def run(ctx):
    report, settings, peers = ctx.report, ctx.settings, ctx.peers
    rng = onp.random.default_rng(5)
    W = rng.standard_normal((N, N)) / onp.sqrt(N)
    x = rng.standard_normal(N)

    def closed():
        y = onp.tanh(W @ x)
        return (1.0 - y * y)[:, None] * W

    f = lambda v: pnp.tanh(W @ v)      # noqa: E731
    jf, jr, jb = pyad.jacfwd(f), pyad.jacrev(f), pyad.jacobian(f)
    impls = [Impl('closed form (numpy)', closed),
             Impl('numpy f alone', lambda: onp.tanh(W @ x), check=False, note='value only'),
             Impl('pyad jacfwd', lambda: jf(x)),
             Impl('pyad jacrev', lambda: jr(x)),
             Impl('pyad jacobian', lambda: jb(x), note='mode chosen by sizes')]
    if peers.autograd:
        aj = peers.autograd.jacobian(lambda v: peers.anp.tanh(peers.anp.dot(W, v)))
        impls.append(Impl('autograd jacobian', lambda: aj(x), note='reverse, one sweep per row'))
    else:
        impls.append(Impl('autograd jacobian', NOT_INSTALLED))
    if peers.jax:
        jax, jnp = peers.jax, peers.jnp
        jW, jx = jnp.asarray(W), jnp.asarray(x)
        jfun = lambda v: jnp.tanh(jW @ v)     # noqa: E731
        for mode, op in (('jacfwd', jax.jacfwd), ('jacrev', jax.jacrev)):
            eager = op(jfun)
            jitted = jax.jit(eager)
            impls.append(Impl(f'jax eager {mode}', peers.jax_ready(lambda e=eager: e(jx))))
            impls.append(Impl(f'jax jit {mode}', peers.jax_ready(lambda j=jitted: j(jx))))
    else:
        for mode in ('jacfwd', 'jacrev'):
            impls += [Impl(f'jax eager {mode}', NOT_INSTALLED), Impl(f'jax jit {mode}', NOT_INSTALLED)]
    if peers.torch:
        torch = peers.torch
        tW, tx = peers.tensor(W), peers.tensor(x)
        tfun = lambda v: torch.tanh(tW @ v)     # noqa: E731
        tjf, tjr = torch.func.jacfwd(tfun), torch.func.jacrev(tfun)
        impls.append(Impl('torch.func jacfwd', lambda: tjf(tx)))
        impls.append(Impl('torch.func jacrev', lambda: tjr(tx)))
        impls.append(Impl('torch.autograd.functional.jacobian',
                          lambda: torch.autograd.functional.jacobian(tfun, tx),
                          note='one backward per row'))
    else:
        impls += [Impl(n, NOT_INSTALLED) for n in ('torch.func jacfwd', 'torch.func jacrev',
                                                    'torch.autograd.functional.jacobian')]
    base = 'closed form (numpy)'
    res = measure(settings, impls, base, rtol=1e-10, atol=1e-12, log=ctx.log, title='W5')
    report.section('W5', 'W5: Jacobian of tanh(W x)',
                   f'W {N}×{N}. Baseline: the closed form (1 − tanh²(W x))[:, None] * W.\n\n'
                   + table(res, base))
    for name in ('pyad jacfwd', 'pyad jacrev'):
        r = res[name]
        label = f'{name.split()[1]}: Jacobian ≤ 10× closed form'
        if r.timed:
            report.target('W5', label, f'{r.ratios[base]:.1f}×', r.ratios[base] <= 10)
        else:
            report.target('W5', label, r.status, False)
