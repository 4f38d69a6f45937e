"""Newton's method, as DiffSharp's argminNewton: gradhessian + solve_symmetric.

    python3 examples/newton.py [--smoke] [--dim 10]

DiffSharp writes the step as ``x - (hessian f x)^-1 * (grad f x)``; in pyad it is

    g, H = pyad.gradhessian(f)(x)            # one forward-over-reverse pass
    x = x - pyad.linalg.solve_symmetric(H, g)

We minimise the Rosenbrock function: in 2-D with pure Newton steps (against 20000 steps
of gradient descent), then in n-D from a random start, safeguarded by a backtracking line
search and a diagonal shift where H is not positive definite (and, where this build has
it, with the library's own pyad.optim.newton for comparison).
"""
from _common import parse_args, progress, pyplot, save, Timer   # first: sets up BLAS threads and the path

import numpy

import pyad
import pyad.numpy as np


try:
    from pyad.linalg import solve_symmetric
    SOLVER = 'pyad.linalg.solve_symmetric'
except ImportError:                       # pyad.linalg not in this build
    solve_symmetric = numpy.linalg.solve
    SOLVER = 'numpy.linalg.solve'


def rosenbrock(x):
    """The extended Rosenbrock function; its minimum is 0 at (1, ..., 1)."""
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def argmin_newton(f, x0, tol=1e-10, max_iter=100, line_search=True):
    """Newton's method, optionally safeguarded by a backtracking (Armijo) line search;
    returns the path.  Without the line search it is DiffSharp's argminNewton."""
    x = numpy.asarray(x0, dtype=float)
    path = [x]
    for _ in range(max_iter):
        g, H = pyad.gradhessian(f)(x)
        if numpy.linalg.norm(g) < tol:
            break
        # Far from the minimum H may be indefinite: shift it until the Newton direction
        # is a descent direction (a Levenberg-style safeguard; near x* it is never used).
        lowest = numpy.linalg.eigvalsh(H).min()
        shift = 0.0 if lowest > 1e-8 else 1e-3 - lowest
        step = solve_symmetric(H + shift * numpy.eye(len(x)), g)
        fx, t = float(f(x)), 1.0
        while line_search and float(f(x - t * step)) > fx - 1e-4 * t * float(g @ step) and t > 1e-10:
            t *= 0.5
        x = x - t * step
        path.append(x)
    return numpy.array(path)


def gradient_descent(f, x0, lr, steps, desc):
    x = numpy.asarray(x0, dtype=float)
    path = [x]
    for _ in progress(range(steps), desc=desc):
        x = x - lr * pyad.grad(f)(x)
        path.append(x)
    return numpy.array(path)


def main(args):
    print(f'Newton steps solved with {SOLVER}')
    x0 = numpy.array([-1.2, 1.0])
    with Timer() as t:
        newton = argmin_newton(rosenbrock, x0, line_search=False)
    print(f'2-D Rosenbrock from {x0}: pure Newton reaches {newton[-1]} '
          f'(f = {float(rosenbrock(newton[-1])):.2e}) in {len(newton) - 1} steps, {t.seconds:.2f} s')
    assert numpy.allclose(newton[-1], 1.0, atol=1e-6), 'Newton did not converge'

    gd_steps = 200 if args.smoke else 20000
    with Timer() as t:
        gd = gradient_descent(rosenbrock, x0, 1e-3, gd_steps, 'gradient descent (2-D)')
    print(f'gradient descent, {gd_steps} steps of lr 1e-3: {gd[-1]} '
          f'(f = {float(rosenbrock(gd[-1])):.2e}), {t.seconds:.2f} s')

    n = 4 if args.smoke else args.dim
    xn = numpy.random.default_rng(args.seed).uniform(0.0, 0.5, n)
    with Timer() as t:
        newton_n = argmin_newton(rosenbrock, xn)
    values = [float(rosenbrock(x)) for x in newton_n]
    print(f'{n}-D Rosenbrock from a random start: Newton with a line search reaches f = {values[-1]:.2e} in {len(newton_n) - 1} steps, '
          f'{t.seconds:.2f} s; |x - 1| = {numpy.abs(newton_n[-1] - 1).max():.1e}')

    try:
        from pyad.optim import newton as optim_newton       # the library's version of the same
    except ImportError:
        optim_newton = None
    if optim_newton is not None:
        result = optim_newton(rosenbrock, xn)
        print(f'pyad.optim.newton on the same problem: f = {result.f:.2e} after '
              f'{result.iterations} iterations (converged: {result.converged})')

    plt = pyplot(args)
    if plt is None:
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    X, Y = numpy.meshgrid(numpy.linspace(-2, 2, 300), numpy.linspace(-4, 3, 400))
    Z = (1 - X) ** 2 + 100 * (Y - X ** 2) ** 2
    ax1.contour(X, Y, numpy.log10(Z + 1e-3), levels=25, cmap='viridis', linewidths=0.7)
    ax1.plot(gd[:, 0], gd[:, 1], '-', color='tab:orange', lw=1, label=f'gradient descent ({gd_steps} steps)')
    ax1.plot(newton[:, 0], newton[:, 1], 'o-', color='tab:red', ms=4, label=f'Newton ({len(newton) - 1} steps)')
    ax1.plot([1], [1], '*', color='k', ms=12, label='minimum (1, 1)')
    ax1.set_xlabel('x1')
    ax1.set_ylabel('x2')
    ax1.set_title('Rosenbrock: Newton (gradhessian) vs gradient descent')
    ax1.legend(loc='lower right', fontsize=8)
    ax2.semilogy(numpy.maximum(values, 1e-300), 'o-', color='tab:red', label=f'Newton, n = {n}')
    ax2.set_xlabel('Newton iteration')
    ax2.set_ylabel('f(x)')
    ax2.set_title(f'{n}-D Rosenbrock, Newton')
    ax2.set_ylim(1e-25, 10 * max(values))
    ax2.legend()
    save(fig, args, 'newton.png')


if __name__ == '__main__':
    main(parse_args(__doc__.splitlines()[0],
                    extra=lambda p: p.add_argument('--dim', type=int, default=10,
                                                   help='dimension of the n-D Rosenbrock run')))
