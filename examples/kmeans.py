"""k-means by gradient descent: the soft (annealed) objective, then the hard one, with pyad.grad.

    python3 examples/kmeans.py [--smoke] [--k 5]

The hard k-means objective  sum_i min_k |x_i - c_k|^2  is piecewise smooth; its gradient
pulls each centre towards the points assigned to it.  The soft objective replaces the min
by a soft-min at temperature T,  -T log sum_k exp(-|x_i - c_k|^2 / T),  which is smooth
and lets centres move between clusters; annealing T to zero recovers the hard objective.
We descend the soft objective with a falling temperature, finish on the hard one, and
compare with Lloyd's algorithm.
"""
from _common import parse_args, progress, pyplot, save, Timer   # first: sets up BLAS threads and the path

import numpy

import pyad
import pyad.numpy as np


def sq_distances(centres, X):
    """|x_i - c_k|^2 for all i, k: shape (points, k)."""
    return np.sum((X[:, None, :] - centres[None, :, :]) ** 2, axis=2)


def soft_objective(centres, X, T):
    d = sq_distances(centres, X)
    # a constant shift (no gradient through it) keeps exp from underflowing
    m = numpy.min(pyad.stop_gradient(d), axis=1, keepdims=True)
    return np.mean(m - T * np.log(np.sum(np.exp(-(d - m) / T), axis=1)))


def hard_objective(centres, X):
    d = sq_distances(centres, X)
    nearest = numpy.argmin(pyad.stop_gradient(d), axis=1)       # the assignment: no gradient
    onehot = numpy.eye(d.shape[1])[nearest]
    return np.mean(np.sum(onehot * d, axis=1))


def lloyd(centres, X, iterations=100):
    for _ in range(iterations):
        nearest = numpy.argmin(((X[:, None] - centres[None]) ** 2).sum(2), axis=1)
        centres = numpy.array([X[nearest == j].mean(0) if numpy.any(nearest == j) else centres[j]
                               for j in range(len(centres))])
    return centres


def main(args):
    rng = numpy.random.default_rng(args.seed)
    k = args.k
    true_centres = rng.uniform(-6, 6, (k, 2))
    per = 40 if args.smoke else 300
    X = numpy.concatenate([c + rng.standard_normal((per, 2)) for c in true_centres])
    start = X[rng.choice(len(X), k, replace=False)]

    steps = 60 if args.smoke else 400
    lr = 0.5 * k        # the gradient of a mean over points scales like 1/k per centre
    centres = start.copy()
    trail, history = [centres], []
    with Timer() as t:
        for i in progress(range(steps), desc='soft k-means'):
            T = 2.0 * (0.01 / 2.0) ** (i / (steps - 1))            # 2 -> 0.01
            value, g = pyad.fgrad(lambda c: soft_objective(c, X, T))(centres)
            centres = centres - lr * g
            trail.append(centres)
            history.append(float(hard_objective(centres, X)))
        for _ in progress(range(steps // 4), desc='hard k-means'):
            centres = centres - 0.5 * lr * pyad.grad(lambda c: hard_objective(c, X))(centres)
            trail.append(centres)
            history.append(float(hard_objective(centres, X)))
    reference = lloyd(start.copy(), X)
    ours, theirs = history[-1], float(hard_objective(reference, X))
    print(f'{len(trail) - 1} gradient steps in {t.seconds:.1f} s: k-means objective '
          f'{float(hard_objective(start, X)):.3f} -> {ours:.4f}; Lloyd from the same start: {theirs:.4f}')

    plt = pyplot(args)
    if plt is None:
        return
    trail = numpy.array(trail)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.8))
    nearest = numpy.argmin(((X[:, None] - centres[None]) ** 2).sum(2), axis=1)
    ax1.scatter(X[:, 0], X[:, 1], c=nearest, cmap='tab10', s=5, alpha=0.5,
                label='data (colour: nearest centre)')
    for j in range(k):
        ax1.plot(trail[:, j, 0], trail[:, j, 1], '-', color='k', lw=0.8,
                 label='path of a centre' if j == 0 else None)
    ax1.plot(start[:, 0], start[:, 1], 'ko', mfc='w', ms=6, label='start')
    ax1.plot(centres[:, 0], centres[:, 1], 'k*', ms=14, label='gradient descent')
    ax1.plot(reference[:, 0], reference[:, 1], 'r+', ms=14, mew=2, label="Lloyd's algorithm")
    ax1.legend(fontsize=8)
    ax1.set_xlabel('x1')
    ax1.set_ylabel('x2')
    ax1.set_title('centres: annealed soft k-means, then hard')
    ax2.plot(history, label='gradient descent')
    ax2.axhline(theirs, color='r', ls='--', lw=1, label="Lloyd's algorithm")
    ax2.axvline(steps, color='grey', ls=':', lw=1, label='soft -> hard objective')
    ax2.set_yscale('log')
    ax2.set_xlabel('gradient step (soft, then hard)')
    ax2.set_ylabel('k-means objective')
    ax2.set_title('k-means objective during the descent')
    ax2.legend()
    save(fig, args, 'kmeans.png')


if __name__ == '__main__':
    main(parse_args(__doc__.splitlines()[0],
                    extra=lambda p: p.add_argument('--k', type=int, default=5)))
