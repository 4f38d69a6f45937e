"""A neural-network classifier trained with Adam on two interleaved spirals.

    python3 examples/classifier.py [--smoke] [--steps 1500]

The data are generated here (no downloads).  The network is a 2-64-64-1 tanh MLP; its
parameters are a pytree (a dict of arrays) and ``pyad.fgrad`` returns the loss and a
gradient of the same structure.  Saves the decision boundary and the loss curve.
"""
from _common import parse_args, progress, pyplot, save, Timer   # first: sets up BLAS threads and the path

import numpy

import pyad
import pyad.numpy as np


def two_spirals(n, noise, rng):
    """n points per class on two interleaved spirals in the plane."""
    t = numpy.sqrt(rng.uniform(0.0, 1.0, n)) * 3.0 * numpy.pi
    arm = numpy.stack([t * numpy.cos(t), t * numpy.sin(t)], axis=1) / (3 * numpy.pi)
    X = numpy.concatenate([arm, -arm]) + noise * rng.standard_normal((2 * n, 2))
    y = numpy.concatenate([numpy.zeros(n), numpy.ones(n)])
    return X, y


def init(sizes, rng):
    params = {}
    for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f'W{i}'] = rng.standard_normal((m, n)) * numpy.sqrt(1.0 / m)
        params[f'b{i}'] = numpy.zeros(n)
    return params


def logits(params, X):
    layers = len(params) // 2
    h = X
    for i in range(layers):
        h = h @ params[f'W{i}'] + params[f'b{i}']
        if i < layers - 1:
            h = np.tanh(h)
    return h[:, 0]


def loss(params, X, y):
    """Mean binary cross-entropy, written stably: log(1 + e^z) - y z."""
    z = logits(params, X)
    return np.mean(np.logaddexp(0.0, z) - y * z)


def make_adam(lr, b1=0.9, b2=0.999, eps=1e-8):
    """Adam over pytrees as one function ``step(params, grads) -> params``: pyad.optim's
    (``init``/``update`` pair) when this build has it, else a few lines inline."""
    try:
        from pyad import optim
        opt = optim.adam(lr=lr, b1=b1, b2=b2, eps=eps)
    except (ImportError, AttributeError):
        opt = None
    if opt is not None:
        slot = {}

        def step(params, g):
            if 'state' not in slot:
                slot['state'] = opt.init(params)
            params, slot['state'] = opt.update(g, slot['state'], params)
            return params
        step.source = 'pyad.optim.adam'
        return step

    state = {'t': 0, 'm': None, 'v': None}

    def step(params, g):
        if state['m'] is None:
            state['m'] = pyad.tree_map(numpy.zeros_like, params)
            state['v'] = pyad.tree_map(numpy.zeros_like, params)
        state['t'] += 1
        t = state['t']
        state['m'] = pyad.tree_map(lambda m, g: b1 * m + (1 - b1) * g, state['m'], g)
        state['v'] = pyad.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, state['v'], g)
        return pyad.tree_map(
            lambda p, m, v: p - lr * (m / (1 - b1 ** t)) / (numpy.sqrt(v / (1 - b2 ** t)) + eps),
            params, state['m'], state['v'])
    step.source = 'inline Adam (pyad.optim is not in this build)'
    return step


def main(args):
    rng = numpy.random.default_rng(args.seed)
    n = 60 if args.smoke else 300
    X, y = two_spirals(n, 0.03, rng)
    Xtest, ytest = two_spirals(n, 0.03, rng)
    params = init([2, 64, 64, 1], rng)
    steps = 60 if args.smoke else args.steps
    adam = make_adam(lr=0.01)

    history = []
    with Timer() as t:
        bar = progress(range(steps), desc='training')
        for i in bar:
            value, g = pyad.fgrad(lambda p: loss(p, X, y))(params)
            params = adam(params, g)
            history.append(float(value))
            if hasattr(bar, 'set_postfix') and i % 50 == 0:
                bar.set_postfix(loss=f'{float(value):.4f}')
    accuracy = lambda X_, y_: float(numpy.mean((logits(params, X_) > 0) == (y_ > 0.5)))  # noqa: E731
    print(f'{steps} steps of {adam.source} in {t.seconds:.1f} s ({1e3 * t.seconds / steps:.1f} ms/step): '
          f'loss {history[0]:.3f} -> {history[-1]:.4f}; accuracy train {accuracy(X, y):.3f}, '
          f'test {accuracy(Xtest, ytest):.3f}')

    plt = pyplot(args)
    if plt is None:
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.6))
    G = numpy.linspace(-1.3, 1.3, 250)
    gx, gy = numpy.meshgrid(G, G)
    grid = numpy.stack([gx.ravel(), gy.ravel()], axis=1)
    prob = 1 / (1 + numpy.exp(-logits(params, grid))).reshape(gx.shape)
    ax1.contourf(gx, gy, prob, levels=20, cmap='RdBu_r', alpha=0.6)
    ax1.contour(gx, gy, prob, levels=[0.5], colors='k', linewidths=1.2)
    ax1.scatter(X[:, 0], X[:, 1], c=y, cmap='RdBu_r', s=8, edgecolors='k', linewidths=0.3)
    ax1.set_aspect('equal')
    ax1.set_xlabel('x1')
    ax1.set_ylabel('x2')
    ax1.set_title(f'decision boundary (test accuracy {accuracy(Xtest, ytest):.3f})')
    ax2.semilogy(history)
    ax2.set_xlabel('Adam step')
    ax2.set_ylabel('training loss')
    ax2.set_title('loss')
    save(fig, args, 'classifier.png')


if __name__ == '__main__':
    main(parse_args(__doc__.splitlines()[0],
                    extra=lambda p: p.add_argument('--steps', type=int, default=1500)))
