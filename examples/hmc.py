"""Hamiltonian Monte Carlo on a banana-shaped 2-D density, with pyad.grad for the leapfrog.

    python3 examples/hmc.py [--smoke] [--samples 2000]

The target is x ~ N(0, 2^2), y | x ~ N(x^2 / 4, 0.5^2): curved, so a random walk mixes
slowly, while HMC follows the gradient of the log density.  Several chains run at once:
their potentials add up, so one ``grad`` of the sum gives every chain its own gradient.
Checks E[x] = 0, E[x^2] = 4, E[y] = 1 and reports the acceptance rate.
"""
from _common import parse_args, progress, pyplot, save, Timer   # first: sets up BLAS threads and the path

import numpy

import pyad
import pyad.numpy as np


def potential(q):
    """-log density (up to a constant) of each chain's position; q has shape (chains, 2)."""
    x, y = q[:, 0], q[:, 1]
    return x ** 2 / (2 * 2.0 ** 2) + (y - x ** 2 / 4) ** 2 / (2 * 0.5 ** 2)


grad_U = pyad.grad(lambda q: np.sum(potential(q)))   # chains are independent: one sweep


def leapfrog(q, p, eps, steps):
    p = p - 0.5 * eps * grad_U(q)
    for i in range(steps):
        q = q + eps * p
        if i < steps - 1:
            p = p - eps * grad_U(q)
    p = p - 0.5 * eps * grad_U(q)
    return q, p


def hmc(q, n_samples, eps, steps, rng):
    chains = q.shape[0]
    samples = numpy.empty((n_samples, chains, 2))
    accepted = 0
    for s in progress(range(n_samples), desc='HMC'):
        p = rng.standard_normal(q.shape)
        # jitter the trajectory length a little, so that no orbit is periodic
        with numpy.errstate(all='ignore'):     # a diverging trajectory is simply rejected
            q_new, p_new = leapfrog(q, p, eps * rng.uniform(0.8, 1.2), steps)
            H_old = potential(q) + 0.5 * numpy.sum(p ** 2, axis=1)
            H_new = potential(q_new) + 0.5 * numpy.sum(p_new ** 2, axis=1)
        accept = numpy.isfinite(H_new) & (numpy.log(rng.uniform(size=chains)) < H_old - H_new)
        q = numpy.where(accept[:, None], q_new, q)
        accepted += int(accept.sum())
        samples[s] = q
    return samples, accepted / (n_samples * chains)


def main(args):
    rng = numpy.random.default_rng(args.seed)
    chains = 4
    n = 100 if args.smoke else args.samples
    q0 = rng.standard_normal((chains, 2))
    with Timer() as t:
        samples, rate = hmc(q0, n, eps=0.2, steps=20, rng=rng)
    kept = samples[n // 10:].reshape(-1, 2)               # drop a burn-in
    x, y = kept[:, 0], kept[:, 1]
    print(f'{n} HMC iterations x {chains} chains (20 leapfrog steps each) in {t.seconds:.1f} s; '
          f'acceptance rate {rate:.2f}')
    print(f'E[x]   = {x.mean():+.3f}  (exact 0)')
    print(f'E[x^2] = {numpy.mean(x ** 2):.3f}   (exact 4)')
    print(f'E[y]   = {y.mean():.3f}   (exact 1)')

    plt = pyplot(args)
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    gx, gy = numpy.meshgrid(numpy.linspace(-7, 7, 300), numpy.linspace(-2, 12, 300))
    U = potential(numpy.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(gx.shape)
    ax.plot(x, y, '.', ms=2, alpha=0.25, color='tab:red', label='HMC samples')
    # contours of -log density (0.5 ... 8): the inner ones hold most of the mass
    contours = ax.contour(gx, gy, U, levels=[0.5, 1, 2, 4, 8], cmap='viridis_r', linewidths=1.2)
    ax.clabel(contours, fontsize=7)
    ax.set_title(f'HMC samples (acceptance {rate:.2f}); contours of -log density')
    ax.legend(loc='upper right', markerscale=5)
    ax.set_xlabel('x')
    ax.set_ylabel('y')
    save(fig, args, 'hmc.png')


if __name__ == '__main__':
    main(parse_args(__doc__.splitlines()[0],
                    extra=lambda p: p.add_argument('--samples', type=int, default=2000)))
