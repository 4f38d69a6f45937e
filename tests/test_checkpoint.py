"""pyad.checkpoint nested under outer reverse operators, and its policies."""
import gc
import sys
import tracemalloc

import numpy as onp
import pytest

import pyad
import pyad.numpy as np
from pyad.numpy.products import _matmul
from pyad.testing import check_grads

policies = pyad.checkpoint_policies
checkpoint_module = sys.modules['pyad.checkpoint']

rng = onp.random.default_rng(0)
W = rng.standard_normal((6, 6)) * 0.4
H0 = rng.standard_normal((6, 3)) * 0.5


def body(h, w):
    for _ in range(3):
        h = np.tanh(w @ h) + 0.1 * h
    return h


def loss(h, w, step=body, steps=4):
    for _ in range(steps):
        h = step(h, w)
    return np.sum(h ** 2)


def nested(h, w, step=body):
    """A scalar made of a gradient: grad of it is reverse over reverse."""
    return np.sum(pyad.grad(loss, argnums=(0, 1))(h, w, step)[1] ** 2)


POLICIES = [None, policies.nothing_saveable, policies.dots_saveable,
            policies.save_only_these_primitives('tanh', 'matmul')]
DERIVATIVES = {
    'grad of grad': lambda step, h, w: pyad.grad(nested, argnums=(0, 1))(h, w, step),
    'jacrev of grad': lambda step, h, w: pyad.jacrev(
        pyad.grad(lambda h: loss(h, w, step)))(h),
    'hessian': lambda step, h, w: pyad.hessian(lambda h: loss(h, w, step))(h),
    'hessianv': lambda step, h, w: pyad.hessianv(lambda h: loss(h, w, step))(h, h),
    'grad of grad of grad': lambda step, h, w: pyad.grad(
        lambda w: pyad.grad(lambda w: nested(h, w, step))(w)[0, 0])(w),
}


@pytest.mark.parametrize('policy', POLICIES, ids=repr)
@pytest.mark.parametrize('dtype', [onp.float64, onp.float32])
def test_nested_derivatives_match_the_plain_function(policy, dtype):
    h, w = H0.astype(dtype), W.astype(dtype)
    step = pyad.checkpoint(body, policy=policy)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == onp.float32 else dict(rtol=1e-10, atol=1e-12)
    for name, d in DERIVATIVES.items():
        got, want = pyad.tree_leaves(d(step, h, w)), pyad.tree_leaves(d(body, h, w))
        for a, b in zip(got, want):
            assert a.dtype == dtype, name
            onp.testing.assert_allclose(a, b, **tol, err_msg=name)


@pytest.mark.parametrize('policy', POLICIES[1:], ids=repr)
def test_check_grads_through_nested_checkpoints(policy):
    step = pyad.checkpoint(body, policy=policy)
    check_grads(lambda w: nested(H0, w, step), W, order=2)


def test_closure_over_an_outer_level_value_is_right():
    """f closes over w, differentiated at the outer level only: that level records f
    as it runs, and the derivatives are right."""
    def outer(w):
        step = pyad.checkpoint(lambda h: np.tanh(w @ h) + 0.1 * h)
        g = pyad.grad(lambda h: loss(h, None, lambda h, _: step(h)))(H0)
        return np.sum(g ** 2)

    def plain(w):
        g = pyad.grad(lambda h: loss(h, None, lambda h, _: np.tanh(w @ h) + 0.1 * h))(H0)
        return np.sum(g ** 2)
    onp.testing.assert_allclose(pyad.grad(outer)(W), pyad.grad(plain)(W), rtol=1e-12)
    onp.testing.assert_allclose(pyad.hessian(outer)(W[0, 0] + 0 * W)[0, 0, 0, 0],
                                pyad.hessian(plain)(W[0, 0] + 0 * W)[0, 0, 0, 0], rtol=1e-10)


def _peak(fn, *args):
    gc.collect()
    tracemalloc.start()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_nested_reverse_keeps_the_segments_off_the_outer_tape():
    d = 64
    h, w = rng.standard_normal((d, d)) * 0.3, rng.standard_normal((d, d)) / 8
    step = pyad.checkpoint(body)

    def deep(h, w, step):
        return loss(h, w, step, steps=12)

    def nested_deep(w, step):
        return np.sum(pyad.grad(deep)(h, w, step) ** 2)
    plain = _peak(pyad.grad(nested_deep), w, body)
    checkpointed = _peak(pyad.grad(nested_deep), w, step)
    assert checkpointed < 0.4 * plain, (checkpointed, plain)


