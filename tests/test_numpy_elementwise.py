"""Elementwise functions: values equal NumPy's (SciPy's), derivatives pass
check_grads to order 2 on scalars, vectors, matrices and broadcasting pairs,
non-differentiable ones give zero derivatives, and float32 stays float32."""
import math

import numpy as onp
import pytest
import scipy.special as sps

import pyad
import pyad.numpy as np
import pyad.numpy.elementwise as ew
from pyad.testing import check_grads

SHAPES = [(), (3,), (2, 3)]
PAIRS = [((), ()), ((3,), (3,)), ((2, 3), (2, 3)), ((3,), (2, 3)), ((2, 1), (1, 3)),
         ((), (2, 3)), ((2, 3), ())]


def sample(shape, lo, hi, seed=0, dtype=onp.float64):
    """Uniform in [lo, hi]; a Python float for shape ()."""
    r = onp.random.default_rng(seed).uniform(lo, hi, size=shape)
    if shape == ():
        return float(r)
    return r.astype(dtype)


def signed(shape, lo, hi, seed=0):
    """|x| in [lo, hi] with random signs (away from a kink at 0)."""
    rng = onp.random.default_rng(seed + 100)
    mag = onp.asarray(sample(shape, lo, hi, seed))
    out = mag * rng.choice([-1.0, 1.0], size=shape)
    return float(out) if shape == () else out


# name -> (reference implementation, input domain (lo, hi) or 'signed')
UNARY = {
    'negative': (onp.negative, (-2, 2)), 'positive': (onp.positive, (-2, 2)),
    'exp': (onp.exp, (-2, 2)), 'exp2': (onp.exp2, (-2, 2)), 'expm1': (onp.expm1, (-2, 2)),
    'log': (onp.log, (0.3, 3)), 'log2': (onp.log2, (0.3, 3)), 'log10': (onp.log10, (0.3, 3)),
    'log1p': (onp.log1p, (-0.5, 3)), 'sqrt': (onp.sqrt, (0.3, 3)),
    'cbrt': (onp.cbrt, 'signed'), 'square': (onp.square, (-2, 2)),
    'reciprocal': (onp.reciprocal, 'signed'), 'sin': (onp.sin, (-3, 3)),
    'cos': (onp.cos, (-3, 3)), 'tan': (onp.tan, (-1.2, 1.2)),
    'arcsin': (onp.arcsin, (-0.9, 0.9)), 'arccos': (onp.arccos, (-0.9, 0.9)),
    'arctan': (onp.arctan, (-3, 3)), 'sinh': (onp.sinh, (-2, 2)), 'cosh': (onp.cosh, (-2, 2)),
    'tanh': (onp.tanh, (-2, 2)), 'arcsinh': (onp.arcsinh, (-2, 2)),
    'arccosh': (onp.arccosh, (1.2, 3)), 'arctanh': (onp.arctanh, (-0.9, 0.9)),
    'absolute': (onp.absolute, 'signed'), 'abs': (onp.abs, 'signed'),
    'fabs': (onp.fabs, 'signed'), 'deg2rad': (onp.deg2rad, (-90, 90)),
    'rad2deg': (onp.rad2deg, (-2, 2)), 'radians': (onp.radians, (-90, 90)),
    'degrees': (onp.degrees, (-2, 2)), 'sinc': (onp.sinc, (-2, 2)),
    'erf': (sps.erf, (-2, 2)), 'erfc': (sps.erfc, (-2, 2)), 'erfinv': (sps.erfinv, (-0.9, 0.9)),
    'expit': (sps.expit, (-3, 3)), 'logit': (sps.logit, (0.1, 0.9)),
    'log_expit': (sps.log_expit, (-3, 3)), 'gammaln': (sps.gammaln, (0.5, 4)),
    'gamma': (sps.gamma, (0.5, 4)), 'digamma': (sps.digamma, (0.5, 4)),
    'psi': (sps.psi, (0.5, 4)),
}

