"""pyad.optim: first-order optimisers, line searches, Newton, Newton-CG, nonlinear CG,
and hypergradients through a training run."""
import numpy as onp
import pytest

import pyad
import pyad.numpy as np
from pyad import optim
from pyad import numerical

A = onp.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.5]])
B = onp.array([1.0, -1.0, 2.0])
X_STAR = onp.linalg.solve(A, B)


def quadratic(x):
    return 0.5 * (x @ (A @ x)) - B @ x


def rosenbrock(x):
    return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2


X0_ROSEN = onp.array([-1.2, 1.0])


# ----------------------------------------------------------------- first-order optimisers
FIRST_ORDER = {
    'sgd': (optim.sgd, dict(lr=0.2), dict(lr=1.5e-3)),
    'momentum': (optim.momentum, dict(lr=0.1), dict(lr=1e-3)),
    'nesterov': (optim.nesterov, dict(lr=0.1), dict(lr=1e-3)),
    'adagrad': (optim.adagrad, dict(lr=0.5), dict(lr=1.0)),
    'rmsprop': (optim.rmsprop, dict(lr=lambda t: 0.05 * 0.99 ** t),
                dict(lr=lambda t: 1e-2 * 0.998 ** t)),
    'adam': (optim.adam, dict(lr=0.1), dict(lr=0.05)),
}
SOLVES_ROSENBROCK = {'momentum', 'nesterov', 'adam'}


def _train(opt, f, x0, steps):
    params, state = x0, opt.init(x0)
    for _ in range(steps):
        params, state = opt.update(pyad.grad(f)(params), state, params)
    return params


@pytest.mark.parametrize('name', sorted(FIRST_ORDER))
def test_first_order_solves_quadratic(name):
    make, kw, _ = FIRST_ORDER[name]
    x = _train(make(**kw), quadratic, onp.zeros(3), 600)
    onp.testing.assert_allclose(x, X_STAR, atol=1e-4)


@pytest.mark.parametrize('name', sorted(FIRST_ORDER))
def test_first_order_rosenbrock(name):
    make, _, kw = FIRST_ORDER[name]
    r = optim.minimize(rosenbrock, X0_ROSEN, method=make(**kw), max_iter=3000, gtol=1e-5)
    assert r.f < 1e-2 * rosenbrock(X0_ROSEN) * 1e-1      # from 24.2 to below 0.0242
    if name in SOLVES_ROSENBROCK:
        onp.testing.assert_allclose(r.x, [1.0, 1.0], atol=1e-3)
    else:
        onp.testing.assert_allclose(r.x, [1.0, 1.0], atol=0.2)   # slow along the valley


def test_pytree_params_and_state():
    target = {'w': onp.array([1.0, -2.0]), 'b': 0.5}

    def loss(p):
        return np.sum((p['w'] - target['w']) ** 2) + (p['b'] - target['b']) ** 2
    params = {'w': onp.zeros(2), 'b': 0.0}
    opt = optim.adam(lr=0.1)
    state = opt.init(params)
    assert state.count == 0
    for _ in range(500):
        params, state = opt.update(pyad.grad(loss)(params), state, params)
    assert state.count == 500
    assert set(params) == {'w', 'b'}
    onp.testing.assert_allclose(params['w'], target['w'], atol=1e-3)
    assert abs(params['b'] - 0.5) < 1e-3
    with pytest.raises(ValueError, match='structure'):
        opt.update({'w': onp.zeros(2)}, state, params)


def test_nesterov_differs_from_momentum_and_first_steps():
    g = onp.array([1.0, 2.0])
    p0 = onp.zeros(2)
    for make, expected in [(optim.sgd(lr=0.1), -0.1 * g),
                           (optim.momentum(lr=0.1, beta=0.9), -0.1 * g),
                           (optim.nesterov(lr=0.1, beta=0.9), -0.1 * 1.9 * g),
                           (optim.adam(lr=0.1), -0.1 * onp.ones(2)),
                           (optim.adagrad(lr=0.1), -0.1 * onp.ones(2)),
                           (optim.rmsprop(lr=0.1, decay=0.9), -0.1 * g / onp.sqrt(0.1 * g * g))]:
        p1, _ = make.update(g, make.init(p0), p0)
        onp.testing.assert_allclose(p1, expected, rtol=1e-6)


