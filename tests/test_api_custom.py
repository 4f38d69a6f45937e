"""custom_jvp and custom_vjp: JAX's semantics, every operator and nesting, second
order where the rules are written with pyad operations; checkpoint: the same
derivatives as without it, in every nesting, and the segment kept off the tape."""
import numpy as onp
import pytest
import scipy.special as sps

import pyad
import pyad.numpy as np
from pyad.testing import check_grads

X = onp.array([0.3, -1.2, 0.7, 2.5])


@pyad.custom_jvp
def softplus(x):
    return np.log1p(np.exp(x))


@softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return softplus(x), t * pyad.numpy.exp(-softplus(-x))      # t * sigmoid(x), stably


@pyad.custom_vjp
def scaled_sin(x, y):
    return np.sin(x) * y


def _scaled_sin_fwd(x, y):
    return scaled_sin(x, y), (np.cos(x), np.sin(x), y)


def _scaled_sin_bwd(residuals, g):
    cos_x, sin_x, y = residuals
    return g * cos_x * y, g * sin_x


scaled_sin.defvjp(_scaled_sin_fwd, _scaled_sin_bwd)


def test_values_match_numpy():
    onp.testing.assert_allclose(softplus(X), onp.logaddexp(0.0, X))
    onp.testing.assert_allclose(scaled_sin(X, 2.0), 2.0 * onp.sin(X))
    assert softplus.__name__ == 'softplus' and 'log1p' not in (softplus.__doc__ or '')


@pytest.mark.parametrize('dtype', [onp.float32, onp.float64])
def test_custom_jvp_second_order(dtype):
    x = X.astype(dtype)
    check_grads(softplus, x)
    check_grads(lambda x: np.sum(softplus(x) * x), x)
    g = pyad.grad(lambda x: np.sum(softplus(x)))(x)
    assert g.dtype == dtype
    onp.testing.assert_allclose(g, sps.expit(X), rtol=1e-6 if dtype == onp.float64 else 1e-5)
    H = pyad.hessian(lambda x: np.sum(softplus(x)))(x)
    onp.testing.assert_allclose(H, onp.diag(sps.expit(X) * sps.expit(-X)),
                                rtol=1e-6 if dtype == onp.float64 else 1e-4)


def test_custom_jvp_rule_is_the_one_used():
    # at x = 1000 the plain derivative is inf / inf = nan; the rule is exact
    for op in (pyad.grad, pyad.diff):
        assert float(op(softplus)(1000.0)) == 1.0
    assert float(pyad.diff2(softplus)(1000.0)) == 0.0
    assert float(pyad.diffn(3, softplus)(0.0)) == pytest.approx(0.0, abs=1e-12)
    onp.testing.assert_allclose(pyad.jacfwd(softplus)(onp.array([1000.0, 0.0])),
                                onp.diag([1.0, 0.5]))
    onp.testing.assert_allclose(pyad.jacrev(softplus)(onp.array([1000.0, 0.0])),
                                onp.diag([1.0, 0.5]))


def test_custom_jvp_several_arguments_and_outputs():
    @pyad.custom_jvp
    def polar(r, theta):
        return r * np.cos(theta), r * np.sin(theta)

    @polar.defjvp
    def _(primals, tangents):
        (r, th), (dr, dth) = primals, tangents
        c, s = np.cos(th), np.sin(th)
        return polar(r, th), (dr * c - r * s * dth, dr * s + r * c * dth)

    J = pyad.jacobian(lambda p: np.stack(polar(p[0], p[1])))(onp.array([2.0, 0.5]))
    onp.testing.assert_allclose(J, [[onp.cos(0.5), -2 * onp.sin(0.5)],
                                    [onp.sin(0.5), 2 * onp.cos(0.5)]])
    check_grads(lambda p: np.stack(polar(p[0], p[1])), onp.array([2.0, 0.5]))
    check_grads(lambda r: np.stack(polar(r, 0.5)), 2.0)


@pytest.mark.parametrize('dtype', [onp.float32, onp.float64])
def test_custom_vjp_second_order_in_reverse(dtype):
    x = X.astype(dtype)
    y = onp.linspace(0.5, 2.0, 4).astype(dtype)
    check_grads(lambda x: scaled_sin(x, y), x, modes=('rev',))
    check_grads(lambda y: scaled_sin(x, y), y, modes=('rev',))
    gx, gy = pyad.grad(lambda x, y: np.sum(scaled_sin(x, y)), argnums=(0, 1))(x, y)
    assert gx.dtype == dtype
    tol = 1e-12 if dtype == onp.float64 else 1e-6
    onp.testing.assert_allclose(gx, onp.cos(x) * y, rtol=tol)
    onp.testing.assert_allclose(gy, onp.sin(x), rtol=tol)
    # hessian (forward over reverse) runs the rules on forward-mode duals
    H = pyad.hessian(lambda x: np.sum(scaled_sin(x, y)))(x)
    onp.testing.assert_allclose(H, onp.diag(-onp.sin(x) * y), rtol=tol, atol=tol)
    # reverse over reverse: bwd is differentiated
    H2 = pyad.jacrev(pyad.grad(lambda x: np.sum(scaled_sin(x, y))))(x)
    onp.testing.assert_allclose(H2, onp.diag(-onp.sin(x) * y), rtol=tol, atol=tol)


