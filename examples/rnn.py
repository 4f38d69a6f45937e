"""A small recurrent network that learns to continue sine waves, trained with pyad.

    python3 examples/rnn.py [--smoke] [--steps 800]

An Elman network h_t = tanh(W_x x_t + W_h h_{t-1} + b), prediction y_t = w_y . h_t + c,
reads a sine wave of random frequency and phase one sample at a time and predicts the
next sample.  The whole unrolled sequence is one function of the parameters (a pytree),
so ``pyad.fgrad`` is backpropagation through time.  After training, the network runs
free, feeding its own predictions back in; the figure shows it against the true wave.
"""
from _common import parse_args, progress, pyplot, save, Timer   # first: sets up BLAS threads and the path

import numpy

import pyad
import pyad.numpy as np


DT = 0.2


def waves(batch, length, rng):
    """A batch of sine waves: frequencies in [0.5, 1.5], random phases; shape (batch, length)."""
    omega = rng.uniform(0.5, 1.5, (batch, 1))
    phase = rng.uniform(0, 2 * numpy.pi, (batch, 1))
    return numpy.sin(omega * DT * numpy.arange(length) + phase)


def init(hidden, rng):
    return {'Wx': rng.standard_normal((1, hidden)) * 0.5,
            'Wh': rng.standard_normal((hidden, hidden)) / numpy.sqrt(hidden),
            'b': numpy.zeros(hidden),
            'wy': rng.standard_normal(hidden) / numpy.sqrt(hidden),
            'c': numpy.zeros(())}


def cell(params, h, x):
    """One step: (new hidden state, prediction of the next sample)."""
    h = np.tanh(x[:, None] * params['Wx'] + h @ params['Wh'] + params['b'])
    return h, h @ params['wy'] + params['c']


def loss(params, seqs, prefix):
    """Mean squared error of the predictions: one step ahead while reading the first
    `prefix` samples (after 5 warm-up steps), then running free on its own outputs.
    Gradients flow through the fed-back predictions too."""
    h = numpy.zeros((seqs.shape[0], params['b'].shape[0]))
    total, count = 0.0, 0
    y = None
    for t in range(seqs.shape[1] - 1):
        h, y = cell(params, h, seqs[:, t] if t < prefix else y)
        if t >= 5:
            total, count = total + np.mean((y - seqs[:, t + 1]) ** 2), count + 1
    return total / count


def free_run(params, prefix, steps):
    """Read the prefix, then feed the network its own predictions."""
    h = numpy.zeros((prefix.shape[0], params['b'].shape[0]))
    for t in range(prefix.shape[1]):
        h, y = cell(params, h, prefix[:, t])
    out = []
    for _ in range(steps):
        out.append(y)
        h, y = cell(params, h, y)
    return numpy.stack(out, axis=1)


def main(args):
    rng = numpy.random.default_rng(args.seed)
    params = init(24, rng)
    steps = 40 if args.smoke else args.steps
    length = 20 if args.smoke else 40
    lr, b1, b2 = 0.01, 0.9, 0.999
    m = pyad.tree_map(numpy.zeros_like, params)
    v = pyad.tree_map(numpy.zeros_like, params)
    history = []
    with Timer() as timer:
        for i in progress(range(1, steps + 1), desc='training'):
            value, g = pyad.fgrad(lambda p: loss(p, waves(32, length, rng), length // 2))(params)
            history.append(float(value))
            m = pyad.tree_map(lambda m_, g_: b1 * m_ + (1 - b1) * g_, m, g)          # Adam
            v = pyad.tree_map(lambda v_, g_: b2 * v_ + (1 - b2) * g_ ** 2, v, g)
            params = pyad.tree_map(lambda p, m_, v_: p - lr * (m_ / (1 - b1 ** i))
                                   / (numpy.sqrt(v_ / (1 - b2 ** i)) + 1e-8), params, m, v)
    print(f'{steps} steps of backpropagation through {length} time steps in {timer.seconds:.1f} s: '
          f'training error {history[0]:.4f} -> {numpy.mean(history[-10:]):.5f}')

    test = waves(3, 40 + 60, numpy.random.default_rng(args.seed + 1))
    prediction = free_run(params, test[:, :40], 60)
    err = (prediction - test[:, 40:]) ** 2
    print(f'free-running: mean squared error {err[:, :20].mean():.4f} over the first 20 steps '
          f'(the horizon it was trained on), {err.mean():.4f} over 60')

    plt = pyplot(args)
    if plt is None:
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2))
    ax1.semilogy(history)
    ax1.set_xlabel('Adam step')
    ax1.set_ylabel('mean squared error')
    ax1.set_title('training loss')
    t = numpy.arange(100)
    for j, colour in enumerate(['tab:blue', 'tab:orange', 'tab:green']):
        first = j == 0                                    # one legend entry per kind of line
        ax2.plot(t, test[j], '-', color=colour, lw=1, alpha=0.5, label='true wave' if first else None)
        ax2.plot(t[40:], prediction[j], '--', color=colour, lw=1.5,
                 label='network, free-running' if first else None)
    ax2.axvline(39.5, color='grey', ls=':', label='end of the given prefix')
    ax2.set_xlabel('time step')
    ax2.set_ylabel('value')
    ax2.set_title('continuing sine waves from a 40-step prefix')
    ax2.legend(fontsize=8, loc='lower left')
    save(fig, args, 'rnn.png')


if __name__ == '__main__':
    main(parse_args(__doc__.splitlines()[0],
                    extra=lambda p: p.add_argument('--steps', type=int, default=800)))
