"""Hypergradients: tune a learning-rate schedule by differentiating through a whole training run.

    python3 examples/hypergradient.py [--smoke] [--meta-steps 40]

A small network is trained by SGD for E epochs, epoch e using the learning rate
exp(s_e).  The validation loss after the last step is a differentiable function of the
schedule s = (s_1, ..., s_E): ``pyad.grad`` takes its gradient through every unrolled SGD
step, each of which itself calls ``pyad.grad`` on the training loss (reverse mode over
reverse mode; nesting is what pyad is for).  Adam on s then tunes the schedule.
"""
from _common import parse_args, progress, pyplot, save, Timer   # first: sets up BLAS threads and the path

import numpy

import pyad
import pyad.numpy as np


def make_data(rng, n):
    x = rng.uniform(-3, 3, (n, 1))
    return x, numpy.sin(2 * x[:, 0]) + 0.3 * x[:, 0] + 0.1 * rng.standard_normal(n)


def init(rng, hidden=16):
    return [rng.standard_normal((1, hidden)), numpy.zeros(hidden),
            rng.standard_normal((hidden, 1)) / numpy.sqrt(hidden), numpy.zeros(1)]


def predict(w, x):
    return (np.tanh(x @ w[0] + w[1]) @ w[2] + w[3])[:, 0]


def mse(w, x, y):
    return np.mean((predict(w, x) - y) ** 2)


def train(log_lrs, w, batches, record=None):
    """SGD over the epochs; epoch e takes steps of size exp(log_lrs[e]).  Differentiable in
    log_lrs (and in w): every step is ordinary pyad arithmetic."""
    for e in range(len(batches)):
        lr = np.exp(log_lrs[e])
        for xb, yb in batches[e]:
            g = pyad.grad(lambda w_: mse(w_, xb, yb))(w)         # the inner gradient ...
            w = [p - lr * gp for p, gp in zip(w, g)]             # ... differentiated by the outer one
        if record is not None:
            record.append(w)
    return w


def main(args):
    rng = numpy.random.default_rng(args.seed)
    xtrain, ytrain = make_data(rng, 64)
    xval, yval = make_data(rng, 200)
    epochs = 3 if args.smoke else 10
    per_epoch = 2 if args.smoke else 4
    # a fixed sequence of minibatches, so that the validation loss is a deterministic function
    batches = []
    for _ in range(epochs):
        order = rng.permutation(len(xtrain))
        batches.append([(xtrain[i], ytrain[i]) for i in numpy.array_split(order, per_epoch)])
    w0 = init(rng)

    def validation_loss(log_lrs):
        return mse(train(log_lrs, w0, batches), xval, yval)

    schedule = numpy.full(epochs, numpy.log(0.01))
    initial = schedule.copy()
    best = (numpy.inf, schedule)
    meta_steps = 2 if args.smoke else args.meta_steps
    history = []
    m = numpy.zeros(epochs)
    v = numpy.zeros(epochs)
    with Timer() as t:
        bar = progress(range(1, meta_steps + 1), desc='meta-steps')
        for i in bar:
            value, g = pyad.fgrad(validation_loss)(schedule)
            history.append(float(value))
            if value < best[0]:
                best = (float(value), schedule)
            m = 0.9 * m + 0.1 * g                                   # Adam on the schedule
            v = 0.999 * v + 0.001 * g ** 2
            schedule = schedule - 0.1 * (m / (1 - 0.9 ** i)) / (numpy.sqrt(v / (1 - 0.999 ** i)) + 1e-8)
            if hasattr(bar, 'set_postfix'):
                bar.set_postfix(val=f'{float(value):.4f}')
    # unrolled optimisation is chaotic where the learning rates approach the edge of
    # stability, so keep the best schedule seen
    final, schedule = best
    print(f'{meta_steps} hypergradients through {epochs * per_epoch} unrolled SGD steps in '
          f'{t.seconds:.1f} s ({t.seconds / meta_steps:.2f} s each)')
    print(f'validation loss: {history[0]:.4f} with a constant learning rate 0.01 -> {final:.4f} '
          f'with the tuned schedule')
    print('tuned learning rates per epoch:', numpy.array2string(numpy.exp(schedule), precision=3))

    # check one hypergradient component against a central difference
    h = 1e-5
    e0 = numpy.eye(epochs)[0]
    fd = (validation_loss(initial + h * e0) - validation_loss(initial - h * e0)) / (2 * h)
    ad = pyad.grad(validation_loss)(initial)[0]
    print(f'd(validation loss)/d(s_1): pyad {ad:.6e}, central difference {float(fd):.6e}')
    assert abs(ad - fd) <= 1e-4 * max(1.0, abs(fd)), 'hypergradient disagrees with finite differences'

    plt = pyplot(args)
    if plt is None:
        return
    before, after = [], []
    train(initial, w0, batches, before)
    train(schedule, w0, batches, after)
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.2))
    ax1.step(range(1, epochs + 1), numpy.exp(initial), where='mid', label='initial')
    ax1.step(range(1, epochs + 1), numpy.exp(schedule), where='mid', label='tuned')
    ax1.set_yscale('log')
    ax1.set_xlabel('epoch')
    ax1.set_ylabel('learning rate')
    ax1.set_title('learning-rate schedule')
    ax1.legend()
    ax2.plot(range(1, epochs + 1), [float(mse(w, xval, yval)) for w in before], 'o-', label='initial schedule')
    ax2.plot(range(1, epochs + 1), [float(mse(w, xval, yval)) for w in after], 'o-', label='tuned schedule')
    ax2.set_yscale('log')
    ax2.set_xlabel('epoch')
    ax2.set_ylabel('validation loss')
    ax2.set_title('training runs, before and after')
    ax2.legend()
    ax3.plot(history, 'o-')
    ax3.set_xlabel('meta-step (Adam on the schedule)')
    ax3.set_ylabel('final validation loss')
    ax3.set_yscale('log')
    ax3.set_title('hypergradient descent')
    save(fig, args, 'hypergradient.png')


if __name__ == '__main__':
    main(parse_args(__doc__.splitlines()[0],
                    extra=lambda p: p.add_argument('--meta-steps', type=int, default=40)))
