"""W1: value and gradient of an MLP loss (784-512-512-10, tanh, softmax
cross-entropy through logsumexp, batch 256), float64 and float32.

Baseline: hand-written NumPy backprop.  Also reported: each implementation's
ratio to the NumPy forward pass alone (the loss value only)."""
import numpy as onp

import pyad
import pyad.numpy as pnp
from common import mlp_data, pyad_logsumexp, logsumexp_note
from harness import Impl, measure, table, NOT_INSTALLED

SIZES = (784, 512, 512, 10)
BATCH = 256


def make_data(dtype, seed=0):
    """The parameters, a batch of inputs, and one-hot labels."""
    params, X, labels = mlp_data(SIZES, BATCH, dtype, seed)
    return params, X, onp.eye(SIZES[-1], dtype=dtype)[labels]


def numpy_forward(params, X, Y):
    W1, b1, W2, b2, W3, b3 = params
    h1 = onp.tanh(X @ W1 + b1)
    h2 = onp.tanh(h1 @ W2 + b2)
    z = h2 @ W3 + b3
    m = z.max(axis=1, keepdims=True)
    lse = onp.log(onp.exp(z - m).sum(axis=1)) + m[:, 0]
    return onp.mean(lse - (Y * z).sum(axis=1))


def numpy_value_and_grad(params, X, Y, xp=onp):
    """Hand-written backprop, in NumPy (or CuPy: bench/gpu_mlp.py passes xp=cupy)."""
    W1, b1, W2, b2, W3, b3 = params
    h1 = xp.tanh(X @ W1 + b1)
    h2 = xp.tanh(h1 @ W2 + b2)
    z = h2 @ W3 + b3
    m = z.max(axis=1, keepdims=True)
    e = xp.exp(z - m)
    s = e.sum(axis=1, keepdims=True)
    lse = xp.log(s[:, 0]) + m[:, 0]
    loss = xp.mean(lse - (Y * z).sum(axis=1))
    dz = (e / s - Y) * (1.0 / X.shape[0])
    dW3 = h2.T @ dz
    db3 = dz.sum(axis=0)
    da2 = (dz @ W3.T) * (1.0 - h2 * h2)
    dW2 = h1.T @ da2
    db2 = da2.sum(axis=0)
    da1 = (da2 @ W2.T) * (1.0 - h1 * h1)
    dW1 = X.T @ da1
    db1 = da1.sum(axis=0)
    return loss, (dW1, db1, dW2, db2, dW3, db3)


def pyad_loss(params, X, Y):
    W1, b1, W2, b2, W3, b3 = params
    h1 = pnp.tanh(X @ W1 + b1)
    h2 = pnp.tanh(h1 @ W2 + b2)
    z = h2 @ W3 + b3
    return pnp.mean(pyad_logsumexp(z, axis=1) - pnp.sum(Y * z, axis=1))


