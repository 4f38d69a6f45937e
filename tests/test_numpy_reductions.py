"""Reductions: sum, mean, prod, max/min, var/std, logsumexp, cumsum/cumprod, and
the non-differentiable any/all/argmax/argmin."""
import numpy as onp
import pytest
import scipy.special

import pyad
import pyad.numpy as np
from pyad.testing import check_grads

from .helpers import assert_nested_jacobians_agree

rng = onp.random.default_rng(0)


def randn(*shape):
    return rng.standard_normal(shape) if shape else onp.float64(rng.standard_normal())


SHAPES = [(), (3,), (2, 3), (2, 3, 4)]


def axis_choices(shape):
    """axis values worth testing for an array of this shape."""
    n = len(shape)
    out = [None]
    if n >= 1:
        out += [0, -1]
    if n >= 2:
        out += [(0, 1)]
    if n >= 3:
        out += [1, (0, 2)]
    if n == 0:
        out += [()]
    return out


CASES = [(s, ax, kd) for s in SHAPES for ax in axis_choices(s) for kd in (False, True)]
REDUCTIONS = ['sum', 'mean', 'prod', 'max', 'min', 'var', 'std', 'logsumexp']


def _input(name, shape):
    x = randn(*shape)
    if name in ('prod',):
        # away from 0 so that finite differences of the product are well conditioned
        x = onp.sign(x) * (0.5 + onp.abs(x))
    return x


def _reduce(name, x, axis, keepdims):
    if name == 'logsumexp':
        return np.logsumexp(x, axis=axis, keepdims=keepdims)
    return getattr(np, name)(x, axis=axis, keepdims=keepdims)


@pytest.mark.parametrize('name', REDUCTIONS)
@pytest.mark.parametrize('shape,axis,keepdims', CASES)
def test_reduction_grads(name, shape, axis, keepdims):
    x = _input(name, shape)
    check_grads(lambda x: _reduce(name, x, axis, keepdims), x, order=2)


@pytest.mark.parametrize('name', ['sum', 'mean', 'prod', 'max', 'min', 'var', 'std'])
@pytest.mark.parametrize('shape,axis,keepdims', CASES)
def test_reduction_values_equal_numpy(name, shape, axis, keepdims):
    x = _input(name, shape)
    got = _reduce(name, x, axis, keepdims)
    want = getattr(onp, name)(x, axis=axis, keepdims=keepdims)
    onp.testing.assert_array_equal(got, want)
    assert onp.shape(got) == onp.shape(want)


@pytest.mark.parametrize('shape,axis,keepdims', CASES)
def test_logsumexp_matches_scipy(shape, axis, keepdims):
    x = randn(*shape)
    got = np.logsumexp(x, axis=axis, keepdims=keepdims)
    want = scipy.special.logsumexp(x, axis=axis, keepdims=keepdims)
    onp.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)
    if shape:   # scipy makes a 0-d input 1-d; pyad keeps NumPy's shapes
        assert onp.shape(got) == onp.shape(want)
    else:
        assert onp.shape(got) == ()


@pytest.mark.parametrize('ddof', [0, 1, 2])
@pytest.mark.parametrize('name', ['var', 'std'])
def test_var_std_ddof(name, ddof):
    x = randn(3, 4)
    for axis in (None, 0, 1):
        onp.testing.assert_array_equal(getattr(np, name)(x, axis=axis, ddof=ddof),
                                       getattr(onp, name)(x, axis=axis, ddof=ddof))
        check_grads(lambda x: getattr(np, name)(x, axis=axis, ddof=ddof), x, order=2)


# ----------------------------------------------------------------- prod and zeros
def test_prod_gradient_with_one_zero():
    x = onp.array([2.0, 0.0, 3.0, -1.5])
    onp.testing.assert_allclose(pyad.grad(np.prod)(x), [0.0, -9.0, 0.0, 0.0])
    check_grads(np.prod, x, order=2)
    h = pyad.hessian(np.prod)(x)
    want = onp.array([[0, -4.5, 0, 0], [-4.5, 0, -3, 6], [0, -3, 0, 0], [0, 6, 0, 0]])
    onp.testing.assert_allclose(h, want)


def test_prod_gradient_with_two_zeros():
    x = onp.array([[2.0, 0.0, 3.0, 0.0], [1.0, 2.0, 0.0, 4.0]])
    g = pyad.grad(lambda x: np.sum(np.prod(x, axis=1)))(x)
    onp.testing.assert_allclose(g, [[0, 0, 0, 0], [0, 0, 8, 0]])
    check_grads(lambda x: np.prod(x, axis=1), x, order=1)
    assert onp.all(onp.isfinite(pyad.hessian(lambda x: np.sum(np.prod(x, axis=1)))(x)))


