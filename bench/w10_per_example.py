"""W10: per-example gradients of a small MLP (32-64-64-10, tanh, softmax
cross-entropy with integer labels, batch 256), float64 and float32.

pyad: ``vmap`` of ``grad`` of the loss of one example (every primitive runs once
for the whole batch) against a Python loop of ``grad`` over the 256 examples.
Baseline: hand-written NumPy backprop of the per-example gradients, vectorised
over the batch (outer products by einsum)."""
import numpy as onp

import pyad
import pyad.numpy as pnp
import pyad.nn as nn
from common import mlp_data
from harness import Impl, measure, table

SIZES = (32, 64, 64, 10)
BATCH = 256


def numpy_per_example(params, X, labels):
    """The gradient of each example's loss, for all examples at once, by hand."""
    W1, b1, W2, b2, W3, b3 = params
    h1 = onp.tanh(X @ W1 + b1)
    h2 = onp.tanh(h1 @ W2 + b2)
    z = h2 @ W3 + b3
    e = onp.exp(z - z.max(axis=1, keepdims=True))
    dz = e / e.sum(axis=1, keepdims=True)
    dz[onp.arange(len(labels)), labels] -= 1
    da2 = (dz @ W3.T) * (1 - h2 * h2)
    da1 = (da2 @ W2.T) * (1 - h1 * h1)
    outer = lambda a, b: onp.einsum('bi,bj->bij', a, b)
    return (outer(X, da1), da1, outer(h1, da2), da2, outer(h2, dz), dz)


def loss(params, x, label):
    """The loss of one example."""
    W1, b1, W2, b2, W3, b3 = params
    h1 = pnp.tanh(x @ W1 + b1)
    h2 = pnp.tanh(h1 @ W2 + b2)
    return nn.softmax_cross_entropy(h2 @ W3 + b3, label)


def per_example_grads(params, x, label):
    return pyad.grad(lambda p: loss(p, x, label))(params)


vmapped = pyad.vmap(per_example_grads, in_axes=(None, 0, 0))


def looped(params, X, labels):
    grads = [per_example_grads(params, x, t) for x, t in zip(X, labels)]
    return tuple(onp.stack([g[i] for g in grads]) for i in range(len(params)))


def run(ctx):
    report, settings = ctx.report, ctx.settings
    text = [f'Per-example gradients of an MLP {"-".join(map(str, SIZES))} (tanh, '
            f'`pyad.nn.softmax_cross_entropy` with integer labels), batch {BATCH}: one gradient '
            f'(6 arrays) per example. pyad: `pyad.vmap(per_example_grads, in_axes=(None, 0, 0))` '
            f'with `per_example_grads(p, x, t) = pyad.grad(lambda p: loss(p, x, t))(p)`, '
            f'against a Python loop of the same `per_example_grads` over the examples. '
            f'Baseline: hand-written NumPy per-example backprop, vectorised over the batch.']
    for dtype, rtol, atol in ((onp.float64, 1e-9, 1e-12), (onp.float32, 2e-3, 2e-6)):
        params, X, labels = mlp_data(SIZES, BATCH, dtype)
        impls = [
            Impl('numpy per-example backprop', lambda: numpy_per_example(params, X, labels),
                 dtype=dtype),
            Impl('pyad vmap(grad)', lambda: vmapped(params, X, labels), dtype=dtype),
            Impl('pyad loop of grad', lambda: looped(params, X, labels), dtype=dtype),
        ]
        name = onp.dtype(dtype).name
        res = measure(settings, impls, 'numpy per-example backprop', rtol=rtol, atol=atol,
                      ratio_to=('pyad loop of grad',), log=ctx.log, title=f'W10 {name}')
        text.append(f'### {name}\n\n' + table(res, 'numpy per-example backprop',
                                              ratio_to=('pyad loop of grad',),
                                              ratio_names={'pyad loop of grad': 'loop'}))
        v = res['pyad vmap(grad)']
        if v.timed and res['pyad loop of grad'].timed:
            speedup = 1.0 / v.ratios['pyad loop of grad']
            report.target('W10', f'{name} vmap(grad) ≥ 10× faster than a loop of grad',
                          f'{speedup:.1f}×', speedup >= 10)
        else:
            report.target('W10', f'{name} vmap(grad) ≥ 10× faster than a loop of grad',
                          v.status, False)
    report.section('W10', 'W10: per-example gradients (vmap)', '\n\n'.join(text))
