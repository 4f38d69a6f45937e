"""W3: dense Hessian of f(x) = logsumexp(A x) + ½‖x‖², n = 100, A 200×100.

Closed form: H = Aᵀ (diag(p) − p pᵀ) A + I with p = softmax(A x)."""
import numpy as onp

import pyad
import pyad.numpy as pnp
from common import pyad_logsumexp, logsumexp_note, np_logsumexp
from harness import Impl, measure, table, NOT_INSTALLED

N, M = 100, 200


def closed_hessian(A, x):
    z = A @ x
    p = onp.exp(z - np_logsumexp(z))
    Atp = A.T @ p
    return A.T @ (p[:, None] * A) - onp.outer(Atp, Atp) + onp.eye(len(x))


def run(ctx):
    report, settings, peers = ctx.report, ctx.settings, ctx.peers
    rng = onp.random.default_rng(3)
    A = rng.standard_normal((M, N)) / onp.sqrt(N)
    x = rng.standard_normal(N)

    def f(v):
        return pyad_logsumexp(A @ v) + 0.5 * pnp.sum(v * v)

    hess = pyad.hessian(f)
    impls = [
        Impl('closed form (numpy)', lambda: closed_hessian(A, x)),
        Impl('pyad hessian', lambda: hess(x)),
        Impl('pyad jacfwd(grad)', lambda: pyad.jacfwd(pyad.grad(f))(x)),
        Impl('pyad jacrev(grad)', lambda: pyad.jacrev(pyad.grad(f))(x)),
    ]
    if peers.autograd:
        anp = peers.anp
        from autograd.scipy.special import logsumexp as alse
        ah = peers.autograd.hessian(lambda v: alse(anp.dot(A, v)) + 0.5 * anp.sum(v * v))
        impls.append(Impl('autograd hessian', lambda: ah(x)))
    else:
        impls.append(Impl('autograd hessian', NOT_INSTALLED))
    if peers.jax:
        jax, jnp = peers.jax, peers.jnp
        jA, jx = jnp.asarray(A), jnp.asarray(x)
        jf = lambda v: jax.nn.logsumexp(jA @ v) + 0.5 * jnp.sum(v * v)   # noqa: E731
        jh = jax.hessian(jf)
        jjh = jax.jit(jh)
        impls.append(Impl('jax eager hessian', peers.jax_ready(lambda: jh(jx))))
        impls.append(Impl('jax jit hessian', peers.jax_ready(lambda: jjh(jx))))
    else:
        impls += [Impl('jax eager hessian', NOT_INSTALLED), Impl('jax jit hessian', NOT_INSTALLED)]
    if peers.torch:
        torch = peers.torch
        tA, tx = peers.tensor(A), peers.tensor(x)
        tf = lambda v: torch.logsumexp(tA @ v, 0) + 0.5 * torch.sum(v * v)   # noqa: E731
        th = torch.func.hessian(tf)
        impls.append(Impl('torch.func hessian', lambda: th(tx)))
        impls.append(Impl('torch.autograd.functional.hessian',
                          lambda: torch.autograd.functional.hessian(tf, tx)))
    else:
        impls += [Impl('torch.func hessian', NOT_INSTALLED),
                  Impl('torch.autograd.functional.hessian', NOT_INSTALLED)]
    base = 'closed form (numpy)'
    res = measure(settings, impls, base, rtol=1e-9, atol=1e-12, log=ctx.log, title='W3')
    report.section('W3', 'W3: dense Hessian',
                   f'`pyad.hessian` of logsumexp(A x) + ½‖x‖², n = {N}, A {M}×{N} ({logsumexp_note()}). '
                   f'Baseline: the closed form Aᵀ(diag(p) − p pᵀ)A + I.\n\n' + table(res, base))
    r = res['pyad hessian']
    peers_txt = ', '.join(f'{n}: {res[n].ratios[base]:.0f}×' for n in
                          ('autograd hessian', 'torch.func hessian') if res[n].timed)
    if r.timed:
        v = r.ratios[base]
        report.target('W3', '≤ 10× the closed-form Hessian',
                      f'{v:.1f}×' + (f' ({peers_txt})' if peers_txt else ''), v <= 10)
    else:
        report.target('W3', '≤ 10× the closed-form Hessian', r.status, False)