# name -> (reference, domain of x, domain of y, differentiable in y)
BINARY = {
    'add': (onp.add, (-2, 2), (-2, 2), True),
    'subtract': (onp.subtract, (-2, 2), (-2, 2), True),
    'multiply': (onp.multiply, (-2, 2), (-2, 2), True),
    'divide': (onp.divide, (-2, 2), 'signed', True),
    'true_divide': (onp.true_divide, (-2, 2), 'signed', True),
    'power': (onp.power, (0.3, 2), (-2, 2), True),
    'float_power': (onp.float_power, (0.3, 2), (-2, 2), True),
    'maximum': (onp.maximum, (-2, 2), (-2, 2), True),
    'minimum': (onp.minimum, (-2, 2), (-2, 2), True),
    'fmax': (onp.fmax, (-2, 2), (-2, 2), True), 'fmin': (onp.fmin, (-2, 2), (-2, 2), True),
    'arctan2': (onp.arctan2, 'signed', 'signed', True),
    'hypot': (onp.hypot, 'signed', 'signed', True),
    'logaddexp': (onp.logaddexp, (-2, 2), (-2, 2), True),
    'logaddexp2': (onp.logaddexp2, (-2, 2), (-2, 2), True),
    'mod': (onp.mod, (0.1, 0.9), (1.5, 2.5), True),
    'remainder': (onp.remainder, (3.1, 3.9), (1.6, 1.9), True),
    'fmod': (onp.fmod, (-3.9, -3.1), (1.6, 1.9), True),
    'copysign': (onp.copysign, 'signed', 'signed', True),   # zero in y
    'xlogy': (sps.xlogy, (-2, 2), (0.3, 3), True),
    'xlog1py': (sps.xlog1py, (-2, 2), (-0.5, 3), True),
}

NONDIFF_UNARY = ['sign', 'floor', 'ceil', 'trunc', 'rint', 'round', 'around', 'fix',
                 'isnan', 'isinf', 'isfinite', 'signbit', 'logical_not']
NONDIFF_BINARY = ['floor_divide', 'heaviside', 'equal', 'not_equal', 'less', 'less_equal',
                  'greater', 'greater_equal', 'logical_and', 'logical_or', 'logical_xor',
                  'isclose']
NONDIFF_REFERENCE = {'around': onp.round, 'fix': onp.fix}


def _input(domain, shape, seed=0):
    if domain == 'signed':
        return signed(shape, 0.4, 2.0, seed)
    return sample(shape, domain[0], domain[1], seed)


def test_every_function_is_covered():
    covered = (set(UNARY) | set(BINARY) | set(NONDIFF_UNARY) | set(NONDIFF_BINARY)
               | {'where', 'clip', 'polygamma', 'allclose', 'array_equal'})
    assert set(ew.__all__) - covered == set()


@pytest.mark.parametrize('name', sorted(UNARY))
@pytest.mark.parametrize('shape', SHAPES, ids=str)
def test_unary(name, shape):
    ref, domain = UNARY[name]
    fn = getattr(np, name)
    x = _input(domain, shape)
    got = fn(x)
    if shape == ():
        onp.testing.assert_allclose(got, ref(x), rtol=1e-14, atol=0)
        assert type(fn(onp.float64(x))) is type(ref(onp.float64(x)))     # NumPy scalar kept
    else:
        onp.testing.assert_array_equal(got, ref(x))
        assert got.dtype == ref(x).dtype
    check_grads(fn, x, order=2)


@pytest.mark.parametrize('name', sorted(BINARY))
@pytest.mark.parametrize('shapes', PAIRS, ids=str)
def test_binary(name, shapes):
    ref, dx, dy, diff_y = BINARY[name]
    fn = getattr(np, name)
    x, y = _input(dx, shapes[0], 1), _input(dy, shapes[1], 2)
    got = fn(x, y)
    if shapes == ((), ()):
        onp.testing.assert_allclose(got, ref(x, y), rtol=1e-14, atol=0)
        assert type(fn(onp.float64(x), onp.float64(y))) is type(ref(onp.float64(x), onp.float64(y)))
    else:
        onp.testing.assert_array_equal(got, ref(x, y))
    if diff_y:
        check_grads(lambda xy: fn(xy[0], xy[1]), (x, y), order=2)
    else:
        check_grads(lambda x: fn(x, y), x, order=2)


def test_binary_against_numbers_and_arrays():
    x = sample((2, 3), 0.5, 2)
    for f in (lambda x: 2.0 ** x, lambda x: x ** 3, lambda x: 1.0 / x, lambda x: 3.0 - x,
              lambda x: onp.full(3, 2.0) * x, lambda x: x / onp.array([1.0, 2.0, 4.0]),
              lambda x: onp.array([[1.0], [3.0]]) ** x, lambda x: x ** 2.5,
              lambda x: x % 0.7, lambda x: np.power(x, 2)):
        check_grads(f, x, order=2)