# ----------------------------------------------------------------- max/min ties
@pytest.mark.parametrize('name,sign', [('max', 1.0), ('min', -1.0), ('amax', 1.0), ('amin', -1.0)])
def test_max_min_ties_split_evenly(name, sign):
    f = getattr(np, name)
    x = sign * onp.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    g = pyad.grad(lambda x: np.sum(f(x, axis=1)))(x)
    onp.testing.assert_allclose(g, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    jf = pyad.jacfwd(lambda x: f(x, axis=1))(x)
    jr = pyad.jacrev(lambda x: f(x, axis=1))(x)
    onp.testing.assert_allclose(jf, jr)
    onp.testing.assert_allclose(pyad.grad(lambda x: f(x))(x), [[0, 0.5, 0.5], [0, 0, 0]])


# ----------------------------------------------------------------- logsumexp edge cases
def test_logsumexp_stable_and_inf_rows():
    x = onp.array([[-onp.inf, -onp.inf, -onp.inf], [1000.0, 1000.0, -onp.inf], [0.0, 1.0, 2.0]])
    out = np.logsumexp(x, axis=1)
    onp.testing.assert_allclose(out, scipy.special.logsumexp(x, axis=1))
    assert out[0] == -onp.inf and onp.isfinite(out[1])
    row = x[0]
    onp.testing.assert_array_equal(pyad.grad(np.logsumexp)(row), [0.0, 0.0, 0.0])
    onp.testing.assert_array_equal(pyad.hessian(np.logsumexp)(row), onp.zeros((3, 3)))
    onp.testing.assert_array_equal(pyad.jacfwd(np.logsumexp)(row), [0.0, 0.0, 0.0])
    f = lambda x: np.sum(np.logsumexp(x, axis=1)[1:])
    g = pyad.grad(f)(x)
    assert onp.all(onp.isfinite(g))
    onp.testing.assert_allclose(g[0], 0.0)
    onp.testing.assert_allclose(g[1], [0.5, 0.5, 0.0])
    onp.testing.assert_allclose(g[2], scipy.special.softmax(x[2]))
    h = pyad.hessian(f)(x)
    assert onp.all(onp.isfinite(h))
    jf = pyad.jacfwd(lambda x: np.logsumexp(x, axis=1))(x)
    assert onp.all(onp.isfinite(jf))
    assert np.logsumexp(onp.array([onp.inf, 1.0])) == onp.inf


def test_logsumexp_b():
    a, b = randn(2, 3), onp.abs(randn(2, 3)) + 0.5
    for axis, keepdims in [(None, False), (1, False), (0, True)]:
        onp.testing.assert_allclose(np.logsumexp(a, axis=axis, b=b, keepdims=keepdims),
                                    scipy.special.logsumexp(a, axis=axis, b=b, keepdims=keepdims))
        check_grads(lambda ab: np.logsumexp(ab[0], axis=axis, b=ab[1], keepdims=keepdims),
                    (a, b), order=2)
    b_row = onp.abs(randn(3)) + 0.5      # broadcast against a
    check_grads(lambda ab: np.logsumexp(ab[0], axis=1, b=ab[1]), (a, b_row), order=2)
    onp.testing.assert_allclose(np.logsumexp(a, axis=1, b=b_row),
                                scipy.special.logsumexp(a, axis=1, b=b_row))
    with pytest.raises(NotImplementedError):
        np.logsumexp(a, return_sign=True)


# ----------------------------------------------------------------- cumsum, cumprod
@pytest.mark.parametrize('name', ['cumsum', 'cumprod'])
@pytest.mark.parametrize('shape,axis', [((), None), ((3,), None), ((3,), 0), ((2, 3), None),
                                        ((2, 3), 0), ((2, 3), 1), ((2, 3), -1),
                                        ((2, 3, 4), 1), ((2, 3, 4), None)])
def test_cumulative(name, shape, axis):
    x = randn(*shape)
    if name == 'cumprod':
        x = onp.sign(x) * (0.5 + onp.abs(x))
    f = getattr(np, name)
    onp.testing.assert_array_equal(f(x, axis=axis), getattr(onp, name)(x, axis=axis))
    check_grads(lambda x: f(x, axis=axis), x, order=2)


def test_cumprod_with_zeros():
    x = onp.array([[2.0, 0.0, 3.0, 1.5], [1.0, -2.0, 0.5, 0.0]])
    check_grads(lambda x: np.cumprod(x, axis=1), x, order=2)
    check_grads(lambda x: np.cumprod(x, axis=0), x.T, order=2)
    y = onp.array([2.0, 0.0, 0.0, 3.0])
    check_grads(np.cumprod, y, order=1)
    onp.testing.assert_allclose(pyad.grad(lambda y: np.sum(np.cumprod(y)))(y), [1, 2, 0, 0])


# ----------------------------------------------------------------- float32
@pytest.mark.parametrize('name', REDUCTIONS + ['cumsum', 'cumprod'])
def test_float32_kept(name):
    x = (onp.abs(randn(2, 3)) + 0.5).astype(onp.float32)
    if name in ('cumsum', 'cumprod'):
        f = lambda x: np.sum(getattr(np, name)(x, axis=1))
        assert getattr(np, name)(x, axis=1).dtype == onp.float32
    else:
        f = lambda x: np.sum(_reduce(name, x, 1, False))
        assert _reduce(name, x, 1, False).dtype == onp.float32
    assert onp.asarray(f(x)).dtype == onp.float32
    assert pyad.grad(f)(x).dtype == onp.float32
    assert pyad.hessian(f)(x).dtype == onp.float32
    check_grads(f, x, order=1)
    if name != 'logsumexp':
        fn = getattr(np, name)
        onp.testing.assert_array_equal(fn(x, axis=1), getattr(onp, name)(x, axis=1))


def test_float32_logsumexp_b_kept():
    a = randn(2, 3).astype(onp.float32)
    b = (onp.abs(randn(2, 3)) + 0.5).astype(onp.float32)
    f = lambda a: np.logsumexp(a, b=b)
    assert onp.asarray(f(a)).dtype == onp.float32
    assert pyad.grad(f)(a).dtype == onp.float32
    assert pyad.hessian(f)(a).dtype == onp.float32


# ----------------------------------------------------------------- no derivative
@pytest.mark.parametrize('name', ['any', 'all', 'argmax', 'argmin'])
@pytest.mark.parametrize('axis,keepdims', [(None, False), (0, False), (1, True), (-1, False)])
def test_nondifferentiable(name, axis, keepdims):
    x = randn(3, 4)
    arg = x > 0 if name in ('any', 'all') else x
    onp.testing.assert_array_equal(getattr(np, name)(arg, axis=axis, keepdims=keepdims),
                                   getattr(onp, name)(arg, axis=axis, keepdims=keepdims))
    seen = []

    def f(x):
        arg = x > 0 if name in ('any', 'all') else x
        seen.append(getattr(np, name)(arg, axis=axis, keepdims=keepdims))
        return np.sum(x * x)

    onp.testing.assert_allclose(pyad.grad(f)(x), 2 * x)
    onp.testing.assert_array_equal(seen[0], getattr(onp, name)(arg, axis=axis, keepdims=keepdims))


def test_argmax_selects_inside_grad():
    x = onp.array([1.0, 3.0, 2.0])
    g = pyad.grad(lambda x: x[np.argmax(x)] - x[np.argmin(x)])(x)
    onp.testing.assert_allclose(g, [-1.0, 1.0, 0.0])


def test_methods():
    x = onp.array([[1.0, 3.0, 2.0], [0.5, -1.0, 4.0]])
    f = lambda x: (x.max(axis=0).sum() + x.min() + x.prod() + x.var(axis=1).sum()
                   + x.std() + x.cumsum(axis=1).sum() + x.cumprod().sum())
    check_grads(f, x, order=2)
    assert pyad.grad(lambda x: x[x.argmax()])(x[0]).tolist() == [0.0, 1.0, 0.0]


# ----------------------------------------------------------------- errors
@pytest.mark.parametrize('fn', [np.prod, np.max, np.min, np.var, np.std, np.logsumexp,
                                np.any, np.all, np.cumsum, np.cumprod, np.argmax, np.argmin])
def test_axis_errors_name_the_function(fn):
    with pytest.raises(ValueError, match=fn.__name__):
        fn(onp.ones((2, 3)), axis=2)


def test_other_errors():
    with pytest.raises(ValueError, match='max'):
        np.max(onp.ones((0, 3)), axis=0)
    with pytest.raises(ValueError, match='logsumexp'):
        np.logsumexp(onp.ones((2, 3)), b=onp.ones(2))
    with pytest.raises(NotImplementedError, match='out='):
        np.prod(onp.ones(3), out=onp.ones(()))
    with pytest.raises(TypeError, match='var'):
        np.var(onp.ones(3), ddof=None)


# ----------------------------------------------------------------- nested batches
NESTED = {
    'prod': lambda x: np.prod(x + 0.5, axis=0), 'prod-zero': lambda x: np.prod(x, axis=1),
    'max': lambda x: np.max(x * x, axis=1), 'var': lambda x: np.var(x, axis=1, ddof=1),
    'std': lambda x: np.std(x, axis=0), 'logsumexp': lambda x: np.logsumexp(x, axis=0, b=x * x + 1),
    'cumsum': lambda x: np.cumsum(x * x, axis=1), 'cumprod-zero': lambda x: np.cumprod(x, axis=1),
    'cumprod': lambda x: np.cumprod(x + 3, axis=0), 'mean': lambda x: np.mean(x * x, axis=0),
}


@pytest.mark.parametrize('name', sorted(NESTED))
def test_nested_batched_jacobians_agree(name):
    """Two levels of batch axes (jacfwd/jacrev nested both ways) give one answer."""
    assert_nested_jacobians_agree(NESTED[name], onp.array([[0.3, 0.0, -1.2], [0.7, 1.1, -0.4]]))
