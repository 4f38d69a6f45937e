"""A short tour of pyad: derivatives as higher-order functions that nest.

    python3 examples/tour.py

Each section prints what it computes next to the value known in closed form.
"""
from _common import parse_args   # first: sets up BLAS threads and the path

import math
import numpy

import pyad
import pyad.numpy as np


def section(title):
    print(f'\n== {title}')


MISMATCHES = []


def fmt(value):
    text = numpy.array2string(numpy.asarray(value), precision=6, suppress_small=True)
    return ' '.join(text.split())


def show(label, value, expected=None):
    """Print a value next to its closed form; ``value`` may be a thunk, so that a failure
    is reported (and counted) without stopping the tour."""
    if callable(value):
        try:
            value = value()
        except Exception as error:          # noqa: BLE001 -- report it, go on
            print(f'   {label:<44} FAILED: {type(error).__name__}: {error}')
            MISMATCHES.append(label)
            return
    line = f'   {label:<44} {fmt(value)}'
    if expected is not None:
        ok = numpy.allclose(value, expected, rtol=1e-6, atol=1e-9)
        line += f'   (expected {fmt(expected)})'
        if not ok:
            line += '  <-- MISMATCH'
            MISMATCHES.append(label)
    print(line)


def rosenbrock(x):
    return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2


def main(args):
    print(f'pyad {pyad.__version__}: import pyad; import pyad.numpy as np')

    section('grad(f)(x): reverse mode, one taped pass and one sweep')
    f = lambda x: np.sum(np.sin(x) ** 2)                       # noqa: E731
    x = numpy.array([0.1, 0.2, 0.3])
    show('grad(lambda x: sum(sin(x)**2))(x)', lambda: pyad.grad(f)(x), numpy.sin(2 * x))
    show('diff(sin)(0.5): forward mode', lambda: pyad.diff(np.sin)(0.5), math.cos(0.5))
    show('diffn(4, sin)(0.5): 4th derivative', lambda: pyad.diffn(4, np.sin)(0.5), math.sin(0.5))

    section('nested derivatives without perturbation confusion')
    # d/dx (x * d/dy (x + y)) = d/dx (x * 1) = 1; confusing the two perturbations gives 2.
    show('diff(x -> x * diff(y -> x + y)(1))(2)',
         lambda: pyad.diff(lambda x: x * pyad.diff(lambda y: x + y)(1.0))(2.0), 1.0)
    # reverse inside forward: d/dx grad_y (x * y^2)[y=3] = d/dx 6x = 6
    show('diff(x -> grad(y -> x * y^2)(3))(5)',
         lambda: pyad.diff(lambda x: pyad.grad(lambda y: x * y ** 2)(3.0))(5.0), 6.0)
    # a derivative of a function-valued function (Manzyuk et al. 2019):
    # s(x) = (y -> x * y); diff(s)(2) is the function y -> y, fresh tags per call
    show('diff(x -> (y -> x * y))(2)(7)',
         lambda: pyad.diff(lambda x: (lambda y: x * y))(2.0)(7.0), 7.0)

    section('second order: Hessian (forward over reverse) and Hessian-vector product')
    x0 = numpy.array([-1.2, 1.0])
    H_exact = numpy.array([[1200 * x0[0] ** 2 - 400 * x0[1] + 2, -400 * x0[0]],
                           [-400 * x0[0], 200.0]])
    show('grad(rosenbrock)(-1.2, 1)', lambda: pyad.grad(rosenbrock)(x0),
         [-2 * (1 - x0[0]) - 400 * x0[0] * (x0[1] - x0[0] ** 2), 200 * (x0[1] - x0[0] ** 2)])
    show('hessian(rosenbrock)(-1.2, 1)', lambda: pyad.hessian(rosenbrock)(x0), H_exact)
    v = numpy.array([1.0, -1.0])
    show('hessianv(rosenbrock)(x, v): no dense H', lambda: pyad.hessianv(rosenbrock)(x0, v),
         H_exact @ v)

    section('Jacobians: jacobian picks forward or reverse mode from the sizes')
    def polar(p):                       # (r, theta) -> (r cos theta, r sin theta)
        return p[0] * np.cos(p[1] - numpy.array([0.0, math.pi / 2]))
    p = numpy.array([2.0, math.pi / 6])
    c, s = math.cos(p[1]), math.sin(p[1])
    J = numpy.array([[c, -p[0] * s], [s, p[0] * c]])
    show('jacobian(polar)(2, pi/6)', lambda: pyad.jacobian(polar)(p), J)
    u = numpy.array([1.0, 1.0])
    show('jacobianv(polar)(p, u)  = J u', lambda: pyad.jacobianv(polar)(p, u), J @ u)
    show('jacobianTv(polar)(p, u) = J^T u', lambda: pyad.jacobianTv(polar)(p, u), J.T @ u)

    section('a fixed point, differentiated: Heron\'s square root x = (x + a/x) / 2')
    fixed_point = getattr(pyad, 'fixed_point', None)
    if fixed_point is None:
        print('   (pyad.fixed_point is not in this build)')
    else:
        def heron(a):
            return fixed_point(lambda a_, x: (x + a_ / x) / 2, a, 1.0, tol=1e-12, max_iter=200)
        show('fixed_point(heron, 2.0)', lambda: heron(2.0), math.sqrt(2.0))
        show('diff(heron)(2.0): forward', lambda: pyad.diff(heron)(2.0), 0.5 / math.sqrt(2.0))
        show('grad(heron)(2.0): reverse, two-phase', lambda: pyad.grad(heron)(2.0),
             0.5 / math.sqrt(2.0))
        show('diff(grad(heron))(2.0): 2nd derivative', lambda: pyad.diff(pyad.grad(heron))(2.0),
             -0.25 * 2.0 ** -1.5)

    section("a Newton step: g, H = gradhessian(f)(x); x - solve_symmetric(H, g)")
    try:
        from pyad.linalg import solve_symmetric
        solver = 'pyad.linalg.solve_symmetric'
    except ImportError:
        solve_symmetric = numpy.linalg.solve
        solver = 'numpy.linalg.solve (pyad.linalg is not in this build)'
    x = x0
    try:
        for step in range(1, 8):
            g, H = pyad.gradhessian(rosenbrock)(x)
            x = x - solve_symmetric(H, g)
            print(f'   step {step}: x = {fmt(x)}   f(x) = {float(rosenbrock(x)):.3e}')
        show('after 7 Newton steps from (-1.2, 1)', x, [1.0, 1.0])
    except Exception as error:                      # noqa: BLE001 -- report it, go on
        print(f'   Newton step FAILED: {type(error).__name__}: {error}')
        MISMATCHES.append('Newton step')
    print(f'   (solved with {solver}; see examples/newton.py for the full method)')

    print('\nMore: examples/newton.py, classifier.py, hmc.py, kmeans.py, rnn.py,'
          ' inverse_kinematics.py, hypergradient.py; the documentation in docs/.')
    if MISMATCHES:
        print(f'\n{len(MISMATCHES)} value(s) differ from the closed form: {MISMATCHES}')
        return 1
    return 0


if __name__ == '__main__':
    raise SystemExit(main(parse_args(__doc__.splitlines()[0])))