def test_gradient_clipping():
    g = {'a': onp.array([3.0, 0.0]), 'b': 4.0}
    clipped = optim.clip_by_global_norm(g, 1.0)
    assert float(optim.global_norm(clipped)) == pytest.approx(1.0)
    onp.testing.assert_allclose(clipped['a'], [0.6, 0.0])
    same = optim.clip_by_global_norm(g, 10.0)
    onp.testing.assert_allclose(same['a'], g['a'])
    by_value = optim.clip_by_value(g, 2.0)
    onp.testing.assert_allclose(by_value['a'], [2.0, 0.0])
    assert float(by_value['b']) == 2.0
    opt = optim.sgd(lr=1.0, clip_norm=1.0)
    p, _ = opt.update(g, opt.init({'a': onp.zeros(2), 'b': 0.0}), {'a': onp.zeros(2), 'b': 0.0})
    onp.testing.assert_allclose(p['a'], [-0.6, 0.0])
    # clipping is differentiable: d/dg of the clipped norm is 0 above the threshold
    d = pyad.grad(lambda v: optim.global_norm(optim.clip_by_global_norm(v, 1.0)))(onp.array([3.0, 4.0]))
    onp.testing.assert_allclose(d, [0.0, 0.0], atol=1e-12)


# ----------------------------------------------------------------- hypergradients
def _final_loss(lr, make=optim.sgd, steps=10):
    """The loss after ``steps`` updates from a fixed start, as a function of lr."""
    w_true = onp.array([0.5, -1.0, 2.0])
    X = onp.linspace(-1, 1, 24).reshape(8, 3)
    y = X @ w_true + 0.1 * onp.sin(onp.arange(8.0))

    def loss(w):
        r = X @ w - y
        return np.mean(r * r) + 0.01 * np.sum(np.tanh(w) ** 2)
    opt = make(lr)
    w, state = onp.zeros(3), opt.init(onp.zeros(3))
    for _ in range(steps):
        w, state = opt.update(pyad.grad(loss)(w), state, w)
    return loss(w)


@pytest.mark.parametrize('make', [optim.sgd, optim.momentum, optim.adam],
                         ids=['sgd', 'momentum', 'adam'])
def test_hypergradient_matches_finite_difference(make):
    lr = 0.1
    hyper = pyad.grad(lambda r: _final_loss(r, make))(lr)
    fd = numerical.diff(lambda r: _final_loss(r, make))(lr)
    assert hyper == pytest.approx(fd, rel=1e-5, abs=1e-9)
    # and forward mode through the training run agrees
    assert pyad.diff(lambda r: _final_loss(r, make))(lr) == pytest.approx(hyper, rel=1e-10)


def test_hypergradient_descent_improves_learning_rate():
    lr = 0.02
    before = _final_loss(lr)
    for _ in range(5):
        lr = lr - 0.05 * pyad.grad(_final_loss)(lr)
    assert _final_loss(lr) < before


# ----------------------------------------------------------------- line searches
def _fg(f):
    def fg(z):
        v, g = pyad.fgrad(f)(z)
        return float(v), onp.asarray(g)
    return fg


def test_backtracking_armijo():
    fg = _fg(rosenbrock)
    f0, g0 = fg(X0_ROSEN)
    r = optim.backtracking(fg, X0_ROSEN, -g0, f0, g0)
    assert r.success and 0 < r.alpha < 1
    assert r.f <= f0 + 1e-4 * r.alpha * float(g0 @ -g0)


@pytest.mark.parametrize('c2', [0.9, 0.1])
def test_strong_wolfe(c2):
    fg = _fg(rosenbrock)
    for x in [X0_ROSEN, onp.array([0.5, 0.8]), onp.array([2.0, 2.0])]:
        f0, g0 = fg(x)
        p = -g0 / onp.linalg.norm(g0)
        r = optim.strong_wolfe(fg, x, p, f0, g0, c2=c2)
        assert r.success
        assert r.f <= f0 + 1e-4 * r.alpha * float(g0 @ p)
        assert abs(float(r.grad @ p)) <= c2 * abs(float(g0 @ p)) + 1e-12
        # the reported f and gradient are those at x + alpha p
        v, g = fg(x + r.alpha * p)
        assert v == pytest.approx(r.f) and onp.allclose(g, r.grad)


# ----------------------------------------------------------------- minimisers
def test_newton_one_step_on_quadratic():
    r = optim.newton(quadratic, onp.zeros(3), line_search=None)
    assert r.converged and r.iterations == 1
    onp.testing.assert_allclose(r.x, X_STAR, rtol=1e-12)
    r = optim.newton(quadratic, onp.array([5.0, -3.0, 1.0]))        # with the line search too
    assert r.converged and r.iterations == 1
    onp.testing.assert_allclose(r.x, X_STAR, rtol=1e-12)


@pytest.mark.parametrize('method', ['newton', 'newton-cg', 'cg'])
def test_second_order_and_cg_solve_rosenbrock(method):
    r = optim.minimize(rosenbrock, X0_ROSEN, method=method, gtol=1e-8)
    assert r.converged, r.message
    onp.testing.assert_allclose(r.x, [1.0, 1.0], atol=1e-6)
    assert r.f < 1e-12 and r.grad_norm < 1e-7
    assert r.history[0] == pytest.approx(rosenbrock(X0_ROSEN))
    assert r.iterations < {'newton': 50, 'newton-cg': 150, 'cg': 200}[method]


