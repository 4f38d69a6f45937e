"""odeint's gradient against a hand-written NumPy/SciPy adjoint, on a small ODE.

Lotka-Volterra, y = (prey, predator), parameters θ = (a, b, c, d):
    y0' = a y0 - b y0 y1,   y1' = -c y1 + d y0 y1,
loss L = Σ_i |y(t_i)|² over 11 times in [0, 5].  Both sides solve with
scipy.integrate.solve_ivp (DOP853) at the same tolerances.

* pyad: ``pyad.grad(loss)(θ)`` with ``pyad.scipy.integrate.odeint`` (θ passed as
  odeint's arguments; also timed: θ closed over by func, and the first gradient
  of a func odeint has not seen, which traces its compiled programs).

Wall-clock and CPU times (of this process) are both printed: on a shared machine
the CPU time is the steadier of the two.
* hand-written: the forward solve, then the augmented backward ODE
  [y, λ, μ]' = [f, -Jᵀλ, -(∂f/∂θ)ᵀλ] interval by interval (the analytic
  Jacobians written out), λ jumping by 2 y(t_i) at each output time.

Both are checked against each other before timing.  Usage:
    python bench/odeint_adjoint.py [repeats]
"""
import os
import sys
import time

for _v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_v, '1')

import numpy as np                                          # noqa: E402
from scipy.integrate import solve_ivp                       # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import pyad                                                 # noqa: E402
import pyad.numpy as pnp                                    # noqa: E402
from pyad.scipy.integrate import odeint                     # noqa: E402

TOL = dict(rtol=1e-8, atol=1e-8)
T = np.linspace(0.0, 5.0, 11)
Y0 = np.array([1.0, 0.5])
THETA = np.array([1.1, 0.4, 0.4, 0.1])


def lotka(y, t, a, b, c, d):
    return pnp.stack([a * y[0] - b * y[0] * y[1], -c * y[1] + d * y[0] * y[1]])


def pyad_loss(theta, func=lotka):
    ys = odeint(func, Y0, T, theta[0], theta[1], theta[2], theta[3], **TOL)
    return pnp.sum(ys * ys)


def pyad_closure_loss(theta):
    """The same loss with θ closed over rather than passed as arguments."""
    ys = odeint(lambda y, t: lotka(y, t, theta[0], theta[1], theta[2], theta[3]), Y0, T, **TOL)
    return pnp.sum(ys * ys)


def first_call():
    """The gradient with odeint's kept programs dropped first, as for a func it has
    not seen: the programs are traced in this call."""
    from pyad.scipy import integrate
    integrate._SHARED.clear()
    return pyad.grad(pyad_loss)(THETA)


def _f(y, th):
    a, b, c, d = th
    return np.array([a * y[0] - b * y[0] * y[1], -c * y[1] + d * y[0] * y[1]])


def _jac_y(y, th):
    a, b, c, d = th
    return np.array([[a - b * y[1], -b * y[0]], [d * y[1], -c + d * y[0]]])


def _jac_theta(y):
    return np.array([[y[0], -y[0] * y[1], 0.0, 0.0], [0.0, 0.0, -y[1], y[0] * y[1]]])


def hand_written(theta):
    fwd = solve_ivp(lambda t, y: _f(y, theta), (T[0], T[-1]), Y0, method='DOP853',
                    t_eval=T, **TOL)
    ys = fwd.y.T
    loss = float(np.sum(ys * ys))

    def backward(t, s):
        y, lam = s[:2], s[2:4]
        return np.concatenate([_f(y, theta), -_jac_y(y, theta).T @ lam,
                               -_jac_theta(y).T @ lam])

    lam = np.zeros(2)
    mu = np.zeros(4)
    for i in range(len(T) - 1, 0, -1):
        lam = lam + 2 * ys[i]
        sol = solve_ivp(backward, (T[i], T[i - 1]), np.concatenate([ys[i], lam, mu]),
                        method='DOP853', **TOL)
        s = sol.y[:, -1]
        lam, mu = s[2:4], s[4:]
    return loss, mu


def best_of(fn, repeats):
    """The best wall-clock time and the best CPU time of this process (the second
    is steadier on a shared machine), in seconds."""
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu)


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    g_pyad = pyad.grad(pyad_loss)(THETA)
    _, g_hand = hand_written(THETA)
    g_closure = pyad.grad(pyad_closure_loss)(THETA)
    g_first = first_call()
    scale = np.max(np.abs(g_hand))
    rel = float(np.max(np.abs(g_pyad - g_hand)) / scale)
    print(f'gradient pyad        {g_pyad}')
    print(f'gradient hand-written {g_hand}')
    print(f'max relative difference {rel:.2e}')
    for name, g in (('closure form', g_closure), ('first call', g_first)):
        print(f'  {name}: max relative difference {np.max(np.abs(g - g_hand)) / scale:.2e}')
    assert rel < 1e-6 and np.max(np.abs(g_closure - g_hand)) / scale < 1e-6
    t_pyad = best_of(lambda: pyad.grad(pyad_loss)(THETA), repeats)
    t_hand = best_of(lambda: hand_written(THETA), repeats)
    t_val = best_of(lambda: pyad_loss(THETA), repeats)
    t_first = best_of(first_call, repeats)
    t_closure = best_of(lambda: pyad.grad(pyad_closure_loss)(THETA), repeats)
    rows = (('pyad grad', t_pyad), ('hand-written adjoint', t_hand), ('pyad value only', t_val),
            ('pyad grad, first call (traces)', t_first),
            ('pyad grad, θ closed over', t_closure))
    print(f'{"":46s} {"wall":>8s} {"CPU":>8s}   (ms, best of {repeats})')
    for name, (wall, cpu) in rows:
        print(f'{name:46s} {1e3 * wall:8.1f} {1e3 * cpu:8.1f}')
    print(f'ratio pyad / hand-written: {t_pyad[0] / t_hand[0]:.1f}x wall, '
          f'{t_pyad[1] / t_hand[1]:.1f}x CPU')

if __name__ == '__main__':
    main()