def peer_impls(peers, params, X, Y, fwd_value):
    impls = []
    if peers.autograd:
        anp = peers.anp
        from autograd.scipy.special import logsumexp as alse

        def aloss(p):
            W1, b1, W2, b2, W3, b3 = p
            h1 = anp.tanh(anp.dot(X, W1) + b1)
            h2 = anp.tanh(anp.dot(h1, W2) + b2)
            z = anp.dot(h2, W3) + b3
            return anp.mean(alse(z, axis=1) - anp.sum(Y * z, axis=1))
        vg = peers.autograd.value_and_grad(aloss)
        impls.append(Impl('autograd value_and_grad', lambda: vg(params)))
    else:
        impls.append(Impl('autograd value_and_grad', NOT_INSTALLED))
    if peers.jax:
        jax, jnp = peers.jax, peers.jnp
        jparams = tuple(jnp.asarray(p) for p in params)
        jX, jY = jnp.asarray(X), jnp.asarray(Y)

        def jloss(p):
            W1, b1, W2, b2, W3, b3 = p
            h1 = jnp.tanh(jX @ W1 + b1)
            h2 = jnp.tanh(h1 @ W2 + b2)
            z = h2 @ W3 + b3
            return jnp.mean(jax.nn.logsumexp(z, axis=1) - jnp.sum(jY * z, axis=1))
        vg = jax.value_and_grad(jloss)
        jvg = jax.jit(vg)
        jfwd = jax.jit(jloss)
        impls.append(Impl('jax eager value_and_grad', peers.jax_ready(lambda: vg(jparams))))
        impls.append(Impl('jax jit value_and_grad', peers.jax_ready(lambda: jvg(jparams))))
        impls.append(Impl('jax jit forward only', peers.jax_ready(lambda: jfwd(jparams)),
                          reference=fwd_value))
    else:
        for n in ('jax eager value_and_grad', 'jax jit value_and_grad'):
            impls.append(Impl(n, NOT_INSTALLED))
    if peers.torch:
        torch = peers.torch
        tparams = [peers.tensor(p, True) for p in params]
        tX, tY = peers.tensor(X), peers.tensor(Y)

        def tvg():
            W1, b1, W2, b2, W3, b3 = tparams
            h1 = torch.tanh(tX @ W1 + b1)
            h2 = torch.tanh(h1 @ W2 + b2)
            z = h2 @ W3 + b3
            loss = torch.mean(torch.logsumexp(z, dim=1) - torch.sum(tY * z, dim=1))
            grads = torch.autograd.grad(loss, tparams)
            return loss, grads
        impls.append(Impl('torch eager autograd.grad', tvg))
    else:
        impls.append(Impl('torch eager autograd.grad', NOT_INSTALLED))
    return impls


def run(ctx):
    report, settings = ctx.report, ctx.settings
    text = [f'MLP {"-".join(map(str, SIZES))}, tanh, softmax cross-entropy (logsumexp), batch {BATCH}. '
            f'pyad: `pyad.value_and_grad(loss)(params)` with params a tuple of 6 arrays; '
            f'{logsumexp_note()}. Baseline: hand-written NumPy backprop. '
            f'"ratio vs numpy forward" is the cost relative to computing the loss alone.']
    for dtype, rtol, atol in ((onp.float64, 1e-9, 1e-12), (onp.float32, 2e-3, 2e-6)):
        params, X, Y = make_data(dtype)
        fwd_value = numpy_forward(params, X, Y)
        vg = pyad.value_and_grad(lambda p: pyad_loss(p, X, Y))
        impls = [
            Impl('numpy backprop', lambda: numpy_value_and_grad(params, X, Y), dtype=dtype),
            Impl('numpy forward only', lambda: numpy_forward(params, X, Y), reference=fwd_value),
            Impl('pyad value_and_grad', lambda: vg(params), dtype=dtype),
            Impl('pyad forward only (plain arrays)', lambda: pyad_loss(params, X, Y),
                 reference=fwd_value, dtype=dtype),
        ] + peer_impls(ctx.peers, params, X, Y, fwd_value)
        name = onp.dtype(dtype).name
        res = measure(settings, impls, 'numpy backprop', rtol=rtol, atol=atol,
                      ratio_to=('numpy forward only',), log=ctx.log, title=f'W1 {name}')
        text.append(f'### {name}\n\n' + table(res, 'numpy backprop', ratio_to=('numpy forward only',),
                                              ratio_names={'numpy forward only': 'numpy forward'}))
        p = res['pyad value_and_grad']
        if p.timed:
            r = p.ratios['numpy backprop']
            report.target('W1', f'{name} value+grad ≤ 1.1× NumPy backprop', f'{r:.2f}×', r <= 1.1)
        else:
            report.target('W1', f'{name} value+grad ≤ 1.1× NumPy backprop', p.status, False)
    report.section('W1', 'W1: MLP value and gradient', '\n\n'.join(text))
