"""W4: gradient and Hessian-vector product of the vectorised Rosenbrock function,
n = 10^5:  f(x) = Σ 100 (x_{i+1} − x_i²)² + (1 − x_i)².  Baselines hand-written."""
import numpy as onp

import pyad
import pyad.numpy as pnp
from harness import Impl, measure, table, NOT_INSTALLED

N = 10 ** 5


def rosen(x, xp=onp):
    a, b = x[:-1], x[1:]
    return xp.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)


def rosen_grad(x):
    a, b = x[:-1], x[1:]
    d = b - a * a
    g = onp.zeros_like(x)
    g[:-1] = -400.0 * a * d - 2.0 * (1.0 - a)
    g[1:] += 200.0 * d
    return g


def rosen_hvp(x, v):
    a, b = x[:-1], x[1:]
    va, vb = v[:-1], v[1:]
    hv = onp.zeros_like(x)
    # d²/da² = 1200 a² − 400 b + 2, d²/da db = −400 a, d²/db² = 200
    hv[:-1] = (1200.0 * a * a - 400.0 * b + 2.0) * va - 400.0 * a * vb
    hv[1:] += 200.0 * vb - 400.0 * a * va
    return hv


def run(ctx):
    report, settings, peers = ctx.report, ctx.settings, ctx.peers
    rng = onp.random.default_rng(4)
    x = rng.uniform(-1.5, 1.5, N)
    v = rng.standard_normal(N)
    f = lambda y: rosen(y, pnp)          # noqa: E731
    g = pyad.grad(f)
    hvp = pyad.hessianv(f)

    # ---- gradient
    impls = [Impl('hand-written numpy gradient', lambda: rosen_grad(x)),
             Impl('numpy f alone', lambda: rosen(x), check=False, note='value only'),
             Impl('pyad grad', lambda: g(x))]
    if peers.autograd:
        ag = peers.autograd.grad(lambda y: rosen(y, peers.anp))
        impls.append(Impl('autograd grad', lambda: ag(x)))
    else:
        impls.append(Impl('autograd grad', NOT_INSTALLED))
    if peers.jax:
        jax, jnp = peers.jax, peers.jnp
        jx, jv = jnp.asarray(x), jnp.asarray(v)
        jf = lambda y: rosen(y, jnp)     # noqa: E731
        jg = jax.grad(jf)
        jjg = jax.jit(jg)
        impls.append(Impl('jax eager grad', peers.jax_ready(lambda: jg(jx))))
        impls.append(Impl('jax jit grad', peers.jax_ready(lambda: jjg(jx))))
    else:
        impls += [Impl('jax eager grad', NOT_INSTALLED), Impl('jax jit grad', NOT_INSTALLED)]
    if peers.torch:
        torch = peers.torch
        tx, tv = peers.tensor(x, True), peers.tensor(v)

        def tg():
            return torch.autograd.grad(rosen(tx, torch), tx)[0]
        impls.append(Impl('torch eager grad', tg))
    else:
        impls.append(Impl('torch eager grad', NOT_INSTALLED))
    base_g = 'hand-written numpy gradient'
    res_g = measure(settings, impls, base_g, rtol=1e-10, atol=1e-8, log=ctx.log, title='W4 grad')

    # ---- Hessian-vector product
    impls = [Impl('hand-written numpy HVP', lambda: rosen_hvp(x, v)),
             Impl('pyad hessianv (reverse over forward)', lambda: hvp(x, v)),
             Impl('pyad jvp of grad (forward over reverse)', lambda: pyad.jacobianv(g)(x, v))]
    if peers.autograd:
        ahvp = peers.autograd.hessian_vector_product(lambda y: rosen(y, peers.anp))
        impls.append(Impl('autograd hessian_vector_product', lambda: ahvp(x, v),
                          note='reverse over reverse'))
    else:
        impls.append(Impl('autograd hessian_vector_product', NOT_INSTALLED))
    if peers.jax:
        jhvp = lambda y, w: jax.jvp(jg, (y,), (w,))[1]   # noqa: E731
        jjhvp = jax.jit(jhvp)
        impls.append(Impl('jax eager jvp(grad)', peers.jax_ready(lambda: jhvp(jx, jv))))
        impls.append(Impl('jax jit jvp(grad)', peers.jax_ready(lambda: jjhvp(jx, jv))))
    else:
        impls += [Impl('jax eager jvp(grad)', NOT_INSTALLED), Impl('jax jit jvp(grad)', NOT_INSTALLED)]
    if peers.torch:
        tf = lambda y: rosen(y, torch)    # noqa: E731
        tx0 = peers.tensor(x)
        impls.append(Impl('torch.func jvp(grad)',
                          lambda: torch.func.jvp(torch.func.grad(tf), (tx0,), (tv,))[1]))

        def tdouble():
            gx = torch.autograd.grad(tf(tx), tx, create_graph=True)[0]
            return torch.autograd.grad(gx, tx, tv)[0]
        impls.append(Impl('torch eager double backward', tdouble))
    else:
        impls += [Impl('torch.func jvp(grad)', NOT_INSTALLED),
                  Impl('torch eager double backward', NOT_INSTALLED)]
    base_h = 'hand-written numpy HVP'
    res_h = measure(settings, impls, base_h, rtol=1e-10, atol=1e-8, log=ctx.log, title='W4 HVP')

    report.section('W4', 'W4: Rosenbrock gradient and Hessian-vector product',
                   f'Vectorised Rosenbrock, n = {N}. Baselines: hand-written NumPy gradient and HVP.'
                   f'\n\n### gradient\n\n' + table(res_g, base_g) +
                   '\n\n### Hessian-vector product\n\n' + table(res_h, base_h))
    for label, res, base, name, limit in (
            ('gradient ≤ 2× hand-written', res_g, base_g, 'pyad grad', 2.0),
            ('HVP ≤ 3× hand-written', res_h, base_h, 'pyad hessianv (reverse over forward)', 3.0)):
        r = res[name]
        if r.timed:
            report.target('W4', label, f'{r.ratios[base]:.2f}×', r.ratios[base] <= limit)
        else:
            report.target('W4', label, r.status, False)