def test_reverse_over_forward_keeps_the_segments_off_the_outer_tape():
    """hessianv is reverse over forward: the forward level pushes its tangents through
    a function of primals and tangents, checkpointed on the reverse level below."""
    d = 64
    h, v = rng.standard_normal((d, d)) * 0.3, rng.standard_normal((d, d))
    w = rng.standard_normal((d, d)) / 8

    def hv(step):
        return pyad.hessianv(lambda h: loss(h, w, step, steps=12))(h, v)
    onp.testing.assert_allclose(hv(pyad.checkpoint(body)), hv(body), rtol=1e-10, atol=1e-12)
    assert _peak(hv, pyad.checkpoint(body)) < 0.4 * _peak(hv, body)


def test_closure_over_a_forward_level_value_is_right():
    """grad of a jvp whose checkpointed function closes over the traced direction's
    value: that level runs f as it is."""
    def outer(w):
        def inner(s):
            step = pyad.checkpoint(lambda h: np.tanh(w @ h) * s)
            return loss(H0, None, lambda h, _: step(h), steps=2)
        return pyad.jvp(inner, (1.5,), (1.0,))[1]

    def plain(w):
        def inner(s):
            return loss(H0, None, lambda h, _: np.tanh(w @ h) * s, steps=2)
        return pyad.jvp(inner, (1.5,), (1.0,))[1]
    onp.testing.assert_allclose(pyad.grad(outer)(W), pyad.grad(plain)(W), rtol=1e-12)


def _count_matmuls(fn):
    calls = []
    impl = _matmul.impl

    def counting(*args, **params):
        calls.append(1)
        return impl(*args, **params)
    _matmul.impl = counting
    try:
        fn()
    finally:
        _matmul.impl = impl
    return len(calls)


def test_dots_saveable_does_not_recompute_the_products():
    def body_matmul(h, w):       # pyad's matmul even on plain arrays, so every product counts
        for _ in range(3):
            h = np.tanh(np.matmul(w, h)) + 0.1 * h
        return h
    plain = _count_matmuls(lambda: pyad.grad(loss)(H0, W, body_matmul))
    none = _count_matmuls(lambda: pyad.grad(loss)(H0, W, pyad.checkpoint(body_matmul)))
    dots = _count_matmuls(lambda: pyad.grad(loss)(H0, W, pyad.checkpoint(
        body_matmul, policy=policies.dots_saveable)))
    products = 4 * 3
    assert none == plain + products       # one recomputation of every product
    assert dots == plain                  # the recomputation takes the saved products
    assert not checkpoint_module._installed and _matmul.impl.__class__.__name__ == 'function'


def test_saved_results_are_keyed_by_their_operands():
    """A recomputation that differs from the first run (a function that is not
    deterministic in what it multiplies) computes afresh rather than take a saved
    product of other operands."""
    flips = iter([1.0, -1.0, 1.0, -1.0])

    def shaky(h, w):
        return np.tanh((next(flips) * w) @ h)
    step = pyad.checkpoint(shaky, policy=policies.dots_saveable)
    g = pyad.grad(lambda h: np.sum(step(h, W)))(H0)
    want = pyad.grad(lambda h: np.sum(np.tanh(-W @ h)))(H0)       # the sweep's run: -w
    onp.testing.assert_allclose(g, want, rtol=1e-12)


def test_policies_everything_and_errors():
    assert pyad.checkpoint(body, policy=policies.everything_saveable) is body
    assert policies.checkpoint_dots is policies.dots_saveable
    assert 'matmul' in policies.dots_saveable.saves and 'einsum' in policies.dots_saveable.saves
    with pytest.raises(ValueError, match="no pyad primitive is named 'matmull'"):
        policies.save_only_these_primitives('matmull')
    with pytest.raises(TypeError, match='primitive names'):
        policies.save_only_these_primitives(_matmul)
    with pytest.raises(TypeError, match='policy must be one of pyad.checkpoint_policies'):
        pyad.checkpoint(body, policy='dots')


def test_policy_inside_a_checkpoint_without_one():
    inner = pyad.checkpoint(body, policy=policies.dots_saveable)
    outer = pyad.checkpoint(lambda h, w: inner(inner(h, w), w))
    for name in ('grad of grad', 'hessian'):
        got = pyad.tree_leaves(DERIVATIVES[name](outer, H0, W))
        want = pyad.tree_leaves(DERIVATIVES[name](lambda h, w: body(body(h, w), w), H0, W))
        for a, b in zip(got, want):
            onp.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12, err_msg=name)