def test_power_special_cases():
    # x ** y at x == 0: derivative in y is 0 (the limit), derivative in x finite for y >= 1
    g = pyad.grad(lambda y: np.sum(np.power(onp.array([0.0, 2.0]), y)))(onp.array([2.0, 2.0]))
    onp.testing.assert_allclose(g, [0.0, 4.0 * math.log(2.0)])
    onp.testing.assert_allclose(pyad.diff(lambda x: x ** 2)(0.0), 0.0)
    # negative base with an integer exponent
    check_grads(lambda x: x ** 3, onp.array([-1.5, -0.5, 2.0]), order=2)
    onp.testing.assert_allclose(pyad.diff(lambda x: x ** 3.0)(-2.0), 12.0)


def test_polygamma():
    x = sample((2, 3), 0.5, 3)
    for n in (0, 1, 2):
        onp.testing.assert_array_equal(np.polygamma(n, x), sps.polygamma(n, x))
        check_grads(lambda x: np.polygamma(n, x), x, order=2)
    check_grads(lambda x: np.polygamma(1, x), 1.7, order=2)


@pytest.mark.parametrize('shapes', [((3,), (3,), (3,)), ((2, 3), (3,), ()), ((2, 1), (1, 3), (2, 3))],
                         ids=str)
def test_where(shapes):
    cond = onp.broadcast_to(onp.array([True, False, True]), onp.broadcast_shapes(*shapes))
    x, y = sample(shapes[0], -2, 2, 1), sample(shapes[1], -2, 2, 2)
    cond = cond[..., :1] if shapes[2] == (2, 3) and False else cond
    onp.testing.assert_array_equal(np.where(cond, x, y), onp.where(cond, x, y))
    check_grads(lambda xy: np.where(cond, xy[0] * xy[0], np.sin(xy[1])), (x, y), order=2)
    check_grads(lambda x: np.where(cond, x, 0.0), x, order=2)


def test_where_traced_condition_has_zero_derivative():
    x = onp.array([1.0, 0.0, 2.0])
    onp.testing.assert_array_equal(pyad.grad(lambda x: np.sum(np.where(x, x * x, 0.0)))(x),
                                   [2.0, 0.0, 4.0])
    check_grads(lambda x: np.where(x * onp.array([0.0, 1.0, 0.0]), x * x, -x),
                onp.array([1.0, 0.5, 2.0]), order=2)


def test_clip():
    x = onp.array([-2.0, -0.5, 0.3, 1.7, 3.0])
    onp.testing.assert_array_equal(np.clip(x, -1.0, 1.0), onp.clip(x, -1.0, 1.0))
    check_grads(lambda x: np.clip(x, -1.0, 1.0), x, order=2)
    check_grads(lambda x: np.clip(x, None, 1.0), x, order=2)
    check_grads(lambda x: np.clip(x, -1.0, None), x, order=2)
    g = pyad.grad(lambda x: np.sum(np.clip(x, -1.0, 1.0)))(x)
    onp.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 0.0, 0.0])
    # differentiable bounds, broadcast against x
    lo, hi = onp.array([-1.0]), onp.array([[0.5], [1.0]])
    check_grads(lambda a: np.clip(a[0], a[1], a[2]), (x, lo, hi), order=2)
    with pytest.raises(ValueError):
        np.clip(x)


def test_sinc_at_zero():
    onp.testing.assert_allclose(pyad.diff(np.sinc)(0.0), 0.0)
    onp.testing.assert_array_equal(pyad.grad(lambda x: np.sum(np.sinc(x)))(onp.zeros(2)), [0.0, 0.0])


def test_abs_method_and_operators():
    x = signed((2, 3), 0.5, 2)
    check_grads(lambda x: abs(x) + (-x) * (+x) - x / 2.0 + 1.0 / x, x, order=2)
    check_grads(lambda x: onp.exp(x) + onp.sin(x) * onp.add(x, 1.0), x, order=2)   # __array_ufunc__


