"""pyad.nn softmax, log_softmax, logsumexp: values, stability, masks, derivatives."""
import numpy as onp
import pytest
import scipy.special

import pyad
import pyad.nn as nn
from pyad.testing import check_grads

rng = onp.random.default_rng(0)


@pytest.mark.parametrize('shape,axis', [((4,), -1), ((2, 3), 0), ((2, 3), 1), ((2, 3, 4), 1),
                                        ((2, 3, 4), (0, 2)), ((2, 3), None)])
def test_values_match_scipy(shape, axis):
    x = rng.standard_normal(shape) * 3
    onp.testing.assert_allclose(nn.softmax(x, axis), scipy.special.softmax(x, axis), rtol=1e-12)
    onp.testing.assert_allclose(nn.log_softmax(x, axis), scipy.special.log_softmax(x, axis),
                                rtol=1e-12)
    onp.testing.assert_allclose(nn.logsumexp(x, axis), scipy.special.logsumexp(x, axis), rtol=1e-12)
    onp.testing.assert_allclose(nn.logsumexp(x, axis, keepdims=True),
                                scipy.special.logsumexp(x, axis, keepdims=True), rtol=1e-12)


@pytest.mark.parametrize('fn', ['softmax', 'log_softmax', 'logsumexp'])
@pytest.mark.parametrize('shape,axis', [((3,), -1), ((2, 3), 0), ((2, 3), 1), ((2, 2, 2), (0, 2))])
def test_check_grads_order2(fn, shape, axis):
    x = rng.standard_normal(shape)
    check_grads(lambda x: getattr(nn, fn)(x, axis), x, order=2)


def test_large_inputs_are_stable():
    x = onp.array([[1000.0, 1001.0, 999.0], [-1000.0, -1001.0, -999.0]])
    p = nn.softmax(x)
    assert onp.all(onp.isfinite(p))
    onp.testing.assert_allclose(p[0], scipy.special.softmax([1.0, 2.0, 0.0]))
    onp.testing.assert_allclose(nn.logsumexp(x, -1), scipy.special.logsumexp(x, -1))
    x32 = onp.array([3e38, 3e38, -3e38], dtype=onp.float32)
    p32 = nn.softmax(x32)
    assert p32.dtype == onp.float32
    onp.testing.assert_allclose(p32, [0.5, 0.5, 0.0])


def test_masked_and_fully_masked_rows():
    x = onp.array([[0.0, -onp.inf, 1.0], [-onp.inf, -onp.inf, -onp.inf]])
    p = nn.softmax(x)
    onp.testing.assert_allclose(p[0], [1 / (1 + onp.e), 0.0, onp.e / (1 + onp.e)])
    onp.testing.assert_array_equal(p[1], 0.0)
    ls = nn.log_softmax(x)
    assert ls[0, 1] == -onp.inf and onp.all(ls[1] == -onp.inf)
    lse = nn.logsumexp(x, axis=-1)
    assert lse[1] == -onp.inf
    w = onp.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    for f in (lambda x: (nn.softmax(x) * w).sum(),
              lambda x: nn.logsumexp(x, axis=-1)[0],
              lambda x: (nn.log_softmax(x)[0, [0, 2]]).sum()):
        for g in (pyad.grad(f)(x), pyad.jacfwd(f)(x)):
            assert onp.all(onp.isfinite(g)), g
        assert onp.all(onp.isfinite(pyad.hessian(f)(x)))


def test_nan_propagates():
    x = onp.array([[0.0, onp.nan, 1.0], [0.0, 1.0, 2.0]])
    for f in (nn.softmax, nn.log_softmax):
        y = f(x)
        assert onp.all(onp.isnan(y[0])) and not onp.any(onp.isnan(y[1]))
    assert onp.isnan(nn.logsumexp(x, -1)[0])


@pytest.mark.parametrize('fn', ['softmax', 'log_softmax', 'logsumexp'])
def test_float32_preserved(fn):
    x = rng.standard_normal((2, 3)).astype(onp.float32)
    f = lambda x: getattr(nn, fn)(x, -1)
    assert f(x).dtype == onp.float32
    g = pyad.grad(lambda x: (f(x) ** 2).sum())(x)
    assert g.dtype == onp.float32
    assert pyad.jacfwd(f)(x).dtype == onp.float32


def test_jacobian_closed_form():
    x = rng.standard_normal(4)
    p = nn.softmax(x)
    onp.testing.assert_allclose(pyad.jacobian(nn.softmax)(x), onp.diag(p) - onp.outer(p, p),
                                atol=1e-14)
    onp.testing.assert_allclose(pyad.grad(lambda x: nn.logsumexp(x))(x), p)
    onp.testing.assert_allclose(pyad.hessian(lambda x: nn.logsumexp(x))(x),
                                onp.diag(p) - onp.outer(p, p), atol=1e-14)


def test_errors_name_the_function():
    with pytest.raises(ValueError, match='softmax'):
        nn.softmax(onp.ones(3), axis=2)
    with pytest.raises(ValueError, match='scalar'):
        nn.softmax(1.0)