@pytest.mark.parametrize('method', ['newton', 'newton-cg', 'cg', 'gd'])
def test_minimisers_solve_quadratic(method):
    r = optim.minimize(quadratic, onp.zeros(3), method=method, gtol=1e-9)
    assert r.converged, r.message
    onp.testing.assert_allclose(r.x, X_STAR, atol=1e-7)


def test_newton_cg_matches_dense_newton_on_quadratic_in_n_cg_steps():
    r = optim.newton_cg(quadratic, onp.zeros(3), gtol=1e-10)       # inexact steps: a few
    assert r.converged and r.iterations <= 6
    onp.testing.assert_allclose(r.x, X_STAR, atol=1e-9)
    r = optim.newton_cg(quadratic, onp.zeros(3), gtol=1e-10, cg_rtol=1e-14)    # exact: one
    assert r.converged and r.iterations == 1
    onp.testing.assert_allclose(r.x, X_STAR, atol=1e-9)


def test_newton_handles_indefinite_hessian():
    # a saddle at the start: H is indefinite there, the damped step still descends
    f = lambda x: x[0] ** 4 - 2 * x[0] ** 2 + x[1] ** 2 + 0.5 * x[0]
    r = optim.newton(f, onp.array([0.1, 1.0]))
    assert r.converged, r.message
    g = pyad.grad(f)(r.x)
    assert onp.linalg.norm(g) < 1e-7
    assert onp.all(onp.linalg.eigvalsh(pyad.hessian(f)(r.x)) > 0)      # a minimum, not the saddle


def test_minimize_pytree_and_result():
    def f(p):
        return np.sum((p['w'] - 1.0) ** 2) + (p['b'] + 2.0) ** 2 + p['w'][0] * p['b'] * 0.1
    x0 = {'w': onp.zeros(2), 'b': 0.0}
    for method in ['newton', 'newton-cg', 'cg']:
        r = optim.minimize(f, x0, method=method, gtol=1e-10)
        assert r.converged
        assert isinstance(r.x, dict) and r.x['w'].shape == (2,) and isinstance(r.x['b'], float)
        assert onp.linalg.norm(numerical.grad(f)(r.x)['w']) < 1e-6
    with pytest.raises(ValueError, match='unknown method'):
        optim.minimize(f, x0, method='bogus')


def test_minimize_float32_keeps_dtype():
    r = optim.minimize(quadratic, onp.zeros(3, dtype=onp.float32), method='newton', gtol=1e-4)
    assert r.x.dtype == onp.float32
    onp.testing.assert_allclose(r.x, X_STAR, atol=1e-4)


def test_hypergradient_through_a_schedule():
    # d(final loss)/d(initial learning rate) through an exponentially decaying schedule
    run = lambda lr0: _final_loss(lr0, lambda lr: optim.adam(lr=lambda t: lr * 0.9 ** t), steps=8)
    hyper = pyad.grad(run)(0.05)
    assert hyper == pytest.approx(numerical.diff(run)(0.05), rel=1e-5, abs=1e-9)


def test_minimize_first_order_by_name():
    r = optim.minimize(quadratic, onp.zeros(3), method='adam', lr=0.1, max_iter=2000, gtol=1e-6)
    assert r.converged and r.iterations < 2000
    onp.testing.assert_allclose(r.x, X_STAR, atol=1e-5)


def test_newton_step_is_differentiable_in_a_closed_over_parameter():
    # f(x; a) = a·Σx⁴/4 + Σx²/2 - Σx: one Newton step from x0, differentiated in a,
    # against a central difference
    import numpy as onp
    import pyad
    import pyad.numpy as pnp
    from pyad.optim import newton_step

    x0 = onp.array([0.5, -0.3, 0.8])

    def after_step(a):
        f = lambda x: a * pnp.sum(x ** 4) / 4 + pnp.sum(x ** 2) / 2 - pnp.sum(x)
        return pnp.sum(newton_step(f, x0) ** 2)

    eps = 1e-6
    fd = (after_step(1.3 + eps) - after_step(1.3 - eps)) / (2 * eps)
    assert abs(pyad.grad(after_step)(1.3) - fd) < 1e-7
    assert abs(pyad.diff(after_step)(1.3) - fd) < 1e-7
    # on a quadratic one step lands on the minimum
    A = onp.array([[3.0, 1.0], [1.0, 2.0]])
    b = onp.array([1.0, -1.0])
    x = newton_step(lambda x: 0.5 * x @ A @ x - b @ x, onp.zeros(2))
    onp.testing.assert_allclose(x, onp.linalg.solve(A, b), rtol=1e-12)