@pytest.mark.parametrize('name', NONDIFF_UNARY)
def test_nondiff_unary(name):
    fn = getattr(np, name)
    ref = NONDIFF_REFERENCE.get(name, getattr(onp, name))
    x = onp.array([[-1.7, -0.2, 0.4], [1.5, 2.5, 3.2]])
    onp.testing.assert_array_equal(fn(x), ref(x))
    onp.testing.assert_array_equal(fn(-1.7), ref(-1.7))
    g = pyad.grad(lambda x: np.sum(fn(x) * x))(x)
    onp.testing.assert_array_equal(g, onp.asarray(ref(x), dtype=float))    # only the x factor
    onp.testing.assert_array_equal(pyad.jacfwd(lambda x: x * 0.0 + fn(x))(x)[0, 0], 0.0)
    assert pyad.diff(lambda x: x + fn(x))(0.4) == 1.0


@pytest.mark.parametrize('name', NONDIFF_BINARY)
def test_nondiff_binary(name):
    fn = getattr(np, name)
    x = onp.array([[-1.7, -0.2, 0.0], [1.5, 2.5, 3.2]])
    y = onp.array([2.0, -0.2, 0.5])
    onp.testing.assert_array_equal(fn(x, y), getattr(onp, name)(x, y))
    gx, gy = pyad.grad(lambda xy: np.sum(fn(xy[0], xy[1]) * 1.0) + 0.0 * np.sum(xy[0])
                       + 0.0 * np.sum(xy[1]))((x, y))
    onp.testing.assert_array_equal(gx, onp.zeros_like(x))
    onp.testing.assert_array_equal(gy, onp.zeros_like(y))


def test_box_comparisons_and_predicates():
    x = onp.array([1.0, -2.0, 3.0])

    def f(x):
        assert (x > 0).dtype == bool and np.allclose(x, x) and np.array_equal(x, x)
        return np.where(x > 0, x, 0.0) + np.floor(x) + np.sign(x) * x
    onp.testing.assert_array_equal(pyad.grad(lambda x: np.sum(f(x)))(x), [2.0, -1.0, 2.0])


# ------------------------------------------------------------------ float32
F32_UNARY = sorted(UNARY)


@pytest.mark.parametrize('name', F32_UNARY)
def test_float32_unary(name):
    ref, domain = UNARY[name]
    fn = getattr(np, name)
    x = _input(domain, (3,)).astype(onp.float32)
    assert fn(x).dtype == onp.float32
    loss = lambda x: np.sum(fn(x))
    g = pyad.grad(loss)(x)
    assert g.dtype == onp.float32, g.dtype
    assert pyad.hessian(loss)(x).dtype == onp.float32
    onp.testing.assert_allclose(g, pyad.grad(loss)(x.astype(onp.float64)), rtol=2e-3, atol=2e-3)
    assert pyad.jacfwd(fn)(x).dtype == onp.float32


@pytest.mark.parametrize('name', sorted(BINARY))
def test_float32_binary(name):
    ref, dx, dy, diff_y = BINARY[name]
    fn = getattr(np, name)
    x = _input(dx, (2, 3), 1).astype(onp.float32)
    y = _input(dy, (3,), 2).astype(onp.float32)
    assert fn(x, y).dtype == onp.float32
    if diff_y:
        loss = lambda xy: np.sum(fn(xy[0], xy[1]))
        gx, gy = pyad.grad(loss)((x, y))
        assert gx.dtype == onp.float32 and gy.dtype == onp.float32
        H = pyad.hessian(loss)((x, y))
        assert all(h.dtype == onp.float32 for row in H for h in row)
    else:
        loss = lambda x: np.sum(fn(x, y))
        assert pyad.grad(loss)(x).dtype == onp.float32
        assert pyad.hessian(loss)(x).dtype == onp.float32
    # a Python scalar operand is weakly typed: the result stays float32
    assert fn(x, 2.0).dtype == onp.float32
    assert pyad.grad(lambda x: np.sum(fn(x, 2.0)))(x).dtype == onp.float32


def test_float32_where_clip_polygamma():
    x = sample((3,), 0.5, 2).astype(onp.float32)
    for f in (lambda x: np.where(x > 1, x * x, 0.0), lambda x: np.clip(x, 0.6, 1.5),
              lambda x: np.polygamma(1, x), lambda x: np.xlogy(x, x)):
        loss = lambda x: np.sum(f(x))
        assert pyad.grad(loss)(x).dtype == onp.float32
        assert pyad.hessian(loss)(x).dtype == onp.float32