def test_custom_vjp_rule_used_in_reverse_function_in_forward():
    @pyad.custom_vjp
    def clip_gradient(x):
        return x

    clip_gradient.defvjp(lambda x: (x, None), lambda res, g: (np.clip(g, -1.0, 1.0),))
    assert pyad.grad(lambda x: 5.0 * clip_gradient(x))(2.0) == 1.0
    onp.testing.assert_allclose(pyad.jacrev(lambda x: 5.0 * clip_gradient(x))(X),
                                onp.eye(4))
    # forward mode differentiates the function itself (documented): 5, not 1
    assert pyad.diff(lambda x: 5.0 * clip_gradient(x))(2.0) == 5.0


def test_custom_vjp_bwd_may_return_none_for_a_zero():
    @pyad.custom_vjp
    def f(x, y):
        return x * y

    f.defvjp(lambda x, y: (x * y, y), lambda y, g: (g * y, None))
    gx, gy = pyad.grad(lambda x, y: f(x, y), argnums=(0, 1))(2.0, 3.0)
    assert gx == 3.0 and gy == 0.0


def test_custom_rule_errors_are_clear():
    @pyad.custom_vjp
    def f(x):
        return x

    with pytest.raises(TypeError, match=r'custom_vjp function f has no rules: define them with '
                                        r'f\.defvjp\(fwd, bwd\)'):
        f(1.0)
    f.defvjp(lambda x: x, lambda r, g: (g,))
    with pytest.raises(TypeError, match='fwd must return a pair'):
        pyad.grad(f)(1.0)
    f.defvjp(lambda x: (x, None), lambda r, g: g)
    with pytest.raises(TypeError, match=r'bwd must return a tuple with one cotangent per '
                                        r'argument \(1\)'):
        pyad.grad(f)(1.0)
    f.defvjp(lambda x: (x, None), lambda r, g: (onp.ones(2),))
    with pytest.raises(ValueError, match=r'bwd returned for argument 0 a cotangent of shape '
                                         r'\(2,\), but the argument has shape \(\)'):
        pyad.grad(f)(1.0)

    @pyad.custom_jvp
    def h(x):
        return x * 2.0

    with pytest.raises(TypeError, match=r'custom_jvp function h has no rule: define one with '
                                        r'@h\.defjvp'):
        h(1.0)
    h.defjvp(lambda p, t: (h(p[0]), onp.ones(3)))
    with pytest.raises(ValueError, match=r'tangent of shape \(3,\) for an output of shape \(\)'):
        pyad.diff(h)(1.0)


def test_closing_over_a_differentiated_value_is_refused():
    def outer(w):
        @pyad.custom_vjp
        def f(x):
            return x * w                # w is differentiated, but not an argument

        f.defvjp(lambda x: (x * w, None), lambda r, g: (g * w,))
        return f(w * 2.0)

    with pytest.raises(pyad.ClosureError, match='custom_vjp function f: the function computes '
                                                'with a value being differentiated that is not '
                                                'among its arguments'):
        pyad.grad(outer)(3.0)

    def outer_jvp(w):
        @pyad.custom_jvp
        def f(x):
            return x * w

        f.defjvp(lambda p, t: (p[0] * w, t[0] * w))
        return f(w * 2.0)

    with pytest.raises(pyad.ClosureError):
        pyad.diff(outer_jvp)(3.0)
    with pytest.raises(pyad.ClosureError):
        pyad.grad(outer_jvp)(3.0)


def test_no_perturbation_confusion_through_custom_rules():
    # d/dx (x * d/dy softplus(x + y) at y = 0) = sigmoid(x) + x sigmoid'(x)
    x = 0.4
    got = pyad.diff(lambda x: x * pyad.grad(lambda y: softplus(x + y))(0.0))(x)
    s = sps.expit(x)
    assert got == pytest.approx(s + x * s * (1 - s))
    got = pyad.grad(lambda x: x * pyad.diff(lambda y: scaled_sin(x + y, 1.0))(0.0))(x)
    assert got == pytest.approx(onp.cos(x) - x * onp.sin(x))


# ----------------------------------------------------------------- checkpoint
W = onp.random.default_rng(0).standard_normal((4, 4)) * 0.5


def body(h, w):
    for _ in range(3):
        h = np.tanh(w @ h) + 0.1 * h
    return h


