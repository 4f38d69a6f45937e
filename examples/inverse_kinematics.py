"""Inverse kinematics of a planar robot arm by the Jacobian-transpose method, with pyad.jacobianTv.

    python3 examples/inverse_kinematics.py [--smoke]

A 4-link arm with joint angles theta reaches for a sequence of targets.  Its hand is at
fk(theta); the Jacobian-transpose method moves the joints by  alpha J^T e,  where e is
the error target - fk(theta).  ``pyad.jacobianTv(fk)(theta, e)`` computes J^T e in one
reverse sweep without forming J, and ``pyad.jacobianv(fk)(theta, d)`` gives J d in one
forward pass, which sets Buss's step  alpha = <e, J J^T e> / |J J^T e|^2  (capped so that
no joint turns by more than 0.1 rad per iteration).
"""
from _common import parse_args, progress, pyplot, save, Timer   # first: sets up BLAS threads and the path

import numpy

import pyad
import pyad.numpy as np


LENGTHS = numpy.array([1.0, 0.8, 0.6, 0.4])
CUMULATIVE = numpy.tril(numpy.ones((4, 4)))          # absolute angle of link i = sum_{j<=i} theta_j
QUARTER = numpy.array([0.0, numpy.pi / 2])            # cos(a - pi/2) = sin(a)
MAX_TURN = 0.1                                        # radians per iteration, at most


def joints(theta):
    """Positions of the elbow joints and the hand, shape (links, 2)."""
    phi = CUMULATIVE @ theta
    steps = LENGTHS[:, None] * np.cos(phi[:, None] - QUARTER)    # (cos phi_i, sin phi_i) * l_i
    return CUMULATIVE @ steps


def fk(theta):
    """Forward kinematics: the hand's position."""
    phi = CUMULATIVE @ theta
    return LENGTHS @ np.cos(phi[:, None] - QUARTER)


def reach(theta, target, iterations, tol=1e-4):
    trajectory = [theta]
    for _ in range(iterations):
        e = target - fk(theta)
        if numpy.linalg.norm(e) < tol:
            break
        d = pyad.jacobianTv(fk)(theta, e)             # J^T e, one reverse sweep
        Jd = pyad.jacobianv(fk)(theta, d)             # J J^T e, one forward pass
        alpha = float(e @ Jd) / max(float(Jd @ Jd), 1e-12)
        alpha = min(alpha, MAX_TURN / float(numpy.abs(d).max()))    # small joint moves: a smooth path
        theta = theta + alpha * d
        trajectory.append(theta)
    return theta, trajectory


def main(args):
    targets = numpy.array([[2.0, 1.0], [0.5, 2.2], [-1.5, 1.2], [-0.8, -1.0], [1.8, -1.2]])
    if args.smoke:
        targets = targets[:2]
    iterations = 50 if args.smoke else 400
    theta = numpy.array([0.3, 0.3, 0.3, 0.3])
    paths, finals = [], []
    with Timer() as t:
        for target in progress(targets, desc='targets'):
            theta, trajectory = reach(theta, target, iterations)
            paths.append(numpy.array([numpy.asarray(joints(th)) for th in trajectory]))
            error = numpy.linalg.norm(target - fk(theta))
            finals.append(theta)
            print(f'target {target}: {len(trajectory) - 1:3d} iterations, distance {error:.1e}')
    print(f'{len(targets)} targets in {t.seconds:.2f} s')
    # the method must reach every target within the arm's span
    assert all(numpy.linalg.norm(tg - fk(th)) < (1e-2 if args.smoke else 1e-3)
               for tg, th in zip(targets, finals)), 'a target was not reached'

    plt = pyplot(args)
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(6.5, 6.5))
    ax.add_patch(plt.Circle((0, 0), LENGTHS.sum(), fill=False, ls=':', color='grey'))
    colours = plt.cm.viridis(numpy.linspace(0, 0.9, len(targets)))
    for i, (path, target, colour) in enumerate(zip(paths, targets, colours)):
        first = i == 0                                    # one legend entry per kind of mark
        ax.plot(path[:, -1, 0], path[:, -1, 1], '-', color=colour, lw=1,
                label='path of the hand' if first else None)
        arm = numpy.vstack([[0, 0], path[-1]])
        ax.plot(arm[:, 0], arm[:, 1], 'o-', color=colour, lw=2.5, ms=5,
                label='final pose of the arm' if first else None)
        ax.plot(*target, 'x', color='tab:red', ms=10, mew=2, label='target' if first else None)
    ax.plot(0, 0, 'ks', ms=9, label='base')
    ax.legend(loc='lower left', fontsize=8)
    ax.set_xlabel('x')
    ax.set_ylabel('y')
    ax.set_aspect('equal')
    ax.set_xlim(-3, 3)
    ax.set_ylim(-3, 3)
    ax.set_title('Jacobian-transpose IK with pyad.jacobianTv: hand paths and final poses')
    save(fig, args, 'inverse_kinematics.png')


if __name__ == '__main__':
    main(parse_args(__doc__.splitlines()[0]))