def loss(h, w, checkpointed):
    step = pyad.checkpoint(body) if checkpointed else body
    for _ in range(4):
        h = step(h, w)
    return np.sum(h ** 2)


@pytest.mark.parametrize('dtype', [onp.float32, onp.float64])
def test_checkpoint_same_derivatives_every_nesting(dtype):
    h, w = X.astype(dtype), W.astype(dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == onp.float32 else dict(rtol=1e-11, atol=1e-12)
    derivatives = {
        'grad': lambda c: pyad.grad(loss, argnums=(0, 1))(h, w, c),
        'hessian': lambda c: pyad.hessian(loss, argnums=(0, 1))(h, w, c),
        'jacfwd of grad': lambda c: pyad.jacfwd(pyad.grad(lambda h: loss(h, w, c)))(h),
        'jacrev of grad': lambda c: pyad.jacrev(pyad.grad(lambda h: loss(h, w, c)))(h),
        'hessianv': lambda c: pyad.hessianv(lambda h: loss(h, w, c))(h, h),
    }
    for name, d in derivatives.items():
        for a, b in zip(pyad.tree_leaves(d(True)), pyad.tree_leaves(d(False))):
            assert a.dtype == dtype, name
            onp.testing.assert_allclose(a, b, **tol, err_msg=name)
    check_grads(lambda h: loss(h, w, True), h)


def test_checkpoint_keeps_the_segment_off_the_tape():
    from pyad._core.tags import Tag
    from pyad._core.reverse import Tape
    tape = Tape()
    with Tag('reverse', tape) as tag:
        h = tape.input(X, tag)
        before = len(tape)
        pyad.checkpoint(body)(h, W)
        assert len(tape) - before == 1          # one record: the segment
        body(h, W)
        assert len(tape) - before > 5


def test_checkpoint_nested_and_pytrees():
    inner = pyad.checkpoint(lambda p: {'h': np.sin(p['h']) * p['s'], 's': p['s']})
    outer = pyad.checkpoint(lambda p: inner(inner(p)))

    def f(h):
        return np.sum(outer({'h': h, 's': 1.5})['h'])

    def plain(h):
        for _ in range(2):
            h = np.sin(h) * 1.5
        return np.sum(h)
    onp.testing.assert_allclose(pyad.grad(f)(X), pyad.grad(plain)(X), rtol=1e-12)
    onp.testing.assert_allclose(pyad.hessian(f)(X), pyad.hessian(plain)(X), rtol=1e-12)
    # outside any operator, or in forward mode, it is the function itself
    onp.testing.assert_allclose(outer({'h': X, 's': 1.5})['h'],
                                onp.sin(onp.sin(X) * 1.5) * 1.5)
    onp.testing.assert_allclose(pyad.jacfwd(lambda h: outer({'h': h, 's': 1.5})['h'])(X),
                                pyad.jacrev(lambda h: outer({'h': h, 's': 1.5})['h'])(X))
    assert pyad.remat is pyad.checkpoint


def test_checkpoint_closure_refused():
    def f(w):
        return np.sum(pyad.checkpoint(lambda h: w @ h)(w[0]))
    with pytest.raises(pyad.ClosureError, match='checkpoint of <lambda>'):
        pyad.grad(f)(W)


def test_nondiff_argnums():
    import functools

    @functools.partial(pyad.custom_vjp, nondiff_argnums=(0,))
    def apply(fn, x):
        return fn(x)

    def fwd(fn, x):
        return fn(x), x

    def bwd(fn, x, g):          # the nondiff argument first, then residuals, cotangent
        return (pyad.grad(lambda z: np.sum(fn(z) * g))(x),)

    apply.defvjp(fwd, bwd)
    onp.testing.assert_allclose(pyad.grad(lambda x: np.sum(apply(np.sin, x)))(X), onp.cos(X))
    onp.testing.assert_allclose(pyad.hessian(lambda x: np.sum(apply(np.sin, x)))(X),
                                onp.diag(-onp.sin(X)), atol=1e-12)

    @functools.partial(pyad.custom_jvp, nondiff_argnums=(1,))
    def power(x, n):
        return x ** n

    @power.defjvp
    def _(n, primals, tangents):
        (x,), (t,) = primals, tangents
        return power(x, n), n * x ** (n - 1) * t

    for op in (pyad.grad, pyad.diff):
        assert op(lambda x: power(x, 3))(2.0) == 12.0
    assert pyad.hessian(lambda x: power(x, 3))(2.0) == 12.0
    check_grads(lambda x: power(x, 3), X)
    with pytest.raises(TypeError, match='nondiff_argnums names argument 5, but it was called '
                                        'with 2 positional arguments'):
        bad = pyad.custom_vjp(lambda a, b: a, nondiff_argnums=(5,))
        bad.defvjp(lambda a, b: (a, None), lambda r, g: (g, g))
        bad(1.0, 2.0)
